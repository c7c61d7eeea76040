//! kNN outlier score (Ramaswamy et al. 2000; Angiulli & Pizzuti 2002): the distance to the k-th
//! nearest neighbour (`largest`), or the mean or median of the k distances.

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::support::check_neighbors;
use super::validate::{neighbours, training, Check};
use super::{validate_matrix, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::neighbors::{knn_leave_self_out, knn_query};

pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n_neighbors",
        kind: ParamKind::Int {
            min: 1,
            max: 1000,
            log: true,
        },
        default: DefaultValue::Int(5),
        help: "neighbours considered per point",
        search: Search::Range {
            min: 2.0,
            max: 100.0,
        },
    },
    ParamSpec {
        name: "method",
        kind: ParamKind::Choice {
            choices: &["largest", "mean", "median"],
        },
        default: DefaultValue::Text("largest"),
        help: "how the k neighbour distances become a score",
        search: Search::All,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnnMethod {
    Largest,
    Mean,
    Median,
}

pub struct Knn {
    k: usize,
    method: KnnMethod,
}

impl Knn {
    pub fn from_params(p: &Params) -> Self {
        let method = match p.text("method") {
            "mean" => KnnMethod::Mean,
            "median" => KnnMethod::Median,
            _ => KnnMethod::Largest,
        };
        Knn {
            k: p.int("n_neighbors") as usize,
            method,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnModel {
    pub train: Array2<f64>,
    pub k: usize,
    pub method: KnnMethod,
}

fn aggregate(distances: &Array2<f64>, method: KnnMethod) -> Array1<f64> {
    distances
        .rows()
        .into_iter()
        .map(|row| {
            let k = row.len();
            match method {
                KnnMethod::Largest => row[k - 1],
                // np.mean over k ≤ 7 values adds in order; numpy_mean covers longer rows too.
                KnnMethod::Mean => crate::numeric::sums::numpy_mean(&row.to_vec()),
                KnnMethod::Median => {
                    if k % 2 == 1 {
                        row[k / 2]
                    } else {
                        (row[k / 2 - 1] + row[k / 2]) / 2.0
                    }
                }
            }
        })
        .collect()
}

impl Detector for Knn {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        check_neighbors(x, self.k)?;
        let neighbors = knn_leave_self_out(x, self.k, ctx)?;
        let training_scores = aggregate(&neighbors.distances, self.method);
        Ok(Fitted {
            model: Model::Knn(KnnModel {
                train: x.to_owned(),
                k: self.k,
                method: self.method,
            }),
            training_scores,
        })
    }
}

impl KnnModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.train.ncols()
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let neighbors = knn_query(self.train.view(), x, self.k, &JobCtx::default())?;
        Ok(aggregate(&neighbors.distances, self.method))
    }

    pub(super) fn validate(&self) -> Check {
        training(&self.train)?;
        neighbours(self.k, self.train.nrows())
    }
}

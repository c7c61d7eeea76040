//! Local Outlier Factor (Breunig et al. 2000), as scikit-learn computes it for PyOD: exactly k
//! neighbours (no tie expansion), reachability distances, lrd = 1 / (mean + 1e-10), and the score
//! is the mean ratio of the neighbours' lrd to the point's own.

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::support::check_neighbors;
use super::validate::{length, neighbours, training, values, Check, Rule};
use super::{validate_matrix, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::neighbors::{knn_leave_self_out, knn_query, Neighbors};
use crate::numeric::sums::numpy_mean;

pub const PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "n_neighbors",
    kind: ParamKind::Int {
        min: 1,
        max: 1000,
        log: true,
    },
    default: DefaultValue::Int(20),
    help: "neighbourhood size",
    search: Search::Range {
        min: 5.0,
        max: 100.0,
    },
}];

pub struct Lof {
    k: usize,
}

impl Lof {
    pub fn from_params(p: &Params) -> Self {
        Lof {
            k: p.int("n_neighbors") as usize,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LofModel {
    pub train: Array2<f64>,
    pub k: usize,
    /// Distance of each training point to its k-th neighbour.
    pub k_distance: Array1<f64>,
    /// Local reachability density of each training point.
    pub lrd: Array1<f64>,
}

/// Per row, `numpy_mean` of `k` values computed from the row's neighbours: rows in parallel,
/// one buffer per task rather than one allocation per row.
fn mean_per_row(neighbors: &Neighbors, value: impl Fn(usize, &mut Vec<f64>) + Sync) -> Array1<f64> {
    let rows = neighbors.indices.nrows();
    let means: Vec<f64> = (0..rows)
        .into_par_iter()
        .with_min_len(256)
        .map_init(
            || Vec::with_capacity(neighbors.indices.ncols()),
            |values, i| {
                values.clear();
                value(i, values);
                numpy_mean(values)
            },
        )
        .collect();
    Array1::from(means)
}

fn local_reachability_density(neighbors: &Neighbors, k_distance: &Array1<f64>) -> Array1<f64> {
    let mean_reach = mean_per_row(neighbors, |i, reach| {
        let d = neighbors.distances.row(i);
        let idx = neighbors.indices.row(i);
        reach.extend(
            d.iter()
                .zip(idx.iter())
                .map(|(&dist, &o)| dist.max(k_distance[o])),
        );
    });
    mean_reach.mapv(|mean| 1.0 / (mean + 1e-10))
}

fn lof_scores(
    neighbors: &Neighbors,
    lrd_train: &Array1<f64>,
    lrd_points: &Array1<f64>,
) -> Array1<f64> {
    mean_per_row(neighbors, |i, ratios| {
        let own = lrd_points[i];
        ratios.extend(neighbors.indices.row(i).iter().map(|&o| lrd_train[o] / own));
    })
}

impl Detector for Lof {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        // scikit-learn silently lowers k to n − 1; we say so instead, before any work.
        check_neighbors(x, self.k)?;
        let neighbors = knn_leave_self_out(x, self.k, ctx)?;
        let k_distance: Array1<f64> = neighbors.distances.column(self.k - 1).to_owned();
        let lrd = local_reachability_density(&neighbors, &k_distance);
        let training_scores = lof_scores(&neighbors, &lrd, &lrd);
        let model = LofModel {
            train: x.to_owned(),
            k: self.k,
            k_distance,
            lrd,
        };
        Ok(Fitted {
            model: Model::Lof(model),
            training_scores,
        })
    }
}

impl LofModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.train.ncols()
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let neighbors = knn_query(self.train.view(), x, self.k, &JobCtx::default())?;
        let lrd_points = local_reachability_density(&neighbors, &self.k_distance);
        Ok(lof_scores(&neighbors, &self.lrd, &lrd_points))
    }

    pub(super) fn validate(&self) -> Check {
        training(&self.train)?;
        let n = self.train.nrows();
        neighbours(self.k, n)?;
        length("k_distance", self.k_distance.len(), n)?;
        values("k_distance", &self.k_distance, Rule::NonNegative)?;
        length("lrd", self.lrd.len(), n)?;
        values("lrd", &self.lrd, Rule::NonNegative)
    }
}

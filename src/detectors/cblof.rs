//! CBLOF (He, Xu & Deng 2003), as PyOD's `CBLOF(random_state)` computes it: cluster with
//! k-means (scikit-learn's `KMeans(n_clusters=8)`: k-means++ seeding with 2 + ⌊ln k⌋ local
//! trials, one initialisation, Lloyd iterations up to 300, tolerance 1e-4 × mean feature
//! variance, empty clusters moved to the farthest points), split the clusters into large and
//! small ones by the α / β rule, and score each row by its distance to its own centre (large
//! cluster) or to the nearest large-cluster centre (small cluster); optionally multiplied by
//! the cluster's size (`use_weights`).
//!
//! Randomised: the seeding draws from `ChaCha8Rng::seed_from_u64(seed)` on one thread; the
//! parallel parts (assignments, per-chunk sums added in chunk order) never depend on the thread
//! count. The k-means itself is `numeric::kmeans`'s blocked variant.

use ndarray::{Array1, Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::validate::{length, not_empty, values, Check, Rule};
use super::{validate_matrix, DetectError, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::numeric::kmeans::{kmeans, nearest, sq_dist};

pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n_clusters",
        kind: ParamKind::Int {
            min: 2,
            max: 1000,
            log: true,
        },
        default: DefaultValue::Int(8),
        help: "number of k-means clusters",
        search: Search::Range {
            min: 4.0,
            max: 30.0,
        },
    },
    ParamSpec {
        name: "alpha",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1.0,
            min_open: true,
            max_open: true,
            log: false,
        },
        default: DefaultValue::Float(0.9),
        help: "share of rows the large clusters must hold together",
        search: Search::Range {
            min: 0.7,
            max: 0.95,
        },
    },
    ParamSpec {
        name: "beta",
        kind: ParamKind::Float {
            min: 1.0,
            max: 1e6,
            min_open: true,
            max_open: false,
            log: true,
        },
        default: DefaultValue::Float(5.0),
        help: "size ratio between consecutive clusters that separates large from small",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "use_weights",
        kind: ParamKind::Bool,
        default: DefaultValue::Bool(false),
        help: "multiply each score by the size of the row's cluster",
        search: Search::All,
    },
];

pub struct Cblof {
    n_clusters: usize,
    alpha: f64,
    beta: f64,
    use_weights: bool,
}

impl Cblof {
    pub fn from_params(p: &Params) -> Self {
        Cblof {
            n_clusters: p.int("n_clusters") as usize,
            alpha: p.float("alpha"),
            beta: p.float("beta"),
            use_weights: p.bool("use_weights"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CblofModel {
    /// k-means centres, one per row.
    pub centers: Array2<f64>,
    /// Rows per cluster in the training data.
    pub sizes: Vec<usize>,
    /// Whether each cluster is a large one.
    pub large: Vec<bool>,
    pub use_weights: bool,
}

/// PyOD `_set_small_large_clusters`: which clusters are large. `None` when the α / β rule finds
/// no separation (PyOD raises).
fn large_clusters(sizes: &[usize], n: usize, alpha: f64, beta: f64) -> Option<Vec<bool>> {
    let k = sizes.len();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]));
    let mut alpha_list = Vec::new();
    let mut beta_list = Vec::new();
    for i in 1..k {
        let top: usize = order[..i].iter().map(|&c| sizes[c]).sum();
        if top as f64 >= n as f64 * alpha {
            alpha_list.push(i);
        }
        let ratio = sizes[order[i - 1]] as f64 / sizes[order[i]] as f64;
        if ratio >= beta {
            beta_list.push(i);
        }
    }
    let threshold = alpha_list
        .iter()
        .find(|i| beta_list.contains(i))
        .or(alpha_list.first())
        .or(beta_list.first())
        .copied()?;
    let mut large = vec![false; k];
    for &c in &order[..threshold] {
        large[c] = true;
    }
    Some(large)
}

impl Detector for Cblof {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        let (n, d) = x.dim();
        let k = self.n_clusters;
        if n < k {
            return Err(DetectError::InvalidData(format!(
                "parameter n_clusters = {k} needs at least as many rows; the matrix has {n}"
            )));
        }
        let xs = x.as_standard_layout();
        let raw = xs.as_slice().expect("standard layout");
        let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed);
        let (mut centers, labels) = kmeans(raw, d, k, &mut rng, ctx)?;
        // np.bincount(labels): clusters beyond the largest label do not exist for PyOD.
        let n_found = labels.iter().max().map_or(0, |&m| m + 1);
        let mut sizes = vec![0usize; n_found];
        for &l in &labels {
            sizes[l] += 1;
        }
        centers.truncate(n_found * d);
        // No α / β separation (PyOD raises): treat every cluster as large.
        let large =
            large_clusters(&sizes, n, self.alpha, self.beta).unwrap_or_else(|| vec![true; n_found]);
        let model = CblofModel {
            centers: Array2::from_shape_vec((n_found, d), centers).expect("shape"),
            sizes,
            large,
            use_weights: self.use_weights,
        };
        let training_scores = model.scores(raw, Some(&labels));
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::Cblof(model),
            training_scores,
        })
    }
}

impl CblofModel {
    pub fn n_features(&self) -> usize {
        self.centers.ncols()
    }

    fn scores(&self, data: &[f64], labels: Option<&[usize]>) -> Array1<f64> {
        let d = self.n_features();
        let centers = self.centers.as_slice().expect("standard layout");
        let large_centers: Vec<f64> = centers
            .chunks(d)
            .zip(&self.large)
            .filter(|(_, &l)| l)
            .flat_map(|(c, _)| c.iter().copied())
            .collect();
        let one = |(i, row): (usize, &[f64])| {
            let label = match labels {
                Some(l) => l[i],
                None => nearest(row, centers, d).0,
            };
            let score = if self.large[label] {
                sq_dist(row, &centers[label * d..(label + 1) * d]).sqrt()
            } else {
                nearest(row, &large_centers, d).1.sqrt()
            };
            if self.use_weights {
                score * self.sizes[label] as f64
            } else {
                score
            }
        };
        let out: Vec<f64> = data.par_chunks(d).enumerate().map(one).collect();
        Array1::from(out)
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let xs = x.as_standard_layout();
        Ok(self.scores(xs.as_slice().expect("standard layout"), None))
    }

    pub(super) fn validate(&self) -> Check {
        let (k, d) = self.centers.dim();
        if d == 0 {
            return Err("centers has no features".into());
        }
        not_empty("centers", k)?;
        values("centers", &self.centers, Rule::Finite)?;
        length("sizes", self.sizes.len(), k)?;
        length("large", self.large.len(), k)?;
        // Rows of small clusters are measured to the nearest large centre.
        if !self.large.iter().any(|&l| l) {
            return Err("no cluster is marked large".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_small_clusters_follow_pyod() {
        // Sorted sizes 50, 40, 30, 5, 3: α = 0.9 of 128 rows needs the first 3 (120 ≥ 115.2);
        // β = 5 holds between 30 and 5 (i = 3) too: threshold 3.
        let sizes = [5, 50, 3, 30, 40];
        let large = large_clusters(&sizes, 128, 0.9, 5.0).unwrap();
        assert_eq!(large, vec![false, true, false, true, true]);
        // Only β: 100 vs 10 at i = 1 (α needs 3 clusters).
        let large = large_clusters(&[10, 100, 9, 9], 128, 0.99, 5.0).unwrap();
        assert_eq!(large, vec![false, true, false, false]);
        // Balanced clusters: no separation (PyOD raises).
        assert!(large_clusters(&[10, 10, 10, 10], 40, 0.9, 5.0).is_none());
    }
}

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
//! count.

use ndarray::{Array1, Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::{validate_matrix, DetectError, DetectResult, Detector, Fitted, JobCtx, Model};

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

const MAX_ITER: usize = 300;
const TOL: f64 = 1e-4;
const CHUNK: usize = 256;

#[inline]
fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        let t = x - y;
        s += t * t;
    }
    s
}

/// Index of the nearest centre (first on ties) and its squared distance.
#[inline]
fn nearest(row: &[f64], centers: &[f64], d: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, center) in centers.chunks(d).enumerate() {
        let s = sq_dist(row, center);
        if s < best.1 {
            best = (c, s);
        }
    }
    best
}

/// sklearn `_kmeans_plusplus` (greedy k-means++): returns the initial centres.
fn kmeans_plusplus(x: &[f64], d: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let n = x.len() / d;
    let n_local_trials = 2 + (k as f64).ln() as usize;
    let mut centers = Vec::with_capacity(k * d);
    let first = rng.gen_range(0..n);
    centers.extend_from_slice(&x[first * d..(first + 1) * d]);
    let mut closest: Vec<f64> = x
        .par_chunks(d)
        .with_min_len(CHUNK)
        .map(|r| sq_dist(r, &centers[..d]))
        .collect();
    let mut current_pot: f64 = closest.iter().sum();
    for _ in 1..k {
        let mut cumsum = Vec::with_capacity(n);
        let mut acc = 0.0;
        for v in &closest {
            acc += v;
            cumsum.push(acc);
        }
        let candidates: Vec<usize> = (0..n_local_trials)
            .map(|_| {
                let r = rng.gen::<f64>() * current_pot;
                cumsum.partition_point(|&c| c < r).min(n - 1)
            })
            .collect();
        // Potential of each candidate: Σ min(closest, d(candidate, ·)).
        let dists: Vec<Vec<f64>> = candidates
            .iter()
            .map(|&c| {
                let cand = &x[c * d..(c + 1) * d];
                x.par_chunks(d)
                    .with_min_len(CHUNK)
                    .zip(closest.par_iter())
                    .map(|(r, &old)| sq_dist(r, cand).min(old))
                    .collect()
            })
            .collect();
        let pots: Vec<f64> = dists.iter().map(|v| v.iter().sum()).collect();
        let mut best = 0;
        for (t, &p) in pots.iter().enumerate() {
            if p < pots[best] {
                best = t;
            }
        }
        current_pot = pots[best];
        closest = dists.into_iter().nth(best).expect("candidate");
        let c = candidates[best];
        centers.extend_from_slice(&x[c * d..(c + 1) * d]);
    }
    centers
}

/// Assigns every row to its nearest centre; returns the per-cluster sums and counts, summed
/// per fixed-size chunk and then in chunk order.
fn assign(x: &[f64], d: usize, centers: &[f64], labels: &mut [usize]) -> (Vec<f64>, Vec<usize>) {
    let k = centers.len() / d;
    let partial: Vec<(Vec<f64>, Vec<usize>)> = x
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks_mut(CHUNK))
        .map(|(rows, labs)| {
            let mut sums = vec![0.0; k * d];
            let mut counts = vec![0usize; k];
            for (row, lab) in rows.chunks(d).zip(labs.iter_mut()) {
                let (c, _) = nearest(row, centers, d);
                *lab = c;
                counts[c] += 1;
                for (s, v) in sums[c * d..(c + 1) * d].iter_mut().zip(row) {
                    *s += v;
                }
            }
            (sums, counts)
        })
        .collect();
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    for (s, c) in partial {
        for (a, b) in sums.iter_mut().zip(s) {
            *a += b;
        }
        for (a, b) in counts.iter_mut().zip(c) {
            *a += b;
        }
    }
    (sums, counts)
}

/// sklearn's Lloyd iterations (`_kmeans_single_lloyd`), returning (centres, labels).
fn lloyd(
    x: &[f64],
    d: usize,
    mut centers: Vec<f64>,
    tol: f64,
    ctx: &JobCtx,
) -> DetectResult<(Vec<f64>, Vec<usize>)> {
    let n = x.len() / d;
    let k = centers.len() / d;
    let mut labels = vec![usize::MAX; n];
    let mut labels_old = labels.clone();
    let mut strict = false;
    for _ in 0..MAX_ITER {
        ctx.checkpoint()?;
        let (mut sums, mut counts) = assign(x, d, &centers, &mut labels);
        // _relocate_empty_clusters_dense: empty clusters take the rows farthest from their
        // (old) centres.
        let empty: Vec<usize> = (0..k).filter(|&c| counts[c] == 0).collect();
        if !empty.is_empty() {
            let far: Vec<f64> = x
                .par_chunks(d)
                .zip(labels.par_iter())
                .map(|(r, &l)| sq_dist(r, &centers[l * d..(l + 1) * d]))
                .collect();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| far[b].total_cmp(&far[a]).then(a.cmp(&b)));
            for (&c, &row) in empty.iter().zip(&order) {
                let old = labels[row];
                let r = &x[row * d..(row + 1) * d];
                for j in 0..d {
                    sums[old * d + j] -= r[j];
                    sums[c * d + j] = r[j];
                }
                counts[c] = 1;
                counts[old] -= 1;
            }
        }
        let mut new_centers = centers.clone();
        for c in 0..k {
            if counts[c] > 0 {
                let w = 1.0 / counts[c] as f64;
                for j in 0..d {
                    new_centers[c * d + j] = sums[c * d + j] * w;
                }
            }
        }
        let shift: f64 = (0..k)
            .map(|c| {
                sq_dist(
                    &centers[c * d..(c + 1) * d],
                    &new_centers[c * d..(c + 1) * d],
                )
            })
            .sum();
        centers = new_centers;
        if labels == labels_old {
            strict = true;
            break;
        }
        if shift <= tol {
            break;
        }
        labels_old.copy_from_slice(&labels);
    }
    if !strict {
        // Labels consistent with the final centres.
        assign(x, d, &centers, &mut labels);
    }
    Ok((centers, labels))
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
        // sklearn centres the data before clustering (for accuracy) and shifts back after.
        let mut mean = vec![0.0; d];
        for row in raw.chunks(d) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        for m in mean.iter_mut() {
            *m /= n as f64;
        }
        let centred: Vec<f64> = raw
            .chunks(d)
            .flat_map(|row| row.iter().zip(&mean).map(|(v, m)| v - m))
            .collect();
        let mut var_sum = 0.0;
        for j in 0..d {
            let v: f64 = centred.chunks(d).map(|r| r[j] * r[j]).sum::<f64>() / n as f64;
            var_sum += v;
        }
        let tol = var_sum / d as f64 * TOL;
        let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed);
        let init = kmeans_plusplus(&centred, d, k, &mut rng);
        ctx.report(0.3);
        let (mut centers, labels) = lloyd(&centred, d, init, tol, ctx)?;
        for c in centers.chunks_mut(d) {
            for (v, m) in c.iter_mut().zip(&mean) {
                *v += m;
            }
        }
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
        let out: Vec<f64> = data
            .par_chunks(d)
            .enumerate()
            .map(|(i, row)| {
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
            })
            .collect();
        Array1::from(out)
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let xs = x.as_standard_layout();
        Ok(self.scores(xs.as_slice().expect("standard layout"), None))
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

    #[test]
    fn kmeans_separates_blobs() {
        let mut x = Vec::new();
        for c in 0..3 {
            for i in 0..40 {
                x.push(c as f64 * 10.0 + (i % 7) as f64 * 0.1);
                x.push(-(c as f64) * 10.0 + (i % 5) as f64 * 0.1);
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let init = kmeans_plusplus(&x, 2, 3, &mut rng);
        let (_, labels) = lloyd(&x, 2, init, 1e-9, &JobCtx::default()).unwrap();
        for c in 0..3 {
            let block = &labels[c * 40..(c + 1) * 40];
            assert!(block.iter().all(|&l| l == block[0]));
        }
        assert!(labels[0] != labels[40] && labels[40] != labels[80] && labels[0] != labels[80]);
    }
}

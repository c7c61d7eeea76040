//! Kernel density estimation with a Gaussian kernel, as PyOD's `KDE` computes it through
//! scikit-learn's `KernelDensity` (kd-tree, leaf_size 30, `atol = rtol = 0`, breadth-first): the
//! score is minus the log density at the point, the point itself included among the kernels:
//! `−[log Σ_j exp(−‖x−x_j‖²/(2h²)) − (d/2)·log(2π) − d·log h − log n]`.
//!
//! scikit-learn does not compute the sum directly: it walks its kd-tree and keeps running
//! log-space bounds, adding each node's lower bound when it is opened, removing it again
//! (`logsubexp`) when its children or points replace it, and stopping as soon as the bound
//! spread rounds to −∞. The result differs from the exact sum in the last bits, and on data
//! where most points are isolated (every other kernel negligible), those last bits are all that
//! ranks the points.
//!
//! So scores come in two stages (`KdeModel::scores`). A direct sum, vectorised, gives every
//! row's value to ~1e-12. Rows whose values are too close to another distinct row's for that
//! accuracy to rank them are then replayed: the same tree is rebuilt (libstdc++'s `nth_element`
//! included, for the order of the points inside each leaf) and the same sequence of
//! floating-point operations is run, with glibc's `exp`, `log` and `pow` as scikit-learn calls
//! them, so those rows are bit-identical to PyOD's. Ranks agree with PyOD's on all nine
//! reference datasets, values to 2e-12. The replay costs scikit-learn's price per kernel; it is
//! needed for most rows only where most points are isolated.

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::validate::{training, Check};
use super::{validate_matrix, DetectError, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::neighbors::{BruteForce, QUERY_ROWS};
use crate::numeric::rows::par_map_rows;
use crate::numeric::vexp::sum_exp_below;
use crate::replicas::sktree::{node_heap_pop, node_heap_push, KdTree};

pub const PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "bandwidth",
    kind: ParamKind::Float {
        min: 0.0,
        max: 1e6,
        min_open: true,
        max_open: false,
        log: true,
    },
    default: DefaultValue::Float(1.0),
    help: "Gaussian kernel width h (in the data's units)",
    search: Search::Range {
        min: 0.1,
        max: 10.0,
    },
}];

pub struct Kde {
    bandwidth: f64,
}

impl Kde {
    pub fn from_params(p: &Params) -> Self {
        Kde {
            bandwidth: p.float("bandwidth"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KdeModel {
    pub train: Array2<f64>,
    pub bandwidth: f64,
}

fn logaddexp(x1: f64, x2: f64) -> f64 {
    let a = x1.max(x2);
    if a == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    // exp(b − a) below 2^-54 cannot change 1 + exp(b − a): the result is exactly a.
    let b = x1.min(x2);
    if b - a < -40.0 {
        return a + 0.0;
    }
    // One of the two terms is exp(0) = 1 exactly; glibc's exp is only called for the other.
    let (e1, e2) = if x1 == a {
        (1.0, (x2 - a).exp())
    } else {
        ((x1 - a).exp(), 1.0)
    };
    a + (e1 + e2).ln()
}

fn logsubexp(x1: f64, x2: f64) -> f64 {
    if x1 <= x2 {
        return f64::NEG_INFINITY;
    }
    if x2 - x1 < -40.0 {
        return x1 + 0.0;
    }
    x1 + (1.0 - (x2 - x1).exp()).ln()
}

fn log_gaussian_kernel(dist: f64, h: f64) -> f64 {
    -0.5 * (dist * dist) / (h * h)
}

/// Per-query state, reused across queries.
struct Scratch {
    heap: Vec<(f64, usize)>,
    /// Squared distances to the points of one leaf.
    leaf_d2: Vec<f64>,
    node_min: Vec<f64>,
    node_spread: Vec<f64>,
}

impl KdTree {
    /// `_kde_single_breadthfirst` with atol = rtol = 0: the log of the (unnormalised) kernel sum.
    fn log_kernel_sum(
        &self,
        leaves: &[f64],
        pt: &[f64],
        h: f64,
        log_knorm: f64,
        s: &mut Scratch,
    ) -> f64 {
        let n = (leaves.len() / pt.len()) as f64;
        let log_n = n.ln();
        let (log_atol, log_rtol) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        s.heap.clear();
        let (root_lb, root_ub) = self.min_max_dist(0, pt);
        node_heap_push(&mut s.heap, (root_lb, 0));
        let mut global_min = log_n + log_gaussian_kernel(root_ub, h);
        let global_max = log_n + log_gaussian_kernel(root_lb, h);
        let mut global_spread = logsubexp(global_max, global_min);
        s.node_min[0] = global_min;
        s.node_spread[0] = global_spread;
        while !s.heap.is_empty() {
            let (_, node) = node_heap_pop(&mut s.heap);
            let n1 = (self.end[node] - self.start[node]) as f64;
            if log_knorm + s.node_spread[node] - n1.ln() + log_n
                <= logaddexp(log_atol, log_rtol + log_knorm + s.node_min[node])
            {
                // Case 1: the node's bounds agree.
            } else if log_knorm + global_spread
                <= logaddexp(log_atol, log_rtol + log_knorm + global_min)
            {
                // Case 2: the global bounds agree.
                break;
            } else if self.is_leaf[node] {
                global_min = logsubexp(global_min, s.node_min[node]);
                global_spread = logsubexp(global_spread, s.node_spread[node]);
                // The leaf's squared distances first (vectorised, each still summed in
                // feature order), then the sequential chain of log-additions.
                let (start, end) = (self.start[node], self.end[node]);
                let len = end - start;
                if len == 0 {
                    continue;
                }
                let d2s = &mut s.leaf_d2[..len];
                d2s.fill(0.0);
                let block = &leaves[start * pt.len()..end * pt.len()];
                for (column, &q) in block.chunks_exact(len).zip(pt) {
                    for (acc, &v) in d2s.iter_mut().zip(column) {
                        let diff = q - v;
                        *acc += diff * diff;
                    }
                }
                for &d2 in d2s.iter() {
                    let dist = d2.sqrt();
                    global_min = logaddexp(global_min, log_gaussian_kernel(dist, h) + 0.0);
                }
            } else {
                let (i1, i2) = (2 * node + 1, 2 * node + 2);
                let n1 = (self.end[i1] - self.start[i1]) as f64;
                let n2 = (self.end[i2] - self.start[i2]) as f64;
                let (lb1, ub1) = self.min_max_dist(i1, pt);
                let (lb2, ub2) = self.min_max_dist(i2, pt);
                s.node_min[i1] = n1.ln() + log_gaussian_kernel(ub1, h);
                s.node_spread[i1] = n1.ln() + log_gaussian_kernel(lb1, h);
                s.node_min[i2] = n2.ln() + log_gaussian_kernel(ub2, h);
                s.node_spread[i2] = n2.ln() + log_gaussian_kernel(lb2, h);
                global_min = logsubexp(global_min, s.node_min[node]);
                global_min = logaddexp(global_min, s.node_min[i1]);
                global_min = logaddexp(global_min, s.node_min[i2]);
                global_spread = logsubexp(global_spread, s.node_spread[node]);
                global_spread = logaddexp(global_spread, s.node_spread[i1]);
                global_spread = logaddexp(global_spread, s.node_spread[i2]);
                node_heap_push(&mut s.heap, (lb1, i1));
                node_heap_push(&mut s.heap, (lb2, i2));
            }
        }
        logaddexp(global_min, global_spread - 2.0f64.ln())
    }
}

/// Fast kernel sums whose ranks could differ from scikit-learn's within this relative
/// distance of each other are replayed. scikit-learn's tree walk ends within 2e-12 of the
/// exact sum on the reference data (README), and ours within n·4 ulps: 1e-9 leaves a margin
/// of several hundred.
const NEAR_TIE: f64 = 1e-9;
/// Query rows per parallel task of the fast sums.
const ROWS_PER_TASK: usize = 16;

impl KdeModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.train.ncols()
    }

    /// `−score_samples(x)` of each row, against the training rows.
    ///
    /// Two stages. First every log kernel sum is computed directly: squared distances in
    /// vector registers and a vectorised `exp`, shifted by the nearest row's kernel so that
    /// nothing underflows. That is accurate to about n·4 ulps, but scikit-learn's tree walk
    /// is only accurate to its own rounding, and where points are isolated (every other
    /// kernel negligible) those last bits are all that ranks them. So, second,
    /// every row whose fast sum is within `NEAR_TIE` of another distinct row's is replayed
    /// through the tree walk, bit for bit as PyOD computes it. Ranks then agree with PyOD's
    /// everywhere, and values to ~1e-12.
    fn scores(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Array1<f64>> {
        let train = self.train.view();
        let x = x.as_standard_layout();
        let n = train.nrows();
        let d = train.ncols();
        let h = self.bandwidth;
        let mut log_sums = self.fast_log_kernel_sums(x.view(), ctx)?;
        let replay = rows_to_replay(x.view(), &log_sums);
        let exact = self.exact_log_kernel_sums(x.view(), &replay, ctx)?;
        for (&i, value) in replay.iter().zip(exact) {
            log_sums[i] = value;
        }
        let log_knorm = log_kernel_norm(d, h);
        let log_n = (n as f64).ln();
        Ok(log_sums
            .into_iter()
            .map(|log_sum| -((log_sum + log_knorm) - log_n))
            .collect())
    }

    /// The log kernel sums of the given rows of `x` exactly as scikit-learn's tree walk
    /// computes them.
    fn exact_log_kernel_sums(
        &self,
        x: ArrayView2<f64>,
        rows: &[usize],
        ctx: &JobCtx,
    ) -> DetectResult<Vec<f64>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let train = self.train.view();
        let (n, d) = train.dim();
        let h = self.bandwidth;
        let tree = KdTree::build(train);
        let leaves = leaf_blocks(&tree, train);
        let n_nodes = tree.start.len();
        let log_knorm = log_kernel_norm(d, h);
        par_map_rows(
            rows.len(),
            ctx,
            || Scratch {
                heap: Vec::new(),
                leaf_d2: vec![0.0; n],
                node_min: vec![f64::NEG_INFINITY; n_nodes],
                node_spread: vec![0.0; n_nodes],
            },
            |s, r| {
                let q = x.row(rows[r]);
                let q = q.as_slice().expect("standard layout");
                tree.log_kernel_sum(&leaves, q, h, log_knorm, s)
            },
        )
    }

    /// `log Σ_j exp(−‖x_i − t_j‖² / (2h²))` of each row `x_i`, over all training rows `t_j`.
    fn fast_log_kernel_sums(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Vec<f64>> {
        let train = self.train.view();
        let n = train.nrows();
        let scale = 0.5 / (self.bandwidth * self.bandwidth);
        let distances = BruteForce::new(train);
        let mut log_sums = vec![0.0; x.nrows()];
        let done = AtomicUsize::new(0);
        log_sums
            .par_chunks_mut(ROWS_PER_TASK)
            .enumerate()
            .try_for_each_init(
                || vec![vec![0.0; n]; QUERY_ROWS],
                |d2, (chunk, out)| {
                    ctx.checkpoint()?;
                    let first = chunk * ROWS_PER_TASK;
                    for (g, group_out) in out.chunks_mut(QUERY_ROWS).enumerate() {
                        let queries: Vec<&[f64]> = (0..group_out.len())
                            .map(|r| {
                                let i = first + g * QUERY_ROWS + r;
                                x.row(i).to_slice().expect("standard layout")
                            })
                            .collect();
                        distances.squared_distances(&queries, d2);
                        for (value, row_d2) in group_out.iter_mut().zip(d2.iter()) {
                            let nearest = row_d2.iter().copied().fold(f64::INFINITY, f64::min);
                            let shifted = sum_exp_below(row_d2, nearest, scale);
                            *value = -(nearest * scale) + shifted.ln();
                        }
                    }
                    let finished = done.fetch_add(out.len(), Ordering::Relaxed) + out.len();
                    ctx.report(finished as f64 / x.nrows() as f64);
                    Ok(())
                },
            )?;
        Ok(log_sums)
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        self.scores(x, &JobCtx::default())
    }

    pub(super) fn validate(&self) -> Check {
        training(&self.train)?;
        let h = self.bandwidth;
        // The kernel divides by h²: it must neither underflow to 0 nor overflow.
        if !(h.is_finite() && h > 0.0 && h * h > 0.0 && (h * h).is_finite()) {
            return Err(format!(
                "bandwidth is {h}, expected a positive number whose square is finite and not 0"
            ));
        }
        Ok(())
    }
}

/// The training points in tree order, feature-major inside each leaf: feature `f` of the point
/// at position `p` of a leaf spanning `start..end` is at `start·d + f·(end − start) + p − start`.
fn leaf_blocks(tree: &KdTree, train: ArrayView2<f64>) -> Vec<f64> {
    let d = train.ncols();
    let mut blocks = vec![0.0; train.nrows() * d];
    for node in (0..tree.start.len()).filter(|&node| tree.is_leaf[node]) {
        let (start, end) = (tree.start[node], tree.end[node]);
        let block = &mut blocks[start * d..end * d];
        for (p, &row) in tree.idx[start..end].iter().enumerate() {
            for f in 0..d {
                block[f * (end - start) + p] = train[[row, f]];
            }
        }
    }
    blocks
}

/// scikit-learn's `_log_kernel_norm` (gaussian): −0.5·d·log(2π) − d·log(h).
fn log_kernel_norm(d: usize, h: f64) -> f64 {
    let log_2pi = (2.0 * std::f64::consts::PI).ln();
    -(0.5 * d as f64 * log_2pi) - d as f64 * h.ln()
}

/// Rows whose fast log sum lies within `NEAR_TIE` (relative, at least absolute) of another
/// row's, unless all rows of such a cluster are the same point (identical rows get identical
/// results from either computation).
fn rows_to_replay(x: ArrayView2<f64>, log_sums: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..log_sums.len()).collect();
    order.sort_by(|&a, &b| log_sums[a].total_cmp(&log_sums[b]).then(a.cmp(&b)));
    let close = |a: f64, b: f64| (b - a).abs() <= NEAR_TIE * a.abs().max(b.abs()).max(1.0);
    let mut replay = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && close(log_sums[order[end - 1]], log_sums[order[end]]) {
            end += 1;
        }
        let cluster = &order[start..end];
        let first = x.row(cluster[0]);
        if cluster.iter().any(|&i| x.row(i) != first) {
            replay.extend_from_slice(cluster);
        }
        start = end;
    }
    replay.sort_unstable();
    replay
}

impl Detector for Kde {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        // h² must not underflow to 0: the kernel −0.5·d²/h² would be NaN at d = 0.
        if self.bandwidth * self.bandwidth == 0.0 {
            return Err(DetectError::InvalidParam {
                detector: "kde".into(),
                param: "bandwidth".into(),
                message: format!("{} is too small (its square underflows)", self.bandwidth),
            });
        }
        validate_matrix(x, 2)?;
        let model = KdeModel {
            train: x.as_standard_layout().to_owned(),
            bandwidth: self.bandwidth,
        };
        let training_scores = model.scores(x, ctx)?;
        Ok(Fitted {
            model: Model::Kde(model),
            training_scores,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two dense clusters (kernel sums well apart: the fast path decides) and isolated points
    /// nearly so (log sums ≈ 0: replayed), plus exact duplicates.
    fn mixed_data() -> Array2<f64> {
        const D: usize = 8;
        let mut state = 5u64;
        let mut uniform = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut rows = Vec::new();
        for i in 0..400 {
            let centre = if i % 2 == 0 { 0.0 } else { 3.0 };
            rows.extend((0..D).map(|_| centre + uniform()));
        }
        // Scattered points about 9–12 apart: each one's neighbours add kernels of 1e-30 to
        // 1e-17 to its own 1, so only the last bits of the sums order them.
        for _ in 0..300 {
            rows.extend((0..D).map(|_| 50.0 + 30.0 * uniform()));
        }
        rows.extend_from_within(..2 * D);
        Array2::from_shape_vec((rows.len() / D, D), rows).unwrap()
    }

    #[test]
    fn two_stage_scores_rank_exactly_like_the_full_replay() {
        let x = mixed_data();
        let model = KdeModel {
            train: x.clone(),
            bandwidth: 1.0,
        };
        let ctx = JobCtx::default();
        let fast = model.fast_log_kernel_sums(x.view(), &ctx).unwrap();
        let replay = rows_to_replay(x.view(), &fast);
        // The isolated points are replayed, the cluster points are not.
        assert!(replay.iter().all(|&i| i >= 400), "{replay:?}");
        assert!(replay.len() >= 50, "{} rows replayed", replay.len());

        let all: Vec<usize> = (0..x.nrows()).collect();
        let exact = model.exact_log_kernel_sums(x.view(), &all, &ctx).unwrap();
        let two_stage = model.scores(x.view(), &ctx).unwrap();
        let log_knorm = log_kernel_norm(x.ncols(), 1.0);
        let log_n = (x.nrows() as f64).ln();
        let replayed: Vec<f64> = exact.iter().map(|&v| -((v + log_knorm) - log_n)).collect();
        let rank = |v: &[f64]| {
            let mut order: Vec<usize> = (0..v.len()).collect();
            order.sort_by(|&a, &b| v[a].total_cmp(&v[b]).then(a.cmp(&b)));
            order
        };
        let (ours, theirs) = (rank(two_stage.as_slice().unwrap()), rank(&replayed));
        if let Some(p) = (0..ours.len()).find(|&p| ours[p] != theirs[p]) {
            panic!(
                "rank {p}: row {} vs row {} in the full replay",
                ours[p], theirs[p]
            );
        }
        for (i, (&a, &b)) in two_stage.iter().zip(&replayed).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "row {i}: {a} vs {b}"
            );
            if replay.contains(&i) {
                assert_eq!(a.to_bits(), b.to_bits(), "replayed row {i}");
            }
        }
    }
}

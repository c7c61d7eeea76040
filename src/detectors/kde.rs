//! Kernel density estimation with a Gaussian kernel, as PyOD's `KDE` computes it through
//! scikit-learn's `KernelDensity` (kd-tree, leaf_size 30, `atol = rtol = 0`, breadth-first): the
//! score is minus the log density at the point, the point itself included among the kernels:
//! `−[log Σ_j exp(−‖x−x_j‖²/(2h²)) − (d/2)·log(2π) − d·log h − log n]`.
//!
//! The sum is not computed directly: scikit-learn walks its kd-tree and keeps running log-space
//! bounds, adding each node's lower bound when it is opened, removing it again (`logsubexp`)
//! when its children or points replace it, and stopping as soon as the bound spread rounds to
//! −∞. The result differs from the exact sum in the last bits, and on data where most points are
//! isolated (every other kernel negligible), those last bits are all that ranks the points. So
//! this module rebuilds the same tree (libstdc++'s `nth_element` included, for the order of the
//! points inside each leaf) and replays the same sequence of floating-point operations, with
//! glibc's `exp`, `log` and `pow` as scikit-learn calls them. Terms too small to change a
//! `logaddexp` are skipped without changing any bit. The scores are bit-identical to PyOD's on
//! all nine reference datasets; the price is scikit-learn's cost per kernel (one `exp` and one
//! `log`), which only the row parallelism and the skipped terms reduce.

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::sktree::{node_heap_pop, node_heap_push, KdTree};
use super::support::{par_map_rows, sequential_distance, Rows};
use super::{validate_matrix, DetectError, DetectResult, Detector, Fitted, JobCtx, Model};

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
    node_min: Vec<f64>,
    node_spread: Vec<f64>,
}

impl KdTree {
    /// `_kde_single_breadthfirst` with atol = rtol = 0: the log of the (unnormalised) kernel sum.
    fn log_kernel_sum(
        &self,
        data: Rows,
        pt: &[f64],
        h: f64,
        log_knorm: f64,
        s: &mut Scratch,
    ) -> f64 {
        let n = data.len() as f64;
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
                for &i in &self.idx[self.start[node]..self.end[node]] {
                    let dist = sequential_distance(pt, data.get(i));
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

impl KdeModel {
    /// `−score_samples(x)` of each row, against the training rows.
    fn scores(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Array1<f64>> {
        let train = self.train.view();
        let tree = KdTree::build(train);
        let rows = Rows::new(train);
        let x = x.as_standard_layout();
        let n = train.nrows();
        let d = train.ncols();
        let h = self.bandwidth;
        // sklearn `_log_kernel_norm` (gaussian): −0.5·d·log(2π) − d·log(h).
        let log_2pi = (2.0 * std::f64::consts::PI).ln();
        let log_knorm = -(0.5 * d as f64 * log_2pi) - d as f64 * h.ln();
        let log_n = (n as f64).ln();
        let n_nodes = tree.start.len();
        let scores = par_map_rows(
            x.nrows(),
            ctx,
            || Scratch {
                heap: Vec::new(),
                node_min: vec![f64::NEG_INFINITY; n_nodes],
                node_spread: vec![0.0; n_nodes],
            },
            |s, i| {
                let q = x.row(i);
                let q = q.as_slice().expect("standard layout");
                let log_density = tree.log_kernel_sum(rows, q, h, log_knorm, s) + log_knorm;
                -(log_density - log_n)
            },
        )?;
        Ok(Array1::from(scores))
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        self.scores(x, &JobCtx::default())
    }
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

//! Connectivity-based Outlier Factor (Tang et al. 2002), as PyOD's `COF(method='fast')` computes
//! it.
//!
//! For each point p, its neighbours o₁..o_k are the k points after the first in p's distances
//! sorted ascending (the first being p itself, or an exact duplicate of it).
//! The cost of o_j is its distance to the nearest of {that first point, o₁..o_{j−1}}; the
//! average chaining distance is `ac(p) = Σ_j 2(k+1−j)/(k(k+1)) · cost_j`, and
//! `COF(p) = k · ac(p) / Σ_{o ∈ N(p)} ac(o)`, with numpy's `nan_to_num` (0/0 → 0, x/0 → f64::MAX).
//!
//! Parity details: distances are `scipy.spatial.distance_matrix`'s, i.e. numpy's pairwise sum of
//! the squared differences (bit-different from a sequential sum once d ≥ 8). The order is
//! `np.argsort`'s on an AVX-512 machine ([`crate::replicas::npsort`]): on data with equal
//! distances (duplicate rows, integer features) it decides which neighbours are taken and in
//! which order they are chained, so any other tie order changes many rows.
//!
//! PyOD holds the n×n distance matrix in memory; here each point's distance row is computed on
//! the fly, so memory stays O(n·k) at any n (time is O(n²·d), like PyOD's).

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::support::check_neighbors;
use super::validate::{length, neighbours, training, values, Check, Rule};
use super::{validate_matrix, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::numeric::rows::{par_map_rows, Rows};
use crate::numeric::sums::{numpy_distance, numpy_sum};
use crate::replicas::npsort::argsort_prefix;

pub const PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "n_neighbors",
    kind: ParamKind::Int {
        min: 1,
        max: 1000,
        log: true,
    },
    default: DefaultValue::Int(20),
    help: "neighbours per point (the chain length)",
    search: Search::Range {
        min: 5.0,
        max: 50.0,
    },
}];

pub struct Cof {
    k: usize,
}

impl Cof {
    pub fn from_params(p: &Params) -> Self {
        Cof {
            k: p.int("n_neighbors") as usize,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CofModel {
    pub train: Array2<f64>,
    pub k: usize,
    /// Average chaining distance of each training row.
    pub ac_dist: Array1<f64>,
}

/// The `count` rows of `train` first in `np.argsort` of their distances to `q`
/// (`scipy.spatial.distance_matrix` distances, numpy's AVX-512 argsort order).
fn nearest_rows(train: Rows, q: &[f64], count: usize, s: &mut Scratch) {
    s.row.clear();
    s.row
        .extend((0..train.len()).map(|j| numpy_distance(train.get(j), q)));
    argsort_prefix(&s.row, count, &mut s.order);
    s.order.truncate(count);
}

/// `ac_dist` of a chain: `first` (p's own coordinates) followed by its k neighbours.
fn chaining_distance(
    train: Rows,
    first: &[f64],
    neighbours: &[usize],
    costs: &mut Vec<f64>,
) -> f64 {
    let k = neighbours.len();
    costs.clear();
    for j in 0..k {
        let o = train.get(neighbours[j]);
        let mut cost = numpy_distance(first, o);
        for &prev in &neighbours[..j] {
            cost = cost.min(numpy_distance(train.get(prev), o));
        }
        // ((2. * (k + 1 - (h + 1))) / ((k + 1) * k)) * cost_h
        let weight = (2.0 * (k - j) as f64) / ((k + 1) * k) as f64;
        costs.push(weight * cost);
    }
    numpy_sum(costs)
}

/// `np.nan_to_num`: NaN → 0, ±inf → ±f64::MAX.
fn nan_to_num(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else if v.is_infinite() {
        f64::MAX.copysign(v)
    } else {
        v
    }
}

/// `(ac(p) · k) / np.sum(ac of p's neighbours, in chain order)`, then `nan_to_num`.
fn cof_of(ac_own: f64, neighbours: &[usize], ac_dist: &[f64]) -> f64 {
    let around: Vec<f64> = neighbours.iter().map(|&o| ac_dist[o]).collect();
    nan_to_num((ac_own * neighbours.len() as f64) / numpy_sum(&around))
}

#[derive(Default)]
struct Scratch {
    row: Vec<f64>,
    order: Vec<usize>,
    neighbours: Vec<usize>,
    costs: Vec<f64>,
}

impl Detector for Cof {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        // PyOD silently lowers k to n − 1; we say so instead, before any work.
        check_neighbors(x, self.k)?;
        let train = x.as_standard_layout().to_owned();
        let k = self.k;
        let rows = Rows::new(train.view());
        let chains = par_map_rows(train.nrows(), ctx, Scratch::default, |s, i| {
            nearest_rows(rows, rows.get(i), k + 1, s);
            // sbn_path[0] is the first row in the order (p, or a duplicate of p); the chain
            // starts there.
            let first = rows.get(s.order[0]);
            s.neighbours.clear();
            s.neighbours.extend_from_slice(&s.order[1..]);
            let ac = chaining_distance(rows, first, &s.neighbours, &mut s.costs);
            (ac, s.neighbours.clone())
        })?;
        let n = train.nrows();
        let mut neighbours = Array2::<usize>::zeros((n, k));
        let mut ac_dist = Array1::<f64>::zeros(n);
        for (i, (ac, nb)) in chains.into_iter().enumerate() {
            ac_dist[i] = ac;
            for (c, o) in nb.into_iter().enumerate() {
                neighbours[[i, c]] = o;
            }
        }
        let ac = ac_dist.as_slice().expect("contiguous");
        let training_scores: Array1<f64> = (0..n)
            .map(|i| cof_of(ac[i], neighbours.row(i).as_slice().expect("contiguous"), ac))
            .collect();
        Ok(Fitted {
            model: Model::Cof(CofModel { train, k, ac_dist }),
            training_scores,
        })
    }
}

impl CofModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.train.ncols()
    }

    /// PyOD's `decision_function(X)` re-runs COF on X alone, ignoring the training data. We score
    /// each new row against the fitted data instead: its chain starts at the row itself and runs
    /// through its k nearest training rows, and its average chaining distance is compared with
    /// theirs (computed at fit time).
    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let x = x.as_standard_layout();
        let ac = self.ac_dist.as_slice().expect("contiguous");
        let k = self.k;
        let rows = Rows::new(self.train.view());
        let queries = Rows::new(x.view());
        let scores = par_map_rows(x.nrows(), &JobCtx::default(), Scratch::default, |s, i| {
            let q = queries.get(i);
            nearest_rows(rows, q, k, s);
            s.neighbours.clear();
            s.neighbours.extend_from_slice(&s.order);
            let own = chaining_distance(rows, q, &s.neighbours, &mut s.costs);
            cof_of(own, &s.neighbours, ac)
        })?;
        Ok(Array1::from(scores))
    }

    pub(super) fn validate(&self) -> Check {
        training(&self.train)?;
        let n = self.train.nrows();
        neighbours(self.k, n)?;
        length("ac_dist", self.ac_dist.len(), n)?;
        values("ac_dist", &self.ac_dist, Rule::NonNegative)
    }
}

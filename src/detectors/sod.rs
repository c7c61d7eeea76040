//! Subspace Outlier Degree (Kriegel et al. 2009), as PyOD's `SOD` computes it.
//!
//! For each point p: its k nearest neighbours (leaving p out); the shared-neighbour count
//! `|N(p) ∩ N(q)|` with every other point q; the reference set = the `ref_set` points with the
//! most shared neighbours; the relevant dimensions = those where the reference set's variance is
//! below `alpha` × its average variance per dimension; the score = the RMS deviation of p from the
//! reference set's mean over the relevant dimensions (0 if none).
//!
//! Parity details: the neighbour lists are scikit-learn's, ties included
//! ([`crate::replicas::sktree`]). PyOD ranks the shared counts with numba's `np.argsort` (a
//! quicksort whose order among equal counts is specific to that algorithm; counts tie all the time)
//! and takes the last entries of the sorted order, reversed; [`numba_argsort_top`] is a port of it.
//! The reference mean and the per-dimension variances are column reductions (added row after row),
//! the total variance a numpy pairwise sum, and the final weighted sum `np.dot` (OpenBLAS).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::support::check_neighbors;
use super::validate::{neighbours, training, value, Check, Rule};
use super::{validate_matrix, DetectError, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::numeric::rows::par_map_rows;
use crate::numeric::sums::numpy_sum;
use crate::replicas::openblas::openblas_ddot;
use crate::replicas::sktree::{kneighbors, kneighbors_leave_self_out};

pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n_neighbors",
        kind: ParamKind::Int {
            min: 3,
            max: 1000,
            log: true,
        },
        default: DefaultValue::Int(20),
        help: "neighbours per point for the shared-nearest-neighbour counts",
        search: Search::Range {
            min: 15.0,
            max: 50.0,
        },
    },
    ParamSpec {
        name: "ref_set",
        kind: ParamKind::Int {
            min: 2,
            max: 999,
            log: true,
        },
        default: DefaultValue::Int(10),
        help: "size of the reference set (points sharing the most neighbours); below n_neighbors",
        search: Search::Fixed,
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
        default: DefaultValue::Float(0.8),
        help: "a dimension is relevant when its variance is below alpha × the average variance",
        search: Search::Range {
            min: 0.6,
            max: 0.95,
        },
    },
];

pub struct Sod {
    k: usize,
    ref_set: usize,
    alpha: f64,
}

impl Sod {
    pub fn from_params(p: &Params) -> Self {
        Sod {
            k: p.int("n_neighbors") as usize,
            ref_set: p.int("ref_set") as usize,
            alpha: p.float("alpha"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SodModel {
    pub train: Array2<f64>,
    pub k: usize,
    pub ref_set: usize,
    pub alpha: f64,
    /// Each training row's k nearest neighbours (itself left out), for the shared counts of new
    /// rows.
    pub train_neighbors: Array2<usize>,
}

/// For each row m, the rows whose neighbour lists contain m (compressed rows).
struct ReverseNeighbors {
    start: Vec<usize>,
    rows: Vec<u32>,
}

impl ReverseNeighbors {
    fn new(neighbors: ArrayView2<usize>) -> Self {
        let n = neighbors.nrows();
        let mut count = vec![0usize; n + 1];
        for &m in neighbors.iter() {
            count[m + 1] += 1;
        }
        for i in 0..n {
            count[i + 1] += count[i];
        }
        let mut fill = count.clone();
        let mut rows = vec![0u32; neighbors.len()];
        for (j, list) in neighbors.rows().into_iter().enumerate() {
            for &m in list {
                rows[fill[m]] = j as u32;
                fill[m] += 1;
            }
        }
        ReverseNeighbors { start: count, rows }
    }

    fn of(&self, m: usize) -> &[u32] {
        &self.rows[self.start[m]..self.start[m + 1]]
    }
}

struct Scratch {
    counts: Vec<u32>,
    order: Vec<usize>,
    touched: Vec<usize>,
    reference: Vec<usize>,
    columns: Vec<f64>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch {
            counts: vec![0; n],
            order: Vec::with_capacity(n),
            touched: Vec::new(),
            reference: Vec::new(),
            columns: Vec::new(),
        }
    }
}

/// `np.argsort(a)` with numba's quicksort (`numba/misc/quicksort.py`: median-of-three pivot,
/// Hoare-style partition, insertion sort below 15 elements, the larger side pushed on a stack),
/// but only as far as needed to fix the positions `from..a.len()`: ranges entirely below
/// `from` are never sorted (sorting a range only permutes that range, so the positions kept are
/// exactly numba's). `order` receives the (partially) sorted indices.
pub(crate) fn numba_argsort_top(a: &[u32], from: usize, order: &mut Vec<usize>) {
    const SMALL_QUICKSORT: isize = 15;
    let n = a.len();
    order.clear();
    order.extend(0..n);
    if n < 2 {
        return;
    }
    let r = order.as_mut_slice();
    let from = from as isize;
    // Signed bounds, as in numba: `high = i - 1` may reach low − 1.
    let mut stack: Vec<(isize, isize)> = Vec::with_capacity(100);
    stack.push((0, n as isize - 1));
    while let Some((mut low, mut high)) = stack.pop() {
        if high < from {
            continue;
        }
        while high - low >= SMALL_QUICKSORT {
            let i = partition(a, r, low as usize, high as usize) as isize;
            // Push the larger side, continue with the smaller (numba's order).
            if high - i > i - low {
                if high > i {
                    stack.push((i + 1, high));
                }
                high = i - 1;
            } else {
                if i > low {
                    stack.push((low, i - 1));
                }
                low = i + 1;
            }
            if high < from {
                break;
            }
        }
        if high >= from && high > low {
            insertion_sort(a, r, low as usize, high as usize);
        }
    }
}

fn insertion_sort(a: &[u32], r: &mut [usize], low: usize, high: usize) {
    for i in low + 1..=high {
        let k = r[i];
        let v = a[k];
        let mut j = i;
        while j > low && v < a[r[j - 1]] {
            r[j] = r[j - 1];
            j -= 1;
        }
        r[j] = k;
    }
}

fn partition(a: &[u32], r: &mut [usize], low: usize, high: usize) -> usize {
    let mid = (low + high) >> 1;
    if a[r[mid]] < a[r[low]] {
        r.swap(low, mid);
    }
    if a[r[high]] < a[r[mid]] {
        r.swap(high, mid);
    }
    if a[r[mid]] < a[r[low]] {
        r.swap(low, mid);
    }
    let pivot = a[r[mid]];
    r.swap(high, mid);
    let mut i = low;
    // numba's j may reach low − 1; kept as a signed index.
    let mut j = high as isize - 1;
    loop {
        while i < high && a[r[i]] < pivot {
            i += 1;
        }
        while j >= low as isize && pivot < a[r[j as usize]] {
            j -= 1;
        }
        if i as isize >= j {
            break;
        }
        r.swap(i, j as usize);
        i += 1;
        j -= 1;
    }
    r.swap(i, high);
    i
}

/// Shared-neighbour counts of the neighbour list `own` with every training row, into
/// `scratch.counts` (rows not sharing any neighbour stay 0; `scratch.touched` lists the others).
fn shared_counts(own: ArrayView1<usize>, reverse: &ReverseNeighbors, scratch: &mut Scratch) {
    for &m in own {
        for &j in reverse.of(m) {
            let j = j as usize;
            if scratch.counts[j] == 0 {
                scratch.touched.push(j);
            }
            scratch.counts[j] += 1;
        }
    }
}

fn reset_counts(scratch: &mut Scratch) {
    for &j in &scratch.touched {
        scratch.counts[j] = 0;
    }
    scratch.touched.clear();
}

/// PyOD's `_sod` for one point given its reference set (in PyOD's order).
/// What a point gets when no dimension is relevant (every variance ≥ alpha × the average).
#[derive(Clone, Copy, PartialEq)]
enum NoSubspace {
    /// PyOD's training scores: 0.
    Zero,
    /// New rows: the single dimension of lowest variance is used instead (see
    /// [`SodModel::score`]).
    LowestVariance,
}

fn subspace_score(
    train: ArrayView2<f64>,
    obs: ArrayView1<f64>,
    reference: &[usize],
    alpha: f64,
    no_subspace: NoSubspace,
    columns: &mut Vec<f64>,
) -> f64 {
    let d = train.ncols();
    let r = reference.len() as f64;
    // np.mean(ref, axis=0): rows added one after the other per column.
    let mut means = vec![0.0; d];
    for &q in reference {
        for (m, &v) in means.iter_mut().zip(train.row(q)) {
            *m += v;
        }
    }
    for m in means.iter_mut() {
        *m /= r;
    }
    // (ref − means)², row-major, for np.sum over the whole block (pairwise) and np.var(axis=0).
    columns.clear();
    for &q in reference {
        for (&v, &m) in train.row(q).iter().zip(&means) {
            let dev = v - m;
            columns.push(dev * dev);
        }
    }
    let var_total = numpy_sum(columns) / r;
    let var_expect = alpha * var_total / d as f64;
    let mut weights = vec![0.0; d];
    let mut relevant = 0usize;
    let mut lowest = (f64::INFINITY, 0);
    for (j, w) in weights.iter_mut().enumerate() {
        let mut var = 0.0;
        for row in 0..reference.len() {
            var += columns[row * d + j];
        }
        let var = var / r;
        if var < var_expect {
            *w = 1.0;
            relevant += 1;
        }
        if var < lowest.0 {
            lowest = (var, j);
        }
    }
    if relevant == 0 {
        match no_subspace {
            NoSubspace::Zero => return 0.0,
            NoSubspace::LowestVariance => {
                weights[lowest.1] = 1.0;
                relevant = 1;
            }
        }
    }
    let squares: Vec<f64> = obs
        .iter()
        .zip(&means)
        .map(|(&o, &m)| {
            let dev = o - m;
            dev * dev
        })
        .collect();
    (openblas_ddot(&weights, &squares) / relevant as f64).sqrt()
}

/// `ref_set < n_neighbors`, checked when the parameters are resolved.
pub fn check_params(p: &Params) -> DetectResult<()> {
    Sod::from_params(p).check_ref_set()
}

impl Sod {
    fn check_ref_set(&self) -> DetectResult<()> {
        if self.ref_set >= self.k {
            return Err(DetectError::InvalidParam {
                detector: "sod".into(),
                param: "ref_set".into(),
                message: format!(
                    "{} must be smaller than n_neighbors ({})",
                    self.ref_set, self.k
                ),
            });
        }
        Ok(())
    }
}

impl Detector for Sod {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        self.check_ref_set()?;
        validate_matrix(x, 2)?;
        check_neighbors(x, self.k)?;
        let train = x.as_standard_layout().to_owned();
        let n = train.nrows();
        let neighbors = kneighbors_leave_self_out(train.view(), self.k, ctx)?;
        let reverse = ReverseNeighbors::new(neighbors.indices.view());
        let r = self.ref_set;
        let scores = par_map_rows(
            n,
            ctx,
            || Scratch::new(n),
            |s, i| {
                shared_counts(neighbors.indices.row(i), &reverse, s);
                s.counts[i] = u32::MAX;
                // np.argsort(temp)[::-1][1:r+1]: p itself is last; the r entries before it,
                // from the end.
                numba_argsort_top(&s.counts, n - 1 - r, &mut s.order);
                s.reference.clear();
                s.reference.extend((1..=r).map(|t| s.order[n - 1 - t]));
                s.counts[i] = 0;
                reset_counts(s);
                let mut columns = std::mem::take(&mut s.columns);
                let score = subspace_score(
                    train.view(),
                    train.row(i),
                    &s.reference,
                    self.alpha,
                    NoSubspace::Zero,
                    &mut columns,
                );
                s.columns = columns;
                score
            },
        )?;
        Ok(Fitted {
            model: Model::Sod(SodModel {
                train,
                k: self.k,
                ref_set: self.ref_set,
                alpha: self.alpha,
                train_neighbors: neighbors.indices,
            }),
            training_scores: Array1::from(scores),
        })
    }
}

impl SodModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.train.ncols()
    }

    /// PyOD's `decision_function(X)` re-runs the whole method on X alone, ignoring the training
    /// data (and fails on fewer than n_neighbors + 1 rows). We score each new row against the
    /// fitted data instead: its k nearest training rows, the shared counts with every training
    /// row's neighbour list, the `ref_set` training rows sharing the most (ties ordered by the
    /// same quicksort), and the same subspace deviation.
    ///
    /// One difference: when no dimension is relevant, a new row is measured along the reference
    /// set's lowest-variance dimension instead of scoring 0. A row far outside the data has the
    /// training outliers nearest to it in its reference set; their spread inflates every
    /// dimension's variance alike, so PyOD's rule would give the farthest rows the lowest score.
    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let ctx = JobCtx::default();
        let n = self.train.nrows();
        let r = self.ref_set.min(n);
        let neighbors = kneighbors(self.train.view(), x, self.k, &ctx)?;
        let reverse = ReverseNeighbors::new(self.train_neighbors.view());
        let scores = par_map_rows(
            x.nrows(),
            &ctx,
            || Scratch::new(n),
            |s, i| {
                shared_counts(neighbors.indices.row(i), &reverse, s);
                numba_argsort_top(&s.counts, n - r, &mut s.order);
                s.reference.clear();
                s.reference.extend((0..r).map(|t| s.order[n - 1 - t]));
                reset_counts(s);
                let mut columns = std::mem::take(&mut s.columns);
                let score = subspace_score(
                    self.train.view(),
                    x.row(i),
                    &s.reference,
                    self.alpha,
                    NoSubspace::LowestVariance,
                    &mut columns,
                );
                s.columns = columns;
                score
            },
        )?;
        Ok(Array1::from(scores))
    }

    pub(super) fn validate(&self) -> Check {
        training(&self.train)?;
        let n = self.train.nrows();
        neighbours(self.k, n)?;
        if self.ref_set == 0 || self.ref_set >= self.k {
            return Err(format!(
                "ref_set is {}, expected 1 to {} (less than k)",
                self.ref_set,
                self.k - 1
            ));
        }
        value("alpha", self.alpha, Rule::OpenUnit)?;
        let shape = self.train_neighbors.dim();
        if shape != (n, self.k) {
            return Err(format!(
                "train_neighbors is {} × {}, expected {n} × {} (training rows × k)",
                shape.0, shape.1, self.k
            ));
        }
        if let Some(((i, c), &j)) = self.train_neighbors.indexed_iter().find(|(_, j)| **j >= n) {
            return Err(format!(
                "train_neighbors: neighbour {c} of row {i} is row {j}, but there are {n} rows"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full numba quicksort (no pruning), for comparison.
    fn full(a: &[u32]) -> Vec<usize> {
        let mut o = Vec::new();
        numba_argsort_top(a, 0, &mut o);
        o
    }

    #[test]
    fn pruned_sort_keeps_the_top_positions() {
        let mut state = 7u64;
        for n in [1usize, 2, 5, 16, 17, 40, 300, 1000] {
            let a: Vec<u32> = (0..n)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    ((state >> 33) % 4) as u32
                })
                .collect();
            let all = full(&a);
            for w in all.windows(2) {
                assert!(a[w[0]] <= a[w[1]]);
            }
            let from = n.saturating_sub(11);
            let mut top = Vec::new();
            numba_argsort_top(&a, from, &mut top);
            assert_eq!(&top[from..], &all[from..], "n = {n}");
        }
    }
}

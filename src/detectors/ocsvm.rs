//! One-class SVM (Schölkopf et al. 2001) with an RBF kernel, as PyOD's `OCSVM()` fits it
//! through scikit-learn's bundled libsvm: `gamma='auto'` (= 1/d), `nu=0.5`, `tol=1e-3`,
//! shrinking on. Score = −decision function = −(Σ αᵢ K(svᵢ, x) − ρ).
//!
//! The solver is a port of libsvm's `Solver` (Fan, Chen & Lin 2005, the SMO of libsvm 3.x as
//! sklearn ships it) specialised to the one-class problem (all yᵢ = +1, p = 0, Cᵢ = 1):
//! second-order (WSS3) working-set selection, shrinking with one un-shrink near convergence,
//! libsvm's initial α (the first ⌊ν·l⌋ set to 1, the next one fractional) and its ρ. The kernel
//! matrix entries are rounded to `f32` as libsvm's `Qfloat` cache stores them, so the
//! optimisation path (and ρ) follows libsvm's: on the reference data sets the scores agree
//! with PyOD's to ≤ 7e-13 absolute (bit for bit on three of them).
//!
//! Speed, without changing any value that matters: kernel columns are cached in `f64`
//! (bounded memory, non-support-vector columns dropped first) and reused for the training
//! scores, which then cost no kernel evaluations for cached support vectors; the initial
//! gradient reuses the symmetric half of the kernel; columns are computed in parallel, eight
//! entries side by side (each dot product still libsvm's sequential sum, so every kernel value
//! is libsvm's exactly). Every sum keeps libsvm's order, so results do not depend on the
//! thread count.

use std::collections::BTreeSet;

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::{validate_matrix, DetectResult, Detector, Fitted, JobCtx, Model};

pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "nu",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1.0,
            min_open: true,
            max_open: false,
            log: false,
        },
        default: DefaultValue::Float(0.5),
        help: "upper bound on the share of training errors, lower bound on support vectors",
        search: Search::Range {
            min: 0.05,
            max: 0.9,
        },
    },
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1e6,
            min_open: false,
            max_open: false,
            log: true,
        },
        default: DefaultValue::Float(0.0),
        help: "RBF kernel coefficient; 0 = 'auto' = 1 / n_features (PyOD's default)",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "tol",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1.0,
            min_open: true,
            max_open: false,
            log: true,
        },
        default: DefaultValue::Float(1e-3),
        help: "stopping tolerance of the SMO solver (libsvm's eps)",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "shrinking",
        kind: ParamKind::Bool,
        default: DefaultValue::Bool(true),
        help: "libsvm's shrinking heuristic (changes the path within tol, not the problem)",
        search: Search::Fixed,
    },
];

pub struct Ocsvm {
    nu: f64,
    gamma: f64,
    tol: f64,
    shrinking: bool,
}

impl Ocsvm {
    pub fn from_params(p: &Params) -> Self {
        Ocsvm {
            nu: p.float("nu"),
            gamma: p.float("gamma"),
            tol: p.float("tol"),
            shrinking: p.bool("shrinking"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OcsvmModel {
    pub support_vectors: Array2<f64>,
    pub dual_coef: Vec<f64>,
    pub rho: f64,
    pub gamma: f64,
}

/// libsvm's `TAU`: the replacement for a non-positive quadratic coefficient.
const TAU: f64 = 1e-12;
/// Memory for cached kernel columns (libsvm's default `cache_size` is 200 MB of `f32`; these
/// are `f64` so that the training scores can reuse them).
const CACHE_BYTES: usize = 320 << 20;
/// Work below this many kernel entries stays on one thread.
const PAR_MIN_LEN: usize = 2048;
/// Columns computed together (initial gradient, training scores).
const BATCH: usize = 32;
/// Rows per parallel task.
const CHUNK: usize = 1024;
/// Kernel entries computed side by side (see [`RbfKernel::entries`]).
const LANES: usize = 8;

/// `exp`, short-cutting arguments whose result underflows to +0 anyway (glibc's slow path).
#[inline]
fn exp(arg: f64) -> f64 {
    if arg < -745.2 {
        0.0
    } else {
        arg.exp()
    }
}

/// `Σ a_k b_k` in index order (libsvm's dense `dot`).
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for k in 0..a.len().min(b.len()) {
        s += a[k] * b[k];
    }
    s
}

/// The training kernel (libsvm `kernel_rbf`): `exp(−γ (‖xᵢ‖² + ‖xⱼ‖² − 2 xᵢ·xⱼ))`.
struct RbfKernel<'a> {
    x: &'a [f64],
    d: usize,
    square: Vec<f64>,
    gamma: f64,
}

impl<'a> RbfKernel<'a> {
    fn new(x: &'a [f64], d: usize, gamma: f64) -> Self {
        let square = x.chunks(d).map(|r| dot(r, r)).collect();
        RbfKernel {
            x,
            d,
            square,
            gamma,
        }
    }

    fn len(&self) -> usize {
        self.square.len()
    }

    #[inline]
    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    #[inline]
    fn eval(&self, i: usize, j: usize) -> f64 {
        exp(-self.gamma * (self.square[i] + self.square[j] - 2.0 * dot(self.row(i), self.row(j))))
    }

    /// `K(i, j)` for every `j` in `js`, into `out`: libsvm's exact value, computed for
    /// [`LANES`] rows at a time. Each dot product is still one sequential sum in feature order
    /// (the same bits as [`Self::eval`]); side by side, the eight sums no longer wait on each
    /// other's additions (a lone sum is bound by the latency of d dependent additions).
    fn entries(&self, i: usize, js: &[usize], out: &mut [f64]) {
        let d = self.d;
        let a = self.row(i);
        let mut groups = js.chunks_exact(LANES);
        let mut outs = out.chunks_exact_mut(LANES);
        for (group, out) in (&mut groups).zip(&mut outs) {
            let rows: [&[f64]; LANES] = std::array::from_fn(|l| &self.row(group[l])[..d]);
            let mut sums = [0.0f64; LANES];
            for (k, &ak) in a.iter().enumerate() {
                for (s, row) in sums.iter_mut().zip(&rows) {
                    *s += ak * row[k];
                }
            }
            for ((o, &j), &dot) in out.iter_mut().zip(group).zip(&sums) {
                *o = exp(-self.gamma * (self.square[i] + self.square[j] - 2.0 * dot));
            }
        }
        for (o, &j) in outs.into_remainder().iter_mut().zip(groups.remainder()) {
            *o = self.eval(i, j);
        }
    }

    /// Whole columns `K(i, ·)` for every `i` in `cols`, in parallel over row blocks.
    fn columns(&self, cols: &[usize]) -> Vec<Vec<f64>> {
        self.columns_from(cols, 0)
    }

    /// [`Self::columns`] for the rows from `start` on; the rows before are left at zero for
    /// the caller to fill (from the symmetric entries it holds).
    fn columns_from(&self, cols: &[usize], start: usize) -> Vec<Vec<f64>> {
        let l = self.len();
        let mut result: Vec<Vec<f64>> = cols.iter().map(|_| vec![0.0; l]).collect();
        // Row blocks of every column, computed in parallel.
        let mut pieces: Vec<(usize, usize, &mut [f64])> = Vec::new();
        for (c, column) in result.iter_mut().enumerate() {
            let mut lo = start;
            for piece in column[start..].chunks_mut(CHUNK) {
                let len = piece.len();
                pieces.push((cols[c], lo, piece));
                lo += len;
            }
        }
        pieces
            .into_par_iter()
            .for_each_init(Vec::new, |js, (i, lo, piece)| {
                js.clear();
                js.extend(lo..lo + piece.len());
                self.entries(i, js, piece);
            });
        result
    }
}

/// Kernel columns by original row index, in original row order, kept in `f64` (the solver
/// reads them rounded to `f32`, libsvm's `Qfloat`). Entries not computed yet are NaN (a finite
/// kernel is never NaN). Beyond the memory budget the least recently used column of a row
/// that is not a support vector (α = 0) is dropped first: support-vector columns serve the
/// gradient reconstruction and the training scores. A dropped column is recomputed
/// identically.
struct ColumnCache<'a> {
    kernel: RbfKernel<'a>,
    columns: Vec<Option<Vec<f64>>>,
    /// Column holds every row (no NaN left).
    complete: Vec<bool>,
    last_used: Vec<u64>,
    /// Row currently has α > 0.
    support: Vec<bool>,
    /// Eviction order of the held columns: (support vector, last use, row).
    lru: BTreeSet<(bool, u64, usize)>,
    clock: u64,
    held: usize,
    capacity: usize,
}

impl<'a> ColumnCache<'a> {
    fn new(kernel: RbfKernel<'a>) -> Self {
        let l = kernel.len();
        let capacity = (CACHE_BYTES / (8 * l.max(1))).max(3);
        ColumnCache {
            kernel,
            columns: vec![None; l],
            complete: vec![false; l],
            last_used: vec![0; l],
            support: vec![false; l],
            lru: BTreeSet::new(),
            clock: 0,
            held: 0,
            capacity,
        }
    }

    /// Records a use of column `i` (held or about to be).
    fn touch(&mut self, i: usize) {
        self.clock += 1;
        if self.columns[i].is_some() {
            self.lru.remove(&(self.support[i], self.last_used[i], i));
            self.lru.insert((self.support[i], self.clock, i));
        }
        self.last_used[i] = self.clock;
    }

    fn set_support(&mut self, i: usize, support: bool) {
        if self.support[i] != support {
            if self.columns[i].is_some() {
                self.lru.remove(&(self.support[i], self.last_used[i], i));
                self.lru.insert((support, self.last_used[i], i));
            }
            self.support[i] = support;
        }
    }

    /// Stores column `i`, dropping another one if the budget is used up.
    fn store(&mut self, i: usize, column: Vec<f64>, complete: bool) {
        if self.held >= self.capacity {
            // The two most recently requested columns (the working pair) stay.
            let victim = self
                .lru
                .iter()
                .find(|&&(_, used, c)| c != i && used + 1 < self.clock)
                .copied()
                .expect("the cache holds at least three columns");
            self.lru.remove(&victim);
            self.columns[victim.2] = None;
            self.complete[victim.2] = false;
            self.held -= 1;
        }
        self.columns[i] = Some(column);
        self.complete[i] = complete;
        self.held += 1;
        self.lru.insert((self.support[i], self.last_used[i], i));
    }

    /// Stores a fully computed column if there is room without evicting anything.
    fn insert_complete(&mut self, i: usize, column: Vec<f64>) {
        if self.held < self.capacity && self.columns[i].is_none() {
            self.touch(i);
            self.store(i, column, true);
        }
    }

    /// Makes column `i` hold `K(i, order[k])` for `k < len`.
    fn ensure(&mut self, i: usize, order: &[usize], len: usize) {
        self.touch(i);
        if self.complete[i] {
            return;
        }
        let l = self.columns.len();
        if self.columns[i].is_none() {
            if len == l {
                let column = self.kernel.columns(&[i]).pop().expect("one column");
                self.store(i, column, true);
                return;
            }
            self.store(i, vec![f64::NAN; l], false);
        }
        let kernel = &self.kernel;
        let col = self.columns[i].as_mut().expect("just inserted");
        let missing: Vec<usize> = order[..len]
            .iter()
            .copied()
            .filter(|&j| col[j].is_nan())
            .collect();
        let mut values = vec![0.0; missing.len()];
        if missing.len() >= PAR_MIN_LEN {
            values
                .par_chunks_mut(512)
                .zip(missing.par_chunks(512))
                .for_each(|(out, js)| kernel.entries(i, js, out));
        } else {
            kernel.entries(i, &missing, &mut values);
        }
        for (&j, v) in missing.iter().zip(values) {
            col[j] = v;
        }
        if len == l {
            self.complete[i] = true;
        }
    }

    fn get(&self, i: usize) -> &[f64] {
        self.columns[i].as_deref().expect("ensured")
    }

    /// Complete cached column `i`, if any.
    fn complete_column(&self, i: usize) -> Option<&[f64]> {
        if self.complete[i] {
            self.columns[i].as_deref()
        } else {
            None
        }
    }
}

/// libsvm's `Qfloat` rounding of a cached kernel value.
#[inline]
fn qf(v: f64) -> f64 {
    v as f32 as f64
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Lower,
    Upper,
    Free,
}

/// libsvm `Solver` for the one-class dual: min ½ αᵀQα, 0 ≤ αᵢ ≤ 1, Σ αᵢ = ν·l.
/// Arrays are indexed by position; `active_set[pos]` is the original row.
struct Solver<'a, 'c> {
    cache: ColumnCache<'a>,
    ctx: &'c JobCtx,
    l: usize,
    active_size: usize,
    g: Vec<f64>,
    g_bar: Vec<f64>,
    alpha: Vec<f64>,
    status: Vec<Status>,
    qd: Vec<f64>,
    active_set: Vec<usize>,
    eps: f64,
    unshrink: bool,
}

struct Solution<'a> {
    alpha: Vec<f64>,
    rho: f64,
    /// The kernel columns still cached, for the training scores.
    cache: ColumnCache<'a>,
}

fn status_of(alpha: f64) -> Status {
    // C = 1 for every row (unit sample weights).
    if alpha >= 1.0 {
        Status::Upper
    } else if alpha <= 0.0 {
        Status::Lower
    } else {
        Status::Free
    }
}

impl<'a, 'c> Solver<'a, 'c> {
    fn q_col(&mut self, pos: usize, len: usize) -> usize {
        let orig = self.active_set[pos];
        self.cache.ensure(orig, &self.active_set, len);
        orig
    }

    fn swap_index(&mut self, i: usize, j: usize) {
        self.g.swap(i, j);
        self.status.swap(i, j);
        self.alpha.swap(i, j);
        self.qd.swap(i, j);
        self.active_set.swap(i, j);
        self.g_bar.swap(i, j);
    }

    fn reconstruct_gradient(&mut self) {
        if self.active_size == self.l {
            return;
        }
        for j in self.active_size..self.l {
            self.g[j] = self.g_bar[j];
        }
        // Both of libsvm's loop orders add, for each inactive j, α_f·Q(f, j) over the free
        // active f in ascending position: the same sums. Column by column of the free ones
        // reuses cached columns.
        let free: Vec<usize> = (0..self.active_size)
            .filter(|&i| self.status[i] == Status::Free)
            .collect();
        let l = self.l;
        for i in free {
            let orig = self.q_col(i, l);
            let col = self.cache.get(orig);
            let alpha_i = self.alpha[i];
            for j in self.active_size..l {
                self.g[j] += alpha_i * qf(col[self.active_set[j]]);
            }
        }
    }

    /// WSS3 (libsvm `select_working_set`) with all yᵢ = +1. `None` when optimal.
    fn select_working_set(&mut self) -> Option<(usize, usize)> {
        let mut gmax = f64::NEG_INFINITY;
        let mut gmax2 = f64::NEG_INFINITY;
        let mut gmax_idx: Option<usize> = None;
        let mut gmin_idx: Option<usize> = None;
        let mut obj_diff_min = f64::INFINITY;
        for t in 0..self.active_size {
            if self.status[t] != Status::Upper && -self.g[t] >= gmax {
                gmax = -self.g[t];
                gmax_idx = Some(t);
            }
        }
        let Some(i) = gmax_idx else {
            // Gmax = −inf: libsvm never reads Q_i, and the Gmax2 scan cannot select j.
            return None;
        };
        let orig_i = self.q_col(i, self.active_size);
        let q_i = self.cache.get(orig_i);
        let qd_i = self.qd[i];
        for j in 0..self.active_size {
            if self.status[j] != Status::Lower {
                let gj = self.g[j];
                let grad_diff = gmax + gj;
                if gj >= gmax2 {
                    gmax2 = gj;
                }
                if grad_diff > 0.0 {
                    let quad_coef = qd_i + self.qd[j] - 2.0 * qf(q_i[self.active_set[j]]);
                    let obj_diff = if quad_coef > 0.0 {
                        -(grad_diff * grad_diff) / quad_coef
                    } else {
                        -(grad_diff * grad_diff) / TAU
                    };
                    if obj_diff <= obj_diff_min {
                        gmin_idx = Some(j);
                        obj_diff_min = obj_diff;
                    }
                }
            }
        }
        match gmin_idx {
            Some(j) if gmax + gmax2 >= self.eps => Some((i, j)),
            _ => None,
        }
    }

    fn be_shrunk(&self, i: usize, gmax1: f64, gmax2: f64) -> bool {
        match self.status[i] {
            Status::Upper => -self.g[i] > gmax1,
            Status::Lower => self.g[i] > gmax2,
            Status::Free => false,
        }
    }

    fn do_shrinking(&mut self) {
        let mut gmax1 = f64::NEG_INFINITY;
        let mut gmax2 = f64::NEG_INFINITY;
        for i in 0..self.active_size {
            if self.status[i] != Status::Upper && -self.g[i] >= gmax1 {
                gmax1 = -self.g[i];
            }
            if self.status[i] != Status::Lower && self.g[i] >= gmax2 {
                gmax2 = self.g[i];
            }
        }
        if !self.unshrink && gmax1 + gmax2 <= self.eps * 10.0 {
            self.unshrink = true;
            self.reconstruct_gradient();
            self.active_size = self.l;
        }
        let mut i = 0;
        while i < self.active_size {
            if self.be_shrunk(i, gmax1, gmax2) {
                self.active_size -= 1;
                while self.active_size > i {
                    if !self.be_shrunk(self.active_size, gmax1, gmax2) {
                        self.swap_index(i, self.active_size);
                        break;
                    }
                    self.active_size -= 1;
                }
            }
            i += 1;
        }
    }

    fn calculate_rho(&self) -> f64 {
        let mut nr_free = 0usize;
        let (mut ub, mut lb, mut sum_free) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for i in 0..self.active_size {
            let yg = self.g[i];
            match self.status[i] {
                Status::Upper => lb = lb.max(yg),
                Status::Lower => ub = ub.min(yg),
                Status::Free => {
                    nr_free += 1;
                    sum_free += yg;
                }
            }
        }
        if nr_free > 0 {
            sum_free / nr_free as f64
        } else if ub.is_infinite() || lb.is_infinite() {
            // Every α at one bound (ν·l = l): libsvm's midpoint would be infinite.
            if ub.is_infinite() {
                lb
            } else {
                ub
            }
        } else {
            (ub + lb) / 2.0
        }
    }

    fn solve(mut self, shrinking: bool) -> DetectResult<Solution<'a>> {
        let l = self.l;
        let mut iter: u64 = 0;
        let mut counter = l.min(1000) + 1;
        loop {
            counter -= 1;
            if counter == 0 {
                counter = l.min(1000);
                if shrinking {
                    self.do_shrinking();
                }
                self.ctx.checkpoint()?;
            }
            let (i, j) = match self.select_working_set() {
                Some(pair) => pair,
                None => {
                    self.reconstruct_gradient();
                    self.active_size = l;
                    match self.select_working_set() {
                        Some(pair) => {
                            counter = 1;
                            pair
                        }
                        None => break,
                    }
                }
            };
            iter += 1;
            let active = self.active_size;
            let oi = self.q_col(i, active);
            let oj = self.q_col(j, active);
            let q_i = self.cache.get(oi);
            let q_j = self.cache.get(oj);
            let old_ai = self.alpha[i];
            let old_aj = self.alpha[j];
            // y_i = y_j: the "same sign" update, C_i = C_j = 1.
            let (c_i, c_j) = (1.0, 1.0);
            let mut quad_coef = self.qd[i] + self.qd[j] - 2.0 * qf(q_i[oj]);
            if quad_coef <= 0.0 {
                quad_coef = TAU;
            }
            let delta = (self.g[i] - self.g[j]) / quad_coef;
            let sum = self.alpha[i] + self.alpha[j];
            let (mut ai, mut aj) = (old_ai - delta, old_aj + delta);
            if sum > c_i {
                if ai > c_i {
                    ai = c_i;
                    aj = sum - c_i;
                }
            } else if aj < 0.0 {
                aj = 0.0;
                ai = sum;
            }
            if sum > c_j {
                if aj > c_j {
                    aj = c_j;
                    ai = sum - c_j;
                }
            } else if ai < 0.0 {
                ai = 0.0;
                aj = sum;
            }
            self.alpha[i] = ai;
            self.alpha[j] = aj;
            let dai = ai - old_ai;
            let daj = aj - old_aj;
            for k in 0..active {
                let o = self.active_set[k];
                self.g[k] += qf(q_i[o]) * dai + qf(q_j[o]) * daj;
            }
            let ui = self.status[i] == Status::Upper;
            let uj = self.status[j] == Status::Upper;
            self.status[i] = status_of(ai);
            self.status[j] = status_of(aj);
            self.cache.set_support(oi, ai > 0.0);
            self.cache.set_support(oj, aj > 0.0);
            for (pos, was_upper, c) in [(i, ui, c_i), (j, uj, c_j)] {
                if was_upper != (self.status[pos] == Status::Upper) {
                    let o = self.q_col(pos, l);
                    let col = self.cache.get(o);
                    if was_upper {
                        for k in 0..l {
                            self.g_bar[k] -= c * qf(col[self.active_set[k]]);
                        }
                    } else {
                        for k in 0..l {
                            self.g_bar[k] += c * qf(col[self.active_set[k]]);
                        }
                    }
                }
            }
            if iter % 4096 == 0 {
                self.ctx.checkpoint()?;
            }
        }
        let rho = self.calculate_rho();
        let mut alpha = vec![0.0; l];
        for pos in 0..l {
            alpha[self.active_set[pos]] = self.alpha[pos];
        }
        Ok(Solution {
            alpha,
            rho,
            cache: self.cache,
        })
    }
}

/// Trains the one-class SVM on the rows of `x` (row-major, `d` columns).
fn train<'a>(
    x: &'a [f64],
    d: usize,
    nu: f64,
    gamma: f64,
    eps: f64,
    shrinking: bool,
    ctx: &JobCtx,
) -> DetectResult<Solution<'a>> {
    let l = x.len() / d;
    // libsvm `solve_one_class`: nu_l = Σ Cᵢ·ν (added in order), then α filled greedily.
    let mut nu_l = 0.0;
    for _ in 0..l {
        nu_l += nu;
    }
    let mut alpha = vec![0.0; l];
    let mut i = 0;
    while nu_l > 0.0 && i < l {
        alpha[i] = nu_l.min(1.0);
        nu_l -= alpha[i];
        i += 1;
    }
    let kernel = RbfKernel::new(x, d, gamma);
    // QD[i] = K(i, i) in double.
    let qd: Vec<f64> = (0..l).map(|i| kernel.eval(i, i)).collect();
    let status: Vec<Status> = alpha.iter().map(|&a| status_of(a)).collect();
    // Initial gradient: G[j] = Σ_{i: αᵢ>0} αᵢ Q(i, j), G_bar[j] = Σ_{i at C} Q(i, j), each
    // summed over i ascending like libsvm (parallel over j). libsvm caches these columns; so
    // do we, as far as the memory budget allows.
    let nonzero: Vec<usize> = (0..l).filter(|&i| status[i] != Status::Lower).collect();
    let mut cache = ColumnCache::new(kernel);
    for &i in &nonzero {
        cache.set_support(i, true);
    }
    let mut g = vec![0.0; l];
    let mut g_bar = vec![0.0; l];
    for (b, batch) in nonzero.chunks(BATCH).enumerate() {
        ctx.checkpoint()?;
        // `nonzero` is a prefix 0..m of the rows: the entries above this batch's rows are in
        // the columns already cached (K is symmetric), as long as the cache kept them all.
        let start = batch[0];
        let reuse = (0..start).all(|j| cache.complete_column(j).is_some());
        let mut columns = cache
            .kernel
            .columns_from(batch, if reuse { start } else { 0 });
        if reuse {
            for (&i, col) in batch.iter().zip(columns.iter_mut()) {
                for (j, v) in col.iter_mut().enumerate().take(start) {
                    *v = cache.complete_column(j).expect("checked")[i];
                }
            }
        }
        g.par_chunks_mut(CHUNK)
            .zip(g_bar.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, (gs, gbs))| {
                let lo = c * CHUNK;
                for (&i, col) in batch.iter().zip(&columns) {
                    let a = alpha[i];
                    let upper = status[i] == Status::Upper;
                    let col = &col[lo..lo + gs.len()];
                    for k in 0..gs.len() {
                        let q = qf(col[k]);
                        gs[k] += a * q;
                        if upper {
                            gbs[k] += q;
                        }
                    }
                }
            });
        for (&i, col) in batch.iter().zip(columns) {
            cache.insert_complete(i, col);
        }
        ctx.report(0.2 * ((b + 1) * BATCH).min(nonzero.len()) as f64 / nonzero.len() as f64);
    }
    let solver = Solver {
        cache,
        ctx,
        l,
        active_size: l,
        g,
        g_bar,
        alpha,
        status,
        qd,
        active_set: (0..l).collect(),
        eps,
        unshrink: false,
    };
    solver.solve(shrinking)
}

/// Training scores −(Σ αᵢ K(svᵢ, xⱼ) − ρ) for every training row j, the sum over support
/// vectors in order (libsvm `predict_values`), reusing cached kernel columns. The kernel is
/// libsvm's training form (‖xᵢ‖² + ‖xⱼ‖² − 2 xᵢ·xⱼ); sklearn's prediction computes ‖xᵢ − xⱼ‖²
/// directly, which agrees to ~1e-16 relative per term.
fn training_scores(
    cache: &ColumnCache,
    alpha: &[f64],
    sv: &[usize],
    rho: f64,
    ctx: &JobCtx,
) -> DetectResult<Array1<f64>> {
    let l = cache.kernel.len();
    let mut sum = vec![0.0; l];
    for batch in sv.chunks(BATCH) {
        ctx.checkpoint()?;
        let missing: Vec<usize> = batch
            .iter()
            .copied()
            .filter(|&i| cache.complete_column(i).is_none())
            .collect();
        let computed = if missing.is_empty() {
            Vec::new()
        } else {
            cache.kernel.columns(&missing)
        };
        let mut next = computed.iter();
        let columns: Vec<&[f64]> = batch
            .iter()
            .map(|&i| {
                cache
                    .complete_column(i)
                    .unwrap_or_else(|| next.next().expect("computed"))
            })
            .collect();
        sum.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
            let lo = c * CHUNK;
            for (&i, col) in batch.iter().zip(&columns) {
                let a = alpha[i];
                let col = &col[lo..lo + out.len()];
                for k in 0..out.len() {
                    out[k] += a * col[k];
                }
            }
        });
    }
    Ok(sum.into_iter().map(|s| -(s - rho)).collect())
}

impl Detector for Ocsvm {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        let d = x.ncols();
        let gamma = if self.gamma > 0.0 {
            self.gamma
        } else {
            1.0 / d as f64
        };
        let xs = x.as_standard_layout();
        let data = xs.as_slice().expect("standard layout");
        let solution = train(data, d, self.nu, gamma, self.tol, self.shrinking, ctx)?;
        ctx.report(0.7);
        let sv: Vec<usize> = (0..x.nrows())
            .filter(|&i| solution.alpha[i].abs() > 0.0)
            .collect();
        let training_scores =
            training_scores(&solution.cache, &solution.alpha, &sv, solution.rho, ctx)?;
        let mut support_vectors = Array2::zeros((sv.len(), d));
        for (r, &i) in sv.iter().enumerate() {
            support_vectors.row_mut(r).assign(&x.row(i));
        }
        let model = OcsvmModel {
            support_vectors,
            dual_coef: sv.iter().map(|&i| solution.alpha[i]).collect(),
            rho: solution.rho,
            gamma,
        };
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::Ocsvm(model),
            training_scores,
        })
    }
}

impl OcsvmModel {
    pub fn n_features(&self) -> usize {
        self.support_vectors.ncols()
    }

    /// −(Σ αᵢ exp(−γ‖x − svᵢ‖²) − ρ) for new rows, the sum over support vectors in order
    /// (libsvm `predict_values`, sklearn's `decision_function`).
    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let d = self.n_features();
        let xs = x.as_standard_layout();
        let data = xs.as_slice().expect("standard layout");
        let svs = self.support_vectors.as_standard_layout();
        let sv = svs.as_slice().expect("standard layout");
        let neg_gamma = -self.gamma;
        let out: Vec<f64> = data
            .par_chunks(d)
            .with_min_len(64)
            .map(|row| {
                let mut sum = 0.0;
                for (coef, s) in self.dual_coef.iter().zip(sv.chunks(d)) {
                    let mut dist = 0.0;
                    for k in 0..d {
                        let t = row[k] - s[k];
                        dist += t * t;
                    }
                    sum += coef * exp(neg_gamma * dist);
                }
                -(sum - self.rho)
            })
            .collect();
        Ok(Array1::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, d: usize, scale: f64) -> Array2<f64> {
        let mut state = 7u64;
        Array2::from_shape_fn((n, d), |_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * scale
        })
    }

    /// The training scores come from cached kernel columns (libsvm's training formula); the
    /// model scores new rows with sklearn's prediction formula. Both must agree.
    #[test]
    fn training_scores_are_the_models_scores() {
        // Narrow rows, and wide rows with far-apart points (the negligible-entry path).
        for (d, scale) in [(4, 2.0), (20, 12.0)] {
            let x = data(300, d, scale);
            let p = Params(
                PARAMS
                    .iter()
                    .map(|s| (s.name.to_string(), s.default.to_value()))
                    .collect(),
            );
            let fitted = Ocsvm::from_params(&p)
                .fit(x.view(), &JobCtx::default())
                .unwrap();
            let again = fitted.model.score(x.view()).unwrap();
            for (a, b) in fitted.training_scores.iter().zip(&again) {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                    "d={d}: {a} vs {b}"
                );
            }
            let Model::Ocsvm(m) = &fitted.model else {
                unreachable!()
            };
            // ν = 0.5: Σα = ν·l, and at least ν·l support vectors.
            let total: f64 = m.dual_coef.iter().sum();
            assert!((total - 150.0).abs() < 1e-9, "{total}");
            assert!(m.dual_coef.len() >= 150);
        }
    }
}

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
//! with PyOD's to ≤ 7e-13 absolute.
//!
//! Speed, without changing any value the solver sees:
//! - Kernel entries are computed 32 side by side from feature-major rows, with a vectorised
//!   `exp` (a few ulps from glibc's). Each entry is checked to round to the same `f32` as
//!   glibc's value, and recomputed with glibc's `exp` when it might not; so every cached
//!   `Qfloat` is libsvm's exactly. Each dot product is still libsvm's sequential sum.
//! - The cache (libsvm's 200 MB of `f32`) lays columns out by solver position, like
//!   libsvm's; the solver's loops run over contiguous memory. Shrinking re-orders a column
//!   lazily, when it is next used, instead of swapping entries in every column.
//! - The initial gradient reuses the symmetric half of the kernel.
//! - The training scores are summed in `f64` with the vectorised `exp` (not from the `f32`
//!   cache), within ~1e-14 of glibc's.
//!
//! Every sum keeps libsvm's order, so results do not depend on the thread count.

use std::collections::BTreeSet;

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::vexp::{exp_nonpositive_fma, with_avx2_fma};
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
            // Below 1e-12 the stopping test asks for more than f64 gradients can deliver: the
            // solver would only stop at its iteration cap.
            min: 1e-12,
            max: 1.0,
            min_open: false,
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
/// Memory for cached kernel columns: libsvm's default `cache_size`, 200 MB of `f32`.
const CACHE_BYTES: usize = 200 << 20;
/// Kernel entries below this many stay on one thread (a column of a few thousand entries
/// costs less than waking the pool).
const PAR_MIN_LEN: usize = 16384;
/// The same for work made of several columns (the initial gradient, the training scores).
const PAR_MIN_WORK: usize = 1 << 18;
/// Columns computed together for the initial gradient.
const BATCH: usize = 32;
/// Rows per parallel task.
const CHUNK: usize = 1024;
/// Rows scored side by side (see [`RbfKernel::kernel_sums`]).
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

/// Whether `value`, [`exp_nonpositive_fma`]`(arg)`, rounds to the same `f32` as glibc's
/// `arg.exp()`, which libsvm caches (as `Qfloat`). Both are within a few ulps of the true
/// value (`f64` ulps, tested in `vexp`), so they round alike unless a rounding boundary of
/// `f32` lies within [`SAFETY_MARGIN`] of `value`: then the two ends of that interval
/// round differently. This also covers `f32` subnormals and values that round to zero.
/// Below −708 both are (or round to) zero. The refused ones take glibc's `exp`.
#[inline(always)]
fn fast_exp_is_safe(arg: f64, value: f64) -> bool {
    let low = (value * (1.0 - SAFETY_MARGIN)) as f32;
    let high = (value * (1.0 + SAFETY_MARGIN)) as f32;
    arg <= 0.0 && low == high
}

/// 2^-45 relative, 128 `f64` ulps: far wider than the few ulps between the two `exp`s.
const SAFETY_MARGIN: f64 = 1.0 / (1u64 << 45) as f64;

/// Arguments passed to the exponential at once: its polynomial is a long chain of dependent
/// operations, so several vectors must be in flight to keep the units busy.
const EXP_BLOCK: usize = 4 * LANES;

/// [`exp_nonpositive_fma`] of each argument, in one loop of pure arithmetic (so it vectorises).
#[inline(always)]
fn exp_block(args: &[f64; EXP_BLOCK]) -> [f64; EXP_BLOCK] {
    let mut out = [0.0f64; EXP_BLOCK];
    for (o, &a) in out.iter_mut().zip(args) {
        *o = exp_nonpositive_fma(a);
    }
    out
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

    #[inline(always)]
    fn arg(&self, i: usize, j: usize, dot: f64) -> f64 {
        -self.gamma * (self.square[i] + self.square[j] - 2.0 * dot)
    }

    #[inline]
    fn eval(&self, i: usize, j: usize) -> f64 {
        exp(self.arg(i, j, dot(self.row(i), self.row(j))))
    }

    /// libsvm's cached value `(Qfloat) K(i, j)` for the rows `j` at positions
    /// `from..from + out.len()` of `rows`, into `out`. Each dot product is still one
    /// sequential sum in feature order (the same bits as [`Self::eval`]); [`EXP_BLOCK`] sums
    /// side by side fill the vector units, reading the features of consecutive positions from
    /// contiguous memory. The exponential is the vectorised [`exp_nonpositive_fma`], checked by
    /// [`fast_exp_is_safe`] so that every entry is exactly glibc's value rounded to `f32`.
    fn column_range(&self, i: usize, rows: &PositionedRows, from: usize, out: &mut [f32]) {
        with_avx2_fma(
            #[inline(always)]
            || self.column_range_blocks(i, rows, from, out),
        )
    }

    #[inline(always)]
    fn column_range_blocks(&self, i: usize, rows: &PositionedRows, from: usize, out: &mut [f32]) {
        let a = self.row(i);
        let square_i = self.square[i];
        let stride = rows.stride;
        // The last block may be short: it reads the zero padding past the rows and writes
        // only its own entries.
        let mut p0 = from;
        for out in out.chunks_mut(EXP_BLOCK) {
            let mut sums = [0.0f64; EXP_BLOCK];
            for (k, &ak) in a.iter().enumerate() {
                let at = k * stride + p0;
                let feature: &[f64; EXP_BLOCK] =
                    rows.xt[at..at + EXP_BLOCK].try_into().expect("a block");
                for (s, &v) in sums.iter_mut().zip(feature) {
                    *s += ak * v;
                }
            }
            let squares: &[f64; EXP_BLOCK] =
                rows.square[p0..p0 + EXP_BLOCK].try_into().expect("a block");
            let mut args = [0.0f64; EXP_BLOCK];
            for ((arg, &square_j), &sum) in args.iter_mut().zip(squares).zip(&sums) {
                *arg = -self.gamma * (square_i + square_j - 2.0 * sum);
            }
            let values = exp_block(&args);
            let mut all_safe = true;
            for (&arg, &value) in args.iter().zip(&values) {
                all_safe &= fast_exp_is_safe(arg, value);
            }
            for (o, (&arg, &value)) in out.iter_mut().zip(args.iter().zip(&values)) {
                *o = if all_safe || fast_exp_is_safe(arg, value) {
                    value as f32
                } else {
                    exp(arg) as f32
                };
            }
            p0 += EXP_BLOCK;
        }
    }

    /// [`Self::column_range`] for positions `from..from + out.len()`, in parallel over
    /// blocks of positions when there are many.
    fn column_range_par(&self, i: usize, rows: &PositionedRows, from: usize, out: &mut [f32]) {
        if out.len() >= PAR_MIN_LEN {
            out.par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(c, out)| self.column_range(i, rows, from + c * CHUNK, out));
        } else {
            self.column_range(i, rows, from, out);
        }
    }

    /// Whole columns `(Qfloat) K(i, ·)` for every `i` in `cols`, the rows from `start` on,
    /// in parallel over row blocks; the rows before `start` are left at zero for the caller
    /// to fill (from the symmetric entries it holds). `rows` is in original order.
    fn columns_from(&self, cols: &[usize], rows: &PositionedRows, start: usize) -> Vec<Vec<f32>> {
        let l = self.len();
        let mut result: Vec<Vec<f32>> = cols.iter().map(|_| vec![0.0; l]).collect();
        let mut pieces: Vec<(usize, usize, &mut [f32])> = Vec::new();
        for (c, column) in result.iter_mut().enumerate() {
            let mut lo = start;
            for piece in column[start..].chunks_mut(CHUNK) {
                let len = piece.len();
                pieces.push((cols[c], lo, piece));
                lo += len;
            }
        }
        if (l - start) * cols.len() >= PAR_MIN_WORK {
            pieces
                .into_par_iter()
                .for_each(|(i, lo, piece)| self.column_range(i, rows, lo, piece));
        } else {
            for (i, lo, piece) in pieces {
                self.column_range(i, rows, lo, piece);
            }
        }
        result
    }

    /// `Σ_s coef_s K(sv_s, j)` in `f64` for the [`LANES`] rows at positions `first..` of
    /// `rows` (positions past the end read the zero padding; their sums are not used), the
    /// sum over the support vectors in order (libsvm `predict_values`). The exponential is
    /// the vectorised one: a few ulps per term from glibc's, far inside the scores' tolerance.
    #[inline(always)]
    fn kernel_sums(
        &self,
        rows: &PositionedRows,
        first: usize,
        sv: &[usize],
        coef: &[f64],
    ) -> [f64; LANES] {
        let squares: &[f64; LANES] = rows.square[first..first + LANES].try_into().expect("lanes");
        let mut acc = [0.0f64; LANES];
        // EXP_BLOCK / LANES support vectors per pass of the exponential; each row still
        // adds its terms in support-vector order.
        let per_pass = EXP_BLOCK / LANES;
        let mut args = [0.0f64; EXP_BLOCK];
        for (svs, coefs) in sv.chunks(per_pass).zip(coef.chunks(per_pass)) {
            for (&s, args) in svs.iter().zip(args.chunks_exact_mut(LANES)) {
                let mut sums = [0.0f64; LANES];
                // Fused multiply-adds: these sums only need to be accurate, not libsvm's bits.
                for (k, &ak) in self.row(s).iter().enumerate() {
                    let at = k * rows.stride + first;
                    let feature: &[f64; LANES] = rows.xt[at..at + LANES].try_into().expect("lanes");
                    for (sum, &v) in sums.iter_mut().zip(feature) {
                        *sum = ak.mul_add(v, *sum);
                    }
                }
                for ((arg, &square_j), &sum) in args.iter_mut().zip(squares).zip(&sums) {
                    *arg = -self.gamma * (self.square[s] + square_j - 2.0 * sum);
                }
            }
            let values = exp_block(&args);
            for (&c, values) in coefs.iter().zip(values.chunks_exact(LANES)) {
                for (a, &e) in acc.iter_mut().zip(values) {
                    *a += c * e;
                }
            }
        }
        acc
    }
}

/// The training rows in solver position order, feature by feature (`xt[k·stride + p]` is
/// feature `k` of the row at position `p`), so that a column's entries for consecutive
/// positions read contiguous memory.
struct PositionedRows {
    /// `l` positions and [`EXP_BLOCK`] of zero padding per feature.
    stride: usize,
    xt: Vec<f64>,
    /// Also padded with zeros.
    square: Vec<f64>,
}

impl PositionedRows {
    fn new(kernel: &RbfKernel, order: &[usize]) -> Self {
        let (l, d) = (order.len(), kernel.d);
        let stride = l + EXP_BLOCK;
        let mut xt = vec![0.0; stride * d];
        let mut square = vec![0.0; stride];
        for (p, &row) in order.iter().enumerate() {
            for (k, &v) in kernel.row(row).iter().enumerate() {
                xt[k * stride + p] = v;
            }
            square[p] = kernel.square[row];
        }
        PositionedRows { stride, xt, square }
    }
}

/// libsvm's kernel cache: columns of `(Qfloat) K(i, ·)` by original row `i`, each laid out
/// by solver position and valid for a prefix of positions, like libsvm's `Cache`. libsvm
/// swaps two entries in every cached column whenever shrinking swaps two positions; here a
/// shrink that moves positions starts a new layout, and a column from an older layout is
/// re-ordered in one pass the next time it is used. Loops over a column then run over
/// contiguous memory. Beyond the memory budget the least recently used column is dropped
/// (never the two most recent: the working pair); a dropped column is recomputed
/// identically.
struct ColumnCache<'a> {
    kernel: RbfKernel<'a>,
    columns: Vec<Option<Column>>,
    /// For each layout so far, the position of every original row.
    layouts: Vec<Vec<u32>>,
    /// The rows in the current layout.
    rows: PositionedRows,
    last_used: Vec<u64>,
    /// Held columns by (last use, row), oldest first.
    lru: BTreeSet<(u64, usize)>,
    clock: u64,
    held: usize,
    capacity: usize,
    /// Buffers of dropped columns, for reuse (fresh memory is slow to touch).
    spare: Vec<Vec<f32>>,
    /// The target of a re-ordering pass.
    scratch: Vec<f32>,
}

struct Column {
    data: Vec<f32>,
    /// Positions `0..valid` hold their entries.
    valid: usize,
    layout: usize,
}

impl<'a> ColumnCache<'a> {
    fn new(kernel: RbfKernel<'a>) -> Self {
        let l = kernel.len();
        let capacity = (CACHE_BYTES / (4 * l.max(1))).max(3);
        let identity: Vec<usize> = (0..l).collect();
        ColumnCache {
            rows: PositionedRows::new(&kernel, &identity),
            kernel,
            columns: (0..l).map(|_| None).collect(),
            layouts: vec![(0..l as u32).collect()],
            last_used: vec![0; l],
            lru: BTreeSet::new(),
            clock: 0,
            held: 0,
            capacity,
            spare: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn current_layout(&self) -> usize {
        self.layouts.len() - 1
    }

    /// Starts a new layout after the solver moved positions: `order[p]` is the row at `p`.
    fn relayout(&mut self, order: &[usize]) {
        let mut position = vec![0u32; order.len()];
        for (p, &row) in order.iter().enumerate() {
            position[row] = p as u32;
        }
        self.layouts.push(position);
        self.rows = PositionedRows::new(&self.kernel, order);
    }

    /// Records a use of column `i` (held or about to be).
    fn touch(&mut self, i: usize) {
        self.clock += 1;
        if self.columns[i].is_some() {
            self.lru.remove(&(self.last_used[i], i));
            self.lru.insert((self.clock, i));
        }
        self.last_used[i] = self.clock;
    }

    /// Takes a buffer for a new column, dropping the oldest column if the budget is used up.
    fn new_buffer(&mut self, i: usize) -> Vec<f32> {
        if self.held >= self.capacity {
            // The two most recently requested columns (the working pair) stay.
            let victim = self
                .lru
                .iter()
                .find(|&&(used, c)| c != i && used + 1 < self.clock)
                .copied()
                .expect("the cache holds at least three columns");
            self.lru.remove(&victim);
            let column = self.columns[victim.1].take().expect("held");
            self.held -= 1;
            self.spare.push(column.data);
        }
        self.spare
            .pop()
            .unwrap_or_else(|| vec![0.0; self.kernel.len()])
    }

    fn store(&mut self, i: usize, data: Vec<f32>, valid: usize, layout: usize) {
        self.columns[i] = Some(Column {
            data,
            valid,
            layout,
        });
        self.held += 1;
        self.lru.insert((self.last_used[i], i));
    }

    /// Stores a whole column in the first layout if there is room without dropping another.
    fn insert_complete(&mut self, i: usize, data: Vec<f32>) {
        if self.held < self.capacity && self.columns[i].is_none() {
            self.touch(i);
            let l = self.kernel.len();
            self.store(i, data, l, 0);
        }
    }

    /// Makes column `i` hold its entries for positions `0..len` of the current layout, where
    /// `order[p]` is the row at position `p`.
    fn ensure(&mut self, i: usize, order: &[usize], len: usize) {
        self.touch(i);
        if self.columns[i].is_none() {
            let data = self.new_buffer(i);
            let layout = self.current_layout();
            self.store(i, data, 0, layout);
        }
        let current = self.current_layout();
        let l = self.kernel.len();
        let column = self.columns[i].as_mut().expect("just stored");
        if column.layout != current {
            // Entries keep their value; only their positions change. The valid prefix is
            // what still maps onto valid entries.
            let old_position = &self.layouts[column.layout];
            self.scratch.resize(l, 0.0);
            let mut valid = 0;
            for (slot, &row) in self.scratch.iter_mut().zip(order) {
                let q = old_position[row] as usize;
                if q >= column.valid {
                    break;
                }
                *slot = column.data[q];
                valid += 1;
            }
            std::mem::swap(&mut column.data, &mut self.scratch);
            column.valid = valid;
            column.layout = current;
        }
        if column.valid < len {
            let from = column.valid;
            self.kernel
                .column_range_par(i, &self.rows, from, &mut column.data[from..len]);
            column.valid = len;
        }
    }

    /// Column `i` by position (valid up to what the last `ensure` asked for).
    fn get(&self, i: usize) -> &[f32] {
        &self.columns[i].as_ref().expect("ensured").data
    }

    /// Column `i` if it is held whole in the first layout (during the initial gradient).
    fn complete_column(&self, i: usize) -> Option<&[f32]> {
        match &self.columns[i] {
            Some(c) if c.layout == 0 && c.valid == self.kernel.len() => Some(&c.data),
            _ => None,
        }
    }
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

struct Solution {
    alpha: Vec<f64>,
    rho: f64,
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
    /// Ensures the column of position `pos` for positions `0..len`; returns its row.
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
        let (active, l) = (self.active_size, self.l);
        for i in free {
            let orig = self.q_col(i, l);
            let col = &self.cache.get(orig)[active..l];
            let alpha_i = self.alpha[i];
            for (g, &q) in self.g[active..l].iter_mut().zip(col) {
                *g += alpha_i * q as f64;
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
        let active = self.active_size;
        for t in 0..active {
            if self.status[t] != Status::Upper && -self.g[t] >= gmax {
                gmax = -self.g[t];
                gmax_idx = Some(t);
            }
        }
        let Some(i) = gmax_idx else {
            // Gmax = −inf: libsvm never reads Q_i, and the Gmax2 scan cannot select j.
            return None;
        };
        let orig_i = self.q_col(i, active);
        let q_i = &self.cache.get(orig_i)[..active];
        let qd_i = self.qd[i];
        let (g, status, qd) = (
            &self.g[..active],
            &self.status[..active],
            &self.qd[..active],
        );
        for j in 0..active {
            if status[j] != Status::Lower {
                let gj = g[j];
                let grad_diff = gmax + gj;
                if gj >= gmax2 {
                    gmax2 = gj;
                }
                if grad_diff > 0.0 {
                    let quad_coef = qd_i + qd[j] - 2.0 * q_i[j] as f64;
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
        let mut swapped = false;
        let mut i = 0;
        while i < self.active_size {
            if self.be_shrunk(i, gmax1, gmax2) {
                self.active_size -= 1;
                while self.active_size > i {
                    if !self.be_shrunk(self.active_size, gmax1, gmax2) {
                        self.swap_index(i, self.active_size);
                        swapped = true;
                        break;
                    }
                    self.active_size -= 1;
                }
            }
            i += 1;
        }
        if swapped {
            self.cache.relayout(&self.active_set);
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

    fn solve(mut self, shrinking: bool) -> DetectResult<Solution> {
        let l = self.l;
        let mut iter: u64 = 0;
        // libsvm's own cap (it warns "reaching max number of iterations" and keeps the result).
        let max_iter = (100 * l as u64).max(10_000_000);
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
            if iter > max_iter {
                if self.active_size < l {
                    self.reconstruct_gradient();
                    self.active_size = l;
                }
                break;
            }
            let active = self.active_size;
            let oi = self.q_col(i, active);
            let oj = self.q_col(j, active);
            let q_i = &self.cache.get(oi)[..active];
            let q_j = &self.cache.get(oj)[..active];
            let old_ai = self.alpha[i];
            let old_aj = self.alpha[j];
            // y_i = y_j: the "same sign" update, C_i = C_j = 1.
            let (c_i, c_j) = (1.0, 1.0);
            let mut quad_coef = self.qd[i] + self.qd[j] - 2.0 * q_i[j] as f64;
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
            for ((g, &qi), &qj) in self.g[..active].iter_mut().zip(q_i).zip(q_j) {
                *g += qi as f64 * dai + qj as f64 * daj;
            }
            let ui = self.status[i] == Status::Upper;
            let uj = self.status[j] == Status::Upper;
            self.status[i] = status_of(ai);
            self.status[j] = status_of(aj);
            for (pos, was_upper, c) in [(i, ui, c_i), (j, uj, c_j)] {
                if was_upper != (self.status[pos] == Status::Upper) {
                    let o = self.q_col(pos, l);
                    let col = self.cache.get(o);
                    let sign = if was_upper { -c } else { c };
                    for (g_bar, &q) in self.g_bar.iter_mut().zip(col) {
                        *g_bar += sign * q as f64;
                    }
                }
            }
            if iter.is_multiple_of(4096) {
                self.ctx.checkpoint()?;
            }
        }
        let rho = self.calculate_rho();
        let mut alpha = vec![0.0; l];
        for pos in 0..l {
            alpha[self.active_set[pos]] = self.alpha[pos];
        }
        Ok(Solution { alpha, rho })
    }
}

/// Trains the one-class SVM on the rows of `x` (row-major, `d` columns).
fn train(
    kernel: RbfKernel,
    nu: f64,
    eps: f64,
    shrinking: bool,
    ctx: &JobCtx,
) -> DetectResult<Solution> {
    let l = kernel.len();
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
    // QD[i] = K(i, i) in double.
    let qd: Vec<f64> = (0..l).map(|i| kernel.eval(i, i)).collect();
    let status: Vec<Status> = alpha.iter().map(|&a| status_of(a)).collect();
    // Initial gradient: G[j] = Σ_{i: αᵢ>0} αᵢ Q(i, j), G_bar[j] = Σ_{i at C} Q(i, j), each
    // summed over i ascending like libsvm (parallel over j). The rows with αᵢ > 0 are the
    // prefix 0..m. libsvm caches these columns; so do we, as far as the budget allows.
    let m = status.iter().take_while(|&&s| s != Status::Lower).count();
    let mut cache = ColumnCache::new(kernel);
    let mut g = vec![0.0; l];
    let mut g_bar = vec![0.0; l];
    let nonzero: Vec<usize> = (0..m).collect();
    for (b, batch) in nonzero.chunks(BATCH).enumerate() {
        ctx.checkpoint()?;
        // The entries above this batch's rows are in the columns already cached (K is
        // symmetric, to the bit), as long as the cache kept them all.
        let start = batch[0];
        let reuse = (0..start).all(|j| cache.complete_column(j).is_some());
        let mut columns =
            cache
                .kernel
                .columns_from(batch, &cache.rows, if reuse { start } else { 0 });
        if reuse {
            for j in 0..start {
                let earlier = cache.complete_column(j).expect("checked");
                for (col, &v) in columns.iter_mut().zip(&earlier[start..start + batch.len()]) {
                    col[j] = v;
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
                        let q = col[k] as f64;
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
        ctx.report(0.2 * ((b + 1) * BATCH).min(m) as f64 / m.max(1) as f64);
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
/// vectors in order (libsvm `predict_values`), in `f64`. The kernel is libsvm's training form
/// (‖xᵢ‖² + ‖xⱼ‖² − 2 xᵢ·xⱼ); sklearn's prediction computes ‖xᵢ − xⱼ‖² directly, which agrees
/// to ~1e-16 relative per term.
fn training_scores(
    kernel: &RbfKernel,
    alpha: &[f64],
    sv: &[usize],
    rho: f64,
    ctx: &JobCtx,
) -> DetectResult<Array1<f64>> {
    let l = kernel.len();
    let coef: Vec<f64> = sv.iter().map(|&i| alpha[i]).collect();
    let identity: Vec<usize> = (0..l).collect();
    let rows = PositionedRows::new(kernel, &identity);
    let mut scores = vec![0.0; l];
    ctx.checkpoint()?;
    let rows_per_task = if sv.len() * l >= PAR_MIN_WORK {
        LANES * 8
    } else {
        l.max(1)
    };
    scores
        .par_chunks_mut(rows_per_task)
        .enumerate()
        .for_each(|(task, out)| {
            with_avx2_fma(
                #[inline(always)]
                || {
                    for (c, out) in out.chunks_mut(LANES).enumerate() {
                        let first = task * rows_per_task + c * LANES;
                        let sums = kernel.kernel_sums(&rows, first, sv, &coef);
                        for (o, s) in out.iter_mut().zip(sums) {
                            *o = -(s - rho);
                        }
                    }
                },
            )
        });
    Ok(Array1::from(scores))
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
        let solution = train(
            RbfKernel::new(data, d, gamma),
            self.nu,
            self.tol,
            self.shrinking,
            ctx,
        )?;
        ctx.report(0.7);
        let sv: Vec<usize> = (0..x.nrows())
            .filter(|&i| solution.alpha[i].abs() > 0.0)
            .collect();
        let training_scores = training_scores(
            &RbfKernel::new(data, d, gamma),
            &solution.alpha,
            &sv,
            solution.rho,
            ctx,
        )?;
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

    /// Every cached entry is glibc's `exp` rounded to `f32`, bit for bit, whatever the scale
    /// of the data: near 1, ordinary, `f32`-subnormal (arguments around −90 to −104), and
    /// underflowing to zero. Columns are checked whole and from an offset that leaves a
    /// remainder shorter than a block.
    #[test]
    fn cached_entries_are_glibcs_values_in_f32() {
        let mut checked = 0;
        for (d, scale) in [(3, 0.5), (6, 4.0), (9, 14.0), (37, 9.0), (2, 60.0)] {
            let x = data(203, d, scale);
            let flat = x.as_slice().unwrap();
            let kernel = RbfKernel::new(flat, d, 1.0 / d as f64);
            let identity: Vec<usize> = (0..203).collect();
            let rows = PositionedRows::new(&kernel, &identity);
            for i in 0..203 {
                let mut column = vec![0.0f32; 203];
                kernel.column_range(i, &rows, 0, &mut column);
                let mut tail = vec![0.0f32; 203 - 37];
                kernel.column_range(i, &rows, 37, &mut tail);
                for j in 0..203 {
                    let expected = kernel.eval(i, j) as f32;
                    assert_eq!(column[j].to_bits(), expected.to_bits(), "d={d} ({i}, {j})");
                    if j >= 37 {
                        assert_eq!(tail[j - 37].to_bits(), expected.to_bits());
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 5 * 203 * 203);
    }

    /// The fast exponential is refused exactly where it could round to a different `f32`
    /// than glibc's: at and next to a midpoint between two `f32`s, and outside its domain.
    #[test]
    fn fast_exp_is_refused_near_an_f32_midpoint() {
        let below = 0.75f32;
        let midpoint = below as f64 + f32::EPSILON as f64 * 0.5 * 0.5;
        assert_eq!(
            midpoint as f32, below,
            "ties go to even: 0.75 has an even mantissa"
        );
        for ulps in [-3i64, 0, 1, 5] {
            let nearby = f64::from_bits((midpoint.to_bits() as i64 + ulps) as u64);
            assert!(
                !fast_exp_is_safe(-0.3, nearby),
                "{ulps} ulps from the midpoint"
            );
        }
        assert!(fast_exp_is_safe(-0.3, below as f64));
        assert!(fast_exp_is_safe(-0.3, 0.7500001));
        assert!(!fast_exp_is_safe(0.1, 1.1));
        // Zero and tiny values round to zero either way.
        assert!(fast_exp_is_safe(-800.0, 0.0));
        assert!(fast_exp_is_safe(-720.0, 1e-310));
    }

    /// After shrinking reorders the positions, a cached column is re-laid out (or extended)
    /// and still holds `K(i, row at p)` at every position `p`, whether it was whole, partly
    /// computed, or computed in a layout two steps back.
    #[test]
    fn cached_columns_follow_the_positions_through_relayouts() {
        let (n, d) = (150, 4);
        let x = data(n, d, 3.0);
        let flat = x.as_slice().unwrap();
        let kernel = RbfKernel::new(flat, d, 0.25);
        let mut cache = ColumnCache::new(RbfKernel::new(flat, d, 0.25));
        let mut order: Vec<usize> = (0..n).collect();
        cache.ensure(3, &order, n);
        cache.ensure(7, &order, 40);
        cache.ensure(11, &order, 90);
        let check = |cache: &ColumnCache, order: &[usize], i: usize, len: usize| {
            for (p, &row) in order.iter().enumerate().take(len) {
                let expected = kernel.eval(i, row) as f32;
                assert_eq!(
                    cache.get(i)[p].to_bits(),
                    expected.to_bits(),
                    "col {i} pos {p}"
                );
            }
        };
        for step in 0..3 {
            // A shrink: some positions swapped with later ones.
            for a in (step..n / 2).step_by(7) {
                order.swap(a, n - 1 - a - step);
            }
            cache.relayout(&order);
            if step == 1 {
                continue; // column 11 below skips a layout
            }
            cache.ensure(3, &order, n);
            check(&cache, &order, 3, n);
            cache.ensure(7, &order, 60);
            check(&cache, &order, 7, 60);
            cache.ensure(11, &order, n);
            check(&cache, &order, 11, n);
        }
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

//! The RBF kernel as libsvm computes it for training (`kernel_rbf`), its entries rounded to
//! `f32` as libsvm's `Qfloat` cache stores them, computed many side by side with the vectorised
//! `exp` and checked against glibc's; and the training rows laid out by solver position.

use rayon::prelude::*;

use crate::numeric::simd::with_avx2_fma;
use crate::numeric::vexp::exp_nonpositive_fma;

/// Kernel entries below this many stay on one thread (a column of a few thousand entries
/// costs less than waking the pool).
const PAR_MIN_LEN: usize = 16384;
/// The same for work made of several columns (the initial gradient, the training scores).
pub(super) const PAR_MIN_WORK: usize = 1 << 18;
/// Rows per parallel task.
pub(super) const CHUNK: usize = 1024;
/// Rows scored side by side (see [`RbfKernel::kernel_sums`]).
pub(super) const LANES: usize = 8;

/// `exp`, short-cutting arguments whose result underflows to +0 anyway (glibc's slow path).
#[inline]
pub(super) fn exp(arg: f64) -> f64 {
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
pub(super) fn fast_exp_is_safe(arg: f64, value: f64) -> bool {
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
pub(super) struct RbfKernel<'a> {
    x: &'a [f64],
    d: usize,
    square: Vec<f64>,
    gamma: f64,
}

impl<'a> RbfKernel<'a> {
    pub(super) fn new(x: &'a [f64], d: usize, gamma: f64) -> Self {
        let square = x.chunks(d).map(|r| dot(r, r)).collect();
        RbfKernel {
            x,
            d,
            square,
            gamma,
        }
    }

    pub(super) fn len(&self) -> usize {
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
    pub(super) fn eval(&self, i: usize, j: usize) -> f64 {
        exp(self.arg(i, j, dot(self.row(i), self.row(j))))
    }

    /// libsvm's cached value `(Qfloat) K(i, j)` for the rows `j` at positions
    /// `from..from + out.len()` of `rows`, into `out`. Each dot product is still one
    /// sequential sum in feature order (the same bits as [`Self::eval`]); [`EXP_BLOCK`] sums
    /// side by side fill the vector units, reading the features of consecutive positions from
    /// contiguous memory. The exponential is the vectorised [`exp_nonpositive_fma`], checked by
    /// [`fast_exp_is_safe`] so that every entry is exactly glibc's value rounded to `f32`.
    pub(super) fn column_range(
        &self,
        i: usize,
        rows: &PositionedRows,
        from: usize,
        out: &mut [f32],
    ) {
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
    pub(super) fn column_range_par(
        &self,
        i: usize,
        rows: &PositionedRows,
        from: usize,
        out: &mut [f32],
    ) {
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
    pub(super) fn columns_from(
        &self,
        cols: &[usize],
        rows: &PositionedRows,
        start: usize,
    ) -> Vec<Vec<f32>> {
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
    pub(super) fn kernel_sums(
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
pub(super) struct PositionedRows {
    /// `l` positions and [`EXP_BLOCK`] of zero padding per feature.
    stride: usize,
    xt: Vec<f64>,
    /// Also padded with zeros.
    square: Vec<f64>,
}

impl PositionedRows {
    pub(super) fn new(kernel: &RbfKernel, order: &[usize]) -> Self {
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

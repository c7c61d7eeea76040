//! libsvm's SMO `Solver` specialised to the one-class dual, and the training run (initial α,
//! initial gradient) that feeds it.

use rayon::prelude::*;

use super::cache::ColumnCache;
use super::kernel::{RbfKernel, CHUNK};
use crate::detectors::{DetectResult, JobCtx};

/// libsvm's `TAU`: the replacement for a non-positive quadratic coefficient.
const TAU: f64 = 1e-12;
/// Columns computed together for the initial gradient.
const BATCH: usize = 32;

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

pub(super) struct Solution {
    pub(super) alpha: Vec<f64>,
    pub(super) rho: f64,
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
pub(super) fn train(
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

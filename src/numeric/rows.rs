//! Row-major matrices for the O(n²) and parallel loops: a matrix as one row-major slice, its
//! rows as plain slices (cheaper than ndarray row views), and a row-parallel driver that checks
//! the job's cancellation and reports its progress. Results come back in row order, so they never
//! depend on the thread count.

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::jobctx::{DetectResult, JobCtx};

/// `f(scratch, i)` for every row `i` in `0..n`, in parallel, returned in row order. `init` makes
/// one scratch value per rayon task (buffers reused across rows). Cancellation is checked before
/// every row; progress is reported every 64 rows.
pub(crate) fn par_map_rows<S, T, I, F>(
    n: usize,
    ctx: &JobCtx,
    init: I,
    f: F,
) -> DetectResult<Vec<T>>
where
    T: Send,
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize) -> T + Sync + Send,
{
    let done = AtomicUsize::new(0);
    (0..n)
        .into_par_iter()
        .with_min_len(16)
        .map_init(init, |scratch, i| {
            ctx.checkpoint()?;
            let value = f(scratch, i);
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            if finished.is_multiple_of(64) || finished == n {
                ctx.report(finished as f64 / n as f64);
            }
            Ok(value)
        })
        .collect()
}

/// The rows of a standard-layout matrix as plain slices (cheaper than ndarray row views inside
/// the O(n²) loops).
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a> {
    flat: &'a [f64],
    d: usize,
}

impl<'a> Rows<'a> {
    /// `x` must be in standard layout (callers use `as_standard_layout`).
    pub(crate) fn new(x: ArrayView2<'a, f64>) -> Self {
        let d = x.ncols();
        Rows {
            flat: x.to_slice().expect("standard layout"),
            d,
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> &'a [f64] {
        &self.flat[i * self.d..(i + 1) * self.d]
    }

    pub(crate) fn len(&self) -> usize {
        self.flat.len().checked_div(self.d).unwrap_or(0)
    }
}

/// The matrix as one row-major slice.
pub(crate) fn row_major(x: ArrayView2<f64>) -> Vec<f64> {
    x.as_standard_layout().iter().copied().collect()
}

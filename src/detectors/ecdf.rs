//! The empirical-CDF tail probabilities shared by ECOD and COPOD, exactly as PyOD computes them
//! (`pyod/utils/stat_models.py`: `column_ecdf`, `ecdf_terminate_equals_inplace`).

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::numeric::linspace;

/// Per-column ECDF of every value: probabilities `linspace(1/n, 1, n)` along the sorted column,
/// tied values all taking the probability of the last member of their group.
#[cfg(test)]
pub fn column_ecdf(x: ArrayView2<f64>, negate: bool) -> Array2<f64> {
    let (left, right) = column_ecdfs(x);
    if negate {
        right
    } else {
        left
    }
}

/// The ECDF of every value of `x` and of `−x`, per column, from one sort: sorting `−x` is
/// sorting `x` backwards (`total_cmp` is a total order that negation reverses), and values tied
/// in one are tied in the other. Bit-identical to two separate sorts.
#[cfg(test)]
pub fn column_ecdfs(x: ArrayView2<f64>) -> (Array2<f64>, Array2<f64>) {
    let n = x.nrows();
    column_ecdfs_mapped(x, &linspace(1.0 / n as f64, 1.0, n))
}

/// [`column_ecdfs`] with each probability replaced by `table[rank]` of the rank whose
/// probability it takes: with `table[k] = −ln p_k` the tail scores cost n logarithms per
/// dataset instead of 2·n·d, bit-identical (same p, same `ln`).
fn column_ecdfs_mapped(x: ArrayView2<f64>, table: &[f64]) -> (Array2<f64>, Array2<f64>) {
    let n = x.nrows();
    let ranks: Vec<usize> = (0..n).collect();
    let mut left = Array2::<f64>::zeros(x.raw_dim());
    let mut right = Array2::<f64>::zeros(x.raw_dim());
    left.axis_iter_mut(Axis(1))
        .into_par_iter()
        .zip(right.axis_iter_mut(Axis(1)).into_par_iter())
        .zip(x.axis_iter(Axis(1)).into_par_iter())
        .for_each(|((mut dst_left, mut dst_right), col)| {
            let values: Vec<f64> = col.to_vec();
            // Sorting (key, row) pairs by an integer key in total_cmp's order keeps the data
            // next to the comparison (an index sort chases pointers).
            let mut keyed: Vec<(u64, u32)> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| (total_order_key(v), i as u32))
                .collect();
            keyed.sort_unstable();
            let order: Vec<usize> = keyed.iter().map(|&(_, i)| i as usize).collect();
            // Ascending x: a tie group takes the probability of its last (highest) rank.
            let mut p = ranks.clone();
            for r in (0..n.saturating_sub(1)).rev() {
                if values[order[r]] == values[order[r + 1]] {
                    p[r] = p[r + 1];
                }
            }
            for (rank, &row) in order.iter().enumerate() {
                dst_left[row] = table[p[rank]];
            }
            // Ascending −x is descending x: walk the same order from the end.
            let mut q = ranks.clone();
            for r in (0..n.saturating_sub(1)).rev() {
                if values[order[n - 1 - r]] == values[order[n - 2 - r]] {
                    q[r] = q[r + 1];
                }
            }
            for (rank, &row) in order.iter().rev().enumerate() {
                dst_right[row] = table[q[rank]];
            }
        });
    (left, right)
}

/// An integer with the same order as `f64::total_cmp`: flip all bits of negatives, the sign
/// bit of the rest.
fn total_order_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Sign of each column's skewness (scipy.stats.skew, bias=True): −1, 0 or 1.
pub fn skew_signs(x: ArrayView2<f64>) -> Vec<f64> {
    x.axis_iter(Axis(1))
        .map(|col| {
            let n = col.len() as f64;
            let mean = col.sum() / n;
            let m2 = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            let m3 = col.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n;
            let skew = m3 / m2.powf(1.5);
            if skew.is_nan() || skew == 0.0 {
                0.0
            } else {
                skew.signum()
            }
        })
        .collect()
}

trait SignumOrZero {
    fn signum_or_zero(self) -> f64;
}

impl SignumOrZero for f64 {
    /// numpy's `sign`: 0 for 0 (Rust's `signum` gives ±1).
    fn signum_or_zero(self) -> f64 {
        if self == 0.0 {
            0.0
        } else {
            self.signum()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// The two-sorts definition, kept as the oracle for the one-sort version.
    fn ecdf_by_sorting(x: ArrayView2<f64>, negate: bool) -> Array2<f64> {
        let n = x.nrows();
        let probabilities = linspace(1.0 / n as f64, 1.0, n);
        let mut out = Array2::<f64>::zeros(x.raw_dim());
        for (j, col) in x.axis_iter(Axis(1)).enumerate() {
            let values: Vec<f64> = col.iter().map(|&v| if negate { -v } else { v }).collect();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
            let mut p = probabilities.clone();
            for r in (0..n.saturating_sub(1)).rev() {
                if values[order[r]] == values[order[r + 1]] {
                    p[r] = p[r + 1];
                }
            }
            for (rank, &row) in order.iter().enumerate() {
                out[[row, j]] = p[rank];
            }
        }
        out
    }

    #[test]
    fn one_sort_gives_both_tails_exactly() {
        // Heavy ties, signed zeros and a single distinct value.
        let mut state = 5u64;
        let x = Array2::from_shape_fn((257, 4), |(_, j)| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            match j {
                0 => ((state >> 40) % 7) as f64 - 3.0,
                1 => (state >> 11) as f64 / (1u64 << 53) as f64,
                2 => {
                    if (state >> 33) % 2 == 0 {
                        0.0
                    } else {
                        -0.0
                    }
                }
                _ => 1.5,
            }
        });
        let (left, right) = column_ecdfs(x.view());
        assert_eq!(left, ecdf_by_sorting(x.view(), false));
        assert_eq!(right, ecdf_by_sorting(x.view(), true));
    }

    #[test]
    fn ties_take_the_last_probability() {
        let x = array![[3.0], [1.0], [3.0], [2.0]];
        let p = column_ecdf(x.view(), false);
        let lin = linspace(0.25, 1.0, 4);
        assert_eq!(p.column(0).to_vec(), vec![lin[3], lin[0], lin[3], lin[1]]);
    }
}

/// Row sums (numpy's pairwise summation) of a per-cell outlyingness computed from the tail
/// scores `U_l = −ln ECDF(x)`, `U_r = −ln ECDF(−x)` and the skew-chosen `U_skew` (PyOD:
/// `U_l * -1 * sign(s - 1) + U_r * sign(s + 1)`, s = the column's skewness sign): the whole of
/// ECOD and COPOD but for that one function. Computed in place in the left-tail matrix.
pub fn tail_scores(
    x: ArrayView2<f64>,
    outlyingness: impl Fn(f64, f64, f64) -> f64 + Sync,
) -> ndarray::Array1<f64> {
    let n = x.nrows();
    let neg_ln: Vec<f64> = linspace(1.0 / n as f64, 1.0, n)
        .iter()
        .map(|p| -p.ln())
        .collect();
    let (mut cells, right) = column_ecdfs_mapped(x, &neg_ln);
    let signs = skew_signs(x);
    cells
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(right.axis_iter(Axis(0)).into_par_iter())
        .for_each(|(mut row, right_row)| {
            for ((cell, &right), &s) in row.iter_mut().zip(right_row).zip(&signs) {
                let left = *cell;
                let skewed =
                    left * -1.0 * (s - 1.0).signum_or_zero() + right * (s + 1.0).signum_or_zero();
                *cell = outlyingness(left, right, skewed);
            }
        });
    cells
        .rows()
        .into_iter()
        .map(|r| super::numeric::numpy_sum(r.as_slice().expect("standard layout")))
        .collect()
}

/// Scores new rows the way PyOD's ECOD/COPOD `decision_function` does: ranked together with the
/// training rows, keeping the new rows' scores.
pub fn score_with_training(
    train: ArrayView2<f64>,
    x: ArrayView2<f64>,
    scores: impl Fn(ArrayView2<f64>) -> ndarray::Array1<f64>,
) -> ndarray::Array1<f64> {
    let all = ndarray::concatenate(Axis(0), &[train.view(), x.view()])
        .expect("same width, checked by Model::score");
    scores(all.view())
        .slice(ndarray::s![train.nrows()..])
        .to_owned()
}

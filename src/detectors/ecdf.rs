//! The empirical-CDF tail probabilities shared by ECOD and COPOD, exactly as PyOD computes them
//! (`pyod/utils/stat_models.py`: `column_ecdf`, `ecdf_terminate_equals_inplace`).

#[cfg(test)]
use ndarray::Array2;
use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

use crate::numeric::sums::linspace;

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
/// probability it takes.
#[cfg(test)]
fn column_ecdfs_mapped(x: ArrayView2<f64>, table: &[f64]) -> (Array2<f64>, Array2<f64>) {
    let mut left = Array2::<f64>::zeros(x.raw_dim());
    let mut right = Array2::<f64>::zeros(x.raw_dim());
    let mut scratch = ColumnScratch::default();
    for (j, col) in x.axis_iter(Axis(1)).enumerate() {
        column_tail_ranks(col, &mut scratch, |row, left_rank, right_rank| {
            left[[row, j]] = table[left_rank];
            right[[row, j]] = table[right_rank];
        });
    }
    (left, right)
}

/// Buffers reused from column to column.
#[derive(Default)]
struct ColumnScratch {
    keyed: Vec<(u64, u32)>,
    spare: Vec<(u64, u32)>,
    left_rank: Vec<u32>,
}

/// For every row of one column, the rank whose ECDF probability its value takes in `x`
/// (`left_rank`) and in `−x` (`right_rank`): probabilities `linspace(1/n, 1, n)` along the
/// sorted column, tied values all taking the one of the last member of their group. From one
/// sort: sorting `−x` is sorting `x` backwards (`total_cmp` is a total order that negation
/// reverses), and values tied in one are tied in the other.
fn column_tail_ranks(
    col: ndarray::ArrayView1<f64>,
    scratch: &mut ColumnScratch,
    mut emit: impl FnMut(usize, usize, usize),
) {
    let n = col.len();
    if n == 0 {
        return;
    }
    // Sorting (key, row) pairs by an integer key in total_cmp's order keeps the data next to
    // the comparison (an index sort chases pointers); the radix sort is stable, so rows of
    // equal keys stay in row order, as `sort_unstable` of the pairs would put them.
    let keyed = &mut scratch.keyed;
    keyed.clear();
    keyed.extend(
        col.iter()
            .enumerate()
            .map(|(i, &v)| (total_order_key(v), i as u32)),
    );
    radix_sort_by_key(keyed, &mut scratch.spare);
    // Equal keys are equal values, except that +0 and −0 (different keys) compare equal too.
    let tied = |a: (u64, u32), b: (u64, u32)| {
        a.0 == b.0 || f64::from_bits(key_to_bits(a.0)) == f64::from_bits(key_to_bits(b.0))
    };
    // Ascending x: a tie group takes the probability of its last (highest) rank.
    let left_rank = &mut scratch.left_rank;
    left_rank.clear();
    left_rank.resize(n, 0);
    let mut group_last = n - 1;
    for r in (0..n).rev() {
        if r + 1 < n && !tied(keyed[r], keyed[r + 1]) {
            group_last = r;
        }
        left_rank[r] = group_last as u32;
    }
    // Ascending −x is descending x: rank n−1−r, a tie group taking its highest rank there,
    // which is n−1 minus the group's first position in ascending order.
    let mut group_first = 0;
    for r in 0..n {
        if r > 0 && !tied(keyed[r - 1], keyed[r]) {
            group_first = r;
        }
        emit(
            keyed[r].1 as usize,
            left_rank[r] as usize,
            n - 1 - group_first,
        );
    }
}

/// Stable least-significant-digit radix sort of `(key, row)` pairs by key, one byte per pass;
/// passes in which every key has the same byte are skipped (common: exponent bytes, and the
/// low bytes of integral values).
fn radix_sort_by_key(items: &mut Vec<(u64, u32)>, spare: &mut Vec<(u64, u32)>) {
    let n = items.len();
    if n <= 64 {
        // Keys tie-broken by row: the same order as a stable sort of rows in row order.
        items.sort_unstable();
        return;
    }
    let mut counts = [[0u32; 256]; 8];
    for &(key, _) in items.iter() {
        for (byte, count) in counts.iter_mut().enumerate() {
            count[((key >> (8 * byte)) & 0xff) as usize] += 1;
        }
    }
    spare.clear();
    spare.resize(n, (0, 0));
    for (byte, count) in counts.iter().enumerate() {
        if count.iter().any(|&c| c as usize == n) {
            continue;
        }
        let mut offsets = [0u32; 256];
        let mut total = 0;
        for (offset, &c) in offsets.iter_mut().zip(count) {
            *offset = total;
            total += c;
        }
        for &item in items.iter() {
            let digit = ((item.0 >> (8 * byte)) & 0xff) as usize;
            spare[offsets[digit] as usize] = item;
            offsets[digit] += 1;
        }
        std::mem::swap(items, spare);
    }
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

/// The inverse of [`total_order_key`].
fn key_to_bits(key: u64) -> u64 {
    if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    }
}

/// Sign of a column's skewness (scipy.stats.skew, bias=True): −1, 0 or 1.
fn skew_sign(col: ndarray::ArrayView1<f64>) -> f64 {
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

/// Row sums (numpy's pairwise summation) of a per-cell outlyingness computed from the tail
/// scores `U_l = −ln ECDF(x)`, `U_r = −ln ECDF(−x)` and the skew-chosen `U_skew` (PyOD:
/// `U_l * -1 * sign(s - 1) + U_r * sign(s + 1)`, s = the column's skewness sign): the whole of
/// ECOD and COPOD but for that one function.
pub fn tail_scores(
    x: ArrayView2<f64>,
    outlyingness: impl Fn(f64, f64, f64) -> f64 + Sync,
) -> ndarray::Array1<f64> {
    let (n, d) = x.dim();
    let cells = tail_cells(x, outlyingness);
    (0..n)
        .into_par_iter()
        .with_min_len(1024)
        .map_init(
            || vec![0.0f64; d],
            |row, i| {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = cells[j * n + i];
                }
                crate::numeric::sums::numpy_sum(row)
            },
        )
        .collect::<Vec<f64>>()
        .into()
}

/// The per-cell outlyingness [`tail_scores`] adds up, column by column (column j at j·n): the
/// per-feature terms that explain a row's score.
pub fn tail_cells(
    x: ArrayView2<f64>,
    outlyingness: impl Fn(f64, f64, f64) -> f64 + Sync,
) -> Vec<f64> {
    let (n, d) = x.dim();
    // −ln p_k per rank: n logarithms per dataset instead of 2·n·d, bit-identical (same p,
    // same `ln`).
    let neg_ln: Vec<f64> = linspace(1.0 / n as f64, 1.0, n)
        .iter()
        .map(|p| -p.ln())
        .collect();
    // Cells column by column (column j at j·n), each column written in one place.
    let mut cells = vec![0.0f64; n * d];
    cells.par_chunks_mut(n.max(1)).enumerate().for_each_init(
        ColumnScratch::default,
        |scratch, (j, out)| {
            let col = x.column(j);
            let s = skew_sign(col);
            let (left_sign, right_sign) = (-(s - 1.0).signum_or_zero(), (s + 1.0).signum_or_zero());
            column_tail_ranks(col, scratch, |row, left_rank, right_rank| {
                let (left, right) = (neg_ln[left_rank], neg_ln[right_rank]);
                let skewed = left * left_sign + right * right_sign;
                out[row] = outlyingness(left, right, skewed);
            });
        },
    );
    cells
}

/// Scores each row of `x` as if it alone were added to the training rows (`decision_function`
/// ranks all new rows together, so that many similar new rows make each other look normal):
/// tails `(#{train ≤ v} + 1) / (n + 1)` and `(#{train ≥ v} + 1) / (n + 1)`, the skew of the
/// training column. What an explanation that scores many synthetic rows needs.
pub fn score_each_alone(
    train: ArrayView2<f64>,
    x: ArrayView2<f64>,
    outlyingness: impl Fn(f64, f64, f64) -> f64,
) -> ndarray::Array1<f64> {
    let n = train.nrows();
    let total = (n + 1) as f64;
    let mut scores = ndarray::Array1::<f64>::zeros(x.nrows());
    for (j, col) in train.columns().into_iter().enumerate() {
        let mut sorted = col.to_vec();
        sorted.sort_by(f64::total_cmp);
        let s = skew_sign(col);
        let (left_sign, right_sign) = (-(s - 1.0).signum_or_zero(), (s + 1.0).signum_or_zero());
        for (score, &v) in scores.iter_mut().zip(x.column(j)) {
            let at_most = sorted.partition_point(|&t| t <= v);
            let at_least = n - sorted.partition_point(|&t| t < v);
            let left = -((at_most + 1) as f64 / total).ln();
            let right = -((at_least + 1) as f64 / total).ln();
            *score += outlyingness(left, right, left * left_sign + right * right_sign);
        }
    }
    scores
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
                    if (state >> 33).is_multiple_of(2) {
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
    fn radix_sort_orders_like_sorting_the_pairs() {
        let mut state = 3u64;
        let mut spare = Vec::new();
        for n in [0usize, 1, 64, 65, 300, 5000] {
            for distinct in [1u64, 5, u64::MAX] {
                let mut items: Vec<(u64, u32)> = (0..n as u32)
                    .map(|i| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (total_order_key((state % distinct) as f64 - 2.0), i)
                    })
                    .collect();
                let mut expected = items.clone();
                expected.sort_unstable();
                radix_sort_by_key(&mut items, &mut spare);
                assert_eq!(items, expected, "n = {n}, distinct = {distinct}");
            }
        }
        for v in [-1.5, -0.0, 0.0, 2.0, f64::MIN_POSITIVE] {
            assert_eq!(key_to_bits(total_order_key(v)), v.to_bits());
        }
    }

    #[test]
    fn ties_take_the_last_probability() {
        let x = array![[3.0], [1.0], [3.0], [2.0]];
        let p = column_ecdf(x.view(), false);
        let lin = linspace(0.25, 1.0, 4);
        assert_eq!(p.column(0).to_vec(), vec![lin[3], lin[0], lin[3], lin[1]]);
    }
}

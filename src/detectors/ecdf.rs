//! The empirical-CDF tail probabilities shared by ECOD and COPOD, exactly as PyOD computes them
//! (`pyod/utils/stat_models.py`: `column_ecdf`, `ecdf_terminate_equals_inplace`).

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::numeric::linspace;

/// Per-column ECDF of every value: probabilities `linspace(1/n, 1, n)` along the sorted column,
/// tied values all taking the probability of the last member of their group.
pub fn column_ecdf(x: ArrayView2<f64>, negate: bool) -> Array2<f64> {
    let n = x.nrows();
    let probabilities = linspace(1.0 / n as f64, 1.0, n);
    let mut out = Array2::<f64>::zeros(x.raw_dim());
    out.axis_iter_mut(Axis(1))
        .into_par_iter()
        .zip(x.axis_iter(Axis(1)).into_par_iter())
        .for_each(|(mut dst, col)| {
            let values: Vec<f64> = col.iter().map(|&v| if negate { -v } else { v }).collect();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]));
            let mut p = probabilities.clone();
            for r in (0..n.saturating_sub(1)).rev() {
                if values[order[r]] == values[order[r + 1]] {
                    p[r] = p[r + 1];
                }
            }
            for (rank, &row) in order.iter().enumerate() {
                dst[row] = p[rank];
            }
        });
    out
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

/// The tail scores `U_l = −ln ECDF(x)`, `U_r = −ln ECDF(−x)` and the skew-chosen `U_skew`.
pub struct Tails {
    pub left: Array2<f64>,
    pub right: Array2<f64>,
    pub skewed: Array2<f64>,
}

pub fn tails(x: ArrayView2<f64>) -> Tails {
    let left = column_ecdf(x, false).mapv(|p| -p.ln());
    let right = column_ecdf(x, true).mapv(|p| -p.ln());
    let signs = skew_signs(x);
    let mut skewed = Array2::<f64>::zeros(x.raw_dim());
    for ((i, j), v) in skewed.indexed_iter_mut() {
        // PyOD: U_l * -1 * sign(s - 1) + U_r * sign(s + 1)
        let s = signs[j];
        *v = left[[i, j]] * -1.0 * (s - 1.0).signum_or_zero()
            + right[[i, j]] * (s + 1.0).signum_or_zero();
    }
    Tails {
        left,
        right,
        skewed,
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn ties_take_the_last_probability() {
        let x = array![[3.0], [1.0], [3.0], [2.0]];
        let p = column_ecdf(x.view(), false);
        let lin = linspace(0.25, 1.0, 4);
        assert_eq!(p.column(0).to_vec(), vec![lin[3], lin[0], lin[3], lin[1]]);
    }
}

/// Row sums (numpy's pairwise summation) of a per-cell outlyingness computed from
/// (U_l, U_r, U_skew): the whole of ECOD and COPOD but for that one function.
pub fn tail_scores(
    x: ArrayView2<f64>,
    outlyingness: impl Fn(f64, f64, f64) -> f64,
) -> ndarray::Array1<f64> {
    let t = tails(x);
    let mut o = Array2::<f64>::zeros(x.raw_dim());
    ndarray::Zip::from(&mut o)
        .and(&t.left)
        .and(&t.right)
        .and(&t.skewed)
        .for_each(|o, &l, &r, &sk| {
            *o = outlyingness(l, r, sk);
        });
    o.rows()
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

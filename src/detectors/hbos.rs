//! HBOS (Goldstein & Dengel 2012): per-feature equal-width histograms, score = −Σ log2 of the
//! density of each value's bin (plus a regulariser). Follows PyOD's histogram and digitize rules
//! exactly, including its edge case: a value on an interior edge is counted in the upper bin but
//! scored with the lower bin's density.

use ndarray::{Array1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::validate::{length, not_empty, value, values, Check, Rule};
use super::{validate_matrix, DetectError, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::numeric::sums::{linspace, numpy_sum};

pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n_bins",
        kind: ParamKind::Int {
            min: 2,
            max: 1000,
            log: true,
        },
        default: DefaultValue::Int(10),
        help: "bins per feature histogram",
        search: Search::Range {
            min: 5.0,
            max: 50.0,
        },
    },
    ParamSpec {
        name: "alpha",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1.0,
            min_open: true,
            max_open: false,
            log: true,
        },
        default: DefaultValue::Float(0.1),
        help: "regulariser added to each bin density before the log",
        search: Search::Range {
            min: 0.01,
            max: 0.5,
        },
    },
    ParamSpec {
        name: "tol",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1.0,
            min_open: false,
            max_open: false,
            log: false,
        },
        default: DefaultValue::Float(0.5),
        help: "how far outside the range (in bin widths) a new value still takes the edge bin",
        search: Search::Fixed,
    },
];

pub struct Hbos {
    n_bins: usize,
    alpha: f64,
    tol: f64,
}

impl Hbos {
    pub fn from_params(p: &Params) -> Self {
        Hbos {
            n_bins: p.int("n_bins") as usize,
            alpha: p.float("alpha"),
            tol: p.float("tol"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HbosModel {
    /// Per feature: `n_bins + 1` bin edges.
    pub edges: Vec<Vec<f64>>,
    /// Per feature: bin densities.
    pub densities: Vec<Vec<f64>>,
    pub alpha: f64,
    pub tol: f64,
}

/// `np.histogram(values, bins, density=True)`: edges and densities.
///
/// Fails, as numpy does ("Too many bins for data range"), when the range cannot be cut into
/// `bins` increasing edges: a range of a few subnormals, a constant column too large for its
/// ±0.5, or a range wider than `f64::MAX`. Also when a bin is so narrow that its density
/// overflows: the scores would be infinite.
fn histogram(values: &[f64], bins: usize) -> Result<(Vec<f64>, Vec<f64>), String> {
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    let edges = linspace(lo, hi, bins + 1);
    let unusable = || {
        format!("its values from {lo:e} to {hi:e} cannot be cut into {bins} histogram bins of finite density; rescale the feature or use fewer bins")
    };
    let norm = bins as f64 / (hi - lo);
    // An infinite `norm` means bins narrower than 1 / f64::MAX: every filled one would have an
    // infinite density. The comparison is also false for NaN edges (an infinite step times 0).
    if !norm.is_finite() || !edges.windows(2).all(|w| w[0] < w[1]) {
        return Err(unusable());
    }
    let mut counts = vec![0usize; bins];
    for &v in values {
        // The guess lies in 0..=bins; `min` (after a saturating cast) is a guard, not a rule.
        let mut k = (((v - lo) * norm) as usize).min(bins - 1);
        // numpy's correction of floating-point bin guesses against the actual edges
        // (`v >= edges[0]`, so `k` never goes below 0).
        if v < edges[k] {
            k -= 1;
        } else if k != bins - 1 && v >= edges[k + 1] {
            k += 1;
        }
        counts[k] += 1;
    }
    let n = values.len() as f64;
    let densities: Vec<f64> = (0..bins)
        .map(|k| counts[k] as f64 / (edges[k + 1] - edges[k]) / n)
        .collect();
    if !densities.iter().all(|d| d.is_finite()) {
        return Err(unusable());
    }
    Ok((edges, densities))
}

impl Detector for Hbos {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        ctx.checkpoint()?;
        let histograms: Vec<(Vec<f64>, Vec<f64>)> = x
            .axis_iter(Axis(1))
            .into_par_iter()
            .enumerate()
            .map(|(j, col)| {
                histogram(&col.to_vec(), self.n_bins)
                    .map_err(|e| DetectError::InvalidData(format!("feature {j}: {e}")))
            })
            .collect::<DetectResult<_>>()?;
        let (edges, densities): (Vec<Vec<f64>>, Vec<Vec<f64>>) = histograms.into_iter().unzip();
        let model = HbosModel {
            edges,
            densities,
            alpha: self.alpha,
            tol: self.tol,
        };
        let training_scores = model.score(x)?;
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::Hbos(model),
            training_scores,
        })
    }
}

impl HbosModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.edges.len()
    }

    /// Per-bin log₂ densities, their minima and each feature's reciprocal bin width: what
    /// scoring a value needs.
    fn lookup(&self) -> (Vec<Vec<f64>>, Vec<f64>, Vec<f64>) {
        let log_densities: Vec<Vec<f64>> = self
            .densities
            .iter()
            .map(|h| h.iter().map(|&p| (p + self.alpha).log2()).collect())
            .collect();
        let minima: Vec<f64> = log_densities
            .iter()
            .map(|l| l.iter().copied().fold(f64::INFINITY, f64::min))
            .collect();
        // Reciprocal bin widths, only to guess each value's bin (`edge_index` corrects the guess).
        let norms: Vec<f64> = self
            .edges
            .iter()
            .map(|e| (e.len() - 1) as f64 / (e[e.len() - 1] - e[0]))
            .collect();
        (log_densities, minima, norms)
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let d = self.edges.len();
        let (log_densities, minima, norms) = self.lookup();
        let scores: Vec<f64> = x
            .outer_iter()
            .into_par_iter()
            .map_init(
                || vec![0.0; d],
                |per_feature, row| {
                    for j in 0..d {
                        let index = edge_index(&self.edges[j], norms[j], row[j]);
                        per_feature[j] =
                            self.feature_score(j, index, row[j], &log_densities[j], minima[j]);
                    }
                    -numpy_sum(per_feature)
                },
            )
            .collect();
        Ok(Array1::from(scores))
    }

    /// The score's terms, one per feature: `−log₂(density + α)` of the value's bin. They add up
    /// to the score (the explanation of a row).
    pub fn feature_terms(&self, row: &[f64]) -> Vec<f64> {
        let (log_densities, minima, norms) = self.lookup();
        (0..self.edges.len())
            .map(|j| {
                let index = edge_index(&self.edges[j], norms[j], row[j]);
                -self.feature_score(j, index, row[j], &log_densities[j], minima[j])
            })
            .collect()
    }

    /// PyOD's `_calculate_outlier_scores` for one value whose `np.digitize(right=True)` index
    /// is `index`.
    fn feature_score(
        &self,
        j: usize,
        index: usize,
        v: f64,
        log_density: &[f64],
        minimum: f64,
    ) -> f64 {
        let edges = &self.edges[j];
        let bins = log_density.len();
        if index == 0 {
            let dist = edges[0] - v;
            if dist <= (edges[1] - edges[0]) * self.tol {
                log_density[0]
            } else {
                minimum
            }
        } else if index == bins + 1 {
            let dist = v - edges[bins];
            if dist <= (edges[bins] - edges[bins - 1]) * self.tol {
                log_density[bins - 1]
            } else {
                minimum
            }
        } else {
            log_density[index - 1]
        }
    }

    pub(super) fn validate(&self) -> Check {
        let d = self.edges.len();
        not_empty("edges", d)?;
        length("densities", self.densities.len(), d)?;
        value("alpha", self.alpha, Rule::PositiveUnit)?;
        value("tol", self.tol, Rule::Unit)?;
        for (j, (edges, densities)) in self.edges.iter().zip(&self.densities).enumerate() {
            not_empty(&format!("densities of feature {j}"), densities.len())?;
            length(
                &format!("edges of feature {j}"),
                edges.len(),
                densities.len() + 1,
            )?;
            values(&format!("edges of feature {j}"), edges, Rule::Finite)?;
            // The bin lookup walks the edges assuming they increase.
            if let Some(i) = edges.windows(2).position(|w| w[0] >= w[1]) {
                return Err(format!(
                    "edges of feature {j} do not increase at value {}",
                    i + 1
                ));
            }
            values(
                &format!("densities of feature {j}"),
                densities,
                Rule::NonNegative,
            )?;
        }
        Ok(())
    }
}

/// `edges.partition_point(|&e| e < v)` (numpy's `searchsorted(side='left')`) for equal-width
/// edges: the bin is guessed from the value and then checked against the edges themselves, so
/// the answer is exact; a binary search mispredicted its branches on nearly every value.
fn edge_index(edges: &[f64], norm: f64, v: f64) -> usize {
    let last = edges.len() - 1;
    if v.is_nan() || v <= edges[0] {
        return 0; // NaN too, like the binary search
    }
    if v > edges[last] {
        return last + 1;
    }
    // Here edges[0] < v <= edges[last], so both loops stop inside the slice.
    // Truncation, not `ceil` (a libm call on baseline x86-64); one more step when v is on an edge.
    // The saturating cast and `min` keep an infinite or NaN guess (a degenerate `norm`) in range.
    let mut i = (((v - edges[0]) * norm) as usize).min(last - 1) + 1;
    while edges[i - 1] >= v {
        i -= 1;
    }
    while edges[i] < v {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_index_is_the_binary_search_on_every_kind_of_value() {
        // Ranges with awkward widths, a constant column's ±0.5 range, and a huge-offset one
        // where the guess lands on the wrong side of edges.
        let ranges = [
            (0.0, 1.0),
            (-3.7, 12.9),
            (0.1, 0.3),
            (7.0 - 0.5, 7.0 + 0.5),
            (1e15, 1e15 + 3.0),
        ];
        for &(lo, hi) in &ranges {
            for bins in [2usize, 3, 10, 17] {
                let edges = linspace(lo, hi, bins + 1);
                let norm = bins as f64 / (hi - lo);
                let mut values: Vec<f64> = edges.clone();
                values.extend(edges.iter().map(|&e| e.next_up()));
                values.extend(edges.iter().map(|&e| e.next_down()));
                values
                    .extend((0..=400).map(|i| lo - (hi - lo) + i as f64 * 3.0 * (hi - lo) / 400.0));
                values.extend([
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NAN,
                    f64::MAX,
                    f64::MIN,
                ]);
                for v in values {
                    let expected = edges.partition_point(|&e| e < v);
                    assert_eq!(
                        edge_index(&edges, norm, v),
                        expected,
                        "v={v} edges={edges:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn edge_index_survives_a_degenerate_norm() {
        // Edges a subnormal apart: `norm` is infinite, so the guesses are infinite or NaN.
        let edges = [0.0, 5e-324, 1e-323];
        for norm in [f64::INFINITY, f64::NAN, 0.0, -1.0] {
            for v in [
                0.0,
                5e-324,
                1e-323,
                1.5e-323,
                -5e-324,
                1.0,
                f64::MAX,
                f64::NAN,
            ] {
                let expected = edges.partition_point(|&e| e < v);
                assert_eq!(edge_index(&edges, norm, v), expected, "v={v} norm={norm}");
            }
        }
    }

    /// Column 0 is hostile, column 1 ordinary.
    fn fit_with(hostile: &[f64], n_bins: usize) -> DetectResult<Fitted> {
        let n = hostile.len();
        let x = ndarray::Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 {
                hostile[i]
            } else {
                (i % 7) as f64
            }
        });
        let hbos = Hbos {
            n_bins,
            alpha: 0.1,
            tol: 0.5,
        };
        hbos.fit(x.view(), &JobCtx::default())
    }

    #[test]
    fn subnormal_and_huge_ranges_fail_cleanly_or_score_finitely() {
        let subnormal: Vec<f64> = [0.0, 5e-324, 1e-323]
            .iter()
            .cycle()
            .take(30)
            .copied()
            .collect();
        let both_ends: Vec<f64> = (0..30)
            .map(|i| {
                let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
                sign * 1.79e308 * (1.0 - i as f64 * 1e-3)
            })
            .collect();
        let near_max: Vec<f64> = (0..30).map(|i| 1.79e308 - i as f64 * 1e306).collect();
        let near_min: Vec<f64> = near_max.iter().map(|v| -v).collect();
        let constant_tiny = vec![1e-300; 30];
        let probes = [
            0.0,
            5e-324,
            -5e-324,
            1e-323,
            1.79e308,
            -1.79e308,
            f64::MAX,
            f64::MIN,
            1.0,
        ];
        for (name, column) in [
            ("subnormal", &subnormal),
            ("both_ends", &both_ends),
            ("near_max", &near_max),
            ("near_min", &near_min),
            ("constant_tiny", &constant_tiny),
        ] {
            for n_bins in [2, 10, 50] {
                match fit_with(column, n_bins) {
                    Ok(fitted) => {
                        assert!(
                            fitted.training_scores.iter().all(|s| s.is_finite()),
                            "{name}, {n_bins} bins: {:?}",
                            fitted.training_scores
                        );
                        let Model::Hbos(model) = fitted.model else {
                            panic!("not an HBOS model");
                        };
                        let x =
                            ndarray::Array2::from_shape_fn((probes.len(), 2), |(i, _)| probes[i]);
                        let scores = model.score(x.view()).unwrap();
                        assert!(scores.iter().all(|s| s.is_finite()), "{name}: {scores:?}");
                    }
                    Err(DetectError::InvalidData(message)) => {
                        assert!(message.starts_with("feature 0: "), "{name}: {message}");
                    }
                    Err(e) => panic!("{name}, {n_bins} bins: {e}"),
                }
            }
        }
        // Which of them are refused (as numpy refuses them) and which work.
        assert!(fit_with(&subnormal, 10).is_err());
        assert!(fit_with(&subnormal, 2).is_err());
        assert!(fit_with(&both_ends, 10).is_err());
        assert!(fit_with(&near_max, 10).is_ok());
        assert!(fit_with(&near_min, 50).is_ok());
    }
}

//! Turning anomaly scores into flags. Every method yields one cut-off `value`, and a sample is
//! flagged when its score is strictly greater than it: the rule PyOD applies to `threshold_`
//! to get `labels_`. Only `Contamination` needs a prior guess of the anomaly share; the other
//! methods read the cut-off from the shape of the score distribution, so they also work when
//! nobody knows how many anomalies to expect.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::metrics::{median_sorted, percentile, percentile_sorted};

/// How to pick the cut-off. Parse one from CLI text with `str::parse` (see [`FromStr`] below
/// for the accepted spellings); `Display` writes the canonical spelling back.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMethod {
    /// Flag the top share `c` of the scores, as PyOD's `contamination`:
    /// value = `np.percentile(scores, 100 * (1 - c))`, linear interpolation; 0 < c <= 0.5.
    Contamination(f64),
    /// Tukey's fence: Q3 + 1.5 · (Q3 − Q1), quartiles by NumPy's linear percentile.
    Iqr,
    /// Modified z-score of Iglewicz & Hoaglin (1993): flag M = 0.6745 (x − median) / MAD > 3.5,
    /// i.e. value = median + 3.5 · 1.4826 · MAD (1.4826 ≈ 1 / 0.6745). Robust to the anomalies
    /// themselves, unlike mean and std. When MAD = 0 the value is the median.
    Mad,
    /// mean + 3 · std (population std, ddof = 0). Simple, but the anomalies inflate the std.
    #[serde(rename = "zscore")]
    ZScore,
    /// Otsu's method: the split of a 256-bin histogram of the scores (NumPy's
    /// `np.histogram(scores, bins=256)` bins) that maximises the between-class variance;
    /// value = the upper edge of the last bin of the lower class. Suits bimodal scores.
    Otsu,
    /// Knee of the descending sorted-score curve, Kneedle-like: both axes are scaled to
    /// [0, 1] and the knee is the point farthest from the chord joining the first and last
    /// points (first such point on ties); value = the score at the knee, so the samples
    /// strictly above the knee are flagged.
    Knee,
    /// Largest gap between consecutive sorted scores, looking only at gaps that flag at most
    /// half of the samples; value = the score just below the gap (on equal gaps, the highest
    /// one, which flags fewest).
    Gap,
}

/// The chosen cut-off and how many samples it flags (score > value).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub method: ThresholdMethod,
    pub value: f64,
    pub n_flagged: usize,
}

/// What can be wrong when computing or parsing a threshold.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    #[error("scores are empty; a threshold needs at least one score")]
    Empty,

    #[error("scores[{index}] is {value}, expected a finite number")]
    NonFinite { index: usize, value: f64 },

    #[error("contamination {value} is out of range: it must be in (0, 0.5], e.g. 0.1 for 10%")]
    InvalidContamination { value: f64 },

    #[error("unknown threshold method \"{given}\"; expected one of: {}", ThresholdMethod::NAMES.join(", "))]
    UnknownMethod { given: String },

    #[error("\"{given}\": contamination needs a number in (0, 0.5], e.g. contamination=0.1")]
    BadContamination { given: String },
}

impl ThresholdMethod {
    /// The names accepted by `FromStr`, for help texts and error messages.
    pub const NAMES: [&'static str; 7] = [
        "contamination=C (0 < C <= 0.5)",
        "iqr",
        "mad",
        "zscore",
        "otsu",
        "knee",
        "gap",
    ];

    /// Every method that needs no guess of the anomaly share, e.g. for AutoML to try them all.
    pub const LABEL_FREE: [ThresholdMethod; 6] = [
        ThresholdMethod::Iqr,
        ThresholdMethod::Mad,
        ThresholdMethod::ZScore,
        ThresholdMethod::Otsu,
        ThresholdMethod::Knee,
        ThresholdMethod::Gap,
    ];
}

impl fmt::Display for ThresholdMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThresholdMethod::Contamination(c) => write!(f, "contamination={c}"),
            ThresholdMethod::Iqr => f.write_str("iqr"),
            ThresholdMethod::Mad => f.write_str("mad"),
            ThresholdMethod::ZScore => f.write_str("zscore"),
            ThresholdMethod::Otsu => f.write_str("otsu"),
            ThresholdMethod::Knee => f.write_str("knee"),
            ThresholdMethod::Gap => f.write_str("gap"),
        }
    }
}

/// Accepts (case-insensitive, surrounding spaces ignored): `contamination=0.1`,
/// `contamination:0.1`, a bare number `0.1` (read as a contamination), `iqr`, `mad`,
/// `zscore` / `z-score` / `z_score`, `otsu`, `knee`, `gap`. Checks the contamination range.
impl FromStr for ThresholdMethod {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        let contamination = |number: &str| -> Result<Self, ThresholdError> {
            let c: f64 = number
                .trim()
                .parse()
                .map_err(|_| ThresholdError::BadContamination {
                    given: text.to_string(),
                })?;
            check_contamination(c)?;
            Ok(ThresholdMethod::Contamination(c))
        };
        if let Some(rest) = lower.strip_prefix("contamination") {
            let rest = rest.trim_start();
            return match rest.strip_prefix('=').or_else(|| rest.strip_prefix(':')) {
                Some(number) => contamination(number),
                None => Err(ThresholdError::BadContamination {
                    given: text.to_string(),
                }),
            };
        }
        match lower.as_str() {
            "iqr" => Ok(ThresholdMethod::Iqr),
            "mad" => Ok(ThresholdMethod::Mad),
            "zscore" | "z-score" | "z_score" => Ok(ThresholdMethod::ZScore),
            "otsu" => Ok(ThresholdMethod::Otsu),
            "knee" => Ok(ThresholdMethod::Knee),
            "gap" => Ok(ThresholdMethod::Gap),
            other if other.parse::<f64>().is_ok() => contamination(other),
            _ => Err(ThresholdError::UnknownMethod {
                given: text.trim().to_string(),
            }),
        }
    }
}

fn check_contamination(c: f64) -> Result<(), ThresholdError> {
    if c > 0.0 && c <= 0.5 {
        Ok(())
    } else {
        Err(ThresholdError::InvalidContamination { value: c })
    }
}

/// 1 where score > value, else 0: the flags for a cut-off.
pub fn flags(scores: &[f64], value: f64) -> Vec<u8> {
    scores.iter().map(|&s| u8::from(s > value)).collect()
}

/// Computes the cut-off with `method` and counts the flagged samples. Errors on empty or
/// non-finite scores and on a contamination outside (0, 0.5]. Constant scores give
/// value = that constant and nothing flagged, whatever the method.
pub fn apply(scores: &[f64], method: ThresholdMethod) -> Result<Threshold, ThresholdError> {
    if scores.is_empty() {
        return Err(ThresholdError::Empty);
    }
    if let Some(index) = scores.iter().position(|s| !s.is_finite()) {
        return Err(ThresholdError::NonFinite {
            index,
            value: scores[index],
        });
    }
    if let ThresholdMethod::Contamination(c) = method {
        check_contamination(c)?;
    }
    let (min, max) = scores
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &s| {
            (lo.min(s), hi.max(s))
        });
    // One rule for every method: with no spread there is nothing to single out. It also keeps
    // rounding (e.g. a mean a hair below the constant) from flagging everything.
    let value = if min == max {
        max
    } else {
        match method {
            // The default method needs two order statistics, not a sort.
            ThresholdMethod::Contamination(c) => percentile(scores, 100.0 * (1.0 - c)),
            ThresholdMethod::Iqr => iqr_value(&sorted(scores)),
            ThresholdMethod::Mad => mad_value(&sorted(scores)),
            ThresholdMethod::ZScore => zscore_value(&sorted(scores)),
            ThresholdMethod::Otsu => otsu_value(&sorted(scores)),
            ThresholdMethod::Knee => knee_value(&sorted(scores)),
            ThresholdMethod::Gap => gap_value(&sorted(scores)),
        }
    };
    let n_flagged = scores.iter().filter(|&&s| s > value).count();
    Ok(Threshold {
        method,
        value,
        n_flagged,
    })
}

fn sorted(scores: &[f64]) -> Vec<f64> {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// Tukey's upper fence.
fn iqr_value(sorted: &[f64]) -> f64 {
    let q1 = percentile_sorted(sorted, 25.0);
    let q3 = percentile_sorted(sorted, 75.0);
    q3 + 1.5 * (q3 - q1)
}

/// Scale factor that makes the MAD estimate the std of normal data (1 / Φ⁻¹(3/4)).
const MAD_TO_STD: f64 = 1.4826;
/// Iglewicz & Hoaglin's recommended cut-off for the modified z-score.
const MODIFIED_Z_CUTOFF: f64 = 3.5;

fn mad_value(sorted: &[f64]) -> f64 {
    let med = median_sorted(sorted);
    let mut deviations: Vec<f64> = sorted.iter().map(|s| (s - med).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    let mad = median_sorted(&deviations);
    med + MODIFIED_Z_CUTOFF * MAD_TO_STD * mad
}

fn zscore_value(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    mean + 3.0 * variance.sqrt()
}

const OTSU_BINS: usize = 256;

/// Bin counts and edges as `np.histogram(values, bins)` for values with min < max: equal-width
/// bins over [min, max], each half-open except the last, which includes max.
fn histogram(sorted: &[f64], bins: usize) -> (Vec<f64>, Vec<f64>) {
    let (first, last) = (sorted[0], sorted[sorted.len() - 1]);
    // np.linspace(first, last, bins + 1): i * step + first, last edge set exactly.
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + first).collect();
    edges[bins] = last;
    let span = last - first;
    let mut counts = vec![0.0; bins];
    for &v in sorted {
        // NumPy's index estimate, then its correction against the exact edges.
        let mut i = (((v - first) / span * bins as f64) as usize).min(bins - 1);
        if v < edges[i] {
            i -= 1;
        } else if i != bins - 1 && v >= edges[i + 1] {
            i += 1;
        }
        counts[i] += 1.0;
    }
    (counts, edges)
}

fn otsu_value(sorted: &[f64]) -> f64 {
    let (counts, edges) = histogram(sorted, OTSU_BINS);
    let centers: Vec<f64> = edges.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    let total_weight: f64 = counts.iter().sum();
    let total_mass: f64 = counts.iter().zip(&centers).map(|(c, x)| c * x).sum();
    let (mut weight_low, mut mass_low) = (0.0, 0.0);
    let (mut best_split, mut best_variance) = (0, f64::NEG_INFINITY);
    // Split after bin k: the lower class is bins 0..=k.
    for k in 0..OTSU_BINS - 1 {
        weight_low += counts[k];
        mass_low += counts[k] * centers[k];
        let weight_high = total_weight - weight_low;
        if weight_low == 0.0 || weight_high == 0.0 {
            continue;
        }
        let mean_low = mass_low / weight_low;
        let mean_high = (total_mass - mass_low) / weight_high;
        let variance = weight_low * weight_high * (mean_low - mean_high).powi(2);
        if variance > best_variance {
            best_variance = variance;
            best_split = k;
        }
    }
    edges[best_split + 1]
}

fn knee_value(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    let (min, max) = (sorted[0], sorted[n - 1]);
    if n < 3 {
        return max;
    }
    let last = (n - 1) as f64;
    // Descending curve, scaled to the unit square: from (0, 1) to (1, 0). The distance to
    // that chord is |x + y − 1| / √2, so the √2 can be left out of the comparison.
    let mut best = (0, 0.0);
    for (i, &score) in sorted.iter().rev().enumerate() {
        let x = i as f64 / last;
        let y = (score - min) / (max - min);
        let distance = (x + y - 1.0).abs();
        if distance > best.1 {
            best = (i, distance);
        }
    }
    sorted[n - 1 - best.0]
}

fn gap_value(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    // Gap i lies between sorted[i] and sorted[i + 1] and flags up to n − 1 − i samples;
    // keep those that flag at most n / 2.
    let first = (n - 1).saturating_sub(n / 2);
    let mut best = (n - 1, 0.0);
    for i in (first..n - 1).rev() {
        let gap = sorted[i + 1] - sorted[i];
        if gap > best.1 {
            best = (i, gap);
        }
    }
    sorted[best.0]
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: f64 = 1e-12;

    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() <= TOL,
            "expected {expected}, got {actual}"
        );
    }

    // 20 scores: a bulk around 1 and three clear outliers.
    const S: [f64; 20] = [
        0.91, 1.02, 0.98, 1.10, 0.87, 1.05, 0.95, 1.01, 0.99, 1.08, 0.93, 1.04, 0.97, 1.00, 0.96,
        1.03, 3.20, 2.90, 4.10, 1.06,
    ];

    #[test]
    fn contamination_matches_pyod_percentile() {
        // np.percentile(S, 100 * (1 - 0.1)) -> 2.93; (S > 2.93).sum() -> 2
        let t = apply(&S, ThresholdMethod::Contamination(0.1)).unwrap();
        close(t.value, 2.93);
        assert_eq!(t.n_flagged, 2);
        // np.percentile(S, 100 * (1 - 0.2)) -> 1.084; (S > it).sum() -> 4
        let t = apply(&S, ThresholdMethod::Contamination(0.2)).unwrap();
        close(t.value, 1.084);
        assert_eq!(t.n_flagged, 4);
        // np.percentile(S, 50) -> 1.0150000000000001; (S > it).sum() -> 10
        let t = apply(&S, ThresholdMethod::Contamination(0.5)).unwrap();
        close(t.value, 1.0150000000000001);
        assert_eq!(t.n_flagged, 10);
    }

    #[test]
    fn contamination_out_of_range_is_an_error() {
        for c in [0.0, -0.1, 0.51, 1.0, f64::NAN] {
            let err = apply(&S, ThresholdMethod::Contamination(c)).unwrap_err();
            assert!(
                matches!(err, ThresholdError::InvalidContamination { .. }),
                "{c}"
            );
            assert!(err.to_string().contains("(0, 0.5]"));
        }
    }

    #[test]
    fn iqr_matches_numpy() {
        // q1, q3 = np.percentile(S, [25, 75]); q3 + 1.5 * (q3 - q1) -> 1.2112499999999997
        let t = apply(&S, ThresholdMethod::Iqr).unwrap();
        close(t.value, 1.2112499999999997);
        assert_eq!(t.n_flagged, 3);
    }

    #[test]
    fn mad_matches_numpy() {
        // m = np.median(S); mad = np.median(np.abs(S - m)); m + 3.5 * 1.4826 * mad
        //   -> 1.274455000000001
        let t = apply(&S, ThresholdMethod::Mad).unwrap();
        close(t.value, 1.274455000000001);
        assert_eq!(t.n_flagged, 3);
    }

    #[test]
    fn mad_zero_uses_median() {
        // median 1, MAD 0 -> value 1, only the 5 is flagged
        let t = apply(&[1.0, 1.0, 1.0, 1.0, 5.0], ThresholdMethod::Mad).unwrap();
        close(t.value, 1.0);
        assert_eq!(t.n_flagged, 1);
    }

    #[test]
    fn zscore_uses_population_std() {
        // S.mean() + 3 * S.std() -> 4.004035234981767 (np.std is ddof=0); only 4.1 is above.
        // (With the sample std, ddof=1, it would be 4.07278785912189, still flagging one, so
        // the literal is what tells the two apart.)
        let t = apply(&S, ThresholdMethod::ZScore).unwrap();
        close(t.value, 4.004035234981767);
        assert_eq!(t.n_flagged, 1);
    }

    #[test]
    fn otsu_matches_numpy_histogram_reference() {
        // Reference: h, e = np.histogram(S, 256); c = (e[:-1] + e[1:]) / 2; over splits k with
        // both classes non-empty, argmax of w0 * w1 * (mu0 - mu1) ** 2; value = e[k + 1]
        //   -> k = 18, value 1.1097265625 (1.10 sits in bin 18, the top of the bulk)
        let t = apply(&S, ThresholdMethod::Otsu).unwrap();
        close(t.value, 1.1097265625);
        assert_eq!(t.n_flagged, 3);
    }

    #[test]
    fn histogram_bins_like_numpy_at_an_edge() {
        // 1.25875 is exactly edge 103 of np.linspace(0.203, 2.827, 257), but the quick index
        // estimate ((v - lo) / span * 256) truncates to 102; NumPy corrects it upward:
        // np.nonzero(np.histogram([0.203, 1.25875, 2.827], 256)[0]) -> [0, 103, 255]
        let (counts, edges) = histogram(&[0.203, 1.25875, 2.827], 256);
        let nonzero: Vec<usize> = (0..256).filter(|&i| counts[i] > 0.0).collect();
        assert_eq!(nonzero, vec![0, 103, 255]);
        assert_eq!(edges[103], 1.25875);
        assert_eq!(edges[256], 2.827);
    }

    #[test]
    fn otsu_splits_two_clusters() {
        // Two tight clusters; the best split is right after the lower one: same reference
        // -> k = 2, value 0.11835937499999999 (= e[3])
        let scores = [0.0, 0.1, 0.05, 0.02, 10.0, 10.1, 9.9];
        let t = apply(&scores, ThresholdMethod::Otsu).unwrap();
        assert_eq!(t.n_flagged, 3);
        close(t.value, 0.11835937499999999);
    }

    #[test]
    fn knee_finds_the_bend() {
        // d = np.sort(S)[::-1]; x = arange(20) / 19; y = (d - d.min()) / (d.max() - d.min());
        // i = argmax(abs(x + y - 1)) -> 3; d[3] = 1.1
        let t = apply(&S, ThresholdMethod::Knee).unwrap();
        close(t.value, 1.1);
        assert_eq!(t.n_flagged, 3);
    }

    #[test]
    fn knee_uses_the_distance_on_either_side_of_the_chord() {
        // A concave curve (mostly high scores, two low ones) lies above the chord.
        // x0 = [9.7, 0.0, 10.0, 9.6, 9.9, 0.5, 9.8]; same reference as above
        //   -> i = 4 (distance 0.6267 above the chord), d[4] = 9.6, (x0 > 9.6).sum() = 4
        let x0 = [9.7, 0.0, 10.0, 9.6, 9.9, 0.5, 9.8];
        let t = apply(&x0, ThresholdMethod::Knee).unwrap();
        assert_eq!((t.value, t.n_flagged), (9.6, 4));
    }

    #[test]
    fn gap_flags_above_the_largest_gap_in_the_top_half() {
        // s = np.sort(S); the largest gap is 1.10 -> 2.90
        let t = apply(&S, ThresholdMethod::Gap).unwrap();
        close(t.value, 1.1);
        assert_eq!(t.n_flagged, 3);
        // The bottom half is ignored: the 0 -> 10 gap would flag 4 of 5.
        let t = apply(&[0.0, 10.0, 10.5, 11.0, 13.0], ThresholdMethod::Gap).unwrap();
        close(t.value, 11.0);
        assert_eq!(t.n_flagged, 1);
        // Equal gaps: the highest one wins, flagging fewest. Candidates for n = 8 are the gaps
        // after sorted[3..=6]; all are 1, so value 6 and one flagged (not 3 and four flagged).
        let even: Vec<f64> = (0..8).map(f64::from).collect();
        let t = apply(&even, ThresholdMethod::Gap).unwrap();
        assert_eq!((t.value, t.n_flagged), (6.0, 1));
        // Two samples: the one gap flags one of them.
        let t = apply(&[2.0, 1.0], ThresholdMethod::Gap).unwrap();
        assert_eq!((t.value, t.n_flagged), (1.0, 1));
    }

    #[test]
    fn constant_scores_flag_nothing_for_every_method() {
        let scores = [0.1; 7];
        let mut methods = ThresholdMethod::LABEL_FREE.to_vec();
        methods.push(ThresholdMethod::Contamination(0.1));
        for method in methods {
            let t = apply(&scores, method).unwrap();
            assert_eq!(t.n_flagged, 0, "{method}");
            assert_eq!(t.value, 0.1, "{method}");
        }
    }

    #[test]
    fn single_and_two_scores_do_not_panic() {
        for method in ThresholdMethod::LABEL_FREE {
            assert_eq!(apply(&[3.0], method).unwrap().n_flagged, 0, "{method}");
            let t = apply(&[1.0, 2.0], method).unwrap();
            assert!(t.n_flagged <= 1, "{method}");
        }
    }

    #[test]
    fn bad_scores_are_errors() {
        assert_eq!(apply(&[], ThresholdMethod::Iqr), Err(ThresholdError::Empty));
        assert!(matches!(
            apply(&[1.0, f64::NAN], ThresholdMethod::Otsu),
            Err(ThresholdError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            apply(&[f64::NEG_INFINITY, 1.0], ThresholdMethod::Knee),
            Err(ThresholdError::NonFinite { index: 0, .. })
        ));
    }

    #[test]
    fn flags_are_strictly_above() {
        assert_eq!(flags(&[0.5, 1.0, 1.5], 1.0), vec![0, 0, 1]);
        let t = apply(&S, ThresholdMethod::Iqr).unwrap();
        let f = flags(&S, t.value);
        assert_eq!(f.iter().map(|&v| v as usize).sum::<usize>(), t.n_flagged);
        assert_eq!(f[16..19], [1, 1, 1]);
    }

    #[test]
    fn parse_accepts_cli_spellings() {
        let parse = |s: &str| s.parse::<ThresholdMethod>();
        assert_eq!(
            parse("contamination=0.1"),
            Ok(ThresholdMethod::Contamination(0.1))
        );
        assert_eq!(
            parse("Contamination:0.05"),
            Ok(ThresholdMethod::Contamination(0.05))
        );
        assert_eq!(parse("0.2"), Ok(ThresholdMethod::Contamination(0.2)));
        assert_eq!(parse(" IQR "), Ok(ThresholdMethod::Iqr));
        assert_eq!(parse("mad"), Ok(ThresholdMethod::Mad));
        assert_eq!(parse("z-score"), Ok(ThresholdMethod::ZScore));
        assert_eq!(parse("zscore"), Ok(ThresholdMethod::ZScore));
        assert_eq!(parse("otsu"), Ok(ThresholdMethod::Otsu));
        assert_eq!(parse("knee"), Ok(ThresholdMethod::Knee));
        assert_eq!(parse("gap"), Ok(ThresholdMethod::Gap));
    }

    #[test]
    fn parse_errors_are_helpful() {
        let err = "kmeans".parse::<ThresholdMethod>().unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("kmeans") && msg.contains("otsu") && msg.contains("zscore"),
            "{msg}"
        );
        assert!(matches!(
            "contamination=0.7".parse::<ThresholdMethod>(),
            Err(ThresholdError::InvalidContamination { .. })
        ));
        assert!(matches!(
            "contamination=abc".parse::<ThresholdMethod>(),
            Err(ThresholdError::BadContamination { .. })
        ));
        assert!(matches!(
            "contamination".parse::<ThresholdMethod>(),
            Err(ThresholdError::BadContamination { .. })
        ));
    }

    #[test]
    fn display_round_trips_and_serde_is_snake_case() {
        let mut methods = ThresholdMethod::LABEL_FREE.to_vec();
        methods.push(ThresholdMethod::Contamination(0.15));
        for method in methods {
            assert_eq!(method.to_string().parse::<ThresholdMethod>(), Ok(method));
        }
        assert_eq!(
            serde_json::to_string(&ThresholdMethod::ZScore).unwrap(),
            "\"zscore\""
        );
        assert_eq!(
            serde_json::to_string(&ThresholdMethod::Iqr).unwrap(),
            "\"iqr\""
        );
        assert_eq!(
            serde_json::to_string(&ThresholdMethod::Contamination(0.1)).unwrap(),
            "{\"contamination\":0.1}"
        );
        let t = apply(&S, ThresholdMethod::Gap).unwrap();
        let back: Threshold = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }
}

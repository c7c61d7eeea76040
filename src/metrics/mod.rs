//! Evaluation metrics for anomaly scores against known labels, plus the shared statistics
//! helpers (`average_ranks`, `percentile`, `median`) that `threshold` and `combine` reuse.
//!
//! Conventions follow PyOD and scikit-learn so that numbers match a Python workflow:
//! scores are "higher = more anomalous", labels are `u8` with 1 = anomaly and 0 = normal.
//! Every function validates its input and returns a [`MetricError`] instead of panicking or
//! silently returning NaN.

use serde::{Deserialize, Serialize};

/// What can be wrong with the input of a metric. Messages name the offending argument.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    #[error("{what} is empty; a metric needs at least one sample")]
    Empty { what: &'static str },

    #[error("length mismatch: {left_name} has {left} values but {right_name} has {right}")]
    LengthMismatch {
        left_name: &'static str,
        left: usize,
        right_name: &'static str,
        right: usize,
    },

    #[error("{what}[{index}] is {value}, expected a finite number")]
    NonFinite {
        what: &'static str,
        index: usize,
        value: f64,
    },

    #[error("labels[{index}] is {value}, expected 0 (normal) or 1 (anomaly)")]
    InvalidLabel { index: usize, value: u8 },

    #[error("{metric} needs both classes, but all {n} labels are {class} ({meaning})")]
    SingleClass {
        metric: &'static str,
        n: usize,
        class: u8,
        meaning: &'static str,
    },

    #[error("n = {n} is out of range: precision@n needs 1 <= n <= {len} (the number of samples)")]
    InvalidN { n: usize, len: usize },

    #[error("threshold is NaN; pass a number")]
    NanThreshold,

    #[error("{metric} needs at least {needed} samples, got {got}")]
    TooFew {
        metric: &'static str,
        needed: usize,
        got: usize,
    },

    #[error("{what} is constant, so its rank correlation is undefined")]
    ConstantInput { what: &'static str },
}

/// Counts and rates of a hard flagging (score > threshold) against labels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrecisionRecallF1 {
    /// tp / (tp + fp); 0 when nothing is flagged (scikit-learn's zero_division=0).
    pub precision: f64,
    /// tp / (tp + fn); 0 when there are no positives.
    pub recall: f64,
    /// 2·tp / (2·tp + fp + fn); 0 when that is 0/0.
    pub f1: f64,
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub tn: usize,
}

/// One point of a ROC curve. `threshold` means "flag score >= threshold"; the first point is
/// (0, 0) with an infinite threshold, as in scikit-learn (serde_json writes infinity as null).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    pub fpr: f64,
    pub tpr: f64,
    pub threshold: f64,
}

/// One point of a precision–recall curve. `threshold` means "flag score >= threshold"; the last
/// point is scikit-learn's (precision 1, recall 0), which has no threshold: we give it infinity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrPoint {
    pub precision: f64,
    pub recall: f64,
    pub threshold: f64,
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// 1-based ranks with ties given the average of the ranks they span (scipy's `rankdata`,
/// method "average"). Used by AUC, Spearman and rank normalisation so all agree on ties.
/// Never panics: NaN sorts last (IEEE total order) and each NaN gets its own rank.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1..=end; their mean is (start+1+end)/2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// NumPy's default (`method="linear"`) percentile of values that are already sorted ascending,
/// computed the way NumPy does (same index and interpolation formula) so thresholds match
/// PyOD bit for bit in ordinary cases. `q` is in percent and clamped to [0, 100].
/// Returns NaN for an empty slice; callers validate first.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let (lo, hi, gamma) = percentile_position(n, q);
    lerp(sorted[lo], sorted[hi], gamma)
}

/// NumPy's percentile (linear interpolation) of unsorted values; see [`percentile_sorted`].
/// Selects the two values it needs instead of sorting (O(n)).
pub fn percentile(values: &[f64], q: f64) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let (lo, hi, gamma) = percentile_position(n, q);
    let mut v = values.to_vec();
    let (_, &mut below, above) = v.select_nth_unstable_by(lo, f64::total_cmp);
    let above = if hi > lo {
        above
            .iter()
            .copied()
            .min_by(f64::total_cmp)
            .expect("hi < n, so something lies above lo")
    } else {
        below
    };
    lerp(below, above, gamma)
}

/// NumPy's positions for the `q`-th percentile of `n` sorted values: the two neighbouring
/// indices and the interpolation weight.
fn percentile_position(n: usize, q: f64) -> (usize, usize, f64) {
    let quantile = (q / 100.0).clamp(0.0, 1.0);
    let virtual_index = (n - 1) as f64 * quantile;
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    let lo = (previous as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    (lo, hi, gamma)
}

/// NumPy's median: the middle value, or the mean of the two middle values.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    median_sorted(&sorted)
}

/// Median of values already sorted ascending; NaN for an empty slice.
pub fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// NumPy's `_lerp`: interpolates from the nearer end so the result is exact at both ends.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Checks that every value is finite; the error names the argument and the first bad index.
pub(crate) fn check_finite(values: &[f64], what: &'static str) -> Result<(), MetricError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(MetricError::NonFinite {
            what,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Validates a (scores, labels) pair and returns (positives, negatives).
fn check_scores_labels(scores: &[f64], labels: &[u8]) -> Result<(usize, usize), MetricError> {
    if scores.len() != labels.len() {
        return Err(MetricError::LengthMismatch {
            left_name: "scores",
            left: scores.len(),
            right_name: "labels",
            right: labels.len(),
        });
    }
    if scores.is_empty() {
        return Err(MetricError::Empty { what: "scores" });
    }
    check_finite(scores, "scores")?;
    let mut positives = 0;
    for (index, &value) in labels.iter().enumerate() {
        match value {
            0 => {}
            1 => positives += 1,
            _ => return Err(MetricError::InvalidLabel { index, value }),
        }
    }
    Ok((positives, labels.len() - positives))
}

fn require_both_classes(
    metric: &'static str,
    positives: usize,
    negatives: usize,
) -> Result<(), MetricError> {
    if positives == 0 {
        return Err(MetricError::SingleClass {
            metric,
            n: negatives,
            class: 0,
            meaning: "no anomalies",
        });
    }
    if negatives == 0 {
        return Err(MetricError::SingleClass {
            metric,
            n: positives,
            class: 1,
            meaning: "no normal samples",
        });
    }
    Ok(())
}

fn require_positives(metric: &'static str, positives: usize, n: usize) -> Result<(), MetricError> {
    if positives == 0 {
        return Err(MetricError::SingleClass {
            metric,
            n,
            class: 0,
            meaning: "no anomalies",
        });
    }
    Ok(())
}

/// Cumulative (false positives, true positives, threshold) at each distinct score, scores
/// descending: scikit-learn's `_binary_clf_curve`. Tied scores form one step.
fn binary_clf_curve(scores: &[f64], labels: &[u8]) -> Vec<(usize, usize, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut steps = Vec::new();
    let (mut fps, mut tps) = (0usize, 0usize);
    for (k, &i) in order.iter().enumerate() {
        if labels[i] == 1 {
            tps += 1;
        } else {
            fps += 1;
        }
        let last_of_group = k + 1 == order.len() || scores[order[k + 1]] != scores[i];
        if last_of_group {
            steps.push((fps, tps, scores[i]));
        }
    }
    steps
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/// Area under the ROC curve, as the Mann–Whitney U statistic over average ranks: the chance
/// that a random anomaly scores above a random normal sample, ties counting one half. Equals
/// `sklearn.metrics.roc_auc_score`. Needs both classes.
pub fn roc_auc(scores: &[f64], labels: &[u8]) -> Result<f64, MetricError> {
    let (positives, negatives) = check_scores_labels(scores, labels)?;
    require_both_classes("ROC AUC", positives, negatives)?;
    let ranks = average_ranks(scores);
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|&(_, &l)| l == 1)
        .map(|(r, _)| r)
        .sum();
    let (p, q) = (positives as f64, negatives as f64);
    let u = rank_sum - p * (p + 1.0) / 2.0;
    Ok(u / (p * q))
}

/// Average precision exactly as `sklearn.metrics.average_precision_score`:
/// Σ (R_k − R_{k−1}) · P_k over distinct score thresholds in descending order (tied scores are
/// one threshold), with R_0 = 0. No interpolation. Needs at least one anomaly.
pub fn average_precision(scores: &[f64], labels: &[u8]) -> Result<f64, MetricError> {
    let (positives, _) = check_scores_labels(scores, labels)?;
    require_positives("average precision", positives, labels.len())?;
    let mut ap = 0.0;
    let mut previous_recall = 0.0;
    for (fps, tps, _) in binary_clf_curve(scores, labels) {
        let recall = tps as f64 / positives as f64;
        let precision = tps as f64 / (tps + fps) as f64;
        ap += (recall - previous_recall) * precision;
        previous_recall = recall;
    }
    Ok(ap.max(0.0))
}

/// Precision among the top-n scores, as PyOD's `precision_n_scores`: n defaults to the number
/// of anomalies; threshold = `np.percentile(scores, 100 * (1 - n / len))` (linear
/// interpolation) and a sample is flagged when score > threshold (PyOD's `get_label_n` uses a
/// strict `>`). With ties at the threshold fewer than n may be flagged, as in PyOD.
/// Returns 0 when nothing is flagged.
pub fn precision_at_n(scores: &[f64], labels: &[u8], n: Option<usize>) -> Result<f64, MetricError> {
    let (positives, _) = check_scores_labels(scores, labels)?;
    let len = scores.len();
    let n = match n {
        Some(n) => n,
        None => {
            require_positives("precision@n (n taken from the labels)", positives, len)?;
            positives
        }
    };
    if n == 0 || n > len {
        return Err(MetricError::InvalidN { n, len });
    }
    let threshold = percentile(scores, 100.0 * (1.0 - n as f64 / len as f64));
    let (mut tp, mut flagged) = (0usize, 0usize);
    for (&s, &l) in scores.iter().zip(labels) {
        if s > threshold {
            flagged += 1;
            tp += l as usize;
        }
    }
    Ok(if flagged == 0 {
        0.0
    } else {
        tp as f64 / flagged as f64
    })
}

/// Confusion counts and precision/recall/F1 when flagging score > threshold, the rule PyOD
/// uses for `labels_` given `threshold_`. Zero divisions give 0, as scikit-learn's
/// `zero_division=0`. Single-class labels are fine here.
pub fn confusion_at_threshold(
    scores: &[f64],
    labels: &[u8],
    threshold: f64,
) -> Result<PrecisionRecallF1, MetricError> {
    check_scores_labels(scores, labels)?;
    if threshold.is_nan() {
        return Err(MetricError::NanThreshold);
    }
    let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
    for (&s, &l) in scores.iter().zip(labels) {
        match (s > threshold, l == 1) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => tn += 1,
        }
    }
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    Ok(PrecisionRecallF1 {
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
        f1: ratio(2 * tp, 2 * tp + fp + fn_),
        tp,
        fp,
        fn_,
        tn,
    })
}

/// Spearman rank correlation: Pearson correlation of the average ranks (scipy's `spearmanr`).
/// Used to compare two detectors' score orderings. Errors instead of NaN when either input is
/// constant (scipy returns NaN there), has fewer than 2 values or holds non-finite values.
pub fn spearman(a: &[f64], b: &[f64]) -> Result<f64, MetricError> {
    if a.len() != b.len() {
        return Err(MetricError::LengthMismatch {
            left_name: "a",
            left: a.len(),
            right_name: "b",
            right: b.len(),
        });
    }
    if a.len() < 2 {
        return Err(MetricError::TooFew {
            metric: "Spearman correlation",
            needed: 2,
            got: a.len(),
        });
    }
    check_finite(a, "a")?;
    check_finite(b, "b")?;
    let ra = average_ranks(a);
    let rb = average_ranks(b);
    let n = ra.len() as f64;
    let mean_a = ra.iter().sum::<f64>() / n;
    let mean_b = rb.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        let (dx, dy) = (x - mean_a, y - mean_b);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa == 0.0 {
        return Err(MetricError::ConstantInput { what: "a" });
    }
    if sbb == 0.0 {
        return Err(MetricError::ConstantInput { what: "b" });
    }
    Ok((sab / (saa.sqrt() * sbb.sqrt())).clamp(-1.0, 1.0))
}

/// ROC curve as `sklearn.metrics.roc_curve` with its defaults (`drop_intermediate=True`):
/// thresholds descending, starting at (0, 0, +inf), collinear intermediate points dropped.
/// Needs both classes.
pub fn roc_curve(scores: &[f64], labels: &[u8]) -> Result<Vec<RocPoint>, MetricError> {
    let (positives, negatives) = check_scores_labels(scores, labels)?;
    require_both_classes("ROC curve", positives, negatives)?;
    let steps = binary_clf_curve(scores, labels);
    // Keep the ends and every point where the curve turns (second difference non-zero).
    let kept: Vec<&(usize, usize, f64)> = if steps.len() > 2 {
        let second_diff = |a: usize, b: usize, c: usize| a as i64 - 2 * b as i64 + c as i64;
        let turn = |i: usize| {
            let (before, here, after) = (steps[i - 1], steps[i], steps[i + 1]);
            second_diff(before.0, here.0, after.0) != 0
                || second_diff(before.1, here.1, after.1) != 0
        };
        let last = steps.len() - 1;
        (0..steps.len())
            .filter(|&i| i == 0 || i == last || turn(i))
            .map(|i| &steps[i])
            .collect()
    } else {
        steps.iter().collect()
    };
    let mut curve = Vec::with_capacity(kept.len() + 1);
    curve.push(RocPoint {
        fpr: 0.0,
        tpr: 0.0,
        threshold: f64::INFINITY,
    });
    for &&(fps, tps, threshold) in &kept {
        curve.push(RocPoint {
            fpr: fps as f64 / negatives as f64,
            tpr: tps as f64 / positives as f64,
            threshold,
        });
    }
    Ok(curve)
}

/// Precision–recall curve as `sklearn.metrics.precision_recall_curve` (default
/// `drop_intermediate=False`): thresholds ascending (recall decreasing), one point per distinct
/// score, then a final (precision 1, recall 0) point with threshold +inf. Needs an anomaly.
pub fn precision_recall_curve(scores: &[f64], labels: &[u8]) -> Result<Vec<PrPoint>, MetricError> {
    let (positives, _) = check_scores_labels(scores, labels)?;
    require_positives("precision-recall curve", positives, labels.len())?;
    let mut curve: Vec<PrPoint> = binary_clf_curve(scores, labels)
        .into_iter()
        .rev()
        .map(|(fps, tps, threshold)| PrPoint {
            precision: tps as f64 / (tps + fps) as f64,
            recall: tps as f64 / positives as f64,
            threshold,
        })
        .collect();
    curve.push(PrPoint {
        precision: 1.0,
        recall: 0.0,
        threshold: f64::INFINITY,
    });
    Ok(curve)
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

    fn close_all(actual: &[f64], expected: &[f64]) {
        assert_eq!(
            actual.len(),
            expected.len(),
            "lengths differ: {actual:?} vs {expected:?}"
        );
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                (a - e).abs() <= TOL,
                "expected {expected:?}, got {actual:?}"
            );
        }
    }

    // A small set with ties, some of them across classes (0.35 holds both labels).
    const S: [f64; 10] = [0.1, 0.4, 0.35, 0.8, 0.35, 0.9, 0.2, 0.35, 0.6, 0.1];
    const Y: [u8; 10] = [0, 0, 1, 1, 0, 1, 0, 1, 0, 1];

    // ---- average_ranks ----

    #[test]
    fn average_ranks_match_scipy_rankdata() {
        // scipy.stats.rankdata(S)
        close_all(
            &average_ranks(&S),
            &[1.5, 7.0, 5.0, 9.0, 5.0, 10.0, 3.0, 5.0, 8.0, 1.5],
        );
        // scipy.stats.rankdata([3, 3, 3])
        close_all(&average_ranks(&[3.0, 3.0, 3.0]), &[2.0, 2.0, 2.0]);
        assert!(average_ranks(&[]).is_empty());
    }

    #[test]
    fn average_ranks_do_not_panic_on_nan() {
        let r = average_ranks(&[f64::NAN, 1.0, f64::NAN]);
        assert_eq!(r[1], 1.0);
        assert_eq!(r.len(), 3);
    }

    // ---- percentile / median ----

    #[test]
    fn percentile_matches_numpy() {
        let v = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0];
        // np.percentile(v, 90) -> 7.5
        close(percentile(&v, 90.0), 7.5);
        // np.percentile(v, 25) -> 2.25
        close(percentile(&v, 25.0), 2.25);
        // np.percentile(v, 100 * (1 - 0.1)) with S -> 0.81
        close(percentile(&S, 100.0 * (1.0 - 0.1)), 0.81);
        close(percentile(&v, 0.0), 1.0);
        close(percentile(&v, 100.0), 10.0);
        // np.median(v) -> 3.5 ; np.median([3, 1, 2]) -> 2
        close(median(&v), 3.5);
        close(median(&[3.0, 1.0, 2.0]), 2.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn percentile_by_selection_equals_percentile_of_the_sorted_values() {
        // Ties, signed zeros, both ends and every interpolation weight.
        let mut state = 11u64;
        for n in [1usize, 2, 3, 7, 64, 1000] {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    match state >> 62 {
                        0 => 0.0,
                        1 => -0.0,
                        _ => ((state >> 40) % 17) as f64 / 3.0 - 2.0,
                    }
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            for q in [0.0, 0.1, 10.0, 33.3, 50.0, 90.0, 99.9, 100.0] {
                assert_eq!(
                    percentile(&v, q).to_bits(),
                    percentile_sorted(&sorted, q).to_bits(),
                    "n = {n}, q = {q}"
                );
            }
        }
    }

    #[test]
    fn percentile_is_bit_identical_to_numpy() {
        // np.percentile([0.36, 0.42, 0.54, 0.11, 0.41], 90) -> 0.49200000000000005, which NumPy
        // gets by interpolating down from the upper value (a + (b - a) * t would give 0.492).
        assert_eq!(
            percentile(&[0.36, 0.42, 0.54, 0.11, 0.41], 90.0),
            0.49200000000000005
        );
    }

    // ---- roc_auc ----

    #[test]
    fn roc_auc_matches_sklearn_with_ties() {
        // sklearn.metrics.roc_auc_score(Y, S) -> 0.62
        close(roc_auc(&S, &Y).unwrap(), 0.62);
        // roc_auc_score([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) -> 0.5 (all tied)
        close(roc_auc(&[0.5; 4], &[0, 1, 0, 1]).unwrap(), 0.5);
        // roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) -> 0.75
        close(
            roc_auc(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]).unwrap(),
            0.75,
        );
        // perfect and inverted orderings
        close(roc_auc(&[1.0, 2.0, 3.0], &[0, 1, 1]).unwrap(), 1.0);
        close(roc_auc(&[3.0, 2.0, 1.0], &[0, 1, 1]).unwrap(), 0.0);
    }

    #[test]
    fn roc_auc_rejects_bad_input() {
        assert!(matches!(
            roc_auc(&[0.1, 0.2], &[0, 0]),
            Err(MetricError::SingleClass { class: 0, .. })
        ));
        assert!(matches!(
            roc_auc(&[0.1, 0.2], &[1, 1]),
            Err(MetricError::SingleClass { class: 1, .. })
        ));
        assert!(matches!(
            roc_auc(&[0.1, 0.2, 0.3], &[0, 1]),
            Err(MetricError::LengthMismatch {
                left: 3,
                right: 2,
                ..
            })
        ));
        assert!(matches!(
            roc_auc(&[0.1, f64::NAN], &[0, 1]),
            Err(MetricError::NonFinite {
                what: "scores",
                index: 1,
                ..
            })
        ));
        assert!(matches!(
            roc_auc(&[0.1, f64::INFINITY], &[0, 1]),
            Err(MetricError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            roc_auc(&[0.1, 0.2], &[0, 2]),
            Err(MetricError::InvalidLabel { index: 1, value: 2 })
        ));
        assert!(matches!(roc_auc(&[], &[]), Err(MetricError::Empty { .. })));
    }

    #[test]
    fn error_messages_name_the_problem() {
        let msg = roc_auc(&[0.1, 0.2], &[0, 0]).unwrap_err().to_string();
        assert!(
            msg.contains("both classes") && msg.contains("no anomalies"),
            "{msg}"
        );
        let msg = roc_auc(&[0.1, f64::NAN], &[0, 1]).unwrap_err().to_string();
        assert!(msg.contains("scores[1]") && msg.contains("NaN"), "{msg}");
    }

    // ---- average_precision ----

    #[test]
    fn average_precision_matches_sklearn() {
        // sklearn.metrics.average_precision_score(Y, S) -> 0.7285714285714284
        close(average_precision(&S, &Y).unwrap(), 0.7285714285714284);
        // average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) -> 0.8333333333333333
        close(
            average_precision(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]).unwrap(),
            0.8333333333333333,
        );
        // average_precision_score([0, 1, 0, 1], [0.5] * 4) -> 0.5 (one tied threshold)
        close(average_precision(&[0.5; 4], &[0, 1, 0, 1]).unwrap(), 0.5);
        // average_precision_score([1, 1], [0.3, 0.1]) -> 1.0 (no negatives is fine)
        close(average_precision(&[0.3, 0.1], &[1, 1]).unwrap(), 1.0);
    }

    #[test]
    fn average_precision_needs_an_anomaly() {
        assert!(matches!(
            average_precision(&[0.1, 0.2], &[0, 0]),
            Err(MetricError::SingleClass { class: 0, .. })
        ));
    }

    // ---- precision_at_n ----

    #[test]
    fn precision_at_n_matches_pyod() {
        // pyod.utils.utility.precision_n_scores(Y, S) -> 0.5
        // (n = 5 positives; threshold np.percentile(S, 50) = 0.35 is tied 3 times and `>` is
        // strict, so only 4 are flagged: 2 of them anomalies)
        close(precision_at_n(&S, &Y, None).unwrap(), 0.5);
        // precision_n_scores(Y, S, n=2) -> 1.0 (threshold 0.64)
        close(precision_at_n(&S, &Y, Some(2)).unwrap(), 1.0);
        // precision_n_scores(Y, S, n=3) -> 0.6666666666666666
        close(precision_at_n(&S, &Y, Some(3)).unwrap(), 0.6666666666666666);
        // precision_n_scores(Y, S, n=7) -> 0.5714285714285714 (threshold 0.305)
        close(precision_at_n(&S, &Y, Some(7)).unwrap(), 0.5714285714285714);
        // precision_n_scores([1, 0, 0, 0], [1., 1., 1., 0.], n=1) -> 0.0: the threshold is 1.0
        // and nothing is strictly above it (a `>=` rule would give 1/3)
        close(
            precision_at_n(&[1.0, 1.0, 1.0, 0.0], &[1, 0, 0, 0], Some(1)).unwrap(),
            0.0,
        );
        // PyOD docstring example: precision_n_scores([0,1,1,0,0],[0.1,0.5,0.3,0.2,0.7]) -> 0.5
        close(
            precision_at_n(&[0.1, 0.5, 0.3, 0.2, 0.7], &[0, 1, 1, 0, 0], None).unwrap(),
            0.5,
        );
        // all scores tied: nothing is strictly above the threshold -> 0 (sklearn zero_division)
        close(precision_at_n(&[1.0; 4], &[0, 1, 0, 1], None).unwrap(), 0.0);
    }

    #[test]
    fn precision_at_n_rejects_bad_n() {
        assert!(matches!(
            precision_at_n(&S, &Y, Some(0)),
            Err(MetricError::InvalidN { n: 0, len: 10 })
        ));
        assert!(matches!(
            precision_at_n(&S, &Y, Some(11)),
            Err(MetricError::InvalidN { n: 11, len: 10 })
        ));
        assert!(matches!(
            precision_at_n(&[0.1, 0.2], &[0, 0], None),
            Err(MetricError::SingleClass { .. })
        ));
        // An explicit n works without anomalies in the labels.
        close(precision_at_n(&[0.1, 0.2], &[0, 0], Some(1)).unwrap(), 0.0);
    }

    // ---- confusion_at_threshold ----

    #[test]
    fn confusion_at_threshold_counts_strictly_above() {
        // flagged = S > 0.35 -> [0,1,0,1,0,1,0,0,1,0]
        // sklearn precision_score / recall_score / f1_score -> 0.5, 0.4, 0.4444444444444444
        let m = confusion_at_threshold(&S, &Y, 0.35).unwrap();
        assert_eq!((m.tp, m.fp, m.fn_, m.tn), (2, 2, 3, 3));
        close(m.precision, 0.5);
        close(m.recall, 0.4);
        close(m.f1, 0.4444444444444444);
    }

    #[test]
    fn confusion_at_threshold_zero_division_gives_zero() {
        let m = confusion_at_threshold(&S, &Y, 1.0).unwrap();
        assert_eq!((m.tp, m.fp, m.fn_, m.tn), (0, 0, 5, 5));
        assert_eq!((m.precision, m.recall, m.f1), (0.0, 0.0, 0.0));
        let m = confusion_at_threshold(&[0.1, 0.9], &[0, 0], 0.5).unwrap();
        assert_eq!((m.tp, m.fp, m.fn_, m.tn), (0, 1, 0, 1));
        assert_eq!((m.precision, m.recall, m.f1), (0.0, 0.0, 0.0));
        assert!(matches!(
            confusion_at_threshold(&S, &Y, f64::NAN),
            Err(MetricError::NanThreshold)
        ));
    }

    #[test]
    fn confusion_serializes_fn_field_as_fn() {
        let m = confusion_at_threshold(&S, &Y, 0.35).unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains("\"fn\":3"), "{json}");
    }

    // ---- spearman ----

    #[test]
    fn spearman_matches_scipy_with_ties() {
        let a = [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0];
        let b = [2.0, 1.0, 3.0, 3.0, 6.0, 5.0, 4.0];
        // scipy.stats.spearmanr(a, b).statistic -> 0.7981987297166115
        close(spearman(&a, &b).unwrap(), 0.7981987297166115);
        // spearmanr(S, Y.astype(float)).statistic -> 0.21213203435596423
        let yf: Vec<f64> = Y.iter().map(|&v| v as f64).collect();
        close(spearman(&S, &yf).unwrap(), 0.21213203435596423);
        close(
            spearman(&[1.0, 2.0, 3.0], &[30.0, 20.0, 10.0]).unwrap(),
            -1.0,
        );
    }

    #[test]
    fn spearman_rejects_bad_input() {
        assert!(matches!(
            spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]),
            Err(MetricError::ConstantInput { what: "a" })
        ));
        assert!(matches!(
            spearman(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]),
            Err(MetricError::ConstantInput { what: "b" })
        ));
        assert!(matches!(
            spearman(&[1.0, 2.0], &[f64::NAN, 1.0]),
            Err(MetricError::NonFinite {
                what: "b",
                index: 0,
                ..
            })
        ));
        assert!(matches!(
            spearman(&[1.0], &[1.0]),
            Err(MetricError::TooFew { got: 1, .. })
        ));
        assert!(matches!(
            spearman(&[1.0, 2.0], &[1.0]),
            Err(MetricError::LengthMismatch { .. })
        ));
    }

    // ---- curves ----

    #[test]
    fn roc_curve_matches_sklearn() {
        // fpr, tpr, thr = sklearn.metrics.roc_curve(Y, S)
        // fpr -> [0.  0.  0.  0.4 0.6 0.8 1. ]
        // tpr -> [0.  0.2 0.4 0.4 0.8 0.8 1. ]
        // thr -> [inf 0.9 0.8 0.4 0.35 0.2 0.1]   (0.6 dropped as collinear)
        let c = roc_curve(&S, &Y).unwrap();
        let fpr: Vec<f64> = c.iter().map(|p| p.fpr).collect();
        let tpr: Vec<f64> = c.iter().map(|p| p.tpr).collect();
        let thr: Vec<f64> = c.iter().map(|p| p.threshold).collect();
        close_all(&fpr, &[0.0, 0.0, 0.0, 0.4, 0.6, 0.8, 1.0]);
        close_all(&tpr, &[0.0, 0.2, 0.4, 0.4, 0.8, 0.8, 1.0]);
        assert_eq!(thr[0], f64::INFINITY);
        close_all(&thr[1..], &[0.9, 0.8, 0.4, 0.35, 0.2, 0.1]);
    }

    #[test]
    fn roc_curve_keeps_everything_when_short() {
        // roc_curve([0, 1], [0.2, 0.7]) -> fpr [0, 0, 1], tpr [0, 1, 1], thr [inf, 0.7, 0.2]
        let c = roc_curve(&[0.2, 0.7], &[0, 1]).unwrap();
        assert_eq!(c.len(), 3);
        close_all(
            &c.iter().map(|p| p.fpr).collect::<Vec<_>>(),
            &[0.0, 0.0, 1.0],
        );
        close_all(
            &c.iter().map(|p| p.tpr).collect::<Vec<_>>(),
            &[0.0, 1.0, 1.0],
        );
        assert!(roc_curve(&[0.2, 0.7], &[1, 1]).is_err());
    }

    #[test]
    fn precision_recall_curve_matches_sklearn() {
        // p, r, t = sklearn.metrics.precision_recall_curve(Y, S)
        // p -> [0.5, 0.5, 0.5714285714285714, 0.5, 0.6666666666666666, 1.0, 1.0, 1.0]
        // r -> [1.0, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.0]
        // t -> [0.1, 0.2, 0.35, 0.4, 0.6, 0.8, 0.9]
        let c = precision_recall_curve(&S, &Y).unwrap();
        let p: Vec<f64> = c.iter().map(|x| x.precision).collect();
        let r: Vec<f64> = c.iter().map(|x| x.recall).collect();
        let t: Vec<f64> = c.iter().map(|x| x.threshold).collect();
        close_all(
            &p,
            &[
                0.5,
                0.5,
                0.5714285714285714,
                0.5,
                0.6666666666666666,
                1.0,
                1.0,
                1.0,
            ],
        );
        close_all(&r, &[1.0, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.0]);
        close_all(&t[..7], &[0.1, 0.2, 0.35, 0.4, 0.6, 0.8, 0.9]);
        assert_eq!(t[7], f64::INFINITY);
        assert!(precision_recall_curve(&[0.1], &[0]).is_err());
    }

    #[test]
    fn average_precision_equals_step_integral_of_pr_curve() {
        // -np.sum(np.diff(r) * p[:-1]), the formula sklearn uses.
        let c = precision_recall_curve(&S, &Y).unwrap();
        let integral: f64 = -c
            .windows(2)
            .map(|w| (w[1].recall - w[0].recall) * w[0].precision)
            .sum::<f64>();
        close(integral, average_precision(&S, &Y).unwrap());
    }
}

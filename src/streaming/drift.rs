//! Drift between a reference sample and a current one, per feature: has the data itself
//! changed? Numeric features get the two-sample Kolmogorov–Smirnov test (statistic and its
//! asymptotic p-value), the population stability index and the Wasserstein-1 distance;
//! categorical ones Pearson's chi-squared test of the 2 × k table of counts (Yates' correction
//! when k = 2, as scipy's `chi2_contingency`). Values checked against scipy in
//! `tests/streaming.rs` (fixtures in `tests/fixtures/drift/`).

use std::collections::BTreeMap;

use serde::Serialize;

/// One feature's comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDrift {
    pub feature: String,
    /// `ks` or `chi2`.
    pub test: &'static str,
    pub statistic: f64,
    pub p_value: f64,
    /// Numeric features: the population stability index over the reference's deciles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<f64>,
    /// Numeric features: the Wasserstein-1 (earth mover's) distance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wasserstein: Option<f64>,
    pub n_reference: usize,
    pub n_current: usize,
}

/// KS, PSI and Wasserstein of two numeric samples (non-finite values left out); `None` when
/// either is empty.
pub fn numeric_drift(feature: &str, reference: &[f64], current: &[f64]) -> Option<FeatureDrift> {
    let mut a: Vec<f64> = reference
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let mut b: Vec<f64> = current.iter().copied().filter(|v| v.is_finite()).collect();
    if a.is_empty() || b.is_empty() {
        return None;
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let d = ks_statistic(&a, &b);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let en = n * m / (n + m);
    Some(FeatureDrift {
        feature: feature.to_string(),
        test: "ks",
        statistic: d,
        p_value: kolmogorov_sf(en.sqrt() * d),
        psi: Some(psi(&a, &b)),
        wasserstein: Some(wasserstein(&a, &b)),
        n_reference: a.len(),
        n_current: b.len(),
    })
}

/// Chi-squared test of the category counts of two samples; `None` with fewer than two
/// categories or an empty sample.
pub fn categorical_drift(
    feature: &str,
    reference: &[String],
    current: &[String],
) -> Option<FeatureDrift> {
    let mut counts: BTreeMap<&str, [f64; 2]> = BTreeMap::new();
    for v in reference {
        counts.entry(v).or_default()[0] += 1.0;
    }
    for v in current {
        counts.entry(v).or_default()[1] += 1.0;
    }
    if counts.len() < 2 || reference.is_empty() || current.is_empty() {
        return None;
    }
    let table: Vec<[f64; 2]> = counts.into_values().collect();
    let (statistic, p_value) = chi2_contingency(&table);
    Some(FeatureDrift {
        feature: feature.to_string(),
        test: "chi2",
        statistic,
        p_value,
        psi: None,
        wasserstein: None,
        n_reference: reference.len(),
        n_current: current.len(),
    })
}

/// sup |F_a − F_b| of two sorted samples.
fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

/// The survival function of Kolmogorov's limiting distribution (scipy's `kstwobign.sf`).
pub fn kolmogorov_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < 1.0 {
        // 1 − CDF, the CDF by its theta-function series (fast for small x).
        let c = std::f64::consts::PI.powi(2) / (8.0 * x * x);
        let sum: f64 = (1..=20)
            .map(|k| (-((2 * k - 1) as f64).powi(2) * c).exp())
            .sum();
        return (1.0 - (2.0 * std::f64::consts::PI).sqrt() / x * sum).clamp(0.0, 1.0);
    }
    let sum: f64 = (1..=100)
        .map(|k| {
            let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
            sign * (-2.0 * (k * k) as f64 * x * x).exp()
        })
        .sum();
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Bins of the population stability index: the reference's deciles.
const PSI_BINS: usize = 10;
/// A bin's share is at least this, so that an empty bin does not make the index infinite.
const PSI_FLOOR: f64 = 1e-4;

/// `Σ (c − r)·ln(c / r)` over the bins the reference's deciles make, shares floored at 1e-4.
/// Rule of thumb: < 0.1 stable, 0.1–0.25 some shift, > 0.25 a shift.
fn psi(a: &[f64], b: &[f64]) -> f64 {
    let mut edges: Vec<f64> = (1..PSI_BINS)
        .map(|k| a[(k * a.len() / PSI_BINS).min(a.len() - 1)])
        .collect();
    edges.dedup();
    let shares = |s: &[f64]| {
        let mut counts = vec![0usize; edges.len() + 1];
        for &v in s {
            counts[edges.partition_point(|&e| e <= v)] += 1;
        }
        counts
            .into_iter()
            .map(|c| (c as f64 / s.len() as f64).max(PSI_FLOOR))
            .collect::<Vec<f64>>()
    };
    let (r, c) = (shares(a), shares(b));
    r.iter().zip(&c).map(|(r, c)| (c - r) * (c / r).ln()).sum()
}

/// ∫ |F_a − F_b| of two sorted samples (scipy's `wasserstein_distance`).
fn wasserstein(a: &[f64], b: &[f64]) -> f64 {
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut total = 0.0;
    for w in all.windows(2) {
        while i < a.len() && a[i] <= w[0] {
            i += 1;
        }
        while j < b.len() && b[j] <= w[0] {
            j += 1;
        }
        total += (i as f64 / n - j as f64 / m).abs() * (w[1] - w[0]);
    }
    total
}

/// Pearson's chi-squared test of a k × 2 table of counts: (statistic, p-value), with Yates'
/// continuity correction for a 2 × 2 table (scipy's default).
pub fn chi2_contingency(table: &[[f64; 2]]) -> (f64, f64) {
    let total: f64 = table.iter().map(|r| r[0] + r[1]).sum();
    let cols = [
        table.iter().map(|r| r[0]).sum::<f64>(),
        table.iter().map(|r| r[1]).sum::<f64>(),
    ];
    let dof = table.len().saturating_sub(1);
    let yates = dof == 1;
    let mut statistic = 0.0;
    for row in table {
        let row_total = row[0] + row[1];
        for (j, &observed) in row.iter().enumerate() {
            let expected = row_total * cols[j] / total;
            if expected > 0.0 {
                let mut diff = (observed - expected).abs();
                if yates {
                    diff = (diff - 0.5).max(0.0);
                }
                statistic += diff * diff / expected;
            }
        }
    }
    (statistic, chi2_sf(statistic, dof as f64))
}

/// The chi-squared survival function, `Q(k/2, x/2)`.
pub fn chi2_sf(x: f64, k: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    crate::numeric::special::gamma_q(k / 2.0, x / 2.0)
}

/// Drift while watching: each feature's first `window` records (after the warm-up) are the
/// reference; the last `window` records are compared with it every `window / 4` records with
/// the KS test. A feature whose p-value falls below the level raises one event, and another
/// only after it has come back above it. O(features · window) memory.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DriftMonitor {
    window: usize,
    level: f64,
    reference: Vec<Vec<f64>>,
    current: Vec<std::collections::VecDeque<f64>>,
    drifting: Vec<bool>,
    seen: u64,
}

/// A drift found while watching.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftEvent {
    pub feature: usize,
    pub statistic: f64,
    pub p_value: f64,
}

impl DriftMonitor {
    /// `alpha` is the false-alarm rate over all `n_features` (each is tested at alpha / n).
    pub fn new(n_features: usize, window: usize, alpha: f64) -> DriftMonitor {
        DriftMonitor {
            window: window.max(20),
            level: alpha / n_features.max(1) as f64,
            reference: vec![Vec::new(); n_features],
            current: vec![std::collections::VecDeque::new(); n_features],
            drifting: vec![false; n_features],
            seen: 0,
        }
    }

    /// Adds a record; the drifts it reveals.
    pub fn push(&mut self, x: &[f64]) -> Vec<DriftEvent> {
        self.seen += 1;
        let mut events = Vec::new();
        let check = self.seen.is_multiple_of((self.window / 4).max(1) as u64);
        for (j, &v) in x.iter().enumerate().take(self.reference.len()) {
            if self.reference[j].len() < self.window {
                self.reference[j].push(v);
                continue;
            }
            let current = &mut self.current[j];
            current.push_back(v);
            if current.len() > self.window {
                current.pop_front();
            }
            if !check || current.len() < self.window {
                continue;
            }
            let now: Vec<f64> = current.iter().copied().collect();
            let Some(d) = numeric_drift("", &self.reference[j], &now) else {
                continue;
            };
            let drifted = d.p_value < self.level;
            if drifted && !self.drifting[j] {
                events.push(DriftEvent {
                    feature: j,
                    statistic: d.statistic,
                    p_value: d.p_value,
                });
            }
            self.drifting[j] = drifted;
        }
        events
    }
}

/// Page–Hinkley change detection on a stream (river's defaults: 30 records before any
/// verdict, δ = 0.005, λ = 50, forgetting factor 0.9999), for a rise in the mean: after a
/// change it starts again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PageHinkley {
    n: u64,
    mean: f64,
    sum: f64,
    min_sum: f64,
}

const PH_MIN_RECORDS: u64 = 30;
const PH_DELTA: f64 = 0.005;
const PH_THRESHOLD: f64 = 50.0;
const PH_ALPHA: f64 = 0.9999;

impl Default for PageHinkley {
    fn default() -> Self {
        PageHinkley {
            n: 0,
            mean: 0.0,
            sum: 0.0,
            min_sum: 0.0,
        }
    }
}

impl PageHinkley {
    /// Adds a value; `Some(statistic)` when the mean has risen.
    pub fn push(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return None;
        }
        self.n += 1;
        self.mean += (x - self.mean) / self.n as f64;
        self.sum = PH_ALPHA * self.sum + (x - self.mean - PH_DELTA);
        self.min_sum = self.min_sum.min(self.sum);
        let statistic = self.sum - self.min_sum;
        if self.n >= PH_MIN_RECORDS && statistic > PH_THRESHOLD {
            *self = PageHinkley::default();
            return Some(statistic);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_do_not_drift() {
        let a: Vec<f64> = (0..500).map(|i| (i as f64 * 0.37).sin()).collect();
        let d = numeric_drift("x", &a, &a).unwrap();
        assert_eq!(d.statistic, 0.0);
        assert_eq!(d.p_value, 1.0);
        assert!(d.psi.unwrap().abs() < 1e-12);
        assert!(d.wasserstein.unwrap().abs() < 1e-12);
    }

    #[test]
    fn the_monitor_raises_one_event_per_drift() {
        let mut m = DriftMonitor::new(2, 200, 0.01);
        let mut events = Vec::new();
        for i in 0..2000 {
            let v = ((i * 37) % 101) as f64;
            let shifted = if i >= 1000 { v + 60.0 } else { v };
            events.extend(m.push(&[v, shifted]));
        }
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].feature, 1);
    }

    #[test]
    fn page_hinkley_sees_a_rise() {
        let mut ph = PageHinkley::default();
        let before: Vec<_> = (0..500)
            .filter_map(|i| ph.push((i % 3) as f64 * 0.1))
            .collect();
        assert!(before.is_empty());
        let after = (0..500).find(|&i| ph.push(5.0 + (i % 3) as f64 * 0.1).is_some());
        assert!(after.is_some_and(|i| i < 30));
    }

    #[test]
    fn a_shifted_sample_drifts() {
        let a: Vec<f64> = (0..500).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = a.iter().map(|v| v + 0.5).collect();
        let d = numeric_drift("x", &a, &b).unwrap();
        assert!(d.p_value < 1e-6 && d.psi.unwrap() > 0.25);
        assert!((d.wasserstein.unwrap() - 0.5).abs() < 1e-9);
    }
}

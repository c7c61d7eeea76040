//! A windowed kNN conformal detector, after KNN-CAD (Burnaev & Ishimtsev, "Conformalized
//! density- and distance-based anomaly detection in time-series data", 2016; NAB's `knncad`
//! with its constants). Each input is a shingle (see `shingle`). Its nonconformity is the sum
//! of the squared distances to its `k` nearest shingles among the last `window` ones; its
//! conformal p-value is the share of the last `window` nonconformities below it. The score is
//! `−ln(1 − min(p, 0.9999)) / ln(10⁴)`, in [0, 1]: a p-value that saturates near 1 still
//! separates "rare" from "never seen".
//!
//! Distances are scaled by the training window's range (all entries), refreshed every half
//! window, so that the scores do not depend on the data's units.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KnnCad {
    k: usize,
    window: usize,
    /// The last `window` inputs (the training set).
    train: VecDeque<Vec<f64>>,
    /// The last `window` nonconformities (the calibration set).
    calibration: VecDeque<f64>,
    /// 1 / range² of the training set's entries.
    scale: Option<f64>,
    /// Inputs seen (for the refresh of `scale`).
    seen: u64,
    #[serde(skip)]
    distances: Vec<f64>,
}

impl KnnCad {
    pub fn new(k: usize, window: usize) -> KnnCad {
        let window = window.max(2);
        KnnCad {
            k: k.clamp(1, window - 1),
            window,
            train: VecDeque::new(),
            calibration: VecDeque::new(),
            scale: None,
            seen: 0,
            distances: Vec::new(),
        }
    }

    /// Scores `x`, then learns it. No score until the training window is full.
    pub fn score_learn(&mut self, x: &[f64]) -> Option<f64> {
        let index = self.seen;
        self.seen += 1;
        if self.train.len() < self.window {
            self.train.push_back(x.to_vec());
            return None;
        }
        if self.scale.is_none() || index.is_multiple_of((self.window / 2).max(1) as u64) {
            self.scale = Some(self.range_scale());
        }
        let ncm = self.nonconformity(x, self.k);
        if self.calibration.is_empty() {
            // The first training window calibrates itself, each input against the others
            // (k + 1 nearest: the input's zero distance to itself is among them).
            for j in 0..self.train.len() {
                let item = self.train[j].clone();
                let c = self.nonconformity(&item, self.k + 1);
                self.calibration.push_back(c);
            }
        }
        let below = self.calibration.iter().filter(|&&c| c < ncm).count();
        let p = below as f64 / self.calibration.len() as f64;
        self.calibration.push_back(ncm);
        if self.calibration.len() > self.window {
            self.calibration.pop_front();
        }
        self.train.push_back(x.to_vec());
        if self.train.len() > self.window {
            self.train.pop_front();
        }
        Some((-(1.0 - p.min(0.9999)).ln() / 1e4f64.ln()).clamp(0.0, 1.0))
    }

    fn range_scale(&self) -> f64 {
        let (lo, hi) = self
            .train
            .iter()
            .flatten()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let range = if hi > lo { hi - lo } else { 0.0 };
        1.0 / range.max(1e-12).powi(2)
    }

    /// The sum of the `k` smallest scaled squared distances from `x` to the training inputs.
    fn nonconformity(&mut self, x: &[f64], k: usize) -> f64 {
        let scale = self.scale.unwrap_or(1.0);
        self.distances.clear();
        self.distances.extend(
            self.train
                .iter()
                .map(|t| t.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() * scale),
        );
        let k = k.min(self.distances.len());
        if k == 0 {
            return 0.0;
        }
        if k < self.distances.len() {
            self.distances.select_nth_unstable_by(k - 1, f64::total_cmp);
        }
        self.distances[..k].iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_pattern_scores_higher_than_the_usual_ones() {
        let mut d = KnnCad::new(5, 100);
        let shingle = |t: usize| -> Vec<f64> {
            (0..4)
                .map(|i| ((t + i) as f64 * std::f64::consts::TAU / 20.0).sin())
                .collect()
        };
        let mut usual = Vec::new();
        for t in 0..400 {
            if let Some(s) = d.score_learn(&shingle(t)) {
                usual.push(s);
            }
        }
        let mean = usual.iter().sum::<f64>() / usual.len() as f64;
        let odd = d.score_learn(&[3.0, -3.0, 3.0, -3.0]).unwrap();
        assert!(mean < 0.5 && odd > 0.99, "{odd} vs a mean of {mean}");
        assert!((0.0..=1.0).contains(&odd));
    }
}

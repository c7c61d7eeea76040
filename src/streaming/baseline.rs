//! The windowed baseline: each feature's distance from the recent past, in units of its spread.
//! `z-score` uses the window's mean and standard deviation, `mad` its median and median absolute
//! deviation (robust to the outliers the window holds). The score is the largest distance over
//! the features (as erf(z/√2), in [0, 1]), computed before the record joins the window.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::probability::erf;

/// Records the window must hold before it scores.
const MIN_HISTORY: usize = 10;

/// MAD × this estimates the standard deviation of a normal distribution.
const MAD_TO_SD: f64 = 1.4826;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowedBaseline {
    window: usize,
    robust: bool,
    /// The last `window` records, oldest first.
    rows: VecDeque<Vec<f64>>,
}

impl WindowedBaseline {
    pub fn new(window: usize, robust: bool) -> WindowedBaseline {
        WindowedBaseline {
            window: window.max(2),
            robust,
            rows: VecDeque::new(),
        }
    }

    /// Scores `x` against the window, then adds it (dropping the oldest record when full).
    /// The score is erf(z/√2) of the largest distance z: the share of a normal distribution
    /// nearer the centre, in [0, 1]. No score before the window holds `MIN_HISTORY` records.
    pub fn score_learn(&mut self, x: &[f64]) -> Option<f64> {
        let score = (self.rows.len() >= MIN_HISTORY).then(|| {
            let z = (0..x.len())
                .map(|j| self.distance(j, x[j]))
                .fold(0.0, f64::max);
            erf(z / std::f64::consts::SQRT_2)
        });
        if self.rows.len() == self.window {
            self.rows.pop_front();
        }
        self.rows.push_back(x.to_vec());
        score
    }

    fn distance(&self, j: usize, v: f64) -> f64 {
        if !v.is_finite() {
            return 0.0;
        }
        let mut values: Vec<f64> = self
            .rows
            .iter()
            .filter_map(|r| r.get(j).copied())
            .filter(|v| v.is_finite())
            .collect();
        if values.len() < 2 {
            return 0.0;
        }
        let (centre, spread) = if self.robust {
            let centre = median(&mut values);
            let mut deviations: Vec<f64> = values.iter().map(|x| (x - centre).abs()).collect();
            (centre, MAD_TO_SD * median(&mut deviations))
        } else {
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
            (mean, var.sqrt())
        };
        // A flat window: any change is as far as the smallest spread we can tell apart.
        let floor = 1e-9 * centre.abs().max(1.0);
        (v - centre).abs() / spread.max(floor)
    }
}

fn median(values: &mut [f64]) -> f64 {
    let mid = values.len() / 2;
    let (_, m, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if values.len() % 2 == 1 {
        m
    } else {
        let below = values[..mid]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (m + below) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jump_scores_in_units_of_spread() {
        for robust in [false, true] {
            let mut b = WindowedBaseline::new(50, robust);
            for i in 0..100 {
                b.score_learn(&[10.0 + (i % 2) as f64]);
            }
            let jump = b.score_learn(&[30.0]).unwrap();
            assert!(jump > 0.999_999, "robust={robust}: {jump}");
            let normal = b.score_learn(&[10.5]).unwrap();
            assert!(normal < 0.9, "robust={robust}: {normal}");
        }
    }
}

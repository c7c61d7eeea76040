//! Shingling: the vector a detector sees is the last `w` records of every feature, so that a
//! pattern (a missing daily peak, a changed rhythm) is as visible as a point. There is no vector
//! before `w` records. The length can be estimated from the
//! data: the lag of the first clear peak of the autocorrelation of the warm-up.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The longest shingle the automatic choice picks (a daily cycle of 5-minute steps is 288
/// records: longer shingles dilute a point anomaly among old values).
pub const MAX_AUTO_SHINGLE: usize = 64;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shingle {
    w: usize,
    d: usize,
    history: VecDeque<Vec<f64>>,
    /// The vector handed out: feature-major (feature 0's w values, then feature 1's, …).
    vector: Vec<f64>,
}

impl Shingle {
    pub fn new(w: usize, d: usize) -> Shingle {
        Shingle {
            w: w.max(1),
            d,
            history: VecDeque::new(),
            vector: Vec::new(),
        }
    }

    /// The shingle length.
    pub fn len(&self) -> usize {
        self.w
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Adds a record; the vector of the last `w` records, oldest first, once there are `w`.
    pub fn push(&mut self, x: &[f64]) -> Option<&[f64]> {
        if self.w == 1 {
            self.vector.clear();
            self.vector.extend_from_slice(x);
            return Some(&self.vector);
        }
        self.history.push_back(x.to_vec());
        while self.history.len() > self.w {
            self.history.pop_front();
        }
        if self.history.len() < self.w {
            return None;
        }
        self.vector.clear();
        for j in 0..self.d {
            self.vector.extend(self.history.iter().map(|r| r[j]));
        }
        Some(&self.vector)
    }
}

/// The lag (2..=`max`) of the highest autocorrelation peak of the first feature in `rows`
/// above 0.3, or 1 when there is no clear period.
pub fn estimate_period(rows: &[Vec<f64>], max: usize) -> usize {
    let series: Vec<f64> = rows.iter().filter_map(|r| r.first().copied()).collect();
    let n = series.len();
    if n < 8 {
        return 1;
    }
    let mean = series.iter().sum::<f64>() / n as f64;
    let var: f64 = series.iter().map(|v| (v - mean) * (v - mean)).sum();
    if var <= 0.0 {
        return 1;
    }
    let max = max.min(n / 2);
    let acf: Vec<f64> = (0..=max)
        .map(|lag| {
            (lag..n)
                .map(|t| (series[t] - mean) * (series[t - lag] - mean))
                .sum::<f64>()
                / var
        })
        .collect();
    // A peak: higher than both neighbours, after the correlation has first fallen.
    let mut best = (1, 0.3);
    for lag in 2..max {
        if acf[lag] > acf[lag - 1] && acf[lag] >= acf[lag + 1] && acf[lag] > best.1 {
            best = (lag, acf[lag]);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_hold_the_last_w_records_per_feature() {
        let mut s = Shingle::new(3, 2);
        assert_eq!(s.push(&[1.0, 10.0]), None);
        assert_eq!(s.push(&[2.0, 20.0]), None);
        assert_eq!(
            s.push(&[3.0, 30.0]).unwrap(),
            [1.0, 2.0, 3.0, 10.0, 20.0, 30.0]
        );
        assert_eq!(
            s.push(&[4.0, 40.0]).unwrap(),
            [2.0, 3.0, 4.0, 20.0, 30.0, 40.0]
        );
    }

    #[test]
    fn the_period_of_a_cycle_is_found() {
        let rows: Vec<Vec<f64>> = (0..400)
            .map(|t| vec![(t as f64 * std::f64::consts::TAU / 24.0).sin()])
            .collect();
        assert_eq!(estimate_period(&rows, 64), 24);
        let flat: Vec<Vec<f64>> = (0..400).map(|t| vec![(t % 2) as f64 * 1e-9]).collect();
        assert!(estimate_period(&flat, 64) <= 2);
    }
}

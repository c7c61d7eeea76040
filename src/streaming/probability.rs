//! From raw scores to an anomaly probability in [0, 1], the number alerting wants: Numenta's
//! "anomaly likelihood" (Ahmad et al. 2017), with nupic's constants. The mean of the last 10 raw
//! scores is compared with a normal distribution fitted to such means over a long, bounded
//! window (refitted every 100 records); the probability is one minus the Gaussian tail beyond
//! it (mirrored: an unusually low mean is as rare as a high one). It is 0 until 400 scores
//! exist. A run of alerts is thinned: a red tail (≤ 1e-5) right after a red one is shown as
//! yellow (1e-3), so that one event raises one alert.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct LikelihoodConfig {
    /// Raw scores averaged into the short-term mean.
    pub short_window: usize,
    /// Short-term means the distribution is fitted to (the newest ones).
    pub long_window: usize,
    /// Scored records before any mean is kept (the detector's own start is noisy).
    pub learning: usize,
    /// Means kept before the first fit; 0 is the probability until then.
    pub estimation: usize,
    /// Records between two fits of the distribution.
    pub refit_every: usize,
}

impl Default for LikelihoodConfig {
    /// Numenta's (nupic's) defaults.
    fn default() -> Self {
        LikelihoodConfig {
            short_window: 10,
            long_window: 8640,
            learning: 300,
            estimation: 100,
            refit_every: 100,
        }
    }
}

/// Lower bounds of the fitted distribution (Numenta's): a near-constant history must not make
/// the slightest blip an alert.
const MIN_MEAN: f64 = 0.03;
const MIN_VARIANCE: f64 = 0.0003;
/// Tail probabilities at or below this are red; a red right after a red becomes yellow.
pub const RED_TAIL: f64 = 1e-5;
const YELLOW_TAIL: f64 = 1e-3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Likelihood {
    config: LikelihoodConfig,
    short: VecDeque<f64>,
    long: VecDeque<f64>,
    /// Raw scores seen.
    seen: u64,
    /// Records since the last fit.
    since_fit: usize,
    fit: Option<(f64, f64)>,
    previous_tail: f64,
}

impl Likelihood {
    pub fn new(config: LikelihoodConfig) -> Likelihood {
        Likelihood {
            config: LikelihoodConfig {
                short_window: config.short_window.max(1),
                long_window: config.long_window.max(2),
                estimation: config.estimation.max(2),
                refit_every: config.refit_every.max(1),
                ..config
            },
            short: VecDeque::new(),
            long: VecDeque::new(),
            seen: 0,
            since_fit: 0,
            fit: None,
            previous_tail: 1.0,
        }
    }

    /// The probability for this raw score, given the ones before it (0 until enough history
    /// exists); then remembers it.
    pub fn update(&mut self, raw: f64) -> f64 {
        let raw = if raw.is_finite() { raw } else { 0.0 };
        self.short.push_back(raw);
        if self.short.len() > self.config.short_window {
            self.short.pop_front();
        }
        let averaged = self.short.iter().sum::<f64>() / self.short.len() as f64;
        self.seen += 1;
        if self.seen <= self.config.learning as u64 {
            return 0.0;
        }
        self.long.push_back(averaged);
        if self.long.len() > self.config.long_window {
            self.long.pop_front();
        }
        if self.seen < (self.config.learning + self.config.estimation) as u64 {
            return 0.0;
        }
        if self.fit.is_none() || self.since_fit >= self.config.refit_every {
            self.refit();
        }
        self.since_fit += 1;
        let (mean, sd) = self.fit.unwrap_or((MIN_MEAN, MIN_VARIANCE.sqrt()));
        let tail = tail_probability(averaged, mean, sd);
        let shown = if tail <= RED_TAIL && self.previous_tail <= RED_TAIL {
            YELLOW_TAIL
        } else {
            tail
        };
        self.previous_tail = tail;
        1.0 - shown
    }

    fn refit(&mut self) {
        let n = self.long.len().max(1) as f64;
        let mean = self.long.iter().sum::<f64>() / n;
        let var = self
            .long
            .iter()
            .map(|x| (x - mean) * (x - mean))
            .sum::<f64>()
            / n;
        self.fit = Some((mean.max(MIN_MEAN), var.max(MIN_VARIANCE).sqrt()));
        self.since_fit = 0;
    }
}

/// The Gaussian tail beyond `x`, mirrored below the mean (a fall as far as a rise is as rare).
fn tail_probability(x: f64, mean: f64, sd: f64) -> f64 {
    let z = (x - mean).abs() / sd;
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The error function, from [`erfc`].
pub fn erf(x: f64) -> f64 {
    1.0 - erfc(x)
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        // scipy.special.erfc
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.4795001221869535),
            (1.0, 0.15729920705028513),
            (2.0, 0.004677734981047266),
            (3.0, 2.209049699858544e-05),
            (-1.0, 1.8427007929497148),
        ] {
            let got = erfc(x);
            assert!(
                (got - want).abs() <= 1.2e-7 * want.abs().max(1e-300) + 1e-15,
                "erfc({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn a_jump_after_a_quiet_history_is_probable_and_thinned() {
        let mut l = Likelihood::new(LikelihoodConfig::default());
        for i in 0..1000 {
            let p = l.update(0.1 + 0.01 * ((i % 7) as f64));
            if i < 399 {
                assert_eq!(p, 0.0);
            }
        }
        let first = l.update(1.0);
        let later: Vec<f64> = (0..5).map(|_| l.update(1.0)).collect();
        assert!(first > 0.99, "{first}");
        assert!(later.iter().all(|&p| p <= 0.999 + 1e-12), "{later:?}");
    }
}

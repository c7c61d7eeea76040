//! From raw scores to an anomaly probability in [0, 1], the number alerting wants: Numenta's
//! "anomaly likelihood" (Ahmad et al. 2017). The mean of the last few raw scores is compared
//! with a normal distribution fitted to such means over a long, bounded window; the probability
//! is one minus the Gaussian tail beyond it. It is 0.5 until enough history exists. A run of
//! alerts is thinned: after a probability above the red level, the next ones in a row are
//! lowered to the yellow level, so that one event raises one alert.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct LikelihoodConfig {
    /// Raw scores averaged into the short-term mean.
    pub short_window: usize,
    /// Short-term means the distribution is fitted to (the newest ones).
    pub long_window: usize,
    /// Records before any probability (0.5 until then).
    pub learning: usize,
    /// Records between two fits of the distribution.
    pub refit_every: usize,
}

impl Default for LikelihoodConfig {
    fn default() -> Self {
        LikelihoodConfig {
            short_window: 10,
            long_window: 8640,
            learning: 388,
            refit_every: 100,
        }
    }
}

/// Lower bounds of the fitted distribution (Numenta's): a near-constant history must not make
/// the slightest blip an alert.
const MIN_MEAN: f64 = 0.03;
const MIN_VARIANCE: f64 = 0.0003;
/// Tail probabilities below this are red; a red after a red becomes yellow.
const RED_TAIL: f64 = 1e-5;
const YELLOW_TAIL: f64 = 1e-3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Likelihood {
    config: LikelihoodConfig,
    short: VecDeque<f64>,
    short_sum: f64,
    long: VecDeque<f64>,
    seen: u64,
    mean: f64,
    sd: f64,
    fitted: bool,
    previous_red: bool,
}

impl Likelihood {
    pub fn new(config: LikelihoodConfig) -> Likelihood {
        Likelihood {
            config: LikelihoodConfig {
                short_window: config.short_window.max(1),
                long_window: config.long_window.max(2),
                learning: config.learning,
                refit_every: config.refit_every.max(1),
            },
            short: VecDeque::new(),
            short_sum: 0.0,
            long: VecDeque::new(),
            seen: 0,
            mean: 0.0,
            sd: 1.0,
            fitted: false,
            previous_red: false,
        }
    }

    /// The probability for this raw score, given the ones before it; then remembers it.
    pub fn update(&mut self, raw: f64) -> f64 {
        let raw = if raw.is_finite() { raw } else { 0.0 };
        self.short.push_back(raw);
        self.short_sum += raw;
        if self.short.len() > self.config.short_window {
            self.short_sum -= self.short.pop_front().unwrap_or(0.0);
        }
        let averaged = self.short_sum / self.short.len() as f64;
        self.seen += 1;
        let probability = if self.fitted && self.seen > self.config.learning as u64 {
            let mut tail = tail_probability(averaged, self.mean, self.sd);
            let red = tail <= RED_TAIL;
            if red && self.previous_red {
                tail = YELLOW_TAIL;
            }
            self.previous_red = red;
            1.0 - tail
        } else {
            0.5
        };
        self.long.push_back(averaged);
        if self.long.len() > self.config.long_window {
            self.long.pop_front();
        }
        if self.seen.is_multiple_of(self.config.refit_every as u64) || !self.fitted {
            self.fit();
        }
        probability
    }

    fn fit(&mut self) {
        let n = self.long.len();
        if n < 2 {
            return;
        }
        let mean = self.long.iter().sum::<f64>() / n as f64;
        let var = self
            .long
            .iter()
            .map(|x| (x - mean) * (x - mean))
            .sum::<f64>()
            / n as f64;
        self.mean = mean.max(MIN_MEAN);
        self.sd = var.max(MIN_VARIANCE).sqrt();
        self.fitted = true;
    }
}

/// The Gaussian tail beyond `x`, mirrored below the mean (a fall as far as a rise is as rare).
fn tail_probability(x: f64, mean: f64, sd: f64) -> f64 {
    let z = (x - mean).abs() / sd;
    0.5 * erfc(z / std::f64::consts::SQRT_2)
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
            if i < 388 {
                assert_eq!(p, 0.5);
            }
        }
        let first = l.update(1.0);
        let later: Vec<f64> = (0..5).map(|_| l.update(1.0)).collect();
        assert!(first > 0.99, "{first}");
        assert!(later.iter().all(|&p| p <= 0.999 + 1e-12), "{later:?}");
    }
}

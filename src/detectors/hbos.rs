//! HBOS (Goldstein & Dengel 2012): per-feature equal-width histograms, score = −Σ log2 of the
//! density of each value's bin (plus a regulariser). Follows PyOD's histogram and digitize rules
//! exactly, including its edge case: a value on an interior edge is counted in the upper bin but
//! scored with the lower bin's density.

use ndarray::{Array1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::numeric::{linspace, numpy_sum};
use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::{validate_matrix, DetectResult, Detector, Fitted, JobCtx, Model};

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
fn histogram(values: &[f64], bins: usize) -> (Vec<f64>, Vec<f64>) {
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
    let norm = bins as f64 / (hi - lo);
    let mut counts = vec![0usize; bins];
    for &v in values {
        let mut k = ((v - lo) * norm) as usize;
        if k == bins {
            k -= 1;
        }
        // numpy's correction of floating-point bin guesses against the actual edges.
        if v < edges[k] {
            k -= 1;
        } else if k != bins - 1 && v >= edges[k + 1] {
            k += 1;
        }
        counts[k] += 1;
    }
    let n = values.len() as f64;
    let densities = (0..bins)
        .map(|k| counts[k] as f64 / (edges[k + 1] - edges[k]) / n)
        .collect();
    (edges, densities)
}

impl Detector for Hbos {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        ctx.checkpoint()?;
        let (edges, densities): (Vec<Vec<f64>>, Vec<Vec<f64>>) = x
            .axis_iter(Axis(1))
            .into_par_iter()
            .map(|col| histogram(&col.to_vec(), self.n_bins))
            .unzip();
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
    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let d = self.edges.len();
        let log_densities: Vec<Vec<f64>> = self
            .densities
            .iter()
            .map(|h| h.iter().map(|&p| (p + self.alpha).log2()).collect())
            .collect();
        let minima: Vec<f64> = log_densities
            .iter()
            .map(|l| l.iter().copied().fold(f64::INFINITY, f64::min))
            .collect();
        let scores: Vec<f64> = x
            .outer_iter()
            .into_par_iter()
            .map(|row| {
                let mut per_feature = vec![0.0; d];
                for j in 0..d {
                    per_feature[j] = self.feature_score(j, row[j], &log_densities[j], minima[j]);
                }
                -numpy_sum(&per_feature)
            })
            .collect();
        Ok(Array1::from(scores))
    }

    /// PyOD's `_calculate_outlier_scores` for one value: `np.digitize(right=True)` picks the bin.
    fn feature_score(&self, j: usize, v: f64, log_density: &[f64], minimum: f64) -> f64 {
        let edges = &self.edges[j];
        let bins = log_density.len();
        let index = edges.partition_point(|&e| e < v); // searchsorted(side='left')
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
}

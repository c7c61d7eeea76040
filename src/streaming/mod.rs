//! Online anomaly detection, the engine of `watch`: records arrive one at a time and each is
//! scored *before* the detector learns from it (test-then-train), so a record's score depends
//! only on the records before it and itself. Every detector holds O(window) state.
//!
//! The per-record pipeline ([`StreamScorer`]): missing values carried forward → shingling (the
//! last `w` values of each feature, so patterns and not only points are seen) → the online
//! detector's raw score → an anomaly probability ([`probability`]) → the alert decision.
//! The whole pipeline serialises, so a stopped watch resumes where it was.

pub mod baseline;
pub mod follow;
pub mod hst;
pub mod probability;
pub mod records;
pub mod shingle;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::detectors::params::{DefaultValue, ParamKind, ParamSpec, ParamValue, Params, Search};
use crate::detectors::registry::{parse_assignments, resolve_params};
use crate::detectors::DetectResult;
use probability::{Likelihood, LikelihoodConfig};
use shingle::Shingle;

/// A streaming detector in the registry (`pynomaly detectors` lists them as family `streaming`).
pub struct StreamingInfo {
    pub name: &'static str,
    pub summary: &'static str,
    pub randomized: bool,
    pub params: &'static [ParamSpec],
    build: fn(&Params, u64) -> OnlineDetector,
}

const fn int_param(
    name: &'static str,
    min: i64,
    max: i64,
    default: i64,
    help: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Int {
            min,
            max,
            log: false,
        },
        default: DefaultValue::Int(default),
        help,
        search: Search::Fixed,
    }
}

const SHINGLE: ParamSpec = int_param(
    "shingle",
    0,
    512,
    1,
    "values of each feature in one vector (the last w records); 1 = the record alone, \
     0 = auto (the series' period from the warm-up's autocorrelation, at most 64)",
);

const HST_PARAMS: &[ParamSpec] = &[
    int_param("n_trees", 1, 1000, 10, "number of half-space trees"),
    int_param("height", 1, 16, 8, "depth of each tree"),
    int_param(
        "window",
        2,
        1_000_000,
        250,
        "records per mass window (the reference the next window is scored against)",
    ),
    SHINGLE,
];

const ZSCORE_PARAMS: &[ParamSpec] = &[
    int_param(
        "window",
        2,
        100_000,
        250,
        "records the mean and spread are taken over",
    ),
    ParamSpec {
        name: "robust",
        kind: ParamKind::Bool,
        default: DefaultValue::Bool(false),
        help: "median and MAD instead of mean and standard deviation",
        search: Search::Fixed,
    },
    SHINGLE,
];

static STREAMING: &[StreamingInfo] = &[
    StreamingInfo {
        name: "hst",
        summary: "Half-Space Trees (river's defaults): mass of the record's region in the last window",
        randomized: true,
        params: HST_PARAMS,
        build: |p, seed| {
            OnlineDetector::Hst(hst::HalfSpaceTrees::new(
                p.int("n_trees") as usize,
                p.int("height") as usize,
                p.int("window") as usize,
                seed,
            ))
        },
    },
    StreamingInfo {
        name: "zscore",
        summary: "Windowed z-score (or median/MAD): the largest distance of a feature from its recent past",
        randomized: false,
        params: ZSCORE_PARAMS,
        build: |p, _| {
            OnlineDetector::Baseline(baseline::WindowedBaseline::new(
                p.int("window") as usize,
                p.bool("robust"),
            ))
        },
    },
];

/// The detector `watch` uses when none is named.
pub const DEFAULT_DETECTOR: &str = "hst";

pub fn streaming_registry() -> &'static [StreamingInfo] {
    STREAMING
}

pub fn find(name: &str) -> Result<&'static StreamingInfo, String> {
    let wanted = name.trim().to_ascii_lowercase();
    STREAMING.iter().find(|d| d.name == wanted).ok_or_else(|| {
        format!(
            "unknown streaming detector {:?} (streaming detectors: {})",
            crate::text::sanitize(name),
            STREAMING
                .iter()
                .map(|d| d.name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

impl StreamingInfo {
    pub fn resolve(&self, assignments: &[String]) -> DetectResult<Params> {
        let given: BTreeMap<String, ParamValue> =
            parse_assignments(self.name, self.params, assignments)?;
        resolve_params(self.name, self.params, &given)
    }
}

/// The online detectors, as one serialisable type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum OnlineDetector {
    Hst(hst::HalfSpaceTrees),
    Baseline(baseline::WindowedBaseline),
}

impl OnlineDetector {
    /// Scores `x`, then learns it.
    pub fn score_learn(&mut self, x: &[f64]) -> f64 {
        match self {
            OnlineDetector::Hst(d) => d.score_learn(x),
            OnlineDetector::Baseline(d) => d.score_learn(x),
        }
    }
}

/// How a record's probability becomes an alert.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum AlertRule {
    /// Probability at or above this.
    Probability(f64),
}

/// Everything `watch` fixes before the first record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamConfig {
    pub detector: String,
    pub params: Params,
    pub seed: u64,
    pub n_features: usize,
    /// Records scored 0 (probability 0.5) while the pipeline learns; also the rows the
    /// automatic shingle length is estimated from.
    pub warmup: usize,
    pub alert: AlertRule,
    pub likelihood: LikelihoodConfig,
}

/// What one record got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub score: f64,
    pub probability: f64,
    pub is_anomaly: bool,
}

/// The per-record pipeline; see the module's documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamScorer {
    pub config: StreamConfig,
    /// Built after the warm-up (the shingle length may depend on it).
    stage: Option<(Shingle, OnlineDetector)>,
    warm: Vec<Vec<f64>>,
    last: Vec<f64>,
    likelihood: Likelihood,
    pub rows: u64,
}

impl StreamScorer {
    pub fn new(config: StreamConfig) -> StreamScorer {
        StreamScorer {
            likelihood: Likelihood::new(config.likelihood),
            last: vec![0.0; config.n_features],
            warm: Vec::new(),
            stage: None,
            rows: 0,
            config,
        }
    }

    /// Scores one record (then learns it). Missing values repeat the feature's last value.
    pub fn push(&mut self, values: &[f64]) -> Scored {
        let x: Vec<f64> = (0..self.config.n_features)
            .map(|j| {
                let v = values.get(j).copied().unwrap_or(f64::NAN);
                if v.is_finite() {
                    self.last[j] = v;
                    v
                } else {
                    self.last[j]
                }
            })
            .collect();
        self.rows += 1;
        let score = match &mut self.stage {
            Some((shingle, detector)) => detector.score_learn(shingle.push(&x)),
            None => {
                // Scores in the warm-up are constants: they cannot depend on later records.
                self.warm.push(x);
                if self.warm.len() >= self.config.warmup.max(1) {
                    self.build();
                }
                0.0
            }
        };
        let probability = if self.stage.is_some() && self.rows > self.config.warmup as u64 {
            self.likelihood.update(score)
        } else {
            0.5
        };
        let is_anomaly = match self.config.alert {
            AlertRule::Probability(p) => probability >= p,
        };
        Scored {
            score,
            probability,
            is_anomaly,
        }
    }

    fn build(&mut self) {
        let info = find(&self.config.detector).unwrap_or(&STREAMING[0]);
        let mut w = self.config.params.int("shingle").max(0) as usize;
        if w == 0 {
            w = shingle::estimate_period(&self.warm, shingle::MAX_AUTO_SHINGLE);
        }
        let mut shingle = Shingle::new(w.max(1), self.config.n_features);
        let mut detector = (info.build)(&self.config.params, self.config.seed);
        for x in std::mem::take(&mut self.warm) {
            detector.score_learn(shingle.push(&x));
        }
        self.stage = Some((shingle, detector));
    }

    /// The shingle length in use (after the warm-up).
    pub fn shingle_len(&self) -> Option<usize> {
        self.stage.as_ref().map(|(s, _)| s.len())
    }
}

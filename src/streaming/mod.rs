//! Online anomaly detection, the engine of `watch`: records arrive one at a time and each is
//! scored *before* the detector learns from it (test-then-train), so a record's score depends
//! only on the records before it and itself. Every detector holds O(window) state.
//!
//! The per-record pipeline ([`StreamScorer`]): missing values carried forward → for each member
//! detector: shingling (the last `w` values of each feature, so patterns and not only points are
//! seen) → its raw score → its anomaly probability ([`probability`]) → the largest probability
//! of the members → a value beyond the range seen so far is an alert by itself → the alert
//! decision, with a cooldown after each alert. The whole pipeline serialises, so a stopped watch
//! resumes where it was.

pub mod baseline;
pub mod drift;
pub mod follow;
pub mod hst;
pub mod knn_cad;
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
#[derive(Serialize)]
pub struct StreamingInfo {
    pub name: &'static str,
    /// Always `streaming` (the batch registry's families are its other values).
    pub family: &'static str,
    pub summary: &'static str,
    /// Work per record, in terms of the window w, the shingle length s and d features.
    pub complexity: &'static str,
    pub randomized: bool,
    pub params: &'static [ParamSpec],
    #[serde(skip)]
    build: fn(&Params, u64) -> Vec<Member>,
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

const Z_WINDOW: ParamSpec = int_param(
    "z_window",
    10,
    100_000,
    300,
    "records the mean and spread are taken over",
);

const ZSCORE_PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "window",
        ..Z_WINDOW
    },
    ParamSpec {
        name: "robust",
        kind: ParamKind::Bool,
        default: DefaultValue::Bool(false),
        help: "median and MAD instead of mean and standard deviation",
        search: Search::Fixed,
    },
    SHINGLE,
];

const KNN_CAD_PARAMS: &[ParamSpec] = &[
    int_param(
        "dim",
        1,
        512,
        19,
        "records in each compared pattern (the shingle length)",
    ),
    int_param(
        "k",
        1,
        1000,
        27,
        "nearest patterns whose distances make the nonconformity",
    ),
    int_param(
        "window",
        10,
        100_000,
        750,
        "patterns kept to compare with (and nonconformities to calibrate with)",
    ),
];

const COMBINED_PARAMS: &[ParamSpec] = &[
    KNN_CAD_PARAMS[0],
    KNN_CAD_PARAMS[1],
    KNN_CAD_PARAMS[2],
    Z_WINDOW,
];

fn knn_cad(p: &Params, dim: &str, window: &str) -> Member {
    Member {
        shingle: p.int(dim) as usize,
        detector: OnlineDetector::KnnCad(knn_cad::KnnCad::new(
            p.int("k") as usize,
            p.int(window) as usize,
        )),
    }
}

static STREAMING: &[StreamingInfo] = &[
    StreamingInfo {
        name: "knncad-zscore",
        family: "streaming",
        complexity: "O(w · s · d) per record",
        summary: "kNN conformal (KNN-CAD) on patterns and a windowed z-score, each calibrated; the larger probability",
        randomized: false,
        params: COMBINED_PARAMS,
        build: |p, _| {
            vec![
                knn_cad(p, "dim", "window"),
                Member {
                    shingle: 1,
                    detector: OnlineDetector::Baseline(baseline::WindowedBaseline::new(
                        p.int("z_window") as usize,
                        false,
                    )),
                },
            ]
        },
    },
    StreamingInfo {
        name: "knn-cad",
        family: "streaming",
        complexity: "O(w · s · d) per record",
        summary: "kNN conformal anomaly detection: how unusual the last `dim` records are among recent patterns",
        randomized: false,
        params: KNN_CAD_PARAMS,
        build: |p, _| vec![knn_cad(p, "dim", "window")],
    },
    StreamingInfo {
        name: "hst",
        family: "streaming",
        complexity: "O(trees · height) per record",
        summary: "Half-Space Trees (river's defaults): mass of the record's region in the last window",
        randomized: true,
        params: HST_PARAMS,
        build: |p, seed| {
            vec![Member {
                shingle: p.int("shingle") as usize,
                detector: OnlineDetector::Hst(hst::HalfSpaceTrees::new(
                    p.int("n_trees") as usize,
                    p.int("height") as usize,
                    p.int("window") as usize,
                    seed,
                )),
            }]
        },
    },
    StreamingInfo {
        name: "zscore",
        family: "streaming",
        complexity: "O(w · s · d) per record",
        summary: "Windowed z-score (or median/MAD): the largest distance of a feature from its recent past",
        randomized: false,
        params: ZSCORE_PARAMS,
        build: |p, _| {
            vec![Member {
                shingle: p.int("shingle") as usize,
                detector: OnlineDetector::Baseline(baseline::WindowedBaseline::new(
                    p.int("window") as usize,
                    p.bool("robust"),
                )),
            }]
        },
    },
];

/// The detector `watch` uses when none is named.
pub const DEFAULT_DETECTOR: &str = "knncad-zscore";

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
    KnnCad(knn_cad::KnnCad),
}

impl OnlineDetector {
    /// Scores `x`, then learns it; `None` while it has too little history to score.
    pub fn score_learn(&mut self, x: &[f64]) -> Option<f64> {
        match self {
            OnlineDetector::Hst(d) => d.score_learn(x),
            OnlineDetector::Baseline(d) => d.score_learn(x),
            OnlineDetector::KnnCad(d) => d.score_learn(x),
        }
    }
}

/// One detector of a pipeline, with its shingle length (0 = estimated from the warm-up).
pub struct Member {
    pub shingle: usize,
    pub detector: OnlineDetector,
}

/// A member at work: its shingle, detector and calibration.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Branch {
    shingle: Shingle,
    detector: OnlineDetector,
    likelihood: Likelihood,
}

/// Everything `watch` fixes before the first record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamConfig {
    pub detector: String,
    pub params: Params,
    pub seed: u64,
    pub n_features: usize,
    /// Records before any alert. Also the records an automatic shingle length is estimated
    /// from (they are then scored 0 and replayed into the detector).
    pub warmup: usize,
    /// Alert at this probability or above…
    pub alert_probability: f64,
    /// …or, when set, when the raw score exceeds this label-free threshold of the last
    /// [`SCORE_WINDOW`] raw scores (the batch thresholds: contamination, IQR, MAD, …).
    pub score_threshold: Option<crate::threshold::ThresholdMethod>,
    /// After an alert, records whose probability is held at 0 (the event is raised once).
    pub cooldown: usize,
    /// A value beyond the range seen so far, widened by this fraction of it on each side, is an
    /// alert by itself (Numenta's "spatial anomaly"); 0 turns this off.
    pub range_tolerance: Option<f64>,
    pub likelihood: LikelihoodConfig,
}

/// Raw scores a `score_threshold` is computed from (the newest), and how often it is computed.
pub const SCORE_WINDOW: usize = 1000;
const SCORE_REFIT_EVERY: u64 = 100;
/// Raw scores needed before a `score_threshold` alerts.
const SCORE_MIN: usize = 200;

/// Records after an alert with the probability held at 0, unless told otherwise.
pub const DEFAULT_COOLDOWN: usize = 300;
/// Numenta's "red" likelihood: the default alert level.
pub const DEFAULT_ALERT_PROBABILITY: f64 = 1.0 - probability::RED_TAIL;
/// See [`StreamConfig::range_tolerance`].
pub const DEFAULT_RANGE_TOLERANCE: f64 = 0.05;

/// What one record got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The detector's raw score (the largest of a combination's), 0 while it has none.
    pub score: f64,
    pub probability: f64,
    pub is_anomaly: bool,
}

/// The per-record pipeline; see the module's documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamScorer {
    pub config: StreamConfig,
    /// Built at once, or after the warm-up when a shingle length is to be estimated.
    branches: Option<Vec<Branch>>,
    warm: Vec<Vec<f64>>,
    last: Vec<f64>,
    /// The range of each feature so far.
    range: Vec<(f64, f64)>,
    cooldown_left: usize,
    /// The last raw scores and the cut computed from them (`score_threshold` only).
    recent: std::collections::VecDeque<f64>,
    cut: Option<f64>,
    pub rows: u64,
}

impl StreamScorer {
    pub fn new(config: StreamConfig) -> StreamScorer {
        let mut scorer = StreamScorer {
            last: vec![0.0; config.n_features],
            range: vec![(f64::INFINITY, f64::NEG_INFINITY); config.n_features],
            warm: Vec::new(),
            branches: None,
            cooldown_left: 0,
            recent: std::collections::VecDeque::new(),
            cut: None,
            rows: 0,
            config,
        };
        if !scorer.members().iter().any(|m| m.shingle == 0) {
            scorer.branches = Some(scorer.build(&[]));
        }
        scorer
    }

    fn members(&self) -> Vec<Member> {
        let info = find(&self.config.detector).unwrap_or(&STREAMING[0]);
        (info.build)(&self.config.params, self.config.seed)
    }

    /// Builds the branches; a shingle length of 0 is estimated from `warm`.
    fn build(&self, warm: &[Vec<f64>]) -> Vec<Branch> {
        self.members()
            .into_iter()
            .map(|m| {
                let w = if m.shingle == 0 {
                    shingle::estimate_period(warm, shingle::MAX_AUTO_SHINGLE)
                } else {
                    m.shingle
                };
                Branch {
                    shingle: Shingle::new(w.max(1), self.config.n_features),
                    detector: m.detector,
                    likelihood: Likelihood::new(self.config.likelihood),
                }
            })
            .collect()
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
        let mut raw_scored = false;
        let (score, mut probability) = match &mut self.branches {
            Some(branches) => {
                let mut score = 0.0f64;
                let mut probability = 0.0f64;
                for b in branches.iter_mut() {
                    let raw = b.shingle.push(&x).and_then(|v| b.detector.score_learn(v));
                    if let Some(raw) = raw {
                        raw_scored = true;
                        score = score.max(raw);
                        probability = probability.max(b.likelihood.update(raw));
                    }
                }
                (score, probability)
            }
            None => {
                // Scores in the warm-up are constants: they cannot depend on later records.
                self.warm.push(x.clone());
                if self.warm.len() >= self.config.warmup.max(1) {
                    let warm = std::mem::take(&mut self.warm);
                    let mut branches = self.build(&warm);
                    for row in &warm {
                        for b in &mut branches {
                            if let Some(raw) =
                                b.shingle.push(row).and_then(|v| b.detector.score_learn(v))
                            {
                                b.likelihood.update(raw);
                            }
                        }
                    }
                    self.branches = Some(branches);
                }
                (0.0, 0.0)
            }
        };
        let warming = self.rows <= self.config.warmup as u64;
        if let Some(tolerance) = self.config.range_tolerance {
            let outside = x.iter().zip(&self.range).any(|(&v, &(lo, hi))| {
                let t = (hi - lo) * tolerance;
                hi > lo && (v > hi + t || v < lo - t)
            });
            if outside && !warming {
                probability = 1.0;
            }
            for (r, &v) in self.range.iter_mut().zip(&x) {
                *r = (r.0.min(v), r.1.max(v));
            }
        }
        if warming {
            probability = 0.0;
        }
        let alarming = match self.config.score_threshold {
            None => probability >= self.config.alert_probability,
            Some(method) => {
                // The cut comes from earlier scores only; this score joins them after.
                let over = raw_scored && !warming && self.cut.is_some_and(|c| score > c);
                if raw_scored && score.is_finite() {
                    self.recent.push_back(score);
                    if self.recent.len() > SCORE_WINDOW {
                        self.recent.pop_front();
                    }
                    if self.recent.len() >= SCORE_MIN && self.rows.is_multiple_of(SCORE_REFIT_EVERY)
                    {
                        let recent: Vec<f64> = self.recent.iter().copied().collect();
                        self.cut = crate::threshold::apply(&recent, method)
                            .ok()
                            .map(|t| t.value);
                    }
                }
                over
            }
        };
        let mut is_anomaly = false;
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            probability = 0.0;
        } else if alarming {
            is_anomaly = true;
            self.cooldown_left = self.config.cooldown;
        }
        Scored {
            score,
            probability,
            is_anomaly,
        }
    }

    /// The shingle lengths in use (once built).
    pub fn shingle_lens(&self) -> Vec<usize> {
        self.branches
            .as_ref()
            .map(|b| b.iter().map(|b| b.shingle.len()).collect())
            .unwrap_or_default()
    }
}

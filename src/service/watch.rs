//! Watching a growing source, for both faces: `watch` on the command line and (next) the
//! Monitor pane. A [`Watch`] owns the followed source, the record reader fixed by its first
//! lines and the streaming pipeline; each [`Watch::step`] hands back the records that arrived,
//! scored in input order.

use std::time::Duration;

use crate::data::demo::Demo;
use crate::streaming::drift::{DriftMonitor, PageHinkley};
use crate::streaming::follow::{LineSource, Poll, Replay};
use crate::streaming::probability::LikelihoodConfig;
use crate::streaming::records::{RecordReader, Selection};
use crate::streaming::{self, StreamConfig, StreamScorer};
use crate::text::sanitize;

use super::{ServiceError, ServiceResult};

/// What to watch and how.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    /// A path, `-` for standard input, or `demo:NAME`.
    pub source: String,
    /// Read to the current end and stop, instead of following.
    pub once: bool,
    /// A demo's lines per second (all at once when `None`).
    pub rate: Option<f64>,
    pub detector: String,
    /// `name=value` parameters of the detector.
    pub params: Vec<String>,
    /// Sets the detector's `window` parameter (when it has one and `params` does not).
    pub window: Option<usize>,
    pub warmup: usize,
    /// Alert at this probability or above…
    pub probability: f64,
    /// …or, when set, when the raw score exceeds this threshold of the recent raw scores.
    pub threshold: Option<crate::threshold::ThresholdMethod>,
    /// After an alert, records with the probability held at 0.
    pub cooldown: usize,
    /// Records in each drift window (the first ones are the reference); 0 turns drift off.
    pub drift_window: usize,
    pub seed: u64,
    pub selection: Selection,
}

/// Records without alerts at the start, unless told otherwise.
pub const DEFAULT_WARMUP: usize = 250;
/// Records in a drift window, unless told otherwise.
pub const DEFAULT_DRIFT_WINDOW: usize = 1000;
/// The false-alarm rate of the drift tests over all features.
const DRIFT_ALPHA: f64 = 0.001;
pub use crate::streaming::{DEFAULT_ALERT_PROBABILITY as DEFAULT_PROBABILITY, DEFAULT_COOLDOWN};

/// One record and what it got.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredRecord {
    /// The record's index in the stream (0 = the first record after the header).
    pub row: u64,
    pub time: Option<String>,
    pub values: Vec<f64>,
    pub score: f64,
    pub probability: f64,
    pub is_anomaly: bool,
    /// What this record revealed beyond its own score.
    pub events: Vec<WatchEvent>,
}

/// A finding about the stream rather than one record.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// A feature's recent values no longer look like its first ones (KS test).
    Drift {
        feature: String,
        statistic: f64,
        p_value: f64,
    },
    /// The scores' level has risen (Page–Hinkley).
    Change { statistic: f64 },
}

#[derive(Debug)]
pub enum WatchStep {
    /// Records that arrived (possibly none).
    Records(Vec<ScoredRecord>),
    /// The source was replaced or truncated and starts again.
    Restarted,
    /// The source ended (or, with `once`, its current end was reached).
    Ended,
}

pub struct Watch {
    spec: WatchSpec,
    source: LineSource,
    params: crate::detectors::Params,
    reader: Option<RecordReader>,
    /// The first line, kept until the second one shows which columns are numbers.
    first: Option<String>,
    scorer: Option<StreamScorer>,
    drift: Option<DriftMonitor>,
    change: PageHinkley,
    lines: Vec<String>,
    pub rows: u64,
    pub alerts: u64,
    /// Records whose line could not be read (scored as all-missing).
    pub malformed: u64,
}

impl Watch {
    /// Checks the detector and its parameters, then opens the source.
    pub fn open(spec: WatchSpec) -> ServiceResult<Watch> {
        let info = streaming::find(&spec.detector).map_err(ServiceError::input)?;
        let mut params = spec.params.clone();
        if let Some(w) = spec.window {
            let has_window = info.params.iter().any(|p| p.name == "window");
            let given = params.iter().any(|a| a.trim_start().starts_with("window="));
            if !has_window {
                return Err(ServiceError::input(format!(
                    "--window: {} has no window parameter",
                    info.name
                )));
            }
            if !given {
                params.push(format!("window={w}"));
            }
        }
        let params = info.resolve(&params)?;
        if !(spec.probability > 0.0 && spec.probability <= 1.0) {
            return Err(ServiceError::input(format!(
                "--probability must be in (0, 1], got {}",
                spec.probability
            )));
        }
        let source = match spec.source.strip_prefix("demo:") {
            Some(name) => {
                let demo = Demo::from_name(name).ok_or_else(|| {
                    ServiceError::input(format!(
                        "no demo {:?} (demos: {})",
                        sanitize(name),
                        Demo::names().join(", ")
                    ))
                })?;
                let text = String::from_utf8_lossy(demo.bytes()).into_owned();
                LineSource::Replay(Replay::new(spec.source.clone(), &text, spec.rate))
            }
            None => LineSource::open(&spec.source, spec.once)
                .map_err(|e| ServiceError::input(e.to_string()))?,
        };
        Ok(Watch {
            spec,
            source,
            params,
            reader: None,
            first: None,
            scorer: None,
            drift: None,
            change: PageHinkley::default(),
            lines: Vec::new(),
            rows: 0,
            alerts: 0,
            malformed: 0,
        })
    }

    /// The features watched, once the first records fixed them.
    pub fn features(&self) -> &[String] {
        self.reader.as_ref().map_or(&[], |r| &r.features)
    }

    pub fn source_name(&self) -> String {
        self.source.name()
    }

    /// The shingle lengths in use (one per member detector), once known.
    pub fn shingle_lens(&self) -> Vec<usize> {
        self.scorer
            .as_ref()
            .map(|s| s.shingle_lens())
            .unwrap_or_default()
    }

    /// Waits up to about `wait` for new lines and scores the records among them.
    pub fn step(&mut self, wait: Duration) -> ServiceResult<WatchStep> {
        self.lines.clear();
        let poll = self
            .source
            .poll(&mut self.lines, wait)
            .map_err(|e| ServiceError::input(e.to_string()))?;
        let lines = std::mem::take(&mut self.lines);
        let mut out = Vec::with_capacity(lines.len());
        for line in &lines {
            self.take_line(line, &mut out)?;
        }
        self.lines = lines;
        Ok(match poll {
            Poll::Lines => WatchStep::Records(out),
            Poll::Restarted => WatchStep::Restarted,
            // A lone first line kept for its layout was a header without records.
            Poll::Ended if out.is_empty() => WatchStep::Ended,
            Poll::Ended => WatchStep::Records(out),
        })
    }

    fn take_line(&mut self, line: &str, out: &mut Vec<ScoredRecord>) -> ServiceResult<()> {
        if self.reader.is_none() {
            if line.trim().is_empty() {
                return Ok(());
            }
            let Some(first) = self.first.take() else {
                let ndjson = line.trim_start().starts_with('{');
                if ndjson || self.spec.selection.features.is_some() {
                    self.fix_layout(line, None)?;
                    if ndjson {
                        self.score_line(line, out);
                    }
                } else {
                    self.first = Some(line.to_string());
                }
                return Ok(());
            };
            self.fix_layout(&first, Some(line))?;
        } else if self.reader.as_ref().is_some_and(|r| r.is_header(line)) {
            // A rotated or truncated file starting over with its header.
            return Ok(());
        }
        self.score_line(line, out);
        Ok(())
    }

    fn fix_layout(&mut self, first: &str, second: Option<&str>) -> ServiceResult<()> {
        let reader = RecordReader::from_lines(first, second, &self.spec.selection)
            .map_err(|e| ServiceError::input(format!("{}: {e}", sanitize(&self.source.name()))))?;
        self.scorer = Some(StreamScorer::new(StreamConfig {
            detector: streaming::find(&self.spec.detector)
                .map_err(ServiceError::input)?
                .name
                .to_string(),
            params: self.params.clone(),
            seed: self.spec.seed,
            n_features: reader.features.len(),
            warmup: self.spec.warmup,
            alert_probability: self.spec.probability,
            score_threshold: self.spec.threshold,
            cooldown: self.spec.cooldown,
            range_tolerance: Some(streaming::DEFAULT_RANGE_TOLERANCE),
            likelihood: LikelihoodConfig::default(),
        }));
        self.drift = (self.spec.drift_window > 0)
            .then(|| DriftMonitor::new(reader.features.len(), self.spec.drift_window, DRIFT_ALPHA));
        self.reader = Some(reader);
        Ok(())
    }

    fn score_line(&mut self, line: &str, out: &mut Vec<ScoredRecord>) {
        let (Some(reader), Some(scorer)) = (&self.reader, &mut self.scorer) else {
            return;
        };
        let record = match reader.parse(line) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(_) => {
                self.malformed += 1;
                crate::streaming::records::Record {
                    values: vec![f64::NAN; reader.features.len()],
                    time: None,
                }
            }
        };
        let scored = scorer.push(&record.values);
        if scored.is_anomaly {
            self.alerts += 1;
        }
        let mut events = Vec::new();
        if let Some(drift) = &mut self.drift {
            events.extend(
                drift
                    .push(&record.values)
                    .into_iter()
                    .map(|d| WatchEvent::Drift {
                        feature: reader.features[d.feature].clone(),
                        statistic: d.statistic,
                        p_value: d.p_value,
                    }),
            );
        }
        if self.rows >= self.spec.warmup as u64 {
            if let Some(statistic) = self.change.push(scored.score) {
                events.push(WatchEvent::Change { statistic });
            }
        }
        out.push(ScoredRecord {
            row: self.rows,
            time: record.time,
            values: record.values,
            score: scored.score,
            probability: scored.probability,
            is_anomaly: scored.is_anomaly,
            events,
        });
        self.rows += 1;
    }
}

//! AutoML: search detectors and their parameters, with labels (ROC-AUC or average precision)
//! or without (agreement with a consensus of diverse detectors), reproducibly under a seed.
//!
//! The search space is the registry's: each parameter's [`Search`] says what is worth trying.
//! Trials are drawn up front from the seed, so the same seed gives the same trials whatever
//! the thread count; they then run in parallel, each checking the budget and the cancellation
//! flag before it starts, and finished trials are kept when the search stops early.
//! Method and limits: docs/automl.md.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::detectors::{
    registry, DetectError, DetectorInfo, JobCtx, Model, ParamKind, ParamValue, Params, Search,
};
use crate::metrics;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// ROC-AUC against the label column.
    Auc,
    /// Average precision against the label column.
    Ap,
    /// Agreement with a consensus of diverse detectors; never looks at labels.
    LabelFree,
}

impl Metric {
    pub fn parse(text: &str) -> Result<Metric, AutomlError> {
        match text {
            "auc" | "roc_auc" | "roc-auc" => Ok(Metric::Auc),
            "ap" | "average_precision" | "average-precision" => Ok(Metric::Ap),
            "label-free" | "label_free" | "labelfree" => Ok(Metric::LabelFree),
            other => Err(AutomlError::Invalid(format!(
                "--metric {other:?}: expected auc, ap or label-free"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Auc => "auc",
            Metric::Ap => "ap",
            Metric::LabelFree => "label-free",
        }
    }
}

/// How a labelled objective is measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "protocol")]
pub enum Protocol {
    /// Fit on all rows, score the same rows (the usual unsupervised benchmark protocol).
    Unsupervised,
    /// Fit on a seeded stratified share of the rows, measure on the rest.
    Holdout { test_fraction: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Independent draws from the search space (each detector's defaults are tried first).
    Random,
}

impl Strategy {
    pub fn parse(text: &str) -> Result<Strategy, AutomlError> {
        match text {
            "random" => Ok(Strategy::Random),
            other => Err(AutomlError::Invalid(format!(
                "--strategy {other:?}: expected random (successive halving and a model-based optimiser are not implemented yet)"
            ))),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AutomlError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Detect(#[from] DetectError),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub detectors: Vec<&'static DetectorInfo>,
    pub metric: Metric,
    pub protocol: Protocol,
    pub strategy: Strategy,
    pub trials: usize,
    pub budget: Option<Duration>,
    pub seed: u64,
}

/// The detectors to search: all, or those named (detector or family names).
pub fn search_space(names: Option<&[String]>) -> Result<Vec<&'static DetectorInfo>, AutomlError> {
    let Some(names) = names else {
        return Ok(registry().iter().collect());
    };
    let mut chosen: Vec<&'static DetectorInfo> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let matched: Vec<&'static DetectorInfo> = registry()
            .iter()
            .filter(|d| d.name == name || d.family.name() == name)
            .collect();
        if matched.is_empty() {
            let known: Vec<&str> = registry().iter().map(|d| d.name).collect();
            return Err(AutomlError::Invalid(format!(
                "--detectors: {name:?} is neither a detector nor a family; detectors: {}",
                known.join(", ")
            )));
        }
        for d in matched {
            if !chosen.iter().any(|c| c.name == d.name) {
                chosen.push(d);
            }
        }
    }
    if chosen.is_empty() {
        return Err(AutomlError::Invalid(
            "the search space is empty: name at least one detector or family".into(),
        ));
    }
    Ok(chosen)
}

/// Above this many rows, detectors whose fit grows with n² are left out of an unrestricted
/// search (a single trial could take minutes); naming them in `--detectors` keeps them.
pub const QUADRATIC_ROW_LIMIT: usize = 20_000;

/// Splits the space into the detectors kept for `n_rows` and those left out as too slow.
pub fn fit_space_to_size(
    detectors: Vec<&'static DetectorInfo>,
    n_rows: usize,
    n_features: usize,
) -> (Vec<&'static DetectorInfo>, Vec<&'static str>) {
    if n_rows <= QUADRATIC_ROW_LIMIT {
        return (detectors, Vec::new());
    }
    // knn and lof search neighbours with a kd-tree up to 15 features: far below n² there.
    let tree_accelerated = |d: &DetectorInfo| matches!(d.name, "knn" | "lof") && n_features <= 15;
    let (kept, skipped): (Vec<_>, Vec<_>) = detectors
        .into_iter()
        .partition(|d| !d.complexity.starts_with("O(n²") || tree_accelerated(d));
    (kept, skipped.into_iter().map(|d| d.name).collect())
}

/// Draws one parameter set from a detector's search space.
pub fn sample_params(info: &DetectorInfo, rng: &mut ChaCha8Rng) -> Result<Params, DetectError> {
    let mut given = BTreeMap::new();
    for p in info.params {
        let value = match (p.search, p.kind) {
            (Search::Fixed, _) => continue,
            (Search::All, ParamKind::Choice { choices }) => {
                ParamValue::Text(choices[rng.gen_range(0..choices.len())].to_string())
            }
            (Search::All, ParamKind::Bool) => ParamValue::Bool(rng.gen_bool(0.5)),
            (Search::Range { min, max }, ParamKind::Int { log, .. }) => {
                let v = draw(rng, min, max + 0.999, log).floor();
                ParamValue::Int(v.clamp(min, max) as i64)
            }
            (Search::Range { min, max }, ParamKind::Float { log, .. }) => {
                ParamValue::Float(draw(rng, min, max, log))
            }
            // A search hint that does not fit the kind keeps the default (tested in the
            // registry tests, so this does not happen).
            _ => continue,
        };
        given.insert(p.name.to_string(), value);
    }
    info.resolve(&given)
}

fn draw(rng: &mut ChaCha8Rng, min: f64, max: f64, log: bool) -> f64 {
    if log && min > 0.0 {
        (rng.gen_range(min.ln()..=max.ln())).exp()
    } else {
        rng.gen_range(min..=max)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TrialMetrics {
    pub roc_auc: Option<f64>,
    pub average_precision: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    Done,
    Failed,
    /// Not started: the budget ran out or the search was cancelled.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    pub number: usize,
    pub detector: String,
    pub params: Params,
    pub seed: u64,
    /// The search objective (higher is better); `None` unless done.
    pub objective: Option<f64>,
    /// Against the labels, when there are labels. With `label-free` these are reported only,
    /// never used to choose.
    pub metrics: TrialMetrics,
    pub time_s: f64,
    pub status: TrialStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub trials: Vec<Trial>,
    /// Index into `trials` of the best finished trial.
    pub best: Option<usize>,
    pub metric: Metric,
    pub protocol: Protocol,
    pub strategy: Strategy,
    /// Detectors whose rank-averaged default scores form the label-free consensus.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consensus_members: Vec<String>,
    pub stopped_early: bool,
}

/// The reference detectors of the label-free consensus: diverse families, deterministic or
/// seeded, cheap. Each is a different idea of "unusual" (tails, isolation, distance, density,
/// linear structure), so their rank average is a fair stand-in for unknown labels.
pub const CONSENSUS: &[&str] = &["ecod", "copod", "iforest", "knn", "hbos", "pca"];

/// Rank-normalised scores in (0, 1]: ties share their average rank.
fn rank_normalise(scores: &[f64]) -> Vec<f64> {
    let n = scores.len() as f64;
    metrics::average_ranks(scores)
        .into_iter()
        .map(|r| r / n)
        .collect()
}

struct Consensus {
    /// Per member: its name and rank-normalised training scores.
    members: Vec<(String, Vec<f64>)>,
}

impl Consensus {
    fn build(x: ArrayView2<f64>, seed: u64, ctx: &JobCtx) -> Result<Consensus, AutomlError> {
        let members = CONSENSUS
            .par_iter()
            .filter_map(|name| {
                let info = registry().iter().find(|d| d.name == *name)?;
                let params = info.resolve(&BTreeMap::new()).ok()?;
                let fitted = info.build(&params).fit(x, &JobCtx::new(seed)).ok()?;
                Some((
                    name.to_string(),
                    rank_normalise(&fitted.training_scores.to_vec()),
                ))
            })
            .collect::<Vec<_>>();
        ctx.checkpoint()?;
        if members.len() < 2 {
            return Err(AutomlError::Invalid(
                "the label-free objective needs at least two reference detectors that can fit this data".into(),
            ));
        }
        Ok(Consensus { members })
    }

    /// Spearman correlation of a candidate with the average of the other members (a member is
    /// not compared with itself, which would favour the consensus detectors).
    fn agreement(&self, detector: &str, scores: &[f64]) -> Option<f64> {
        let others: Vec<&Vec<f64>> = self
            .members
            .iter()
            .filter(|(name, _)| name != detector)
            .map(|(_, s)| s)
            .collect();
        let n = scores.len();
        let mean: Vec<f64> = (0..n)
            .map(|i| others.iter().map(|s| s[i]).sum::<f64>() / others.len() as f64)
            .collect();
        metrics::spearman(scores, &mean).ok()
    }
}

/// Rows for fitting and for measuring under the hold-out protocol: a seeded shuffle within
/// each class, so both sides keep the anomaly share.
fn holdout_split(labels: &[u8], test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SPLIT_SALT);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in [0u8, 1u8] {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        // Fisher–Yates with our seeded generator (stable across platforms).
        for i in (1..rows.len()).rev() {
            let j = rng.gen_range(0..=i);
            rows.swap(i, j);
        }
        let n_test = ((rows.len() as f64) * test_fraction).round() as usize;
        test.extend_from_slice(&rows[..n_test]);
        train.extend_from_slice(&rows[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Keeps the split's random stream apart from the trials' (both derive from the user's seed).
const SPLIT_SALT: u64 = 0x5eed_5011;

/// Checks everything that can be checked before any fit.
pub fn validate(n_rows: usize, labels: Option<&[u8]>, config: &Config) -> Result<(), AutomlError> {
    if config.detectors.is_empty() {
        return Err(AutomlError::Invalid("the search space is empty".into()));
    }
    if config.trials == 0 {
        return Err(AutomlError::Invalid(
            "--trials 0: expected at least 1 trial".into(),
        ));
    }
    if config.budget == Some(Duration::ZERO) {
        return Err(AutomlError::Invalid(
            "--budget 0: expected a positive time".into(),
        ));
    }
    if n_rows < 10 {
        return Err(AutomlError::Invalid(format!(
            "the dataset has {n_rows} rows; AutoML needs at least 10"
        )));
    }
    match (config.metric, labels) {
        (Metric::Auc | Metric::Ap, None) => {
            return Err(AutomlError::Invalid(format!(
                "--metric {} needs a label column (--label COL), or use --metric label-free",
                config.metric.name()
            )))
        }
        (Metric::Auc | Metric::Ap, Some(l)) => {
            let positives = l.iter().filter(|&&v| v == 1).count();
            if positives == 0 || positives == l.len() {
                return Err(AutomlError::Invalid(
                    "the label column has a single class: ROC-AUC and average precision need both"
                        .into(),
                ));
            }
            if let Protocol::Holdout { test_fraction } = config.protocol {
                if !(0.05..=0.9).contains(&test_fraction) {
                    return Err(AutomlError::Invalid(format!(
                        "hold-out share {test_fraction}: expected 0.05 to 0.9"
                    )));
                }
                let (train, test) = holdout_split(l, test_fraction, config.seed);
                let test_pos = test.iter().filter(|&&i| l[i] == 1).count();
                if test_pos == 0 || test_pos == test.len() || train.len() < 10 {
                    return Err(AutomlError::Invalid(format!(
                        "the dataset is too small for the hold-out protocol: the test share has {} rows with {test_pos} anomalies; use --protocol unsupervised",
                        test.len()
                    )));
                }
            }
        }
        (Metric::LabelFree, _) => {}
    }
    Ok(())
}

/// The trials the seed implies: each detector's defaults first, then random draws, in a fixed
/// order, each with its own seed.
fn plan(config: &Config) -> Vec<(&'static DetectorInfo, Params, u64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut planned = Vec::with_capacity(config.trials);
    for (i, info) in config.detectors.iter().enumerate() {
        if planned.len() == config.trials {
            break;
        }
        // The user's seed, as `detect --seed` uses: the default trials reproduce those runs, so
        // a labelled search is never worse than any default detector.
        let _ = i;
        if let Ok(p) = info.resolve(&BTreeMap::new()) {
            planned.push((*info, p, config.seed));
        }
    }
    let mut attempts = 0;
    while planned.len() < config.trials && attempts < config.trials * 20 {
        attempts += 1;
        let info = config.detectors[rng.gen_range(0..config.detectors.len())];
        if let Ok(p) = sample_params(info, &mut rng) {
            let trial_seed = rng.gen::<u64>();
            // A parameter set already planned (parameter-free detectors, small choice spaces)
            // would only repeat a trial.
            if planned
                .iter()
                .any(|(d, q, _)| d.name == info.name && *q == p)
            {
                continue;
            }
            planned.push((info, p, trial_seed));
        }
    }
    planned
}

/// Runs the search. `on_trial` is called as each trial finishes (from worker threads).
pub fn run(
    x: ArrayView2<f64>,
    labels: Option<&[u8]>,
    config: &Config,
    ctx: &JobCtx,
    on_trial: &(dyn Fn(&Trial) + Sync),
) -> Result<Outcome, AutomlError> {
    validate(x.nrows(), labels, config)?;
    let started = Instant::now();
    let consensus = match config.metric {
        Metric::LabelFree => Some(Consensus::build(x, config.seed, ctx)?),
        _ => None,
    };
    let split = match (config.protocol, labels) {
        (Protocol::Holdout { test_fraction }, Some(l)) if config.metric != Metric::LabelFree => {
            Some(holdout_split(l, test_fraction, config.seed))
        }
        _ => None,
    };
    let (fit_x, eval_x, eval_labels): (Array2<f64>, Option<Array2<f64>>, Option<Vec<u8>>) =
        match (&split, labels) {
            (Some((train, test)), Some(l)) => (
                x.select(Axis(0), train),
                Some(x.select(Axis(0), test)),
                Some(test.iter().map(|&i| l[i]).collect()),
            ),
            _ => (x.to_owned(), None, labels.map(|l| l.to_vec())),
        };
    let planned = plan(config);
    let stopped = std::sync::atomic::AtomicBool::new(false);
    let done = Mutex::new(());
    let trials: Vec<Trial> = planned
        .par_iter()
        .enumerate()
        .map(|(number, (info, params, seed))| {
            let mut trial = Trial {
                number,
                detector: info.name.to_string(),
                params: params.clone(),
                seed: *seed,
                objective: None,
                metrics: TrialMetrics {
                    roc_auc: None,
                    average_precision: None,
                },
                time_s: 0.0,
                status: TrialStatus::Skipped,
                error: None,
            };
            let out_of_budget = config.budget.is_some_and(|b| started.elapsed() >= b);
            if ctx.checkpoint().is_err() || out_of_budget {
                stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                return trial;
            }
            let t0 = Instant::now();
            let result = (|| -> Result<Vec<f64>, DetectError> {
                let fitted = info.build(params).fit(fit_x.view(), &JobCtx::new(*seed))?;
                match &eval_x {
                    Some(ex) => Ok(fitted.model.score(ex.view())?.to_vec()),
                    None => Ok(fitted.training_scores.to_vec()),
                }
            })();
            trial.time_s = t0.elapsed().as_secs_f64();
            match result {
                Ok(scores) => {
                    if let Some(l) = &eval_labels {
                        trial.metrics.roc_auc = metrics::roc_auc(&scores, l).ok();
                        trial.metrics.average_precision =
                            metrics::average_precision(&scores, l).ok();
                    }
                    trial.objective = match config.metric {
                        Metric::Auc => trial.metrics.roc_auc,
                        Metric::Ap => trial.metrics.average_precision,
                        Metric::LabelFree => consensus
                            .as_ref()
                            .and_then(|c| c.agreement(info.name, &scores)),
                    };
                    trial.status = TrialStatus::Done;
                    if trial.objective.is_none_or(|o| !o.is_finite()) {
                        trial.objective = None;
                        trial.status = TrialStatus::Failed;
                        trial.error = Some("the objective is undefined for these scores".into());
                    }
                }
                Err(e) => {
                    trial.status = TrialStatus::Failed;
                    trial.error = Some(e.to_string());
                }
            }
            let _guard = done.lock();
            on_trial(&trial);
            trial
        })
        .collect();
    let best = best_trial(&trials);
    Ok(Outcome {
        trials,
        best,
        metric: config.metric,
        protocol: config.protocol,
        strategy: config.strategy,
        consensus_members: consensus
            .map(|c| c.members.into_iter().map(|(n, _)| n).collect())
            .unwrap_or_default(),
        stopped_early: stopped.into_inner(),
    })
}

/// Highest objective; ties go to the earlier trial (deterministic).
pub fn best_trial(trials: &[Trial]) -> Option<usize> {
    trials
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.objective.map(|o| (i, o)))
        .fold(None, |best: Option<(usize, f64)>, (i, o)| match best {
            Some((_, b)) if b >= o => best,
            _ => Some((i, o)),
        })
        .map(|(i, _)| i)
}

/// Refits the chosen trial on every row: the model to save and the scores to store.
pub fn refit_best(x: ArrayView2<f64>, trial: &Trial) -> Result<(Model, Vec<f64>), AutomlError> {
    let info = crate::detectors::registry::find(&trial.detector)?;
    let fitted = info.build(&trial.params).fit(x, &JobCtx::new(trial.seed))?;
    Ok((fitted.model, fitted.training_scores.to_vec()))
}

//! AutoML: search detectors and their parameters, with labels (ROC-AUC or average precision)
//! or without (agreement with a consensus of diverse detectors), reproducibly under a seed.
//!
//! The search space is the registry's: each parameter's `Search` hint says what is worth
//! trying (`space`). Strategies: random search, successive halving over subsample sizes
//! (`halving`) and a tree-structured Parzen estimator (`tpe`). Each runs trials in batches, in
//! parallel (`evaluate`); what a batch contains depends only on the seed and on earlier batches'
//! results in trial order, so the same seed gives the same search at any thread count. Every
//! trial checks the budget and the cancellation flag before it starts, and finished trials are
//! kept when the search stops early. Method and limits: docs/automl.md.

mod evaluate;
pub mod halving;
mod space;
mod tpe;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::detectors::{registry, DetectError, DetectorInfo, JobCtx, Model, Params};
use evaluate::{Candidate, Evaluator};
pub use space::sample_params;

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
    /// Successive halving: many candidates on a small subsample, the best third promoted to a
    /// three times larger one, until all rows.
    Halving,
    /// Tree-structured Parzen estimator: after a random start, new trials are drawn where good
    /// trials were.
    Tpe,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [Strategy::Random, Strategy::Halving, Strategy::Tpe];

    pub fn parse(text: &str) -> Result<Strategy, AutomlError> {
        match text {
            "random" => Ok(Strategy::Random),
            "halving" | "successive-halving" | "sh" => Ok(Strategy::Halving),
            "tpe" | "bayes" | "model-based" => Ok(Strategy::Tpe),
            other => Err(AutomlError::Invalid(format!(
                "--strategy {other:?}: expected random, halving or tpe"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::Halving => "halving",
            Strategy::Tpe => "tpe",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AutomlError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Detect(#[from] DetectError),
    /// Thresholding the refitted best trial's scores failed: not the user's input.
    #[error("threshold: {0}")]
    Threshold(#[from] crate::threshold::ThresholdError),
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
    /// With k ≥ 2: after the search, the rank average of the best trials of the k best
    /// detectors is measured as one more candidate (0 = no ensemble).
    pub ensemble: usize,
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
    /// Rows the detector was fitted on: all (or the hold-out training share), or a successive
    /// halving subsample. Objectives are only compared between trials with the same count.
    pub fit_rows: usize,
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

impl Trial {
    /// A trial not (yet) run: no objective, no metrics, status skipped.
    fn pending(number: usize, detector: &str, params: Params, seed: u64, fit_rows: usize) -> Trial {
        Trial {
            number,
            detector: detector.to_string(),
            params,
            seed,
            fit_rows,
            objective: None,
            metrics: TrialMetrics {
                roc_auc: None,
                average_precision: None,
            },
            time_s: 0.0,
            status: TrialStatus::Skipped,
            error: None,
        }
    }
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
                let (train, test) = evaluate::holdout_split(l, test_fraction, config.seed);
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

/// The first `count` candidates the seed implies: each detector's defaults, then random draws,
/// in a fixed order, each with its own seed.
fn plan(config: &Config, count: usize) -> Vec<Candidate> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut planned: Vec<Candidate> = Vec::with_capacity(count);
    for info in &config.detectors {
        if planned.len() == count {
            break;
        }
        // The user's seed, as `detect --seed` uses: the default trials reproduce those runs, so
        // a labelled search is never worse than any default detector.
        if let Ok(params) = info.resolve(&BTreeMap::new()) {
            planned.push(Candidate {
                info,
                params,
                seed: config.seed,
            });
        }
    }
    let mut attempts = 0;
    while planned.len() < count && attempts < count * 20 {
        attempts += 1;
        let info = config.detectors[rng.gen_range(0..config.detectors.len())];
        if let Ok(params) = sample_params(info, &mut rng) {
            let seed = rng.gen::<u64>();
            // A parameter set already planned (parameter-free detectors, small choice spaces)
            // would only repeat a trial.
            if planned
                .iter()
                .any(|c| c.info.name == info.name && c.params == params)
            {
                continue;
            }
            planned.push(Candidate { info, params, seed });
        }
    }
    planned
}

/// Runs the search. `on_trial` is called as each trial finishes (from worker threads, one at
/// a time).
pub fn run(
    x: ArrayView2<f64>,
    labels: Option<&[u8]>,
    config: &Config,
    ctx: &JobCtx,
    on_trial: &(dyn Fn(&Trial) + Sync),
) -> Result<Outcome, AutomlError> {
    validate(x.nrows(), labels, config)?;
    // The consensus and every trial run under one flag of their own: it follows the caller's
    // cancellation and is set when the budget is spent, so running trials stop at their next
    // checkpoint and the budget bounds the search's wall time, not only its start of trials.
    let search_ctx = JobCtx::new(config.seed);
    if ctx.checkpoint().is_err() {
        // Already cancelled: not one trial may start, whatever the watcher's timing.
        search_ctx.cancel();
    }
    let finished = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !finished.load(Ordering::Relaxed) {
                let spent = config.budget.is_some_and(|b| started.elapsed() >= b);
                if spent || ctx.checkpoint().is_err() {
                    search_ctx.cancel();
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let outcome = search(x, labels, config, &search_ctx, on_trial);
        finished.store(true, Ordering::Relaxed);
        outcome
    })
}

fn search(
    x: ArrayView2<f64>,
    labels: Option<&[u8]>,
    config: &Config,
    ctx: &JobCtx,
    on_trial: &(dyn Fn(&Trial) + Sync),
) -> Result<Outcome, AutomlError> {
    // A view with the evaluator's (shorter) lifetime: the matrix is borrowed, not copied.
    let ev = match Evaluator::new(x.reborrow(), labels, config, ctx, on_trial) {
        Ok(ev) => ev,
        // Stopped (budget or cancel) while the label-free consensus was being built.
        Err(AutomlError::Detect(DetectError::Cancelled)) => {
            return Ok(Outcome::stopped_before_any_trial(config))
        }
        Err(e) => return Err(e),
    };
    let mut trials = match config.strategy {
        Strategy::Random => ev.run_batch(&plan(config, config.trials), 0, None),
        Strategy::Halving => run_halving(&ev, config),
        Strategy::Tpe => run_tpe(&ev, config),
    };
    if let Some(ensemble) = ev.ensemble_trial(trials.len()) {
        trials.push(ensemble);
    }
    Ok(Outcome {
        best: best_trial(&trials),
        trials,
        metric: config.metric,
        protocol: config.protocol,
        strategy: config.strategy,
        consensus_members: ev.consensus_members(),
        stopped_early: ev.stopped_early(),
    })
}

fn run_halving(ev: &Evaluator, config: &Config) -> Vec<Trial> {
    let n = ev.fit_x.nrows();
    let labels = ev.fit_labels();
    let anomalies = labels.map(|l| l.iter().filter(|&&v| v == 1).count());
    let sizes = halving::rung_sizes(n, anomalies);
    let mut alive = plan(
        config,
        halving::first_rung_candidates(config.trials, sizes.len()),
    );
    let mut trials: Vec<Trial> = Vec::new();
    for (rung, &size) in sizes.iter().enumerate() {
        let rows = (size < n).then(|| halving::subsample(n, size, labels, config.seed, rung));
        let batch = ev.run_batch(&alive, trials.len(), rows.as_deref());
        let keep = halving::survivors(alive.len());
        let mut ranked: Vec<(f64, usize)> = batch
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.objective.map(|o| (o, i)))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let promoted: Vec<Candidate> = ranked
            .iter()
            .take(keep)
            .map(|&(_, i)| alive[i].clone())
            .collect();
        trials.extend(batch);
        if ev.stopped_early() || promoted.is_empty() {
            break;
        }
        alive = promoted;
    }
    trials
}

/// Trials proposed together by the model-based optimiser: enough to keep the cores busy, few
/// enough that each batch learns from the previous one.
const TPE_BATCH: usize = 4;
const TPE_SALT: u64 = 0x79e_0b5e_55ed;

fn run_tpe(ev: &Evaluator, config: &Config) -> Vec<Trial> {
    // A random start (every detector's defaults first) gives the model something to learn from.
    let startup = config
        .trials
        .min((config.detectors.len() + 3).max(config.trials * 2 / 5));
    let mut trials = ev.run_batch(&plan(config, startup), 0, None);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ TPE_SALT);
    while trials.len() < config.trials && !ev.should_stop() {
        let by_name = |name: &str| config.detectors.iter().find(|d| d.name == name).copied();
        let history: Vec<tpe::Observation> = trials
            .iter()
            .filter_map(|t| {
                Some(tpe::Observation {
                    info: by_name(&t.detector)?,
                    params: &t.params,
                    objective: t.objective?,
                })
            })
            .collect();
        let seen: Vec<(&str, &Params)> = trials
            .iter()
            .map(|t| (t.detector.as_str(), &t.params))
            .collect();
        let count = TPE_BATCH.min(config.trials - trials.len());
        let batch = tpe::propose(&config.detectors, &history, &seen, count, &mut rng);
        if batch.is_empty() {
            break; // the space is exhausted
        }
        let done = ev.run_batch(&batch, trials.len(), None);
        trials.extend(done);
    }
    trials
}

/// Highest objective among the trials fitted on the most rows (successive halving's lower rungs
/// measure on subsamples and are not comparable); ties go to the earlier trial.
pub fn best_trial(trials: &[Trial]) -> Option<usize> {
    let most_rows = trials
        .iter()
        .filter(|t| t.objective.is_some())
        .map(|t| t.fit_rows)
        .max()?;
    trials
        .iter()
        .enumerate()
        .filter(|(_, t)| t.fit_rows == most_rows)
        .filter_map(|(i, t)| t.objective.map(|o| (i, o)))
        .fold(None, |best: Option<(usize, f64)>, (i, o)| match best {
            Some((_, b)) if b >= o => best,
            _ => Some((i, o)),
        })
        .map(|(i, _)| i)
}

/// A search's best trial refitted on every row and cut at PyOD's default contamination (0.1):
/// how the CLI and the TUI both finish a search.
pub struct BestRefit {
    /// Index of the best trial in the outcome's trials.
    pub index: usize,
    pub model: Model,
    pub scores: Vec<f64>,
    pub threshold: crate::threshold::Threshold,
    pub flags: Vec<u8>,
    /// Seconds the refit took.
    pub fit_s: f64,
}

/// The best trial refitted and thresholded, or `None` when no trial finished.
pub fn refit_best(x: ArrayView2<f64>, outcome: &Outcome) -> Result<Option<BestRefit>, AutomlError> {
    use crate::threshold::{self, ThresholdMethod};
    let Some(index) = outcome.best else {
        return Ok(None);
    };
    let started = std::time::Instant::now();
    let (model, scores) = refit(x, &outcome.trials, index)?;
    let fit_s = started.elapsed().as_secs_f64();
    let cut = threshold::apply(&scores, ThresholdMethod::Contamination(0.1))?;
    let flags = threshold::flags(&scores, cut.value);
    Ok(Some(BestRefit {
        index,
        model,
        scores,
        threshold: cut,
        flags,
        fit_s,
    }))
}

impl Outcome {
    /// A search stopped (budget or cancel) before it could start a trial.
    fn stopped_before_any_trial(config: &Config) -> Outcome {
        Outcome {
            trials: Vec::new(),
            best: None,
            metric: config.metric,
            protocol: config.protocol,
            strategy: config.strategy,
            consensus_members: Vec::new(),
            stopped_early: true,
        }
    }

    /// Why a search ended without a best trial, for the user and the store.
    pub fn no_best_reason(&self) -> &'static str {
        if self.stopped_early {
            "AutoML was cancelled before any trial finished"
        } else {
            "no trial finished; every candidate failed on this data (see the errors in the trial list)"
        }
    }
}

/// Refits trial `index` on every row: the model to save and the scores to store. An ensemble
/// trial refits each of its members.
pub fn refit(
    x: ArrayView2<f64>,
    trials: &[Trial],
    index: usize,
) -> Result<(Model, Vec<f64>), AutomlError> {
    use rayon::prelude::*;
    let trial = &trials[index];
    if trial.detector != ENSEMBLE {
        let info = crate::detectors::registry::find(&trial.detector)?;
        let fitted = info
            .build(&trial.params)
            .fit_on_pool(x, &JobCtx::new(trial.seed))?;
        return Ok((fitted.model, fitted.training_scores.to_vec()));
    }
    let members = ensemble_members(&trial.params)
        .filter(|m| {
            m.iter()
                .all(|&i| i < trials.len() && trials[i].detector != ENSEMBLE)
        })
        .ok_or_else(|| AutomlError::Invalid("the ensemble trial lists unknown members".into()))?;
    let fitted = members
        .par_iter()
        .map(|&i| {
            let (model, scores) = refit(x, trials, i)?;
            Ok((
                trials[i].detector.clone(),
                trials[i].params.clone(),
                model,
                scores,
            ))
        })
        .collect::<Result<Vec<_>, AutomlError>>()?;
    let (model, scores) = crate::detectors::ensemble::EnsembleModel::new(fitted);
    Ok((Model::Ensemble(model), scores))
}

/// The detector name of the top-k ensemble trial.
pub const ENSEMBLE: &str = "ensemble";

/// The trial numbers an ensemble trial combines (its `members` parameter, `3,17,5`).
pub fn ensemble_members(params: &Params) -> Option<Vec<usize>> {
    match params.0.get("members") {
        Some(crate::detectors::ParamValue::Text(t)) => t
            .split(',')
            .map(|n| n.trim().parse().ok())
            .collect::<Option<Vec<usize>>>(),
        _ => None,
    }
}

//! An AutoML search end to end: plan (search space, metric, protocol), search, refit the best
//! trial on all rows, threshold, metrics, and the stored run with every trial. The CLI's
//! `automl` and the workbench's AutoML pane both call [`plan_automl`] and [`run_automl`].

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::automl::{self, Config, Metric, Outcome, Protocol, Strategy, Trial};
use crate::data::Prepared;
use crate::detectors::{JobCtx, Params};
use crate::record::{self, FinishedRun};
use crate::store::{RunKind, Store};
use crate::threshold::{self, ThresholdMethod};

use super::detect::{check_finite_scores, Dataset, Metrics, ThresholdReport};
use super::error::{catch_panic, ServiceError, ServiceResult};
use super::run_guard::RunGuard;

/// The user's choices for a search, as both faces collect them.
#[derive(Debug, Clone)]
pub struct AutomlOptions {
    /// Detector or family names; `None` = all (quadratic ones left out on large data).
    pub detectors: Option<Vec<String>>,
    /// `None` = AUC with a label, label-free without.
    pub metric: Option<Metric>,
    /// Fit on 70 %, measure on 30 % (labelled metrics only).
    pub holdout: bool,
    pub strategy: Strategy,
    pub trials: usize,
    pub budget: Option<Duration>,
    pub ensemble: usize,
    pub seed: u64,
    /// How the refitted best model flags rows.
    pub threshold: ThresholdMethod,
}

impl Default for AutomlOptions {
    fn default() -> Self {
        AutomlOptions {
            detectors: None,
            metric: None,
            holdout: false,
            strategy: Strategy::Random,
            trials: 50,
            budget: None,
            ensemble: 0,
            seed: 0,
            threshold: ThresholdMethod::Contamination(0.1),
        }
    }
}

/// A validated search, ready to run.
#[derive(Debug, Clone)]
pub struct AutomlPlan {
    pub config: Config,
    /// Labels the search may read: `None` for the label-free objective.
    pub search_labels: Option<Vec<u8>>,
    /// Left out of an unrestricted search as too slow for this many rows.
    pub skipped_detectors: Vec<&'static str>,
    pub threshold: ThresholdMethod,
}

/// Checks the options that need no data (the CLI does this before loading).
pub fn check_options(options: &AutomlOptions) -> ServiceResult<()> {
    automl::search_space(options.detectors.as_deref())?;
    if options.ensemble == 1 {
        return Err(ServiceError::input(
            "--ensemble 1: an ensemble needs at least 2 members (0 turns it off)",
        ));
    }
    if options.trials == 0 {
        return Err(ServiceError::input("--trials 0: expected at least 1 trial"));
    }
    if options.budget == Some(Duration::ZERO) {
        return Err(ServiceError::input("--budget 0: expected a positive time"));
    }
    Ok(())
}

/// The search for this data: metric by default from the label, space fitted to the size.
pub fn plan_automl(prepared: &Prepared, options: &AutomlOptions) -> ServiceResult<AutomlPlan> {
    check_options(options)?;
    let m = &prepared.matrix;
    let detectors = automl::search_space(options.detectors.as_deref())?;
    let (detectors, skipped_detectors) = if options.detectors.is_none() {
        automl::fit_space_to_size(detectors, m.x.nrows(), m.x.ncols())
    } else {
        (detectors, Vec::new())
    };
    let metric = options.metric.unwrap_or(if m.label.is_some() {
        Metric::Auc
    } else {
        Metric::LabelFree
    });
    // With label-free the label is kept aside for reporting only.
    let search_labels = match metric {
        Metric::LabelFree => None,
        _ => m.label.as_ref().map(|l| l.to_vec()),
    };
    let config = Config {
        detectors,
        metric,
        protocol: if options.holdout && metric != Metric::LabelFree {
            Protocol::Holdout { test_fraction: 0.3 }
        } else {
            Protocol::Unsupervised
        },
        strategy: options.strategy,
        trials: options.trials,
        budget: options.budget,
        seed: options.seed,
        ensemble: options.ensemble,
    };
    automl::validate(m.x.nrows(), search_labels.as_deref(), &config)?;
    Ok(AutomlPlan {
        config,
        search_labels,
        skipped_detectors,
        threshold: options.threshold,
    })
}

/// Seconds per step of a search; stored with every AutoML run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AutomlTiming {
    pub load_s: f64,
    pub search_s: f64,
    /// Refitting the best trial on all rows.
    pub fit_s: f64,
    pub score_s: f64,
}

/// The best trial refitted on every row, thresholded and measured.
#[derive(Debug, Clone)]
pub struct BestRun {
    /// Index into the outcome's trials.
    pub index: usize,
    pub detector: String,
    pub params: Params,
    pub objective: f64,
    pub scores: Vec<f64>,
    pub flags: Vec<u8>,
    pub threshold: ThresholdReport,
    pub n_anomalies: usize,
    pub metrics: Option<Metrics>,
    /// The refitted model (also stored with the run), for explanations.
    pub model: crate::detectors::Model,
}

/// A finished search.
#[derive(Debug, Clone)]
pub struct AutomlOutcome {
    pub run_id: Option<i64>,
    pub search: Outcome,
    /// `None` when no trial finished (the run is then stored as failed or cancelled).
    pub best: Option<BestRun>,
    pub timing: AutomlTiming,
}

/// What an AutoML run stores as metrics: the refitted model's label metrics and the objective
/// that chose it.
#[derive(Serialize)]
struct StoredMetrics<'a> {
    #[serde(flatten)]
    metrics: &'a Option<Metrics>,
    objective: f64,
    objective_metric: &'static str,
}

/// Search → refit best → threshold → record trials → finish. The stored run never stays
/// `running`: every error, panic or empty search ends it (see [`RunGuard`]).
pub fn run_automl(
    data: &Dataset,
    plan: &AutomlPlan,
    ctx: &JobCtx,
    on_trial: &(dyn Fn(&Trial) + Sync),
    store: Option<&mut Store>,
) -> ServiceResult<AutomlOutcome> {
    let (loaded, prepared) = (&*data.loaded, &*data.prepared);
    let m = &prepared.matrix;
    let guard = RunGuard::begin(
        store,
        RunKind::Automl,
        loaded,
        prepared,
        "automl",
        &Params::default(),
        plan.config.seed,
    )?;
    let started = Instant::now();
    let search = catch_panic("AutoML", || {
        Ok(automl::run(
            m.x.view(),
            plan.search_labels.as_deref(),
            &plan.config,
            ctx,
            on_trial,
        )?)
    });
    let search = match search {
        Ok(s) => s,
        Err(e) => return Err(guard.fail(e.context(&loaded.source))),
    };
    let search_s = started.elapsed().as_secs_f64();
    let mut timing = AutomlTiming {
        load_s: data.load_s,
        search_s,
        fit_s: 0.0,
        score_s: 0.0,
    };
    let Some(index) = search.best else {
        let run_id = guard.id();
        guard.end_with(|store, id| record::end_search_without_best(store, id, &search))?;
        return Ok(AutomlOutcome {
            run_id,
            search,
            best: None,
            timing,
        });
    };

    let started = Instant::now();
    let refit = catch_panic("AutoML refit", || {
        Ok(automl::refit(m.x.view(), &search.trials, index)?)
    });
    let (model, scores) = match refit {
        Ok(r) => r,
        Err(e) => return Err(guard.fail(e.context(&loaded.source))),
    };
    timing.fit_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    if let Err(e) = check_finite_scores(&search.trials[index].detector, &scores, m) {
        return Err(guard.fail(e.context(&loaded.source)));
    }
    let cut = match threshold::apply(&scores, plan.threshold) {
        Ok(cut) => cut,
        Err(e) => return Err(guard.fail(ServiceError::internal(format!("threshold: {e}")))),
    };
    let flags = threshold::flags(&scores, cut.value);
    timing.score_s = started.elapsed().as_secs_f64();

    let trial = &search.trials[index];
    let best = BestRun {
        index,
        detector: trial.detector.clone(),
        params: trial.params.clone(),
        objective: trial.objective.unwrap_or(f64::NAN),
        metrics: Metrics::of_matrix(&scores, m),
        threshold: ThresholdReport {
            method: cut.method.to_string(),
            value: cut.value,
        },
        n_anomalies: cut.n_flagged,
        scores,
        flags,
        model: model.clone(),
    };
    let run_id = guard.id();
    let mut guard = guard;
    if let Some(store) = guard.store() {
        if let Err(e) = store.record_trials(
            run_id.expect("a store"),
            &record::trial_records(&search.trials),
        ) {
            return Err(guard.fail(e.into()));
        }
    }
    guard.finish(FinishedRun {
        detector: &best.detector,
        params: &best.params,
        seed: trial.seed,
        loaded,
        prepared,
        model,
        threshold_method: best.threshold.method.clone(),
        threshold_value: best.threshold.value,
        n_anomalies: best.n_anomalies,
        metrics: &StoredMetrics {
            metrics: &best.metrics,
            objective: best.objective,
            objective_metric: plan.config.metric.name(),
        },
        timing: &timing,
        scores: &best.scores,
        flags: &best.flags,
    })?;
    Ok(AutomlOutcome {
        run_id,
        search,
        best: Some(best),
        timing,
    })
}

//! Background work for the workbench: each [`Effect`] runs on tokio's blocking pool (CPU work
//! inside uses rayon) and reports back as [`Msg`]s on a channel, so the UI thread never waits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ndarray::{Array2, Axis};
use tokio::sync::mpsc::UnboundedSender;

use super::app::{
    AutomlFinished, AutomlRequest, Effect, FitRequest, Msg, PreparedData, RunResult, RunUse,
    ScatterDots,
};
use crate::automl;
use crate::data::{self, LoadOptions, Loaded, PrepareSpec, Source};
use crate::detectors::{self, linalg, DetectError, JobCtx, Params};
use crate::metrics;
use crate::record::{self, FinishedRun};
use crate::store::{RunEnd, RunFilter, RunKind, Store};
use crate::threshold::{self, ThresholdMethod};

/// Where runs are recorded; `None` = not at all (`--no-store`).
#[derive(Debug, Clone)]
pub struct JobEnv {
    pub store: Option<PathBuf>,
    pub tx: UnboundedSender<Msg>,
}

impl JobEnv {
    fn send(&self, msg: Msg) {
        // The receiver is gone only when the app is quitting.
        let _ = self.tx.send(msg);
    }

    fn open_store(&self) -> Result<Option<Store>, String> {
        match &self.store {
            Some(path) => Store::open(path).map(Some).map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }
}

/// Starts the work for one effect; returns at once.
pub fn spawn(effect: Effect, env: &JobEnv) {
    let env = env.clone();
    match effect {
        Effect::RememberTheme(name) => {
            tokio::task::spawn_blocking(move || {
                if let Err(e) = super::config::remember_theme(&name) {
                    env.send(Msg::Warning(format!("could not remember the theme: {e}")));
                }
            });
        }
        effect => {
            tokio::task::spawn_blocking(move || run(effect, &env));
        }
    }
}

/// Runs one effect to completion on the current thread (tests call this directly).
pub fn run(effect: Effect, env: &JobEnv) {
    match effect {
        Effect::Load(source) => env.send(load(&source)),
        Effect::Prepare { loaded, spec } => env.send(Msg::Prepared(prepare(&loaded, &spec))),
        Effect::Fit(request) => {
            let job = request.job;
            let result = fit(&request, env);
            env.send(Msg::FitDone { job, result });
        }
        Effect::Automl(request) => {
            let job = request.job;
            let result = automl(&request, env);
            env.send(Msg::AutomlDone { job, result });
        }
        Effect::ListRuns => env.send(Msg::Runs(env.open_store().and_then(|store| {
            match store {
                Some(s) => s
                    .list_runs(&RunFilter {
                        limit: Some(10_000),
                        ..Default::default()
                    })
                    .map_err(|e| e.to_string()),
                None => Ok(Vec::new()),
            }
        }))),
        Effect::LoadRun {
            id,
            then,
            on_screen,
        } => {
            let result = with_store(env, |s| {
                let detail = s.run(id).map_err(|e| e.to_string())?;
                let chart = match then {
                    RunUse::Show => s.scores(id).map_err(|e| e.to_string())?.map(|stored| {
                        Box::new(RunResult::from_stored(&detail, stored, on_screen.as_ref()))
                    }),
                    RunUse::Rerun => None,
                };
                Ok((Box::new(detail), chart))
            });
            env.send(Msg::RunLoaded(then, result));
        }
        Effect::CompareRuns(ids) => {
            let result = with_store(env, |s| {
                ids.iter()
                    .map(|&id| s.run(id).map_err(|e| e.to_string()))
                    .collect()
            });
            env.send(Msg::Compared(result));
        }
        Effect::DeleteRuns(ids) => {
            let result = env.open_store().and_then(|store| {
                let mut store = store.ok_or("no store (started with --no-store)")?;
                let mut n = 0;
                for id in ids {
                    if store.delete_run(id).map_err(|e| e.to_string())? {
                        n += 1;
                    }
                }
                Ok(n)
            });
            env.send(Msg::Deleted(result));
        }
        Effect::RememberTheme(name) => {
            if let Err(e) = super::config::remember_theme(&name) {
                env.send(Msg::Warning(format!("could not remember the theme: {e}")));
            }
        }
    }
}

fn with_store<T>(env: &JobEnv, f: impl FnOnce(&Store) -> Result<T, String>) -> Result<T, String> {
    match env.open_store()? {
        Some(store) => f(&store),
        None => Err("no store (started with --no-store)".into()),
    }
}

fn load(source: &Source) -> Msg {
    match data::load(source, &LoadOptions::default()) {
        Ok(loaded) => {
            // The profile is cheap next to loading; a failure only loses the statistics.
            let profile = data::profile(&loaded).ok();
            Msg::Loaded(Ok(Arc::new(loaded)), profile)
        }
        Err(e) => Msg::Loaded(Err(e.to_string()), None),
    }
}

fn prepare(loaded: &Loaded, spec: &PrepareSpec) -> Result<PreparedData, String> {
    let prepared = spec
        .apply(&loaded.df, &loaded.source)
        .map_err(|e| e.to_string())?;
    let projection = Arc::new(pca_2d(&prepared.matrix.x));
    Ok(PreparedData {
        prepared: Arc::new(prepared),
        projection,
    })
}

/// First two principal components of the standardised matrix (feature count capped so the
/// eigen-decomposition stays instant).
pub fn pca_2d(x: &Array2<f64>) -> Vec<(f64, f64)> {
    const MAX_FEATURES: usize = 200;
    let d = x.ncols().min(MAX_FEATURES);
    let n = x.nrows();
    if n < 2 || d == 0 {
        return vec![(0.0, 0.0); n];
    }
    let x = x.slice(ndarray::s![.., ..d]);
    let mean = x.mean_axis(Axis(0)).expect("rows exist");
    let std = x
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 { s } else { 1.0 });
    let z = (&x - &mean) / &std;
    let cov = z.t().dot(&z) / (n as f64 - 1.0);
    let flat: Vec<f64> = cov.iter().copied().collect();
    // Signs fixed by the solver's sign rule: the picture does not flip between versions.
    let (_, vectors) = linalg::sym_eigen_sorted_desc(&flat, d);
    let pc = |k: usize, row: ndarray::ArrayView1<f64>| -> f64 {
        if k >= d {
            return 0.0;
        }
        row.iter()
            .zip(&vectors[k * d..(k + 1) * d])
            .map(|(a, b)| a * b)
            .sum()
    };
    z.rows().into_iter().map(|r| (pc(0, r), pc(1, r))).collect()
}

fn fit(req: &FitRequest, env: &JobEnv) -> Result<Box<RunResult>, String> {
    let info = detectors::registry::find(req.detector).map_err(|e| e.to_string())?;
    let detector = info.build(&req.params);
    let m = &req.prepared.matrix;
    let mut store = env.open_store()?;
    let run_id = match store.as_mut() {
        Some(s) => Some(
            record::begin(
                s,
                &req.loaded,
                &req.prepared,
                info.name,
                &req.params,
                req.seed,
            )
            .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let fail = |store: &mut Option<Store>, end: RunEnd, message: String| -> String {
        if let (Some(s), Some(id)) = (store.as_mut(), run_id) {
            let _ = s.end_run(id, end, &message);
        }
        message
    };

    // Progress is sent at most every 1 % so that a fast loop cannot flood the UI.
    let tx = env.tx.clone();
    let job = req.job;
    let last = Arc::new(AtomicU64::new(0));
    let ctx = JobCtx::new(req.seed).with_progress(Arc::new(move |f: f64| {
        let percent = (f * 100.0) as u64;
        if last.swap(percent, Ordering::Relaxed) != percent {
            let _ = tx.send(Msg::Progress { job, fraction: f });
        }
    }));
    let ctx = ctx.sharing_cancel(req.cancel.clone());
    let started = Instant::now();
    let fitted = match detector.fit_on_pool(m.x.view(), &ctx) {
        Ok(f) => f,
        Err(DetectError::Cancelled) => {
            return Err(fail(
                &mut store,
                RunEnd::Cancelled,
                format!("{} cancelled", info.name),
            ))
        }
        Err(e) => {
            return Err(fail(
                &mut store,
                RunEnd::Failed,
                format!("{}: {}: {e}", req.loaded.source, info.name),
            ))
        }
    };
    let fit_s = started.elapsed().as_secs_f64();
    let scores = fitted.training_scores.to_vec();
    let method = ThresholdMethod::Contamination(0.1);
    let cut = match threshold::apply(&scores, method) {
        Ok(c) => c,
        Err(e) => return Err(fail(&mut store, RunEnd::Failed, format!("threshold: {e}"))),
    };
    let flags = threshold::flags(&scores, cut.value);
    let chart = ChartInput {
        job: req.job,
        detector: info.name,
        params: &req.params,
        loaded: &req.loaded,
        prepared: &req.prepared,
        projection: &req.projection,
    };
    let mut result = chart.result(scores, cut.n_flagged, fit_s, None);
    if let (Some(s), Some(id)) = (store.as_mut(), run_id) {
        record::finish(
            s,
            id,
            FinishedRun {
                detector: info.name,
                params: &req.params,
                seed: req.seed,
                loaded: &req.loaded,
                prepared: &req.prepared,
                model: fitted.model,
                threshold_method: cut.method.to_string(),
                threshold_value: cut.value,
                n_anomalies: cut.n_flagged,
                metrics: &result.metrics_json(),
                timing: &serde_json::json!({ "fit_s": fit_s }),
                scores: &result.scores,
                flags: &flags,
            },
        )
        .map_err(|e| e.to_string())?;
        result.run_id = run_id;
    }
    Ok(Box::new(result))
}

/// What the charts of a finished run are built from.
struct ChartInput<'a> {
    job: u64,
    detector: &'a str,
    params: &'a Params,
    loaded: &'a Loaded,
    prepared: &'a data::Prepared,
    projection: &'a [(f64, f64)],
}

impl ChartInput<'_> {
    /// Ranking, curves, metrics and the scatter, computed here on the job thread so that frames
    /// stay cheap.
    fn result(
        &self,
        scores: Vec<f64>,
        flagged: usize,
        fit_s: f64,
        run_id: Option<i64>,
    ) -> RunResult {
        let m = &self.prepared.matrix;
        let labels = m.label.as_ref().map(|l| l.to_vec());
        let (roc_auc, average_precision) = match &labels {
            Some(l) => (
                metrics::roc_auc(&scores, l).ok(),
                metrics::average_precision(&scores, l).ok(),
            ),
            None => (None, None),
        };
        let (roc, pr) = RunResult::curves(&scores, labels.as_deref());
        let (order, sorted_desc) = RunResult::rank(&scores);
        let scatter = Some(Arc::new(ScatterDots::new(self.projection, &order)));
        RunResult {
            job: self.job,
            detector: self.detector.to_string(),
            params: self.params.clone(),
            run_id,
            source: self.loaded.source.clone(),
            flagged,
            scores,
            sorted_desc,
            order,
            row_ids: m.row_ids.clone(),
            labels,
            roc_auc,
            average_precision,
            roc,
            pr,
            fit_s,
            scatter,
            time: time_axis(self.loaded, self.prepared),
        }
    }
}

impl RunResult {
    /// The metrics a run records in the store.
    fn metrics_json(&self) -> serde_json::Value {
        serde_json::json!({
            "roc_auc": self.roc_auc,
            "average_precision": self.average_precision,
            "precision_at_n": self.labels.as_ref().and_then(|l| metrics::precision_at_n(&self.scores, l, None).ok()),
        })
    }
}

/// Runs an AutoML search: every finished trial goes to the pane at once; at the end the best
/// trial is refitted on all rows, recorded (the search as one `automl` run with its trials) and
/// charted like a detector run.
fn automl(req: &AutomlRequest, env: &JobEnv) -> Result<Box<AutomlFinished>, String> {
    let m = &req.data.prepared.matrix;
    let mut store = env.open_store()?;
    let run_id = match store.as_mut() {
        Some(s) => Some(
            record::begin_kind(
                s,
                RunKind::Automl,
                &req.loaded,
                &req.data.prepared,
                "automl",
                &Params::default(),
                req.config.seed,
            )
            .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let ctx = JobCtx::new(req.config.seed).sharing_cancel(req.cancel.clone());
    let tx = env.tx.clone();
    let job = req.job;
    let on_trial = move |t: &automl::Trial| {
        let _ = tx.send(Msg::AutomlTrial {
            job,
            trial: Box::new(t.clone()),
        });
    };
    let started = Instant::now();
    let outcome = automl::run(
        m.x.view(),
        req.search_labels.as_deref(),
        &req.config,
        &ctx,
        &on_trial,
    );
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            if let (Some(s), Some(id)) = (store.as_mut(), run_id) {
                let _ = s.end_run(id, RunEnd::Failed, &e.to_string());
            }
            return Err(format!("AutoML: {e}"));
        }
    };
    let search_s = started.elapsed().as_secs_f64();
    let refit = automl::refit_best(m.x.view(), &outcome).map_err(|e| e.to_string())?;
    let Some(refit) = refit else {
        if let (Some(s), Some(id)) = (store.as_mut(), run_id) {
            let _ = record::end_search_without_best(s, id, &outcome);
        }
        return Err(outcome.no_best_reason().to_string());
    };
    let best = &outcome.trials[refit.index];
    let fit_s = refit.fit_s;
    let chart = ChartInput {
        job: req.job,
        detector: &best.detector,
        params: &best.params,
        loaded: &req.loaded,
        prepared: &req.data.prepared,
        projection: &req.data.projection,
    };
    let mut result = chart.result(refit.scores, refit.threshold.n_flagged, fit_s, None);
    if let (Some(s), Some(id)) = (store.as_mut(), run_id) {
        s.record_trials(id, &record::trial_records(&outcome.trials))
            .map_err(|e| e.to_string())?;
        record::finish(
            s,
            id,
            FinishedRun {
                detector: &best.detector,
                params: &best.params,
                seed: best.seed,
                loaded: &req.loaded,
                prepared: &req.data.prepared,
                model: refit.model,
                threshold_method: refit.threshold.method.to_string(),
                threshold_value: refit.threshold.value,
                n_anomalies: refit.threshold.n_flagged,
                metrics: &result.metrics_json(),
                timing: &serde_json::json!({
                    "search_s": search_s, "fit_s": fit_s,
                    "objective": best.objective, "metric": req.config.metric.name(),
                }),
                scores: &result.scores,
                flags: &refit.flags,
            },
        )
        .map_err(|e| e.to_string())?;
        result.run_id = run_id;
    }
    Ok(Box::new(AutomlFinished {
        job: req.job,
        best: result,
        objective: best.objective.unwrap_or(f64::NAN),
        stopped_early: outcome.stopped_early,
        search_s,
    }))
}

/// The time column's values (as numbers) for the prepared rows, when one exists.
fn time_axis(loaded: &Loaded, prepared: &data::Prepared) -> Option<Arc<Vec<f64>>> {
    let name = prepared.report.time_column.as_ref()?;
    let column = loaded.df.column(name).ok()?;
    let values = column.cast(&polars::prelude::DataType::Float64).ok()?;
    let values = values.f64().ok()?;
    let out: Vec<f64> = prepared
        .matrix
        .row_ids
        .iter()
        .map(|&r| values.get(r as usize).unwrap_or(f64::NAN))
        .collect();
    Some(Arc::new(out))
}

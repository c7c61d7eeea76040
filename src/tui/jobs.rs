//! Background work for the workbench: each [`Effect`] runs on tokio's blocking pool (CPU work
//! inside uses rayon) and reports back as [`Msg`]s on a channel, so the UI thread never waits.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::app::{
    AutomlFinished, AutomlRequest, Effect, ExplainRequest, ExportRequest, FitRequest, Msg,
    PreparedData, RunUse,
};
use super::overlays::edit_value::ExportKind;
use crate::automl;
use crate::data::{LoadOptions, Loaded, PrepareSpec, Source};
use crate::detectors::explain::ExplainOptions;
use crate::detectors::JobCtx;
use crate::service::automl as automl_service;
use crate::service::detect;
use crate::service::error::catch_panic;
use crate::service::explain::{explain_training_rows, write_report, ExplainedRow, Selection};
use crate::service::export::{write_scores_file, ScoresTable};
use crate::service::jobs::throttled;
use crate::service::run_view::{pca_2d, RunInput, RunResult};
use crate::service::{Fault, ServiceError, ServiceResult};
use crate::store::{RunFilter, Store};

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

    fn open_store(&self) -> ServiceResult<Option<Store>> {
        match &self.store {
            Some(path) => Ok(Some(Store::open(path)?)),
            None => Ok(None),
        }
    }

    fn require_store(&self) -> ServiceResult<Store> {
        self.open_store()?
            .ok_or_else(|| ServiceError::input("no store (started with --no-store)"))
    }
}

/// Progress messages at most this often: the UI redraws on each.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);

/// Starts the work for one effect; returns at once.
pub fn spawn(effect: Effect, env: &JobEnv) {
    let env = env.clone();
    tokio::task::spawn_blocking(move || run(effect, &env));
}

/// Runs one effect to completion on the current thread (tests call this directly). A panic
/// inside any job becomes that job's error message: the app stays up.
pub fn run(effect: Effect, env: &JobEnv) {
    match effect {
        Effect::Load { ticket, source } => {
            let result = catch_panic("load", || load(&source));
            env.send(match result {
                Ok((loaded, profile, read_s)) => Msg::Loaded {
                    ticket,
                    result: Ok((loaded, read_s)),
                    profile,
                },
                Err(e) => Msg::Loaded {
                    ticket,
                    result: Err(e.message),
                    profile: None,
                },
            })
        }
        Effect::Prepare {
            ticket,
            loaded,
            spec,
        } => {
            // A preparation the user has already replaced is not worth computing.
            let result = if ticket.cancel.is_cancelled() {
                Err("superseded".to_string())
            } else {
                catch_panic("prepare", || prepare(&loaded, &spec)).map_err(|e| e.message)
            };
            env.send(Msg::Prepared { ticket, result })
        }
        Effect::Fit(request) => {
            let result = catch_panic("fit", || fit(&request, env));
            env.send(Msg::FitDone {
                ticket: request.ticket,
                result,
            });
        }
        Effect::Automl(request) => {
            let result = catch_panic("AutoML", || automl(&request, env));
            env.send(Msg::AutomlDone {
                ticket: request.ticket,
                result,
            });
        }
        Effect::ListRuns(ticket) => {
            let result = catch_panic("list runs", || match env.open_store()? {
                Some(s) => Ok(s.list_runs(&RunFilter {
                    limit: Some(10_000),
                    ..Default::default()
                })?),
                None => Ok(Vec::new()),
            });
            env.send(Msg::Runs {
                ticket,
                result: result.map_err(|e| e.message),
            })
        }
        Effect::LoadRun {
            ticket,
            id,
            then,
            on_screen,
        } => {
            let result = catch_panic("read run", || {
                let s = env.require_store()?;
                let detail = s.run(id)?;
                let chart = match then {
                    RunUse::Show => s.scores(id)?.map(|stored| {
                        Box::new(RunResult::from_stored(&detail, stored, on_screen.as_ref()))
                    }),
                    RunUse::Rerun => None,
                };
                Ok((Box::new(detail), chart))
            });
            env.send(Msg::RunLoaded {
                ticket,
                then,
                result: result.map_err(|e| e.message),
            });
        }
        Effect::CompareRuns {
            ticket,
            ids,
            on_screen,
        } => {
            let result = catch_panic("compare runs", || {
                let s = env.require_store()?;
                ids.iter()
                    .map(|&id| {
                        let detail = s.run(id)?;
                        let curves = s.scores(id)?.and_then(|stored| {
                            let r = RunResult::from_stored(&detail, stored, on_screen.as_ref());
                            (!r.roc.is_empty()).then_some((r.roc, r.pr))
                        });
                        Ok((detail, curves))
                    })
                    .collect()
            });
            env.send(Msg::Compared {
                ticket,
                result: result.map_err(|e| e.message),
            });
        }
        Effect::DeleteRuns(ids) => {
            let result = catch_panic("delete runs", || {
                let mut store = env.require_store()?;
                let mut n = 0;
                for id in ids {
                    if store.delete_run(id)? {
                        n += 1;
                    }
                }
                Ok(n)
            });
            env.send(Msg::Deleted(result.map_err(|e| e.message)));
        }
        Effect::Explain(request) => {
            let result = catch_panic("explain", || explain(&request, env));
            env.send(Msg::Explained {
                ticket: request.ticket,
                row_id: request.row_id,
                result: result.map(Box::new).map_err(|e| e.message),
            });
        }
        Effect::Export(request) => {
            let result = catch_panic("export", || export(&request, env));
            env.send(Msg::Exported(result.map_err(|e| e.message)));
        }
        Effect::Lookup {
            ticket,
            loaded,
            lookup,
        } => {
            let result = catch_panic("lookup", || {
                Ok(super::table_lookup::run(&loaded, lookup, &ticket.cancel))
            });
            env.send(Msg::LookedUp {
                ticket,
                result: result.map_err(|e| e.message),
            });
        }
        Effect::RememberTheme(name) => {
            if let Err(e) = super::config::remember_theme(&name) {
                env.send(Msg::Warning(format!("could not remember the theme: {e}")));
            }
        }
    }
}

type LoadedMsg = (Arc<Loaded>, Option<crate::data::DatasetProfile>, f64);

fn load(source: &Source) -> ServiceResult<LoadedMsg> {
    let (loaded, read_s) = detect::load(source, &LoadOptions::default())?;
    // The profile is cheap next to loading; a failure only loses the statistics.
    let profile = crate::data::profile(&loaded).ok();
    Ok((Arc::new(loaded), profile, read_s))
}

fn prepare(loaded: &Loaded, spec: &PrepareSpec) -> ServiceResult<PreparedData> {
    let (prepared, prepare_s) = detect::prepare(loaded, spec)?;
    let projection = Arc::new(pca_2d(&prepared.matrix.x));
    let time = crate::service::run_view::time_axis(loaded, &prepared);
    Ok(PreparedData {
        prepared: Arc::new(prepared),
        projection,
        prepare_s,
        time,
    })
}

fn fit(req: &FitRequest, env: &JobEnv) -> ServiceResult<Box<RunResult>> {
    let mut store = env.open_store()?;
    let tx = env.tx.clone();
    let job = req.ticket.id;
    let progress = throttled(PROGRESS_INTERVAL, move |fraction| {
        let _ = tx.send(Msg::Progress { job, fraction });
    });
    let ctx = JobCtx::new(req.request.seed)
        .with_progress(progress)
        .sharing_cancel(req.ticket.cancel.flag());
    let outcome = detect::run_detect(&req.data, &req.request, &ctx, store.as_mut())?;
    let input = RunInput {
        job: req.ticket.id,
        run_id: outcome.run_id,
        detector: req.request.detector.name,
        params: &req.request.params,
        loaded: &req.data.loaded,
        prepared: &req.data.prepared,
        projection: &req.projection,
        fit_s: outcome.timing.fit_s,
        metrics: outcome.metrics.as_ref(),
    };
    let mut result = input.result(outcome.scores, &outcome.threshold, outcome.n_anomalies);
    result.model = Some(Arc::new(outcome.model));
    Ok(Box::new(result))
}

/// Runs an AutoML search: every finished trial goes to the pane at once; at the end the best
/// trial is refitted on all rows, recorded (the search as one `automl` run with its trials) and
/// charted like a detector run.
fn automl(req: &AutomlRequest, env: &JobEnv) -> ServiceResult<Box<AutomlFinished>> {
    let mut store = env.open_store()?;
    let ctx = JobCtx::new(req.plan.config.seed).sharing_cancel(req.ticket.cancel.flag());
    let tx = env.tx.clone();
    let job = req.ticket.id;
    let on_trial = move |t: &automl::Trial| {
        let _ = tx.send(Msg::AutomlTrial {
            job,
            trial: Box::new(t.clone()),
        });
    };
    let outcome =
        automl_service::run_automl(&req.data, &req.plan, &ctx, &on_trial, store.as_mut())?;
    let Some(best) = outcome.best else {
        let reason = outcome.search.no_best_reason();
        return Err(if outcome.search.stopped_early {
            ServiceError {
                message: reason.to_string(),
                fault: Fault::Cancelled,
            }
        } else {
            ServiceError::input(reason)
        });
    };
    let input = RunInput {
        job: req.ticket.id,
        run_id: outcome.run_id,
        detector: &best.detector,
        params: &best.params,
        loaded: &req.data.loaded,
        prepared: &req.data.prepared,
        projection: &req.projection,
        fit_s: outcome.timing.fit_s,
        metrics: best.metrics.as_ref(),
    };
    let mut result = input.result(best.scores, &best.threshold, best.n_anomalies);
    result.model = Some(Arc::new(best.model));
    Ok(Box::new(AutomlFinished {
        job: req.ticket.id,
        best: result,
        objective: best.objective,
        stopped_early: outcome.search.stopped_early,
        search_s: outcome.timing.search_s,
    }))
}

/// A result's model: the one it kept, or its stored run's.
fn model_of(
    model: &Option<Arc<crate::detectors::Model>>,
    run_id: Option<i64>,
    env: &JobEnv,
) -> ServiceResult<Arc<crate::detectors::Model>> {
    match (model, run_id) {
        (Some(model), _) => Ok(model.clone()),
        (None, Some(id)) => {
            let store = env.require_store()?;
            let bytes = store
                .model(id)?
                .ok_or_else(|| ServiceError::input(format!("run {id} has no saved model")))?;
            let origin = format!("run {id}");
            Ok(Arc::new(
                crate::saved_model::ModelEnvelope::from_json(&bytes, &origin)?.model,
            ))
        }
        (None, None) => Err(ServiceError::internal("no model to explain the rows with")),
    }
}

/// Writes an export; returns what was written, for the status line.
fn export(req: &ExportRequest, env: &JobEnv) -> ServiceResult<String> {
    let shown = req.path.display().to_string();
    if req.kind == ExportKind::Report {
        let model = model_of(&req.model, req.run_id, env)?;
        let explained = write_report(
            &req.path,
            &req.loaded,
            &req.prepared,
            &model,
            &req.scores,
            req.top,
            &req.context,
            &ExplainOptions {
                seed: req.seed,
                ..ExplainOptions::default()
            },
            &JobCtx::new(req.seed),
        )?;
        return Ok(format!(
            "Wrote the report of the top {explained} rows to {shown}"
        ));
    }
    let rows = write_scores_file(
        &req.path,
        &ScoresTable {
            loaded: &req.loaded,
            row_ids: &req.row_ids,
            scores: &req.scores,
            flags: &req.flags,
            columns: &req.columns,
            flagged_only: req.kind == ExportKind::Flagged,
        },
    )?;
    Ok(format!("Wrote {rows} rows to {shown}"))
}

/// One row of a result explained: with the result's model, or the stored run's.
fn explain(req: &ExplainRequest, env: &JobEnv) -> ServiceResult<ExplainedRow> {
    let model = model_of(&req.model, req.run_id, env)?;
    let ctx = JobCtx::new(req.seed).sharing_cancel(req.ticket.cancel.flag());
    let mut rows = explain_training_rows(
        &req.loaded,
        &req.prepared,
        &model,
        &req.scores,
        &Selection::RowIds(vec![req.row_id]),
        &ExplainOptions {
            seed: req.seed,
            ..ExplainOptions::default()
        },
        &ctx,
    )?;
    rows.pop()
        .ok_or_else(|| ServiceError::internal("no explanation came back"))
}

//! How a run is written to the experiment store: the dataset row, the `running` run, and the
//! finished run with its scores and saved model. Called only through
//! [`crate::service::run_guard::RunGuard`], which makes sure every run it begins also ends.

use std::path::Path;

use serde::Serialize;

use crate::data::{self, Loaded, Prepared};
use crate::detectors::{Model, Params};
use crate::saved_model::{
    ModelEnvelope, SavedThreshold, TrainingInfo, MODEL_FORMAT, MODEL_FORMAT_VERSION,
};
use crate::store::{DatasetRecord, NewRun, RunEnd, RunKind, RunOutcome, Store, StoreResult};

/// Paths are stored absolute so that runs from different folders stay distinguishable.
pub fn dataset_path(source: &str) -> String {
    let p = Path::new(source);
    if source.starts_with("demo:") || source.starts_with('<') || p.is_absolute() {
        return source.to_string();
    }
    std::fs::canonicalize(p)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| source.to_string())
}

/// The dataset as the store keeps it; the profile is computed only the first time this content
/// is seen at this path.
pub fn dataset_record(store: &Store, loaded: &Loaded) -> StoreResult<DatasetRecord> {
    let path = dataset_path(&loaded.source);
    let profile = if store.has_dataset(&path, &loaded.fingerprint)? {
        None
    } else {
        data::profile(loaded)
            .ok()
            .and_then(|p| serde_json::to_string(&p).ok())
    };
    Ok(DatasetRecord {
        path,
        fingerprint: loaded.fingerprint.clone(),
        format: loaded.format.name().to_string(),
        n_rows: loaded.df.height(),
        n_columns: loaded.df.width(),
        profile,
    })
}

/// Inserts the run as `running` before the work starts, so that even a crash leaves a trace
/// (AutoML records its search as one run).
pub fn begin(
    store: &mut Store,
    kind: RunKind,
    loaded: &Loaded,
    prepared: &Prepared,
    detector: &str,
    params: &Params,
    seed: u64,
) -> StoreResult<i64> {
    let m = &prepared.matrix;
    let dataset = dataset_record(store, loaded)?;
    store.begin_run(&NewRun {
        kind,
        dataset,
        detector: detector.to_string(),
        params: serde_json::to_value(params).expect("params serialise"),
        prepare_spec: serde_json::to_value(&prepared.spec).expect("spec serialises"),
        seed,
        n_rows: m.x.nrows(),
        n_features: m.x.ncols(),
        label_column: prepared.report.label_column.clone(),
    })
}

/// A finished fit, ready to be stored.
pub struct FinishedRun<'a, M: Serialize, T: Serialize> {
    pub detector: &'a str,
    pub params: &'a Params,
    pub seed: u64,
    pub loaded: &'a Loaded,
    pub prepared: &'a Prepared,
    pub model: Model,
    pub threshold_method: String,
    pub threshold_value: f64,
    pub n_anomalies: usize,
    pub metrics: &'a M,
    pub timing: &'a T,
    pub scores: &'a [f64],
    pub flags: &'a [u8],
}

/// Stores results, scores and the model envelope in one transaction.
pub fn finish<M: Serialize, T: Serialize>(
    store: &mut Store,
    id: i64,
    run: FinishedRun<'_, M, T>,
) -> StoreResult<()> {
    let m = &run.prepared.matrix;
    let envelope = ModelEnvelope {
        format: MODEL_FORMAT.to_string(),
        format_version: MODEL_FORMAT_VERSION,
        app_version: env!("CARGO_PKG_VERSION").to_string(),
        detector: run.detector.to_string(),
        params: run.params.clone(),
        seed: run.seed,
        feature_names: m.feature_names.clone(),
        prepare: run.prepared.spec.clone(),
        training: TrainingInfo {
            source: run.loaded.source.clone(),
            fingerprint: run.loaded.fingerprint.clone(),
            n_rows: m.x.nrows(),
        },
        threshold: SavedThreshold {
            method: run.threshold_method.clone(),
            value: run.threshold_value,
        },
        model: run.model,
    };
    let model = envelope.to_json();
    store.finish_run(
        id,
        &RunOutcome {
            threshold_method: run.threshold_method,
            threshold_value: run.threshold_value,
            n_anomalies: run.n_anomalies,
            metrics: serde_json::to_value(run.metrics).expect("metrics serialise"),
            timing: serde_json::to_value(run.timing).expect("timing serialises"),
            row_ids: &m.row_ids,
            scores: run.scores,
            flags: run.flags,
            model: Some(&model),
            chosen: Some((
                run.detector.to_string(),
                serde_json::to_value(run.params).expect("params serialise"),
            )),
        },
    )
}

/// Ends an AutoML run in which no trial finished: its trials recorded, the run `cancelled` when
/// the search was stopped, `failed` otherwise.
pub fn end_search_without_best(
    store: &mut Store,
    id: i64,
    outcome: &crate::automl::Outcome,
) -> StoreResult<()> {
    store.record_trials(id, &trial_records(&outcome.trials))?;
    let end = if outcome.stopped_early {
        RunEnd::Cancelled
    } else {
        RunEnd::Failed
    };
    store.end_run(id, end, outcome.no_best_reason())
}

/// AutoML trials as the store keeps them (`fit_rows` joins the metrics: successive halving's
/// subsample trials are told apart from full ones).
pub fn trial_records(trials: &[crate::automl::Trial]) -> Vec<crate::store::TrialRecord> {
    use crate::automl::TrialStatus;
    trials
        .iter()
        .map(|t| crate::store::TrialRecord {
            trial: t.number as u32,
            detector: t.detector.clone(),
            params: serde_json::to_value(&t.params).expect("params serialise"),
            objective: t.objective,
            metrics: {
                let mut m = serde_json::to_value(&t.metrics).expect("metrics serialise");
                m["fit_rows"] = t.fit_rows.into();
                m
            },
            time_s: t.time_s,
            status: match t.status {
                TrialStatus::Done => "done",
                TrialStatus::Failed => "failed",
                TrialStatus::Skipped => "cancelled",
            }
            .to_string(),
            error: t.error.clone(),
        })
        .collect()
}

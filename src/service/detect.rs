//! A detection end to end: the dataset (loaded and prepared), fit, threshold, metrics and the
//! stored run. The CLI's `detect` and the workbench's Detect pane both call [`run_detect`].

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::data::{self, LoadOptions, Loaded, PrepareSpec, Prepared, Source};
use crate::detectors::{registry, DetectorInfo, JobCtx, Model, Params};
use crate::metrics;
use crate::record::FinishedRun;
use crate::store::{RunKind, Store};
use crate::threshold::{self, ThresholdMethod};

use super::error::{catch_panic, ServiceError, ServiceResult};
use super::run_guard::RunGuard;

/// A table loaded and prepared for detectors, with the seconds that took.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub loaded: Arc<Loaded>,
    pub prepared: Arc<Prepared>,
    /// Reading plus preparing, in seconds: the `load_s` of every stored run.
    pub load_s: f64,
}

/// Reads a source; also returns the seconds it took.
pub fn load(source: &Source, options: &LoadOptions) -> ServiceResult<(Loaded, f64)> {
    let started = Instant::now();
    let loaded = catch_panic("load", || Ok(data::load(source, options)?))?;
    Ok((loaded, started.elapsed().as_secs_f64()))
}

/// Fits (or replays) a preparation spec; also returns the seconds it took.
pub fn prepare(loaded: &Loaded, spec: &PrepareSpec) -> ServiceResult<(Prepared, f64)> {
    let started = Instant::now();
    let mut prepared = catch_panic("prepare", || Ok(spec.apply(&loaded.df, &loaded.source)?))?;
    // Columns the reader left out are reported like the columns preparation left out.
    let unreadable = loaded.unreadable.iter().cloned();
    prepared.report.dropped_columns.splice(0..0, unreadable);
    Ok((prepared, started.elapsed().as_secs_f64()))
}

/// [`load`] then [`prepare`].
pub fn load_dataset(
    source: &Source,
    options: &LoadOptions,
    spec: &PrepareSpec,
) -> ServiceResult<Dataset> {
    let (loaded, read_s) = load(source, options)?;
    let (prepared, prepare_s) = prepare(&loaded, spec)?;
    Ok(Dataset {
        loaded: Arc::new(loaded),
        prepared: Arc::new(prepared),
        load_s: read_s + prepare_s,
    })
}

/// Label metrics of a score vector (absent where the label makes one undefined).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub roc_auc: Option<f64>,
    pub average_precision: Option<f64>,
    pub precision_at_n: Option<f64>,
}

impl Metrics {
    pub fn of(scores: &[f64], labels: &[u8]) -> Metrics {
        Metrics {
            roc_auc: metrics::roc_auc(scores, labels).ok(),
            average_precision: metrics::average_precision(scores, labels).ok(),
            precision_at_n: metrics::precision_at_n(scores, labels, None).ok(),
        }
    }

    /// The metrics of the prepared matrix's label, when it has one.
    pub fn of_matrix(scores: &[f64], matrix: &data::Matrix) -> Option<Metrics> {
        matrix
            .label
            .as_ref()
            .map(|l| Metrics::of(scores, &l.to_vec()))
    }

    /// `ROC-AUC 0.9254, average precision 0.5502, precision@n 0.5284` for summaries.
    pub fn describe(&self) -> String {
        let show = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "n/a".into());
        format!(
            "ROC-AUC {}, average precision {}, precision@n {}",
            show(self.roc_auc),
            show(self.average_precision),
            show(self.precision_at_n)
        )
    }
}

/// Seconds per step; the keys every stored detector run has, whichever face started it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timing {
    pub load_s: f64,
    pub fit_s: f64,
    pub score_s: f64,
}

/// The threshold as reported and stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdReport {
    pub method: String,
    pub value: f64,
}

/// (row id, score) of the `k` highest scores, most anomalous first; ties by row order.
pub fn top_rows(row_ids: &[u64], scores: &[f64], k: usize) -> Vec<(u64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    let k = k.min(order.len());
    if k == 0 {
        return Vec::new();
    }
    let by_score = |&a: &usize, &b: &usize| scores[b].total_cmp(&scores[a]).then(a.cmp(&b));
    order.select_nth_unstable_by(k - 1, by_score);
    order.truncate(k);
    order.sort_by(by_score);
    order.iter().map(|&i| (row_ids[i], scores[i])).collect()
}

/// Scores must be numbers: values near the limits of floating point (|x| ≈ 1e300, or
/// subnormal) can overflow a detector's distances or variances. That is the data's scale, so
/// the user is told which column to rescale.
pub fn check_finite_scores(
    detector: &str,
    scores: &[f64],
    matrix: &data::Matrix,
) -> ServiceResult<()> {
    let Some(row) = scores.iter().position(|s| !s.is_finite()) else {
        return Ok(());
    };
    let mut widest: Option<(usize, f64)> = None;
    for (j, column) in matrix.x.columns().into_iter().enumerate() {
        let magnitude = column.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if widest.is_none_or(|(_, w)| magnitude > w) {
            widest = Some((j, magnitude));
        }
    }
    let hint = match widest {
        Some((j, magnitude)) if magnitude > 1e100 => format!(
            "; column `{}` holds values up to {magnitude:.1e} in magnitude: rescale it (e.g. `pynomaly prepare --scale robust`) or divide it by a power of ten",
            matrix.feature_names[j]
        ),
        _ => "; values this close to the limits of floating point (huge or subnormal) need rescaling".to_string(),
    };
    Err(ServiceError::input(format!(
        "{detector}: the scores are not finite numbers (row {} gave {}){hint}",
        matrix.row_ids.get(row).copied().unwrap_or(row as u64),
        scores[row]
    )))
}

/// What to run: everything that can be checked without data has been.
#[derive(Debug, Clone)]
pub struct DetectRequest {
    pub detector: &'static DetectorInfo,
    /// Every parameter, defaults filled in (from [`DetectRequest::new`]).
    pub params: Params,
    pub threshold: ThresholdMethod,
    pub seed: u64,
}

impl DetectRequest {
    /// Validates a detector name and `name=value` assignments against the registry.
    pub fn new(
        detector: &str,
        assignments: &[String],
        threshold: ThresholdMethod,
        seed: u64,
    ) -> ServiceResult<DetectRequest> {
        let info = registry::find(detector)?;
        let given = info.parse_assignments(assignments)?;
        let params = info.resolve(&given)?;
        Ok(DetectRequest {
            detector: info,
            params,
            threshold,
            seed,
        })
    }
}

/// Debug builds only: a detection with this seed panics after its run is stored as `running`,
/// so that tests can check a panic leaves the faces usable and the run `failed`.
#[doc(hidden)]
pub const PANIC_SEED: u64 = 0xDEAD_BEEF_0BAD_F00D;

/// A finished detection.
#[derive(Debug, Clone)]
pub struct DetectOutcome {
    /// The stored run; `None` when nothing is recorded.
    pub run_id: Option<i64>,
    pub scores: Vec<f64>,
    /// 1 = flagged at the threshold.
    pub flags: Vec<u8>,
    pub threshold: ThresholdReport,
    pub n_anomalies: usize,
    pub metrics: Option<Metrics>,
    pub timing: Timing,
    /// The fitted model (also stored with the run), for explanations.
    pub model: Model,
}

/// Fit → threshold → metrics → record. The run is stored as `running` first and ends `done`,
/// `failed` or `cancelled` on every path (see [`RunGuard`]).
pub fn run_detect(
    data: &Dataset,
    request: &DetectRequest,
    ctx: &JobCtx,
    store: Option<&mut Store>,
) -> ServiceResult<DetectOutcome> {
    let info = request.detector;
    let (loaded, prepared) = (&*data.loaded, &*data.prepared);
    let guard = RunGuard::begin(
        store,
        RunKind::Detect,
        loaded,
        prepared,
        info.name,
        &request.params,
        request.seed,
    )?;
    if cfg!(debug_assertions) && request.seed == PANIC_SEED {
        panic!("injected panic (test hook)");
    }
    let m = &prepared.matrix;
    let detector = info.build(&request.params);
    let started = Instant::now();
    let fitted = match catch_panic(info.name, || Ok(detector.fit_on_pool(m.x.view(), ctx)?)) {
        Ok(f) => f,
        Err(e) => return Err(guard.fail(e.context(&loaded.source))),
    };
    let fit_s = started.elapsed().as_secs_f64();

    // Training scores come out of `fit` (PyOD's decision_scores_); what is left is the threshold.
    let started = Instant::now();
    let scores = fitted.training_scores.to_vec();
    if let Err(e) = check_finite_scores(info.name, &scores, m) {
        return Err(guard.fail(e.context(&loaded.source)));
    }
    let cut = match threshold::apply(&scores, request.threshold) {
        Ok(cut) => cut,
        Err(e) => return Err(guard.fail(ServiceError::internal(format!("threshold: {e}")))),
    };
    let flags = threshold::flags(&scores, cut.value);
    let score_s = started.elapsed().as_secs_f64();

    let outcome = DetectOutcome {
        run_id: guard.id(),
        metrics: Metrics::of_matrix(&scores, m),
        threshold: ThresholdReport {
            method: cut.method.to_string(),
            value: cut.value,
        },
        n_anomalies: cut.n_flagged,
        timing: Timing {
            load_s: data.load_s,
            fit_s,
            score_s,
        },
        scores,
        flags,
        model: fitted.model,
    };
    guard.finish(FinishedRun {
        detector: info.name,
        params: &request.params,
        seed: request.seed,
        loaded,
        prepared,
        model: outcome.model.clone(),
        threshold_method: outcome.threshold.method.clone(),
        threshold_value: outcome.threshold.value,
        n_anomalies: outcome.n_anomalies,
        metrics: &outcome.metrics,
        timing: &outcome.timing,
        scores: &outcome.scores,
        flags: &outcome.flags,
    })?;
    Ok(outcome)
}

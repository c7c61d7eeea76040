//! The detector engine: one registry describing every detector, validated parameters, a job
//! context (progress, cancellation, seed) and serialisable fitted models.
//!
//! Conventions (PyOD's): higher score = more anomalous; `fit` returns the *training* scores
//! PyOD calls `decision_scores_` (neighbour methods leave each point out of its own
//! neighbourhood), and the fitted model scores any new matrix with the same columns.

pub mod params;
pub mod registry;

mod abod;
mod cblof;
mod cof;
mod copod;
mod ecdf;
mod ecod;
pub mod ensemble;
mod gmm;
mod hbos;
mod iforest;
mod inne;
mod kde;
mod knn;
pub(crate) mod linalg;
mod loda;
mod lof;
mod mcd;
mod npsort;
pub(crate) mod numeric;
mod ocsvm;
mod pca;
mod sktree;
mod sod;
mod support;
mod validate;
mod vexp;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

pub use params::{ParamKind, ParamSpec, ParamValue, Params, Search};
pub use registry::{build, registry, DetectorInfo, Family};

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("{detector}: parameter {param}: {message}")]
    InvalidParam {
        detector: String,
        param: String,
        message: String,
    },
    #[error("{detector}: unknown parameter {param:?}; its parameters are: {known}")]
    UnknownParam {
        detector: String,
        param: String,
        known: String,
    },
    #[error("unknown detector {name:?}; available: {available}")]
    UnknownDetector { name: String, available: String },
    #[error("{0}")]
    InvalidData(String),
    #[error("cancelled")]
    Cancelled,
    #[error("model: {0}")]
    Model(String),
}

impl DetectError {
    /// Bad parameters and unusable data are the user's to fix (CLI exit 2).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, DetectError::Cancelled)
    }
}

pub type DetectResult<T> = Result<T, DetectError>;

/// Reports progress as a fraction in [0, 1].
pub type ProgressFn = dyn Fn(f64) + Send + Sync;

/// What every fit receives: the seed for anything random, a cancellation flag checked inside
/// long loops, and a progress callback.
#[derive(Clone)]
pub struct JobCtx {
    pub seed: u64,
    cancel: Arc<AtomicBool>,
    progress: Option<Arc<ProgressFn>>,
}

impl Default for JobCtx {
    fn default() -> Self {
        JobCtx::new(0)
    }
}

impl JobCtx {
    pub fn new(seed: u64) -> Self {
        JobCtx {
            seed,
            cancel: Arc::new(AtomicBool::new(false)),
            progress: None,
        }
    }

    pub fn with_progress(mut self, progress: Arc<ProgressFn>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Uses a cancellation flag owned by the caller (the TUI keeps it to cancel the job).
    pub fn sharing_cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = flag;
        self
    }

    /// The flag another thread sets to stop this job.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Call inside long loops: returns `Err(Cancelled)` once cancellation was requested.
    pub fn checkpoint(&self) -> DetectResult<()> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(DetectError::Cancelled)
        } else {
            Ok(())
        }
    }

    pub fn report(&self, fraction: f64) {
        if let Some(p) = &self.progress {
            p(fraction.clamp(0.0, 1.0));
        }
    }
}

/// A configured detector, ready to fit.
pub trait Detector: Send + Sync {
    /// Fits on `x` (validated: see [`validate_matrix`]) and returns the model with PyOD's
    /// training scores.
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted>;

    /// [`Detector::fit`] on one of rayon's worker threads; what every caller outside the
    /// detectors uses. A parallel loop started from a thread outside the pool hands its work
    /// over and blocks on a latch, once per loop: detectors with many short parallel passes
    /// (k-means iterations, SMO steps) paid a thread hand-off per pass (measured: CBLOF on
    /// pima 1.06 → 0.43 ms, OCSVM on cardio 77 → 45 ms). Inside a worker, nested loops
    /// just split. Results are the same either way; inside a worker already, this is `fit`.
    fn fit_on_pool(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        rayon::scope(|_| self.fit(x, ctx))
    }
}

#[derive(Debug, Clone)]
pub struct Fitted {
    pub model: Model,
    /// Scores of the training rows, as PyOD's `decision_scores_`.
    pub training_scores: Array1<f64>,
}

/// Every fitted model, serialisable with its detector's name as the tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "detector", rename_all = "snake_case")]
pub enum Model {
    Ecod(ecod::EcodModel),
    Copod(copod::CopodModel),
    Hbos(hbos::HbosModel),
    Knn(knn::KnnModel),
    Lof(lof::LofModel),
    Kde(kde::KdeModel),
    Sod(sod::SodModel),
    Abod(abod::AbodModel),
    Cof(cof::CofModel),
    #[serde(rename = "iforest")]
    IForest(iforest::IForestModel),
    Loda(loda::LodaModel),
    Inne(inne::InneModel),
    Gmm(gmm::GmmModel),
    Pca(pca::PcaModel),
    Ocsvm(ocsvm::OcsvmModel),
    Mcd(mcd::McdModel),
    Cblof(cblof::CblofModel),
    /// A rank average of several fitted models (AutoML's top-k candidate).
    Ensemble(ensemble::EnsembleModel),
}

impl Model {
    /// Scores new rows (same columns as the training matrix); higher = more anomalous.
    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let expected = self.n_features();
        if x.ncols() != expected {
            return Err(DetectError::InvalidData(format!(
                "the model was fitted on {expected} features, the data has {}",
                x.ncols()
            )));
        }
        validate_finite(x)?;
        match self {
            Model::Ecod(m) => m.score(x),
            Model::Copod(m) => m.score(x),
            Model::Hbos(m) => m.score(x),
            Model::Knn(m) => m.score(x),
            Model::Lof(m) => m.score(x),
            Model::Kde(m) => m.score(x),
            Model::Sod(m) => m.score(x),
            Model::Abod(m) => m.score(x),
            Model::Cof(m) => m.score(x),
            Model::IForest(m) => m.score(x),
            Model::Loda(m) => m.score(x),
            Model::Inne(m) => m.score(x),
            Model::Gmm(m) => m.score(x),
            Model::Pca(m) => m.score(x),
            Model::Ocsvm(m) => m.score(x),
            Model::Mcd(m) => m.score(x),
            Model::Cblof(m) => m.score(x),
            Model::Ensemble(m) => m.score(x),
        }
    }

    pub fn n_features(&self) -> usize {
        match self {
            Model::Ecod(m) => m.train.ncols(),
            Model::Copod(m) => m.train.ncols(),
            Model::Hbos(m) => m.edges.len(),
            Model::Knn(m) => m.train.ncols(),
            Model::Lof(m) => m.train.ncols(),
            Model::Kde(m) => m.train.ncols(),
            Model::Sod(m) => m.train.ncols(),
            Model::Abod(m) => m.train.ncols(),
            Model::Cof(m) => m.train.ncols(),
            Model::IForest(m) => m.n_features,
            Model::Loda(m) => m.n_features,
            Model::Inne(m) => m.n_features,
            Model::Gmm(m) => m.n_features,
            Model::Pca(m) => m.n_features(),
            Model::Ocsvm(m) => m.n_features(),
            Model::Mcd(m) => m.n_features(),
            Model::Cblof(m) => m.n_features(),
            Model::Ensemble(m) => m.n_features(),
        }
    }
}

/// Checks that shared by every detector, before any work: enough rows, finite values, not every
/// feature constant.
pub fn validate_matrix(x: ArrayView2<f64>, min_rows: usize) -> DetectResult<()> {
    if x.ncols() == 0 {
        return Err(DetectError::InvalidData(
            "the matrix has no features".into(),
        ));
    }
    if x.nrows() < min_rows.max(2) {
        return Err(DetectError::InvalidData(format!(
            "the matrix has {} row(s); at least {} are needed",
            x.nrows(),
            min_rows.max(2)
        )));
    }
    validate_finite(x)?;
    let all_constant = x
        .columns()
        .into_iter()
        .all(|c| c.iter().all(|&v| v == c[0]));
    if all_constant {
        return Err(DetectError::InvalidData(
            "every feature is constant: there is nothing to detect".into(),
        ));
    }
    Ok(())
}

fn validate_finite(x: ArrayView2<f64>) -> DetectResult<()> {
    // A branch-free pass over blocks (vectorised) for the common all-finite case; the search
    // for the position only when something is wrong.
    let all_finite = match x.as_slice_memory_order() {
        Some(values) => values
            .chunks(256)
            .all(|block| block.iter().fold(true, |ok, v| ok & v.is_finite())),
        None => x.iter().all(|v| v.is_finite()),
    };
    if all_finite {
        return Ok(());
    }
    if let Some(((i, j), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(DetectError::InvalidData(format!(
            "row {i}, feature {j}: value {v} is not finite"
        )));
    }
    Ok(())
}

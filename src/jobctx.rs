//! The context a computation job runs in and the error it can end with, shared by the detectors,
//! the neighbour search, the numeric machinery and AutoML: [`JobCtx`] (the seed for anything
//! random, a cancellation flag checked inside long loops, a progress callback) and
//! [`DetectError`]. It depends on nothing else in the crate, so that `neighbors`, `numeric` and
//! `replicas` need not import the detectors (which import them). `crate::detectors` re-exports
//! all four names; `pynomaly::detectors::JobCtx` and friends keep working.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Why a parameter check, a fit, a scoring or a search stopped.
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

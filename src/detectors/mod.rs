//! The detector engine: one registry describing every detector, validated parameters and
//! serialisable fitted models. The job context (seed, cancellation, progress) and the error type
//! live in [`crate::jobctx`] and are re-exported here; the numeric machinery (linear algebra,
//! `exp`, summation, SIMD dispatch, k-means) is `crate::numeric`, and the bit-for-bit replicas
//! of scikit-learn's, numpy's and OpenBLAS's internals are `crate::replicas`.
//!
//! Conventions (PyOD's): higher score = more anomalous; `fit` returns the *training* scores
//! PyOD calls `decision_scores_` (neighbour methods leave each point out of its own
//! neighbourhood), and the fitted model scores any new matrix with the same columns.
//!
//! Adding a detector touches its own file (`PARAMS`, the detector, its fitted model with
//! `score`, `n_features` and `validate`), one line in the `models!` list below and one entry
//! in the registry (`registry.rs`); see docs/architecture.md.

pub mod explain;
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
mod loda;
mod lof;
mod mcd;
mod ocsvm;
mod pca;
mod sod;
mod support;
mod validate;

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

pub use crate::jobctx::{DetectError, DetectResult, JobCtx, ProgressFn};
pub use params::{form_value, show_param, ParamKind, ParamSpec, ParamValue, Params, Search};
pub use registry::{build, registry, DetectorInfo, Family};

/// A configured detector, ready to fit.
pub trait Detector: Send + Sync {
    /// Fits on `x` (validated: see [`validate_matrix`]) and returns the model with PyOD's
    /// training scores.
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted>;

    /// [`Detector::fit`] on one of rayon's worker threads; what every caller outside the
    /// detectors uses. A parallel loop started from a thread outside the pool hands its work
    /// over and blocks on a latch, once per loop: detectors with many short parallel passes
    /// (k-means iterations, SMO steps) would pay a thread hand-off per pass. Inside a worker,
    /// nested loops just split. Results are the same either way; inside a worker already, this
    /// is `fit`.
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

/// The one list of fitted-model types. Each line names `Model`'s variant, the model type and its
/// serde tag (the detector's registry name, which [`Model::detector_name`] returns; the tags are
/// the JSON of stored and exported models and must never change). The macro generates the enum
/// and the dispatch to each type's own methods (`validate` must be visible in `detectors`:
/// `pub(super)` in a detector's file; its checks use the helpers of `validate.rs`):
///
/// ```text
/// pub fn n_features(&self) -> usize
/// pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>>
/// pub(super) fn validate(&self) -> Result<(), String>
/// ```
macro_rules! models {
    ($($variant:ident($module:ident::$model:ident) = $tag:tt,)+) => {
        /// Every fitted model, serialisable with its detector's name as the tag (the field
        /// `"detector"`). `Ensemble` is a rank average of several fitted models (AutoML's top-k
        /// candidate).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "detector")]
        pub enum Model {
            $(
                #[serde(rename = $tag)]
                $variant($module::$model),
            )+
        }

        impl Model {
            /// The detector name the model is saved under: its serde tag, the registry's name
            /// (AutoML's `ensemble` for an ensemble).
            pub fn detector_name(&self) -> &'static str {
                match self {
                    $(Model::$variant(_) => $tag,)+
                }
            }

            /// Columns of the training matrix; every matrix scored must have as many.
            pub fn n_features(&self) -> usize {
                match self {
                    $(Model::$variant(m) => m.n_features(),)+
                }
            }

            /// The model's own scoring, on a matrix [`Model::score`] has checked.
            fn score_checked(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
                match self {
                    $(Model::$variant(m) => m.score(x),)+
                }
            }

            /// The model's own checks, without the detector's name (see [`Model::validate`]).
            fn validate_fields(&self) -> Result<(), String> {
                match self {
                    $(Model::$variant(m) => m.validate(),)+
                }
            }
        }
    };
}

models! {
    Ecod(ecod::EcodModel) = "ecod",
    Copod(copod::CopodModel) = "copod",
    Hbos(hbos::HbosModel) = "hbos",
    Knn(knn::KnnModel) = "knn",
    Lof(lof::LofModel) = "lof",
    Kde(kde::KdeModel) = "kde",
    Sod(sod::SodModel) = "sod",
    Abod(abod::AbodModel) = "abod",
    Cof(cof::CofModel) = "cof",
    IForest(iforest::IForestModel) = "iforest",
    Loda(loda::LodaModel) = "loda",
    Inne(inne::InneModel) = "inne",
    Gmm(gmm::GmmModel) = "gmm",
    Pca(pca::PcaModel) = "pca",
    Ocsvm(ocsvm::OcsvmModel) = "ocsvm",
    Mcd(mcd::McdModel) = "mcd",
    Cblof(cblof::CblofModel) = "cblof",
    Ensemble(ensemble::EnsembleModel) = "ensemble",
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
        self.score_checked(x)
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
            "too few rows in the matrix ({}); at least {} are needed",
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

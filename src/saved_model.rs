//! Saved models: a fitted detector plus everything needed to score new data the same way — the
//! fitted prepare spec, the feature names, the training threshold — in a versioned JSON envelope.
//! The store keeps one per run; `experiments export-model` writes it to a file; `score` reads
//! either.

use serde::{Deserialize, Serialize};

use crate::data::prepare::{FittedEncoding, FittedPrepare};
use crate::data::PrepareSpec;
use crate::detectors::{Model, Params};

pub const MODEL_FORMAT: &str = "pynomaly-model";
/// Bump when a change would make older readers misread the envelope.
pub const MODEL_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEnvelope {
    pub format: String,
    pub format_version: u32,
    pub app_version: String,
    pub detector: String,
    pub params: Params,
    pub seed: u64,
    /// The matrix columns the model expects, in order.
    pub feature_names: Vec<String>,
    /// Fitted: replaying it on new data gives the same columns, encodings and scaling.
    pub prepare: PrepareSpec,
    pub training: TrainingInfo,
    /// The cut chosen on the training scores; new rows above it are flagged.
    pub threshold: SavedThreshold,
    pub model: Model,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub source: String,
    pub fingerprint: String,
    pub n_rows: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedThreshold {
    pub method: String,
    pub value: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("{origin}: not a Pynomaly model ({reason})")]
    NotAModel { origin: String, reason: String },
    #[error("{origin}: the model file is truncated (it ends before the model is complete)")]
    Truncated { origin: String },
    #[error("{origin}: written by a newer Pynomaly ({app_version}, model format {found}); this build reads model format up to {MODEL_FORMAT_VERSION}")]
    FutureFormat {
        origin: String,
        found: u32,
        app_version: String,
    },
    #[error("{origin}: the model file is damaged: {reason}")]
    Damaged { origin: String, reason: String },
}

/// The fields checked before the whole envelope is trusted.
#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    format_version: Option<u32>,
    app_version: Option<String>,
}

impl ModelEnvelope {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a model envelope always serialises")
    }

    /// Reads an envelope, telling apart a truncated file, another kind of file, a newer format
    /// and a damaged one. `origin` names the file or run in messages.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<ModelEnvelope, ModelFileError> {
        let header: Header = serde_json::from_slice(bytes).map_err(|e| {
            if e.classify() == serde_json::error::Category::Eof {
                ModelFileError::Truncated {
                    origin: origin.to_string(),
                }
            } else {
                ModelFileError::NotAModel {
                    origin: origin.to_string(),
                    reason: format!("not a JSON object: {e}"),
                }
            }
        })?;
        if header.format.as_deref() != Some(MODEL_FORMAT) {
            return Err(ModelFileError::NotAModel {
                origin: origin.to_string(),
                reason: format!("no \"format\": \"{MODEL_FORMAT}\" field"),
            });
        }
        let version = header.format_version.unwrap_or(0);
        if version > MODEL_FORMAT_VERSION {
            return Err(ModelFileError::FutureFormat {
                origin: origin.to_string(),
                found: version,
                app_version: header.app_version.unwrap_or_else(|| "unknown".into()),
            });
        }
        let damaged = |reason: String| ModelFileError::Damaged {
            origin: origin.to_string(),
            reason,
        };
        let envelope: ModelEnvelope =
            serde_json::from_slice(bytes).map_err(|e| damaged(e.to_string()))?;
        envelope.validate().map_err(damaged)?;
        Ok(envelope)
    }

    /// Checks what scoring relies on, so that an edited or damaged file is refused when read
    /// rather than panicking or looping later: the model's own invariants (every length, index
    /// and value, see [`Model::validate`]), the `detector` label, the feature count, the fitted
    /// preparation and the threshold.
    pub fn validate(&self) -> Result<(), String> {
        let kind = self.model.detector_name();
        if self.detector != kind {
            return Err(format!(
                "\"detector\" is {:?} but the model is a {kind} model",
                self.detector
            ));
        }
        self.model.validate()?;
        let d = self.model.n_features();
        if self.feature_names.len() != d {
            return Err(format!(
                "feature_names has {} names but the {kind} model expects {d} features",
                self.feature_names.len()
            ));
        }
        if let Some(fitted) = &self.prepare.fitted {
            check_prepare(fitted, &self.feature_names)?;
        }
        // Rows are flagged with `score > value`: a NaN would flag nothing, silently.
        if !self.threshold.value.is_finite() {
            return Err(format!(
                "the threshold value {} is not a finite number",
                self.threshold.value
            ));
        }
        Ok(())
    }
}

/// The fitted preparation must produce the model's columns: the same names, one scaler each.
fn check_prepare(fitted: &FittedPrepare, feature_names: &[String]) -> Result<(), String> {
    let produced: usize = fitted
        .columns
        .iter()
        .map(|c| match &c.encoding {
            FittedEncoding::OneHot { categories, other } => categories.len() + usize::from(*other),
            _ => 1,
        })
        .sum();
    let d = feature_names.len();
    if produced != d || fitted.feature_names.len() != d {
        return Err(format!(
            "prepare: its columns give {produced} features and it names {}, but the model has {d}",
            fitted.feature_names.len()
        ));
    }
    if fitted.feature_names != feature_names {
        return Err("prepare: its feature names differ from feature_names".into());
    }
    if fitted.scalers.len() != d {
        return Err(format!(
            "prepare: {} scalers for {d} features",
            fitted.scalers.len()
        ));
    }
    for (j, s) in fitted.scalers.iter().enumerate() {
        if !(s.center.is_finite() && s.scale.is_finite() && s.scale > 0.0) {
            return Err(format!(
                "prepare: the scaler of feature {j} has center {} and scale {}; expected finite \
                 numbers, the scale > 0",
                s.center, s.scale
            ));
        }
    }
    Ok(())
}

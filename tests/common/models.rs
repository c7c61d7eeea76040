//! Small fitted models for the tests that read, mutate and score model files.

use std::collections::BTreeMap;

use ndarray::Array2;
use pynomaly::data::prepare::{FittedColumn, FittedEncoding, FittedPrepare, Scaler};
use pynomaly::data::PrepareSpec;
use pynomaly::detectors::ensemble::EnsembleModel;
use pynomaly::detectors::{registry, JobCtx, Model, ParamValue, Params};
use pynomaly::saved_model::{
    ModelEnvelope, SavedThreshold, TrainingInfo, MODEL_FORMAT, MODEL_FORMAT_VERSION,
};

/// Deterministic Gaussian-ish blob (sum of uniforms from an LCG) with one far point at row 7.
pub fn planted(n: usize, d: usize) -> Array2<f64> {
    let mut state = 42u64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut x = Array2::from_shape_fn((n, d), |_| uniform() + uniform() + uniform() - 1.5);
    if n > 7 {
        for j in 0..d {
            x[[7, j]] = 8.0 + j as f64 * 0.1;
        }
    }
    x
}

/// Defaults, but fewer trees and projections: smaller files, same structure.
pub fn small_params(name: &str) -> BTreeMap<String, ParamValue> {
    let int = |k: &str, v: i64| (k.to_string(), ParamValue::Int(v));
    match name {
        "iforest" => BTreeMap::from([int("n_estimators", 10)]),
        "inne" => BTreeMap::from([int("n_estimators", 12)]),
        "loda" => BTreeMap::from([int("n_random_cuts", 15)]),
        _ => BTreeMap::new(),
    }
}

/// Fits `name` with [`small_params`] (seed 7): the model, its parameters, the training scores.
pub fn fit_small(name: &str, x: &Array2<f64>) -> (Model, Params, Vec<f64>) {
    let info = registry()
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no detector {name}"));
    let params = info
        .resolve(&small_params(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let fitted = info
        .build(&params)
        .fit_on_pool(x.view(), &JobCtx::new(7))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (fitted.model, params, fitted.training_scores.to_vec())
}

/// Rows and features of the model files the tests build.
pub const N: usize = 120;
pub const D: usize = 4;

pub fn feature_names() -> Vec<String> {
    (0..D).map(|j| format!("f{j}")).collect()
}

/// A replayable preparation of D numeric columns, as `detect` stores it.
pub fn prepare_spec() -> PrepareSpec {
    PrepareSpec {
        fitted: Some(FittedPrepare {
            label_column: None,
            time_column: None,
            columns: feature_names()
                .into_iter()
                .map(|source| FittedColumn {
                    source,
                    encoding: FittedEncoding::Number { fill: 0.0 },
                })
                .collect(),
            feature_names: feature_names(),
            scalers: vec![
                Scaler {
                    center: 0.0,
                    scale: 1.0,
                };
                D
            ],
        }),
        ..PrepareSpec::default()
    }
}

/// The envelope `detect` would store for `model`.
pub fn envelope(model: Model, params: Params, training_scores: &[f64]) -> ModelEnvelope {
    let mut sorted = training_scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    ModelEnvelope {
        format: MODEL_FORMAT.to_string(),
        format_version: MODEL_FORMAT_VERSION,
        app_version: "test".to_string(),
        detector: model.detector_name().to_string(),
        params,
        seed: 7,
        feature_names: feature_names(),
        prepare: prepare_spec(),
        training: TrainingInfo {
            source: "planted".to_string(),
            fingerprint: "0".to_string(),
            n_rows: N,
        },
        threshold: SavedThreshold {
            method: "contamination".to_string(),
            value: sorted[sorted.len() / 2],
        },
        model,
    }
}

/// The envelope of one registered detector's model (fitted on `x`, N × D), or of an ensemble
/// of three of them (`"ensemble"`).
pub fn envelope_for(name: &str, x: &Array2<f64>) -> ModelEnvelope {
    if name != "ensemble" {
        let (model, params, scores) = fit_small(name, x);
        return envelope(model, params, &scores);
    }
    let members = ["hbos", "iforest", "knn"]
        .iter()
        .map(|member| {
            let (model, params, scores) = fit_small(member, x);
            (member.to_string(), params, model, scores)
        })
        .collect();
    let (ensemble, scores) = EnsembleModel::new(members);
    let params = Params(BTreeMap::from([(
        "members".to_string(),
        ParamValue::Text("0,1,2".to_string()),
    )]));
    envelope(Model::Ensemble(ensemble), params, &scores)
}

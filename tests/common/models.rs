//! Small fitted models for the tests that read, mutate and score model files.

use std::collections::BTreeMap;

use ndarray::Array2;
use pynomaly::detectors::{registry, JobCtx, Model, ParamValue, Params};

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

//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod models;
#[cfg(unix)]
pub mod pty;

use std::path::PathBuf;

/// `../shared/datasets/NAME.csv`, next to the checkout.
pub fn shared_dataset(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root
        .join("..")
        .join("shared")
        .join("datasets")
        .join(format!("{name}.csv"));
    assert!(
        path.exists(),
        "shared dataset missing: {} (../shared must sit beside the checkout)",
        path.display()
    );
    path
}

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(path)
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pynomaly"))
}

/// A tiny hand-rolled CSV reader for numeric files with a header (no quotes): the independent
/// reference the tests compare the polars-based loader against.
pub fn read_numeric_csv(path: &std::path::Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()).collect())
        .collect();
    (header, rows)
}

/// A shared dataset prepared as PyOD sees it (raw values, `label` excluded) with its labels.
pub fn labelled_matrix(name: &str) -> (ndarray::Array2<f64>, Vec<u8>) {
    use pynomaly::data::{self, LoadOptions, PrepareSpec, Source};
    let loaded = data::load(&Source::Path(shared_dataset(name)), &LoadOptions::default()).unwrap();
    let prepared = PrepareSpec::default()
        .apply(&loaded.df, &loaded.source)
        .unwrap();
    assert_eq!(prepared.report.label_column.as_deref(), Some("label"));
    let labels = prepared.matrix.label.expect("label column").to_vec();
    (prepared.matrix.x, labels)
}

/// PyOD's ROC-AUC per (dataset, detector) from `../shared/bench/pyod_baseline.json` (runs that
/// finished only).
pub fn pyod_baseline_auc() -> std::collections::BTreeMap<(String, String), f64> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/pyod_baseline.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for r in doc["results"].as_array().expect("results: a list") {
        if r["status"] != "ok" {
            continue;
        }
        if let (Some(ds), Some(det), Some(auc)) = (
            r["dataset"].as_str(),
            r["detector"].as_str(),
            r["roc_auc"].as_f64(),
        ) {
            out.insert((ds.to_string(), det.to_string()), auc);
        }
    }
    out
}

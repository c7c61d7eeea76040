//! Training scores against PyOD's (`../shared/reference/*.csv`), per the reference README.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use ndarray::Array2;
use pynomaly::data::{self, LoadOptions, PrepareSpec, Source};
use pynomaly::detectors::{self, JobCtx, ParamValue};

const DATASETS: [&str; 9] = [
    "cardio",
    "thyroid",
    "pima",
    "glass",
    "wbc",
    "ionosphere",
    "letter",
    "vowels",
    "breastw",
];

fn reference(name: &str) -> BTreeMap<String, Vec<f64>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference")
        .join(format!("{name}.csv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let mut columns: BTreeMap<String, Vec<f64>> =
        header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for line in lines {
        for (h, v) in header.iter().zip(line.split(',')) {
            columns.get_mut(h).unwrap().push(if v == "nan" {
                f64::NAN
            } else {
                v.parse().unwrap()
            });
        }
    }
    columns
}

fn matrix(name: &str) -> Array2<f64> {
    let loaded = data::load(
        &Source::Path(common::shared_dataset(name)),
        &LoadOptions::default(),
    )
    .unwrap();
    let prepared = PrepareSpec::default()
        .apply(&loaded.df, &loaded.source)
        .unwrap();
    assert_eq!(prepared.report.label_column.as_deref(), Some("label"));
    prepared.matrix.x
}

/// Reference column → (detector, parameters).
fn detector_of(column: &str) -> Option<(&'static str, Vec<(&'static str, ParamValue)>)> {
    Some(match column {
        "knn" => ("knn", vec![]),
        "knn_mean" => ("knn", vec![("method", ParamValue::Text("mean".into()))]),
        "knn_median" => ("knn", vec![("method", ParamValue::Text("median".into()))]),
        "lof" => ("lof", vec![]),
        "ecod" => ("ecod", vec![]),
        "copod" => ("copod", vec![]),
        "hbos" => ("hbos", vec![]),
        _ => return None,
    })
}

fn training_scores(detector: &str, params: &[(&str, ParamValue)], x: &Array2<f64>) -> Vec<f64> {
    let given = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let (d, _) = detectors::build(detector, &given).unwrap();
    d.fit(x.view(), &JobCtx::new(0))
        .unwrap()
        .training_scores
        .to_vec()
}

#[test]
fn report_parity() {
    for name in DATASETS {
        let x = matrix(name);
        for (column, expected) in reference(name) {
            let Some((detector, params)) = detector_of(&column) else {
                continue;
            };
            let got = training_scores(detector, &params, &x);
            let mut bit_equal = 0;
            let mut max_rel = 0.0f64;
            for (g, e) in got.iter().zip(&expected) {
                if g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan()) {
                    bit_equal += 1;
                } else {
                    max_rel = max_rel.max((g - e).abs() / e.abs().max(1e-300));
                }
            }
            println!(
                "{name:>10} {column:>10}: {bit_equal}/{} bit-equal, max rel diff {max_rel:.3e}",
                got.len()
            );
        }
    }
}

//! Training scores against PyOD's (`../shared/reference/*.csv`), per the reference README.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use ndarray::Array2;
use pynomaly::detectors::{self, JobCtx, ParamValue};
use pynomaly::metrics;

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
        "kde" => ("kde", vec![]),
        "sod" => ("sod", vec![]),
        // The reference fits `ABOD(method='fast', n_neighbors=10)`; PyOD's default (and ours) is 5.
        "abod" => ("abod", vec![("n_neighbors", ParamValue::Int(10))]),
        "cof" => ("cof", vec![]),
        "pca" => ("pca", vec![]),
        "ocsvm" => ("ocsvm", vec![]),
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

/// Cells the reference README lists as tie-dependent: exact-distance ties broken in a different
/// order change rows, so only ROC-AUC against the labels is compared (within 0.01).
fn tie_dependent(dataset: &str, column: &str) -> bool {
    let detector = column.split('_').next().unwrap();
    match detector {
        "lof" | "sod" | "abod" => matches!(dataset, "thyroid" | "wbc" | "letter" | "breastw"),
        "cof" => matches!(
            dataset,
            "thyroid" | "pima" | "wbc" | "ionosphere" | "letter" | "breastw"
        ),
        _ => false,
    }
}

/// Where the README says an independent re-implementation matched PyOD bit for bit.
fn bit_exact(dataset: &str, column: &str) -> bool {
    match column {
        "ecod" | "copod" | "hbos" => true,
        "knn" | "knn_mean" | "knn_median" => !matches!(dataset, "cardio" | "ionosphere"),
        "lof" => matches!(dataset, "pima" | "glass" | "vowels"),
        // Beyond the README's expectations, on all 9 datasets including the tie-dependent ones:
        // scikit-learn's kd-tree / brute-force neighbour order, its KDE tree walk, numba's
        // quicksort (SOD), numpy's AVX-512 argsort (COF) and OpenBLAS's ddot/x87 dnrm2 (SOD,
        // ABOD) are replayed exactly (src/detectors/{sktree,npsort,support}.rs). KDE replays
        // the tree walk only where ranks depend on its last bits (checked below).
        "sod" | "abod" | "cof" => true,
        _ => false,
    }
}

/// Spearman correlation and the largest absolute difference of two score vectors.
fn spearman_and_max_abs(got: &[f64], expected: &[f64]) -> (f64, f64) {
    let rho = metrics::spearman(got, expected).unwrap();
    let max_abs = got
        .iter()
        .zip(expected)
        .map(|(g, e)| (g - e).abs())
        .fold(0.0, f64::max);
    (rho, max_abs)
}

#[test]
fn training_scores_match_pyod() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for name in DATASETS {
        let (x, y) = common::labelled_matrix(name);
        for (column, expected) in reference(name) {
            let Some((detector, params)) = detector_of(&column) else {
                continue;
            };
            let got = training_scores(detector, &params, &x);
            checked += 1;
            let cell = format!("{name}/{column}");
            if bit_exact(name, &column) {
                // PyOD's NaN rows (abod: no angle among the neighbours, README "Special
                // values") hold our documented finite fallback instead; every other row must
                // match bit for bit.
                let differs = |i: usize| {
                    if expected[i].is_nan() {
                        !got[i].is_finite()
                    } else {
                        got[i].to_bits() != expected[i].to_bits()
                    }
                };
                if let Some(i) = (0..got.len()).find(|&i| differs(i)) {
                    failures.push(format!(
                        "{cell}: row {i}: {} vs PyOD {} (expected bit-exact)",
                        got[i], expected[i]
                    ));
                }
            } else if tie_dependent(name, &column) {
                // Rows where PyOD's score is NaN (abod) cannot be ranked: compare on the others.
                let rows: Vec<usize> = (0..got.len())
                    .filter(|&i| expected[i].is_finite())
                    .collect();
                let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
                let y_rows: Vec<u8> = rows.iter().map(|&i| y[i]).collect();
                let ours = metrics::roc_auc(&pick(&got), &y_rows).unwrap();
                let theirs = metrics::roc_auc(&pick(&expected), &y_rows).unwrap();
                if (ours - theirs).abs() > 0.01 {
                    failures.push(format!("{cell}: ROC-AUC {ours:.4} vs PyOD {theirs:.4}"));
                }
            } else if column == "kde" {
                // Direct sums (to ~1e-12) where they rank the rows unambiguously, scikit-learn's
                // tree walk replayed bit for bit where they do not: the ranks must be PyOD's.
                let (rho, max_abs) = spearman_and_max_abs(&got, &expected);
                if rho < 1.0 - 1e-12 || max_abs > 5e-12 {
                    failures.push(format!(
                        "{cell}: Spearman {rho:.12}, max absolute difference {max_abs:.2e}"
                    ));
                }
            } else if column == "ocsvm" {
                // OCSVM: decision values cross zero, so a relative bound is meaningless near
                // the boundary. The README promises ~1e-9 absolute from a faithful port of
                // libsvm's SMO (scores are O(1-300)); BLAS kernels alone move them by 5e-13.
                let (rho, max_abs) = spearman_and_max_abs(&got, &expected);
                if rho < 0.999 || max_abs > 1e-9 {
                    failures.push(format!(
                        "{cell}: Spearman {rho:.6}, max absolute difference {max_abs:.2e}"
                    ));
                }
            } else {
                let rho = metrics::spearman(&got, &expected).unwrap();
                let max_rel = got
                    .iter()
                    .zip(&expected)
                    .map(|(g, e)| (g - e).abs() / e.abs().max(1e-300))
                    .fold(0.0, f64::max);
                if rho < 0.999 || max_rel > 1e-12 {
                    failures.push(format!(
                        "{cell}: Spearman {rho:.6}, max relative difference {max_rel:.2e}"
                    ));
                }
            }
        }
    }
    assert!(
        checked >= 60,
        "only {checked} reference cells were compared"
    );
    assert!(
        failures.is_empty(),
        "parity failures:\n{}",
        failures.join("\n")
    );
}

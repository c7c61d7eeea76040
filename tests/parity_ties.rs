//! Training scores against PyOD's on integer-valued data full of exact distance ties and
//! duplicate rows (tests/fixtures/ties/, written by its make_ties.py; issue 19).
//!
//! Four sets, covering both of scikit-learn's searches under `algorithm='auto'`: its kd-tree
//! (grid8 600 × 8, dups5 300 × 5 with 30 % duplicate rows) and its brute-force `ArgKmin`
//! (wide36 400 × 36, "parallel on Y"; wide20 1,100 × 20, "parallel on X"). Each detector is
//! fitted with PyOD's own defaults unless a parameter is named, as a user comparing the two
//! would. Standards, as tests/parity.rs holds the reference sets to:
//! * `abod` (PyOD's `ABOD()`: n_neighbors 5) and `abod10` (`n_neighbors=10`, the reference
//!   README's setting): bit for bit; PyOD's NaN rows (`np.var([])`, no angle among the
//!   neighbours) must hold our finite fallback instead.
//! * `knn`: bit for bit (tie order cannot change a k-th distance).
//! * `lof`: tie-dependent by design. `neighbors/` breaks exact ties by (distance, index), not in
//!   scikit-learn's order, and LOF's neighbourhoods (hence every lrd) depend on which of the
//!   tied rows are in; tests/parity.rs compares it by ROC-AUC on the tie-heavy reference sets.
//!   These sets have no labels, so the ranks are compared (Spearman ≥ 0.98, rows within 5 %).

mod common;

use std::collections::BTreeMap;

use ndarray::Array2;
use pynomaly::detectors::{self, JobCtx, ParamValue};
use pynomaly::metrics;

const SETS: [&str; 4] = ["grid8", "wide36", "dups5", "wide20"];

#[derive(Clone, Copy, PartialEq)]
enum Standard {
    BitExact,
    Ranks,
}

/// (PyOD score file suffix, our detector, its parameters, the standard).
type Case = (
    &'static str,
    &'static str,
    Vec<(&'static str, ParamValue)>,
    Standard,
);

fn cases() -> Vec<Case> {
    vec![
        ("abod", "abod", vec![], Standard::BitExact),
        (
            "abod10",
            "abod",
            vec![("n_neighbors", ParamValue::Int(10))],
            Standard::BitExact,
        ),
        ("knn", "knn", vec![], Standard::BitExact),
        ("lof", "lof", vec![], Standard::Ranks),
    ]
}

fn matrix(name: &str) -> Array2<f64> {
    let (header, rows) = common::read_numeric_csv(&common::fixture(&format!("ties/{name}.csv")));
    assert!(header
        .iter()
        .enumerate()
        .all(|(j, h)| *h == format!("f{j}")));
    let n = rows.len();
    let flat: Vec<f64> = rows.into_iter().flatten().collect();
    Array2::from_shape_vec((n, header.len()), flat).unwrap()
}

fn pyod_scores(name: &str, suffix: &str) -> Vec<f64> {
    let path = common::fixture(&format!("ties/{name}.{suffix}.csv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|v| {
            if v == "nan" {
                f64::NAN
            } else {
                v.parse().unwrap()
            }
        })
        .collect()
}

fn training_scores(detector: &str, params: &[(&str, ParamValue)], x: &Array2<f64>) -> Vec<f64> {
    let given: BTreeMap<String, ParamValue> = params
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
fn tie_heavy_training_scores_match_pyod() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for name in SETS {
        let x = matrix(name);
        for (suffix, detector, params, standard) in cases() {
            let expected = pyod_scores(name, suffix);
            assert_eq!(
                expected.len(),
                x.nrows(),
                "{name}.{suffix}.csv: one score per row"
            );
            let got = training_scores(detector, &params, &x);
            checked += 1;
            let cell = format!("{name}/{suffix}");
            // Rows where PyOD has a score (ABOD's NaN rows cannot be ranked).
            let finite: Vec<usize> = (0..got.len())
                .filter(|&i| expected[i].is_finite())
                .collect();
            let pick = |v: &[f64]| finite.iter().map(|&i| v[i]).collect::<Vec<f64>>();
            // NaN when undefined (a non-finite score of ours, constant scores): fails below.
            let rho = metrics::spearman(&pick(&got), &pick(&expected)).unwrap_or(f64::NAN);
            match standard {
                Standard::BitExact => {
                    let differs = |i: &usize| {
                        let i = *i;
                        if expected[i].is_nan() {
                            !got[i].is_finite()
                        } else {
                            got[i].to_bits() != expected[i].to_bits()
                        }
                    };
                    let rows: Vec<usize> = (0..got.len()).filter(differs).collect();
                    if !rows.is_empty() {
                        let first: Vec<String> = rows
                            .iter()
                            .take(5)
                            .map(|&i| format!("row {i}: {:e} vs PyOD {:e}", got[i], expected[i]))
                            .collect();
                        failures.push(format!(
                            "{cell}: {} of {} rows differ (expected bit-exact), Spearman \
                             {rho:.6}; {}",
                            rows.len(),
                            got.len(),
                            first.join("; ")
                        ));
                    }
                }
                Standard::Ranks => {
                    let max_rel = finite
                        .iter()
                        .map(|&i| (got[i] - expected[i]).abs() / expected[i].abs().max(1e-300))
                        .fold(0.0, f64::max);
                    if !(rho >= 0.98 && max_rel <= 0.05) {
                        failures.push(format!(
                            "{cell}: Spearman {rho:.6}, max relative difference {max_rel:.2e}"
                        ));
                    }
                }
            }
        }
    }
    assert_eq!(checked, SETS.len() * cases().len());
    assert!(
        failures.is_empty(),
        "parity failures on tie-heavy data:\n{}",
        failures.join("\n")
    );
}

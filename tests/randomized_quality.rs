//! Quality of the randomised detectors (iforest, loda, inne, gmm) against PyOD: the mean ROC-AUC
//! over seeds 0..4 on each of the 14 shared datasets, compared with PyOD's ROC-AUC in
//! `../shared/bench/pyod_baseline.json` (PyOD 3.6.7, `random_state=0`, defaults). All 14 take
//! about 15 s in a debug build on two cores. `cargo test --test randomized_quality --
//! --nocapture` prints the table.
//!
//! Study knobs (not needed for the check): `PYNOMALY_QUALITY_SEEDS=N` averages N seeds,
//! `PYNOMALY_QUALITY_DETECTORS=loda,inne` runs only those detectors.

mod common;

use std::time::Instant;

use pynomaly::detectors::{self, JobCtx, ParamValue};
use pynomaly::metrics;

const DATASETS: [&str; 14] = [
    "cardio",
    "thyroid",
    "pima",
    "glass",
    "wbc",
    "ionosphere",
    "letter",
    "vowels",
    "breastw",
    "annthyroid",
    "mammography",
    "pendigits",
    "satellite",
    "shuttle",
];

/// What a run is held to against PyOD's ROC-AUC.
#[derive(Clone, Copy, PartialEq)]
enum Check {
    /// The mean is within the tolerance of PyOD's.
    Matches,
    /// The mean is at least PyOD's less the tolerance (a documented improvement on PyOD).
    NoWorse,
}

/// (row label, Pynomaly detector, non-default parameters, PyOD's column, check).
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    Check,
);

const CASES: [Case; 5] = [
    ("iforest", "iforest", &[], "IForest", Check::Matches),
    // PyOD's own bin lookup: the PyOD-equivalent LODA.
    (
        "loda[pyod]",
        "loda",
        &[("bin_lookup", "pyod")],
        "LODA",
        Check::Matches,
    ),
    // The default lookup scores each value with the bin that counted it (see loda.rs).
    ("loda", "loda", &[], "LODA", Check::NoWorse),
    ("inne", "inne", &[], "INNE", Check::Matches),
    ("gmm", "gmm", &[], "GMM", Check::Matches),
];
const SEEDS: u64 = 5;
const TOLERANCE: f64 = 0.02;

/// Seeds averaged: 5, or `PYNOMALY_QUALITY_SEEDS` when studying the spread.
fn seeds() -> u64 {
    std::env::var("PYNOMALY_QUALITY_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SEEDS)
}

/// PyOD's LODA (PyOD 3.6.7, scikit-learn 1.9.1) is so seed-dependent that its own mean over
/// `random_state` 0..4 lies up to 0.11 from its `random_state=0` run, the baseline (thyroid:
/// 0.729 vs 0.839; cardio 0.845 vs 0.925; pima 0.597 vs 0.526). A 5-seed mean can only be held
/// to one PyOD draw within the noise of the two: 2.5 · σ · √(1 + 1/seeds), with σ PyOD's standard
/// deviation of ROC-AUC over `random_state` 0..19, measured on the shared datasets and listed
/// here. (Over 400 seeds our `bin_lookup = pyod` LODA and PyOD's have the same mean ROC-AUC on
/// thyroid, 0.794 and 0.795, and annthyroid, 0.515 and 0.512.) IForest, INNE and GMM are held to
/// 0.02 as they are.
const LODA_SPREAD: &[(&str, f64)] = &[
    ("glass", 0.078),
    ("wbc", 0.003),
    ("pima", 0.032),
    ("breastw", 0.006),
    ("ionosphere", 0.034),
    ("vowels", 0.036),
    ("thyroid", 0.098),
    ("cardio", 0.062),
    ("annthyroid", 0.071),
    ("letter", 0.039),
    ("mammography", 0.048),
    ("pendigits", 0.037),
    ("satellite", 0.021),
    ("shuttle", 0.257),
];

fn tolerance(dataset: &str, pyod: &str, check: Check) -> f64 {
    let sigma = LODA_SPREAD
        .iter()
        .find(|(d, _)| *d == dataset)
        .map(|s| s.1)
        .filter(|_| pyod == "LODA" && check == Check::Matches);
    match sigma {
        Some(sigma) => TOLERANCE.max(2.5 * sigma * (1.0 + 1.0 / seeds() as f64).sqrt()),
        None => TOLERANCE,
    }
}

#[test]
fn randomized_detectors_match_pyod_roc_auc() {
    let baseline = common::pyod_baseline_auc();
    // `PYNOMALY_QUALITY_DETECTORS=loda,inne` restricts the run (when studying one detector).
    let only_var = std::env::var("PYNOMALY_QUALITY_DETECTORS").unwrap_or_default();
    let only: Vec<&str> = only_var.split(',').filter(|s| !s.is_empty()).collect();
    let mut failures = Vec::new();
    let mut report = format!(
        "{:<12} {:<11} {:>7} {:>6} {:>6} {:>6} {:>7} {:>6} {:>8}\n",
        "dataset", "detector", "mean", "min", "max", "PyOD", "diff", "tol", "s/fit"
    );
    for name in DATASETS {
        let (x, y) = common::labelled_matrix(name);
        for (label, detector, params, pyod, check) in CASES {
            if !only.is_empty() && !only.contains(&detector) {
                continue;
            }
            let expected = *baseline
                .get(&(name.to_string(), pyod.to_string()))
                .unwrap_or_else(|| panic!("no PyOD baseline for {name}/{pyod}"));
            let given = params
                .iter()
                .map(|(k, v)| (k.to_string(), ParamValue::Text(v.to_string())))
                .collect();
            let (fitter, _) = detectors::build(detector, &given).unwrap();
            let start = Instant::now();
            let aucs: Vec<f64> = (0..seeds())
                .map(|seed| {
                    let fitted = fitter.fit(x.view(), &JobCtx::new(seed)).unwrap();
                    metrics::roc_auc(&fitted.training_scores.to_vec(), &y).unwrap()
                })
                .collect();
            let per_fit = start.elapsed().as_secs_f64() / seeds() as f64;
            let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
            let min = aucs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = aucs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let tol = tolerance(name, pyod, check);
            let diff = mean - expected;
            report.push_str(&format!(
                "{name:<12} {label:<11} {mean:>7.4} {min:>6.3} {max:>6.3} {expected:>6.3} \
                 {diff:>+7.3} {tol:>6.3} {per_fit:>8.3}\n"
            ));
            let bad = match check {
                Check::Matches => diff.abs() > tol,
                Check::NoWorse => diff < -tol,
            };
            if bad {
                failures.push(format!(
                    "{name}/{label}: mean ROC-AUC {mean:.4} over seeds 0..{} vs PyOD {expected:.4} \
                     (tolerance {tol:.3})",
                    seeds() - 1
                ));
            }
        }
    }
    println!("{report}");
    assert!(failures.is_empty(), "{}\n{report}", failures.join("\n"));
}

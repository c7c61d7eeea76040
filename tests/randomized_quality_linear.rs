//! Quality of the randomised linear / cluster detectors (mcd, cblof) against PyOD: the mean
//! ROC-AUC over seeds 0..4 on each of the 14 shared datasets. All 14 run (15-45 s of a
//! debug build on two cores, most of it MCD on shuttle and satellite);
//! `cargo test --test randomized_quality_linear -- --nocapture` prints the table.
//!
//! What the mean is held to. The brief's target is PyOD's baseline
//! (`../shared/bench/pyod_baseline.json`: PyOD 3.6.7, `random_state=0`), within 0.02. A single
//! PyOD draw is not a fixed point for these detectors: PyOD's own mean over `random_state` 0..4
//! is 0.111 from its baseline for CBLOF on glass (0.7875 vs 0.898) and 0.049 on mammography
//! (0.8146 vs 0.864), so no implementation, PyOD included, meets "5-seed mean within 0.02 of
//! the seed-0 run" there. The check therefore compares our 5-seed mean with PyOD's 20-seed mean
//! (`random_state` 0..19, measured with the same PyOD / scikit-learn versions and listed below)
//! within max(0.02, 2.5 · σ · √(1/5 + 1/20)), σ being PyOD's standard deviation over those 20
//! seeds: 0.02 wherever PyOD is stable (every MCD cell but cardio and mammography), wider only
//! where PyOD itself scatters. The table also prints the distance to the baseline.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use pynomaly::detectors::{self, JobCtx};
use pynomaly::metrics;

const SEEDS: u64 = 5;
const TOLERANCE: f64 = 0.02;
const PYOD_SEEDS: f64 = 20.0;

/// (dataset, PyOD mean ROC-AUC over random_state 0..19, standard deviation), per detector.
/// PyOD 3.6.7 / scikit-learn 1.9.1 defaults: `MCD(random_state=s)`, `CBLOF(random_state=s)`,
/// fit on the whole dataset; CBLOF raised "Could not form valid cluster separation" on 2 of
/// the 20 letter seeds, left out of its mean.
type Reference = [(&'static str, f64, f64); 14];

const PYOD_MCD: Reference = [
    ("glass", 0.7869, 0.0024),
    ("wbc", 0.9926, 0.0047),
    ("pima", 0.6869, 0.0004),
    ("breastw", 0.9870, 0.0006),
    ("ionosphere", 0.9545, 0.0009),
    ("vowels", 0.6858, 0.0000),
    ("thyroid", 0.9855, 0.0000),
    ("cardio", 0.7971, 0.0208),
    ("annthyroid", 0.9196, 0.0001),
    ("letter", 0.7974, 0.0006),
    ("mammography", 0.7762, 0.0724),
    ("pendigits", 0.8201, 0.0004),
    ("satellite", 0.8042, 0.0001),
    ("shuttle", 0.9885, 0.0002),
];

const PYOD_CBLOF: Reference = [
    ("glass", 0.8094, 0.0502),
    ("wbc", 0.9761, 0.0176),
    ("pima", 0.5933, 0.0132),
    ("breastw", 0.9619, 0.0053),
    ("ionosphere", 0.8909, 0.0137),
    ("vowels", 0.9024, 0.0294),
    ("thyroid", 0.9270, 0.0081),
    ("cardio", 0.8326, 0.0415),
    ("annthyroid", 0.6473, 0.0069),
    ("letter", 0.7756, 0.0117),
    ("mammography", 0.7983, 0.0171),
    ("pendigits", 0.9399, 0.0522),
    ("satellite", 0.7516, 0.0266),
    ("shuttle", 0.9902, 0.0096),
];

/// (Pynomaly detector, PyOD's column in the baseline, PyOD's 20-seed statistics).
const CASES: [(&str, &str, &Reference); 2] =
    [("mcd", "MCD", &PYOD_MCD), ("cblof", "CBLOF", &PYOD_CBLOF)];

fn tolerance(sigma: f64) -> f64 {
    TOLERANCE.max(2.5 * sigma * (1.0 / SEEDS as f64 + 1.0 / PYOD_SEEDS).sqrt())
}

#[test]
fn mcd_and_cblof_match_pyod_roc_auc() {
    let baseline = common::pyod_baseline_auc();
    let mut failures = Vec::new();
    let mut report = format!(
        "{:<12} {:<6} {:>7} {:>6} {:>6} {:>8} {:>7} {:>6} {:>9} {:>8}\n",
        "dataset", "det", "mean", "min", "max", "PyOD-20", "diff", "tol", "vs base", "s/fit"
    );
    for (i, (name, _, _)) in PYOD_MCD.iter().enumerate() {
        let (x, y) = common::labelled_matrix(name);
        for (detector, pyod, reference) in CASES {
            let (ref_name, expected, sigma) = reference[i];
            assert_eq!(ref_name, *name);
            let base = baseline[&(name.to_string(), pyod.to_string())];
            let (fitter, _) = detectors::build(detector, &BTreeMap::new()).unwrap();
            let start = Instant::now();
            let aucs: Vec<f64> = (0..SEEDS)
                .map(|seed| {
                    let fitted = fitter.fit(x.view(), &JobCtx::new(seed)).unwrap();
                    let scores = fitted.training_scores.to_vec();
                    assert!(scores.iter().all(|s| s.is_finite()), "{name}/{detector}");
                    metrics::roc_auc(&scores, &y).unwrap()
                })
                .collect();
            let per_fit = start.elapsed().as_secs_f64() / SEEDS as f64;
            let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
            let min = aucs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = aucs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let tol = tolerance(sigma);
            let diff = mean - expected;
            report.push_str(&format!(
                "{name:<12} {detector:<6} {mean:>7.4} {min:>6.3} {max:>6.3} {expected:>8.4} \
                 {diff:>+7.3} {tol:>6.3} {:>+9.3} {per_fit:>8.3}\n",
                mean - base
            ));
            if diff.abs() > tol {
                failures.push(format!(
                    "{name}/{detector}: mean ROC-AUC {mean:.4} vs PyOD's 20-seed mean \
                     {expected:.4} (tolerance {tol:.3})"
                ));
            }
        }
    }
    println!("{report}");
    assert!(failures.is_empty(), "{}\n{report}", failures.join("\n"));
}

//! Contract tests run over every detector in the registry: parameter validation, Send + Sync,
//! determinism under a seed at any thread count, a planted outlier ranked first, model round trip,
//! and clear errors on unusable matrices.

mod common;

use common::models::planted;
use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2};
use pynomaly::detectors::{
    self, registry, DetectError, Detector, JobCtx, Model, ParamKind, ParamValue,
};

fn assert_send_sync<T: Send + Sync + ?Sized>() {}

fn fit(name: &str, x: ArrayView2<f64>, seed: u64) -> Result<detectors::Fitted, DetectError> {
    let (d, _) = detectors::build(name, &BTreeMap::new())?;
    d.fit(x, &JobCtx::new(seed))
}

#[test]
fn detectors_and_models_are_send_and_sync() {
    assert_send_sync::<dyn Detector>();
    assert_send_sync::<Model>();
    assert_send_sync::<JobCtx>();
}

#[test]
fn every_parameter_rejects_out_of_range_values() {
    for info in registry() {
        for p in info.params {
            let bad = match p.kind {
                ParamKind::Int { min, .. } => format!("{}", min - 1),
                ParamKind::Float { min, min_open, .. } => {
                    format!("{}", if min_open { min } else { min - 1.0 })
                }
                ParamKind::Choice { .. } => "no-such-choice".into(),
                ParamKind::Bool => "maybe".into(),
            };
            let err = info
                .parse_assignments(&[format!("{}={bad}", p.name)])
                .unwrap_err();
            assert!(err.to_string().contains(p.name), "{}: {err}", info.name);
            let unparsable = info.parse_assignments(&[format!("{}=@@", p.name)]);
            assert!(unparsable.is_err(), "{}.{} accepted @@", info.name, p.name);
        }
        let err = info
            .parse_assignments(&["no_such_param=1".into()])
            .unwrap_err();
        assert!(
            matches!(err, DetectError::UnknownParam { .. }),
            "{}: {err}",
            info.name
        );
    }
}

#[test]
fn same_seed_same_scores_at_any_thread_count() {
    let x = planted(300, 4);
    for info in registry() {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let a = one.install(|| fit(info.name, x.view(), 7).unwrap().training_scores);
        let b = two.install(|| fit(info.name, x.view(), 7).unwrap().training_scores);
        let c = fit(info.name, x.view(), 7).unwrap().training_scores;
        assert_eq!(a, b, "{}: 1 vs 2 threads", info.name);
        assert_eq!(a, c, "{}: repeated fit", info.name);
    }
}

#[test]
fn planted_outlier_ranks_first() {
    let x = planted(400, 5);
    for info in registry() {
        let scores = fit(info.name, x.view(), 0).unwrap().training_scores;
        let top = (0..scores.len())
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap();
        assert_eq!(top, 7, "{}: top row {top}", info.name);
    }
}

#[test]
fn column_major_input_gives_the_same_scores() {
    // Library callers may pass any ndarray layout (a transposed view, Fortran order): the
    // same numbers must give the same scores, not a panic.
    let x = planted(120, 4);
    let mut column_major = Array2::<f64>::zeros((4, 120));
    column_major.assign(&x.t());
    let column_major = column_major.reversed_axes();
    assert!(column_major.as_slice().is_none());
    for info in registry() {
        let row_major = fit(info.name, x.view(), 3).unwrap();
        let other = fit(info.name, column_major.view(), 3).unwrap();
        assert_eq!(
            row_major.training_scores, other.training_scores,
            "{}",
            info.name
        );
        let new = ndarray::array![[0.1, 0.2, 0.3, 0.4], [5.0, 5.0, 5.0, 5.0]];
        let mut new_cm = Array2::<f64>::zeros((4, 2));
        new_cm.assign(&new.t());
        let new_cm = new_cm.reversed_axes();
        assert_eq!(
            row_major.model.score(new.view()).unwrap(),
            other.model.score(new_cm.view()).unwrap(),
            "{}",
            info.name
        );
    }
    // PCA without standardisation copies the matrix itself.
    let params = BTreeMap::from([("standardization".to_string(), ParamValue::Bool(false))]);
    let (pca, _) = detectors::build("pca", &params).unwrap();
    let ctx = JobCtx::new(0);
    assert_eq!(
        pca.fit(x.view(), &ctx).unwrap().training_scores,
        pca.fit(column_major.view(), &ctx).unwrap().training_scores
    );
}

#[test]
fn models_round_trip_and_score_new_rows() {
    let x = planted(200, 3);
    let new = ndarray::array![[0.0, 0.0, 0.0], [9.0, 9.0, 9.0]];
    for info in registry() {
        let fitted = fit(info.name, x.view(), 0).unwrap();
        let json = serde_json::to_string(&fitted.model).unwrap();
        let back: Model = serde_json::from_str(&json).unwrap();
        assert_eq!(back, fitted.model, "{}", info.name);
        let s = back.score(new.view()).unwrap();
        assert!(
            s[1] > s[0],
            "{}: far point {} vs centre {}",
            info.name,
            s[1],
            s[0]
        );
        let wrong = Array2::<f64>::zeros((2, 4));
        assert!(
            back.score(wrong.view()).is_err(),
            "{}: accepted 4 features",
            info.name
        );
    }
}

#[test]
fn unusable_matrices_are_refused_before_work() {
    let mut nan = planted(50, 3);
    nan[[3, 1]] = f64::NAN;
    let single = Array2::<f64>::ones((1, 3));
    let constant = Array2::<f64>::ones((50, 3));
    let few = planted(4, 2);
    for info in registry() {
        let err = fit(info.name, nan.view(), 0).unwrap_err();
        assert!(
            err.to_string().contains("row 3, feature 1"),
            "{}: {err}",
            info.name
        );
        assert!(
            fit(info.name, single.view(), 0).is_err(),
            "{}: single row",
            info.name
        );
        let err = fit(info.name, constant.view(), 0).unwrap_err();
        assert!(err.to_string().contains("constant"), "{}: {err}", info.name);
        if info.params.iter().any(|p| p.name == "n_neighbors") {
            let err = fit(info.name, few.view(), 0).unwrap_err();
            assert!(
                err.to_string().contains("n_neighbors"),
                "{}: {err}",
                info.name
            );
        }
    }
}

#[test]
fn cancellation_is_honoured() {
    let x = planted(3000, 4);
    let (d, _) = detectors::build(
        "knn",
        &BTreeMap::from([("n_neighbors".to_string(), ParamValue::Int(5))]),
    )
    .unwrap();
    let ctx = JobCtx::new(0);
    ctx.cancel();
    assert!(matches!(d.fit(x.view(), &ctx), Err(DetectError::Cancelled)));
}

/// Constraints between parameters fail at resolve time, before any data is read.
#[test]
fn cross_parameter_constraints_fail_before_any_work() {
    use pynomaly::detectors::ParamValue;
    let sod = pynomaly::detectors::registry::find("sod").unwrap();
    let given: std::collections::BTreeMap<String, ParamValue> = [
        ("ref_set".to_string(), ParamValue::Int(30)),
        ("n_neighbors".to_string(), ParamValue::Int(20)),
    ]
    .into_iter()
    .collect();
    let err = sod.resolve(&given).unwrap_err().to_string();
    assert!(
        err.contains("ref_set") && err.contains("smaller than n_neighbors"),
        "{err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pynomaly"))
        .args([
            "detect",
            "/nonexistent/data.csv",
            "-d",
            "sod",
            "-p",
            "ref_set=30",
            "-p",
            "n_neighbors=20",
        ])
        .env_remove("PYNOMALY_STORE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ref_set"));
}

/// `detect` names the file's columns that did not become features (human output and JSON).
#[test]
fn detect_reports_skipped_columns() {
    let dir = std::env::temp_dir().join(format!("pynomaly-skipped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ids.csv");
    // Also a missing value (pandas' `nan`) and an infinity: filled in, and said so.
    let mut text = String::from("x,y,id\n1,nan,row-x\n2,inf,row-y\n");
    for i in 0..40 {
        text.push_str(&format!("{},{},row-{i}\n", i % 7, (i * 3) % 11));
    }
    std::fs::write(&path, text).unwrap();
    let run = |json: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pynomaly"));
        cmd.args(["detect", path.to_str().unwrap(), "-d", "hbos", "--no-store"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let human = run(false);
    assert!(human.contains("2 features"), "{human}");
    assert!(human.contains("Skipped     id:"), "{human}");
    assert!(
        human.contains("Imputed     2 missing values in y"),
        "{human}"
    );
    assert!(
        human.contains("Infinite    1 value in y treated as missing"),
        "{human}"
    );
    let report: serde_json::Value = serde_json::from_str(&run(true)).unwrap();
    assert_eq!(report["skipped_columns"][0][0], "id", "{report}");
    assert_eq!(report["imputed"], serde_json::json!([["y", 2]]), "{report}");
    assert_eq!(
        report["infinite"],
        serde_json::json!([["y", 1]]),
        "{report}"
    );
    assert_eq!(report["n_rows"], 42, "{report}");
    std::fs::remove_dir_all(&dir).ok();
}

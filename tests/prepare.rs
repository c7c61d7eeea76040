//! Preparation: encodings, missing values, scaling, and replaying a stored spec on new data.

use polars::prelude::*;
use pynomaly::data::prepare::{
    CategoricalEncoding, ColumnChoice, MissingPolicy, Scaling, UnseenCategory, MISSING_CATEGORY,
    OTHER_CATEGORY,
};
use pynomaly::data::{self, DataError, LoadOptions, PrepareSpec, Source};

fn metrics() -> DataFrame {
    data::load(
        &Source::Demo(data::Demo::ServerMetrics),
        &LoadOptions::default(),
    )
    .unwrap()
    .df
}

fn col(m: &data::Matrix, name: &str) -> Vec<f64> {
    let j = m
        .feature_names
        .iter()
        .position(|f| f == name)
        .unwrap_or_else(|| panic!("no feature {name}"));
    m.x.column(j).to_vec()
}

#[test]
fn defaults_pick_label_time_and_one_hot_text() {
    let df = metrics();
    let p = PrepareSpec::default().apply(&df, "metrics").unwrap();
    assert_eq!(p.report.label_column.as_deref(), Some("is_anomaly"));
    assert_eq!(p.report.time_column.as_deref(), Some("timestamp"));
    assert_eq!(
        p.matrix.feature_names,
        [
            "host=db-1",
            "host=web-1",
            "host=web-2",
            "cpu_pct",
            "mem_pct",
            "latency_ms",
            "requests_per_s",
            "error_rate"
        ]
    );
    let host = df.column("host").unwrap().str().unwrap().clone();
    let onehot = col(&p.matrix, "host=web-2");
    for (i, h) in host.iter().enumerate() {
        assert_eq!(onehot[i], f64::from(u8::from(h == Some("web-2"))));
    }
    // Median imputation, counted.
    let missing = df.column("mem_pct").unwrap().null_count();
    assert!(missing > 0);
    assert_eq!(p.report.imputed, vec![("mem_pct".to_string(), missing)]);
    let mut present: Vec<f64> = df
        .column("mem_pct")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    present.sort_by(f64::total_cmp);
    let n = present.len();
    let median = if n % 2 == 1 {
        present[n / 2]
    } else {
        (present[n / 2 - 1] + present[n / 2]) / 2.0
    };
    let mem = col(&p.matrix, "mem_pct");
    let nulls: Vec<usize> = df
        .column("mem_pct")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_none())
        .map(|(i, _)| i)
        .collect();
    for i in nulls {
        assert_eq!(mem[i], median);
    }
    let label = p.matrix.label.as_ref().unwrap();
    let expected: Vec<u8> = df
        .column("is_anomaly")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .map(|v| v.unwrap() as u8)
        .collect();
    assert_eq!(label.to_vec(), expected);
}

#[test]
fn drop_row_policy_drops_and_keeps_row_ids() {
    let df = metrics();
    let spec = PrepareSpec {
        missing: MissingPolicy::DropRow,
        ..PrepareSpec::default()
    };
    let p = spec.apply(&df, "metrics").unwrap();
    let missing = df.column("mem_pct").unwrap().null_count();
    assert_eq!(p.report.dropped_rows, missing);
    assert_eq!(p.matrix.x.nrows(), df.height() - missing);
    let mem = df.column("mem_pct").unwrap().f64().unwrap().clone();
    for (k, &row) in p.matrix.row_ids.iter().enumerate() {
        assert_eq!(Some(p.matrix.x[[k, 4]]), mem.get(row as usize));
    }
}

#[test]
fn scalers_follow_their_formulas() {
    let df = df!["a" => [1.0, 2.0, 3.0, 4.0, 10.0], "c" => [5.0, 5.0, 5.0, 5.0, 5.0]].unwrap();
    let a = [1.0, 2.0, 3.0, 4.0, 10.0];
    let run = |scaling| {
        PrepareSpec {
            scaling,
            label: ColumnChoice::None,
            ..PrepareSpec::default()
        }
        .apply(&df, "t")
        .unwrap()
        .matrix
    };
    let standard = run(Scaling::Standard);
    let mean = 4.0;
    let std = (a.iter().map(|v: &f64| (v - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
    for (i, v) in a.iter().enumerate() {
        assert!((standard.x[[i, 0]] - (v - mean) / std).abs() < 1e-12);
        assert_eq!(standard.x[[i, 1]], 0.0, "constant column: centred, scale 1");
    }
    let robust = run(Scaling::Robust); // median 3, IQR 4 - 2 = 2
    assert_eq!(robust.x.column(0).to_vec(), vec![-1.0, -0.5, 0.0, 0.5, 3.5]);
    let minmax = run(Scaling::MinMax);
    assert_eq!(
        minmax.x.column(0).to_vec(),
        vec![0.0, 1.0 / 9.0, 2.0 / 9.0, 3.0 / 9.0, 1.0]
    );
}

#[test]
fn categorical_encodings() {
    let df = df!["x" => [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "k" => [Some("b"), Some("a"), Some("b"), None, Some("c"), Some("b")]]
        .unwrap();
    let spec = |categorical, max_categories| PrepareSpec {
        categorical,
        max_categories,
        label: ColumnChoice::None,
        ..PrepareSpec::default()
    };
    let ordinal = spec(CategoricalEncoding::Ordinal, 20)
        .apply(&df, "t")
        .unwrap()
        .matrix;
    // Sorted categories: "(missing)", "a", "b", "c".
    assert_eq!(col(&ordinal, "k"), vec![2.0, 1.0, 2.0, 0.0, 3.0, 2.0]);
    let freq = spec(CategoricalEncoding::Frequency, 20)
        .apply(&df, "t")
        .unwrap()
        .matrix;
    assert_eq!(
        col(&freq, "k"),
        vec![0.5, 1.0 / 6.0, 0.5, 1.0 / 6.0, 1.0 / 6.0, 0.5]
    );
    let capped = spec(CategoricalEncoding::OneHot, 1)
        .apply(&df, "t")
        .unwrap()
        .matrix;
    assert_eq!(
        capped.feature_names,
        vec!["x".to_string(), "k=b".into(), format!("k={OTHER_CATEGORY}")]
    );
    assert_eq!(
        col(&capped, &format!("k={OTHER_CATEGORY}")),
        vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    );
    let full = spec(CategoricalEncoding::OneHot, 20)
        .apply(&df, "t")
        .unwrap()
        .matrix;
    assert!(full
        .feature_names
        .contains(&format!("k={MISSING_CATEGORY}")));
    let dropped = spec(CategoricalEncoding::Drop, 20).apply(&df, "t").unwrap();
    assert_eq!(dropped.matrix.feature_names, vec!["x"]);
    assert_eq!(dropped.report.dropped_columns.len(), 1);
}

#[test]
fn spec_replays_identically_after_a_json_round_trip() {
    let df = metrics();
    let (train, test) = (df.slice(0, 1440), df.slice(1440, 1440));
    let spec = PrepareSpec {
        scaling: Scaling::Standard,
        ..PrepareSpec::default()
    };
    let fitted = spec.apply(&train, "train").unwrap();
    let stored = serde_json::to_string(&fitted.spec).unwrap();
    let replayed: PrepareSpec = serde_json::from_str(&stored).unwrap();
    assert_eq!(replayed, fitted.spec);

    // Same data → same matrix.
    assert_eq!(
        replayed.apply(&train, "train").unwrap().matrix,
        fitted.matrix
    );
    // New data → the training statistics, not its own.
    let on_test = replayed.apply(&test, "test").unwrap().matrix;
    let train_cpu: Vec<f64> = train
        .column("cpu_pct")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    let mean = train_cpu.iter().sum::<f64>() / train_cpu.len() as f64;
    let std =
        (train_cpu.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / train_cpu.len() as f64).sqrt();
    let test_cpu: Vec<f64> = test
        .column("cpu_pct")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    let got = col(&on_test, "cpu_pct");
    for (g, v) in got.iter().zip(&test_cpu) {
        assert!((g - (v - mean) / std).abs() < 1e-12);
    }
}

#[test]
fn replay_reports_missing_columns_and_unseen_categories() {
    let train = df!["x" => [1.0, 2.0, 3.0], "k" => ["a", "b", "a"]].unwrap();
    let fitted = PrepareSpec {
        label: ColumnChoice::None,
        ..PrepareSpec::default()
    }
    .apply(&train, "train")
    .unwrap()
    .spec;

    let no_k = df!["x" => [1.0]].unwrap();
    let err = fitted.apply(&no_k, "new.csv").unwrap_err();
    assert!(
        matches!(err, DataError::MissingColumn { ref column, .. } if column == "k"),
        "{err}"
    );
    assert!(err.to_string().contains("new.csv"));

    let unseen = df!["x" => [1.0, 2.0], "k" => ["a", "zzz"]].unwrap();
    let p = fitted.apply(&unseen, "new.csv").unwrap();
    assert_eq!(p.report.unseen_categories, vec![("k".to_string(), 1)]);
    assert_eq!(
        p.matrix.x.row(1).to_vec(),
        vec![2.0, 0.0, 0.0],
        "unseen one-hot → all zeros"
    );

    let mut strict = fitted.clone();
    strict.unseen = UnseenCategory::Error;
    let err = strict.apply(&unseen, "new.csv").unwrap_err();
    assert!(err.to_string().contains("unseen category \"zzz\""), "{err}");

    let wrong_type = df!["x" => ["text"], "k" => ["a"]].unwrap();
    assert!(matches!(
        fitted.apply(&wrong_type, "n").unwrap_err(),
        DataError::ColumnType { .. }
    ));
}

#[test]
fn no_nan_or_infinity_reaches_the_matrix() {
    let df = df![
        "a" => [Some(1.0), Some(f64::NAN), None, Some(f64::INFINITY), Some(5.0)],
        "b" => [1.0, 2.0, 3.0, 4.0, f64::NEG_INFINITY],
    ]
    .unwrap();
    for missing in [
        MissingPolicy::Mean,
        MissingPolicy::Median,
        MissingPolicy::Constant(-1.0),
        MissingPolicy::DropRow,
    ] {
        for scaling in [
            Scaling::None,
            Scaling::Standard,
            Scaling::Robust,
            Scaling::MinMax,
        ] {
            let spec = PrepareSpec {
                missing,
                scaling,
                label: ColumnChoice::None,
                ..PrepareSpec::default()
            };
            let p = spec.apply(&df, "t").unwrap();
            assert!(
                p.matrix.x.iter().all(|v| v.is_finite()),
                "{missing:?} {scaling:?}: {:?}",
                p.matrix.x
            );
            if missing == MissingPolicy::DropRow {
                assert_eq!(p.matrix.row_ids, vec![0]);
            } else {
                assert_eq!(
                    p.report.imputed,
                    vec![("a".to_string(), 3), ("b".to_string(), 1)]
                );
                assert_eq!(
                    p.report.infinite,
                    vec![("a".to_string(), 1), ("b".to_string(), 1)]
                );
            }
        }
    }
    let p = PrepareSpec {
        missing: MissingPolicy::Mean,
        label: ColumnChoice::None,
        ..PrepareSpec::default()
    }
    .apply(&df, "t")
    .unwrap();
    assert_eq!(p.matrix.x.column(0).to_vec(), vec![1.0, 3.0, 3.0, 3.0, 5.0]);
}

#[test]
fn feature_and_label_errors_name_the_problem() {
    let text_only = df!["name" => ["a", "b", "c"], "id" => ["x1", "x2", "x3"]].unwrap();
    let err = PrepareSpec {
        categorical: CategoricalEncoding::Drop,
        ..PrepareSpec::default()
    }
    .apply(&text_only, "t.csv")
    .unwrap_err();
    assert!(matches!(err, DataError::NoFeatures { .. }), "{err}");

    let df = df!["f" => [1.0, 2.0, 3.0], "label" => [0i64, 1, 2]].unwrap();
    let err = PrepareSpec {
        label: ColumnChoice::Column("label".into()),
        ..PrepareSpec::default()
    }
    .apply(&df, "t.csv")
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("label column \"label\" is not binary"),
        "{err}"
    );
    // Detected automatically, a non-binary "label" is not silently taken as the label.
    let auto = PrepareSpec::default().apply(&df, "t.csv").unwrap();
    assert_eq!(auto.report.label_column, None);
    assert_eq!(auto.report.warnings.len(), 1);

    let err = PrepareSpec {
        features: Some(vec!["nope".into()]),
        ..PrepareSpec::default()
    }
    .apply(&df, "t.csv")
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("column \"nope\" not found; available columns: f, label"),
        "{err}"
    );
}

#[test]
fn capped_one_hot_is_not_counted_as_unseen() {
    let df = df!["x" => [1.0, 2.0, 3.0, 4.0], "k" => ["a", "a", "b", "c"]].unwrap();
    let spec = PrepareSpec {
        max_categories: 1,
        unseen: UnseenCategory::Error,
        label: ColumnChoice::None,
        ..PrepareSpec::default()
    };
    let p = spec.apply(&df, "t").unwrap();
    assert!(p.report.unseen_categories.is_empty());
    assert_eq!(
        col(&p.matrix, &format!("k={OTHER_CATEGORY}")),
        vec![0.0, 0.0, 1.0, 1.0]
    );
}

#[test]
fn exclude_label_and_time_win_over_an_explicit_feature_list() {
    let df = df!["a" => [1.0, 2.0], "b" => [3.0, 4.0], "label" => [0i64, 1]].unwrap();
    let spec = PrepareSpec {
        features: Some(vec!["a".into(), "b".into(), "label".into()]),
        exclude: vec!["b".into()],
        ..PrepareSpec::default()
    };
    let p = spec.apply(&df, "t").unwrap();
    assert_eq!(p.matrix.feature_names, vec!["a"]);
    assert_eq!(p.report.label_column.as_deref(), Some("label"));
    assert_eq!(
        p.report.dropped_columns,
        vec![("label".to_string(), "it is the label column".to_string())]
    );
}

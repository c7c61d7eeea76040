//! Every supported format reads back to the same matrix; CSV dialects and stdin work.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use polars::prelude::*;
use pynomaly::data::{self, load::load, LoadOptions, PrepareSpec, Source};

fn matrix_of(path: &Path) -> data::Matrix {
    let loaded = load(&Source::Path(path.to_path_buf()), &LoadOptions::default()).unwrap();
    PrepareSpec::default()
        .apply(&loaded.df, &loaded.source)
        .unwrap()
        .matrix
}

/// Loads CSV text as if read from a file called `name`.
fn load_csv_text(name: &str, text: &str, options: &LoadOptions) -> data::load::Loaded {
    data::load::load_from_memory(text.as_bytes(), name, Some("csv"), options).unwrap()
}

/// The values of a text column.
fn text_column<'a>(df: &'a DataFrame, name: &str) -> Vec<Option<&'a str>> {
    df.column(name).unwrap().str().unwrap().iter().collect()
}

fn cardio_frame() -> DataFrame {
    load(
        &Source::Path(common::shared_dataset("cardio")),
        &LoadOptions::default(),
    )
    .unwrap()
    .df
}

#[test]
fn cardio_csv_matches_an_independent_parse() {
    let path = common::shared_dataset("cardio");
    let (header, rows) = common::read_numeric_csv(&path);
    let m = matrix_of(&path);
    assert_eq!(m.x.nrows(), rows.len());
    assert_eq!(m.feature_names, header[..header.len() - 1].to_vec());
    for (i, row) in rows.iter().enumerate() {
        for (j, value) in row[..row.len() - 1].iter().enumerate() {
            assert_eq!(m.x[[i, j]], *value, "row {i} column {j}");
        }
        assert_eq!(f64::from(m.label.as_ref().unwrap()[i]), row[row.len() - 1]);
    }
}

#[test]
fn every_format_loads_the_same_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let reference = matrix_of(&common::shared_dataset("cardio"));
    let mut df = cardio_frame();

    let parquet = dir.path().join("cardio.parquet");
    ParquetWriter::new(std::fs::File::create(&parquet).unwrap())
        .finish(&mut df)
        .unwrap();
    let ipc = dir.path().join("cardio.arrow");
    IpcWriter::new(std::fs::File::create(&ipc).unwrap())
        .finish(&mut df)
        .unwrap();
    let feather = dir.path().join("cardio.feather");
    std::fs::copy(&ipc, &feather).unwrap();
    let json = dir.path().join("cardio.json");
    JsonWriter::new(std::fs::File::create(&json).unwrap())
        .with_json_format(JsonFormat::Json)
        .finish(&mut df)
        .unwrap();
    let ndjson = dir.path().join("cardio.ndjson");
    JsonWriter::new(std::fs::File::create(&ndjson).unwrap())
        .with_json_format(JsonFormat::JsonLines)
        .finish(&mut df)
        .unwrap();
    // The same files without extensions must be recognised by content.
    for path in [&parquet, &ipc, &feather, &json, &ndjson] {
        let m = matrix_of(path);
        assert_eq!(m, reference, "{}", path.display());
        let bare = dir.path().join(format!(
            "sniffed_{}",
            path.extension().unwrap().to_str().unwrap()
        ));
        std::fs::copy(path, &bare).unwrap();
        assert_eq!(matrix_of(&bare), reference, "{}", bare.display());
    }
}

#[test]
fn csv_dialects_are_sniffed() {
    let dir = tempfile::tempdir().unwrap();
    let reference = matrix_of(&common::shared_dataset("cardio"));
    let mut df = cardio_frame();
    for (sep, ext) in [(b'\t', "tsv"), (b';', "csv"), (b'|', "txt"), (b',', "data")] {
        let path = dir.path().join(format!("cardio_{}.{ext}", sep as char));
        CsvWriter::new(std::fs::File::create(&path).unwrap())
            .with_separator(sep)
            .finish(&mut df)
            .unwrap();
        let loaded = load(&Source::Path(path.clone()), &LoadOptions::default()).unwrap();
        assert_eq!(loaded.dialect.unwrap().delimiter, sep);
        assert_eq!(matrix_of(&path), reference, "{}", path.display());
    }
}

#[test]
fn headerless_csv_gets_generated_names() {
    let text = "1.5,2,0\n2.5,3,1\n3.5,4,0\n";
    let loaded = load_csv_text("nohead.csv", text, &LoadOptions::default());
    assert!(!loaded.dialect.unwrap().has_header);
    assert_eq!(loaded.df.height(), 3);
    assert_eq!(loaded.df.width(), 3);
    // An explicit choice wins over sniffing.
    let forced = LoadOptions {
        has_header: Some(true),
        ..LoadOptions::default()
    };
    assert_eq!(load_csv_text("nohead.csv", text, &forced).df.height(), 2);
}

#[test]
fn quoted_fields_keep_delimiters_and_newlines() {
    let loaded = load_csv_text(
        "quoted.csv",
        "name,value,note\n\"Smith, J\",1.5,\"said \"\"hi\"\"\"\n\"multi\nline\",2.5,x\n",
        &LoadOptions::default(),
    );
    assert_eq!(
        text_column(&loaded.df, "name"),
        vec![Some("Smith, J"), Some("multi\nline")]
    );
    let notes = text_column(&loaded.df, "note");
    assert_eq!(notes[0], Some("said \"hi\""));
}

#[test]
fn late_type_changes_fall_back_to_full_inference() {
    let mut text = String::from("x,y\n");
    for i in 0..20_000 {
        text.push_str(&format!("{i},{}\n", i * 2));
    }
    text.push_str("1.5,7\n");
    let loaded = load_csv_text("late.csv", &text, &LoadOptions::default());
    let m = PrepareSpec::default()
        .apply(&loaded.df, &loaded.source)
        .unwrap()
        .matrix;
    assert_eq!(m.x.nrows(), 20_001);
    assert_eq!(m.x[[20_000, 0]], 1.5);
}

#[test]
fn missing_markers_keep_numeric_columns_numeric() {
    // pandas writes missing floats as `nan` (or `NaN`, `NA`, `null` …): the column is still
    // numeric, those cells are missing (median-imputed by default, and counted).
    let loaded = load_csv_text(
        "markers.csv",
        "a,b,c,name\n1,2,nan,x\n4,NaN,6,NA\n7,8,null,y\n10,NA,3,x\n5,N/A,9,y\n",
        &LoadOptions::default(),
    );
    let df = &loaded.df;
    assert!(df.column("b").unwrap().dtype().is_primitive_numeric());
    assert!(df.column("c").unwrap().dtype().is_primitive_numeric());
    assert_eq!(df.column("b").unwrap().null_count(), 3);
    assert_eq!(df.column("c").unwrap().null_count(), 2);
    assert_eq!(df.column("name").unwrap().null_count(), 1);
    let prepared = PrepareSpec::default()
        .apply(&loaded.df, &loaded.source)
        .unwrap();
    assert_eq!(
        prepared.report.imputed,
        vec![("b".to_string(), 3), ("c".to_string(), 2)]
    );
    let m = prepared.matrix;
    let b = m.feature_names.iter().position(|f| f == "b").unwrap();
    // Median of the present values 2 and 8.
    assert_eq!(m.x[[1, b]], 5.0);
    assert!(m.x.iter().all(|v| v.is_finite()));

    // A marker after the rows that types are inferred from: still a numeric column.
    let mut text = String::from("x,y\n");
    for i in 0..12_000 {
        text.push_str(&format!("{i},{}\n", i % 7));
    }
    text.push_str("NA,1\n");
    let loaded = load_csv_text("late_marker.csv", &text, &LoadOptions::default());
    let x = loaded.df.column("x").unwrap();
    assert_eq!(x.dtype(), &DataType::Float64);
    assert_eq!(x.null_count(), 1);
    assert_eq!(x.f64().unwrap().get(11_999), Some(11_999.0));
}

#[test]
fn stdin_reads_csv() {
    let bytes = std::fs::read(common::shared_dataset("cardio")).unwrap();
    let mut child = Command::new(common::bin())
        .args(["profile", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["source"], "<stdin>");
    assert_eq!(json["rows"], 1831);
    assert_eq!(json["columns"], 22);
    assert_eq!(json["label_candidate"], "label");
}

#[test]
fn demos_load_and_prepare() {
    for demo in data::Demo::ALL {
        let loaded = load(&Source::Demo(demo), &LoadOptions::default()).unwrap();
        let prepared = PrepareSpec::default()
            .apply(&loaded.df, &loaded.source)
            .unwrap();
        assert!(prepared.matrix.label.is_some(), "{}", demo.name());
        assert!(prepared.matrix.x.iter().all(|v| v.is_finite()));
    }
    let metrics = load(
        &Source::Demo(data::Demo::ServerMetrics),
        &LoadOptions::default(),
    )
    .unwrap();
    let p = data::profile(&metrics).unwrap();
    assert_eq!(p.time_candidate.as_deref(), Some("timestamp"));
    assert_eq!(p.label_candidate.as_deref(), Some("is_anomaly"));
}

#[test]
fn nested_json_columns_are_profiled_and_skipped_as_features() {
    let json = br#"[{"a": 1.0, "tags": [1, 2], "b": 2}, {"a": 2.0, "tags": [3], "b": 2}, {"a": 3.0, "tags": [], "b": 5}]"#;
    let loaded =
        data::load::load_from_memory(json, "nested.json", Some("json"), &LoadOptions::default())
            .unwrap();
    let p = data::profile(&loaded).unwrap();
    assert_eq!(
        p.column("tags").unwrap().kind,
        data::column::ColumnKind::Other
    );
    let prepared = PrepareSpec::default()
        .apply(&loaded.df, &loaded.source)
        .unwrap();
    assert_eq!(prepared.matrix.feature_names, vec!["a", "b"]);
}

#[test]
fn wide_headers_are_not_mistaken_for_a_huge_field() {
    let names: Vec<String> = (0..120_000).map(|i| format!("column_{i}")).collect();
    let values = vec!["1"; 120_000].join(",");
    let csv = format!("{}\n{values}\n", names.join(","));
    assert!(csv.find('\n').unwrap() > data::load::DEFAULT_MAX_FIELD_BYTES);
    let loaded = load_csv_text("wide.csv", &csv, &LoadOptions::default());
    assert_eq!(loaded.df.width(), 120_000);
}

/// Parquet and Arrow columns of types the readers cannot take (decimal, float16, fixed-size
/// lists, nested decimals) are left out by name; a file with nothing else is refused (exit 2).
#[test]
fn unsupported_column_types_are_named_not_panicked_on() {
    let dir = common::fixture("columnar");
    for ext in ["parquet", "feather"] {
        for (name, skipped) in [
            ("decimal_mixed", vec!["price"]),
            ("float16_mixed", vec!["h"]),
            ("nested_mixed", vec!["fixed", "deep"]),
        ] {
            let path = dir.join(format!("{name}.{ext}"));
            let out = std::process::Command::new(common::bin())
                .args(["detect", "-d", "iforest", "--no-store", "--json"])
                .arg(&path)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{name}.{ext}: {stderr}");
            assert!(
                stderr.is_empty(),
                "{name}.{ext}: nothing on stderr: {stderr}"
            );
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let listed: Vec<&str> = report["skipped_columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c[0].as_str().unwrap())
                .collect();
            for column in &skipped {
                assert!(listed.contains(column), "{name}.{ext}: {listed:?}");
            }
            assert_eq!(
                report["n_features"], 1,
                "{name}.{ext}: only `b` is a feature"
            );
        }
        let path = dir.join(format!("decimal_only.{ext}"));
        let out = std::process::Command::new(common::bin())
            .arg("profile")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("column `price`") && stderr.contains("decimal(10,2)"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

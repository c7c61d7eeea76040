//! Scores out of the command line: `--output` with original columns, only the flagged rows,
//! CSV/Parquet/JSON, or standard output; and a row index written by one command is not a
//! feature for the next.

mod common;

use std::process::Command;

use common::bin;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn data_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("hosts.csv");
    let mut text = String::from("host,latency_ms,errors\n");
    for i in 0..200 {
        let latency = if i == 17 {
            950.0
        } else {
            20.0 + ((i * 37) % 101) as f64 / 10.0
        };
        let errors = ((i * 53) % 89) as f64 / 10.0;
        text.push_str(&format!("web-{},{latency},{errors}\n", i % 4));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn output_keeps_chosen_columns_and_only_flagged_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_file(dir.path());
    let out = dir.path().join("flagged.csv");
    let o = run(&[
        "detect",
        data.to_str().unwrap(),
        "-d",
        "knn",
        "--no-store",
        "--output",
        out.to_str().unwrap(),
        "--output-columns",
        "host,latency_ms",
        "--flagged-only",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("row_id,host,latency_ms,score,is_anomaly")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len() as u64, report["n_anomalies"].as_u64().unwrap());
    assert!(
        rows.len() >= 10,
        "contamination 0.1 of 200 rows: {}",
        rows.len()
    );
    assert!(rows.iter().all(|r| r.ends_with(",1")), "only flagged rows");
    // The planted row with its original values.
    assert!(rows.iter().any(|r| r.starts_with("17,web-1,950")), "{text}");
}

#[test]
fn output_all_columns_as_json_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_file(dir.path());
    for name in ["all.json", "all.parquet"] {
        let out = dir.path().join(name);
        let o = run(&[
            "detect",
            data.to_str().unwrap(),
            "-d",
            "ecod",
            "--no-store",
            "-o",
            out.to_str().unwrap(),
            "--output-columns",
            "all",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // Read back through Pynomaly's own loader: every column and every row.
        let profile = run(&["profile", out.to_str().unwrap(), "--json"]);
        assert!(
            profile.status.success(),
            "{}",
            String::from_utf8_lossy(&profile.stderr)
        );
        let p: serde_json::Value = serde_json::from_slice(&profile.stdout).unwrap();
        assert_eq!(p["rows"], 200, "{name}");
        let names: Vec<&str> = p["column_profiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "row_id",
                "host",
                "latency_ms",
                "errors",
                "score",
                "is_anomaly"
            ],
            "{name}"
        );
    }
}

#[test]
fn output_to_standard_output_moves_the_summary_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_file(dir.path());
    let o = run(&[
        "detect",
        data.to_str().unwrap(),
        "-d",
        "hbos",
        "--no-store",
        "-o",
        "-",
    ]);
    assert!(o.status.success());
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert!(stdout.starts_with("row_id,score,is_anomaly\n"), "{stdout}");
    assert_eq!(stdout.lines().count(), 201);
    assert!(String::from_utf8_lossy(&o.stderr).contains("Threshold"));
    // Both on standard output cannot be.
    let o = run(&[
        "detect",
        data.to_str().unwrap(),
        "-d",
        "hbos",
        "--no-store",
        "-o",
        "-",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn output_refuses_unknown_and_clashing_columns() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_file(dir.path());
    let out = dir.path().join("x.csv");
    let o = run(&[
        "detect",
        data.to_str().unwrap(),
        "-d",
        "hbos",
        "--no-store",
        "-o",
        out.to_str().unwrap(),
        "--output-columns",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"nope\""));
    let o = run(&[
        "detect",
        data.to_str().unwrap(),
        "-d",
        "hbos",
        "-o",
        "x.txt",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// A label named like the flag column (`is_anomaly` in demo:server_metrics) is kept beside it
/// as `input_is_anomaly`.
#[test]
fn an_original_column_named_like_a_scores_column_is_kept_renamed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all.csv");
    let o = run(&[
        "detect",
        "demo:server_metrics",
        "-d",
        "hbos",
        "--no-store",
        "-o",
        out.to_str().unwrap(),
        "--output-columns",
        "all",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert_eq!(header.first(), Some(&"row_id"));
    assert!(header.contains(&"input_is_anomaly"), "{header:?}");
    assert_eq!(&header[header.len() - 2..], ["score", "is_anomaly"]);
}

/// `prepare --output` writes `row_id` first; `detect` on that file must not score it.
#[test]
fn a_written_row_index_is_not_a_feature() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_file(dir.path());
    let matrix = dir.path().join("m.csv");
    let o = run(&[
        "prepare",
        data.to_str().unwrap(),
        "--output",
        matrix.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&matrix)
        .unwrap()
        .starts_with("row_id,"));
    let o = run(&[
        "detect",
        matrix.to_str().unwrap(),
        "-d",
        "hbos",
        "--json",
        "--no-store",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let skipped = r["skipped_columns"].to_string();
    assert!(
        skipped.contains("row_id") && skipped.contains("row index"),
        "{skipped}"
    );
    // Named explicitly, it is a feature.
    let o = run(&[
        "detect",
        matrix.to_str().unwrap(),
        "-d",
        "hbos",
        "--features",
        "row_id,latency_ms",
        "--json",
        "--no-store",
    ]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["n_features"], 2);
}

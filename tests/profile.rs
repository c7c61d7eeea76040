//! Profile numbers against values computed independently here, from a hand parse of the file.

mod common;

use std::collections::HashSet;

use pynomaly::data::{self, load::load, LoadOptions, Source};

fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + b.abs())
}

#[test]
fn numeric_profile_matches_independent_computation() {
    for name in ["cardio", "glass", "thyroid"] {
        let path = common::shared_dataset(name);
        let (header, rows) = common::read_numeric_csv(&path);
        let loaded = load(&Source::Path(path), &LoadOptions::default()).unwrap();
        let p = data::profile(&loaded).unwrap();
        assert_eq!(p.rows, rows.len());
        assert_eq!(p.columns, header.len());
        assert_eq!(p.label_candidate.as_deref(), Some("label"));
        assert_eq!(p.time_candidate, None);

        let text = std::fs::read_to_string(common::shared_dataset(name)).unwrap();
        let mut seen = HashSet::new();
        let duplicates = text.lines().skip(1).filter(|l| !seen.insert(*l)).count();
        assert_eq!(p.duplicate_rows, duplicates, "{name}: duplicate rows");

        for (j, col) in header.iter().enumerate() {
            let values: Vec<f64> = rows.iter().map(|r| r[j]).collect();
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let distinct = sorted.windows(2).filter(|w| w[0] != w[1]).count() + 1;

            let c = p.column(col).unwrap();
            let s = c.numeric.as_ref().unwrap();
            assert_eq!(
                (c.count, c.missing, c.distinct),
                (values.len(), 0, distinct),
                "{name}.{col}"
            );
            assert_eq!(
                (s.min, s.max),
                (sorted[0], *sorted.last().unwrap()),
                "{name}.{col}"
            );
            assert!(
                close(s.mean, mean),
                "{name}.{col} mean {} vs {mean}",
                s.mean
            );
            assert!(close(s.std, std), "{name}.{col} std {} vs {std}", s.std);
            for (got, q) in [
                (s.q05, 0.05),
                (s.q25, 0.25),
                (s.median, 0.5),
                (s.q75, 0.75),
                (s.q95, 0.95),
            ] {
                assert!(
                    close(got, quantile_sorted(&sorted, q)),
                    "{name}.{col} q{q}: {got}"
                );
            }
            assert_eq!(s.histogram.iter().sum::<u64>() as usize, values.len());
        }
    }
}

#[test]
fn mixed_profile_counts_missing_text_and_time() {
    let loaded = load(
        &Source::Demo(data::Demo::ServerMetrics),
        &LoadOptions::default(),
    )
    .unwrap();
    let p = data::profile(&loaded).unwrap();
    let text = std::str::from_utf8(data::Demo::ServerMetrics.bytes()).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();

    let mem_missing = rows.iter().filter(|r| r[3].is_empty()).count();
    let mem = p.column("mem_pct").unwrap();
    assert_eq!(mem.missing, mem_missing);
    assert_eq!(mem.count, rows.len() - mem_missing);
    let mem_values: Vec<f64> = rows.iter().filter_map(|r| r[3].parse().ok()).collect();
    let mean = mem_values.iter().sum::<f64>() / mem_values.len() as f64;
    assert!(close(mem.numeric.as_ref().unwrap().mean, mean));

    let host = p.column("host").unwrap();
    let hosts: HashSet<&str> = rows.iter().map(|r| r[1]).collect();
    assert_eq!(host.distinct, hosts.len());
    let top = &host.top_values[0];
    assert_eq!(top.1, rows.iter().filter(|r| r[1] == top.0).count());

    let ts = p.column("timestamp").unwrap();
    assert_eq!(ts.kind, data::column::ColumnKind::Temporal);
    let (first, last) = ts.range.as_ref().unwrap();
    assert!(first.starts_with(&rows[0][0].replace('T', " ")), "{first}");
    assert!(
        last.starts_with(&rows.last().unwrap()[0].replace('T', " ")),
        "{last}"
    );
    assert_eq!(p.time_candidate.as_deref(), Some("timestamp"));
}

#[test]
fn large_columns_use_an_approximate_distinct_count() {
    let n = 300_000;
    let mut csv = String::from("a,b\n");
    for i in 0..n {
        csv.push_str(&format!("{},{}\n", i, i % 7));
    }
    let loaded =
        data::load::load_from_memory(csv.as_bytes(), "big", Some("csv"), &LoadOptions::default())
            .unwrap();
    let p = data::profile(&loaded).unwrap();
    let a = p.column("a").unwrap();
    assert!(!a.distinct_is_exact);
    assert!(
        (a.distinct as f64 - n as f64).abs() / (n as f64) < 0.03,
        "{}",
        a.distinct
    );
    let b = p.column("b").unwrap();
    assert!(!b.distinct_is_exact);
    assert_eq!(b.distinct, 7);
}

#[test]
fn profile_json_has_every_documented_field() {
    let out = std::process::Command::new(common::bin())
        .args(["profile", "demo:server_metrics", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "rows",
        "columns",
        "memory_bytes",
        "duplicate_rows",
        "constant_columns",
        "label_candidate",
        "time_candidate",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    let cpu = v["column_profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "cpu_pct")
        .unwrap();
    for key in [
        "min",
        "max",
        "mean",
        "std",
        "q05",
        "q25",
        "median",
        "q75",
        "q95",
        "histogram",
    ] {
        assert!(cpu["numeric"].get(key).is_some(), "missing numeric.{key}");
    }
    // The human table names every column too.
    let out = std::process::Command::new(common::bin())
        .args(["profile", "demo:server_metrics"])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    for col in [
        "timestamp",
        "host",
        "cpu_pct",
        "mem_pct",
        "is_anomaly",
        "Time        timestamp",
    ] {
        assert!(table.contains(col), "{col} missing from:\n{table}");
    }
}

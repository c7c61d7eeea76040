//! `watch`, end to end: the real binary on files, growing files and standard input. The
//! test-then-train property (a record's score does not change when more records follow), the
//! NDJSON contract, following through rotation and truncation, stopping on SIGTERM with a
//! summary, and hostile input ending in exit 2.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::bin;
use serde_json::Value;

/// A two-feature series with a daily-like cycle, noise and a few jumps.
fn series(n: usize) -> String {
    let mut text = String::from("timestamp,cpu,latency,label\n");
    let mut state = 12345u64;
    for t in 0..n {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = (state >> 33) as f64 / (1u64 << 31) as f64 - 0.5;
        let cycle = (t as f64 * std::f64::consts::TAU / 48.0).sin();
        let jump = if t % 700 == 650 { 8.0 } else { 0.0 };
        text.push_str(&format!(
            "2026-01-01 {:02}:{:02}:00,{:.4},{:.4},{}\n",
            (t / 60) % 24,
            t % 60,
            50.0 + 10.0 * cycle + noise + jump,
            20.0 + noise * 2.0,
            (jump > 0.0) as u8
        ));
    }
    text
}

fn watch_once(path: &Path, extra: &[&str]) -> Vec<Value> {
    let out = Command::new(bin())
        .arg("watch")
        .arg(path)
        .args(["--once", "--ndjson", "--no-store"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        // Drift and change events are lines of their own.
        .filter(|v| v.get("event").is_none())
        .collect()
}

/// A level shift in one feature: a drift event for it (on a line of its own, after the record
/// that revealed it), none for the steady feature.
#[test]
fn drift_events_name_the_feature_that_moved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shift.csv");
    let mut text = String::from("steady,moving\n");
    for i in 0..3000 {
        let v = ((i * 37) % 101) as f64;
        let moved = if i >= 1500 { v + 40.0 } else { v };
        text.push_str(&format!("{v},{moved}\n"));
    }
    std::fs::write(&path, text).unwrap();
    let out = Command::new(bin())
        .args([
            "watch",
            path.to_str().unwrap(),
            "--once",
            "--ndjson",
            "--drift-window",
            "500",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let drifts: Vec<&Value> = lines.iter().filter(|v| v["event"] == "drift").collect();
    assert_eq!(drifts.len(), 1, "{drifts:?}");
    let d = drifts[0];
    assert_eq!(d["feature"], "moving");
    assert_eq!(d["test"], "ks");
    assert!(d["p_value"].as_f64().unwrap() < 1e-3 && d["statistic"].as_f64().unwrap() > 0.0);
    let row = d["row"].as_u64().unwrap();
    assert!((1500..2100).contains(&row), "{row}");
    // The event follows its record's line.
    let at = lines.iter().position(|v| v["event"] == "drift").unwrap();
    assert_eq!(lines[at - 1]["row"].as_u64(), Some(row));
    assert!(lines[at - 1].get("event").is_none());
}

#[test]
fn scores_of_the_first_rows_do_not_change_when_more_rows_follow() {
    let dir = tempfile::tempdir().unwrap();
    let text = series(3000);
    let lines: Vec<&str> = text.lines().collect();
    let full = dir.path().join("full.csv");
    let part = dir.path().join("part.csv");
    std::fs::write(&full, &text).unwrap();
    std::fs::write(&part, lines[..1801].join("\n") + "\n").unwrap();
    for extra in [
        &[][..],
        &["--detector", "knn-cad", "--param", "window=200"][..],
        &["--detector", "hst"][..],
        &["--detector", "hst", "--param", "shingle=0"][..],
        &["--detector", "zscore", "--param", "robust=true"][..],
        &["--threshold", "contamination=0.02", "--cooldown", "0"][..],
    ] {
        let all = watch_once(&full, extra);
        let first = watch_once(&part, extra);
        assert_eq!(all.len(), 3000, "{extra:?}");
        assert_eq!(first.len(), 1800, "{extra:?}");
        assert_eq!(
            &all[..1800],
            &first[..],
            "{extra:?}: scores depend on later rows"
        );
        // The same seed gives the same scores.
        assert_eq!(all, watch_once(&full, extra), "{extra:?}");
    }
}

#[test]
fn ndjson_follows_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.csv");
    std::fs::write(&path, series(1500)).unwrap();
    let rows = watch_once(&path, &[]);
    for (i, r) in rows.iter().enumerate() {
        let o = r.as_object().unwrap();
        assert_eq!(o["row"].as_u64(), Some(i as u64));
        assert!(o["time"].as_str().unwrap().starts_with("2026-01-01"));
        let p = o["probability"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
        assert!(o["score"].as_f64().unwrap().is_finite());
        assert_eq!(o["is_anomaly"].as_bool(), Some(p >= 1.0 - 1e-5));
    }
    // The label is not a feature: a constant-0 label column would change nothing, so check the
    // header line of the table instead.
    let out = Command::new(bin())
        .args(["watch", path.to_str().unwrap(), "--once", "--no-store"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("on cpu, latency ·"), "{text}");
}

/// Lines of a child's stdout, as they come.
fn line_reader(stdout: std::process::ChildStdout) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_rows(rx: &Receiver<String>, seen: &mut Vec<Value>, until: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < until {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("only {} of {until} rows came", seen.len()));
        seen.push(serde_json::from_str(&line).unwrap());
    }
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn a_followed_file_is_read_through_appends_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.csv");
    let text = series(900);
    let lines: Vec<&str> = text.lines().collect();
    let header = lines[0];
    std::fs::write(&path, lines[..301].join("\n") + "\n").unwrap();
    let mut child = Command::new(bin())
        .args(["watch", path.to_str().unwrap(), "--ndjson", "--no-store"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = line_reader(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    wait_rows(&rx, &mut seen, 300);
    // Appended, the last line in two writes.
    append(&path, &(lines[301..400].join("\n") + "\n"));
    append(&path, &lines[400][..5]);
    std::thread::sleep(Duration::from_millis(100));
    append(&path, &(lines[400][5..].to_string() + "\n"));
    wait_rows(&rx, &mut seen, 400);
    assert_eq!(seen[399]["row"].as_u64(), Some(399));
    // Rotated: renamed away, a new file with its header under the same name.
    std::fs::rename(&path, dir.path().join("live.csv.1")).unwrap();
    std::fs::write(&path, format!("{header}\n{}\n", lines[401..600].join("\n"))).unwrap();
    wait_rows(&rx, &mut seen, 599);
    // Truncated in place and written again.
    std::fs::write(&path, format!("{header}\n{}\n", lines[600..650].join("\n"))).unwrap();
    wait_rows(&rx, &mut seen, 649);
    let times: Vec<&str> = seen.iter().map(|r| r["time"].as_str().unwrap()).collect();
    let expected: Vec<String> = lines[1..=400]
        .iter()
        .chain(&lines[401..650])
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(times, expected, "records lost, repeated or out of order");
    // SIGTERM: a clean stop with a summary.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", out.status);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("649 records") && err.contains("stopped"),
        "{err}"
    );
}

#[test]
fn standard_input_is_watched_until_it_closes() {
    let mut child = Command::new(bin())
        .args(["watch", "-", "--ndjson", "--no-store"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(series(500).as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 500);
}

#[test]
fn ndjson_sources_and_named_features() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.ndjson");
    let mut text = String::new();
    for t in 0..400 {
        text.push_str(&format!(
            "{{\"ts\": \"t{t}\", \"a\": {}, \"b\": {}, \"host\": \"web\"}}\n",
            t % 5,
            (t % 3) as f64 * 0.5
        ));
    }
    text.push_str("not json\n");
    std::fs::write(&path, text).unwrap();
    let rows = watch_once(&path, &["--features", "a"]);
    assert_eq!(rows.len(), 401);
    assert_eq!(rows[7]["time"], "t7");
}

#[test]
fn bad_input_is_a_clear_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let no_header = dir.path().join("n.csv");
    std::fs::write(&no_header, "1,2\n3,4\n").unwrap();
    let long = dir.path().join("long.csv");
    std::fs::write(&long, format!("a,b\n1,{}\n", "9".repeat(2 << 20))).unwrap();
    let text_only = dir.path().join("t.csv");
    std::fs::write(&text_only, "name,host\nx,y\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["watch".into(), "/no/such/file.csv".into()],
            "no/such/file",
        ),
        (
            vec!["watch".into(), no_header.display().to_string()],
            "header",
        ),
        (
            vec!["watch".into(), long.display().to_string()],
            "longer than",
        ),
        (
            vec!["watch".into(), text_only.display().to_string()],
            "no numeric column",
        ),
        (
            vec![
                "watch".into(),
                "demo:cardio".into(),
                "-d".into(),
                "lof".into(),
            ],
            "unknown streaming detector",
        ),
        (
            vec![
                "watch".into(),
                "demo:cardio".into(),
                "-p".into(),
                "height=99".into(),
            ],
            "height",
        ),
        (
            vec![
                "watch".into(),
                "demo:cardio".into(),
                "--probability".into(),
                "2".into(),
            ],
            "--probability",
        ),
        (
            vec![
                "watch".into(),
                "demo:cardio".into(),
                "--rate".into(),
                "fast".into(),
            ],
            "--rate",
        ),
        (vec!["watch".into(), "demo:nope".into()], "no demo"),
        (
            vec![
                "watch".into(),
                "demo:cardio".into(),
                "--threshold".into(),
                "bogus".into(),
            ],
            "--threshold",
        ),
    ];
    for (args, needle) in cases {
        let out = Command::new(bin())
            .args(&args)
            .args(["--once", "--no-store"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(common::fixture("drift/expected.json")).unwrap())
        .unwrap()
}

fn sample(name: &str) -> Vec<f64> {
    std::fs::read_to_string(common::fixture(&format!("drift/{name}")))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-300)
}

/// Drift statistics against scipy's for fixed samples (tests/fixtures/drift/make.py).
#[test]
fn drift_tests_agree_with_scipy() {
    use pynomaly::streaming::drift::{chi2_contingency, chi2_sf, kolmogorov_sf, numeric_drift};
    let want = expected();
    let d = numeric_drift("x", &sample("ref.txt"), &sample("cur.txt")).unwrap();
    assert!(close(
        d.statistic,
        want["ks_statistic"].as_f64().unwrap(),
        1e-12
    ));
    assert!(
        close(d.p_value, want["ks_p_kstwobign"].as_f64().unwrap(), 1e-9),
        "{} vs {}",
        d.p_value,
        want["ks_p_kstwobign"]
    );
    assert!(close(
        d.wasserstein.unwrap(),
        want["wasserstein"].as_f64().unwrap(),
        1e-12
    ));
    for (x, w) in want["kstwobign_sf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
    {
        assert!(close(kolmogorov_sf(x), w, 1e-9), "kstwobign.sf({x})");
    }
    for p in want["chi2_sf"].as_array().unwrap() {
        let (x, k, w) = (
            p[0].as_f64().unwrap(),
            p[1].as_f64().unwrap(),
            p[2].as_f64().unwrap(),
        );
        assert!(
            close(chi2_sf(x, k), w, 1e-9),
            "chi2.sf({x}, {k}) = {}",
            chi2_sf(x, k)
        );
    }
    let (s, p) = chi2_contingency(&[[30.0, 45.0], [50.0, 40.0], [20.0, 15.0]]);
    let w = &want["chi2_2x3"];
    assert!(close(s, w[0].as_f64().unwrap(), 1e-12) && close(p, w[1].as_f64().unwrap(), 1e-9));
    let (s, p) = chi2_contingency(&[[30.0, 45.0], [50.0, 40.0]]);
    let w = &want["chi2_2x2_yates"];
    assert!(close(s, w[0].as_f64().unwrap(), 1e-12) && close(p, w[1].as_f64().unwrap(), 1e-9));
}

/// `pynomaly drift REF CURRENT --json`: a shifted column drifts, an unchanged one does not.
#[test]
fn the_drift_command_flags_the_changed_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, current) = (dir.path().join("ref.csv"), dir.path().join("cur.csv"));
    let mut a = String::from("stable,shifted,host\n");
    let mut b = a.clone();
    for i in 0..600 {
        let v = ((i * 37) % 101) as f64 / 10.0;
        a.push_str(&format!("{v},{v},web-{}\n", i % 3));
        b.push_str(&format!(
            "{v},{},web-{}\n",
            v + 3.0,
            if i % 2 == 0 { 9 } else { i % 3 }
        ));
    }
    std::fs::write(&reference, a).unwrap();
    std::fs::write(&current, b).unwrap();
    let out = Command::new(bin())
        .args([
            "drift",
            reference.to_str().unwrap(),
            current.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let drifted = |name: &str| {
        report["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["feature"] == name)
            .unwrap()["drifted"]
            .as_bool()
            .unwrap()
    };
    assert!(
        !drifted("stable") && drifted("shifted") && drifted("host"),
        "{report}"
    );
    let out = Command::new(bin())
        .args(["drift", reference.to_str().unwrap(), "/no/such.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Text from the source (times, column names) reaches the terminal without escape sequences,
/// in the NDJSON and in the alert table.
#[test]
fn escape_sequences_in_a_watched_file_never_reach_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.csv");
    let mut text = String::from("timestamp,\u{1b}]52;c;eA==\u{7}value\n");
    for i in 0..600 {
        let v = if i == 550 { 1e6 } else { (i % 7) as f64 };
        text.push_str(&format!("t{i}\u{1b}[31m\u{9b}2J,{v}\n"));
    }
    std::fs::write(&path, text).unwrap();
    for extra in [&["--ndjson"][..], &[][..]] {
        let out = Command::new(bin())
            .args(["watch", path.to_str().unwrap(), "--once", "--no-store"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        for bytes in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !bytes.contains(&0x1b) && !bytes.contains(&0x07) && !text.contains('\u{9b}'),
                "{extra:?}: {text:?}"
            );
        }
    }
}

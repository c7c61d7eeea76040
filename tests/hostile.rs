//! Hostile input, command by command: each case ends in a clear error (exit 2, one line naming
//! the file or model) or in correct output, quickly and without a panic. The file-format cases
//! of `tests/fixtures/bad/` run in `bad_input.rs`; these need a command line or a file system
//! state that a fixture cannot hold (a wide table, a symlink loop, a non-UTF-8 name, a device).

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn run(args: &[&std::ffi::OsStr]) -> (Output, Duration) {
    let started = Instant::now();
    let out = Command::new(common::bin())
        .args(args)
        .env_remove("PYNOMALY_STORE")
        .output()
        .unwrap();
    (out, started.elapsed())
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// Exit 2 with `expected` in a one-line message and no panic text.
fn assert_refused(out: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(expected), "wanted {expected:?} in {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}

/// 40 rows × 2,000 columns of deterministic noise: more features than rows.
fn wide_csv(dir: &Path) -> std::path::PathBuf {
    let (rows, cols) = (40, 2_000);
    let mut text = (0..cols)
        .map(|j| format!("f{j}"))
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    let mut state = 7u64;
    for _ in 0..rows {
        let row: Vec<String> = (0..cols)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!("{:.4}", (state >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    let path = dir.join("wide.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn more_features_than_rows_is_fast_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let wide = wide_csv(dir.path());
    let wide = wide.as_os_str();
    // PCA goes through the rows' Gram matrix: a result, not an O(d³) eigenproblem.
    let (out, took) = run(&[os("detect"), wide, os("-d"), os("pca"), os("--no-store")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(60), "pca took {took:?}");
    // MCD and a full-covariance GMM have no answer there: refused before any work.
    let (out, _) = run(&[os("detect"), wide, os("-d"), os("mcd"), os("--no-store")]);
    assert_refused(&out, "mcd needs more rows than features");
    let (out, _) = run(&[os("detect"), wide, os("-d"), os("gmm"), os("--no-store")]);
    assert_refused(&out, "covariance_type=diag");
    let (out, _) = run(&[
        os("detect"),
        wide,
        os("-d"),
        os("gmm"),
        os("--param"),
        os("covariance_type=diag"),
        os("--no-store"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_automl_budget_bounds_the_search() {
    let dir = tempfile::tempdir().unwrap();
    let wide = wide_csv(dir.path());
    let (out, took) = run(&[
        os("automl"),
        wide.as_os_str(),
        os("--budget"),
        os("3s"),
        os("--no-store"),
        os("--json"),
    ]);
    // Load, consensus, the search cut at the budget, the refit: well under a minute.
    assert!(took < Duration::from_secs(60), "automl took {took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    if out.status.success() {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(report["timing"]["search_s"].as_f64().unwrap() < 30.0);
    } else {
        assert_refused(&out, "budget");
    }
}

#[test]
fn parameters_that_would_never_converge_are_refused() {
    let (out, _) = run(&[
        os("detect"),
        os("demo:cardio"),
        os("-d"),
        os("ocsvm"),
        os("--param"),
        os("tol=1e-300"),
        os("--no-store"),
    ]);
    assert_refused(&out, "tol");
}

#[test]
fn endless_or_foreign_model_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = dir.path().join("zeros.model.json");
    std::fs::write(&zeros, vec![0u8; 8 << 20]).unwrap();
    for model in [zeros.as_os_str(), os("/dev/zero")] {
        if !Path::new(model).exists() {
            continue;
        }
        let (out, took) = run(&[os("score"), os("--model"), model, os("demo:cardio")]);
        assert_refused(&out, "not a Pynomaly model");
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
}

#[cfg(unix)]
#[test]
fn odd_paths_are_named_in_the_error_or_read() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("loop_a"), dir.path().join("loop_b"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let (out, _) = run(&[os("profile"), a.as_os_str()]);
    assert_refused(&out, "symbolic links");

    // A file name that is not UTF-8 is still a file name.
    let name = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"data\xff.csv"));
    std::fs::write(&name, "a,b\n1,2\n3,4\n5,7\n").unwrap();
    let (out, _) = run(&[os("profile"), name.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A path through a regular file.
    let through = name.join("x.csv");
    let (out, _) = run(&[os("profile"), through.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_empty_store_variable_means_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::bin())
        .args(["detect", "demo:cardio", "-d", "hbos", "--no-store"])
        .env("PYNOMALY_STORE", "")
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_column_mismatch_with_thousands_of_columns_stays_one_short_line() {
    let dir = tempfile::tempdir().unwrap();
    let wide = wide_csv(dir.path());
    let (out, _) = run(&[
        os("prepare"),
        wide.as_os_str(),
        os("--features"),
        os("no_such_column"),
    ]);
    assert_refused(&out, "no_such_column");
    assert!(out.stderr.len() < 1_000, "{} bytes", out.stderr.len());
}

#[cfg(unix)]
#[test]
fn outputs_replace_only_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.path().join("scores.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let matrix_link = dir.path().join("matrix.csv");
    std::os::unix::fs::symlink(&target, &matrix_link).unwrap();
    let spec_link = dir.path().join("spec.json");
    std::os::unix::fs::symlink(&target, &spec_link).unwrap();
    for args in [
        vec![
            os("detect"),
            os("demo:cardio"),
            os("-d"),
            os("hbos"),
            os("--no-store"),
            os("-o"),
            link.as_os_str(),
        ],
        vec![
            os("prepare"),
            os("demo:cardio"),
            os("--output"),
            matrix_link.as_os_str(),
        ],
        vec![
            os("prepare"),
            os("demo:cardio"),
            os("--save-spec"),
            spec_link.as_os_str(),
        ],
    ] {
        let (out, _) = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    // A new path and an existing regular file are written.
    let fresh = dir.path().join("fresh.csv");
    for _ in 0..2 {
        let (out, _) = run(&[
            os("detect"),
            os("demo:cardio"),
            os("-d"),
            os("hbos"),
            os("--no-store"),
            os("-o"),
            fresh.as_os_str(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(std::fs::read_to_string(&fresh)
            .unwrap()
            .starts_with("row_id,score,is_anomaly"));
    }
}

/// A file that shrinks while it is read: files are read, not mapped, so this is a clean error
/// ("changed while it was being read") or, when the read won the race, a result; never SIGBUS.
#[cfg(unix)]
#[test]
fn a_file_shrinking_while_read_is_never_a_crash() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrinking.csv");
    let mut text = String::from("a,b,c\n");
    for i in 0..400_000 {
        text.push_str(&format!("{i},{},{}\n", i % 7, i % 13));
    }
    for round in 0..4 {
        std::fs::write(&path, &text).unwrap();
        let child = Command::new(common::bin())
            .arg("profile")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 * round));
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(10).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), None, "killed by a signal: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(matches!(out.status.code(), Some(0) | Some(2)), "{stderr}");
    }
}

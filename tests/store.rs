//! The experiment store: schema and migrations, safety with foreign, corrupted, newer and
//! read-only files, concurrent writers, processes killed mid-write, and the commands on top.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{bin, fixture, shared_dataset};
use pynomaly::store::{
    schema, DatasetRecord, NewRun, RunEnd, RunFilter, RunKind, RunOutcome, Store, StoreError,
    CURRENT_VERSION,
};

fn run_cli(store: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--store")
        .arg(store)
        .env_remove("PYNOMALY_STORE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn new_run(detector: &str) -> NewRun {
    NewRun {
        kind: RunKind::Detect,
        dataset: DatasetRecord {
            path: "/data/example.csv".into(),
            fingerprint: "xxh3-128:00".into(),
            format: "csv".into(),
            n_rows: 4,
            n_columns: 3,
            profile: None,
        },
        detector: detector.into(),
        params: serde_json::json!({"n_neighbors": 5}),
        prepare_spec: serde_json::json!({"scaling": "none"}),
        seed: 7,
        n_rows: 4,
        n_features: 2,
        label_column: None,
    }
}

fn outcome<'a>(row_ids: &'a [u64], scores: &'a [f64], flags: &'a [u8]) -> RunOutcome<'a> {
    RunOutcome {
        threshold_method: "contamination=0.1".into(),
        threshold_value: 0.5,
        n_anomalies: flags.iter().filter(|&&f| f == 1).count(),
        metrics: serde_json::json!({"roc_auc": 0.75}),
        timing: serde_json::json!({"fit_s": 0.1}),
        row_ids,
        scores,
        flags,
        model: Some(b"{\"format\":\"pynomaly-model\"}"),
        chosen: None,
    }
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn a_new_store_is_private_versioned_and_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/folders/store.sqlite");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "store file mode {mode:o}");
    }
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn runs_round_trip_with_exact_scores_and_cascade_on_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
    let id = store.begin_run(&new_run("knn")).unwrap();
    assert_eq!(store.run(id).unwrap().summary.status, "running");
    let row_ids = [0, 2, 3, 9];
    let scores = [0.1, 1.0 / 3.0, -0.0, 1e300];
    let flags = [0, 0, 1, 1];
    store
        .finish_run(id, &outcome(&row_ids, &scores, &flags))
        .unwrap();

    let run = store.run(id).unwrap();
    assert_eq!(run.summary.status, "done");
    assert_eq!(run.summary.roc_auc, Some(0.75));
    assert_eq!(run.params["n_neighbors"], 5);
    assert_eq!(run.seed, 7);
    assert!(run.has_model);
    let stored = store.scores(id).unwrap().unwrap();
    assert_eq!(stored.row_ids, row_ids);
    assert_eq!(
        stored
            .scores
            .iter()
            .map(|s| s.to_bits())
            .collect::<Vec<_>>(),
        scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(stored.flags, flags);

    let other = store.begin_run(&new_run("lof")).unwrap();
    store.end_run(other, RunEnd::Failed, "boom").unwrap();
    let listed = store.list_runs(&RunFilter::default()).unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![other, id]
    );
    let only_knn = store
        .list_runs(&RunFilter {
            detector: Some("knn".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(only_knn.len(), 1);
    assert_eq!(store.run(other).unwrap().error.as_deref(), Some("boom"));

    assert!(store.delete_run(other).unwrap());
    assert!(store.delete_run(id).unwrap());
    assert!(matches!(store.run(id), Err(StoreError::NoSuchRun(_))));
    // Ids are never reused: `score --model ID` cannot come to mean another run.
    let next = store.begin_run(&new_run("knn")).unwrap();
    assert!(next > other, "id {next} reused");
    assert!(store.scores(id).unwrap().is_none());
    assert!(store.model(id).unwrap().is_none());
    assert!(!store.delete_run(id).unwrap());
}

/// Every schema version ever released has a fixture written by that version; each must open,
/// migrate to the current schema (identical to a fresh store's), and keep its runs.
#[test]
fn stores_from_every_earlier_schema_version_migrate() {
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = fresh_dir.path().join("fresh.sqlite");
    drop(Store::open(&fresh).unwrap());
    let schema_of = |path: &Path| -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows
    };
    let expected = schema_of(&fresh);

    // Version 0: an empty file.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("v0.sqlite");
    std::fs::write(&empty, b"").unwrap();
    drop(Store::open(&empty).unwrap());
    assert_eq!(schema_of(&empty), expected);

    for version in 1..=CURRENT_VERSION {
        let name = format!("store/v{version}.sqlite");
        let source = fixture(&name);
        assert!(
            source.exists(),
            "missing fixture {name}: write one with the build that introduced schema version {version}"
        );
        let copy = dir.path().join(format!("v{version}.sqlite"));
        std::fs::copy(&source, &copy).unwrap();
        let store = Store::open(&copy).unwrap();
        assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
        let runs = store.list_runs(&RunFilter::default()).unwrap();
        assert!(!runs.is_empty(), "{name}: runs lost in migration");
        for r in &runs {
            let detail = store.run(r.id).unwrap();
            if detail.summary.status == "done" {
                let scores = store.scores(r.id).unwrap().expect("a done run has scores");
                assert_eq!(Some(scores.scores.len() as i64), detail.summary.n_rows);
                assert!(detail.has_model, "{name}: run {} lost its model", r.id);
            }
        }
        drop(store);
        assert_eq!(
            schema_of(&copy),
            expected,
            "{name}: schema differs after migration"
        );
    }
    assert_eq!(CURRENT_VERSION as usize, schema::MIGRATIONS.len());
}

#[test]
fn a_store_from_a_newer_version_is_refused_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite");
    drop(Store::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .unwrap();
    }
    let before = file_bytes(&path);
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    assert!(err.to_string().contains("newer Pynomaly"), "{err}");
    assert_eq!(file_bytes(&path), before);

    let out = run_cli(&path, &["experiments", "list"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("newer Pynomaly"));
    let out = run_cli(
        &path,
        &[
            "detect",
            shared_dataset("glass").to_str().unwrap(),
            "-d",
            "hbos",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(file_bytes(&path), before, "the newer store was modified");
}

#[test]
fn foreign_and_corrupted_files_are_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "these are my notes, not a database\n".repeat(200)).unwrap();
    let before = file_bytes(&text);
    let out = run_cli(&text, &["experiments", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a Pynomaly store"),
        "{}",
        stderr(&out)
    );
    assert_eq!(file_bytes(&text), before);

    let other_app = dir.path().join("other.sqlite");
    {
        let conn = rusqlite::Connection::open(&other_app).unwrap();
        conn.execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x');")
            .unwrap();
    }
    let before = file_bytes(&other_app);
    let out = run_cli(&other_app, &["experiments", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a Pynomaly store"),
        "{}",
        stderr(&out)
    );
    assert_eq!(file_bytes(&other_app), before);

    // A real store whose pages after the first were overwritten.
    let damaged = dir.path().join("damaged.sqlite");
    std::fs::copy(fixture("store/v1.sqlite"), &damaged).unwrap();
    let mut bytes = file_bytes(&damaged);
    let page = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    for b in bytes[page..].iter_mut() {
        *b = 0x5a;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    for args in [
        &["experiments", "list"][..],
        &["experiments", "show", "1"][..],
    ] {
        let out = run_cli(&damaged, args);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{args:?} succeeded on a damaged store"
        );
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("corrupt"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(
            file_bytes(&damaged),
            bytes,
            "the damaged store was modified"
        );
    }
}

#[test]
fn a_location_that_cannot_be_written_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where a folder is needed: fails for every user, root included.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let err = Store::open(&blocker.join("store.sqlite")).unwrap_err();
    assert!(
        err.to_string().contains("cannot create the folder"),
        "{err}"
    );

    // A read-only location: a read-only folder for normal users; root ignores permissions, so
    // it gets /sys, which refuses new files to everyone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let is_root = unsafe { libc::geteuid() } == 0;
        let target = if is_root {
            if !Path::new("/sys").is_dir() {
                return;
            }
            PathBuf::from("/sys/pynomaly-store.sqlite")
        } else {
            let ro = dir.path().join("ro");
            std::fs::create_dir(&ro).unwrap();
            std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
            ro.join("store.sqlite")
        };
        let err = Store::open(&target).unwrap_err();
        assert!(err.to_string().contains("not writable"), "{err}");
        let out = run_cli(&target, &["detect", "demo:cardio", "-d", "hbos"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("not writable"), "{}", stderr(&out));
    }
}

fn detect_json(store: &Path, extra: &[&str]) -> serde_json::Value {
    let glass = shared_dataset("glass");
    let mut args = vec!["detect", glass.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let out = run_cli(store, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn detect_records_runs_and_score_reuses_their_models() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.sqlite");
    let report = detect_json(&store, &["-d", "knn"]);
    let id = report["run_id"].as_i64().expect("run_id in detect --json");

    // A scores file that cannot be written is reported, and the run is still recorded whole.
    let glass = shared_dataset("glass");
    let out = run_cli(
        &store,
        &[
            "detect",
            glass.to_str().unwrap(),
            "-d",
            "hbos",
            "-o",
            "/nonexistent-dir/s.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let listed = Store::open(&store)
        .unwrap()
        .list_runs(&RunFilter::default())
        .unwrap();
    assert_eq!(listed[0].detector, "hbos");
    assert_eq!(listed[0].status, "done");

    let no_store = dir.path().join("untouched.sqlite");
    let report2 = detect_json(&no_store, &["-d", "knn", "--no-store"]);
    assert!(report2.get("run_id").is_none());
    assert!(!no_store.exists(), "--no-store created a store");
    // Before the command, as for the workbench, it means the same.
    let glass = shared_dataset("glass");
    let out = Command::new(bin())
        .args(["--no-store", "--store"])
        .arg(&no_store)
        .args(["detect", glass.to_str().unwrap(), "-d", "hbos"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !no_store.exists(),
        "pynomaly --no-store detect created a store"
    );

    // Scoring the training file with the stored model flags rows with the training threshold.
    let out = run_cli(
        &store,
        &[
            "score",
            "--model",
            &id.to_string(),
            glass.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let scored: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(scored["model"]["detector"], "knn");
    assert_eq!(scored["n_rows"], 214);
    assert_eq!(scored["threshold"]["value"], report["threshold"]["value"]);

    // Exported to a file, the model gives the same scores.
    let model = dir.path().join("knn.model.json");
    let out = run_cli(
        &store,
        &[
            "experiments",
            "export-model",
            &id.to_string(),
            "-o",
            model.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let from_file = dir.path().join("file.csv");
    let from_run = dir.path().join("run.csv");
    for (m, o) in [
        (model.to_str().unwrap().to_string(), &from_file),
        (id.to_string(), &from_run),
    ] {
        let out = run_cli(
            &store,
            &[
                "score",
                "-m",
                &m,
                glass.to_str().unwrap(),
                "-o",
                o.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(file_bytes(&from_file), file_bytes(&from_run));

    // Data without the model's columns.
    let out = run_cli(
        &store,
        &[
            "score",
            "-m",
            model.to_str().unwrap(),
            "demo:server_metrics",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("f0"), "{}", stderr(&out));

    // A truncated model file, a future format, something else entirely.
    let text = std::fs::read_to_string(&model).unwrap();
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    let future = dir.path().join("future.json");
    std::fs::write(
        &future,
        text.replacen("\"format_version\":1", "\"format_version\":99", 1),
    )
    .unwrap();
    let other = dir.path().join("other.json");
    std::fs::write(&other, "{\"hello\": 1}").unwrap();
    for (file, expected) in [
        (&truncated, "truncated"),
        (&future, "newer Pynomaly"),
        (&other, "not a Pynomaly model"),
    ] {
        let out = run_cli(
            &store,
            &[
                "score",
                "-m",
                file.to_str().unwrap(),
                glass.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    }
    let out = run_cli(&store, &["score", "-m", "999", glass.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no run 999"), "{}", stderr(&out));
}

#[test]
fn experiments_commands_list_show_compare_export_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.sqlite");
    let a = detect_json(&store, &["-d", "knn"])["run_id"]
        .as_i64()
        .unwrap();
    let b = detect_json(&store, &["-d", "hbos"])["run_id"]
        .as_i64()
        .unwrap();

    let out = run_cli(&store, &["experiments", "list", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    let out = run_cli(
        &store,
        &["experiments", "list", "--detector", "hbos", "--json"],
    );
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs[0]["id"], b);
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let out = run_cli(
        &store,
        &["experiments", "list", "--dataset", "cardio", "--json"],
    );
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(runs.as_array().unwrap().is_empty());

    let out = run_cli(
        &store,
        &["experiments", "compare", &a.to_string(), &b.to_string()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("param n_neighbors") && table.contains("metric roc_auc"),
        "{table}"
    );
    assert!(table.contains("knn") && table.contains("hbos"));

    let out = run_cli(
        &store,
        &["experiments", "export", &a.to_string(), "--format", "md"],
    );
    let md = stdout(&out);
    assert!(md.starts_with(&format!("# Run {a}: knn")), "{md}");
    assert!(
        md.contains("## Top anomalies") && md.contains("| n_neighbors | 5 |"),
        "{md}"
    );
    let out = run_cli(
        &store,
        &["experiments", "export", &a.to_string(), "--format", "csv"],
    );
    let csv = stdout(&out);
    assert_eq!(csv.lines().count(), 215);
    assert_eq!(csv.lines().next(), Some("row_id,score,is_anomaly"));
    let out = run_cli(
        &store,
        &["experiments", "export", &a.to_string(), "--format", "json"],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["scores"]["score"].as_array().unwrap().len(), 214);

    // Without a terminal and without --yes nothing is deleted.
    let out = run_cli(&store, &["experiments", "delete", &a.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"));
    let out = run_cli(&store, &["experiments", "delete", &a.to_string(), "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_cli(&store, &["experiments", "show", &a.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_cli(&store, &["experiments", "show", &b.to_string()]);
    assert!(out.status.success());
}

#[test]
fn two_processes_recording_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("shared.sqlite");
    let per_process = 12;
    let writers: Vec<_> = ["knn", "hbos"]
        .into_iter()
        .map(|detector| {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..per_process {
                    let out = run_cli(
                        &store,
                        &[
                            "detect",
                            shared_dataset("glass").to_str().unwrap(),
                            "-d",
                            detector,
                        ],
                    );
                    assert!(out.status.success(), "{}", stderr(&out));
                    assert!(!stderr(&out).to_lowercase().contains("locked"));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let store = Store::open(&store).unwrap();
    let runs = store.list_runs(&RunFilter::default()).unwrap();
    assert_eq!(runs.len(), 2 * per_process);
    assert!(runs.iter().all(|r| r.status == "done"));
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

/// A run is written in two transactions (start, then results + scores + model). Killing the
/// writer at random moments must never leave a half-written run or a damaged file.
#[test]
fn killing_a_writer_never_corrupts_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("big.csv");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&data).unwrap());
        writeln!(f, "a,b,c,d").unwrap();
        for i in 0..200_000u64 {
            let x = (i * 2_654_435_761 % 1_000_003) as f64 / 1e3;
            writeln!(f, "{x},{},{},{}", (i % 97) as f64, (x * 1.7) % 13.0, i % 5).unwrap();
        }
    }
    let store_path = dir.path().join("killed.sqlite");
    let start = || {
        Command::new(bin())
            .args(["detect", data.to_str().unwrap(), "-d", "hbos", "--store"])
            .arg(&store_path)
            .env_remove("PYNOMALY_STORE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long one uninterrupted run takes, to spread the kills over its whole life.
    let t0 = std::time::Instant::now();
    assert!(start().wait().unwrap().success());
    let full = t0.elapsed();

    let mut done_before: Vec<(i64, Vec<f64>)> = Vec::new();
    let iterations = 50;
    for i in 0..iterations {
        let mut child = start();
        // Most kills land in the second half, where the results are written.
        let delay = full.mul_f64(0.2 + 0.9 * i as f64 / iterations as f64);
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();

        let store = Store::open(&store_path).unwrap();
        assert_eq!(store.integrity_check().unwrap(), "ok", "iteration {i}");
        // Runs finished earlier are intact.
        for (id, scores) in &done_before {
            let stored = store
                .scores(*id)
                .unwrap()
                .expect("a finished run lost its scores");
            assert_eq!(&stored.scores, scores, "iteration {i}: run {id} changed");
        }
        // No run is half-written: done ⇔ scores and model present; nothing left 'running'.
        for r in store.list_runs(&RunFilter::default()).unwrap() {
            let has_scores = store.scores(r.id).unwrap().is_some();
            let has_model = store.model(r.id).unwrap().is_some();
            match r.status.as_str() {
                "done" => assert!(
                    has_scores && has_model,
                    "iteration {i}: run {} incomplete",
                    r.id
                ),
                "interrupted" => assert!(!has_scores && !has_model, "iteration {i}: run {}", r.id),
                other => panic!("iteration {i}: run {} is {other}", r.id),
            }
            if r.status == "done" && !done_before.iter().any(|(id, _)| *id == r.id) {
                done_before.push((r.id, store.scores(r.id).unwrap().unwrap().scores));
            }
        }
    }
    let store = Store::open(&store_path).unwrap();
    let runs = store.list_runs(&RunFilter::default()).unwrap();
    let count = |s: &str| runs.iter().filter(|r| r.status == s).count();
    // Which phases the kills hit depends on timing; shown for the curious (--nocapture).
    eprintln!(
        "{iterations} kills over {full:?}: {} runs done, {} interrupted, {} never started",
        count("done"),
        count("interrupted"),
        iterations + 1 - runs.len()
    );
}

/// Processes that start together on a store that does not exist yet race to create it: the switch
/// to WAL is one of the few SQLite steps that fails at once with "database is locked" instead of
/// waiting, so opening must retry it. Many rounds of simultaneous first opens make the race likely.
#[test]
fn simultaneous_first_opens_of_a_new_store_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..40 {
        let path = dir.path().join(format!("fresh-{round}.sqlite"));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let path = path.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    Store::open(&path).map(|_| ()).map_err(|e| e.to_string())
                })
            })
            .collect();
        for opener in openers {
            let result = opener.join().unwrap();
            assert!(result.is_ok(), "round {round}: {}", result.unwrap_err());
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }
}

/// A store with one finished run whose scores (20,000 rows, 160 kB) spill into overflow pages.
fn store_with_big_run(path: &Path) -> i64 {
    let mut store = Store::open(path).unwrap();
    let id = store.begin_run(&new_run("knn")).unwrap();
    let n = 20_000u64;
    let row_ids: Vec<u64> = (0..n).collect();
    let scores: Vec<f64> = (0..n).map(|i| (i as f64 * 0.618).sin()).collect();
    let flags: Vec<u8> = (0..n).map(|i| u8::from(i % 10 == 0)).collect();
    store
        .finish_run(id, &outcome(&row_ids, &scores, &flags))
        .unwrap();
    id
}

fn quick_check_fails(path: &Path) -> bool {
    let conn = rusqlite::Connection::open(path).unwrap();
    let result: rusqlite::Result<String> = conn.query_row("PRAGMA quick_check", [], |r| r.get(0));
    !matches!(result.as_deref(), Ok("ok"))
}

/// A flipped byte in an overflow page: `quick_check` on open notices, reads go on, every write
/// is refused with the way out, the file stays as it was, and `experiments check` reports it.
#[test]
fn a_damaged_store_is_read_but_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = dir.path().join("healthy.sqlite");
    let id = store_with_big_run(&healthy);
    let (page_size, overflow) = {
        let conn = rusqlite::Connection::open(&healthy).unwrap();
        let page_size = conn
            .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
            .unwrap() as usize;
        let mut stmt = conn
            .prepare("SELECT pageno FROM dbstat WHERE pagetype = 'overflow' ORDER BY pageno")
            .unwrap();
        let pages: Vec<usize> = stmt
            .query_map([], |r| r.get::<_, i64>(0))
            .unwrap()
            .map(|p| p.unwrap() as usize)
            .collect();
        (page_size, pages)
    };
    assert!(overflow.len() > 4, "no overflow pages: {overflow:?}");
    let wal = dir.path().join("healthy.sqlite-wal");
    assert!(!wal.exists(), "the WAL was not folded back into the store");
    let clean = file_bytes(&healthy);

    // Overflow pages from the middle of the chain outwards; first the high bytes of the pointer
    // to the next page (damage quick_check must see), then a byte of content (it may not).
    let mid = overflow.len() / 2;
    let mut pages: Vec<usize> = overflow[mid..].to_vec();
    pages.extend(overflow[..mid].iter().rev());
    let candidates = pages
        .iter()
        .take(8)
        .flat_map(|&p| [0, 1, page_size / 2].map(|offset| (p - 1) * page_size + offset));
    let damaged = dir.path().join("damaged.sqlite");
    let mut flipped = None;
    for at in candidates {
        for leftover in ["damaged.sqlite-wal", "damaged.sqlite-shm"] {
            let _ = std::fs::remove_file(dir.path().join(leftover));
        }
        let mut bytes = clean.clone();
        bytes[at] ^= 0xff;
        std::fs::write(&damaged, &bytes).unwrap();
        if quick_check_fails(&damaged) {
            flipped = Some(at);
            break;
        }
    }
    assert!(flipped.is_some(), "no flipped byte made quick_check fail");
    let before = file_bytes(&damaged);

    // Listing still works: the damage is in the scores, not in the runs.
    let out = run_cli(&damaged, &["experiments", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("knn"), "{}", stdout(&out));
    // Showing the damaged run reads its scores: a clean error at worst.
    let out = run_cli(&damaged, &["experiments", "show", &id.to_string()]);
    assert!(
        matches!(out.status.code(), Some(0) | Some(2)),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    if out.status.code() == Some(2) {
        assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));
    }

    // Writes are refused: recording a run, deleting one.
    let glass = shared_dataset("glass");
    let out = run_cli(&damaged, &["detect", glass.to_str().unwrap(), "-d", "hbos"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    for expected in ["is damaged", "nothing was written", ".recover", "--store"] {
        assert!(
            stderr(&out).contains(expected),
            "{expected}: {}",
            stderr(&out)
        );
    }
    let out = run_cli(
        &damaged,
        &["experiments", "delete", &id.to_string(), "--yes"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is damaged"), "{}", stderr(&out));
    assert_eq!(
        file_bytes(&damaged),
        before,
        "the damaged store was modified"
    );

    // The same through the library.
    {
        let mut store = Store::open(&damaged).unwrap();
        assert!(store.damage().is_some());
        let err = store.begin_run(&new_run("lof")).unwrap_err();
        assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
        assert!(err.is_bad_input());
        assert!(matches!(
            store.end_run(id, RunEnd::Failed, "x"),
            Err(StoreError::Damaged { .. })
        ));
        assert!(matches!(
            store.delete_run(id),
            Err(StoreError::Damaged { .. })
        ));
        assert_eq!(store.list_runs(&RunFilter::default()).unwrap().len(), 1);
        if let Err(e) = store.scores(id) {
            assert!(e.to_string().contains("corrupt"), "{e}");
        }
    }
    assert_eq!(
        file_bytes(&damaged),
        before,
        "the damaged store was modified"
    );

    // The full check lists the problems and exits 2; a healthy store is "ok".
    let out = run_cli(&damaged, &["experiments", "check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(
        !report.trim().is_empty() && report.trim() != "ok",
        "{report}"
    );
    assert!(report.lines().count() <= 21, "{report}");
    assert!(stderr(&out).contains(".recover"), "{}", stderr(&out));
    assert_eq!(
        file_bytes(&damaged),
        before,
        "the damaged store was modified"
    );
    let out = run_cli(&healthy, &["experiments", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ok\n");
}

/// Everything read from the store is untrusted: escape sequences planted in any text column
/// never reach the terminal (OSC 52 would write the clipboard, CSI recolours or clears).
#[test]
fn escape_sequences_in_the_store_never_reach_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("planted.sqlite");
    let (a, b) = {
        let mut store = Store::open(&path).unwrap();
        let (row_ids, scores, flags) = ([0, 1, 2, 3], [0.1, 0.2, 0.9, 0.3], [0, 0, 1, 0]);
        let a = store.begin_run(&new_run("knn")).unwrap();
        store
            .finish_run(a, &outcome(&row_ids, &scores, &flags))
            .unwrap();
        let b = store.begin_run(&new_run("lof")).unwrap();
        store.end_run(b, RunEnd::Failed, "boom").unwrap();
        (a, b)
    };
    let evil = |s: &str| format!("{s}\u{1b}]52;c;cHduZWQ=\u{07}\u{1b}[31m\u{07}\u{9b}2J");
    let object = |pairs: Vec<(String, serde_json::Value)>| {
        serde_json::Value::Object(pairs.into_iter().collect()).to_string()
    };
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        // Lets `kind` and `status` hold what their CHECK constraints would refuse. The open-time
        // quick check then calls the store damaged (read-only); every command below only reads.
        conn.pragma_update(None, "ignore_check_constraints", true)
            .unwrap();
        conn.execute(
            "UPDATE runs SET detector = ?1, kind = ?2, status = ?3, threshold_method = ?4,
                    label_column = ?5, error = ?6, app_version = ?7, params = ?8, metrics = ?9,
                    timing = ?10, prepare_spec = ?11",
            rusqlite::params![
                evil("knn"),
                evil("detect"),
                evil("done"),
                evil("contamination=0.1"),
                evil("label"),
                evil("boom"),
                evil("0.1.0"),
                object(vec![
                    (evil("n_neighbors"), serde_json::json!(5)),
                    ("method".into(), serde_json::json!(evil("largest"))),
                ]),
                object(vec![
                    ("roc_auc".into(), serde_json::json!(0.75)),
                    (evil("precision"), serde_json::json!(evil("x"))),
                ]),
                object(vec![(evil("fit_s"), serde_json::json!(0.1))]),
                object(vec![("scaling".into(), serde_json::json!(evil("none")))]),
            ],
        )
        .unwrap();
        conn.execute(
            "UPDATE datasets SET path = ?1, fingerprint = ?2, format = ?3",
            rusqlite::params![evil("/data/x.csv"), evil("xxh3-128:00"), evil("csv")],
        )
        .unwrap();
    }
    let (a_id, b_id) = (a.to_string(), b.to_string());
    let (a, b) = (a_id.as_str(), b_id.as_str());
    let model = dir.path().join("model.json");
    let commands: Vec<Vec<&str>> = vec![
        vec!["experiments", "list"],
        vec!["experiments", "list", "--json"],
        vec!["experiments", "show", a],
        vec!["experiments", "show", b],
        vec!["experiments", "show", a, "--json"],
        vec!["experiments", "compare", a, b],
        vec!["experiments", "compare", a, b, "--json"],
        vec!["experiments", "export", a, "--format", "md"],
        vec!["experiments", "export", b, "--format", "md"],
        vec!["experiments", "export", a, "--format", "json"],
        vec![
            "experiments",
            "export-model",
            a,
            "-o",
            model.to_str().unwrap(),
        ],
    ];
    for args in &commands {
        let out = run_cli(&path, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !bytes.contains(&0x1b) && !bytes.contains(&0x07) && !text.contains('\u{9b}'),
                "{args:?} {stream}: {text:?}"
            );
        }
    }
    // The text around the escapes survives.
    let out = run_cli(&path, &["experiments", "show", a]);
    let shown = stdout(&out);
    assert!(
        shown.contains("knn") && shown.contains("n_neighbors") && shown.contains("contamination"),
        "{shown}"
    );
}

/// `-o` writes through a temporary file renamed over the target, and only over a regular file
/// or a new path: a symlink, FIFO or directory is refused and left as it was.
#[cfg(unix)]
#[test]
fn exports_replace_only_regular_files() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let id = {
        let mut store = Store::open(&path).unwrap();
        let id = store.begin_run(&new_run("knn")).unwrap();
        store
            .finish_run(id, &outcome(&[0, 1, 2], &[0.1, 0.5, 0.2], &[0, 1, 0]))
            .unwrap();
        id.to_string()
    };
    let id = id.as_str();
    let model_bytes: &[u8] = b"{\"format\":\"pynomaly-model\"}";

    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let fifo = dir.path().join("fifo.json");
    let c_fifo = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) }, 0);
    let folder = dir.path().join("folder.json");
    std::fs::create_dir(&folder).unwrap();
    for target in [&link, &fifo, &folder] {
        let target = target.to_str().unwrap();
        for args in [
            vec!["experiments", "export-model", id, "-o", target],
            vec!["experiments", "export", id, "--format", "csv", "-o", target],
        ] {
            let out = run_cli(&path, &args);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
            assert!(
                stderr(&out).contains(&format!(
                    "{target}: not a regular file; refusing to replace it"
                )),
                "{args:?}: {}",
                stderr(&out)
            );
        }
    }
    assert_eq!(std::fs::read_link(&link).unwrap(), victim);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(std::fs::symlink_metadata(&folder).unwrap().is_dir());
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);

    // A new path, and a regular file that is replaced.
    let new = dir.path().join("new.model.json");
    let existing = dir.path().join("existing.model.json");
    std::fs::write(&existing, "old contents").unwrap();
    for target in [&new, &existing] {
        let out = run_cli(
            &path,
            &[
                "experiments",
                "export-model",
                id,
                "-o",
                target.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(file_bytes(target), model_bytes);
        let mode = std::fs::metadata(target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "model file mode {mode:o}");
    }
    let csv = dir.path().join("scores.csv");
    std::fs::write(&csv, "old contents").unwrap();
    let out = run_cli(
        &path,
        &[
            "experiments",
            "export",
            id,
            "--format",
            "csv",
            "-o",
            csv.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "row_id,score,is_anomaly\n0,0.1,0\n1,0.5,1\n2,0.2,0\n"
    );
    // No temporary file is left behind.
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Ctrl-C (or SIGTERM, or a closed SSH session) during a headless `detect` cancels the fit
/// through the job's token: the stored run ends as `cancelled`, not `running`, and the exit
/// status is 130.
#[cfg(unix)]
#[test]
fn an_interrupted_detect_ends_its_run_as_cancelled() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let dir = tempfile::tempdir().unwrap();
        let store_path = dir.path().join("store.sqlite");
        let shuttle = shared_dataset("shuttle");
        // A one-class SVM on 49,097 rows takes minutes: the signal always lands inside the fit.
        let child = Command::new(bin())
            .args(["detect", shuttle.to_str().unwrap(), "-d", "ocsvm"])
            .env("PYNOMALY_STORE", &store_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let running = Store::open(&store_path)
                .ok()
                .and_then(|s| s.list_runs(&RunFilter::default()).ok())
                .is_some_and(|runs| runs.iter().any(|r| r.status == "running"));
            if running {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no run started");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("cancelled") && !stderr(&out).contains("error:"),
            "{}",
            stderr(&out)
        );
        let runs = Store::open(&store_path)
            .unwrap()
            .list_runs(&RunFilter::default())
            .unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "cancelled");
    }
}

/// `experiments show` states the preparation and the command that repeats the run; that
/// command, run, gives the same record (parameters, preparation, threshold, flagged rows).
#[test]
fn a_shown_run_can_be_repeated_from_its_reproduce_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite");
    let out = run_cli(
        &store,
        &[
            "detect",
            "demo:cardio",
            "-d",
            "knn",
            "-p",
            "n_neighbors=7",
            "--scale",
            "robust",
            "--exclude",
            "f3",
            "--threshold",
            "otsu",
            "--seed",
            "4",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&run_cli(&store, &["experiments", "show", "1"]));
    assert!(
        shown.contains("Preparation --label label --exclude f3 --scale robust"),
        "{shown}"
    );
    let command = shown
        .lines()
        .find_map(|l| l.strip_prefix("Reproduce   "))
        .unwrap_or_else(|| panic!("no Reproduce line:\n{shown}"));
    let command = command.replacen("pynomaly", bin().to_str().unwrap(), 1);
    let again = Command::new("sh")
        .args(["-c", &command])
        .env("PYNOMALY_STORE", &store)
        .output()
        .unwrap();
    assert!(again.status.success(), "{command}: {}", stderr(&again));
    let store = Store::open(&store).unwrap();
    let (first, second) = (store.run(1).unwrap(), store.run(2).unwrap());
    assert_eq!(first.params, second.params);
    assert_eq!(first.seed, second.seed);
    assert_eq!(first.threshold_method, second.threshold_method);
    assert_eq!(first.threshold_value, second.threshold_value);
    assert_eq!(first.summary.n_anomalies, second.summary.n_anomalies);
    assert_eq!(first.summary.n_features, second.summary.n_features);
    assert_eq!(
        first.prepare_spec["scaling"], second.prepare_spec["scaling"],
        "the same preparation"
    );
    let md = stdout(&run_cli(
        dir.path().join("store.sqlite").as_path(),
        &["experiments", "export", "1", "--format", "md"],
    ));
    assert!(
        md.contains("## Preparation") && md.contains("To repeat the run"),
        "{md}"
    );
}

/// Stored runs show `auto` for a 0 that means so, in `show`, `compare` and the reproduce line.
#[test]
fn stored_auto_parameters_read_auto() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.sqlite");
    let report = detect_json(&store, &["-d", "iforest"]);
    let id = report["run_id"].as_i64().unwrap().to_string();
    let out = run_cli(&store, &["experiments", "show", &id]);
    let text = stdout(&out);
    assert!(text.contains("max_samples=auto"), "{text}");
    assert!(text.contains("-p max_samples=auto"), "{text}");
    let out = run_cli(&store, &["experiments", "compare", &id, &id]);
    let text = stdout(&out);
    assert!(
        !text.contains("max_samples 0") && text.contains("auto"),
        "{text}"
    );
}

//! The experiment store's speed targets: open a store holding 10,000 runs (≤ 10 ms), list all
//! 10,000 (≤ 50 ms), record a run with 1,000,000 scores (≤ 0.5 s).
//! Run: `cargo bench --bench store`; numbers in docs/benchmarks.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use pynomaly::store::{DatasetRecord, NewRun, RunFilter, RunKind, RunOutcome, Store};

fn new_run() -> NewRun {
    NewRun {
        kind: RunKind::Detect,
        dataset: DatasetRecord {
            path: "/data/big.csv".into(),
            fingerprint: "xxh3-128:0123".into(),
            format: "csv".into(),
            n_rows: 1_000_000,
            n_columns: 20,
            profile: None,
        },
        detector: "iforest".into(),
        params: serde_json::json!({"n_estimators": 100, "max_samples": 0, "max_features": 1.0, "bootstrap": false}),
        prepare_spec: serde_json::json!({"scaling": "none", "missing": "median"}),
        seed: 0,
        n_rows: 1_000_000,
        n_features: 20,
        label_column: Some("label".into()),
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.sqlite");
    let n = 1_000_000;
    let scores: Vec<f64> = (0..n)
        .map(|i| ((i * 7919) % 10007) as f64 / 10007.0)
        .collect();
    let flags: Vec<u8> = scores.iter().map(|&s| u8::from(s > 0.9)).collect();
    let row_ids: Vec<u64> = (0..n as u64).collect();
    // An iforest envelope is ~270 kB; the model bytes are opaque to the store.
    let model = vec![b'x'; 270_000];
    let outcome = RunOutcome {
        threshold_method: "contamination=0.1".into(),
        threshold_value: 0.9,
        n_anomalies: flags.iter().filter(|&&f| f == 1).count(),
        metrics: serde_json::json!({"roc_auc": 0.9, "average_precision": 0.5, "precision_at_n": 0.5}),
        timing: serde_json::json!({"load_s": 1.0, "fit_s": 2.0, "score_s": 0.1}),
        row_ids: &row_ids,
        scores: &scores,
        flags: &flags,
        model: Some(&model),
        chosen: None,
    };

    let mut store = Store::open(&path).unwrap();
    let mut group = c.benchmark_group("store");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(500));
    group.bench_function("record_run_1M_scores", |b| {
        b.iter(|| {
            let id = store.begin_run(&new_run()).unwrap();
            store.finish_run(id, &outcome).unwrap();
            id
        })
    });
    drop(store);

    // 10,000 small finished runs, made in one transaction from a template row.
    let small = Store::open(&dir.path().join("many.sqlite")).unwrap();
    drop(small);
    {
        let mut s = Store::open(&dir.path().join("many.sqlite")).unwrap();
        let id = s.begin_run(&new_run()).unwrap();
        let short = RunOutcome {
            row_ids: &row_ids[..100],
            scores: &scores[..100],
            flags: &flags[..100],
            ..outcome.clone()
        };
        s.finish_run(id, &short).unwrap();
    }
    {
        let conn = rusqlite::Connection::open(dir.path().join("many.sqlite")).unwrap();
        conn.execute_batch(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 9999)
             INSERT INTO runs (dataset_id, kind, detector, params, prepare_spec, seed, n_rows,
                               n_features, label_column, threshold_method, threshold_value,
                               n_anomalies, metrics, timing, status, started_ms, finished_ms,
                               app_version)
             SELECT dataset_id, kind, detector, params, prepare_spec, seed + i, n_rows,
                    n_features, label_column, threshold_method, threshold_value, n_anomalies,
                    metrics, timing, status, started_ms + i, finished_ms + i, app_version
             FROM runs, k WHERE runs.id = 1;",
        )
        .unwrap();
    }
    let many = dir.path().join("many.sqlite");
    group.bench_function("open_store_10k_runs", |b| {
        b.iter(|| Store::open(&many).unwrap())
    });
    let store = Store::open(&many).unwrap();
    assert_eq!(
        store.list_runs(&RunFilter::default()).unwrap().len(),
        10_000
    );
    group.bench_function("list_10k_runs", |b| {
        b.iter(|| store.list_runs(&RunFilter::default()).unwrap().len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

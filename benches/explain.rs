//! Explaining the 100 highest-scoring rows of a 100,000 × 20 run (issue target: under a second
//! for the decomposable detectors). The fit is done once, outside the measurement; what is
//! measured is `service::explain::explain_training_rows` as `detect --explain 100` calls it:
//! the detector's explanation, percentiles and robust z-scores, per-column sums.
//!
//! Run: `cargo bench --bench explain`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use pynomaly::data::{self, LoadOptions, PrepareSpec, Source};
use pynomaly::detectors::explain::ExplainOptions;
use pynomaly::detectors::{registry, JobCtx};
use pynomaly::service::explain::{explain_training_rows, Selection};

const ROWS: usize = 100_000;
const COLS: usize = 20;

fn generate_csv(path: &std::path::Path) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let header: Vec<String> = (0..COLS).map(|j| format!("f{j}")).collect();
    writeln!(w, "{}", header.join(",")).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..ROWS {
        let row: Vec<String> = (0..COLS)
            .map(|_| format!("{:.6}", uniform() + uniform() + uniform() - 1.5))
            .collect();
        writeln!(w, "{}", row.join(",")).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("explain.csv");
    generate_csv(&path);
    let loaded = data::load(&Source::Path(path), &LoadOptions::default()).unwrap();
    let prepared = PrepareSpec::default()
        .apply(&loaded.df, &loaded.source)
        .unwrap();
    let (loaded, prepared) = (Arc::new(loaded), Arc::new(prepared));
    let mut group = c.benchmark_group("explain top 100 of 100k x 20");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for name in ["ecod", "hbos", "knn", "pca", "mcd", "iforest"] {
        let info = registry().iter().find(|d| d.name == name).unwrap();
        let params = info.resolve(&Default::default()).unwrap();
        let fitted = info
            .build(&params)
            .fit_on_pool(prepared.matrix.x.view(), &JobCtx::new(0))
            .unwrap();
        let scores = fitted.training_scores.to_vec();
        group.bench_function(name, |b| {
            b.iter(|| {
                explain_training_rows(
                    &loaded,
                    &prepared,
                    &fitted.model,
                    &scores,
                    &Selection::Top(100),
                    &ExplainOptions::default(),
                    &JobCtx::new(0),
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

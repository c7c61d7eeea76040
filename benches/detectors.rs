//! Fit time of every registry detector on two shared datasets, grouped by family.
//! Run: `cargo bench --bench detectors` (needs ../shared beside the checkout).
//! The PyOD comparison lives in `../shared/bench/compare`; numbers in docs/benchmarks.md.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ndarray::Array2;
use pynomaly::data::{self, LoadOptions, PrepareSpec, Source};
use pynomaly::detectors::{self, registry, JobCtx};

fn matrix(name: &str) -> Array2<f64> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets")
        .join(format!("{name}.csv"));
    let loaded = data::load(&Source::Path(path), &LoadOptions::default()).expect("shared dataset");
    PrepareSpec::default()
        .apply(&loaded.df, &loaded.source)
        .unwrap()
        .matrix
        .x
}

fn bench(c: &mut Criterion) {
    let datasets = [("cardio", matrix("cardio")), ("thyroid", matrix("thyroid"))];
    let mut families: Vec<&str> = registry().iter().map(|d| d.family.name()).collect();
    families.dedup();
    families.sort();
    families.dedup();
    for family in families {
        let mut group = c.benchmark_group(format!("fit/{family}"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_millis(500));
        for info in registry().iter().filter(|d| d.family.name() == family) {
            let (detector, _) = detectors::build(info.name, &BTreeMap::new()).unwrap();
            for (name, x) in &datasets {
                group.bench_with_input(BenchmarkId::new(info.name, name), x, |b, x| {
                    b.iter(|| detector.fit(x.view(), &JobCtx::new(0)).unwrap())
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

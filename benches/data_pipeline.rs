//! Load + profile + prepare of a generated 1,000,000 × 20 numeric CSV (issue target: ≤ 1.5 s on
//! the 2-core reference machine, peak memory ≤ 3× the final matrix).
//!
//! Peak memory is measured with a counting allocator around one full pipeline run: it counts
//! heap bytes (the frame, the matrix, temporaries), not the memory-mapped input file, whose pages
//! belong to the page cache. The process's peak RSS is printed too, for comparison.
//!
//! Run: `cargo bench --bench data_pipeline`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use pynomaly::data::{self, LoadOptions, PrepareSpec, Source};

struct CountingAllocator;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size > layout.size() {
                let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const ROWS: usize = 1_000_000;
const COLS: usize = 20;

/// Deterministic CSV of roughly normal values with 6 decimals (xorshift64*, sum of uniforms).
fn generate_csv(path: &std::path::Path) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let header: Vec<String> = (0..COLS).map(|j| format!("f{j}")).collect();
    writeln!(w, "{}", header.join(",")).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut line = String::new();
    for _ in 0..ROWS {
        line.clear();
        for j in 0..COLS {
            let v = (uniform() + uniform() + uniform() - 1.5) * 2.0 + j as f64;
            if j > 0 {
                line.push(',');
            }
            line.push_str(&format!("{v:.6}"));
        }
        writeln!(w, "{line}").unwrap();
    }
    w.flush().unwrap();
}

fn pipeline(path: &std::path::Path) -> data::Matrix {
    let loaded = data::load(&Source::Path(path.to_path_buf()), &LoadOptions::default()).unwrap();
    let profile = data::profile(&loaded).unwrap();
    assert_eq!(profile.rows, ROWS);
    let prepared = PrepareSpec::default()
        .apply(&loaded.df, &loaded.source)
        .unwrap();
    prepared.matrix
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("generated_1m_x_20.csv");
    generate_csv(&path);
    let file_mib = std::fs::metadata(&path).unwrap().len() as f64 / (1 << 20) as f64;

    // One measured run for memory and a stage breakdown.
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let loaded = data::load(&Source::Path(path.clone()), &LoadOptions::default()).unwrap();
    let t_load = t.elapsed();
    let t = Instant::now();
    let _profile = data::profile(&loaded).unwrap();
    let t_profile = t.elapsed();
    let t = Instant::now();
    let matrix = PrepareSpec::default()
        .apply(&loaded.df, &loaded.source)
        .unwrap()
        .matrix;
    let t_prepare = t.elapsed();
    let matrix_bytes = matrix.x.len() * 8;
    drop(matrix);
    drop(loaded);
    let peak = PEAK.load(Ordering::Relaxed) - base;
    println!(
        "\ndata_pipeline: CSV {file_mib:.0} MiB, {ROWS} x {COLS}; load {:.3} s, profile {:.3} s, prepare {:.3} s",
        t_load.as_secs_f64(),
        t_profile.as_secs_f64(),
        t_prepare.as_secs_f64()
    );
    println!(
        "data_pipeline: peak heap {:.0} MiB = {:.2}x the final matrix ({:.0} MiB); peak RSS {} MiB (includes mapped file pages)",
        peak as f64 / (1 << 20) as f64,
        peak as f64 / matrix_bytes as f64,
        matrix_bytes as f64 / (1 << 20) as f64,
        peak_rss_kib().map(|k| k / 1024).unwrap_or(0)
    );

    let mut group = c.benchmark_group("data_pipeline");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("load_profile_prepare_1m_x_20", |b| {
        b.iter(|| pipeline(&path))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

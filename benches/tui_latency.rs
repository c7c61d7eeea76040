//! Workbench latency, measured on the release binary in a pseudo-terminal (Unix):
//! - first frame: from process start to the first drawn frame (target ≤ 100 ms, demo data);
//! - key latency: while a long fit keeps both cores busy, from a key press to the redrawn pane
//!   arriving on the terminal (target ≤ 16 ms).
//!
//! Run: `cargo bench --bench tui_latency`. Prints medians and maxima; no assertions.

#[cfg(unix)]
#[path = "../tests/common/pty.rs"]
mod pty;

#[cfg(unix)]
fn main() {
    use std::path::Path;
    use std::time::{Duration, Instant};

    // `cargo bench` passes harness flags such as --bench; `--list` must print nothing.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_pynomaly"));
    let stats = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };

    let mut first = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let mut p = pty::Pty::spawn(bin, &["tui", "demo:cardio", "--no-store"]);
        p.wait_for_after(0, "Experiments", Duration::from_secs(10))
            .expect("first frame");
        first.push(started.elapsed().as_secs_f64() * 1e3);
        p.send("q");
        p.wait_exit();
    }
    let (median, max) = stats(first);
    println!("first frame: median {median:.1} ms, max {max:.1} ms (15 starts, demo:cardio)");

    // A dataset big enough that knn keeps both cores busy for several seconds.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("big.csv");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&data).unwrap());
        writeln!(f, "a,b,c,d,e,f,g,h").unwrap();
        let mut x: u64 = 7;
        for _ in 0..400_000 {
            let mut row = Vec::new();
            for _ in 0..8 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                row.push(format!("{:.5}", (x >> 11) as f64 / (1u64 << 53) as f64));
            }
            writeln!(f, "{}", row.join(",")).unwrap();
        }
    }
    let mut p = pty::Pty::spawn(bin, &["tui", data.to_str().unwrap(), "--no-store"]);
    p.wait_for_after(0, "Matrix ready", Duration::from_secs(60))
        .expect("data prepared");
    p.send("2");
    // The list is grouped by family: ensemble (3), linear (3), probabilistic (5), then knn.
    for _ in 0..11 {
        p.send("j");
    }
    let offset = p.len();
    p.send("x"); // harmless when idle; keeps the offset logic simple
    p.wait_for_after(offset, "Nothing is running", Duration::from_secs(5))
        .expect("idle");
    assert!(p.text().contains("knn"), "knn selected");
    // Screen updates are diffs, so a status text may not arrive whole; give the fit a moment.
    p.send("r");
    std::thread::sleep(Duration::from_millis(500));
    let mut latencies = Vec::new();
    for i in 0..20 {
        let (key, needle) = if i % 2 == 0 {
            ("1", "Preparation")
        } else {
            ("2", "About")
        };
        let offset = p.len();
        let sent = Instant::now();
        p.send_now(key);
        match p.wait_for_after(offset, needle, Duration::from_secs(5)) {
            Some(t) => latencies.push((t - sent).as_secs_f64() * 1e3),
            None => panic!("no redraw after key {key}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let still_running = !p.text().contains("finished in");
    let (median, max) = stats(latencies);
    println!(
        "key latency during a fit: median {median:.1} ms, max {max:.1} ms (20 pane switches; fit still running at the end: {still_running})"
    );
    p.send("x");
    p.send("q");
    p.wait_exit();
}

#[cfg(not(unix))]
fn main() {}

//! Drawing speed of the workbench: one frame of each pane at 200×60 with a 50,000-row dataset
//! loaded and a finished run (target ≤ 2 ms per frame). Run: `cargo bench --bench tui`.
//! First-frame time and key latency during a long fit: `cargo bench --bench tui_latency`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use pynomaly::data::{load::load_from_memory, LoadOptions};
use pynomaly::tui::app::{App, Effect, Msg, Pane};
use pynomaly::tui::jobs::{self, JobEnv};
use pynomaly::tui::keymap::Keymap;
use pynomaly::tui::theme::{ColorDepth, ThemeCatalog};
use pynomaly::tui::ui;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// 50,000 rows, 12 numeric features and a label, deterministic.
fn csv(rows: usize) -> Vec<u8> {
    let mut out = String::from("f0,f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,label\n");
    let mut x: u64 = 12345;
    for i in 0..rows {
        for _ in 0..12 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            out.push_str(&format!("{:.4},", (x >> 11) as f64 / (1u64 << 53) as f64));
        }
        out.push_str(if i % 50 == 0 { "1\n" } else { "0\n" });
    }
    out.into_bytes()
}

fn settle(
    app: &mut App,
    env: &JobEnv,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Msg>,
    effects: Vec<Effect>,
) {
    let mut queue = effects;
    while !queue.is_empty() {
        for e in std::mem::take(&mut queue) {
            jobs::run(e, env);
        }
        while let Ok(m) = rx.try_recv() {
            queue.extend(app.on_msg(m));
        }
    }
}

fn bench(c: &mut Criterion) {
    let bytes = csv(50_000);
    let loaded =
        load_from_memory(&bytes, "bench.csv", Some("csv"), &LoadOptions::default()).unwrap();
    let (themes, _) = ThemeCatalog::load(None, ColorDepth::TrueColor);
    let mut app = App::new(Keymap::default(), themes, "dark", "bench".into());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let env = JobEnv { store: None, tx };
    let profile = pynomaly::data::profile(&loaded).ok();
    let ticket = app
        .shared
        .jobs
        .start(pynomaly::service::jobs::JobKind::Load);
    let effects = app.on_msg(Msg::Loaded {
        ticket,
        result: Ok((std::sync::Arc::new(loaded), 0.0)),
        profile,
    });
    settle(&mut app, &env, &mut rx, effects);
    app.pane = Pane::Detect;
    app.panes.detect.selected = app
        .panes
        .detect
        .entries
        .iter()
        .position(|d| d.name == "hbos")
        .unwrap();
    let effects = app.on_action(pynomaly::tui::keymap::Action::Run);
    settle(&mut app, &env, &mut rx, effects);
    assert_eq!(app.shared.results.len(), 1, "{}", app.shared.status.text);

    let mut group = c.benchmark_group("tui_frame_200x60_50k_rows");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for pane in Pane::ALL {
        app.pane = pane;
        let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
        group.bench_function(pane.title().to_lowercase(), |b| {
            b.iter(|| {
                // A changed buffer each time, as after a key press: clear forces a full redraw.
                terminal.clear().unwrap();
                terminal.draw(|f| ui::draw(f, &app)).unwrap();
            })
        });
    }
    // The scatter of all 50,000 projected rows is the heaviest chart.
    app.pane = Pane::Charts;
    app.panes.charts.lower = pynomaly::tui::panes::charts::LowerChart::Projection;
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    group.bench_function("charts_projection", |b| {
        b.iter(|| {
            terminal.clear().unwrap();
            terminal.draw(|f| ui::draw(f, &app)).unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

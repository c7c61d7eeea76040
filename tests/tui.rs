//! The workbench without a terminal: state transitions driven by keys and background messages,
//! and insta snapshots of every pane (80×24 and 120×40, two themes) drawn on ratatui's
//! TestBackend. Background work runs synchronously through `jobs::run`.

mod common;

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pynomaly::data::{Demo, Source};
use pynomaly::store::RunSummary;
use pynomaly::tui::app::{App, Effect, Level, Msg, Overlay, Pane};
use pynomaly::tui::jobs::{self, JobEnv};
use pynomaly::tui::keymap::Keymap;
use pynomaly::tui::overlays::confirm_delete::ConfirmDelete;
use pynomaly::tui::overlays::edit_value::{EditValue, Target};
use pynomaly::tui::overlays::open_file::OpenFile;
use pynomaly::tui::theme::{ColorDepth, ThemeCatalog};
use pynomaly::tui::ui;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

struct Harness {
    app: App,
    env: JobEnv,
    rx: UnboundedReceiver<Msg>,
}

impl Harness {
    fn new(theme: &str) -> Harness {
        let (themes, warnings) = ThemeCatalog::load(None, ColorDepth::TrueColor);
        assert!(warnings.is_empty(), "{warnings:?}");
        let app = App::new(Keymap::default(), themes, theme, "test store".into());
        let (tx, rx) = unbounded_channel();
        Harness {
            app,
            env: JobEnv { store: None, tx },
            rx,
        }
    }

    /// Runs effects and feeds their messages back until nothing is left to do.
    fn settle(&mut self, effects: Vec<Effect>) {
        let mut queue = effects;
        while !queue.is_empty() {
            for effect in std::mem::take(&mut queue) {
                jobs::run(effect, &self.env);
            }
            while let Ok(msg) = self.rx.try_recv() {
                queue.extend(self.app.on_msg(msg));
            }
        }
    }

    fn key(&mut self, code: KeyCode) {
        let effects = self.app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
        self.settle(effects);
    }

    fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    fn loaded(theme: &str, source: Source) -> Harness {
        let mut h = Harness::new(theme);
        let effects = h.app.start(source);
        h.settle(effects);
        h
    }

    fn draw(&self, width: u16, height: u16) -> ratatui::buffer::Buffer {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| ui::draw(f, &self.app)).unwrap();
        terminal.backend().buffer().clone()
    }

    fn text(&self, width: u16, height: u16) -> String {
        let buffer = self.draw(width, height);
        let mut out = String::new();
        for y in 0..height {
            for x in 0..width {
                out.push_str(buffer[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }
}

fn demo() -> Source {
    Source::Demo(Demo::DEFAULT)
}

#[test]
fn start_loads_the_demo_and_prepares_a_matrix() {
    let h = Harness::loaded("terminal", demo());
    let prepared = h.app.shared.dataset.prepared.as_ref().expect("prepared");
    assert_eq!(prepared.prepared.matrix.x.nrows(), 1831);
    assert_eq!(prepared.projection.len(), 1831);
    assert_eq!(
        h.app.shared.status.level,
        Level::Ok,
        "{}",
        h.app.shared.status.text
    );
    assert!(h.app.shared.dataset.profile.is_some());
}

#[test]
fn panes_quit_help_and_theme_keys() {
    let mut h = Harness::new("terminal");
    h.key(KeyCode::Char('2'));
    assert_eq!(h.app.pane, Pane::Detect);
    h.key(KeyCode::Tab);
    assert_eq!(h.app.pane, Pane::Charts);
    h.key(KeyCode::BackTab);
    assert_eq!(h.app.pane, Pane::Detect);
    h.key(KeyCode::Char('?'));
    assert!(matches!(h.app.overlay, Some(Overlay::Help(_))));
    // While the help is open, q closes it rather than quitting.
    h.key(KeyCode::Esc);
    assert!(h.app.overlay.is_none());
    let effects = h
        .app
        .on_key(KeyEvent::new(KeyCode::Char('t'), KeyModifiers::NONE));
    assert_eq!(h.app.shared.theme_name, "dark");
    assert!(matches!(&effects[..], [Effect::RememberTheme(n)] if n == "dark"));
    h.key(KeyCode::Char('q'));
    assert!(h.app.should_quit);
}

#[test]
fn parameter_form_validates_with_the_cli_messages() {
    let mut h = Harness::loaded("terminal", demo());
    h.key(KeyCode::Char('2'));
    // Select knn in the list.
    let knn = h
        .app
        .panes
        .detect
        .entries
        .iter()
        .position(|d| d.name == "knn")
        .unwrap();
    h.app.panes.detect.selected = knn;
    h.key(KeyCode::Char('f'));
    h.key(KeyCode::Enter);
    assert!(matches!(
        h.app.overlay,
        Some(Overlay::EditValue(EditValue {
            target: Target::Param { .. },
            ..
        }))
    ));
    for _ in 0..5 {
        h.key(KeyCode::Backspace);
    }
    h.keys("-3");
    h.key(KeyCode::Enter);
    let error = h
        .app
        .panes
        .detect
        .error
        .clone()
        .expect("invalid value reported");
    let info = pynomaly::detectors::registry::find("knn").unwrap();
    let cli_error = info
        .parse_assignments(&["n_neighbors=-3".to_string()])
        .and_then(|g| info.resolve(&g))
        .unwrap_err()
        .to_string();
    assert_eq!(error, cli_error);
    assert_eq!(h.app.shared.status.level, Level::Error);
    // Running with an invalid form does nothing but say why.
    h.key(KeyCode::Char('r'));
    assert!(h.app.shared.job.is_none() && h.app.shared.results.is_empty());
    h.key(KeyCode::Backspace);
    assert!(h.app.panes.detect.error.is_none());
}

#[test]
fn run_queue_threshold_and_cancel() {
    let mut h = Harness::loaded("terminal", demo());
    h.key(KeyCode::Char('2'));
    let iforest = h
        .app
        .panes
        .detect
        .entries
        .iter()
        .position(|d| d.name == "iforest")
        .unwrap();
    h.app.panes.detect.selected = iforest;
    // `r` starts a fit; hold the effect to see the running state before it finishes.
    let effects = h
        .app
        .on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE));
    assert!(h.app.shared.job.is_some());
    let hbos = h
        .app
        .panes
        .detect
        .entries
        .iter()
        .position(|d| d.name == "hbos")
        .unwrap();
    h.app.panes.detect.selected = hbos;
    h.key(KeyCode::Char('a'));
    assert_eq!(h.app.shared.queue.len(), 1, "queued behind the running fit");
    h.settle(effects);
    assert_eq!(
        h.app.shared.results.len(),
        2,
        "{}",
        h.app.shared.status.text
    );
    assert!(h.app.shared.job.is_none() && h.app.shared.queue.is_empty());
    let r = &h.app.shared.results[0];
    assert_eq!(r.detector, "iforest");
    assert_eq!(r.flagged, 183);
    assert!((r.roc_auc.unwrap() - 0.9254).abs() < 1e-3);

    // A step is a tenth of the rows flagged (fine at the top, quick in the bulk), and the
    // flagged count follows at once.
    h.key(KeyCode::Char('3'));
    h.app.panes.charts.selected = 0;
    h.key(KeyCode::Char('-'));
    assert_eq!(h.app.shared.results[0].flagged, 183 + 18);
    h.key(KeyCode::Char('+'));
    assert_eq!(h.app.shared.results[0].flagged, 201 - 20);
    h.key(KeyCode::Char('+'));
    assert_eq!(h.app.shared.results[0].flagged, 181 - 18);
    let r = &h.app.shared.results[0];
    assert_eq!(
        r.scores.iter().filter(|&&s| s >= r.threshold()).count(),
        r.flagged
    );
    // With a label, the status gives precision, recall and F1 at the cut.
    let status = &h.app.shared.status.text;
    assert!(
        status.contains("moved") && status.contains("precision") && status.contains("F1"),
        "{status}"
    );
    // M chooses a method: otsu, as `detect --threshold otsu` computes it.
    h.key(KeyCode::Char('M'));
    for _ in 0..30 {
        h.key(KeyCode::Backspace);
    }
    h.keys("otsu");
    h.key(KeyCode::Enter);
    let r = &h.app.shared.results[0];
    let want =
        pynomaly::threshold::apply(&r.scores, pynomaly::threshold::ThresholdMethod::Otsu).unwrap();
    assert_eq!((r.flagged, r.threshold()), (want.n_flagged, want.value));
    assert!(
        h.app.shared.status.text.starts_with("Threshold otsu"),
        "{}",
        h.app.shared.status.text
    );
    // A typed contamination, and a bad method stays in the dialog with the parser's message.
    // Typing replaces the proposed text (no Backspace needed).
    h.key(KeyCode::Char('M'));
    h.keys("0.05");
    h.key(KeyCode::Enter);
    assert_eq!(
        h.app.shared.results[0].threshold_method(),
        "contamination=0.05"
    );
    h.key(KeyCode::Char('M'));
    h.keys("x");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.shared.status.level, Level::Error);
    assert!(matches!(h.app.overlay, Some(Overlay::EditValue(_))));
    h.key(KeyCode::Esc);

    // Cancelling sets the job's flag and drops the queue.
    h.key(KeyCode::Char('2'));
    let _effects = h
        .app
        .on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE));
    h.key(KeyCode::Char('a'));
    let flag = h.app.shared.job.as_ref().unwrap().ticket.cancel.clone();
    h.key(KeyCode::Char('x'));
    assert!(flag.is_cancelled());
    assert!(h.app.shared.queue.is_empty());
}

#[test]
fn data_pane_choices_refit_the_preparation() {
    let mut h = Harness::loaded("terminal", demo());
    h.key(KeyCode::Char('s'));
    let spec = &h
        .app
        .shared
        .dataset
        .prepared
        .as_ref()
        .unwrap()
        .prepared
        .spec;
    assert_eq!(spec.scaling, pynomaly::data::prepare::Scaling::Standard);
    // Exclude the first column: one feature fewer.
    h.key(KeyCode::Char(' '));
    assert_eq!(
        h.app
            .shared
            .dataset
            .prepared
            .as_ref()
            .unwrap()
            .prepared
            .matrix
            .x
            .ncols(),
        20
    );
    // The label column toggled off: no label.
    h.app.panes.data.selected_column = 21;
    h.key(KeyCode::Char('L'));
    assert!(h
        .app
        .shared
        .dataset
        .prepared
        .as_ref()
        .unwrap()
        .prepared
        .report
        .label_column
        .is_none());
    // …and the former label is not silently a feature: it is left out, and the status says so.
    let prepared = &h.app.shared.dataset.prepared.as_ref().unwrap().prepared;
    assert!(!prepared.matrix.feature_names.contains(&"label".to_string()));
    let status = &h.app.shared.status.text;
    assert!(
        status.contains("label is left out of the features"),
        "{status}"
    );
    // L again makes it the label (and no longer excluded).
    h.key(KeyCode::Char('L'));
    let prepared = &h.app.shared.dataset.prepared.as_ref().unwrap().prepared;
    assert_eq!(prepared.report.label_column.as_deref(), Some("label"));
}

#[test]
fn an_older_preparation_finishing_last_does_not_overwrite_a_newer_one() {
    use pynomaly::data::prepare::Scaling;
    let mut h = Harness::loaded("terminal", demo());
    // Two scaling changes in a row: two preparations in flight, the first one stale.
    let first = h
        .app
        .on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE));
    let second = h
        .app
        .on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE));
    let wanted = h.app.shared.dataset.spec.scaling;
    assert_ne!(wanted, Scaling::Standard);
    // The newer one finishes first, the older one last.
    h.settle(second);
    assert_eq!(
        h.app
            .shared
            .dataset
            .prepared
            .as_ref()
            .unwrap()
            .prepared
            .spec
            .scaling,
        wanted
    );
    h.settle(first);
    assert_eq!(
        h.app
            .shared
            .dataset
            .prepared
            .as_ref()
            .unwrap()
            .prepared
            .spec
            .scaling,
        wanted,
        "the stale result was dropped"
    );
}

#[test]
fn a_bad_file_is_reported_and_the_app_stays_up() {
    let mut h = Harness::loaded("terminal", demo());
    h.key(KeyCode::Char('o'));
    h.keys("/nonexistent/data.csv");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.shared.status.level, Level::Error);
    assert!(
        h.app.shared.status.text.contains("/nonexistent/data.csv"),
        "{}",
        h.app.shared.status.text
    );
    assert!(!h.app.should_quit);
    // The previous data is still there.
    assert!(h.app.shared.dataset.prepared.is_some());
}

#[test]
fn a_long_error_is_shown_to_its_end() {
    let mut h = Harness::loaded("terminal", demo());
    let deep = format!("/{}/data.parquet", ["a-rather-deep-folder"; 6].join("/"));
    h.key(KeyCode::Char('o'));
    h.keys(&deep);
    h.key(KeyCode::Enter);
    assert_eq!(h.app.shared.status.level, Level::Error);
    let screen = h.text(80, 24);
    let bottom: String = screen.lines().skip(20).collect::<Vec<_>>().join("");
    let bottom: String = bottom.split_whitespace().collect();
    // The reason comes after the path; it must be on screen, not cut at the window's edge.
    let reason = h
        .app
        .shared
        .status
        .text
        .rsplit(": ")
        .next()
        .unwrap()
        .to_string();
    let reason: String = reason.split_whitespace().collect();
    assert!(
        bottom.contains(&reason),
        "{reason:?} not in the last lines:\n{screen}"
    );
    // A short message takes one line again.
    h.app.set_status(Level::Ok, "ready");
    let screen = h.text(80, 24);
    assert!(
        screen.lines().nth(23).unwrap().contains("ready"),
        "{screen}"
    );
}

fn fake_runs() -> Vec<RunSummary> {
    (1..=3)
        .map(|i| RunSummary {
            id: i,
            kind: "detect".into(),
            detector: ["knn", "iforest", "hbos"][i as usize - 1].into(),
            dataset: Some(format!("/data/set{i}.csv")),
            n_rows: Some(100 * i),
            n_features: Some(5),
            status: if i == 2 {
                "failed".into()
            } else {
                "done".into()
            },
            started: format!("2026-11-2{i} 10:00:00"),
            duration_s: Some(0.5),
            n_anomalies: Some(10),
            roc_auc: if i == 2 {
                None
            } else {
                Some(0.5 + 0.1 * i as f64)
            },
            average_precision: None,
        })
        .collect()
}

#[test]
fn experiments_filter_sort_mark_and_confirm_delete() {
    let mut h = Harness::new("terminal");
    let ticket = h
        .app
        .shared
        .jobs
        .start(pynomaly::service::jobs::JobKind::RunList);
    h.app.on_msg(Msg::Runs {
        ticket,
        result: Ok(fake_runs()),
    });
    h.app.pane = Pane::Experiments;
    h.key(KeyCode::Char('/'));
    h.keys("knn");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.panes.experiments.visible().len(), 1);
    h.key(KeyCode::Char('/'));
    for _ in 0..3 {
        h.key(KeyCode::Backspace);
    }
    h.key(KeyCode::Enter);
    assert_eq!(h.app.panes.experiments.visible().len(), 3);
    h.key(KeyCode::Char('s'));
    let ids: Vec<i64> = h
        .app
        .panes
        .experiments
        .visible()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![3, 1, 2], "sorted by ROC-AUC");
    // Delete asks; any key but y keeps the run.
    let effects = h
        .app
        .on_key(KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE));
    assert!(effects.is_empty());
    assert!(
        matches!(&h.app.overlay, Some(Overlay::ConfirmDelete(ConfirmDelete { ids })) if ids == &vec![3])
    );
    let effects = h
        .app
        .on_key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE));
    assert!(effects.is_empty() && h.app.overlay.is_none());
    h.app
        .on_key(KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE));
    let effects = h
        .app
        .on_key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE));
    assert!(matches!(&effects[..], [Effect::DeleteRuns(ids)] if ids == &vec![3]));
    // Two marked runs: Enter compares them.
    h.key(KeyCode::Char(' '));
    h.key(KeyCode::Char('j'));
    h.key(KeyCode::Char(' '));
    let effects = h
        .app
        .on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(matches!(&effects[..], [Effect::CompareRuns { ids, .. }] if ids.len() == 2));
}

#[test]
fn untrusted_text_never_reaches_the_screen() {
    let csv = "a\x1b[31m,b\u{202e}x\n1,2\n3,\x1b]0;pwned\x07\n5,6\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil\x1b[2J.csv");
    std::fs::write(&path, csv).unwrap();
    let h = Harness::loaded("terminal", Source::Path(path));
    let text = h.text(120, 40);
    assert!(
        h.app.shared.dataset.loaded.is_some(),
        "{}",
        h.app.shared.status.text
    );
    for bad in ['\x1b', '\x07', '\u{202e}'] {
        assert!(!text.contains(bad), "{bad:?} reached the screen");
    }
}

#[test]
fn a_stored_run_with_hostile_names_is_charted_sanitised() {
    let mut h = chart_ready("terminal");
    // As a stored run read back: the detector name and source come from the store file.
    // (ratatui also drops control and zero-width characters when it draws; the pane sanitises
    // as every view does, so the guarantee does not rest on the widget library.)
    let mut r = h.app.shared.results[0].clone();
    r.detector = "knn\u{202e}\x1b]52;c;aGk=\x07\x1b[31m".into();
    r.source = "data\x1b[2J.csv".into();
    h.app.shared.results = vec![r];
    h.app.panes.charts.selected = 0;
    h.key(KeyCode::Char('3'));
    for lower in 0..4 {
        let text = h.text(120, 40);
        for bad in ['\x1b', '\x07', '\u{202e}'] {
            assert!(
                !text.contains(bad),
                "{bad:?} reached the screen (chart {lower})"
            );
        }
        h.key(KeyCode::Char('c'));
    }
}

#[test]
fn a_small_terminal_gets_a_clear_message() {
    let h = Harness::new("terminal");
    let text = h.text(60, 20);
    assert!(text.contains("needs at least 80×24"), "{text}");
}

/// The buffer's text and, per row, its styles: a change of colours shows in the snapshot.
fn snapshot_of(h: &Harness, width: u16, height: u16) -> String {
    format!("{:?}", h.draw(width, height))
}

fn chart_ready(theme: &str) -> Harness {
    let mut h = Harness::loaded(theme, demo());
    h.key(KeyCode::Char('2'));
    let iforest = h
        .app
        .panes
        .detect
        .entries
        .iter()
        .position(|d| d.name == "iforest")
        .unwrap();
    h.app.panes.detect.selected = iforest;
    h.key(KeyCode::Char('r'));
    // A small AutoML search for the AutoML pane (its best run joins the charts' results, so
    // the charts are switched back to the iforest run).
    h.key(KeyCode::Char('5'));
    h.app.panes.automl.family = Some(pynomaly::detectors::Family::Linear);
    h.app.panes.automl.trials = 10;
    h.key(KeyCode::Char('r'));
    h.app.panes.charts.selected = 0;
    // Timing and finishing order vary between machines; the snapshots must not.
    for t in &mut h.app.panes.automl.trials_done {
        t.time_s = 0.0;
    }
    h.app.panes.automl.trials_done.sort_by_key(|t| t.number);
    let ticket = h
        .app
        .shared
        .jobs
        .start(pynomaly::service::jobs::JobKind::RunList);
    h.app.on_msg(Msg::Runs {
        ticket,
        result: Ok(fake_runs()),
    });
    h.app.set_status(Level::Ok, "ready");
    h
}

#[test]
fn pane_snapshots() {
    for theme in ["terminal", "dark"] {
        let mut h = chart_ready(theme);
        for pane in Pane::ALL {
            h.app.pane = pane;
            for (w, ht) in [(80, 24), (120, 40)] {
                let name = format!("{}_{theme}_{w}x{ht}", pane.title().to_lowercase());
                insta::assert_snapshot!(name, snapshot_of(&h, w, ht));
            }
        }
        h.app.pane = Pane::Charts;
        h.key(KeyCode::Char('c'));
        h.key(KeyCode::Char('c'));
        insta::assert_snapshot!(
            format!("charts_projection_{theme}_120x40"),
            snapshot_of(&h, 120, 40)
        );
        h.key(KeyCode::Char('?'));
        insta::assert_snapshot!(format!("help_{theme}_120x40"), snapshot_of(&h, 120, 40));
    }
    let _ = Arc::new(());
}

#[test]
fn runs_are_recorded_and_an_opened_run_comes_back_into_the_charts() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new("terminal");
    h.env.store = Some(dir.path().join("store.sqlite"));
    let effects = h.app.start(demo());
    h.settle(effects);
    h.key(KeyCode::Char('2'));
    h.app.panes.detect.selected = h
        .app
        .panes
        .detect
        .entries
        .iter()
        .position(|d| d.name == "iforest")
        .unwrap();
    // A seed typed in the seed dialog reaches the run.
    h.key(KeyCode::Char('S'));
    h.key(KeyCode::Backspace);
    h.keys("7");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.shared.seed, 7);
    h.key(KeyCode::Char('r'));
    let run_id = h.app.shared.results[0]
        .run_id
        .expect("recorded in the store");
    assert_eq!(
        h.app.panes.experiments.runs.len(),
        1,
        "the list refreshes after a run"
    );
    let store = pynomaly::store::Store::open(&dir.path().join("store.sqlite")).unwrap();
    assert_eq!(store.run(run_id).unwrap().seed, 7);

    // Open it from the Experiments pane: details overlay, and its scores in the charts.
    h.app.shared.results.clear();
    h.key(KeyCode::Char('4'));
    h.key(KeyCode::Enter);
    assert!(matches!(h.app.overlay, Some(Overlay::RunDetail(_))));
    let r = &h.app.shared.results[0];
    assert_eq!(r.run_id, Some(run_id));
    assert_eq!(r.flagged, 183);
    assert!(
        r.labels.is_some() && r.scatter.is_some(),
        "same table: labels and projection"
    );
    h.key(KeyCode::Esc);
    // Re-run: the same detector and parameters on the loaded data, a new run id.
    h.key(KeyCode::Char('r'));
    let rerun = h.app.shared.results.last().unwrap();
    assert_ne!(rerun.run_id, Some(run_id));
    assert_eq!(
        rerun.scores, h.app.shared.results[0].scores,
        "same seed, same scores"
    );

    // With other data loaded, a re-run says it is not on the run's own data.
    let effects = h.app.start(Source::Path(common::shared_dataset("glass")));
    h.settle(effects);
    h.key(KeyCode::Char('4'));
    // The fit runs to its end: its "finished" message keeps the warning.
    h.key(KeyCode::Char('r'));
    assert_eq!(h.app.shared.status.level, Level::Warn);
    assert!(h.app.shared.status.text.contains("finished"));
    assert!(
        h.app
            .shared
            .status
            .text
            .contains("not on its own data (demo:cardio)"),
        "{}",
        h.app.shared.status.text
    );
}

#[test]
fn the_open_dialog_browses_folders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/small.csv"), "a,b\n1,2\n3,4\n5,7\n").unwrap();
    let mut h = Harness::loaded("terminal", demo());
    h.key(KeyCode::Char('o'));
    h.keys(&format!("{}/", dir.path().display()));
    let Some(Overlay::OpenFile(OpenFile { completions, .. })) = &h.app.overlay else {
        panic!("open dialog")
    };
    assert_eq!(completions, &vec!["../".to_string(), "sub/".to_string()]);
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    let Some(Overlay::OpenFile(OpenFile {
        input, completions, ..
    })) = &h.app.overlay
    else {
        panic!("still browsing")
    };
    assert!(input.value().ends_with("/sub/"), "{}", input.value());
    assert_eq!(
        completions,
        &vec!["../".to_string(), "small.csv".to_string()]
    );
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    assert!(h.app.overlay.is_none());
    let loaded = h.app.shared.dataset.loaded.as_ref().unwrap();
    assert!(
        loaded.source.ends_with("sub/small.csv"),
        "{}",
        loaded.source
    );
    assert_eq!(loaded.df.height(), 3);
}

#[test]
fn automl_pane_configures_searches_records_and_opens_the_best_in_the_charts() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store.sqlite");
    let mut h = Harness::new("terminal");
    h.env.store = Some(store_path.clone());
    let effects = h.app.start(demo());
    h.settle(effects);
    h.key(KeyCode::Char('5'));
    assert_eq!(h.app.pane, Pane::Automl);
    assert!(h.app.panes.automl.trials_done.is_empty());
    // o before any search: a hint, no crash.
    h.key(KeyCode::Char('o'));
    assert_eq!(h.app.pane, Pane::Automl);

    // Detectors: one family; strategy: tpe; trials: 20 (one step down from 50).
    h.key(KeyCode::Right);
    assert!(h.app.panes.automl.family.is_some());
    let family = h.app.panes.automl.family.unwrap();
    for _ in 0..3 {
        h.key(KeyCode::Char('j'));
    }
    h.key(KeyCode::Right);
    h.key(KeyCode::Right);
    assert_eq!(h.app.panes.automl.strategy, pynomaly::automl::Strategy::Tpe);
    h.key(KeyCode::Down);
    h.key(KeyCode::Left);
    assert_eq!(h.app.panes.automl.trials, 20);
    // The demo has a label: the automatic metric is ROC-AUC.
    assert_eq!(
        h.app.panes.automl.resolved_metric(&h.app.shared),
        pynomaly::automl::Metric::Auc
    );

    h.key(KeyCode::Char('r'));
    assert!(h.app.shared.job.is_none(), "the search finished");
    assert_eq!(
        h.app.shared.status.level,
        Level::Ok,
        "{}",
        h.app.shared.status.text
    );
    let a = &h.app.panes.automl;
    assert!(!a.trials_done.is_empty() && a.trials_done.len() <= 20);
    let searched: Vec<&str> = pynomaly::detectors::registry()
        .iter()
        .filter(|d| d.family == family)
        .map(|d| d.name)
        .collect();
    assert!(a
        .trials_done
        .iter()
        .all(|t| searched.contains(&t.detector.as_str())));
    // The leaderboard's first row is the best; best-so-far never decreases.
    let ranked = a.ranked();
    let best = ranked[0].objective.unwrap();
    assert!(a
        .trials_done
        .iter()
        .all(|t| t.objective.is_none_or(|o| o <= best)));
    // Best-so-far never decreases (one strategy without subsample rungs here).
    assert!(a.best_so_far().windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(*a.best_so_far().last().unwrap(), best);
    let text = h.text(120, 40);
    assert!(text.contains("Leaderboard"), "{text}");
    assert!(text.contains(&ranked[0].detector), "{text}");

    // Recorded: one automl run with every trial, its best model and scores.
    let i = h.app.panes.automl.best_result.expect("best charted");
    let run_id = h.app.shared.results[i].run_id.expect("recorded");
    let store = pynomaly::store::Store::open(&store_path).unwrap();
    let detail = store.run(run_id).unwrap();
    assert_eq!(detail.summary.kind, "automl");
    assert_eq!(detail.summary.status, "done");
    assert_eq!(detail.summary.detector, ranked[0].detector);
    assert_eq!(
        store.trials(run_id).unwrap().len(),
        h.app.panes.automl.trials_done.len()
    );
    assert!(store.scores(run_id).unwrap().is_some());

    // o opens the best run in the charts pane.
    h.key(KeyCode::Char('o'));
    assert_eq!(h.app.pane, Pane::Charts);
    assert_eq!(h.app.panes.charts.selected, i);
}

#[test]
fn a_cancelled_automl_search_says_so_and_the_app_stays_up() {
    let mut h = Harness::loaded("terminal", demo());
    h.key(KeyCode::Char('5'));
    let effects = h
        .app
        .on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE));
    assert!(matches!(&effects[..], [Effect::Automl(_)]));
    assert!(h.app.shared.job.is_some());
    // Cancelled before the first trial starts.
    h.key(KeyCode::Char('x'));
    h.settle(effects);
    assert!(h.app.shared.job.is_none());
    // A cancel is the user's choice, not an error.
    assert_eq!(h.app.shared.status.level, Level::Warn);
    assert!(
        h.app.shared.status.text.contains("cancelled"),
        "{}",
        h.app.shared.status.text
    );
    // A new search works afterwards.
    h.app.panes.automl.trials = 10;
    h.key(KeyCode::Char('r'));
    assert_eq!(
        h.app.shared.status.level,
        Level::Ok,
        "{}",
        h.app.shared.status.text
    );
}

/// Runs the real binary with a store; panics with its stderr unless it succeeds.
fn cli(store: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pynomaly"))
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The parts of a stored run that must not depend on which face asked for it.
fn comparable(detail: &pynomaly::store::RunDetail) -> serde_json::Value {
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    serde_json::json!({
        "kind": detail.summary.kind,
        "detector": detail.summary.detector,
        "dataset": detail.summary.dataset,
        "status": detail.summary.status,
        "rows": detail.summary.n_rows,
        "features": detail.summary.n_features,
        "flagged": detail.summary.n_anomalies,
        "params": detail.params,
        "prepare_spec": detail.prepare_spec,
        "seed": detail.seed,
        "label": detail.label_column,
        "threshold_method": detail.threshold_method,
        "threshold_value": detail.threshold_value,
        "metrics": detail.metrics,
        "timing_keys": keys(&detail.timing),
        "has_model": detail.has_model,
        "trials": detail.n_trials,
    })
}

#[test]
fn a_detect_run_from_the_workbench_is_stored_like_the_same_run_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store.sqlite");
    cli(
        &store_path,
        &["detect", "demo:cardio", "-d", "iforest", "--seed", "7"],
    );
    let mut h = Harness::new("terminal");
    h.env.store = Some(store_path.clone());
    let effects = h.app.start(demo());
    h.settle(effects);
    h.key(KeyCode::Char('2'));
    h.app.panes.detect.selected = h
        .app
        .panes
        .detect
        .entries
        .iter()
        .position(|d| d.name == "iforest")
        .unwrap();
    h.app.shared.seed = 7;
    h.key(KeyCode::Char('r'));
    let tui_id = h.app.shared.results[0].run_id.expect("recorded");
    let store = pynomaly::store::Store::open(&store_path).unwrap();
    let from_cli = store.run(1).unwrap();
    let from_tui = store.run(tui_id).unwrap();
    assert_ne!(tui_id, 1);
    assert_eq!(comparable(&from_cli), comparable(&from_tui));
    assert_eq!(
        store.scores(1).unwrap(),
        store.scores(tui_id).unwrap(),
        "same seed, same scores"
    );
    // The Charts pane shows the threshold that was stored.
    assert_eq!(
        h.app.shared.results[0].threshold(),
        from_tui.threshold_value.unwrap()
    );
}

#[test]
fn an_automl_run_from_the_workbench_is_stored_like_the_same_run_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store.sqlite");
    cli(
        &store_path,
        &[
            "automl",
            "demo:cardio",
            "--detectors",
            "linear",
            "--trials",
            "6",
            "--seed",
            "3",
        ],
    );
    let mut h = Harness::new("terminal");
    h.env.store = Some(store_path.clone());
    let effects = h.app.start(demo());
    h.settle(effects);
    h.key(KeyCode::Char('5'));
    h.app.panes.automl.family = Some(pynomaly::detectors::Family::Linear);
    h.app.panes.automl.trials = 6;
    h.app.shared.seed = 3;
    h.key(KeyCode::Char('r'));
    assert_eq!(
        h.app.shared.status.level,
        Level::Ok,
        "{}",
        h.app.shared.status.text
    );
    let i = h.app.panes.automl.best_result.expect("best charted");
    let tui_id = h.app.shared.results[i].run_id.expect("recorded");
    let store = pynomaly::store::Store::open(&store_path).unwrap();
    let from_cli = store.run(1).unwrap();
    let from_tui = store.run(tui_id).unwrap();
    assert_eq!(comparable(&from_cli), comparable(&from_tui));
    assert_eq!(
        from_tui
            .timing
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["fit_s", "load_s", "score_s", "search_s"]
    );
    assert!(from_tui.timing["fit_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_panic_in_a_job_leaves_the_app_usable_and_the_run_failed() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store.sqlite");
    let mut h = Harness::new("terminal");
    h.env.store = Some(store_path.clone());
    let effects = h.app.start(demo());
    h.settle(effects);
    h.key(KeyCode::Char('2'));
    // Debug builds only: this seed makes the detection panic after its run is stored.
    h.app.shared.seed = pynomaly::service::detect::PANIC_SEED;
    h.key(KeyCode::Char('r'));
    assert!(h.app.shared.job.is_none(), "the job ended");
    assert_eq!(h.app.shared.status.level, Level::Error);
    assert!(
        h.app.shared.status.text.contains("internal error"),
        "{}",
        h.app.shared.status.text
    );
    let store = pynomaly::store::Store::open(&store_path).unwrap();
    let run = store.run(1).unwrap();
    assert_eq!(run.summary.status, "failed");
    assert!(run.error.unwrap().contains("panic"));
    // Still usable: the next run works.
    h.app.shared.seed = 0;
    h.key(KeyCode::Char('r'));
    assert_eq!(
        h.app.shared.status.level,
        Level::Ok,
        "{}",
        h.app.shared.status.text
    );
    assert_eq!(store.run(2).unwrap().summary.status, "done");
}

/// Enter on a top anomaly opens its row detail with the explanation; n/p walk by score; the
/// explanation is the one the CLI gives for the same row.
#[test]
fn enter_on_a_top_anomaly_explains_it_and_n_p_walk() {
    let mut h = Harness::loaded("terminal", demo());
    h.key(KeyCode::Char('2'));
    let knn = h
        .app
        .panes
        .detect
        .entries
        .iter()
        .position(|d| d.name == "knn")
        .unwrap();
    h.app.panes.detect.selected = knn;
    h.key(KeyCode::Char('r'));
    h.key(KeyCode::Char('3'));
    h.key(KeyCode::Enter);
    let r = &h.app.shared.results[0];
    let top = r.row_ids[r.order[0]];
    let second = r.row_ids[r.order[1]];
    let detail = match &h.app.overlay {
        Some(Overlay::RowDetail(d)) => d.clone(),
        other => panic!("no row detail: {other:?}"),
    };
    assert_eq!((detail.rank, detail.row_id), (0, top));
    let explained = detail.explained.expect("explained");
    assert_eq!(explained.method, "knn-distance");
    assert_eq!(explained.row_id, top);
    assert!(!explained.neighbours.is_empty());
    let screen = h.text(120, 40);
    assert!(screen.contains(&format!("Row {top} · #1")), "{screen}");
    assert!(screen.contains("contribution"), "{screen}");
    // The strongest column is drawn with its bar.
    assert!(screen.contains(&explained.columns[0].column), "{screen}");
    assert!(screen.contains('█'), "{screen}");
    // The status names the fit's time, which varies.
    h.app.set_status(Level::Ok, "ready");
    insta::assert_snapshot!("row_detail_terminal_120x40", snapshot_of(&h, 120, 40));
    insta::assert_snapshot!("row_detail_dark_80x24", {
        h.app.shared.theme_name = "dark".into();
        let s = snapshot_of(&h, 80, 24);
        h.app.shared.theme_name = "terminal".into();
        s
    });

    h.key(KeyCode::Char('n'));
    match &h.app.overlay {
        Some(Overlay::RowDetail(d)) => {
            assert_eq!((d.rank, d.row_id), (1, second));
            assert_eq!(d.explained.as_ref().unwrap().row_id, second);
        }
        other => panic!("row detail closed: {other:?}"),
    }
    h.key(KeyCode::Char('p'));
    match &h.app.overlay {
        Some(Overlay::RowDetail(d)) => assert_eq!(d.row_id, top),
        other => panic!("row detail closed: {other:?}"),
    }
    h.key(KeyCode::Esc);
    assert!(h.app.overlay.is_none());

    // The CLI explains the same row of the same run the same way.
    let out = std::process::Command::new(common::bin())
        .args([
            "detect",
            "demo:cardio",
            "-d",
            "knn",
            "--explain",
            "1",
            "--json",
            "--no-store",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        serde_json::to_value(&*explained).unwrap(),
        report["explanations"][0]
    );
}

#[test]
fn the_top_rows_selection_starts_at_the_top_for_every_result() {
    let mut h = chart_ready("terminal");
    h.app.pane = Pane::Charts;
    for _ in 0..5 {
        h.key(KeyCode::Char('j'));
    }
    assert_eq!(h.app.panes.charts.top_selected, 5);
    h.key(KeyCode::Char(']'));
    assert_eq!(
        h.app.panes.charts.top_selected, 0,
        "the next result starts at #1"
    );
}

#[test]
fn a_result_of_other_data_is_not_explained_from_the_loaded_data() {
    let mut h = chart_ready("terminal");
    h.app.pane = Pane::Charts;
    // The result's rows are not the loaded matrix's any more.
    h.app.shared.results[0].row_ids.push(999_999);
    h.key(KeyCode::Enter);
    assert!(h.app.overlay.is_none());
    assert_eq!(h.app.shared.status.level, Level::Error);
    assert!(
        h.app.shared.status.text.contains("other data"),
        "{}",
        h.app.shared.status.text
    );
}

/// A start-up warning (here: an unknown theme) is still on screen once the data is ready, not
/// overwritten by the first load's messages.
#[test]
fn a_start_up_warning_outlives_the_first_load() {
    let mut h = Harness::new("terminal");
    h.app.shared.startup_warnings = vec!["unknown theme \"bogus\"; using terminal".into()];
    let effects = h.app.start(demo());
    h.settle(effects);
    assert_eq!(h.app.shared.status.level, Level::Warn);
    let text = &h.app.shared.status.text;
    assert!(
        text.contains("unknown theme") && text.contains("Matrix ready"),
        "{text}"
    );
    // Once.
    h.key(KeyCode::Char('s'));
    assert!(!h.app.shared.status.text.contains("unknown theme"));
}

/// `e` exports the flagged rows with every original column, `E` every row, `m` a Markdown
/// report of the top rows explained; the flags are those at the threshold shown.
#[test]
fn charts_export_flagged_rows_all_rows_and_a_report() {
    let mut h = chart_ready("terminal");
    h.app.pane = Pane::Charts;
    let dir = tempfile::tempdir().unwrap();
    let write = |h: &mut Harness, key: char, name: &str| -> std::path::PathBuf {
        h.key(KeyCode::Char(key));
        assert!(
            matches!(h.app.overlay, Some(Overlay::EditValue(_))),
            "{key}: no file dialog"
        );
        for _ in 0..60 {
            h.key(KeyCode::Backspace);
        }
        let path = dir.path().join(name);
        h.keys(path.to_str().unwrap());
        h.key(KeyCode::Enter);
        assert_eq!(
            h.app.shared.status.level,
            Level::Ok,
            "{}",
            h.app.shared.status.text
        );
        path
    };
    // One step down from the stored threshold: the export follows what the chart shows.
    h.key(KeyCode::Char('-'));
    let flagged = h.app.shared.results[0].flagged;
    let path = write(&mut h, 'e', "flagged.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("row_id,f0,f1,"), "{header}");
    assert!(header.ends_with(",label,score,is_anomaly"), "{header}");
    assert_eq!(text.lines().count() - 1, flagged);
    assert!(text.lines().skip(1).all(|l| l.ends_with(",1")));

    let path = write(&mut h, 'E', "all.parquet");
    assert!(std::fs::metadata(&path).unwrap().len() > 0);

    let path = write(&mut h, 'm', "report.md");
    let md = std::fs::read_to_string(&path).unwrap();
    assert!(md.starts_with("# Why these rows are anomalous"), "{md}");
    assert_eq!(md.matches("\n## #").count(), 10, "{md}");
    assert!(md.contains("| column | value | contribution | percentile |"));

    // Tab chooses the columns kept (all → the feature columns → none) and the report's rows.
    let with_tabs = |h: &mut Harness, key: char, tabs: usize, name: &str| {
        h.key(KeyCode::Char(key));
        for _ in 0..tabs {
            h.key(KeyCode::Tab);
        }
        let path = dir.path().join(name);
        h.keys(path.to_str().unwrap());
        h.key(KeyCode::Enter);
        assert_eq!(
            h.app.shared.status.level,
            Level::Ok,
            "{}",
            h.app.shared.status.text
        );
        std::fs::read_to_string(path).unwrap()
    };
    let features = with_tabs(&mut h, 'E', 1, "features.csv");
    let header = features.lines().next().unwrap();
    assert!(
        header.starts_with("row_id,f0,") && !header.contains("label,"),
        "{header}"
    );
    let none = with_tabs(&mut h, 'E', 2, "none.csv");
    assert_eq!(none.lines().next().unwrap(), "row_id,score,is_anomaly");
    let report = with_tabs(&mut h, 'm', 1, "report25.md");
    assert_eq!(report.matches("\n## #").count(), 25);

    // A name that is not a scores file is refused in the dialog, which stays open.
    h.key(KeyCode::Char('e'));
    for _ in 0..60 {
        h.key(KeyCode::Backspace);
    }
    h.keys("out.txt");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.shared.status.level, Level::Error);
    assert!(matches!(h.app.overlay, Some(Overlay::EditValue(_))));
}

/// One huge score puts every other row into the histogram's first bin, which the threshold cuts
/// through: that bin's normal bulk is still drawn (braille bars), not only its flagged part.
#[test]
fn a_histogram_bin_cut_by_the_threshold_shows_its_normal_rows() {
    let mut h = chart_ready("terminal");
    h.app.pane = Pane::Charts;
    let r = &mut h.app.shared.results[0];
    let n = r.scores.len();
    r.scores = (0..n).map(|i| i as f64 / n as f64).collect();
    r.scores[0] = 1e6;
    let (order, sorted_desc) = pynomaly::service::run_view::RunResult::rank(&r.scores);
    r.order = order;
    r.sorted_desc = sorted_desc;
    r.flagged = n / 10;
    let screen = h.text(120, 40);
    let histogram: String = screen
        .lines()
        .skip(3)
        .take(15)
        .map(|l| l.chars().take(64).collect::<String>())
        .collect();
    assert!(
        histogram
            .chars()
            .any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "no normal bars:\n{screen}"
    );
    assert!(histogram.contains('▲'), "no flagged bars:\n{screen}");
}

/// A theme with a background colour paints every cell with it, charts included.
#[test]
fn a_themed_background_covers_every_cell() {
    let mut h = chart_ready("dark");
    for pane in Pane::ALL {
        h.app.pane = pane;
        for lower in 0..4 {
            let buffer = h.draw(120, 40);
            let bare = buffer
                .content()
                .iter()
                .filter(|c| c.bg == ratatui::style::Color::Reset)
                .count();
            assert_eq!(
                bare, 0,
                "{pane:?} (lower chart {lower}): {bare} cells without the background"
            );
            if pane == Pane::Charts {
                h.key(KeyCode::Char('c'));
            }
        }
    }
}

/// A result without a label opens on a chart that needs none: scores over time when the data
/// has a time column (server metrics), the projection otherwise.
#[test]
fn an_unlabelled_result_opens_on_a_chart_that_needs_no_label() {
    use pynomaly::tui::panes::charts::LowerChart;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.csv");
    let mut text = String::from("timestamp,cpu,latency\n");
    for i in 0..300 {
        text.push_str(&format!(
            "2026-01-01 {:02}:{:02}:00,{},{}\n",
            i / 60,
            i % 60,
            (i * 7 % 23) as f64 / 3.0,
            if i == 150 {
                900.0
            } else {
                (i * 11 % 31) as f64
            }
        ));
    }
    std::fs::write(&path, text).unwrap();
    for (source, want) in [
        (Source::Path(path), LowerChart::Time),
        (Source::Demo(Demo::DEFAULT), LowerChart::Roc),
    ] {
        let mut h = Harness::loaded("terminal", source);
        h.key(KeyCode::Char('2'));
        h.key(KeyCode::Char('r'));
        assert_eq!(
            h.app.shared.results.len(),
            1,
            "{}",
            h.app.shared.status.text
        );
        assert_eq!(h.app.panes.charts.lower, want);
    }
}

/// A stored run opened while its own time-series data is loaded gets the time axis back.
#[test]
fn a_stored_run_of_the_loaded_time_series_has_its_time_axis() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.csv");
    let mut text = String::from("timestamp,cpu,latency\n");
    for i in 0..200 {
        text.push_str(&format!(
            "2026-01-01 {:02}:{:02}:00,{},{}\n",
            i / 60,
            i % 60,
            (i * 7 % 23) as f64 / 3.0,
            (i * 11 % 31) as f64
        ));
    }
    std::fs::write(&path, text).unwrap();
    let mut h = Harness::new("terminal");
    h.env.store = Some(dir.path().join("store.sqlite"));
    let effects = h.app.start(Source::Path(path));
    h.settle(effects);
    h.key(KeyCode::Char('2'));
    h.key(KeyCode::Char('r'));
    assert!(h.app.shared.results[0].time.is_some());
    h.app.shared.results.clear();
    h.key(KeyCode::Char('4'));
    h.key(KeyCode::Enter);
    let opened = &h.app.shared.results[0];
    assert!(opened.run_id.is_some());
    assert_eq!(opened.time.as_ref().map(|t| t.values.len()), Some(200));
}

/// The palette: `:` then Enter does not quit; `run` ranks first for "run"; run chosen from the
/// Data pane runs the Detect pane's selected detector.
#[test]
fn the_palette_ranks_by_name_and_runs_actions_where_they_belong() {
    use pynomaly::tui::keymap::Action;
    use pynomaly::tui::overlays::palette::palette_matches;
    assert_eq!(palette_matches("run")[0], Action::Run);
    assert_eq!(palette_matches("theme")[0], Action::CycleTheme);
    assert_eq!(*palette_matches("").last().unwrap(), Action::Quit);

    let mut h = Harness::loaded("terminal", demo());
    h.key(KeyCode::Char(':'));
    h.key(KeyCode::Enter);
    assert!(!h.app.should_quit, "Enter on an empty palette quit");
    assert!(h.app.overlay.is_none());

    assert_eq!(h.app.pane, Pane::Data);
    h.key(KeyCode::Char(':'));
    h.keys("run");
    h.key(KeyCode::Enter);
    assert_eq!(
        h.app.shared.results.len(),
        1,
        "{}",
        h.app.shared.status.text
    );
}

/// At 80 columns a long file name gives way: the tab bar shows the file's name, the Charts
/// title keeps the flagged count whole.
#[test]
fn long_names_give_way_to_what_matters_at_80_columns() {
    let mut h = chart_ready("terminal");
    h.app.pane = Pane::Charts;
    let long = "/srv/data/exports/2026/december/very-long-folder-name/server_metrics_cleaned.csv";
    h.app.shared.results[0].source = long.into();
    let screen = h.text(80, 24);
    let title = screen.lines().nth(1).unwrap();
    assert!(title.contains("▲ 183 flagged of 1831"), "{title}");
    // The tab bar names the loaded data by its file name when the path does not fit.
    let loaded = h.app.shared.dataset.loaded.clone().unwrap();
    let mut renamed = (*loaded).clone();
    renamed.source = long.into();
    h.app.shared.dataset.loaded = Some(std::sync::Arc::new(renamed));
    let screen = h.text(80, 24);
    let tabs = screen.lines().next().unwrap();
    assert!(
        tabs.contains("eaned.csv") && !tabs.contains("/srv"),
        "{tabs}"
    );
    let wide = h.text(120, 40);
    assert!(
        wide.lines()
            .next()
            .unwrap()
            .contains("server_metrics_cleaned.csv"),
        "{wide}"
    );
}

/// After a run, the Data pane's rows carry their score and flag, missing values show as ∅, and
/// Enter on the table opens the first row's detail.
#[test]
fn data_rows_show_scores_and_open_their_detail() {
    let mut h = chart_ready("terminal");
    h.app.pane = Pane::Data;
    let screen = h.text(120, 40);
    assert!(screen.contains("score"), "{screen}");
    h.key(KeyCode::Char('f'));
    // The newest result of this data (the AutoML best): its top row.
    let index = h.app.shared.result_of_loaded().unwrap();
    let r = &h.app.shared.results[index];
    let top = r.row_ids[r.order[0]];
    h.app.panes.data.row_offset = top as usize;
    let screen = h.text(120, 40);
    let line = screen
        .lines()
        .find(|l| l.contains(&format!("│{top} ")))
        .unwrap_or_else(|| panic!("row {top} not shown:\n{screen}"));
    assert!(line.contains('▲'), "{line}");
    h.key(KeyCode::Enter);
    match &h.app.overlay {
        Some(Overlay::RowDetail(d)) => {
            assert_eq!((d.result, d.row_id, d.rank), (index, top, 0));
            assert!(d.explained.is_some());
        }
        other => panic!("no row detail: {other:?}; {}", h.app.shared.status.text),
    }
}

/// Two marked runs compared: a table with dataset, preparation, threshold, flagged rows,
/// metrics and timings, and their ROC curves overlaid (precision–recall with `c`).
#[test]
fn compare_overlays_the_curves_of_marked_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new("terminal");
    h.env.store = Some(dir.path().join("store.sqlite"));
    let effects = h.app.start(demo());
    h.settle(effects);
    h.key(KeyCode::Char('2'));
    for name in ["iforest", "hbos"] {
        h.app.panes.detect.selected = h
            .app
            .panes
            .detect
            .entries
            .iter()
            .position(|d| d.name == name)
            .unwrap();
        h.key(KeyCode::Char('r'));
    }
    h.key(KeyCode::Char('4'));
    h.key(KeyCode::Char(' '));
    h.key(KeyCode::Char('j'));
    h.key(KeyCode::Char(' '));
    h.key(KeyCode::Enter);
    match &h.app.overlay {
        Some(Overlay::Compare(c)) => {
            assert_eq!(c.runs.len(), 2);
            assert!(
                c.runs.iter().all(|(_, curves)| curves.is_some()),
                "same data: curves"
            );
        }
        other => panic!("no compare: {other:?}"),
    }
    let screen = h.text(120, 40);
    for text in [
        "ROC curves",
        "preparation",
        "flagged",
        "metric roc_auc",
        "time fit_s",
        "run 1 ",
        // The legend says which curve is which run.
        "run 1 iforest",
        "run 2 hbos",
    ] {
        assert!(screen.contains(text), "{text:?} missing:\n{screen}");
    }
    h.key(KeyCode::Char('c'));
    assert!(h.text(120, 40).contains("Precision–recall"));
}

/// Scores over time on server metrics: date labels on the time axis, the threshold line, the
/// flagged points, one series per host.
#[test]
fn scores_over_time_have_dates_a_threshold_line_and_a_series_per_group() {
    let mut h = Harness::loaded("terminal", Source::Demo(Demo::ServerMetrics));
    h.key(KeyCode::Char('2'));
    h.key(KeyCode::Char('r'));
    h.key(KeyCode::Char('3'));
    while h.app.panes.charts.lower != pynomaly::tui::panes::charts::LowerChart::Time {
        h.key(KeyCode::Char('c'));
    }
    let time = h.app.shared.results[0].time.clone().unwrap();
    assert!(time.epoch_seconds);
    let (column, categories, _) = time.groups.clone().expect("a host column");
    let screen = h.text(120, 40);
    assert!(
        screen.contains("threshold ─") && screen.contains("anomaly ▲"),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("{column}={}", categories[0])),
        "no series per group:\n{screen}"
    );
    // Dates on the axis, e.g. 2024-03-01 00:00.
    let dated = screen.lines().any(|l| {
        l.split_whitespace().any(|w| {
            w.len() == 10 && w.chars().nth(4) == Some('-') && w.chars().nth(7) == Some('-')
        })
    });
    assert!(dated, "no date labels:\n{screen}");
}

#[test]
fn epoch_seconds_format_as_utc_dates() {
    use pynomaly::service::run_view::format_epoch;
    assert_eq!(format_epoch(0.0), "1970-01-01 00:00");
    assert_eq!(format_epoch(951_782_400.0 + 3_723.0), "2000-02-29 01:02");
    assert_eq!(format_epoch(1_798_761_600.0), "2027-01-01 00:00");
}

/// F on a column: each value with its rows and, after a run, how many are flagged.
#[test]
fn the_frequency_table_counts_values_and_flagged_rows() {
    let mut h = Harness::loaded("terminal", Source::Demo(Demo::ServerMetrics));
    h.key(KeyCode::Char('2'));
    h.key(KeyCode::Char('r'));
    h.key(KeyCode::Char('1'));
    let names: Vec<String> = h
        .app
        .shared
        .dataset
        .loaded
        .as_ref()
        .unwrap()
        .df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    h.app.panes.data.selected_column = names.iter().position(|n| n == "host").unwrap();
    h.key(KeyCode::Char('F'));
    let table = match &h.app.overlay {
        Some(Overlay::Frequency(f)) => f.clone(),
        other => panic!("no frequency table: {other:?}"),
    };
    assert_eq!(table.column, "host");
    assert_eq!(table.values.iter().map(|v| v.1).sum::<usize>(), table.rows);
    let flagged: usize = table.values.iter().map(|v| v.2.unwrap()).sum();
    assert_eq!(
        Some(flagged),
        table.flagged,
        "every flagged row counted once"
    );
    let screen = h.text(120, 40);
    assert!(
        screen.contains("Frequency of host") && screen.contains("flag rate"),
        "{screen}"
    );
}

/// S sorts the rows by the selected column (ascending, descending, back to the file's order);
/// # goes to a row by its number, also in a sorted table.
#[test]
fn data_rows_sort_by_a_column_and_go_to_a_row() {
    let mut h = Harness::loaded("terminal", demo());
    h.app.panes.data.selected_column = 0;
    let f0: Vec<f64> = {
        let df = &h.app.shared.dataset.loaded.as_ref().unwrap().df;
        df.column("f0")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect()
    };
    let min = f0.iter().copied().fold(f64::INFINITY, f64::min);
    let max = f0.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    h.key(KeyCode::Char('S'));
    assert_eq!(f0[h.app.panes.data.row_at(0)], min);
    h.key(KeyCode::Char('S'));
    assert_eq!(f0[h.app.panes.data.row_at(0)], max);
    // Go to a row of the file: it comes to the top of the sorted table.
    h.key(KeyCode::Char('#'));
    h.keys("1713");
    h.key(KeyCode::Enter);
    let data = &h.app.panes.data;
    assert_eq!(data.row_at(data.row_offset), 1713);
    h.key(KeyCode::Char('S'));
    assert!(h.app.panes.data.sort.is_none());
    assert_eq!(h.app.panes.data.row_at(5), 5);
    // A row that does not exist is refused in the dialog.
    h.key(KeyCode::Char('#'));
    h.keys("99999");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.shared.status.level, Level::Error);
    assert!(matches!(h.app.overlay, Some(Overlay::EditValue(_))));
}

/// `/` finds the next row with a cell containing the text; again, the one after.
#[test]
fn data_rows_search_finds_the_next_match() {
    let mut h = Harness::loaded("terminal", Source::Demo(Demo::ServerMetrics));
    let hosts: Vec<String> = {
        let df = &h.app.shared.dataset.loaded.as_ref().unwrap().df;
        let host = df.column("host").unwrap().str().unwrap().clone();
        (0..host.len())
            .map(|i| host.get(i).unwrap_or_default().to_string())
            .collect()
    };
    let wanted = hosts.last().unwrap().clone();
    let first = hosts.iter().position(|h| *h == wanted).unwrap();
    let second = first
        + 1
        + hosts[first + 1..]
            .iter()
            .position(|h| *h == wanted)
            .unwrap();
    h.key(KeyCode::Char('/'));
    h.keys(&wanted.to_uppercase());
    h.key(KeyCode::Enter);
    // The search starts after the row at the top (row 0), so a match in row 0 comes last.
    let at = |h: &Harness| h.app.panes.data.row_at(h.app.panes.data.row_offset);
    let expected_first = if first == 0 { second } else { first };
    assert_eq!(at(&h), expected_first, "{}", h.app.shared.status.text);
    h.key(KeyCode::Char('/'));
    h.key(KeyCode::Enter);
    assert!(at(&h) > expected_first);
    h.key(KeyCode::Char('/'));
    for _ in 0..40 {
        h.key(KeyCode::Backspace);
    }
    h.keys("no such text anywhere");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.shared.status.level, Level::Warn);
}

/// The row preview keeps whole timestamps and names; `w` widens a column to read long values.
#[test]
fn data_columns_fit_their_values_and_widen_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.csv");
    let long = "a rather long free-text note that does not fit in 24 cells";
    let mut text = String::from("timestamp,note,value\n");
    for i in 0..50 {
        text.push_str(&format!("2026-01-01 00:{:02}:00,{long},{i}\n", i % 60));
    }
    std::fs::write(&path, text).unwrap();
    let mut h = Harness::loaded("terminal", Source::Path(path));
    let screen = h.text(120, 40);
    assert!(screen.contains("2026-01-01 00:00:00"), "{screen}");
    assert!(!screen.contains(long), "{screen}");
    h.app.panes.data.selected_column = 1;
    h.key(KeyCode::Char('w'));
    let screen = h.text(120, 40);
    assert!(screen.contains(long), "{screen}");
    h.key(KeyCode::Char('w'));
    assert!(!h.text(120, 40).contains(long));
}

/// O sorts the rows by the newest run's score: highest first, lowest first, the file's order.
#[test]
fn data_rows_sort_by_score_after_a_run() {
    let mut h = Harness::loaded("terminal", demo());
    h.key(KeyCode::Char('O'));
    assert!(
        h.app.panes.data.sort.is_none(),
        "no run yet: nothing to sort by"
    );
    h.key(KeyCode::Char('2'));
    h.key(KeyCode::Char('r'));
    h.key(KeyCode::Char('1'));
    let (row_ids, scores) = {
        let r = h.app.shared.results.last().unwrap();
        (r.row_ids.clone(), r.scores.clone())
    };
    let score_of = |row: usize| scores[row_ids.binary_search(&(row as u64)).unwrap()];
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
    h.key(KeyCode::Char('O'));
    let data = &h.app.panes.data;
    assert_eq!(score_of(data.row_at(0)), max);
    let shown: Vec<f64> = (0..row_ids.len())
        .map(|at| score_of(data.row_at(at)))
        .collect();
    assert!(shown.windows(2).all(|w| w[0] >= w[1]), "not highest first");
    assert!(h.text(120, 40).contains("sorted by score"));
    h.key(KeyCode::Char('O'));
    assert_eq!(score_of(h.app.panes.data.row_at(0)), min);
    h.key(KeyCode::Char('O'));
    assert!(h.app.panes.data.sort.is_none());
}

/// `:` and a number goes to that row of the Data pane's table, from any pane.
#[test]
fn the_palette_goes_to_a_row_by_its_number() {
    let mut h = Harness::loaded("terminal", demo());
    h.key(KeyCode::Char('3'));
    h.key(KeyCode::Char(':'));
    h.keys("1713");
    assert!(h.text(120, 40).contains("go to row 1713"));
    h.key(KeyCode::Enter);
    assert_eq!(h.app.pane, Pane::Data);
    let data = &h.app.panes.data;
    assert_eq!(data.row_at(data.row_offset), 1713);
    h.key(KeyCode::Char(':'));
    h.keys("99999");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.shared.status.level, Level::Error);
}

/// A float column is drawn with one format for the rows in view: "42.00" beside "41.30".
#[test]
fn float_columns_share_one_format_in_view() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.csv");
    std::fs::write(&path, "id,value\na,42\nb,41.3\nc,40.25\n").unwrap();
    let mut h = Harness::loaded("terminal", Source::Path(path));
    h.app.panes.data.focus = pynomaly::tui::panes::data::DataFocus::Table;
    let screen = h.text(120, 40);
    assert!(
        screen.contains("42.00") && screen.contains("41.30") && screen.contains("40.25"),
        "{screen}"
    );
}

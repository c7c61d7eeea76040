//! The terminal workbench: `pynomaly` with no arguments, or `pynomaly tui [FILE]`.
//!
//! Shape: [`app::App`] turns keys and background messages into new state and [`app::Effect`]s,
//! routing them to the components: one module per pane in [`panes`] and per overlay in
//! [`overlays`], each owning its state, its key handling and its drawing, with what they share
//! in [`shared::Shared`]. [`jobs`] runs effects on tokio's blocking pool and answers with
//! messages; [`ui`] draws the frame around the components. The loop below only waits (no
//! polling): it wakes for a key, a resize, a job message or a signal, and redraws only then.
//! [`terminal`] owns the terminal's modes and their restore.

pub mod app;
pub mod config;
pub mod jobs;
pub mod keymap;
pub mod overlays;
pub mod panes;
pub mod shared;
pub mod table_lookup;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod widgets;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind, MouseEventKind};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::data::Source;
use app::App;
use keymap::{Action, Keymap};
use theme::{ColorDepth, ThemeCatalog};

pub struct TuiOptions {
    pub source: Source,
    /// The store file; `None` records nothing (`--no-store`).
    pub store: Option<PathBuf>,
    pub theme: Option<String>,
    pub mouse: bool,
}

/// Everything the app needs from the environment, resolved before the terminal is touched.
pub fn build_app(theme: Option<&str>, store_label: String) -> (App, Vec<String>) {
    let mut warnings = Vec::new();
    let dir = config::config_dir();
    let (settings, warning) = config::load();
    warnings.extend(warning);
    let (keymap, w) = Keymap::load(dir.as_deref());
    warnings.extend(w);
    let (themes, w) = ThemeCatalog::load(
        dir.as_ref().map(|d| d.join("themes")).as_deref(),
        ColorDepth::detect(),
    );
    warnings.extend(w);
    let wanted = theme
        .map(str::to_string)
        .or(settings.theme)
        .unwrap_or_else(|| "terminal".into());
    if themes.get(&wanted).is_none() {
        warnings.push(format!(
            "unknown theme {wanted:?}; using terminal (themes: {})",
            themes.names().join(", ")
        ));
    }
    let app = App::new(keymap, themes, &wanted, store_label);
    (app, warnings)
}

/// Whether keys can be read: from standard input when it is the terminal, else from the
/// controlling terminal (crossterm reads `/dev/tty` then), as when data is piped in.
pub fn keys_available() -> bool {
    std::io::stdin().is_terminal()
        || std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .is_ok()
}

/// Whether standard input carries data: a pipe, a socket or a redirected regular file, not a
/// terminal and not a device such as `/dev/null` (as under a service manager).
pub fn stdin_has_data() -> bool {
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return false;
    }
    let Ok(fd) = stdin.as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    kind.is_fifo() || kind.is_socket() || (kind.is_file() && meta.len() > 0)
}

/// Runs the workbench until the user quits. A signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) ends it
/// like `q`; the process then exits here, once the terminal is restored, with 128 + the signal's
/// number: the status a shell shows for a process the signal killed.
pub fn run(options: TuiOptions) -> Result<(), String> {
    if !std::io::stdout().is_terminal() || !keys_available() {
        return Err(
            "the workbench needs a terminal; in scripts use the commands (pynomaly --help)".into(),
        );
    }
    if options.source == Source::Stdin && std::io::stdin().is_terminal() {
        return Err("standard input is the terminal, not data: pipe a file in \
             (cat data.csv | pynomaly tui -) or give its path"
            .into());
    }
    let store_label = options
        .store
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "no store (--no-store)".into());
    let (mut app, warnings) = build_app(options.theme.as_deref(), store_label);
    // Check the store before the screen changes, so that a broken one is reported plainly.
    if let Some(path) = &options.store {
        crate::store::Store::open(path).map_err(|e| e.to_string())?;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // Before the terminal changes, so that no signal can kill the process in raw mode.
    let mut signals = {
        let _context = runtime.enter();
        terminal::Signals::new().map_err(|e| format!("cannot handle signals: {e}"))?
    };
    // Restored on every way out: `guard` on return, error and unwinding, the panic hook on a
    // panic here, and signals end the loop.
    let guard = terminal::enter(terminal::Modes {
        mouse: options.mouse,
        keyboard: None,
    })
    .map_err(|e| format!("cannot use the terminal: {e}"))?;
    let mut screen = Terminal::new(CrosstermBackend::new(std::io::stdout()))
        .map_err(|e| format!("cannot use the terminal: {e}"))?;
    // Start-up problems (broken theme or keymap files) go to the status line, all of them.
    if !warnings.is_empty() {
        app.set_status(app::Level::Warn, warnings.join(" · "));
        app.shared.startup_warnings = warnings;
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(event_loop(&mut screen, &mut app, options, &mut signals))
    }));
    // Not dropped: ratatui's drop shows the cursor and, when the terminal is gone (SIGHUP),
    // panics printing that failure to stderr. The restore shows the cursor anyway.
    std::mem::forget(screen);
    // The terminal comes back before the wait for the jobs below.
    drop(guard);
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(panic) => {
            // The hook has restored the terminal and printed the message. Without the cancel,
            // dropping the runtime would wait for a long fit to finish.
            cancel_job(&app);
            runtime.shutdown_timeout(Duration::from_secs(2));
            std::panic::resume_unwind(panic);
        }
    };
    // A job still running was cancelled on quit; give it a moment to record that.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match outcome? {
        Ended::Quit => Ok(()),
        Ended::Signal(signal) => std::process::exit(128 + signal),
    }
}

enum Ended {
    Quit,
    Signal(i32),
}

fn cancel_job(app: &App) {
    app.shared.jobs.cancel_all();
}

/// Test-only faults from `PYNOMALY_TEST_PANIC` (debug builds), after the first frame: `ui`
/// panics on the UI thread (the terminal must come back), `background` on another thread (the
/// workbench must stay up and print the message after the restore).
#[cfg(debug_assertions)]
fn inject_test_panic() {
    match std::env::var("PYNOMALY_TEST_PANIC").as_deref() {
        Ok("ui") => panic!("test panic on the UI thread"),
        Ok("background") => {
            let _ = std::thread::Builder::new()
                .name("test-panic".into())
                .spawn(|| panic!("test panic on a background thread"))
                .map(|thread| thread.join());
        }
        _ => {}
    }
}

#[cfg(not(debug_assertions))]
fn inject_test_panic() {}

async fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<std::io::Stdout>>,
    app: &mut App,
    options: TuiOptions,
    signals: &mut terminal::Signals,
) -> Result<Ended, String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let env = jobs::JobEnv {
        store: options.store.clone(),
        tx,
    };
    for effect in app.start(options.source) {
        jobs::spawn(effect, &env);
    }
    let mut events = EventStream::new();
    let mut first_frame = true;
    let mut dirty = true;
    loop {
        if dirty {
            terminal
                .draw(|frame| ui::draw(frame, app))
                .map_err(|e| format!("drawing: {e}"))?;
            dirty = false;
            if first_frame {
                first_frame = false;
                inject_test_panic();
            }
        }
        if app.should_quit {
            cancel_job(app);
            return Ok(Ended::Quit);
        }
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    for effect in app.on_key(key) {
                        jobs::spawn(effect, &env);
                    }
                    dirty = true;
                }
                Some(Ok(Event::Mouse(m))) => {
                    let action = match m.kind {
                        MouseEventKind::ScrollDown => Some(Action::Down),
                        MouseEventKind::ScrollUp => Some(Action::Up),
                        _ => None,
                    };
                    if let Some(action) = action.filter(|_| app.overlay.is_none()) {
                        for effect in app.on_action(action) {
                            jobs::spawn(effect, &env);
                        }
                        dirty = true;
                    }
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                // The terminal is gone (e.g. the SSH link dropped).
                Some(Err(_)) | None => app.should_quit = true,
            },
            msg = rx.recv() => {
                let Some(msg) = msg else { continue };
                let mut pending = vec![msg];
                // Several messages at once (progress bursts) make one redraw.
                while let Ok(m) = rx.try_recv() {
                    pending.push(m);
                }
                for m in pending {
                    for effect in app.on_msg(m) {
                        jobs::spawn(effect, &env);
                    }
                }
                dirty = true;
            }
            // No last frame: after SIGHUP the terminal is gone.
            signal = signals.recv() => {
                cancel_job(app);
                return Ok(Ended::Signal(signal));
            }
        }
    }
}

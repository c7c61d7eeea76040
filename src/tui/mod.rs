//! The terminal workbench: `pynomaly` with no arguments, or `pynomaly tui [FILE]`.
//!
//! Shape: [`app::App`] holds the state and turns keys and background messages into new state and
//! [`app::Effect`]s; [`jobs`] runs effects on tokio's blocking pool and answers with messages;
//! [`ui`] draws the state. The loop below only waits (no polling): it wakes for a key, a resize,
//! a job message or a signal, and redraws only then.

pub mod app;
pub mod config;
pub mod jobs;
pub mod keymap;
pub mod theme;
pub mod ui;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, KeyEventKind, MouseEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
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

/// Leaves raw mode and the alternate screen; safe to call more than once.
fn restore_terminal(mouse: bool) {
    let _ = disable_raw_mode();
    let mut out = std::io::stdout();
    if mouse {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(out, LeaveAlternateScreen, crossterm::cursor::Show);
}

pub fn run(options: TuiOptions) -> Result<(), String> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(
            "the workbench needs a terminal; in scripts use the commands (pynomaly --help)".into(),
        );
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

    // The terminal is restored on every way out: normal return, error, panic and signals.
    let mouse = options.mouse;
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal(mouse);
        previous_hook(info);
    }));
    enable_raw_mode().map_err(|e| format!("cannot use the terminal: {e}"))?;
    let setup = (|| {
        let mut out = std::io::stdout();
        execute!(out, EnterAlternateScreen)?;
        if mouse {
            execute!(out, EnableMouseCapture)?;
        }
        Terminal::new(CrosstermBackend::new(std::io::stdout()))
    })();
    let mut terminal = match setup {
        Ok(t) => t,
        Err(e) => {
            restore_terminal(mouse);
            return Err(format!("cannot use the terminal: {e}"));
        }
    };
    // Start-up problems (broken theme or keymap files) go to the status line, all of them.
    if !warnings.is_empty() {
        app.set_status(app::Level::Warn, warnings.join(" · "));
    }
    let result = runtime.block_on(event_loop(&mut terminal, &mut app, options));
    restore_terminal(mouse);
    // A job still running was cancelled on quit; give it a moment to record that.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<std::io::Stdout>>,
    app: &mut App,
    options: TuiOptions,
) -> Result<(), String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let env = jobs::JobEnv {
        store: options.store.clone(),
        tx,
    };
    for effect in app.start(options.source) {
        jobs::spawn(effect, &env);
    }
    let mut events = EventStream::new();
    #[cfg(unix)]
    let (mut sigterm, mut sighup) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).map_err(|e| e.to_string())?,
            signal(SignalKind::hangup()).map_err(|e| e.to_string())?,
        )
    };
    let mut dirty = true;
    loop {
        if dirty {
            terminal
                .draw(|frame| ui::draw(frame, app))
                .map_err(|e| format!("drawing: {e}"))?;
            dirty = false;
        }
        if app.should_quit {
            if let Some(job) = &app.job {
                job.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            return Ok(());
        }
        #[cfg(unix)]
        let signalled = async {
            tokio::select! {
                _ = sigterm.recv() => {},
                _ = sighup.recv() => {},
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<()>();
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
            _ = signalled => app.should_quit = true,
        }
    }
}

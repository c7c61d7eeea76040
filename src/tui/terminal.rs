//! The workbench's terminal modes and their restore on every way out. The normal path, an error
//! return and unwinding drop a [`Guard`]; a panic on the UI thread is handled by a panic hook
//! that restores the terminal before the message is printed; signals end the event loop
//! ([`Signals`]), after which the normal path runs. [`restore`] does its work once per
//! [`enter`], whoever calls it first.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::thread::ThreadId;

use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, KeyboardEnhancementFlags, PopKeyboardEnhancementFlags,
    PushKeyboardEnhancementFlags,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};

/// Raw mode and the alternate screen are on, so a restore is still owed.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static MOUSE: AtomicBool = AtomicBool::new(false);
static KEYBOARD: AtomicBool = AtomicBool::new(false);
/// The thread that draws. Only a panic there ends the workbench: background jobs catch theirs
/// and report them as errors, so restoring the terminal for those would break a running app.
static UI_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);
/// Panic messages from other threads while the screen is in use. Printed then, they would land
/// in the middle of the drawing (and stay there, since ratatui redraws only changed cells), so
/// they are printed after the restore.
static DEFERRED: Mutex<Vec<String>> = Mutex::new(Vec::new());
const MAX_DEFERRED: usize = 16;

/// What to switch on besides raw mode and the alternate screen.
#[derive(Debug, Clone, Copy, Default)]
pub struct Modes {
    pub mouse: bool,
    pub keyboard: Option<KeyboardEnhancementFlags>,
}

/// Restores the terminal when dropped, so that `?` and unwinding cannot skip it.
pub struct Guard {
    _private: (),
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Switches the terminal into the workbench's modes from the calling thread, which becomes the
/// UI thread for the panic hook. A panic there is taken to end the workbench (the hook restores
/// the terminal), so nothing on that thread may catch one and carry on.
pub fn enter(modes: Modes) -> std::io::Result<Guard> {
    install_panic_hook();
    *UI_THREAD.lock().unwrap_or_else(PoisonError::into_inner) = Some(std::thread::current().id());
    // Recorded before they are switched on, so that a failure half-way still undoes them (the
    // undo sequences are harmless when the mode was never set).
    MOUSE.store(modes.mouse, Ordering::SeqCst);
    KEYBOARD.store(modes.keyboard.is_some(), Ordering::SeqCst);
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let guard = Guard { _private: () };
    let mut out = std::io::stdout();
    execute!(out, EnterAlternateScreen)?;
    if modes.mouse {
        execute!(out, EnableMouseCapture)?;
    }
    if let Some(flags) = modes.keyboard {
        execute!(out, PushKeyboardEnhancementFlags(flags))?;
    }
    Ok(guard)
}

/// Undoes [`enter`]; does nothing when the terminal is not (or no longer) in the workbench's
/// modes. Errors are ignored: the terminal may be gone (SIGHUP), and there is nothing better
/// to do on the way out.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout();
    if KEYBOARD.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    if MOUSE.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(out, LeaveAlternateScreen, cursor::Show);
    let _ = disable_raw_mode();
    let deferred = std::mem::take(&mut *DEFERRED.lock().unwrap_or_else(PoisonError::into_inner));
    let mut err = std::io::stderr().lock();
    for message in deferred {
        let _ = writeln!(err, "{message}");
    }
}

fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let current = std::thread::current();
            let on_ui_thread =
                *UI_THREAD.lock().unwrap_or_else(PoisonError::into_inner) == Some(current.id());
            if on_ui_thread {
                restore();
            } else {
                // Checked under the lock that `restore` takes to print, so a message is either
                // kept for it or printed here, never lost.
                let mut deferred = DEFERRED.lock().unwrap_or_else(PoisonError::into_inner);
                if ACTIVE.load(Ordering::SeqCst) {
                    if deferred.len() < MAX_DEFERRED {
                        let mut text =
                            format!("thread '{}' {info}", current.name().unwrap_or("<unnamed>"));
                        let trace = std::backtrace::Backtrace::capture();
                        if trace.status() == std::backtrace::BacktraceStatus::Captured {
                            text.push_str(&format!("\nstack backtrace:\n{trace}"));
                        }
                        deferred.push(text);
                    }
                    return;
                }
            }
            previous(info);
        }));
    });
}

/// The signals that end the workbench cleanly: SIGINT from outside (in raw mode Ctrl-C is a
/// key), SIGTERM, SIGHUP (the SSH link dropped) and SIGQUIT. Once created, they no longer kill
/// the process (tokio keeps its handlers for the life of the process).
#[cfg(unix)]
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    /// Must be called inside the runtime (`Runtime::enter`), whose driver delivers them.
    pub fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    /// Waits for one of the signals and returns its number. Cancel safe.
    pub async fn recv(&mut self) -> i32 {
        tokio::select! {
            Some(()) = self.interrupt.recv() => libc::SIGINT,
            Some(()) = self.terminate.recv() => libc::SIGTERM,
            Some(()) = self.hangup.recv() => libc::SIGHUP,
            Some(()) = self.quit.recv() => libc::SIGQUIT,
            // Only when the runtime shuts down: then no signal will come.
            else => std::future::pending::<i32>().await,
        }
    }
}

/// Elsewhere Ctrl-C arrives as a key in raw mode and there is nothing to wait for.
#[cfg(not(unix))]
pub struct Signals;

#[cfg(not(unix))]
impl Signals {
    pub fn new() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    pub async fn recv(&mut self) -> i32 {
        std::future::pending::<i32>().await
    }
}

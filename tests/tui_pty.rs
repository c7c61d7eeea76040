//! End to end: the real binary in a pseudo-terminal, driven by keys like a user. Open a shared
//! dataset, run a detector, see the chart, switch theme, quit — exit status 0 and the terminal
//! restored (raw mode off, alternate screen left). Also: SIGTERM and SIGHUP restore the
//! terminal, and an idle workbench uses (almost) no CPU.
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::pty::Pty;
use common::{bin, shared_dataset};

#[test]
fn open_run_chart_theme_and_quit() {
    let glass = shared_dataset("glass");
    let mut pty = Pty::spawn(&bin(), &["tui", glass.to_str().unwrap()]);
    pty.wait_for("Matrix ready");
    pty.send("2");
    pty.wait_for("Detectors");
    pty.send("r");
    pty.wait_for("finished in");
    pty.send("3");
    pty.wait_for("Score histogram");
    pty.wait_for("ROC curve");
    pty.send("t");
    pty.wait_for("theme dark");
    pty.send("q");
    let status = pty.wait_exit();
    assert!(status.success(), "exit status {status}");
    pty.assert_restored();
}

#[test]
fn idle_is_quiet_and_signals_restore_the_terminal() {
    for signal in [libc::SIGTERM, libc::SIGHUP] {
        let mut pty = Pty::spawn(&bin(), &["tui", "demo:cardio"]);
        pty.wait_for("Matrix ready");
        if signal == libc::SIGTERM {
            // No busy loop: three idle seconds cost well under 10 % of a core.
            std::thread::sleep(Duration::from_millis(500));
            let before = pty.cpu_ticks();
            std::thread::sleep(Duration::from_secs(3));
            let used = pty.cpu_ticks() - before;
            // SAFETY: sysconf has no preconditions.
            let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
            assert!(used * 10 < 3 * per_second, "idle used {used} ticks in 3 s");
        }
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(pty.child.id() as i32, signal) };
        let status = pty.wait_exit();
        assert!(
            status.code().is_some(),
            "killed by signal {signal} instead of exiting: {status}"
        );
        pty.assert_restored();
        pty.send("");
    }
}

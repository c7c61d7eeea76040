//! End to end: the real binary in a pseudo-terminal, driven by keys like a user. Open a shared
//! dataset, run a detector, see the chart, switch theme, quit — exit status 0 and the terminal
//! restored (raw mode off, alternate screen left). Also: SIGTERM, SIGHUP, SIGINT and SIGQUIT
//! restore the terminal and exit with 128 + the signal, an idle workbench uses (almost) no CPU,
//! and (debug builds, through `PYNOMALY_TEST_PANIC`) a panic on the UI thread restores the
//! terminal before its message while one on another thread leaves the workbench up.
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
    pty.wait_for("Theme: dark");
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
        assert_eq!(
            status.code(),
            Some(128 + signal),
            "signal {signal}: {status}"
        );
        pty.assert_restored();
        pty.send("");
    }
}

#[test]
fn sigint_and_sigquit_from_outside_end_it_while_loading() {
    for signal in [libc::SIGINT, libc::SIGQUIT] {
        let mut pty = Pty::spawn(&bin(), &["tui", "demo:cardio"]);
        // The first frame; the demo may still be loading in the background.
        pty.wait_for("Pynomaly");
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(pty.child.id() as i32, signal) };
        let status = pty.wait_exit();
        assert_eq!(
            status.code(),
            Some(128 + signal),
            "signal {signal}: {status}"
        );
        pty.assert_restored();
    }
}

#[test]
fn a_panic_on_the_ui_thread_restores_the_terminal_first() {
    // The fault is injected by debug builds only.
    if !cfg!(debug_assertions) {
        return;
    }
    let message = "test panic on the UI thread";
    let mut pty = Pty::spawn_with_env(
        &bin(),
        &["tui", "demo:cardio"],
        &[("PYNOMALY_TEST_PANIC", "ui")],
    );
    pty.wait_for(message);
    let status = pty.wait_exit();
    assert!(
        !status.success() && status.code().is_some(),
        "exit status {status}"
    );
    pty.assert_restored();
    let text = pty.text();
    let left = text.rfind("\x1b[?1049l").unwrap();
    assert!(
        text[left..].contains(message),
        "the panic message was not printed after the restore"
    );
}

#[test]
fn a_panic_on_another_thread_leaves_the_workbench_up() {
    if !cfg!(debug_assertions) {
        return;
    }
    let message = "test panic on a background thread";
    let mut pty = Pty::spawn_with_env(
        &bin(),
        &["tui", "demo:cardio"],
        &[("PYNOMALY_TEST_PANIC", "background")],
    );
    // The panic happened right after the first frame, before this one.
    pty.wait_for("Matrix ready");
    let text = pty.text();
    assert!(!text.contains("\x1b[?1049l"), "the terminal was restored");
    assert!(
        !text.contains(message),
        "the message was printed over the screen"
    );
    pty.send("q");
    let status = pty.wait_exit();
    assert!(status.success(), "exit status {status}");
    pty.assert_restored();
    let text = pty.text();
    let left = text.rfind("\x1b[?1049l").unwrap();
    assert!(
        text[left..].contains("thread 'test-panic' panicked at") && text[left..].contains(message),
        "the deferred panic message is missing after the restore"
    );
}

#[test]
fn hostile_files_opened_from_the_data_pane_are_errors_and_the_app_stays_up() {
    let mut pty = Pty::spawn(&bin(), &["tui", "demo:cardio"]);
    pty.wait_for("Matrix ready");
    for (file, message) in [
        ("bad/deep_array.json", "nested deeper than 64"),
        ("bad/huge_values.csv", "Matrix ready"),
        ("columnar/decimal_only.parquet", "no column can be read"),
    ] {
        // A short copy: the message then fits one line at any checkout depth, so the expected
        // words are never split by the status line's wrap.
        let short = tempfile::tempdir().unwrap();
        let path = short.path().join(file.rsplit('/').next().unwrap());
        std::fs::copy(common::fixture(file), &path).unwrap();
        pty.send("o");
        // The dialog starts in the folder of the last file opened: clear it first.
        pty.send(&"\x7f".repeat(200));
        let typed = pty.len();
        pty.send(path.to_str().unwrap());
        pty.send("\r");
        assert!(
            pty.wait_for_after(typed, message, Duration::from_secs(60))
                .is_some(),
            "{file}: no {message:?}; last output:\n{}",
            pty.text().chars().rev().take(2000).collect::<String>()
        );
    }
    // Still usable: a detector runs on what is loaded (huge values: scores, or a clear error).
    pty.send("2");
    let ran = pty.len();
    pty.send("r");
    let ended = (0..600).any(|_| {
        ["finished in", "not finite"].iter().any(|end| {
            pty.wait_for_after(ran, end, Duration::from_millis(50))
                .is_some()
        })
    });
    assert!(ended, "the run neither finished nor failed clearly");
    pty.send("q");
    let status = pty.wait_exit();
    assert!(status.success(), "exit status {status}");
    pty.assert_restored();
}

/// The investigation walk: open a file, run a detector, Enter on the top anomaly, the row's
/// explanation is on screen, n walks to the next row, export the flagged rows (the file has
/// the original columns, score and flag), q quits cleanly.
#[test]
fn open_run_and_explain_the_top_anomaly() {
    let glass = shared_dataset("glass");
    let mut pty = Pty::spawn(&bin(), &["tui", glass.to_str().unwrap()]);
    pty.wait_for("Matrix ready");
    pty.send("2");
    pty.wait_for("Detectors");
    pty.send("r");
    pty.wait_for("finished in");
    pty.send("3");
    pty.wait_for("Enter explains");
    let before = pty.len();
    pty.send("\r");
    assert!(
        pty.wait_for_after(before, "contribution", Duration::from_secs(30))
            .is_some(),
        "no explanation on screen"
    );
    assert!(pty
        .wait_for_after(before, "· #1 of", Duration::from_secs(5))
        .is_some());
    let walked = pty.len();
    pty.send("n");
    assert!(
        pty.wait_for_after(walked, "· #2 of", Duration::from_secs(30))
            .is_some(),
        "n did not walk to the next row"
    );
    // q closes the overlay (a lone Esc byte would wait for an escape sequence).
    pty.send("q");
    std::thread::sleep(Duration::from_millis(300));
    // Export the flagged rows: the dialog proposes a name; type ours instead.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("flagged.csv");
    pty.send("e");
    pty.wait_for("Export the flagged rows");
    pty.send(&"\x7f".repeat(80));
    pty.send(out.to_str().unwrap());
    pty.send("\r");
    // The status line is redrawn cell by cell, so the file itself is what is waited for.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !out.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&out).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("row_id,") && header.ends_with(",score,is_anomaly"),
        "{header}"
    );
    assert!(text.lines().count() > 1);
    pty.send("q");
    let status = pty.wait_exit();
    assert!(status.success(), "exit status {status}");
    pty.assert_restored();
}

#[test]
fn piped_data_opens_in_the_workbench_and_keys_come_from_the_terminal() {
    let mut csv = String::from("latency_ms,bytes_out\n");
    for i in 0..300 {
        csv.push_str(&format!("{},{}\n", 20 + i % 7, 1000 + (i * 37) % 101));
    }
    csv.push_str("900,5\n");
    for args in [&[][..], &["tui", "-"][..]] {
        let mut pty = Pty::spawn_piped(&bin(), args);
        {
            use std::io::Write;
            let mut stdin = pty.child.stdin.take().unwrap();
            stdin.write_all(csv.as_bytes()).unwrap();
        }
        pty.wait_for("Matrix ready");
        pty.wait_for("latency_ms");
        // Keys still work although standard input is the pipe.
        pty.send("2");
        pty.wait_for("Detectors");
        pty.send("r");
        pty.wait_for("finished in");
        pty.send("q");
        let status = pty.wait_exit();
        assert!(status.success(), "{args:?}: exit status {status}");
        pty.assert_restored();
    }
}

#[test]
fn tui_dash_without_piped_data_is_a_plain_error() {
    let mut pty = Pty::spawn(&bin(), &["tui", "-"]);
    let status = pty.wait_exit();
    assert_eq!(status.code(), Some(2), "exit status {status}");
    pty.wait_for("standard input is the terminal");
}

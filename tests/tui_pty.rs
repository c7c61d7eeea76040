//! End to end: the real binary in a pseudo-terminal, driven by keys like a user. Open a shared
//! dataset, run a detector, see the chart, switch theme, quit — exit status 0 and the terminal
//! restored (raw mode off, alternate screen left). Also: SIGTERM and SIGHUP restore the
//! terminal, and an idle workbench uses (almost) no CPU.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{bin, shared_dataset};

struct Pty {
    child: Child,
    master: std::fs::File,
    /// Kept open so that the terminal's settings can be read after the child exits.
    slave: OwnedFd,
    output: Arc<Mutex<Vec<u8>>>,
    _dir: tempfile::TempDir,
}

impl Pty {
    fn spawn(args: &[&str]) -> Pty {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty fills two fds; null name/termios are allowed.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(rc, 0, "openpty failed");
        // SAFETY: both fds were just returned by openpty and are owned here.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .arg("--store")
            .arg(dir.path().join("store.sqlite"))
            .env("PYNOMALY_CONFIG_DIR", dir.path().join("config"))
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY as _, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        let master = std::fs::File::from(master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            child,
            master,
            slave,
            output,
            _dir: dir,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.text().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let text = self.text();
        let tail: String = text
            .chars()
            .rev()
            .take(3000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!("timed out waiting for {needle:?}; last output:\n{tail}");
    }

    fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
        self.master.flush().unwrap();
        // Separate keys from each other (an Esc directly followed by a key reads as Alt-key).
        std::thread::sleep(Duration::from_millis(150));
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the workbench did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Raw mode off: canonical input and echo are back on.
    fn assert_restored(&self) {
        // SAFETY: termios is plain data; tcgetattr fills it from a valid fd.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut t) };
        assert_eq!(rc, 0);
        assert!(
            t.c_lflag & libc::ICANON != 0,
            "raw mode left on (ICANON off)"
        );
        assert!(t.c_lflag & libc::ECHO != 0, "raw mode left on (ECHO off)");
        std::thread::sleep(Duration::from_millis(200));
        let text = self.text();
        let entered = text.rfind("\x1b[?1049h").expect("alternate screen entered");
        let left = text.rfind("\x1b[?1049l").expect("alternate screen left");
        assert!(
            left > entered,
            "the alternate screen was not left at the end"
        );
    }

    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name (which is in parentheses): utime is 14th, stime 15th.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

#[test]
fn open_run_chart_theme_and_quit() {
    let glass = shared_dataset("glass");
    let mut pty = Pty::spawn(&["tui", glass.to_str().unwrap()]);
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
        let mut pty = Pty::spawn(&["tui", "demo:cardio"]);
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

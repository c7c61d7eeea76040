//! A pseudo-terminal driver for the real binary: spawn it on a pty of 120×40, send keys, wait
//! for text in its output, check that the terminal was restored. Used by tests/tui_pty.rs and
//! benches/tui_latency.rs.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Pty {
    pub child: Child,
    master: std::fs::File,
    /// Kept open so that the terminal's settings can be read after the child exits.
    slave: OwnedFd,
    output: Arc<Mutex<Vec<u8>>>,
    _dir: tempfile::TempDir,
}

impl Pty {
    pub fn spawn(bin: &std::path::Path, args: &[&str]) -> Pty {
        Pty::spawn_with_env(bin, args, &[])
    }

    /// As [`Pty::spawn`], with extra environment variables.
    pub fn spawn_with_env(bin: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Pty {
        Pty::spawn_full(bin, args, env, None)
    }

    /// As [`Pty::spawn`], with standard input a pipe (the terminal stays the controlling one,
    /// as for `cat data.csv | pynomaly`): write to `child.stdin`, then drop it.
    pub fn spawn_piped(bin: &std::path::Path, args: &[&str]) -> Pty {
        Pty::spawn_full(bin, args, &[], Some(Stdio::piped()))
    }

    fn spawn_full(
        bin: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<Stdio>,
    ) -> Pty {
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
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .arg("--store")
            .arg(dir.path().join("store.sqlite"))
            .env("PYNOMALY_CONFIG_DIR", dir.path().join("config"))
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .env_remove("PYNOMALY_TEST_PANIC")
            .envs(env.iter().copied())
            .stdin(stdin.unwrap_or_else(|| Stdio::from(slave.try_clone().unwrap())))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                // Standard output is always the terminal; standard input may be a pipe.
                libc::ioctl(1, libc::TIOCSCTTY as _, 0);
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

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    pub fn wait_for(&self, needle: &str) {
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

    pub fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
        self.master.flush().unwrap();
        // Separate keys from each other (an Esc directly followed by a key reads as Alt-key).
        std::thread::sleep(Duration::from_millis(150));
    }

    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
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
    pub fn assert_restored(&self) {
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

    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name (which is in parentheses): utime is 14th, stime 15th.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

impl Pty {
    /// Bytes received so far (offset for [`Pty::wait_for_after`]).
    pub fn len(&self) -> usize {
        self.output.lock().unwrap().len()
    }

    /// Waits until `needle` appears in output received after `offset`; returns when it did.
    pub fn wait_for_after(
        &self,
        offset: usize,
        needle: &str,
        timeout: Duration,
    ) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            {
                let out = self.output.lock().unwrap();
                if String::from_utf8_lossy(&out[offset.min(out.len())..]).contains(needle) {
                    return Some(Instant::now());
                }
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        None
    }

    /// Writes keys without the pause `send` adds.
    pub fn send_now(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }
}

impl Drop for Pty {
    /// A failed assertion must not leave the workbench running (and burning CPU) behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

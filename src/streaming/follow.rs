//! Following a file as it grows, like `tail -F`: complete lines as they are appended; a file
//! replaced under the same name (log rotation) is read to its end and then the new one from its
//! start; a file truncated in place is read again from its start. Standard input is read the same
//! way, on a thread of its own so that a stop request is seen while it blocks.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// The longest record accepted: a file without line breaks must not fill the memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What a poll found.
#[derive(Debug, PartialEq, Eq)]
pub enum Poll {
    /// Lines (possibly none) were appended to `out`.
    Lines,
    /// The file was replaced or truncated: the lines that follow come from a new start (a
    /// header may come again).
    Restarted,
    /// The input ended (standard input closed; a file in `--once` mode at its end).
    Ended,
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("{name}: {source}")]
    Io {
        name: String,
        source: std::io::Error,
    },
    #[error("{name}: a record longer than {} MiB (no line break)", MAX_LINE_BYTES >> 20)]
    LineTooLong { name: String },
}

/// A growing source of lines.
pub enum LineSource {
    File(FollowFile),
    Stdin(StdinLines),
    Replay(Replay),
}

impl LineSource {
    /// `-` is standard input, anything else a file followed from its start.
    pub fn open(spec: &str, once: bool) -> Result<LineSource, FollowError> {
        if spec == "-" {
            return Ok(LineSource::Stdin(StdinLines::start()));
        }
        FollowFile::open(Path::new(spec), once).map(LineSource::File)
    }

    /// Appends the complete lines available within about `wait` to `out`.
    pub fn poll(&mut self, out: &mut Vec<String>, wait: Duration) -> Result<Poll, FollowError> {
        match self {
            LineSource::File(f) => f.poll(out, wait),
            LineSource::Stdin(s) => s.poll(out, wait),
            LineSource::Replay(r) => r.poll(out, wait),
        }
    }

    pub fn name(&self) -> String {
        match self {
            LineSource::File(f) => f.path.display().to_string(),
            LineSource::Stdin(_) => "<stdin>".into(),
            LineSource::Replay(r) => r.name.clone(),
        }
    }
}

pub struct FollowFile {
    path: PathBuf,
    reader: BufReader<File>,
    /// Bytes consumed from the open file.
    offset: u64,
    identity: Option<(u64, u64)>,
    partial: Vec<u8>,
    once: bool,
}

fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

impl FollowFile {
    pub fn open(path: &Path, once: bool) -> Result<FollowFile, FollowError> {
        let io = |source| FollowError::Io {
            name: path.display().to_string(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if meta.is_dir() {
            return Err(io(std::io::Error::other("is a folder, not a file")));
        }
        Ok(FollowFile {
            path: path.to_path_buf(),
            identity: identity(&meta),
            reader: BufReader::with_capacity(1 << 16, file),
            offset: 0,
            partial: Vec::new(),
            once,
        })
    }

    fn io(&self, source: std::io::Error) -> FollowError {
        FollowError::Io {
            name: self.path.display().to_string(),
            source,
        }
    }

    fn poll(&mut self, out: &mut Vec<String>, wait: Duration) -> Result<Poll, FollowError> {
        let before = out.len();
        self.read_available(out)?;
        if out.len() > before {
            return Ok(Poll::Lines);
        }
        if self.once {
            // A last line without a line break still counts.
            if !self.partial.is_empty() {
                out.push(String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned());
                return Ok(Poll::Lines);
            }
            return Ok(Poll::Ended);
        }
        // At the end: has the file been replaced or truncated?
        match std::fs::metadata(&self.path) {
            Ok(meta) => {
                let replaced = identity(&meta) != self.identity;
                let truncated = !replaced && meta.len() < self.offset;
                if replaced || truncated {
                    // The old file's last lines were read above; start on the new content.
                    let file = File::open(&self.path).map_err(|e| self.io(e))?;
                    let meta = file.metadata().map_err(|e| self.io(e))?;
                    self.identity = identity(&meta);
                    self.reader = BufReader::with_capacity(1 << 16, file);
                    self.reader
                        .seek(SeekFrom::Start(0))
                        .map_err(|e| self.io(e))?;
                    self.offset = 0;
                    self.partial.clear();
                    return Ok(Poll::Restarted);
                }
            }
            // Between a rotation's rename and the new file's creation: wait for it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io(e)),
        }
        std::thread::sleep(wait);
        Ok(Poll::Lines)
    }

    fn read_available(&mut self, out: &mut Vec<String>) -> Result<(), FollowError> {
        loop {
            let budget = (MAX_LINE_BYTES + 1).saturating_sub(self.partial.len()) as u64;
            let n = (&mut self.reader)
                .take(budget)
                .read_until(b'\n', &mut self.partial)
                .map_err(|e| self.io(e))?;
            self.offset += n as u64;
            if n == 0 {
                return Ok(());
            }
            if self.partial.last() == Some(&b'\n') {
                let line = std::mem::take(&mut self.partial);
                out.push(text_of(line));
            } else if self.partial.len() > MAX_LINE_BYTES {
                return Err(FollowError::LineTooLong {
                    name: self.path.display().to_string(),
                });
            }
            if out.len() >= 4096 {
                // Enough for one batch; the rest is read on the next poll.
                return Ok(());
            }
        }
    }
}

/// A line without its line break (`\n` or `\r\n`), invalid UTF-8 replaced.
fn text_of(mut line: Vec<u8>) -> String {
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    match String::from_utf8(line) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Standard input, read by a thread: batches of lines, `None` at the end.
pub struct StdinLines {
    rx: Receiver<Result<Vec<String>, FollowError>>,
    ended: bool,
}

impl StdinLines {
    fn start() -> StdinLines {
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        std::thread::spawn(move || {
            // Our own buffer, to see whether more lines are already read without blocking.
            let mut reader = BufReader::with_capacity(1 << 16, std::io::stdin());
            let mut partial = Vec::new();
            loop {
                let mut batch = Vec::new();
                let mut ended = false;
                // One line (blocking), then whatever else is already buffered.
                loop {
                    let budget = (MAX_LINE_BYTES + 1).saturating_sub(partial.len()) as u64;
                    match (&mut reader).take(budget).read_until(b'\n', &mut partial) {
                        Ok(0) => {
                            if !partial.is_empty() {
                                batch.push(text_of(std::mem::take(&mut partial)));
                            }
                            ended = true;
                            break;
                        }
                        Ok(_) if partial.last() == Some(&b'\n') => {
                            batch.push(text_of(std::mem::take(&mut partial)));
                            if reader.buffer().is_empty() || batch.len() >= 4096 {
                                break;
                            }
                        }
                        Ok(_) if partial.len() > MAX_LINE_BYTES => {
                            let _ = tx.send(Err(FollowError::LineTooLong {
                                name: "<stdin>".into(),
                            }));
                            return;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let _ = tx.send(Err(FollowError::Io {
                                name: "<stdin>".into(),
                                source: e,
                            }));
                            return;
                        }
                    }
                }
                if !batch.is_empty() && tx.send(Ok(batch)).is_err() {
                    return;
                }
                if ended {
                    return;
                }
            }
        });
        StdinLines { rx, ended: false }
    }

    fn poll(&mut self, out: &mut Vec<String>, wait: Duration) -> Result<Poll, FollowError> {
        if self.ended {
            return Ok(Poll::Ended);
        }
        match self.rx.recv_timeout(wait) {
            Ok(batch) => {
                out.extend(batch?);
                Ok(Poll::Lines)
            }
            Err(RecvTimeoutError::Timeout) => Ok(Poll::Lines),
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Ok(Poll::Ended)
            }
        }
    }
}

/// Text already in memory (a bundled demo) handed out as if it were appended at `rate` lines
/// per second (all at once without a rate), so that a live view has something to show.
pub struct Replay {
    name: String,
    lines: Vec<String>,
    next: usize,
    rate: Option<f64>,
    started: Option<std::time::Instant>,
}

impl Replay {
    pub fn new(name: String, text: &str, rate: Option<f64>) -> Replay {
        Replay {
            name,
            lines: text.lines().map(str::to_string).collect(),
            next: 0,
            rate: rate.filter(|r| *r > 0.0),
            started: None,
        }
    }

    fn poll(&mut self, out: &mut Vec<String>, wait: Duration) -> Result<Poll, FollowError> {
        if self.next >= self.lines.len() {
            return Ok(Poll::Ended);
        }
        let due = match self.rate {
            None => self.lines.len(),
            Some(rate) => {
                let started = *self.started.get_or_insert_with(std::time::Instant::now);
                // The header is due at once; then `rate` lines per second.
                let due = 1 + (started.elapsed().as_secs_f64() * rate) as usize;
                if due <= self.next {
                    let wait_s = ((self.next as f64) / rate - started.elapsed().as_secs_f64())
                        .clamp(0.0, wait.as_secs_f64());
                    std::thread::sleep(Duration::from_secs_f64(wait_s));
                    return Ok(Poll::Lines);
                }
                due
            }
        };
        let end = due.min(self.lines.len()).min(self.next + 4096);
        out.extend(self.lines[self.next..end].iter().cloned());
        self.next = end;
        Ok(Poll::Lines)
    }
}

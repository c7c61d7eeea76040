//! Background jobs as both faces run them: an id, a cancel token and a generation per kind, so
//! that a slower, older result (a `Prepare` started before the user changed scaling) never
//! overwrites a newer one; and progress throttled in one place. A job that runs until it is
//! stopped (following a stream) is a kind that does not supersede, stopped by its token.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::detectors::ProgressFn;

/// What a job does; a newer job of a kind that [`JobKind::supersedes`] cancels the older one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum JobKind {
    Load,
    Prepare,
    Fit,
    Automl,
    /// Reading the run list for a view.
    RunList,
    /// Reading one or more runs (details, scores) for a view.
    RunRead,
    /// Explaining a row for the row detail.
    Explain,
    /// Searching, counting or sorting the rows of the loaded table for the Data pane.
    Lookup,
    /// Following a growing source until stopped.
    Watch,
}

impl JobKind {
    /// Whether only the newest job of this kind matters (its older results are stale).
    pub fn supersedes(self) -> bool {
        matches!(
            self,
            JobKind::Load
                | JobKind::Prepare
                | JobKind::RunList
                | JobKind::RunRead
                | JobKind::Explain
                | JobKind::Lookup
        )
    }
}

/// Set by whoever wants the job to stop; checked by the job between (and inside) its steps.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The flag itself, for a detector's [`crate::detectors::JobCtx`].
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

/// A started job: give it to the work, get it back with the result.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: u64,
    pub kind: JobKind,
    /// The kind's generation when this job started.
    pub generation: u64,
    pub cancel: CancelToken,
}

/// The jobs a face has started and which of them still matter.
#[derive(Debug, Default)]
pub struct JobBoard {
    next_id: u64,
    generations: BTreeMap<JobKind, u64>,
    live: BTreeMap<u64, Ticket>,
}

impl JobBoard {
    /// Starts a job of `kind`; an older live job of a superseding kind is cancelled.
    pub fn start(&mut self, kind: JobKind) -> Ticket {
        self.next_id += 1;
        let generation = self.generations.entry(kind).or_insert(0);
        *generation += 1;
        let ticket = Ticket {
            id: self.next_id,
            kind,
            generation: *generation,
            cancel: CancelToken::default(),
        };
        if kind.supersedes() {
            for old in self.live.values().filter(|t| t.kind == kind) {
                old.cancel.cancel();
            }
            self.live.retain(|_, t| t.kind != kind);
        }
        self.live.insert(ticket.id, ticket.clone());
        ticket
    }

    /// Whether a result of this job should still be applied: the job is the newest of its kind
    /// when the kind supersedes, and was not cancelled.
    pub fn is_current(&self, ticket: &Ticket) -> bool {
        let newest = !ticket.kind.supersedes()
            || self.generations.get(&ticket.kind) == Some(&ticket.generation);
        newest && !ticket.cancel.is_cancelled()
    }

    /// The job has reported its result: forget it. Returns [`JobBoard::is_current`].
    pub fn finish(&mut self, ticket: &Ticket) -> bool {
        self.live.remove(&ticket.id);
        let newest = !ticket.kind.supersedes()
            || self.generations.get(&ticket.kind) == Some(&ticket.generation);
        newest
    }

    /// Jobs still running.
    pub fn live(&self) -> impl Iterator<Item = &Ticket> {
        self.live.values()
    }

    /// Cancels every live job (on quit, on a signal).
    pub fn cancel_all(&self) {
        for t in self.live.values() {
            t.cancel.cancel();
        }
    }
}

/// Progress reported at most once per whole percent and per `min_interval`, whatever the
/// caller's loop rate, so that a fast loop cannot flood a face.
pub fn throttled(
    min_interval: std::time::Duration,
    report: impl Fn(f64) + Send + Sync + 'static,
) -> Arc<ProgressFn> {
    let last_percent = AtomicU64::new(u64::MAX);
    let started = Instant::now();
    let last_at_ms = AtomicU64::new(0);
    let interval_ms = min_interval.as_millis() as u64;
    Arc::new(move |fraction: f64| {
        let percent = (fraction.clamp(0.0, 1.0) * 100.0) as u64;
        let now_ms = started.elapsed().as_millis() as u64;
        let done = percent >= 100;
        if last_percent.load(Ordering::Relaxed) == percent {
            return;
        }
        let last = last_at_ms.load(Ordering::Relaxed);
        if !done && last != 0 && now_ms.saturating_sub(last) < interval_ms {
            return;
        }
        last_percent.store(percent, Ordering::Relaxed);
        last_at_ms.store(now_ms.max(1), Ordering::Relaxed);
        report(fraction);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[test]
    fn a_newer_job_of_a_superseding_kind_makes_the_older_stale() {
        let mut board = JobBoard::default();
        let first = board.start(JobKind::Prepare);
        let second = board.start(JobKind::Prepare);
        assert!(first.cancel.is_cancelled(), "the older one is told to stop");
        assert!(!board.is_current(&first));
        assert!(board.is_current(&second));
        // The older result arriving last changes nothing.
        assert!(board.finish(&second));
        assert!(!board.finish(&first));
    }

    #[test]
    fn fits_do_not_supersede_each_other_but_can_be_cancelled() {
        let mut board = JobBoard::default();
        let a = board.start(JobKind::Fit);
        let b = board.start(JobKind::Fit);
        assert!(board.is_current(&a) && board.is_current(&b));
        assert_eq!(board.live().count(), 2);
        board.cancel_all();
        assert!(a.cancel.is_cancelled() && b.cancel.is_cancelled());
        assert!(!board.is_current(&a));
        assert!(
            board.finish(&a),
            "a cancelled fit still reports (its run is stored)"
        );
    }

    #[test]
    fn kinds_have_their_own_generations() {
        let mut board = JobBoard::default();
        let load = board.start(JobKind::Load);
        let _prepare = board.start(JobKind::Prepare);
        assert!(board.is_current(&load));
    }

    #[test]
    fn progress_is_throttled_per_percent_and_interval() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let report = throttled(Duration::from_secs(3600), move |f| {
            sink.lock().unwrap().push(f)
        });
        for i in 0..=10_000 {
            report(i as f64 / 10_000.0);
        }
        // The first report, then nothing within the hour but the end.
        assert_eq!(*seen.lock().unwrap(), vec![0.0, 1.0]);

        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let report = throttled(Duration::ZERO, move |f| sink.lock().unwrap().push(f));
        for i in 0..=10_000 {
            report(i as f64 / 10_000.0);
        }
        assert_eq!(seen.lock().unwrap().len(), 101, "once per percent");
    }
}

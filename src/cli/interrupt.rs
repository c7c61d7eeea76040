//! Ctrl-C, SIGTERM and SIGHUP during a headless job: the first one cancels the job through its
//! [`Ticket`]'s token (the same cancellation the workbench uses), so the stored run ends as
//! `cancelled` (a search keeps its finished trials); a second one exits at once.

use crate::service::jobs::{JobBoard, JobKind, Ticket};

pub struct StopOnInterrupt {
    ticket: Ticket,
}

impl StopOnInterrupt {
    /// Starts a job of `kind` on a board of its own and routes the signals to its token.
    pub fn start(kind: JobKind) -> StopOnInterrupt {
        let ticket = JobBoard::default().start(kind);
        #[cfg(unix)]
        {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            let flag = ticket.cancel.flag();
            // A closed SSH session (SIGHUP) is an interruption like the others.
            for signal in [SIGINT, SIGTERM, SIGHUP] {
                // Order matters: the conditional exit sees the flag before this signal sets it.
                let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, flag.clone());
                let _ = signal_hook::flag::register(signal, flag.clone());
            }
        }
        StopOnInterrupt { ticket }
    }

    pub fn ticket(&self) -> &Ticket {
        &self.ticket
    }

    /// True if the job was interrupted. Afterwards the token stays set, so that the next
    /// Ctrl-C exits at once (signal handlers cannot be given back to the default).
    pub fn finish(self) -> bool {
        let interrupted = self.ticket.cancel.is_cancelled();
        self.ticket.cancel.cancel();
        interrupted
    }
}

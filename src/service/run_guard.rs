//! A stored run that can never be left `running` by a live process: the guard ends it as
//! `failed` (or `cancelled`) on every path that does not finish it, panics included.

use crate::data::{Loaded, Prepared};
use crate::detectors::Params;
use crate::record::{self, FinishedRun};
use crate::store::{RunEnd, RunKind, Store};

use super::error::{Fault, ServiceError, ServiceResult};

pub struct RunGuard<'s> {
    /// `None` when nothing is recorded (`--no-store`): every method is then a no-op.
    open: Option<(&'s mut Store, i64)>,
}

impl<'s> RunGuard<'s> {
    /// Inserts the run as `running` before any work, so that even a killed process leaves a trace.
    pub fn begin(
        store: Option<&'s mut Store>,
        kind: RunKind,
        loaded: &Loaded,
        prepared: &Prepared,
        detector: &str,
        params: &Params,
        seed: u64,
    ) -> ServiceResult<RunGuard<'s>> {
        let open = match store {
            Some(store) => {
                let id = record::begin(store, kind, loaded, prepared, detector, params, seed)?;
                Some((store, id))
            }
            None => None,
        };
        Ok(RunGuard { open })
    }

    pub fn id(&self) -> Option<i64> {
        self.open.as_ref().map(|(_, id)| *id)
    }

    pub fn store(&mut self) -> Option<&mut Store> {
        self.open.as_mut().map(|(s, _)| &mut **s)
    }

    /// Ends the run as failed (or cancelled) with the error's message, and hands the error back.
    pub fn fail(mut self, error: ServiceError) -> ServiceError {
        if let Some((store, id)) = self.open.take() {
            let end = match error.fault {
                Fault::Cancelled => RunEnd::Cancelled,
                _ => RunEnd::Failed,
            };
            if let Err(e) = store.end_run(id, end, &error.message) {
                return ServiceError::from(e);
            }
        }
        error
    }

    /// Stores results, scores and model; the run is `done`.
    pub fn finish<M: serde::Serialize, T: serde::Serialize>(
        mut self,
        run: FinishedRun<'_, M, T>,
    ) -> ServiceResult<()> {
        if let Some((store, id)) = self.open.take() {
            if let Err(e) = record::finish(store, id, run) {
                let e = ServiceError::from(e);
                let _ = store.end_run(id, RunEnd::Failed, &e.message);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Ends the run with the given outcome written by `end` (e.g. a search without a best
    /// trial); the guard only steps in if `end` fails.
    pub fn end_with(
        mut self,
        end: impl FnOnce(&mut Store, i64) -> crate::store::StoreResult<()>,
    ) -> ServiceResult<()> {
        if let Some((store, id)) = self.open.take() {
            if let Err(e) = end(store, id) {
                let e = ServiceError::from(e);
                let _ = store.end_run(id, RunEnd::Failed, &e.message);
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if let Some((store, id)) = self.open.take() {
            let reason = if std::thread::panicking() {
                "internal error: the run stopped on a bug in Pynomaly (a panic)"
            } else {
                "internal error: the run ended without a result"
            };
            let _ = store.end_run(id, RunEnd::Failed, reason);
        }
    }
}

//! What several components use, passed to each of them by `App`: the theme and keymap, the
//! status line, the table on screen and its preparation, the results, the running job and its
//! queue, the run settings (seed, threshold), and requests to `App` (open an overlay, bring a
//! pane forward, show a result in the charts) that it applies when the component returns.

use std::collections::VecDeque;
use std::sync::Arc;

use super::app::{
    Effect, ExplainRequest, ExportRequest, FitRequest, PreparedData, Projection, RunResult,
};
use super::keymap::Keymap;
use super::overlays::edit_value::ExportKind;
use super::overlays::Overlay;
use super::panes::Pane;
use super::theme::{Theme, ThemeCatalog};
use crate::data::{DatasetProfile, Loaded, PrepareSpec};
use crate::detectors::{registry, Params};
use crate::service::detect::{Dataset, DetectRequest};
use crate::service::jobs::{JobBoard, JobKind, Ticket};
use crate::threshold::ThresholdMethod;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Ok,
    Warn,
    Error,
}

#[derive(Debug, Clone)]
pub struct Status {
    pub text: String,
    pub level: Level,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub ticket: Ticket,
    pub detector: &'static str,
    pub fraction: f64,
}

/// The table on screen and its preparation: the Data pane edits the spec, every run and search
/// uses the prepared matrix.
#[derive(Debug, Clone, Default)]
pub struct DatasetState {
    pub loaded: Option<Arc<Loaded>>,
    /// Seconds reading the file took (part of every run's `load_s`).
    pub read_s: f64,
    pub profile: Option<DatasetProfile>,
    /// The user's choices; fitted on every change.
    pub spec: PrepareSpec,
    pub prepared: Option<PreparedData>,
    /// A load or a preparation is in flight.
    pub loading: bool,
}

/// What a component asks of `App`; applied, in order, when the component returns.
#[derive(Debug)]
pub enum Request {
    /// Open this overlay (it takes the keyboard until it closes).
    Open(Overlay),
    /// Bring this pane forward.
    Go(Pane),
    /// Show `results[i]` in the Charts pane and bring it forward.
    ShowResult(usize),
}

/// The state more than one component reads or changes; `App` lends it to each of them.
pub struct Shared {
    pub keymap: Keymap,
    pub themes: ThemeCatalog,
    pub theme_name: String,
    pub status: Status,
    pub dataset: DatasetState,
    /// Finished runs of the session and stored runs opened; the Charts pane shows one.
    pub results: Vec<RunResult>,
    /// The running fit or search (one at a time; more fits queue).
    pub job: Option<Job>,
    /// Every background job's ticket: ids, cancel tokens, generations.
    pub jobs: JobBoard,
    pub queue: VecDeque<(&'static str, Params)>,
    /// The seed of randomised detectors and of AutoML searches (`S` in the Detect pane).
    pub seed: u64,
    /// How runs flag rows (the CLI's `--contamination` / `--threshold`).
    pub threshold: ThresholdMethod,
    pub store_label: String,
    /// Start-up problems, shown again once the first data is ready.
    pub startup_warnings: Vec<String>,
    /// Said with the next "Matrix ready" (what a data choice did beyond the obvious).
    pub ready_note: Option<String>,
    /// Said with the next finished fit (a re-run on other data than its own), so that the
    /// "finished" message does not hide it.
    pub fit_note: Option<String>,
    requests: Vec<Request>,
}

impl Shared {
    /// A fit or search has reported its result: it is no longer running.
    pub fn end_job(&mut self, ticket: &Ticket) {
        self.jobs.finish(ticket);
        if self.job.as_ref().is_some_and(|j| j.ticket.id == ticket.id) {
            self.job = None;
        }
    }

    pub fn new(
        keymap: Keymap,
        themes: ThemeCatalog,
        theme_name: String,
        store_label: String,
    ) -> Shared {
        Shared {
            keymap,
            themes,
            theme_name,
            status: Status {
                text: "Loading…".into(),
                level: Level::Info,
            },
            dataset: DatasetState::default(),
            results: Vec::new(),
            job: None,
            jobs: JobBoard::default(),
            queue: VecDeque::new(),
            seed: 0,
            threshold: ThresholdMethod::Contamination(0.1),
            store_label,
            startup_warnings: Vec::new(),
            ready_note: None,
            fit_note: None,
            requests: Vec::new(),
        }
    }

    pub fn theme(&self) -> &Theme {
        self.themes
            .get(&self.theme_name)
            .or_else(|| self.themes.get("terminal"))
            .expect("the terminal theme is built in")
    }

    pub fn set_status(&mut self, level: Level, text: impl Into<String>) {
        self.status = Status {
            text: text.into(),
            level,
        };
    }

    pub fn set_theme(&mut self, name: String) -> Vec<Effect> {
        self.set_status(Level::Info, format!("Theme: {name}"));
        self.theme_name = name.clone();
        vec![Effect::RememberTheme(name)]
    }

    // ----- requests to App ---------------------------------------------------------------

    /// Opens an overlay once the component returns.
    pub fn open(&mut self, overlay: Overlay) {
        self.requests.push(Request::Open(overlay));
    }

    /// Brings a pane forward once the component returns.
    pub fn go(&mut self, pane: Pane) {
        self.requests.push(Request::Go(pane));
    }

    /// Shows `results[i]` in the Charts pane once the component returns.
    pub fn show_result(&mut self, i: usize) {
        self.requests.push(Request::ShowResult(i));
    }

    pub fn take_requests(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.requests)
    }

    // ----- jobs --------------------------------------------------------------------------

    pub fn cancel_job(&mut self) {
        let queued = self.queue.len();
        self.queue.clear();
        match &self.job {
            Some(job) => {
                job.ticket.cancel.cancel();
                self.set_status(
                    Level::Warn,
                    format!(
                        "Cancelling {}…{}",
                        job.detector,
                        if queued > 0 {
                            format!(" ({} queued, dropped)", super::app::runs(queued))
                        } else {
                            String::new()
                        }
                    ),
                );
            }
            None => self.set_status(Level::Info, "Nothing is running"),
        }
    }

    /// Prepares the matrix again with the current spec (a newer preparation makes an older one
    /// stale).
    pub fn reprepare(&mut self) -> Vec<Effect> {
        let Some(loaded) = self.dataset.loaded.clone() else {
            return Vec::new();
        };
        self.dataset.loading = true;
        self.set_status(Level::Info, "Preparing the matrix…");
        vec![Effect::Prepare {
            ticket: self.jobs.start(JobKind::Prepare),
            loaded,
            spec: self.dataset.spec.clone(),
        }]
    }

    /// Starts a fit now (the caller has checked that nothing runs).
    pub fn start_fit(&mut self, detector: &'static str, params: Params) -> Vec<Effect> {
        let Some((data, projection)) = self.fit_data() else {
            self.set_status(
                Level::Warn,
                "No data prepared yet: open a file in the Data pane",
            );
            return Vec::new();
        };
        let Ok(info) = registry::find(detector) else {
            self.set_status(Level::Error, format!("unknown detector {detector}"));
            return Vec::new();
        };
        let ticket = self.jobs.start(JobKind::Fit);
        self.job = Some(Job {
            ticket: ticket.clone(),
            detector,
            fraction: 0.0,
        });
        self.set_status(
            Level::Info,
            format!("Running {detector}… (x or Esc cancels)"),
        );
        vec![Effect::Fit(Box::new(FitRequest {
            ticket,
            request: DetectRequest {
                detector: info,
                params,
                threshold: self.threshold,
                seed: self.seed,
            },
            data,
            projection,
        }))]
    }

    /// A job's error in the status line: the message the CLI prints; a cancel is not an error.
    pub fn report_job_error(&mut self, e: crate::service::ServiceError) {
        match e.fault {
            crate::service::Fault::Cancelled => self.set_status(Level::Warn, e.message),
            _ => self.set_status(Level::Error, e.message),
        }
    }

    /// The dataset on screen as the application layer takes it (cheap: shared pointers).
    pub fn fit_data(&self) -> Option<(Dataset, Projection)> {
        let loaded = self.dataset.loaded.clone()?;
        let p = self.dataset.prepared.as_ref()?;
        Some((
            Dataset {
                loaded,
                prepared: p.prepared.clone(),
                load_s: self.dataset.read_s + p.prepare_s,
            },
            p.projection.clone(),
        ))
    }

    /// The fingerprint and prepared matrix on screen (cheap: shared pointers).
    pub fn on_screen(&self) -> Option<(String, PreparedData)> {
        let loaded = self.dataset.loaded.as_ref()?;
        let prepared = self.dataset.prepared.as_ref()?;
        Some((loaded.fingerprint.clone(), prepared.clone()))
    }
}

impl Shared {
    /// Starts explaining the row at `rank` (0 = highest score) of result `index`: the row detail's
    /// work. The result's data must be the data loaded (its rows are read from there).
    pub fn explain_row(&mut self, index: usize, rank: usize) -> Result<Effect, String> {
        let r = self
            .results
            .get(index)
            .ok_or_else(|| "no result to explain".to_string())?;
        let position = *r
            .order
            .get(rank)
            .ok_or_else(|| format!("no row at rank {}", rank + 1))?;
        let (loaded, prepared) = self.data_of(r, "explain its rows")?;
        if r.model.is_none() && r.run_id.is_none() {
            return Err("this result has no model to explain it with".into());
        }
        let ticket = self.jobs.start(JobKind::Explain);
        Ok(Effect::Explain(Box::new(ExplainRequest {
            ticket,
            model: r.model.clone(),
            run_id: r.run_id,
            loaded,
            prepared,
            scores: r.scores.clone(),
            row_id: r.row_ids[position],
            seed: self.seed,
        })))
    }
}

impl Shared {
    /// Starts writing result `index` to `path`: its flagged rows or every row with the original
    /// columns, or the Markdown report of its top rows. The flags are those at the threshold
    /// shown (moved with +/-), as the charts draw them.
    pub fn export(
        &mut self,
        index: usize,
        kind: ExportKind,
        path: &str,
        option: crate::tui::overlays::edit_value::ExportOption,
    ) -> Result<Effect, String> {
        use crate::service::export::OriginalColumns;
        use crate::tui::overlays::edit_value::{ColumnChoice, ExportOption};
        if path.is_empty() {
            return Err("type a file name to write to".into());
        }
        let path = std::path::PathBuf::from(path);
        if kind != ExportKind::Report
            && crate::service::export::ExportFormat::of_path(&path).is_none()
        {
            return Err(format!(
                "{}: the file name must end in .csv, .parquet or .json",
                path.display()
            ));
        }
        let r = self
            .results
            .get(index)
            .ok_or_else(|| "no result to export".to_string())?;
        let (loaded, prepared) = self.data_of(r, "export its rows")?;
        let mut flags = vec![0u8; r.scores.len()];
        for &i in r.order.iter().take(r.flagged) {
            flags[i] = 1;
        }
        let params = r.params.describe();
        let mut context = vec![
            ("dataset".to_string(), r.source.clone()),
            ("detector".to_string(), r.detector.clone()),
            (
                "parameters".to_string(),
                if params.is_empty() {
                    "(none)".to_string()
                } else {
                    params.join(", ")
                },
            ),
            (
                "threshold".to_string(),
                format!(
                    "{} = {} → {} of {} rows flagged",
                    r.threshold_method(),
                    crate::tui::widgets::fmt_num(crate::service::run_view::threshold_value(
                        r.threshold()
                    )),
                    r.flagged,
                    r.scores.len()
                ),
            ),
        ];
        if let Some(id) = r.run_id {
            context.push(("run".to_string(), id.to_string()));
        }
        let (columns, top) = match option {
            ExportOption::Columns(ColumnChoice::All) => (OriginalColumns::All, 0),
            ExportOption::Columns(ColumnChoice::None) => (OriginalColumns::None, 0),
            ExportOption::Columns(ColumnChoice::Features) => {
                let sources = crate::service::explain::source_columns(&prepared);
                (OriginalColumns::These(sources), 0)
            }
            ExportOption::TopRows(k) => (OriginalColumns::None, k),
        };
        Ok(Effect::Export(Box::new(ExportRequest {
            kind,
            path,
            columns,
            top,
            loaded,
            prepared,
            row_ids: r.row_ids.clone(),
            scores: r.scores.clone(),
            flags,
            model: r.model.clone(),
            run_id: r.run_id,
            context,
            seed: self.seed,
        })))
    }
}

impl Shared {
    /// The loaded table and matrix, when they are the data of result `r` (row for row): rows are
    /// explained and exported from them. `to` completes the message when they are not.
    fn data_of(
        &self,
        r: &RunResult,
        to: &str,
    ) -> Result<(Arc<Loaded>, Arc<crate::data::Prepared>), String> {
        let (Some(loaded), Some(data)) = (&self.dataset.loaded, &self.dataset.prepared) else {
            return Err(format!("load the result's dataset first to {to}"));
        };
        if data.prepared.matrix.row_ids != r.row_ids {
            return Err(format!(
                "this result is of other data ({}): open that file to {to}",
                r.source
            ));
        }
        Ok((loaded.clone(), data.prepared.clone()))
    }

    /// The newest result of the data loaded now (row for row), if any: its scores and flags
    /// join the Data pane's rows.
    pub fn result_of_loaded(&self) -> Option<usize> {
        let rows = &self.dataset.prepared.as_ref()?.prepared.matrix.row_ids;
        self.results.iter().rposition(|r| &r.row_ids == rows)
    }
}

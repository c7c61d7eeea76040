//! The workbench's state and its routing, without a terminal: a key or a background message goes
//! in, the state changes and [`Effect`]s (work to start) come out. The event loop in `tui::run`
//! executes effects on background threads; tests drive this type directly.
//!
//! `App` holds the pane in front, the open overlay, every pane's state ([`Panes`]) and what they
//! share ([`Shared`]). It handles the global actions (quit, panes, themes, help, palette,
//! cancel), hands every other action to the pane in front and every key to the open overlay,
//! routes each background result to where it belongs, and applies what components request
//! through `Shared` (open an overlay, bring a pane forward).

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::{Action, Context, Key, Keymap};
use super::overlays::compare::Compare;
use super::overlays::help::Help;
use super::overlays::palette::Palette;
use super::overlays::run_detail::RunDetailView;
use super::overlays::theme_picker::ThemePicker;
use super::overlays::Step;
use super::panes::Panes;
use super::shared::Request;
use super::theme::{Theme, ThemeCatalog};
use crate::automl::Trial;
use crate::data::{DatasetProfile, Loaded, PrepareSpec, Source};
use crate::service::automl::AutomlPlan;
use crate::service::detect::{Dataset, DetectRequest};
use crate::service::jobs::{JobKind, Ticket};
pub use crate::service::run_view::{PreparedData, Projection, RunResult, ScatterDots};
use crate::service::ServiceResult;
use crate::store::{RunDetail, RunSummary};

pub use super::overlays::Overlay;
pub use super::panes::Pane;
pub use super::shared::{Job, Level, Shared, Status};

/// Work for the event loop to start in the background.
#[derive(Debug, Clone)]
pub enum Effect {
    Load {
        ticket: Ticket,
        source: Source,
    },
    Prepare {
        ticket: Ticket,
        loaded: Arc<Loaded>,
        spec: PrepareSpec,
    },
    Fit(Box<FitRequest>),
    Automl(Box<AutomlRequest>),
    ListRuns(Ticket),
    LoadRun {
        ticket: Ticket,
        id: i64,
        then: RunUse,
        /// The data on screen (fingerprint and prepared matrix): a stored run of the same table
        /// gets its labels and projection in the charts.
        on_screen: Option<(String, PreparedData)>,
    },
    CompareRuns {
        ticket: Ticket,
        ids: Vec<i64>,
        /// The data on screen: runs of the same table get their ROC and PR curves.
        on_screen: Option<(String, PreparedData)>,
    },
    DeleteRuns(Vec<i64>),
    RememberTheme(String),
    /// Why one row of a result is anomalous (the row detail).
    Explain(Box<ExplainRequest>),
    /// A result's scores (with the original columns) or its explanation report, to a file.
    Export(Box<ExportRequest>),
    /// A search, count or sort of the loaded table's rows.
    Lookup {
        ticket: Ticket,
        loaded: Arc<Loaded>,
        lookup: super::table_lookup::Lookup,
    },
}

#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub kind: super::overlays::edit_value::ExportKind,
    pub path: std::path::PathBuf,
    /// The original columns kept beside the scores.
    pub columns: crate::service::export::OriginalColumns,
    /// The report's rows.
    pub top: usize,
    pub loaded: Arc<Loaded>,
    pub prepared: Arc<crate::data::Prepared>,
    pub row_ids: Vec<u64>,
    pub scores: Vec<f64>,
    /// 1 = flagged at the threshold shown.
    pub flags: Vec<u8>,
    /// For the report: the model (or the stored run's) and what was run.
    pub model: Option<Arc<crate::detectors::Model>>,
    pub run_id: Option<i64>,
    pub context: Vec<(String, String)>,
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub struct ExplainRequest {
    pub ticket: Ticket,
    /// The result's model, or `None` to read the stored run's.
    pub model: Option<Arc<crate::detectors::Model>>,
    pub run_id: Option<i64>,
    pub loaded: Arc<Loaded>,
    pub prepared: Arc<crate::data::Prepared>,
    pub scores: Vec<f64>,
    pub row_id: u64,
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub struct FitRequest {
    pub ticket: Ticket,
    pub request: DetectRequest,
    pub data: Dataset,
    pub projection: Projection,
}

#[derive(Debug, Clone)]
pub struct AutomlRequest {
    pub ticket: Ticket,
    pub plan: AutomlPlan,
    pub data: Dataset,
    pub projection: Projection,
}

/// A finished search: its best trial refitted on all rows and charted.
#[derive(Debug, Clone)]
pub struct AutomlFinished {
    pub job: u64,
    pub best: RunResult,
    pub objective: f64,
    pub stopped_early: bool,
    pub search_s: f64,
}

/// What a run loaded from the store is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunUse {
    Show,
    Rerun,
}

/// A run to compare: its details and, when its data is on screen, its ROC and PR curves.
pub type ComparedRun = (RunDetail, Option<(Vec<(f64, f64)>, Vec<(f64, f64)>)>);

/// A stored run's details, and its chart when its scores were asked for.
pub type LoadedRun = (Box<RunDetail>, Option<Box<RunResult>>);

/// Results coming back from background work; each carries the ticket it was started with, so
/// that a stale result (an older job of a kind the user has since restarted) is dropped.
#[derive(Debug)]
pub enum Msg {
    /// A file read (with the seconds reading took), or why it could not be.
    Loaded {
        ticket: Ticket,
        result: Result<(Arc<Loaded>, f64), String>,
        profile: Option<DatasetProfile>,
    },
    Prepared {
        ticket: Ticket,
        result: Result<PreparedData, String>,
    },
    Progress {
        job: u64,
        fraction: f64,
    },
    FitDone {
        ticket: Ticket,
        result: ServiceResult<Box<RunResult>>,
    },
    Runs {
        ticket: Ticket,
        result: Result<Vec<RunSummary>, String>,
    },
    /// A stored run, with its scores ready for the charts when it has them.
    RunLoaded {
        ticket: Ticket,
        then: RunUse,
        result: Result<LoadedRun, String>,
    },
    Compared {
        ticket: Ticket,
        result: Result<Vec<ComparedRun>, String>,
    },
    Deleted(Result<usize, String>),
    /// One AutoML trial finished (sent as each one ends).
    AutomlTrial {
        job: u64,
        trial: Box<Trial>,
    },
    AutomlDone {
        ticket: Ticket,
        result: ServiceResult<Box<AutomlFinished>>,
    },
    Warning(String),
    Explained {
        ticket: Ticket,
        row_id: u64,
        result: Result<Box<crate::service::explain::ExplainedRow>, String>,
    },
    /// An export finished: what was written where, or why not.
    Exported(Result<String, String>),
    /// A lookup's answer; `None` when it was cancelled.
    LookedUp {
        ticket: Ticket,
        result: Result<Option<super::table_lookup::Found>, String>,
    },
}

pub struct App {
    /// The pane in front.
    pub pane: Pane,
    /// The open overlay; it takes the keyboard.
    pub overlay: Option<Overlay>,
    pub panes: Panes,
    pub shared: Shared,
    pub should_quit: bool,
}

impl App {
    pub fn new(keymap: Keymap, themes: ThemeCatalog, theme_name: &str, store_label: String) -> App {
        let theme_name = if themes.get(theme_name).is_some() {
            theme_name.to_string()
        } else {
            "terminal".to_string()
        };
        App {
            pane: Pane::ALL[0],
            overlay: None,
            panes: Panes::default(),
            shared: Shared::new(keymap, themes, theme_name, store_label),
            should_quit: false,
        }
    }

    pub fn theme(&self) -> &Theme {
        self.shared.theme()
    }

    pub fn set_status(&mut self, level: Level, text: impl Into<String>) {
        self.shared.set_status(level, text);
    }

    /// Effects to run at start-up: load the initial data and list the store.
    pub fn start(&mut self, source: Source) -> Vec<Effect> {
        self.shared.dataset.loading = true;
        self.panes.experiments.loading = true;
        self.set_status(Level::Info, format!("Loading {}…", source.display_name()));
        let ticket = self.shared.jobs.start(JobKind::Load);
        vec![Effect::Load { ticket, source }, self.list_runs()]
    }

    // ----- input -------------------------------------------------------------------------

    pub fn on_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        if self.overlay.is_some() {
            return self.on_overlay_key(ev);
        }
        let Some(key) = Key::from_event(&ev) else {
            return Vec::new();
        };
        match self.shared.keymap.action(self.pane.context(), key) {
            Some(action) => self.on_action(action),
            None => Vec::new(),
        }
    }

    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Quit => {
                self.should_quit = true;
                Vec::new()
            }
            Action::Help => {
                self.overlay = Some(Overlay::Help(Help::default()));
                Vec::new()
            }
            Action::Palette => {
                self.overlay = Some(Overlay::Palette(Palette::default()));
                Vec::new()
            }
            Action::CycleTheme => {
                let next = self
                    .shared
                    .themes
                    .next_after(&self.shared.theme_name)
                    .to_string();
                self.shared.set_theme(next)
            }
            Action::PickTheme => {
                self.overlay = Some(Overlay::ThemePicker(ThemePicker::new(&self.shared)));
                Vec::new()
            }
            Action::Back => {
                if self.shared.job.is_some() {
                    self.shared.cancel_job();
                }
                Vec::new()
            }
            Action::CancelJob => {
                self.shared.cancel_job();
                Vec::new()
            }
            Action::NextPane | Action::PrevPane => {
                let i = Pane::ALL.iter().position(|p| *p == self.pane).unwrap_or(0);
                let n = Pane::ALL.len();
                let j = if action == Action::NextPane {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.go(Pane::ALL[j])
            }
            _ => match Pane::for_action(action) {
                Some(pane) => self.go(pane),
                None => {
                    let mut effects = self
                        .panes
                        .get_mut(self.pane)
                        .on_action(action, &mut self.shared);
                    effects.extend(self.apply_requests());
                    effects
                }
            },
        }
    }

    fn go(&mut self, pane: Pane) -> Vec<Effect> {
        self.pane = pane;
        self.panes.get_mut(pane).on_enter(&mut self.shared)
    }

    /// Applies, in order, what components asked for through `Shared`.
    fn apply_requests(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        for request in self.shared.take_requests() {
            match request {
                Request::Open(overlay) => self.overlay = Some(overlay),
                Request::Go(pane) => effects.extend(self.go(pane)),
                Request::ShowResult(i) => {
                    self.panes.charts.show(i, &self.shared.results);
                    effects.extend(self.go(Pane::Charts));
                }
            }
        }
        effects
    }

    /// A key while an overlay is open: ctrl-c quits; anything else goes to the overlay.
    fn on_overlay_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        let Some(mut overlay) = self.overlay.take() else {
            return Vec::new();
        };
        let ctrl_c = ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c {
            self.should_quit = true;
            return Vec::new();
        }
        let action =
            Key::from_event(&ev).and_then(|k| self.shared.keymap.action(Context::Global, k));
        let step = overlay
            .dialog_mut()
            .on_key(ev, action, &mut self.shared, &mut self.panes);
        let mut effects = match step {
            Step::Stay => {
                self.overlay = Some(overlay);
                Vec::new()
            }
            Step::Close(effects) => effects,
            Step::Run(action) => self.run_by_name(action),
            Step::Work(effects) => {
                self.overlay = Some(overlay);
                effects
            }
        };
        effects.extend(self.apply_requests());
        effects
    }

    /// An action chosen by name (the palette). Where the pane in front has no key for it but
    /// another pane has, that pane comes forward and runs it (`run` from the Data pane runs the
    /// selected detector).
    fn run_by_name(&mut self, action: Action) -> Vec<Effect> {
        let keymap = &self.shared.keymap;
        let here = keymap.bound_in(self.pane.context(), action)
            || keymap.bound_in(Context::Global, action);
        if !here {
            if let Some(pane) = Pane::ALL
                .iter()
                .copied()
                .find(|p| keymap.bound_in(p.context(), action))
            {
                let mut effects = self.go(pane);
                effects.extend(self.on_action(action));
                return effects;
            }
        }
        self.on_action(action)
    }

    // ----- background results ------------------------------------------------------------

    pub fn on_msg(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Loaded { ticket, .. }
            | Msg::Prepared { ticket, .. }
            | Msg::Runs { ticket, .. }
            | Msg::RunLoaded { ticket, .. }
            | Msg::Compared { ticket, .. }
            | Msg::Explained { ticket, .. }
            | Msg::LookedUp { ticket, .. }
                if !self.shared.jobs.finish(&ticket) =>
            {
                // An older job of a kind the user has restarted since: its result is stale.
            }
            Msg::Loaded {
                result: Ok((loaded, read_s)),
                profile,
                ..
            } => {
                self.shared.set_status(
                    Level::Ok,
                    format!(
                        "Loaded {}: {} rows × {} columns",
                        loaded.source,
                        loaded.df.height(),
                        loaded.df.width()
                    ),
                );
                let data = &mut self.shared.dataset;
                data.profile = profile;
                data.loaded = Some(loaded);
                data.read_s = read_s;
                data.prepared = None;
                // A new file starts from automatic choices.
                data.spec = PrepareSpec::default();
                self.panes.data.reset_view();
                return self.shared.reprepare();
            }
            Msg::Loaded { result: Err(e), .. } => {
                self.shared.dataset.loading = false;
                self.shared.set_status(Level::Error, e);
            }
            Msg::Prepared { result: Ok(p), .. } => {
                self.shared.dataset.loading = false;
                let m = &p.prepared.matrix;
                let label = p
                    .prepared
                    .report
                    .label_column
                    .as_deref()
                    .map(|l| format!(", label {l}"))
                    .unwrap_or_default();
                let note = self
                    .shared
                    .ready_note
                    .take()
                    .map(|n| format!(" · {n}"))
                    .unwrap_or_default();
                let ready = format!(
                    "Matrix ready: {} rows × {} features{label}{note}",
                    m.x.nrows(),
                    m.x.ncols()
                );
                // Start-up warnings (an unknown theme, a broken keymap) outlive the first load's
                // messages: they would otherwise flash by unread.
                let warnings = std::mem::take(&mut self.shared.startup_warnings);
                if warnings.is_empty() {
                    self.shared.set_status(Level::Ok, ready);
                } else {
                    self.shared
                        .set_status(Level::Warn, format!("{} · {ready}", warnings.join(" · ")));
                }
                self.shared.dataset.prepared = Some(p);
                // Runs queued before the data was ready can start now.
                if self.shared.job.is_none() {
                    if let Some((name, params)) = self.shared.queue.pop_front() {
                        return self.shared.start_fit(name, params);
                    }
                }
            }
            Msg::Prepared { result: Err(e), .. } => {
                self.shared.dataset.loading = false;
                self.shared.dataset.prepared = None;
                self.shared.set_status(Level::Error, e);
            }
            Msg::Progress { job, fraction } => {
                if let Some(j) = self.shared.job.as_mut().filter(|j| j.ticket.id == job) {
                    j.fraction = fraction;
                }
            }
            Msg::FitDone { ticket, result } => {
                self.shared.end_job(&ticket);
                let mut effects = Vec::new();
                match result {
                    Ok(r) => {
                        let auc = r
                            .roc_auc
                            .map(|a| format!(", ROC-AUC {a:.4}"))
                            .unwrap_or_default();
                        let run = r
                            .run_id
                            .map(|id| format!(" (run {id})"))
                            .unwrap_or_default();
                        let done = format!(
                            "{} finished in {:.2} s: {} flagged{auc}{run}",
                            r.detector, r.fit_s, r.flagged
                        );
                        match self.shared.fit_note.take() {
                            Some(note) => self
                                .shared
                                .set_status(Level::Warn, format!("{done} · {note}")),
                            None => self.shared.set_status(Level::Ok, done),
                        }
                        self.shared.results.push(*r);
                        self.panes
                            .charts
                            .show(self.shared.results.len() - 1, &self.shared.results);
                        effects.push(self.list_runs());
                    }
                    Err(e) => {
                        self.shared.fit_note = None;
                        self.shared.report_job_error(e)
                    }
                }
                if let Some((name, params)) = self.shared.queue.pop_front() {
                    effects.extend(self.shared.start_fit(name, params));
                }
                return effects;
            }
            Msg::Runs {
                result: Ok(runs), ..
            } => {
                self.panes.experiments.set_runs(runs);
            }
            Msg::Runs { result: Err(e), .. } => {
                self.panes.experiments.loading = false;
                self.shared.set_status(Level::Error, e);
            }
            Msg::RunLoaded {
                then: RunUse::Rerun,
                result: Ok((detail, _)),
                ..
            } => {
                let mut effects = self.panes.detect.rerun(&detail, &mut self.shared);
                effects.extend(self.apply_requests());
                return effects;
            }
            Msg::RunLoaded {
                then: RunUse::Show,
                result: Ok((detail, result)),
                ..
            } => {
                if let Some(result) = result {
                    // Replaces an earlier copy of the same run.
                    self.shared.results.retain(|r| r.run_id != result.run_id);
                    self.shared.results.push(*result);
                    self.panes
                        .charts
                        .show(self.shared.results.len() - 1, &self.shared.results);
                }
                self.overlay = Some(Overlay::RunDetail(RunDetailView::new(detail)))
            }
            Msg::RunLoaded { result: Err(e), .. } | Msg::Compared { result: Err(e), .. } => {
                self.shared.set_status(Level::Error, e)
            }
            Msg::Compared {
                result: Ok(runs), ..
            } => self.overlay = Some(Overlay::Compare(Compare::new(runs))),
            Msg::Deleted(Ok(n)) => {
                self.shared
                    .set_status(Level::Ok, format!("Deleted {}", runs(n)));
                return vec![self.list_runs()];
            }
            Msg::Deleted(Err(e)) => self.shared.set_status(Level::Error, e),
            Msg::AutomlTrial { job, trial } => {
                self.panes.automl.on_trial(job, *trial, &mut self.shared);
            }
            Msg::AutomlDone { ticket, result } => {
                self.shared.end_job(&ticket);
                match result {
                    Ok(done) => {
                        let done = *done;
                        let b = &done.best;
                        let run = b.run_id.map(|id| format!(", run {id}")).unwrap_or_default();
                        let auc = b
                            .roc_auc
                            .map(|a| format!(", ROC-AUC {a:.4}"))
                            .unwrap_or_default();
                        self.shared.set_status(
                            Level::Ok,
                            format!(
                                "AutoML{} in {:.1} s: best {} (objective {:.4}{auc}{run}); o shows it in Charts",
                                if done.stopped_early { " stopped early" } else { " finished" },
                                done.search_s,
                                b.detector,
                                done.objective
                            ),
                        );
                        self.shared.results.push(done.best);
                        self.panes.automl.best_result = Some(self.shared.results.len() - 1);
                        self.panes
                            .charts
                            .show(self.shared.results.len() - 1, &self.shared.results);
                        return vec![self.list_runs()];
                    }
                    Err(e) => {
                        self.shared.report_job_error(e);
                        // A failed or cancelled search is still a stored run.
                        return vec![self.list_runs()];
                    }
                }
            }
            Msg::Warning(w) => self.shared.set_status(Level::Warn, w),
            Msg::Exported(Ok(what)) => self.shared.set_status(Level::Ok, what),
            Msg::Exported(Err(e)) => self.shared.set_status(Level::Error, e),
            Msg::LookedUp { result, .. } => match result {
                Ok(Some(found)) => {
                    self.panes.data.receive(found, &mut self.shared);
                    return self.apply_requests();
                }
                Ok(None) => {}
                Err(e) => self.shared.set_status(Level::Error, e),
            },
            Msg::Explained { row_id, result, .. } => match &mut self.overlay {
                Some(Overlay::RowDetail(detail)) => detail.receive(row_id, result),
                _ => {
                    if let Err(e) = result {
                        self.shared.set_status(Level::Error, e);
                    }
                }
            },
        }
        Vec::new()
    }

    /// Asks for the run list again (a newer request makes an older one stale).
    fn list_runs(&mut self) -> Effect {
        self.panes.experiments.list_runs(&mut self.shared)
    }
}

/// `1 run`, `3 runs`.
pub fn runs(n: usize) -> String {
    if n == 1 {
        "1 run".into()
    } else {
        format!("{n} runs")
    }
}

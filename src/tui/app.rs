//! The workbench's state and every transition, without a terminal: a key or a background
//! message goes in, the state changes and [`Effect`]s (work to start) come out. The event loop
//! in `tui::run` executes effects on background threads; tests drive this type directly.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

use super::keymap::{Action, Context, Key, Keymap};
use super::theme::{Theme, ThemeCatalog};
use crate::automl::{Metric, Strategy, Trial};
use crate::data::prepare::{CategoricalEncoding, ColumnChoice, MissingPolicy, Scaling};
use crate::data::{DatasetProfile, Loaded, PrepareSpec, Source};
use crate::detectors::{registry, DetectorInfo, Family, ParamKind, Params};
use crate::service::automl::{AutomlOptions, AutomlPlan};
use crate::service::detect::{Dataset, DetectRequest};
use crate::service::jobs::{JobBoard, JobKind, Ticket};
pub use crate::service::run_view::{PreparedData, Projection, RunResult, ScatterDots};
use crate::service::ServiceResult;
use crate::store::{RunDetail, RunSummary};
use crate::threshold::ThresholdMethod;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Data,
    Detect,
    Charts,
    Experiments,
    Automl,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Data,
        Pane::Detect,
        Pane::Charts,
        Pane::Experiments,
        Pane::Automl,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Data => "Data",
            Pane::Detect => "Detect",
            Pane::Charts => "Charts",
            Pane::Experiments => "Experiments",
            Pane::Automl => "AutoML",
        }
    }

    pub fn context(self) -> Context {
        match self {
            Pane::Data => Context::Data,
            Pane::Detect => Context::Detect,
            Pane::Charts => Context::Charts,
            Pane::Experiments => Context::Experiments,
            Pane::Automl => Context::Automl,
        }
    }
}

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

/// Overlays take the keyboard until closed with Esc.
#[derive(Debug, Clone)]
pub enum Overlay {
    Help {
        scroll: usize,
    },
    EditSeed {
        input: Input,
    },
    Palette {
        input: Input,
        selected: usize,
    },
    ThemePicker {
        selected: usize,
    },
    /// Type a path, or browse: the entries of the folder typed so far are listed (folders end
    /// with `/`, `../` goes up); ↑↓ select one, Enter opens a file or enters a folder.
    OpenFile {
        input: Input,
        completions: Vec<String>,
        selected: Option<usize>,
    },
    EditParam {
        index: usize,
        input: Input,
    },
    Filter {
        input: Input,
    },
    ConfirmDelete {
        ids: Vec<i64>,
    },
    RunDetail(Box<RunDetail>),
    Compare(Vec<RunDetail>),
}

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
    },
    DeleteRuns(Vec<i64>),
    RememberTheme(String),
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
        result: Result<Vec<RunDetail>, String>,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFocus {
    Columns,
    Table,
}

#[derive(Debug, Clone)]
pub struct DataPane {
    pub loaded: Option<Arc<Loaded>>,
    /// Seconds reading the file took (part of every run's `load_s`).
    pub read_s: f64,
    pub profile: Option<DatasetProfile>,
    /// The user's choices; fitted on every change.
    pub spec: PrepareSpec,
    pub prepared: Option<PreparedData>,
    pub selected_column: usize,
    pub row_offset: usize,
    pub col_offset: usize,
    pub focus: DataFocus,
    pub loading: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectFocus {
    Detectors,
    Params,
}

#[derive(Debug, Clone)]
pub struct DetectPane {
    /// Registry entries grouped by family (the order of the list).
    pub entries: Vec<&'static DetectorInfo>,
    pub selected: usize,
    pub focus: DetectFocus,
    pub param_selected: usize,
    /// Edited values per detector (text as typed), defaults until changed.
    pub values: BTreeMap<&'static str, Vec<String>>,
    pub error: Option<String>,
    pub seed: u64,
    /// How runs flag rows (the CLI's `--contamination` / `--threshold`).
    pub threshold: ThresholdMethod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowerChart {
    Roc,
    Pr,
    Projection,
    Time,
}

#[derive(Debug, Clone)]
pub struct ChartsPane {
    pub selected: usize,
    pub lower: LowerChart,
    pub top_offset: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSort {
    Newest,
    RocAuc,
    Detector,
    Dataset,
}

impl RunSort {
    pub fn name(self) -> &'static str {
        match self {
            RunSort::Newest => "newest",
            RunSort::RocAuc => "ROC-AUC",
            RunSort::Detector => "detector",
            RunSort::Dataset => "dataset",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExperimentsPane {
    pub runs: Vec<RunSummary>,
    pub selected: usize,
    pub filter: String,
    pub sort: RunSort,
    pub marked: BTreeSet<i64>,
    pub loading: bool,
}

impl ExperimentsPane {
    /// Runs after filter and sort, as shown.
    pub fn visible(&self) -> Vec<&RunSummary> {
        let needle = self.filter.to_lowercase();
        let mut runs: Vec<&RunSummary> = self
            .runs
            .iter()
            .filter(|r| {
                needle.is_empty()
                    || r.detector.to_lowercase().contains(&needle)
                    || r.dataset
                        .as_deref()
                        .is_some_and(|d| d.to_lowercase().contains(&needle))
                    || r.status.contains(&needle)
            })
            .collect();
        match self.sort {
            RunSort::Newest => {}
            RunSort::RocAuc => runs.sort_by(|a, b| {
                b.roc_auc
                    .unwrap_or(f64::NEG_INFINITY)
                    .total_cmp(&a.roc_auc.unwrap_or(f64::NEG_INFINITY))
            }),
            RunSort::Detector => runs.sort_by(|a, b| a.detector.cmp(&b.detector)),
            RunSort::Dataset => runs.sort_by(|a, b| a.dataset.cmp(&b.dataset)),
        }
        runs
    }
}

/// The AutoML form's rows, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutomlField {
    Detectors,
    Metric,
    Protocol,
    Strategy,
    Trials,
    Budget,
    Ensemble,
}

impl AutomlField {
    pub const ALL: [AutomlField; 7] = [
        AutomlField::Detectors,
        AutomlField::Metric,
        AutomlField::Protocol,
        AutomlField::Strategy,
        AutomlField::Trials,
        AutomlField::Budget,
        AutomlField::Ensemble,
    ];

    pub fn label(self) -> &'static str {
        match self {
            AutomlField::Detectors => "Detectors",
            AutomlField::Metric => "Metric",
            AutomlField::Protocol => "Protocol",
            AutomlField::Strategy => "Strategy",
            AutomlField::Trials => "Trials",
            AutomlField::Budget => "Budget",
            AutomlField::Ensemble => "Ensemble",
        }
    }
}

pub const AUTOML_TRIALS: [usize; 6] = [10, 20, 50, 100, 200, 500];
pub const AUTOML_BUDGETS: [Option<u64>; 5] = [None, Some(10), Some(30), Some(60), Some(300)];
/// Top-k ensemble sizes offered (0 = none).
pub const AUTOML_ENSEMBLES: [usize; 3] = [0, 3, 5];

/// The search metric choice; `Auto` is ROC-AUC with a label, label-free without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricChoice {
    Auto,
    Fixed(Metric),
}

#[derive(Debug, Clone)]
pub struct AutomlPane {
    pub field: usize,
    /// `None` = every detector; else one family.
    pub family: Option<Family>,
    pub metric: MetricChoice,
    pub holdout: bool,
    pub strategy: Strategy,
    pub trials: usize,
    pub budget_s: Option<u64>,
    pub ensemble: usize,
    /// Trials of the current (or last) search, in the order they finished.
    pub trials_done: Vec<Trial>,
    /// Planned number of trials of the current search (for the gauge).
    pub planned: usize,
    /// The metric of the current (or last) search, for the headings.
    pub running_metric: Option<Metric>,
    /// Index into `App::results` of the last search's best run.
    pub best_result: Option<usize>,
    pub leaderboard_offset: usize,
}

impl AutomlPane {
    /// Trials ranked as the leaderboard shows them: more rows first (halving's subsample
    /// rungs are not comparable with all rows), then objective, then trial number.
    pub fn ranked(&self) -> Vec<&Trial> {
        let mut ranked: Vec<&Trial> = self.trials_done.iter().collect();
        ranked.sort_by(|a, b| {
            b.objective
                .is_some()
                .cmp(&a.objective.is_some())
                .then(b.fit_rows.cmp(&a.fit_rows))
                .then(
                    b.objective
                        .unwrap_or(f64::NEG_INFINITY)
                        .total_cmp(&a.objective.unwrap_or(f64::NEG_INFINITY)),
                )
                .then(a.number.cmp(&b.number))
        });
        ranked
    }

    /// Best objective after each finished trial, in finishing order, among the trials on the
    /// most rows so far (a halving rung on more rows starts the line afresh: objectives on
    /// smaller subsamples are not comparable).
    pub fn best_so_far(&self) -> Vec<f64> {
        let mut best = f64::NEG_INFINITY;
        let mut rows = 0;
        self.trials_done
            .iter()
            .map(|t| {
                if let Some(o) = t.objective {
                    if t.fit_rows > rows {
                        rows = t.fit_rows;
                        best = o;
                    } else if t.fit_rows == rows {
                        best = best.max(o);
                    }
                }
                best
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub ticket: Ticket,
    pub detector: &'static str,
    pub fraction: f64,
}

pub struct App {
    pub pane: Pane,
    pub keymap: Keymap,
    pub themes: ThemeCatalog,
    pub theme_name: String,
    pub status: Status,
    pub overlay: Option<Overlay>,
    pub data: DataPane,
    pub detect: DetectPane,
    pub charts: ChartsPane,
    pub experiments: ExperimentsPane,
    pub automl: AutomlPane,
    /// The running fit or search (one at a time; more fits queue).
    pub job: Option<Job>,
    /// Every background job's ticket: ids, cancel tokens, generations.
    pub jobs: JobBoard,
    pub queue: VecDeque<(&'static str, Params)>,
    pub results: Vec<RunResult>,
    pub should_quit: bool,
    pub store_label: String,
}

impl App {
    pub fn new(keymap: Keymap, themes: ThemeCatalog, theme_name: &str, store_label: String) -> App {
        let mut entries: Vec<&'static DetectorInfo> = registry().iter().collect();
        entries.sort_by_key(|d| d.family.name());
        let theme_name = if themes.get(theme_name).is_some() {
            theme_name.to_string()
        } else {
            "terminal".to_string()
        };
        App {
            pane: Pane::Data,
            keymap,
            themes,
            theme_name,
            status: Status {
                text: "Loading…".into(),
                level: Level::Info,
            },
            overlay: None,
            data: DataPane {
                loaded: None,
                read_s: 0.0,
                profile: None,
                spec: PrepareSpec::default(),
                prepared: None,
                selected_column: 0,
                row_offset: 0,
                col_offset: 0,
                focus: DataFocus::Columns,
                loading: false,
            },
            detect: DetectPane {
                entries,
                selected: 0,
                focus: DetectFocus::Detectors,
                param_selected: 0,
                values: BTreeMap::new(),
                error: None,
                seed: 0,
                threshold: ThresholdMethod::Contamination(0.1),
            },
            charts: ChartsPane {
                selected: 0,
                lower: LowerChart::Roc,
                top_offset: 0,
            },
            experiments: ExperimentsPane {
                runs: Vec::new(),
                selected: 0,
                filter: String::new(),
                sort: RunSort::Newest,
                marked: BTreeSet::new(),
                loading: false,
            },
            automl: AutomlPane {
                field: 0,
                family: None,
                metric: MetricChoice::Auto,
                holdout: false,
                strategy: Strategy::Random,
                trials: 50,
                budget_s: None,
                ensemble: 0,
                trials_done: Vec::new(),
                planned: 0,
                running_metric: None,
                best_result: None,
                leaderboard_offset: 0,
            },
            job: None,
            jobs: JobBoard::default(),
            queue: VecDeque::new(),
            results: Vec::new(),
            should_quit: false,
            store_label,
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

    /// Effects to run at start-up: load the initial data and list the store.
    pub fn start(&mut self, source: Source) -> Vec<Effect> {
        self.data.loading = true;
        self.experiments.loading = true;
        self.set_status(Level::Info, format!("Loading {}…", source.display_name()));
        let ticket = self.jobs.start(JobKind::Load);
        vec![Effect::Load { ticket, source }, self.list_runs()]
    }

    pub fn selected_detector(&self) -> &'static DetectorInfo {
        self.detect.entries[self.detect.selected]
    }

    /// Parameter values of the selected detector, as shown in the form.
    pub fn param_values(&self) -> Vec<String> {
        let info = self.selected_detector();
        self.detect
            .values
            .get(info.name)
            .cloned()
            .unwrap_or_else(|| default_values(info))
    }

    /// Validates the form with the registry (same messages as the CLI).
    pub fn resolved_params(&self) -> Result<Params, String> {
        let info = self.selected_detector();
        let assignments: Vec<String> = info
            .params
            .iter()
            .zip(self.param_values())
            .map(|(p, v)| format!("{}={}", p.name, v.trim()))
            .collect();
        let given = info
            .parse_assignments(&assignments)
            .map_err(|e| e.to_string())?;
        info.resolve(&given).map_err(|e| e.to_string())
    }

    // ----- input -------------------------------------------------------------------------

    pub fn on_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        if self.overlay.is_some() {
            return self.on_overlay_key(ev);
        }
        let Some(key) = Key::from_event(&ev) else {
            return Vec::new();
        };
        match self.keymap.action(self.pane.context(), key) {
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
                self.overlay = Some(Overlay::Help { scroll: 0 });
                Vec::new()
            }
            Action::Palette => {
                self.overlay = Some(Overlay::Palette {
                    input: Input::default(),
                    selected: 0,
                });
                Vec::new()
            }
            Action::CycleTheme => {
                let next = self.themes.next_after(&self.theme_name).to_string();
                self.set_theme(next)
            }
            Action::PickTheme => {
                let selected = self
                    .themes
                    .names()
                    .iter()
                    .position(|n| *n == self.theme_name)
                    .unwrap_or(0);
                self.overlay = Some(Overlay::ThemePicker { selected });
                Vec::new()
            }
            Action::Back => {
                if self.job.is_some() {
                    self.cancel_job();
                }
                Vec::new()
            }
            Action::CancelJob => {
                self.cancel_job();
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
            Action::GoData => self.go(Pane::Data),
            Action::GoDetect => self.go(Pane::Detect),
            Action::GoCharts => self.go(Pane::Charts),
            Action::GoExperiments => self.go(Pane::Experiments),
            Action::GoAutoml => self.go(Pane::Automl),
            _ => match self.pane {
                Pane::Data => self.data_action(action),
                Pane::Detect => self.detect_action(action),
                Pane::Charts => self.charts_action(action),
                Pane::Experiments => self.experiments_action(action),
                Pane::Automl => self.automl_action(action),
            },
        }
    }

    fn go(&mut self, pane: Pane) -> Vec<Effect> {
        self.pane = pane;
        if pane == Pane::Experiments && !self.experiments.loading {
            return vec![self.list_runs()];
        }
        Vec::new()
    }

    fn set_theme(&mut self, name: String) -> Vec<Effect> {
        self.set_status(Level::Info, format!("Theme: {name}"));
        self.theme_name = name.clone();
        vec![Effect::RememberTheme(name)]
    }

    fn cancel_job(&mut self) {
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
                            format!(" ({queued} queued run(s) dropped)")
                        } else {
                            String::new()
                        }
                    ),
                );
            }
            None => self.set_status(Level::Info, "Nothing is running"),
        }
    }

    fn data_action(&mut self, action: Action) -> Vec<Effect> {
        let n_columns = self.data.loaded.as_ref().map_or(0, |l| l.df.width());
        let n_rows = self.data.loaded.as_ref().map_or(0, |l| l.df.height());
        match action {
            Action::OpenFile => {
                // Start in the folder of the file on screen, else the working folder.
                let start = self
                    .data
                    .loaded
                    .as_ref()
                    .and_then(|l| {
                        let p = std::path::Path::new(&l.source);
                        p.parent()
                            .filter(|d| p.is_file() && !d.as_os_str().is_empty())
                            .map(|d| format!("{}/", d.display()))
                    })
                    .unwrap_or_default();
                self.overlay = Some(Overlay::OpenFile {
                    completions: list_entries(&start),
                    input: Input::new(start),
                    selected: None,
                });
            }
            Action::SwitchFocus => {
                self.data.focus = match self.data.focus {
                    DataFocus::Columns => DataFocus::Table,
                    DataFocus::Table => DataFocus::Columns,
                };
            }
            // With the table focused, up/down scroll the rows; otherwise they pick a column.
            Action::Up if self.data.focus == DataFocus::Table => {
                self.data.row_offset = self.data.row_offset.saturating_sub(1)
            }
            Action::Down if self.data.focus == DataFocus::Table => {
                self.data.row_offset = (self.data.row_offset + 1).min(n_rows.saturating_sub(1))
            }
            Action::Up => self.data.selected_column = self.data.selected_column.saturating_sub(1),
            Action::Down => {
                self.data.selected_column =
                    (self.data.selected_column + 1).min(n_columns.saturating_sub(1))
            }
            Action::Top => self.data.selected_column = 0,
            Action::Bottom => self.data.selected_column = n_columns.saturating_sub(1),
            Action::PageDown => {
                self.data.row_offset = (self.data.row_offset + 20).min(n_rows.saturating_sub(1))
            }
            Action::PageUp => self.data.row_offset = self.data.row_offset.saturating_sub(20),
            Action::Right => {
                self.data.col_offset = (self.data.col_offset + 1).min(n_columns.saturating_sub(1))
            }
            Action::Left => self.data.col_offset = self.data.col_offset.saturating_sub(1),
            Action::SetLabel => {
                let Some(name) = self.selected_column_name() else {
                    return Vec::new();
                };
                let is_label = self
                    .data
                    .prepared
                    .as_ref()
                    .and_then(|p| p.prepared.report.label_column.clone())
                    .as_deref()
                    == Some(name.as_str());
                self.data.spec.label = if is_label {
                    ColumnChoice::None
                } else {
                    ColumnChoice::Column(name)
                };
                return self.reprepare();
            }
            Action::ToggleFeature => {
                let Some(name) = self.selected_column_name() else {
                    return Vec::new();
                };
                if let Some(i) = self.data.spec.exclude.iter().position(|c| *c == name) {
                    self.data.spec.exclude.remove(i);
                } else {
                    self.data.spec.exclude.push(name);
                }
                return self.reprepare();
            }
            Action::CycleScaling => {
                self.data.spec.scaling = match self.data.spec.scaling {
                    Scaling::None => Scaling::Standard,
                    Scaling::Standard => Scaling::Robust,
                    Scaling::Robust => Scaling::MinMax,
                    Scaling::MinMax => Scaling::None,
                };
                return self.reprepare();
            }
            Action::CycleMissing => {
                self.data.spec.missing = match self.data.spec.missing {
                    MissingPolicy::Median => MissingPolicy::Mean,
                    MissingPolicy::Mean => MissingPolicy::DropRow,
                    MissingPolicy::DropRow => MissingPolicy::Constant(0.0),
                    MissingPolicy::Constant(_) => MissingPolicy::Median,
                };
                return self.reprepare();
            }
            Action::CycleEncoding => {
                self.data.spec.categorical = match self.data.spec.categorical {
                    CategoricalEncoding::OneHot => CategoricalEncoding::Ordinal,
                    CategoricalEncoding::Ordinal => CategoricalEncoding::Frequency,
                    CategoricalEncoding::Frequency => CategoricalEncoding::Drop,
                    CategoricalEncoding::Drop => CategoricalEncoding::OneHot,
                };
                return self.reprepare();
            }
            _ => {}
        }
        Vec::new()
    }

    fn selected_column_name(&self) -> Option<String> {
        let loaded = self.data.loaded.as_ref()?;
        loaded
            .df
            .get_column_names()
            .get(self.data.selected_column)
            .map(|s| s.to_string())
    }

    fn reprepare(&mut self) -> Vec<Effect> {
        let Some(loaded) = self.data.loaded.clone() else {
            return Vec::new();
        };
        self.data.loading = true;
        self.set_status(Level::Info, "Preparing the matrix…");
        vec![Effect::Prepare {
            ticket: self.jobs.start(JobKind::Prepare),
            loaded,
            spec: self.data.spec.clone(),
        }]
    }

    fn detect_action(&mut self, action: Action) -> Vec<Effect> {
        let n = self.detect.entries.len();
        let n_params = self.selected_detector().params.len();
        match (self.detect.focus, action) {
            (_, Action::SwitchFocus) | (DetectFocus::Detectors, Action::Right) => {
                self.detect.focus = match self.detect.focus {
                    DetectFocus::Detectors if n_params > 0 => DetectFocus::Params,
                    _ => DetectFocus::Detectors,
                };
            }
            (DetectFocus::Params, Action::Left) => self.detect.focus = DetectFocus::Detectors,
            (DetectFocus::Detectors, Action::Up) => {
                self.detect.selected = self.detect.selected.saturating_sub(1);
                self.detect.param_selected = 0;
                self.revalidate();
            }
            (DetectFocus::Detectors, Action::Down) => {
                self.detect.selected = (self.detect.selected + 1).min(n - 1);
                self.detect.param_selected = 0;
                self.revalidate();
            }
            (DetectFocus::Detectors, Action::Top) => self.detect.selected = 0,
            (DetectFocus::Detectors, Action::Bottom) => self.detect.selected = n - 1,
            (DetectFocus::Params, Action::Up) => {
                self.detect.param_selected = self.detect.param_selected.saturating_sub(1)
            }
            (DetectFocus::Params, Action::Down) => {
                self.detect.param_selected =
                    (self.detect.param_selected + 1).min(n_params.saturating_sub(1))
            }
            (DetectFocus::Params, Action::Select) if n_params > 0 => {
                let value = self.param_values()[self.detect.param_selected].clone();
                self.overlay = Some(Overlay::EditParam {
                    index: self.detect.param_selected,
                    input: Input::new(value),
                });
            }
            (DetectFocus::Detectors, Action::Select) | (_, Action::Run) => {
                return self.run_selected(false)
            }
            (_, Action::Enqueue) => return self.run_selected(true),
            (_, Action::EditSeed) => {
                self.overlay = Some(Overlay::EditSeed {
                    input: Input::new(self.detect.seed.to_string()),
                });
            }
            (_, Action::ResetParams) => {
                let name = self.selected_detector().name;
                self.detect.values.remove(name);
                self.revalidate();
            }
            _ => {}
        }
        Vec::new()
    }

    fn revalidate(&mut self) {
        self.detect.error = self.resolved_params().err();
    }

    /// Runs now, or queues behind the running job.
    fn run_selected(&mut self, queue_only: bool) -> Vec<Effect> {
        let params = match self.resolved_params() {
            Ok(p) => p,
            Err(e) => {
                self.detect.error = Some(e.clone());
                self.set_status(Level::Error, e);
                return Vec::new();
            }
        };
        let name = self.selected_detector().name;
        if self.job.is_some() || (queue_only && self.data.prepared.is_none()) {
            self.queue.push_back((name, params));
            self.set_status(
                Level::Info,
                format!("Queued {name} ({} waiting)", self.queue.len()),
            );
            return Vec::new();
        }
        self.start_fit(name, params)
    }

    fn start_fit(&mut self, detector: &'static str, params: Params) -> Vec<Effect> {
        let Some((data, projection)) = self.dataset() else {
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
                threshold: self.detect.threshold,
                seed: self.detect.seed,
            },
            data,
            projection,
        }))]
    }

    fn charts_action(&mut self, action: Action) -> Vec<Effect> {
        let count = self.results.len();
        match action {
            Action::NextResult | Action::Right if count > 0 => {
                self.charts.selected = (self.charts.selected + 1) % count
            }
            Action::PrevResult | Action::Left if count > 0 => {
                self.charts.selected = (self.charts.selected + count - 1) % count
            }
            Action::ThresholdUp | Action::ThresholdDown => {
                if let Some(r) = self.results.get_mut(self.charts.selected) {
                    let n = r.scores.len();
                    let step = (n / 100).max(1);
                    r.flagged = if action == Action::ThresholdUp {
                        r.flagged.saturating_sub(step)
                    } else {
                        (r.flagged + step).min(n)
                    };
                    let flagged = r.flagged;
                    let cut = r.threshold();
                    self.set_status(
                        Level::Info,
                        format!("Threshold {} → {flagged} of {n} rows flagged", fmt_num(cut)),
                    );
                }
            }
            Action::NextChart => {
                self.charts.lower = match self.charts.lower {
                    LowerChart::Roc => LowerChart::Pr,
                    LowerChart::Pr => LowerChart::Projection,
                    LowerChart::Projection => LowerChart::Time,
                    LowerChart::Time => LowerChart::Roc,
                }
            }
            Action::Down => self.charts.top_offset += 1,
            Action::Up => self.charts.top_offset = self.charts.top_offset.saturating_sub(1),
            _ => {}
        }
        Vec::new()
    }

    fn experiments_action(&mut self, action: Action) -> Vec<Effect> {
        let visible: Vec<i64> = self.experiments.visible().iter().map(|r| r.id).collect();
        let selected_id = visible.get(self.experiments.selected).copied();
        match action {
            Action::Up => self.experiments.selected = self.experiments.selected.saturating_sub(1),
            Action::Down => {
                self.experiments.selected =
                    (self.experiments.selected + 1).min(visible.len().saturating_sub(1))
            }
            Action::Top => self.experiments.selected = 0,
            Action::Bottom => self.experiments.selected = visible.len().saturating_sub(1),
            Action::PageDown => {
                self.experiments.selected =
                    (self.experiments.selected + 10).min(visible.len().saturating_sub(1))
            }
            Action::PageUp => {
                self.experiments.selected = self.experiments.selected.saturating_sub(10)
            }
            Action::Refresh => {
                return vec![self.list_runs()];
            }
            Action::Filter => {
                self.overlay = Some(Overlay::Filter {
                    input: Input::new(self.experiments.filter.clone()),
                })
            }
            Action::Sort => {
                self.experiments.sort = match self.experiments.sort {
                    RunSort::Newest => RunSort::RocAuc,
                    RunSort::RocAuc => RunSort::Detector,
                    RunSort::Detector => RunSort::Dataset,
                    RunSort::Dataset => RunSort::Newest,
                };
                self.experiments.selected = 0;
                self.set_status(
                    Level::Info,
                    format!("Sorted by {}", self.experiments.sort.name()),
                );
            }
            Action::Mark => {
                if let Some(id) = selected_id {
                    if !self.experiments.marked.remove(&id) {
                        self.experiments.marked.insert(id);
                    }
                    let marked = self.experiments.marked.len();
                    self.set_status(
                        Level::Info,
                        if marked >= 2 {
                            format!("{marked} runs marked: Enter compares them")
                        } else {
                            format!("{marked} run marked; mark another to compare")
                        },
                    );
                }
            }
            Action::Select => {
                if self.experiments.marked.len() >= 2 {
                    return vec![Effect::CompareRuns {
                        ticket: self.jobs.start(JobKind::RunRead),
                        ids: self.experiments.marked.iter().copied().collect(),
                    }];
                }
                if let Some(id) = selected_id {
                    return vec![Effect::LoadRun {
                        ticket: self.jobs.start(JobKind::RunRead),
                        id,
                        then: RunUse::Show,
                        on_screen: self.on_screen(),
                    }];
                }
            }
            Action::Delete => {
                let ids: Vec<i64> = if self.experiments.marked.is_empty() {
                    selected_id.into_iter().collect()
                } else {
                    self.experiments.marked.iter().copied().collect()
                };
                if !ids.is_empty() {
                    self.overlay = Some(Overlay::ConfirmDelete { ids });
                }
            }
            Action::Run => {
                // Re-run: the selected run's detector and parameters on the loaded data.
                if let Some(id) = selected_id {
                    return vec![Effect::LoadRun {
                        ticket: self.jobs.start(JobKind::RunRead),
                        id,
                        then: RunUse::Rerun,
                        on_screen: None,
                    }];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn automl_action(&mut self, action: Action) -> Vec<Effect> {
        let n_fields = AutomlField::ALL.len();
        let a = &mut self.automl;
        match action {
            Action::Up => a.field = a.field.saturating_sub(1),
            Action::Down => a.field = (a.field + 1).min(n_fields - 1),
            Action::Top => a.field = 0,
            Action::Bottom => a.field = n_fields - 1,
            Action::Left | Action::Right | Action::Select => {
                let forward = action != Action::Left;
                self.cycle_automl_field(forward);
            }
            Action::PageDown => a.leaderboard_offset += 10,
            Action::PageUp => a.leaderboard_offset = a.leaderboard_offset.saturating_sub(10),
            Action::Run => return self.start_automl(),
            Action::OpenBest => match a.best_result.filter(|&i| i < self.results.len()) {
                Some(i) => {
                    self.charts.selected = i;
                    self.pane = Pane::Charts;
                }
                None => self.set_status(Level::Info, "No AutoML result yet: r starts a search"),
            },
            _ => {}
        }
        Vec::new()
    }

    fn cycle_automl_field(&mut self, forward: bool) {
        fn step<T: PartialEq + Copy>(options: &[T], current: T, forward: bool) -> T {
            let i = options.iter().position(|o| *o == current).unwrap_or(0);
            let n = options.len();
            options[if forward {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            }]
        }
        let a = &mut self.automl;
        match AutomlField::ALL[a.field] {
            AutomlField::Detectors => {
                let mut families: Vec<Option<Family>> = vec![None];
                for d in registry() {
                    if !families.contains(&Some(d.family)) {
                        families.push(Some(d.family));
                    }
                }
                a.family = step(&families, a.family, forward);
            }
            AutomlField::Metric => {
                let options = [
                    MetricChoice::Auto,
                    MetricChoice::Fixed(Metric::Auc),
                    MetricChoice::Fixed(Metric::Ap),
                    MetricChoice::Fixed(Metric::LabelFree),
                ];
                a.metric = step(&options, a.metric, forward);
            }
            AutomlField::Protocol => a.holdout = !a.holdout,
            AutomlField::Strategy => a.strategy = step(&Strategy::ALL, a.strategy, forward),
            AutomlField::Trials => a.trials = step(&AUTOML_TRIALS, a.trials, forward),
            AutomlField::Budget => a.budget_s = step(&AUTOML_BUDGETS, a.budget_s, forward),
            AutomlField::Ensemble => a.ensemble = step(&AUTOML_ENSEMBLES, a.ensemble, forward),
        }
    }

    /// The metric a search would use on the data on screen.
    pub fn automl_metric(&self) -> Metric {
        let labelled = self
            .data
            .prepared
            .as_ref()
            .is_some_and(|p| p.prepared.matrix.label.is_some());
        match self.automl.metric {
            MetricChoice::Fixed(m) => m,
            MetricChoice::Auto if labelled => Metric::Auc,
            MetricChoice::Auto => Metric::LabelFree,
        }
    }

    fn start_automl(&mut self) -> Vec<Effect> {
        if self.job.is_some() {
            self.set_status(
                Level::Warn,
                "A job is running: wait for it or cancel it (x)",
            );
            return Vec::new();
        }
        let Some((data, projection)) = self.dataset() else {
            self.set_status(
                Level::Warn,
                "No data prepared yet: open a file in the Data pane",
            );
            return Vec::new();
        };
        let a = &self.automl;
        let options = AutomlOptions {
            detectors: a.family.map(|f| vec![f.name().to_string()]),
            metric: match a.metric {
                MetricChoice::Fixed(m) => Some(m),
                MetricChoice::Auto => None,
            },
            holdout: a.holdout,
            strategy: a.strategy,
            trials: a.trials,
            budget: a.budget_s.map(std::time::Duration::from_secs),
            ensemble: a.ensemble,
            seed: self.detect.seed,
            threshold: self.detect.threshold,
        };
        let plan = match crate::service::automl::plan_automl(&data.prepared, &options) {
            Ok(plan) => plan,
            Err(e) => {
                self.set_status(Level::Error, e.message);
                return Vec::new();
            }
        };
        let ticket = self.jobs.start(JobKind::Automl);
        self.job = Some(Job {
            ticket: ticket.clone(),
            detector: "automl",
            fraction: 0.0,
        });
        let metric = plan.config.metric;
        let a = &mut self.automl;
        a.trials_done.clear();
        a.planned = plan.config.trials;
        a.running_metric = Some(metric);
        a.leaderboard_offset = 0;
        let left_out = if plan.skipped_detectors.is_empty() {
            String::new()
        } else {
            format!(
                "; left out as too slow for this size: {}",
                plan.skipped_detectors.join(", ")
            )
        };
        self.set_status(
            Level::Info,
            format!(
                "AutoML: {} search, {} trials, metric {} (x or Esc cancels){left_out}",
                plan.config.strategy.name(),
                plan.config.trials,
                metric.name()
            ),
        );
        vec![Effect::Automl(Box::new(AutomlRequest {
            ticket,
            plan,
            data,
            projection,
        }))]
    }

    fn on_overlay_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        let Some(overlay) = self.overlay.take() else {
            return Vec::new();
        };
        let esc = ev.code == KeyCode::Esc;
        let enter = ev.code == KeyCode::Enter;
        let ctrl_c = ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c {
            self.should_quit = true;
            return Vec::new();
        }
        let action = Key::from_event(&ev).and_then(|k| self.keymap.action(Context::Global, k));
        match overlay {
            Overlay::Help { scroll } => {
                if esc || action == Some(Action::Help) || action == Some(Action::Quit) {
                    return Vec::new();
                }
                let scroll = match action {
                    Some(Action::Down) => scroll + 1,
                    Some(Action::Up) => scroll.saturating_sub(1),
                    Some(Action::PageDown) => scroll + 10,
                    Some(Action::PageUp) => scroll.saturating_sub(10),
                    _ => scroll,
                };
                self.overlay = Some(Overlay::Help { scroll });
            }
            Overlay::ThemePicker { selected } => {
                let names: Vec<String> =
                    self.themes.names().iter().map(|s| s.to_string()).collect();
                if esc {
                    return Vec::new();
                }
                if enter {
                    return self.set_theme(names[selected].clone());
                }
                let selected = match action {
                    Some(Action::Down) => (selected + 1).min(names.len() - 1),
                    Some(Action::Up) => selected.saturating_sub(1),
                    _ => selected,
                };
                self.overlay = Some(Overlay::ThemePicker { selected });
            }
            Overlay::Palette {
                mut input,
                selected,
            } => {
                if esc {
                    return Vec::new();
                }
                let matches = palette_matches(input.value());
                if enter {
                    if let Some(action) = matches.get(selected) {
                        return self.on_action(*action);
                    }
                    return Vec::new();
                }
                let selected = match ev.code {
                    KeyCode::Down => (selected + 1).min(matches.len().saturating_sub(1)),
                    KeyCode::Up => selected.saturating_sub(1),
                    _ => {
                        input.handle_event(&crossterm::event::Event::Key(ev));
                        0
                    }
                };
                self.overlay = Some(Overlay::Palette { input, selected });
            }
            Overlay::OpenFile {
                mut input,
                completions,
                selected,
            } => {
                if esc {
                    return Vec::new();
                }
                let keep = |input: Input, completions: Vec<String>, selected: Option<usize>| {
                    Some(Overlay::OpenFile {
                        input,
                        completions,
                        selected,
                    })
                };
                match ev.code {
                    KeyCode::Down if !completions.is_empty() => {
                        let next = selected.map_or(0, |i| (i + 1).min(completions.len() - 1));
                        self.overlay = keep(input, completions, Some(next));
                        return Vec::new();
                    }
                    KeyCode::Up if !completions.is_empty() => {
                        let next = selected.and_then(|i| i.checked_sub(1));
                        self.overlay = keep(input, completions, next);
                        return Vec::new();
                    }
                    KeyCode::Tab => {
                        let (completed, _) = complete_path(input.value());
                        let listing = list_entries(&completed);
                        self.overlay = keep(Input::new(completed), listing, None);
                        return Vec::new();
                    }
                    _ => {}
                }
                if enter {
                    // A selected entry: enter a folder, or take the file.
                    let mut text = input.value().trim().to_string();
                    if let Some(entry) = selected.and_then(|i| completions.get(i)) {
                        let folder = match text.rfind('/') {
                            Some(i) => text[..=i].to_string(),
                            None => String::new(),
                        };
                        text = format!("{folder}{entry}");
                        if entry.ends_with('/') {
                            let listing = list_entries(&text);
                            self.overlay = keep(Input::new(text), listing, None);
                            return Vec::new();
                        }
                    }
                    if text.is_empty() {
                        return Vec::new();
                    }
                    return match Source::parse(&text) {
                        // The terminal is the workbench's standard input: there is no data there.
                        Ok(Source::Stdin) => {
                            self.set_status(
                                Level::Error,
                                "- (standard input) cannot be read inside the workbench; give a file path",
                            );
                            self.overlay = keep(input, completions, selected);
                            Vec::new()
                        }
                        Ok(source) => {
                            self.data.loading = true;
                            self.set_status(Level::Info, format!("Loading {text}…"));
                            vec![Effect::Load {
                                ticket: self.jobs.start(JobKind::Load),
                                source,
                            }]
                        }
                        Err(e) => {
                            self.set_status(Level::Error, e.to_string());
                            self.overlay = keep(input, completions, selected);
                            Vec::new()
                        }
                    };
                }
                input.handle_event(&crossterm::event::Event::Key(ev));
                let listing = list_entries(input.value());
                self.overlay = keep(input, listing, None);
            }
            Overlay::EditParam { index, mut input } => {
                if esc {
                    return Vec::new();
                }
                if enter {
                    let info = self.selected_detector();
                    let mut values = self.param_values();
                    values[index] = input.value().to_string();
                    self.detect.values.insert(info.name, values);
                    self.revalidate();
                    match &self.detect.error {
                        Some(e) => {
                            let e = e.clone();
                            self.set_status(Level::Error, e)
                        }
                        None => self.set_status(Level::Ok, "Parameters are valid"),
                    }
                    return Vec::new();
                }
                input.handle_event(&crossterm::event::Event::Key(ev));
                self.overlay = Some(Overlay::EditParam { index, input });
            }
            Overlay::EditSeed { mut input } => {
                if esc {
                    return Vec::new();
                }
                if enter {
                    match input.value().trim().parse::<u64>() {
                        Ok(seed) => {
                            self.detect.seed = seed;
                            self.set_status(Level::Ok, format!("Seed {seed}"));
                        }
                        Err(_) => {
                            self.set_status(
                                Level::Error,
                                format!(
                                    "seed {:?}: expected a whole number from 0 to {}",
                                    input.value(),
                                    u64::MAX
                                ),
                            );
                            self.overlay = Some(Overlay::EditSeed { input });
                        }
                    }
                    return Vec::new();
                }
                input.handle_event(&crossterm::event::Event::Key(ev));
                self.overlay = Some(Overlay::EditSeed { input });
            }
            Overlay::Filter { mut input } => {
                if esc {
                    return Vec::new();
                }
                input.handle_event(&crossterm::event::Event::Key(ev));
                // Filters as you type; Enter keeps it.
                self.experiments.filter = input.value().to_string();
                self.experiments.selected = 0;
                if !enter {
                    self.overlay = Some(Overlay::Filter { input });
                }
            }
            Overlay::ConfirmDelete { ids } => {
                if matches!(ev.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    self.experiments.marked.clear();
                    return vec![Effect::DeleteRuns(ids)];
                }
                self.set_status(Level::Info, "Nothing deleted");
            }
            Overlay::RunDetail(_) | Overlay::Compare(_) => {
                if !(esc || enter || action == Some(Action::Quit)) {
                    self.overlay = Some(overlay);
                }
            }
        }
        Vec::new()
    }

    // ----- background results ------------------------------------------------------------

    pub fn on_msg(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Loaded { ticket, .. }
            | Msg::Prepared { ticket, .. }
            | Msg::Runs { ticket, .. }
            | Msg::RunLoaded { ticket, .. }
            | Msg::Compared { ticket, .. }
                if !self.jobs.finish(&ticket) =>
            {
                // An older job of a kind the user has restarted since: its result is stale.
            }
            Msg::Loaded {
                result: Ok((loaded, read_s)),
                profile,
                ..
            } => {
                self.set_status(
                    Level::Ok,
                    format!(
                        "Loaded {}: {} rows × {} columns",
                        loaded.source,
                        loaded.df.height(),
                        loaded.df.width()
                    ),
                );
                self.data.profile = profile;
                self.data.loaded = Some(loaded);
                self.data.read_s = read_s;
                self.data.selected_column = 0;
                self.data.row_offset = 0;
                self.data.col_offset = 0;
                self.data.prepared = None;
                // A new file starts from automatic choices.
                self.data.spec = PrepareSpec::default();
                return self.reprepare();
            }
            Msg::Loaded { result: Err(e), .. } => {
                self.data.loading = false;
                self.set_status(Level::Error, e);
            }
            Msg::Prepared { result: Ok(p), .. } => {
                self.data.loading = false;
                let m = &p.prepared.matrix;
                let label = p
                    .prepared
                    .report
                    .label_column
                    .as_deref()
                    .map(|l| format!(", label {l}"))
                    .unwrap_or_default();
                self.set_status(
                    Level::Ok,
                    format!(
                        "Matrix ready: {} rows × {} features{label}",
                        m.x.nrows(),
                        m.x.ncols()
                    ),
                );
                self.data.prepared = Some(p);
                // Runs queued before the data was ready can start now.
                if self.job.is_none() {
                    if let Some((name, params)) = self.queue.pop_front() {
                        return self.start_fit(name, params);
                    }
                }
            }
            Msg::Prepared { result: Err(e), .. } => {
                self.data.loading = false;
                self.data.prepared = None;
                self.set_status(Level::Error, e);
            }
            Msg::Progress { job, fraction } => {
                if let Some(j) = self.job.as_mut().filter(|j| j.ticket.id == job) {
                    j.fraction = fraction;
                }
            }
            Msg::FitDone { ticket, result } => {
                self.jobs.finish(&ticket);
                if self.job.as_ref().is_some_and(|j| j.ticket.id == ticket.id) {
                    self.job = None;
                }
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
                        self.set_status(
                            Level::Ok,
                            format!(
                                "{} finished in {:.2} s: {} flagged{auc}{run}",
                                r.detector, r.fit_s, r.flagged
                            ),
                        );
                        self.results.push(*r);
                        self.charts.selected = self.results.len() - 1;
                        effects.push(self.list_runs());
                    }
                    Err(e) => self.report_job_error(e),
                }
                if let Some((name, params)) = self.queue.pop_front() {
                    effects.extend(self.start_fit(name, params));
                }
                return effects;
            }
            Msg::Runs {
                result: Ok(runs), ..
            } => {
                self.experiments.loading = false;
                self.experiments.runs = runs;
                let n = self.experiments.visible().len();
                self.experiments.selected = self.experiments.selected.min(n.saturating_sub(1));
                let ids: BTreeSet<i64> = self.experiments.runs.iter().map(|r| r.id).collect();
                self.experiments.marked.retain(|id| ids.contains(id));
            }
            Msg::Runs { result: Err(e), .. } => {
                self.experiments.loading = false;
                self.set_status(Level::Error, e);
            }
            Msg::RunLoaded {
                then: RunUse::Rerun,
                result: Ok((detail, _)),
                ..
            } => return self.rerun(&detail),
            Msg::RunLoaded {
                then: RunUse::Show,
                result: Ok((detail, result)),
                ..
            } => {
                if let Some(result) = result {
                    // Replaces an earlier copy of the same run.
                    self.results.retain(|r| r.run_id != result.run_id);
                    self.results.push(*result);
                    self.charts.selected = self.results.len() - 1;
                }
                self.overlay = Some(Overlay::RunDetail(detail))
            }
            Msg::RunLoaded { result: Err(e), .. } | Msg::Compared { result: Err(e), .. } => {
                self.set_status(Level::Error, e)
            }
            Msg::Compared {
                result: Ok(runs), ..
            } => self.overlay = Some(Overlay::Compare(runs)),
            Msg::Deleted(Ok(n)) => {
                self.set_status(Level::Ok, format!("Deleted {n} run(s)"));
                return vec![self.list_runs()];
            }
            Msg::Deleted(Err(e)) => self.set_status(Level::Error, e),
            Msg::AutomlTrial { job, trial } => {
                if let Some(j) = self.job.as_mut().filter(|j| j.ticket.id == job) {
                    let a = &mut self.automl;
                    a.trials_done.push(*trial);
                    j.fraction = (a.trials_done.len() as f64 / a.planned.max(1) as f64).min(1.0);
                }
            }
            Msg::AutomlDone { ticket, result } => {
                self.jobs.finish(&ticket);
                if self.job.as_ref().is_some_and(|j| j.ticket.id == ticket.id) {
                    self.job = None;
                }
                match result {
                    Ok(done) => {
                        let done = *done;
                        let b = &done.best;
                        let run = b.run_id.map(|id| format!(", run {id}")).unwrap_or_default();
                        let auc = b
                            .roc_auc
                            .map(|a| format!(", ROC-AUC {a:.4}"))
                            .unwrap_or_default();
                        self.set_status(
                            Level::Ok,
                            format!(
                                "AutoML{} in {:.1} s: best {} (objective {:.4}{auc}{run}); o shows it in Charts",
                                if done.stopped_early { " stopped early" } else { " finished" },
                                done.search_s,
                                b.detector,
                                done.objective
                            ),
                        );
                        self.results.push(done.best);
                        self.automl.best_result = Some(self.results.len() - 1);
                        self.charts.selected = self.results.len() - 1;
                        return vec![self.list_runs()];
                    }
                    Err(e) => {
                        self.report_job_error(e);
                        // A failed or cancelled search is still a stored run.
                        return vec![self.list_runs()];
                    }
                }
            }
            Msg::Warning(w) => self.set_status(Level::Warn, w),
        }
        Vec::new()
    }

    /// Asks for the run list again (a newer request makes an older one stale).
    fn list_runs(&mut self) -> Effect {
        self.experiments.loading = true;
        Effect::ListRuns(self.jobs.start(JobKind::RunList))
    }

    /// A job's error in the status line: the message the CLI prints; a cancel is not an error.
    fn report_job_error(&mut self, e: crate::service::ServiceError) {
        match e.fault {
            crate::service::Fault::Cancelled => self.set_status(Level::Warn, e.message),
            _ => self.set_status(Level::Error, e.message),
        }
    }

    /// The dataset on screen as the application layer takes it (cheap: shared pointers).
    fn dataset(&self) -> Option<(Dataset, Projection)> {
        let loaded = self.data.loaded.clone()?;
        let p = self.data.prepared.as_ref()?;
        Some((
            Dataset {
                loaded,
                prepared: p.prepared.clone(),
                load_s: self.data.read_s + p.prepare_s,
            },
            p.projection.clone(),
        ))
    }

    /// The fingerprint and prepared matrix on screen (cheap: shared pointers).
    fn on_screen(&self) -> Option<(String, PreparedData)> {
        let loaded = self.data.loaded.as_ref()?;
        let prepared = self.data.prepared.as_ref()?;
        Some((loaded.fingerprint.clone(), prepared.clone()))
    }

    fn rerun(&mut self, detail: &RunDetail) -> Vec<Effect> {
        let Some(pos) = self
            .detect
            .entries
            .iter()
            .position(|d| d.name == detail.summary.detector)
        else {
            self.set_status(
                Level::Error,
                format!("unknown detector {}", detail.summary.detector),
            );
            return Vec::new();
        };
        self.detect.selected = pos;
        let info = self.detect.entries[pos];
        let values: Vec<String> = info
            .params
            .iter()
            .map(|p| match detail.params.get(p.name) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => p.default.to_value().to_string(),
            })
            .collect();
        self.detect.values.insert(info.name, values);
        self.detect.seed = detail.seed;
        self.revalidate();
        self.pane = Pane::Charts;
        self.run_selected(false)
    }
}

fn default_values(info: &DetectorInfo) -> Vec<String> {
    info.params
        .iter()
        .map(|p| match p.kind {
            ParamKind::Choice { .. } => p
                .default
                .to_value()
                .to_string()
                .trim_matches('"')
                .to_string(),
            _ => p.default.to_value().to_string(),
        })
        .collect()
}

/// Actions whose name or help contains every word typed, in keymap order.
pub fn palette_matches(query: &str) -> Vec<Action> {
    let words: Vec<String> = query.split_whitespace().map(|w| w.to_lowercase()).collect();
    Action::ALL
        .iter()
        .copied()
        .filter(|a| {
            let text = format!("{} {}", a.name(), a.help()).to_lowercase();
            words.iter().all(|w| text.contains(w.as_str()))
        })
        .collect()
}

/// The entries of the folder typed so far that start with the last component (folders end with
/// `/`; `../` first, to go up), at most a few hundred.
pub fn list_entries(text: &str) -> Vec<String> {
    let (_, mut names) = complete_path(text);
    let prefix = text.rsplit('/').next().unwrap_or("");
    if prefix.is_empty() {
        names.insert(0, "../".into());
    }
    names.truncate(500);
    names
}

/// Completes the last path component: the longest common prefix of the matching entries, and
/// the entries themselves (folders end with `/`).
pub fn complete_path(text: &str) -> (String, Vec<String>) {
    let (dir, prefix) = match text.rfind('/') {
        Some(i) => (&text[..=i], &text[i + 1..]),
        None => ("", text),
    };
    let read_dir = if dir.is_empty() { "." } else { dir };
    let Ok(entries) = std::fs::read_dir(read_dir) else {
        return (text.to_string(), Vec::new());
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
                return None;
            }
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            Some(if is_dir { format!("{name}/") } else { name })
        })
        .collect();
    names.sort();
    let Some(first) = names.first() else {
        return (text.to_string(), Vec::new());
    };
    let mut common = first.clone();
    for n in &names[1..] {
        while !n.starts_with(&common) {
            common.pop();
        }
    }
    (format!("{dir}{common}"), names)
}

/// Compact number for the status line.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "∞".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
    }
}

//! The Experiments pane: the runs in the store, filtered, sorted and marked for comparison;
//! opening, comparing, deleting and re-running them.

use std::collections::BTreeSet;

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::Component;
use crate::service::jobs::JobKind;
use crate::store::RunSummary;
use crate::text::{sanitize, truncate};
use crate::tui::app::{Effect, RunUse};
use crate::tui::keymap::Action;
use crate::tui::overlays::confirm_delete::ConfirmDelete;
use crate::tui::overlays::edit_value::EditValue;
use crate::tui::overlays::Overlay;
use crate::tui::shared::{Level, Shared};
use crate::tui::theme::Role;
use crate::tui::widgets::block;

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

impl Default for ExperimentsPane {
    fn default() -> Self {
        ExperimentsPane {
            runs: Vec::new(),
            selected: 0,
            filter: String::new(),
            sort: RunSort::Newest,
            marked: BTreeSet::new(),
            loading: false,
        }
    }
}

impl Component for ExperimentsPane {
    fn on_action(&mut self, action: Action, cx: &mut Shared) -> Vec<Effect> {
        let visible: Vec<i64> = self.visible().iter().map(|r| r.id).collect();
        let selected_id = visible.get(self.selected).copied();
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => {
                self.selected = (self.selected + 1).min(visible.len().saturating_sub(1))
            }
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = visible.len().saturating_sub(1),
            Action::PageDown => {
                self.selected = (self.selected + 10).min(visible.len().saturating_sub(1))
            }
            Action::PageUp => self.selected = self.selected.saturating_sub(10),
            Action::Refresh => {
                return vec![self.list_runs(cx)];
            }
            Action::Filter => cx.open(Overlay::EditValue(EditValue::filter(self.filter.clone()))),
            Action::Sort => {
                self.sort = match self.sort {
                    RunSort::Newest => RunSort::RocAuc,
                    RunSort::RocAuc => RunSort::Detector,
                    RunSort::Detector => RunSort::Dataset,
                    RunSort::Dataset => RunSort::Newest,
                };
                self.selected = 0;
                cx.set_status(Level::Info, format!("Sorted by {}", self.sort.name()));
            }
            Action::Mark => {
                if let Some(id) = selected_id {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    let marked = self.marked.len();
                    cx.set_status(
                        Level::Info,
                        match marked {
                            0 => "No run marked".to_string(),
                            1 => "1 run marked; mark another to compare".to_string(),
                            n => format!("{n} runs marked: Enter compares them"),
                        },
                    );
                }
            }
            Action::Select => {
                if self.marked.len() >= 2 {
                    return vec![Effect::CompareRuns {
                        ticket: cx.jobs.start(JobKind::RunRead),
                        ids: self.marked.iter().copied().collect(),
                        on_screen: cx.on_screen(),
                    }];
                }
                if let Some(id) = selected_id {
                    return vec![Effect::LoadRun {
                        ticket: cx.jobs.start(JobKind::RunRead),
                        id,
                        then: RunUse::Show,
                        on_screen: cx.on_screen(),
                    }];
                }
            }
            Action::Delete => {
                let ids: Vec<i64> = if self.marked.is_empty() {
                    selected_id.into_iter().collect()
                } else {
                    self.marked.iter().copied().collect()
                };
                if !ids.is_empty() {
                    cx.open(Overlay::ConfirmDelete(ConfirmDelete::new(ids)));
                }
            }
            Action::Run => {
                // Re-run: the selected run's detector and parameters on the loaded data.
                if let Some(id) = selected_id {
                    return vec![Effect::LoadRun {
                        ticket: cx.jobs.start(JobKind::RunRead),
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

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let e = self;
        let runs = e.visible();
        let title = format!(
            "Experiments in {} · {} shown of {} · sorted by {}{}",
            truncate(&sanitize(&cx.store_label), 40),
            runs.len(),
            e.runs.len(),
            e.sort.name(),
            if e.filter.is_empty() {
                String::new()
            } else {
                format!(" · filter \"{}\"", sanitize(&e.filter))
            }
        );
        if runs.is_empty() {
            let msg = if e.loading {
                "Loading…"
            } else if e.runs.is_empty() && cx.store_label.starts_with("no store") {
                "Nothing is recorded in this session (--no-store)."
            } else if e.runs.is_empty() {
                "No runs stored yet. Runs from the Detect pane and from `pynomaly detect` appear here."
            } else {
                "No run matches the filter (/ to change it)."
            };
            frame.render_widget(Paragraph::new(msg).block(block(title, true, theme)), area);
            return;
        }
        let visible = area.height.saturating_sub(3) as usize;
        let first = e.selected.saturating_sub(visible.saturating_sub(1));
        let narrow = area.width < 100;
        // What the table leaves for the dataset column (borders, the other columns and the
        // gaps between all nine): a longer name is cut there with an ellipsis.
        let fixed = 1 + 4 + if narrow { 11 } else { 19 } + 8 + 9 + 6 + 7 + 7;
        let dataset_width = (area.width as usize)
            .saturating_sub(2 + fixed + 8)
            .clamp(7, 40);
        let rows: Vec<Row> = runs
            .iter()
            .enumerate()
            .skip(first)
            .take(visible)
            .map(|(i, r)| {
                let dataset = r
                    .dataset
                    .as_deref()
                    .map(file_name)
                    .unwrap_or_else(|| "-".into());
                // Narrow screens keep the dataset's name readable: the start time loses its
                // year and seconds.
                let started = if narrow {
                    r.started.get(5..16).unwrap_or(&r.started).to_string()
                } else {
                    r.started.clone()
                };
                let style = if i == e.selected {
                    theme.style(Role::Selection)
                } else if r.status == "failed" || r.status == "interrupted" {
                    theme.style(Role::Warn)
                } else {
                    Style::default()
                };
                Row::new(vec![
                    Cell::from(if e.marked.contains(&r.id) { "●" } else { " " }),
                    Cell::from(r.id.to_string()),
                    Cell::from(started),
                    Cell::from(truncate(&sanitize(&r.detector), 8).into_owned()),
                    Cell::from(truncate(&sanitize(&dataset), dataset_width).into_owned()),
                    Cell::from(r.status.clone()),
                    Cell::from(r.n_rows.map(|n| n.to_string()).unwrap_or_default()),
                    Cell::from(r.n_anomalies.map(|n| n.to_string()).unwrap_or_default()),
                    Cell::from(
                        r.roc_auc
                            .map(|a| format!("{a:.4}"))
                            .unwrap_or_else(|| "-".into()),
                    ),
                ])
                .style(style)
            })
            .collect();
        frame.render_widget(
            Table::new(
                rows,
                [
                    Constraint::Length(1),
                    Constraint::Length(4),
                    Constraint::Length(if narrow { 11 } else { 19 }),
                    Constraint::Length(8),
                    Constraint::Min(7),
                    Constraint::Length(9),
                    Constraint::Length(6),
                    Constraint::Length(7),
                    Constraint::Length(7),
                ],
            )
            .header(
                Row::new(vec![
                    "",
                    "id",
                    if narrow { "started" } else { "started (UTC)" },
                    "detector",
                    "dataset",
                    "status",
                    "rows",
                    "flagged",
                    "ROC-AUC",
                ])
                .style(theme.style(Role::Muted)),
            )
            .block(block(title, true, theme)),
            area,
        );
    }

    fn hints(&self) -> &'static [Action] {
        &[
            Action::Select,
            Action::Mark,
            Action::Filter,
            Action::Sort,
            Action::Delete,
            Action::Run,
        ]
    }

    /// The list is read again each time the pane comes forward.
    fn on_enter(&mut self, cx: &mut Shared) -> Vec<Effect> {
        if self.loading {
            return Vec::new();
        }
        vec![self.list_runs(cx)]
    }
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
            // By the file name the list shows, then the whole path.
            RunSort::Dataset => runs.sort_by(|a, b| {
                let name = |d: &Option<String>| d.as_deref().map(file_name).unwrap_or_default();
                name(&a.dataset)
                    .cmp(&name(&b.dataset))
                    .then_with(|| a.dataset.cmp(&b.dataset))
            }),
        }
        runs
    }

    /// Asks for the run list again (a newer request makes an older one stale).
    pub fn list_runs(&mut self, cx: &mut Shared) -> Effect {
        self.loading = true;
        Effect::ListRuns(cx.jobs.start(JobKind::RunList))
    }

    /// The list read from the store; the selection and marks stay on runs that still exist.
    pub fn set_runs(&mut self, runs: Vec<RunSummary>) {
        self.loading = false;
        // The selection stays on the run it was on when the list changes around it; on the
        // first row it stays there (the newest run, with the default order).
        let was = (self.selected > 0)
            .then(|| self.visible().get(self.selected).map(|r| r.id))
            .flatten();
        self.runs = runs;
        let visible = self.visible();
        let n = visible.len();
        self.selected = was
            .and_then(|id| visible.iter().position(|r| r.id == id))
            .unwrap_or(self.selected)
            .min(n.saturating_sub(1));
        let ids: BTreeSet<i64> = self.runs.iter().map(|r| r.id).collect();
        self.marked.retain(|id| ids.contains(id));
    }

    /// Filters as the text is typed (from the filter dialog).
    pub fn set_filter(&mut self, text: &str) {
        self.filter = text.to_string();
        self.selected = 0;
    }
}

/// The file name of a dataset path (`demo:NAME` as it is).
fn file_name(d: &str) -> String {
    std::path::Path::new(d)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| d.to_string())
}

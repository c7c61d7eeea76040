//! The Detect pane: the detector registry by family, the selected detector's parameter form
//! (checked by the registry, with the CLI's messages) and the Jobs box. Runs use the shared
//! dataset, seed and threshold; a run started while another runs waits in the shared queue.

use std::collections::BTreeMap;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::{Component, Pane};
use crate::detectors::{registry, DetectorInfo, ParamKind, Params};
use crate::store::RunDetail;
use crate::text::sanitize;
use crate::tui::app::Effect;
use crate::tui::keymap::Action;
use crate::tui::overlays::edit_value::EditValue;
use crate::tui::overlays::Overlay;
use crate::tui::shared::{Level, Shared};
use crate::tui::theme::Role;
use crate::tui::widgets::block;

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
}

impl Default for DetectPane {
    fn default() -> Self {
        let mut entries: Vec<&'static DetectorInfo> = registry().iter().collect();
        entries.sort_by_key(|d| d.family.name());
        DetectPane {
            entries,
            selected: 0,
            focus: DetectFocus::Detectors,
            param_selected: 0,
            values: BTreeMap::new(),
            error: None,
        }
    }
}

impl Component for DetectPane {
    fn on_action(&mut self, action: Action, cx: &mut Shared) -> Vec<Effect> {
        let n = self.entries.len();
        let n_params = self.selected_detector().params.len();
        match (self.focus, action) {
            (_, Action::SwitchFocus) | (DetectFocus::Detectors, Action::Right) => {
                self.focus = match self.focus {
                    DetectFocus::Detectors if n_params > 0 => DetectFocus::Params,
                    _ => DetectFocus::Detectors,
                };
            }
            (DetectFocus::Params, Action::Left) => self.focus = DetectFocus::Detectors,
            (DetectFocus::Detectors, Action::Up) => {
                self.selected = self.selected.saturating_sub(1);
                self.param_selected = 0;
                self.revalidate();
            }
            (DetectFocus::Detectors, Action::Down) => {
                self.selected = (self.selected + 1).min(n - 1);
                self.param_selected = 0;
                self.revalidate();
            }
            (DetectFocus::Detectors, Action::Top) => self.selected = 0,
            (DetectFocus::Detectors, Action::Bottom) => self.selected = n - 1,
            (DetectFocus::Params, Action::Up) => {
                self.param_selected = self.param_selected.saturating_sub(1)
            }
            (DetectFocus::Params, Action::Down) => {
                self.param_selected = (self.param_selected + 1).min(n_params.saturating_sub(1))
            }
            (DetectFocus::Params, Action::Select) if n_params > 0 => {
                let value = self.param_values()[self.param_selected].clone();
                cx.open(Overlay::EditValue(EditValue::param(
                    self.selected_detector(),
                    self.param_selected,
                    value,
                )));
            }
            (DetectFocus::Detectors, Action::Select) | (_, Action::Run) => {
                return self.run_selected(false, cx)
            }
            (_, Action::Enqueue) => return self.run_selected(true, cx),
            (_, Action::EditSeed) => {
                let seed = cx.seed;
                cx.open(Overlay::EditValue(EditValue::seed(seed)));
            }
            (_, Action::ResetParams) => {
                let name = self.selected_detector().name;
                self.values.remove(name);
                self.revalidate();
            }
            _ => {}
        }
        Vec::new()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let [list_area, right] =
            Layout::horizontal([Constraint::Length(18), Constraint::Min(0)]).areas(area);
        // Registry grouped by family.
        let mut lines: Vec<Line> = Vec::new();
        let mut last_family = "";
        let mut selected_line = 0;
        for (i, d) in self.entries.iter().enumerate() {
            if d.family.name() != last_family {
                last_family = d.family.name();
                lines.push(Line::styled(
                    last_family.to_string(),
                    theme.style(Role::Muted),
                ));
            }
            if i == self.selected {
                selected_line = lines.len();
            }
            let style = if i == self.selected {
                theme.style(Role::Selection)
            } else {
                Style::default()
            };
            let marker = if i == self.selected { "▸ " } else { "  " };
            lines.push(Line::styled(format!("{marker}{}", d.name), style));
        }
        let inner_height = list_area.height.saturating_sub(2) as usize;
        let scroll = selected_line.saturating_sub(inner_height.saturating_sub(1));
        frame.render_widget(
            Paragraph::new(lines)
                .scroll((scroll as u16, 0))
                .block(block(
                    "Detectors",
                    self.focus == DetectFocus::Detectors,
                    theme,
                )),
            list_area,
        );

        let info = self.selected_detector();
        let [about, form, queue] = Layout::vertical([
            Constraint::Length(5),
            Constraint::Min(0),
            Constraint::Length(4),
        ])
        .areas(right);
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(vec![
                    Span::styled(info.name, theme.style(Role::Title)),
                    Span::styled(
                        format!("  {} · {}", info.family.name(), info.complexity),
                        theme.style(Role::Muted),
                    ),
                ]),
                Line::raw(info.summary),
                Line::styled(
                    if info.randomized {
                        format!("randomised: seed {}", cx.seed)
                    } else {
                        "deterministic".to_string()
                    },
                    theme.style(Role::Muted),
                ),
            ])
            .wrap(Wrap { trim: true })
            .block(block("About", false, theme)),
            about,
        );

        let values = self.param_values();
        let rows: Vec<Row> = info
            .params
            .iter()
            .zip(&values)
            .enumerate()
            .map(|(i, (p, v))| {
                let log = match p.kind {
                    ParamKind::Int { log: true, .. } | ParamKind::Float { log: true, .. } => {
                        ", log"
                    }
                    _ => "",
                };
                let style = if self.focus == DetectFocus::Params && i == self.param_selected {
                    theme.style(Role::Selection)
                } else {
                    Style::default()
                };
                Row::new(vec![
                    Cell::from(p.name),
                    Cell::from(sanitize(v).into_owned()).style(theme.style(Role::Focus)),
                    Cell::from(format!("{}{log}", p.short_range())).style(theme.style(Role::Muted)),
                    Cell::from(p.help),
                ])
                .style(style)
            })
            .collect();
        let mut form_block = block(
            "Parameters (Enter edits)",
            self.focus == DetectFocus::Params,
            theme,
        );
        if let Some(e) = &self.error {
            form_block = form_block.title_bottom(Span::styled(
                format!(" ✗ {} ", sanitize(e)),
                theme.style(Role::Error),
            ));
        }
        if info.params.is_empty() {
            frame.render_widget(
                Paragraph::new("This detector has no parameters.").block(form_block),
                form,
            );
        } else {
            frame.render_widget(
                Table::new(
                    rows,
                    [
                        Constraint::Length(16),
                        Constraint::Length(12),
                        Constraint::Length(22),
                        Constraint::Min(10),
                    ],
                )
                .header(
                    Row::new(vec!["parameter", "value", "range", "meaning"])
                        .style(theme.style(Role::Muted)),
                )
                .block(form_block),
                form,
            );
        }

        let mut lines = Vec::new();
        match &cx.job {
            Some(job) => lines.push(Line::from(format!(
                "running {} {:.0}%  (x cancels)",
                job.detector,
                job.fraction * 100.0
            ))),
            None => lines.push(Line::styled("idle", theme.style(Role::Muted))),
        }
        if !cx.queue.is_empty() {
            let names: Vec<&str> = cx.queue.iter().map(|(n, _)| *n).collect();
            lines.push(Line::from(format!("queued: {}", names.join(", "))));
        }
        frame.render_widget(
            Paragraph::new(lines).block(block("Jobs", false, theme)),
            queue,
        );
    }

    fn hints(&self) -> &'static [Action] {
        &[
            Action::Run,
            Action::Enqueue,
            Action::SwitchFocus,
            Action::Select,
        ]
    }
}

impl DetectPane {
    pub fn selected_detector(&self) -> &'static DetectorInfo {
        self.entries[self.selected]
    }

    /// Parameter values of the selected detector, as shown in the form.
    pub fn param_values(&self) -> Vec<String> {
        let info = self.selected_detector();
        self.values
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

    /// Keeps an edited parameter value (from the edit dialog) and checks the form again.
    pub fn set_param(&mut self, index: usize, value: String, cx: &mut Shared) {
        let info = self.selected_detector();
        let mut values = self.param_values();
        values[index] = value;
        self.values.insert(info.name, values);
        self.revalidate();
        match &self.error {
            Some(e) => cx.set_status(Level::Error, e.clone()),
            None => cx.set_status(Level::Ok, "Parameters are valid"),
        }
    }

    fn revalidate(&mut self) {
        self.error = self.resolved_params().err();
    }

    /// Runs now, or queues behind the running job.
    fn run_selected(&mut self, queue_only: bool, cx: &mut Shared) -> Vec<Effect> {
        let params = match self.resolved_params() {
            Ok(p) => p,
            Err(e) => {
                self.error = Some(e.clone());
                cx.set_status(Level::Error, e);
                return Vec::new();
            }
        };
        let name = self.selected_detector().name;
        if cx.job.is_some() || (queue_only && cx.dataset.prepared.is_none()) {
            cx.queue.push_back((name, params));
            cx.set_status(
                Level::Info,
                format!("Queued {name} ({} waiting)", cx.queue.len()),
            );
            return Vec::new();
        }
        cx.start_fit(name, params)
    }

    /// Re-runs a stored run: its detector, parameters and seed on the data on screen; the Charts
    /// pane comes forward.
    pub fn rerun(&mut self, detail: &RunDetail, cx: &mut Shared) -> Vec<Effect> {
        let Some(pos) = self
            .entries
            .iter()
            .position(|d| d.name == detail.summary.detector)
        else {
            cx.set_status(
                Level::Error,
                format!("unknown detector {}", detail.summary.detector),
            );
            return Vec::new();
        };
        self.selected = pos;
        let info = self.entries[pos];
        let values: Vec<String> = info
            .params
            .iter()
            .map(|p| match detail.params.get(p.name) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => {
                    match serde_json::from_value::<crate::detectors::ParamValue>(v.clone()) {
                        Ok(value) => crate::detectors::form_value(p.name, &value),
                        Err(_) => v.to_string(),
                    }
                }
                None => crate::detectors::form_value(p.name, &p.default.to_value()),
            })
            .collect();
        self.values.insert(info.name, values);
        cx.seed = detail.seed;
        self.revalidate();
        cx.go(Pane::Charts);
        let effects = self.run_selected(false, cx);
        // The run's own data may not be what is loaded now: say which data this re-run uses.
        let loaded = cx.dataset.loaded.as_ref();
        let same_data = loaded
            .is_some_and(|l| detail.dataset_fingerprint.as_deref() == Some(l.fingerprint.as_str()));
        if !effects.is_empty() && !same_data {
            let on = loaded.map_or("the loaded data".to_string(), |l| l.source.clone());
            let note = format!(
                "re-ran run {}'s {} on {on}, not on its own data ({}); open that file to repeat it exactly",
                detail.summary.id,
                detail.summary.detector,
                detail.summary.dataset.as_deref().unwrap_or("unknown")
            );
            cx.set_status(Level::Warn, format!("Re-running: {note}"));
            cx.fit_note = Some(note);
        }
        effects
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
            _ => crate::detectors::form_value(p.name, &p.default.to_value()),
        })
        .collect()
}

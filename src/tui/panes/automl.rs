//! The AutoML pane: the search form, the leaderboard and the best objective so far. A search
//! uses the shared dataset, seed and threshold; its best run joins the shared results.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Cell, Chart, Dataset, GraphType, Padding, Paragraph, Row, Table, Wrap,
};
use ratatui::Frame;

use super::Component;
use crate::automl::{Metric, Strategy, Trial};
use crate::detectors::{registry, Family};
use crate::service::automl::AutomlOptions;
use crate::service::jobs::JobKind;
use crate::text::sanitize;
use crate::tui::app::{AutomlRequest, Effect};
use crate::tui::keymap::Action;
use crate::tui::shared::{Job, Level, Shared};
use crate::tui::theme::{Role, Theme};
use crate::tui::widgets::{block, bounds};

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
    /// Index into `Shared::results` of the last search's best run.
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

impl Default for AutomlPane {
    fn default() -> Self {
        AutomlPane {
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
        }
    }
}

impl Component for AutomlPane {
    fn on_action(&mut self, action: Action, cx: &mut Shared) -> Vec<Effect> {
        let n_fields = AutomlField::ALL.len();
        match action {
            Action::Up => self.field = self.field.saturating_sub(1),
            Action::Down => self.field = (self.field + 1).min(n_fields - 1),
            Action::Top => self.field = 0,
            Action::Bottom => self.field = n_fields - 1,
            Action::Left | Action::Right | Action::Select => {
                let forward = action != Action::Left;
                self.cycle_field(forward);
            }
            Action::PageDown => self.leaderboard_offset += 10,
            Action::PageUp => self.leaderboard_offset = self.leaderboard_offset.saturating_sub(10),
            Action::Run => return self.start_search(cx),
            Action::OpenBest => match self.best_result.filter(|&i| i < cx.results.len()) {
                Some(i) => cx.show_result(i),
                None => cx.set_status(Level::Info, "No AutoML result yet: r starts a search"),
            },
            _ => {}
        }
        Vec::new()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let form_width = if area.width < 100 { 32 } else { 36 };
        let [form_area, right] =
            Layout::horizontal([Constraint::Length(form_width), Constraint::Min(0)]).areas(area);
        self.draw_form(frame, cx, form_area, theme);
        let [board_area, chart_area] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(right);
        self.draw_leaderboard(frame, cx, board_area, theme);
        self.draw_best_so_far(frame, chart_area, theme);
    }

    fn hints(&self) -> &'static [Action] {
        &[Action::Run, Action::Select, Action::OpenBest]
    }
}

impl AutomlPane {
    fn cycle_field(&mut self, forward: bool) {
        fn step<T: PartialEq + Copy>(options: &[T], current: T, forward: bool) -> T {
            let i = options.iter().position(|o| *o == current).unwrap_or(0);
            let n = options.len();
            options[if forward {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            }]
        }
        match AutomlField::ALL[self.field] {
            AutomlField::Detectors => {
                let mut families: Vec<Option<Family>> = vec![None];
                for d in registry() {
                    if !families.contains(&Some(d.family)) {
                        families.push(Some(d.family));
                    }
                }
                self.family = step(&families, self.family, forward);
            }
            AutomlField::Metric => {
                let options = [
                    MetricChoice::Auto,
                    MetricChoice::Fixed(Metric::Auc),
                    MetricChoice::Fixed(Metric::Ap),
                    MetricChoice::Fixed(Metric::LabelFree),
                ];
                self.metric = step(&options, self.metric, forward);
            }
            AutomlField::Protocol => self.holdout = !self.holdout,
            AutomlField::Strategy => self.strategy = step(&Strategy::ALL, self.strategy, forward),
            AutomlField::Trials => self.trials = step(&AUTOML_TRIALS, self.trials, forward),
            AutomlField::Budget => self.budget_s = step(&AUTOML_BUDGETS, self.budget_s, forward),
            AutomlField::Ensemble => {
                self.ensemble = step(&AUTOML_ENSEMBLES, self.ensemble, forward)
            }
        }
    }

    /// The metric a search would use on the data on screen.
    pub fn resolved_metric(&self, cx: &Shared) -> Metric {
        let labelled = cx
            .dataset
            .prepared
            .as_ref()
            .is_some_and(|p| p.prepared.matrix.label.is_some());
        match self.metric {
            MetricChoice::Fixed(m) => m,
            MetricChoice::Auto if labelled => Metric::Auc,
            MetricChoice::Auto => Metric::LabelFree,
        }
    }

    /// Starts a search with the form's choices on the data on screen.
    fn start_search(&mut self, cx: &mut Shared) -> Vec<Effect> {
        if cx.job.is_some() {
            cx.set_status(
                Level::Warn,
                "A job is running: wait for it or cancel it (x)",
            );
            return Vec::new();
        }
        let Some((data, projection)) = cx.fit_data() else {
            cx.set_status(
                Level::Warn,
                "No data prepared yet: open a file in the Data pane",
            );
            return Vec::new();
        };
        let options = AutomlOptions {
            detectors: self.family.map(|f| vec![f.name().to_string()]),
            metric: match self.metric {
                MetricChoice::Fixed(m) => Some(m),
                MetricChoice::Auto => None,
            },
            holdout: self.holdout,
            strategy: self.strategy,
            trials: self.trials,
            budget: self.budget_s.map(std::time::Duration::from_secs),
            ensemble: self.ensemble,
            seed: cx.seed,
            threshold: cx.threshold,
        };
        let plan = match crate::service::automl::plan_automl(&data.prepared, &options) {
            Ok(plan) => plan,
            Err(e) => {
                cx.set_status(Level::Error, e.message);
                return Vec::new();
            }
        };
        let ticket = cx.jobs.start(JobKind::Automl);
        cx.job = Some(Job {
            ticket: ticket.clone(),
            detector: "automl",
            fraction: 0.0,
        });
        let metric = plan.config.metric;
        self.trials_done.clear();
        self.planned = plan.config.trials;
        self.running_metric = Some(metric);
        self.leaderboard_offset = 0;
        let left_out = if plan.skipped_detectors.is_empty() {
            String::new()
        } else {
            format!(
                "; left out as too slow for this size: {}",
                plan.skipped_detectors.join(", ")
            )
        };
        cx.set_status(
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

    /// One trial of the running search finished.
    pub fn on_trial(&mut self, job: u64, trial: Trial, cx: &mut Shared) {
        if let Some(j) = cx.job.as_mut().filter(|j| j.ticket.id == job) {
            self.trials_done.push(trial);
            j.fraction = (self.trials_done.len() as f64 / self.planned.max(1) as f64).min(1.0);
        }
    }

    fn draw_form(&self, frame: &mut Frame, cx: &Shared, area: Rect, theme: &Theme) {
        let a = self;
        let label = cx
            .dataset
            .prepared
            .as_ref()
            .and_then(|p| p.prepared.report.label_column.clone());
        let value = |field: AutomlField| -> String {
            match field {
                AutomlField::Detectors => match a.family {
                    None => "all".into(),
                    Some(f) => format!("{} family", f.name()),
                },
                AutomlField::Metric => match a.metric {
                    MetricChoice::Auto => format!("auto → {}", self.resolved_metric(cx).name()),
                    MetricChoice::Fixed(m) => m.name().into(),
                },
                AutomlField::Protocol => {
                    if self.resolved_metric(cx) == Metric::LabelFree {
                        "all rows (label-free)".into()
                    } else if a.holdout {
                        "hold-out 30 %".into()
                    } else {
                        "all rows".into()
                    }
                }
                AutomlField::Strategy => a.strategy.name().into(),
                AutomlField::Trials => a.trials.to_string(),
                AutomlField::Budget => a
                    .budget_s
                    .map(|s| format!("{s} s"))
                    .unwrap_or_else(|| "none".into()),
                AutomlField::Ensemble => match a.ensemble {
                    0 => "off".into(),
                    k => format!("top {k}"),
                },
            }
        };
        let mut lines: Vec<Line> = AutomlField::ALL
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let style = if i == a.field {
                    theme.style(Role::Selection)
                } else {
                    Style::default()
                };
                Line::from(vec![
                    Span::styled(format!("{:<10}", f.label()), theme.style(Role::Muted)),
                    Span::styled(format!("◂ {} ▸", value(*f)), style),
                ])
            })
            .collect();
        lines.push(Line::from(Span::styled(
            format!("{:<10}{} (S in Detect)", "Seed", cx.seed),
            theme.style(Role::Muted),
        )));
        lines.push(Line::raw(""));
        let label_line = match &label {
            Some(l) => format!("Label: {}", sanitize(l)),
            None => "No label: the search is label-free".into(),
        };
        lines.push(Line::from(Span::styled(
            label_line,
            theme.style(Role::Muted),
        )));
        let explain = match a.strategy {
            Strategy::Random => "Random: every detector's defaults, then random draws.",
            Strategy::Halving => {
                "Halving: many candidates on a small subsample; the best third moves on to 3× more rows."
            }
            Strategy::Tpe => "TPE: after a random start, new trials are drawn where good ones were.",
        };
        lines.push(Line::from(Span::styled(
            explain.to_string(),
            theme.style(Role::Muted),
        )));
        lines.push(Line::from(Span::styled(
            "↑↓ field · ←→ change · r start · x cancel",
            theme.style(Role::Muted),
        )));
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(block("Search", true, theme).padding(Padding::horizontal(1))),
            area,
        );
    }

    fn draw_leaderboard(&self, frame: &mut Frame, cx: &Shared, area: Rect, theme: &Theme) {
        let a = self;
        let running = cx.job.as_ref().is_some_and(|j| j.detector == "automl");
        let title = format!(
            "Leaderboard · {} of {} trials{}",
            a.trials_done.len(),
            a.planned,
            match (running, a.running_metric) {
                (true, Some(m)) => format!(" · running, objective {}", m.name()),
                (false, Some(m)) => format!(" · objective {}", m.name()),
                _ => String::new(),
            }
        );
        if a.trials_done.is_empty() {
            let msg = if running {
                "Waiting for the first trial…"
            } else {
                "No search yet. Choose the search on the left and press r. Trials appear here as they finish; the best run opens in Charts with o."
            };
            frame.render_widget(
                Paragraph::new(msg)
                    .wrap(Wrap { trim: true })
                    .block(block(title, false, theme)),
                area,
            );
            return;
        }
        let ranked = a.ranked();
        // Narrow terminals drop the time column so that the objective stays readable.
        let time_width = if area.width < 70 { 0 } else { 6 };
        let visible = area.height.saturating_sub(3) as usize;
        let first = a.leaderboard_offset.min(ranked.len().saturating_sub(1));
        let rows: Vec<Row> = ranked
            .iter()
            .enumerate()
            .skip(first)
            .take(visible)
            .map(|(rank, t)| {
                let params = t.params.describe();
                let style = if rank == 0 && t.objective.is_some() {
                    theme.style(Role::Ok)
                } else if t.objective.is_none() {
                    theme.style(Role::Muted)
                } else {
                    Style::default()
                };
                Row::new(vec![
                    Cell::from((rank + 1).to_string()),
                    Cell::from(t.number.to_string()),
                    Cell::from(t.detector.clone()),
                    Cell::from(t.objective.map(|o| format!("{o:.4}")).unwrap_or_else(|| {
                        match &t.error {
                            Some(_) => "failed".into(),
                            None => "-".into(),
                        }
                    })),
                    Cell::from(t.fit_rows.to_string()),
                    Cell::from(format!("{:.2}", t.time_s)),
                    Cell::from(params.join(" ")),
                ])
                .style(style)
            })
            .collect();
        frame.render_widget(
            Table::new(
                rows,
                [
                    Constraint::Length(4),
                    Constraint::Length(3),
                    Constraint::Length(8),
                    Constraint::Length(9),
                    Constraint::Length(7),
                    Constraint::Length(time_width),
                    Constraint::Min(10),
                ],
            )
            .header(
                Row::new(vec![
                    "rank",
                    "#",
                    "detector",
                    "objective",
                    "rows",
                    "time s",
                    "parameters",
                ])
                .style(theme.style(Role::Muted)),
            )
            .block(block(title, false, theme)),
            area,
        );
    }

    fn draw_best_so_far(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let a = self;
        let title = "Best so far on the most rows (line) and each trial (•)";
        let best = a.best_so_far();
        let line: Vec<(f64, f64)> = best
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_finite())
            .map(|(i, b)| ((i + 1) as f64, *b))
            .collect();
        let dots: Vec<(f64, f64)> = a
            .trials_done
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.objective.map(|o| ((i + 1) as f64, o)))
            .collect();
        if dots.is_empty() {
            frame.render_widget(
                Paragraph::new("The best objective over trials is drawn here during a search.")
                    .wrap(Wrap { trim: true })
                    .block(block(title, false, theme)),
                area,
            );
            return;
        }
        let y = bounds(dots.iter().map(|p| p.1));
        let x_max = (a.planned.max(dots.len())) as f64;
        let datasets = vec![
            Dataset::default()
                .name("trial")
                .graph_type(GraphType::Scatter)
                .marker(Marker::Dot)
                .style(theme.style(Role::Muted))
                .data(&dots),
            Dataset::default()
                .name("best")
                .graph_type(GraphType::Line)
                .marker(Marker::Braille)
                .style(theme.style(Role::Chart1))
                .data(&line),
        ];
        frame.render_widget(
            Chart::new(datasets)
                .style(theme.style(Role::Base))
                .block(block(title, false, theme))
                .x_axis(
                    Axis::default()
                        .title("trial")
                        .bounds([1.0, x_max.max(2.0)])
                        .labels(vec![Span::raw("1"), Span::raw(format!("{x_max:.0}"))])
                        .style(theme.style(Role::Muted)),
                )
                .y_axis(
                    Axis::default()
                        .bounds(y)
                        .labels(vec![
                            Span::raw(format!("{:.3}", y[0])),
                            Span::raw(format!("{:.3}", y[1])),
                        ])
                        .style(theme.style(Role::Muted)),
                ),
            area,
        );
    }
}

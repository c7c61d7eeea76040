//! The Charts pane: one result at a time (a run of the session or a stored run opened): score
//! histogram with the threshold, the top anomalies, and a lower chart (ROC, precision–recall,
//! projection, scores over time). The results are shared; the threshold moves here.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::Component;
use crate::text::{sanitize, truncate};
use crate::tui::app::{Effect, RunResult};
use crate::tui::keymap::Action;
use crate::tui::overlays::edit_value::{EditValue, ExportKind};
use crate::tui::overlays::row_detail::RowDetail;
use crate::tui::overlays::Overlay;
use crate::tui::shared::{Level, Shared};
use crate::tui::theme::{Role, Theme};
use crate::tui::widgets::{block, bounds, fmt_cell, fmt_num, series_style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowerChart {
    Roc,
    Pr,
    Projection,
    Time,
}

#[derive(Debug, Clone)]
pub struct ChartsPane {
    /// Index into `Shared::results` of the result shown.
    pub selected: usize,
    pub lower: LowerChart,
    /// The selected row of the top anomalies, by rank (0 = highest score); Enter explains it.
    pub top_selected: usize,
}

impl Default for ChartsPane {
    fn default() -> Self {
        ChartsPane {
            selected: 0,
            lower: LowerChart::Roc,
            top_selected: 0,
        }
    }
}

impl Component for ChartsPane {
    fn on_action(&mut self, action: Action, cx: &mut Shared) -> Vec<Effect> {
        let count = cx.results.len();
        match action {
            Action::NextResult | Action::Right if count > 0 => {
                self.show((self.selected + 1) % count, &cx.results)
            }
            Action::PrevResult | Action::Left if count > 0 => {
                self.show((self.selected + count - 1) % count, &cx.results)
            }
            Action::ThresholdUp | Action::ThresholdDown => {
                if let Some(r) = cx.results.get_mut(self.selected) {
                    r.step_threshold(action == Action::ThresholdUp);
                    let text = threshold_status(r);
                    cx.set_status(Level::Info, text);
                }
            }
            Action::ThresholdMethod if count > 0 => {
                let current = cx.results[self.selected].threshold_method();
                let current = if current == "moved" {
                    String::new()
                } else {
                    current
                };
                cx.open(Overlay::EditValue(EditValue::threshold(
                    self.selected,
                    current,
                )));
            }
            Action::NextChart => {
                self.lower = match self.lower {
                    LowerChart::Roc => LowerChart::Pr,
                    LowerChart::Pr => LowerChart::Projection,
                    LowerChart::Projection => LowerChart::Time,
                    LowerChart::Time => LowerChart::Roc,
                }
            }
            Action::Down | Action::NextAnomaly => {
                let rows = cx.results.get(self.selected).map_or(0, |r| r.order.len());
                self.top_selected = (self.top_selected + 1).min(rows.saturating_sub(1));
            }
            Action::Up | Action::PrevAnomaly => {
                self.top_selected = self.top_selected.saturating_sub(1)
            }
            Action::Top => self.top_selected = 0,
            Action::ExportFlagged | Action::ExportAll | Action::ExportReport if count > 0 => {
                let kind = match action {
                    Action::ExportFlagged => ExportKind::Flagged,
                    Action::ExportAll => ExportKind::AllRows,
                    _ => ExportKind::Report,
                };
                let path = default_export_path(&cx.results[self.selected].source, kind);
                cx.open(Overlay::EditValue(EditValue::export(
                    self.selected,
                    kind,
                    path,
                )));
            }
            Action::Select if count > 0 => {
                let rank = self.top_selected;
                return match cx.explain_row(self.selected, rank) {
                    Ok(effect) => {
                        let r = &cx.results[self.selected];
                        let row_id = r.row_ids[r.order[rank]];
                        cx.open(Overlay::RowDetail(RowDetail::new(
                            self.selected,
                            rank,
                            row_id,
                        )));
                        vec![effect]
                    }
                    Err(e) => {
                        cx.set_status(Level::Error, e);
                        Vec::new()
                    }
                };
            }
            _ => {}
        }
        Vec::new()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let Some(result) = cx.results.get(self.selected) else {
            frame.render_widget(
                Paragraph::new(
                    "No results yet. Choose a detector in the Detect pane (2) and press r to run it.",
                )
                .wrap(Wrap { trim: true })
                .block(block("Charts", true, theme)),
                area,
            );
            return;
        };
        let [title, upper, lower] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Percentage(50),
            Constraint::Min(0),
        ])
        .areas(area);
        frame.render_widget(
            Paragraph::new(self.title_line(cx, result, title.width as usize)),
            title,
        );
        let [hist_area, top_area] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Min(0)]).areas(upper);
        draw_histogram(frame, result, hist_area, theme);
        self.draw_top_table(frame, cx, result, top_area, theme);
        match self.lower {
            LowerChart::Roc => draw_curve(frame, result, true, lower, theme),
            LowerChart::Pr => draw_curve(frame, result, false, lower, theme),
            LowerChart::Projection => draw_projection(frame, result, lower, theme),
            LowerChart::Time => draw_time(frame, result, lower, theme),
        }
    }

    fn hints(&self) -> &'static [Action] {
        &[
            Action::ThresholdUp,
            Action::ThresholdDown,
            Action::NextResult,
            Action::NextChart,
            Action::ThresholdMethod,
            Action::ExportFlagged,
        ]
    }
}

impl ChartsPane {
    /// The result's title in `width` cells: the flagged count always whole; then, as room
    /// allows, the threshold, ROC-AUC, the file name, the run id and the method.
    fn title_line(&self, cx: &Shared, r: &RunResult, width: usize) -> Line<'static> {
        let theme = cx.theme();
        let counter = format!(" {}/{} ", self.selected + 1, cx.results.len());
        let detector = sanitize(&r.detector).into_owned();
        let flagged = format!("▲ {} flagged", r.flagged);
        let of = format!(" of {}", r.scores.len());
        let fixed = counter.chars().count()
            + detector.chars().count()
            + flagged.chars().count()
            + of.chars().count();
        // The file's name: its folder is in the tab bar's path and the run detail.
        let source =
            sanitize(r.source.rsplit(['/', '\\']).next().unwrap_or(&r.source)).into_owned();
        let method = sanitize(&r.threshold_method()).into_owned();
        let auc = r.roc_auc.map(|a| format!(" · ROC-AUC {a:.4}"));
        let run = r.run_id.map(|id| format!(" · run {id}"));
        let value = fmt_num(crate::service::run_view::threshold_value(r.threshold()));
        // From the most detailed to the least: the first that fits is drawn.
        // The file name is also in the tab bar: ROC-AUC outlasts it.
        let middles = [
            (Some(24), true, true, true),
            (Some(24), false, true, true),
            (Some(16), false, true, false),
            (None, false, true, false),
            (None, false, false, false),
        ];
        let mut middle = format!(" · {value} → ");
        for (source_room, with_method, with_auc, with_run) in middles {
            let mut text = String::new();
            if let Some(room) = source_room {
                text.push_str(&format!(" on {}", truncate(&source, room)));
            }
            if with_auc {
                text.push_str(auc.as_deref().unwrap_or(""));
            }
            if with_run {
                text.push_str(run.as_deref().unwrap_or(""));
            }
            if with_method {
                text.push_str(&format!(" · {} = {value} → ", truncate(&method, 18)));
            } else {
                text.push_str(&format!(" · {value} → "));
            }
            middle = text;
            if fixed + middle.chars().count() <= width {
                break;
            }
        }
        Line::from(vec![
            Span::styled(counter, theme.style(Role::Muted)),
            Span::styled(detector, theme.style(Role::Title)),
            Span::raw(middle),
            Span::styled(flagged, theme.style(Role::Anomaly)),
            Span::raw(of),
        ])
    }

    /// Shows result `index`, its top row selected (a new result never inherits the scroll of
    /// the one before). Without a label there is no ROC or precision–recall curve: the lower
    /// chart becomes the scores over time, or the projection.
    pub fn show(&mut self, index: usize, results: &[RunResult]) {
        self.selected = index;
        self.top_selected = 0;
        if let Some(r) = results.get(index) {
            if r.labels.is_none() && matches!(self.lower, LowerChart::Roc | LowerChart::Pr) {
                self.lower = if r.time.is_some() {
                    LowerChart::Time
                } else {
                    LowerChart::Projection
                };
            }
        }
    }

    fn draw_top_table(
        &self,
        frame: &mut Frame,
        cx: &Shared,
        r: &RunResult,
        area: Rect,
        theme: &Theme,
    ) {
        let order = &r.order;
        let visible = area.height.saturating_sub(3) as usize;
        // The selected row stays in view.
        let selected = self.top_selected.min(order.len().saturating_sub(1));
        let offset = selected.saturating_sub(visible.saturating_sub(1));
        let prepared = cx.dataset.prepared.as_ref().map(|p| &p.prepared);
        // Beside each row: the file's values of the first feature columns (`host`, not its
        // one-hot `host=web-2`), when the loaded data is the data this run used.
        let loaded = cx.dataset.loaded.as_deref();
        let sources: Vec<String> = match (prepared, loaded) {
            (Some(p), Some(_)) if p.matrix.row_ids == r.row_ids => {
                crate::service::explain::source_columns(p)
            }
            _ => Vec::new(),
        };
        const VALUE_WIDTH: usize = 8;
        let n_feat = sources
            .len()
            .min((area.width as usize).saturating_sub(26) / (VALUE_WIDTH + 1));
        let value_text = |column: &str, row_id: u64| {
            let text = loaded.map_or(String::new(), |l| {
                crate::service::explain::original_value(l, column, row_id)
            });
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => fmt_cell(v),
                _ => sanitize(&text).into_owned(),
            }
        };
        let header = Row::new(
            ["#", "row", "score", ""]
                .iter()
                .map(|s| s.to_string())
                .chain(
                    sources[..n_feat]
                        .iter()
                        .map(|n| truncate(&sanitize(n), VALUE_WIDTH).into_owned()),
                )
                .map(Cell::from)
                .collect::<Vec<_>>(),
        )
        .style(theme.style(Role::Muted));
        let rows: Vec<Row> = order
            .iter()
            .enumerate()
            .skip(offset)
            .take(visible)
            .map(|(rank, &i)| {
                let is_flagged = rank < r.flagged;
                let mut cells = vec![
                    Cell::from((rank + 1).to_string()),
                    Cell::from(r.row_ids[i].to_string()),
                    Cell::from(fmt_num(r.scores[i])),
                    Cell::from(if is_flagged { "▲" } else { " " }),
                ];
                for column in &sources[..n_feat] {
                    let text = value_text(column, r.row_ids[i]);
                    cells.push(Cell::from(truncate(&text, VALUE_WIDTH).into_owned()));
                }
                let style = if is_flagged {
                    theme.style(Role::Anomaly)
                } else {
                    theme.style(Role::Normal)
                };
                Row::new(cells).style(if rank == selected {
                    style.add_modifier(ratatui::style::Modifier::REVERSED)
                } else {
                    style
                })
            })
            .collect();
        let widths: Vec<Constraint> = [4u16, 7, 9, 1]
            .iter()
            .map(|&w| Constraint::Length(w))
            .chain((0..n_feat).map(|_| Constraint::Length(VALUE_WIDTH as u16)))
            .collect();
        frame.render_widget(
            Table::new(rows, widths).header(header).block(block(
                "Top anomalies (j/k select · Enter explains)",
                false,
                theme,
            )),
            area,
        );
    }
}

fn draw_histogram(frame: &mut Frame, r: &RunResult, area: Rect, theme: &Theme) {
    let bins = (area.width.saturating_sub(10) as usize).clamp(10, 60);
    let (lo, hi) = (
        *r.sorted_desc.last().unwrap_or(&0.0),
        *r.sorted_desc.first().unwrap_or(&1.0),
    );
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let cut = r.threshold();
    // Per bin, the rows below and above the threshold: a bin the threshold cuts through shows
    // both its normal bulk and its flagged part.
    let mut normal_counts = vec![0u64; bins];
    let mut flagged_counts = vec![0u64; bins];
    for (rank, &i) in r.order.iter().enumerate() {
        let s = r.scores[i];
        let b = (((s - lo) / width) as usize).min(bins - 1);
        if rank < r.flagged {
            flagged_counts[b] += 1;
        } else {
            normal_counts[b] += 1;
        }
    }
    let max = normal_counts
        .iter()
        .zip(&flagged_counts)
        .map(|(n, f)| n + f)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    // Flagged rows are a second series with their own glyph, not only a colour.
    let centre = |i: usize| lo + (i as f64 + 0.5) * width;
    let normal: Vec<(f64, f64)> = normal_counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, &c)| (centre(i), c as f64))
        .collect();
    let flagged: Vec<(f64, f64)> = flagged_counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, &c)| (centre(i), c as f64))
        .collect();
    let line = if cut.is_finite() {
        vec![(cut, 0.0), (cut, max)]
    } else {
        Vec::new()
    };
    let datasets = vec![
        Dataset::default()
            .name("scores")
            .graph_type(GraphType::Bar)
            .marker(Marker::Braille)
            .style(theme.style(Role::Chart1))
            .data(&normal),
        Dataset::default()
            .name("flagged ▲")
            .graph_type(GraphType::Bar)
            .marker(Marker::Custom('▲'))
            .style(theme.style(Role::Anomaly))
            .data(&flagged),
        Dataset::default()
            .name("threshold │")
            .graph_type(GraphType::Line)
            .marker(Marker::Custom('│'))
            .style(theme.style(Role::Threshold))
            .data(&line),
    ];
    let chart = Chart::new(datasets)
        .style(theme.style(Role::Base))
        .block(block(
            "Score histogram (+/- moves the threshold)",
            false,
            theme,
        ))
        .x_axis(
            Axis::default()
                .bounds([lo, hi.max(lo + 1e-12)])
                .labels(vec![Span::raw(fmt_num(lo)), Span::raw(fmt_num(hi))])
                .style(theme.style(Role::Muted)),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, max])
                .labels(vec![Span::raw("0"), Span::raw(format!("{max:.0}"))])
                .style(theme.style(Role::Muted)),
        );
    frame.render_widget(chart, area);
}

fn draw_curve(frame: &mut Frame, r: &RunResult, roc: bool, area: Rect, theme: &Theme) {
    let (points, title, x_name, y_name) = if roc {
        (
            &r.roc,
            "ROC curve",
            "false positive rate",
            "true positive rate",
        )
    } else {
        (&r.pr, "Precision–recall", "recall", "precision")
    };
    if points.is_empty() {
        frame.render_widget(
            Paragraph::new("No label column: ROC and precision–recall need one (Data pane, L on a 0/1 column).")
                .wrap(Wrap { trim: true })
                .block(block(title, false, theme)),
            area,
        );
        return;
    }
    let diagonal = [(0.0, 0.0), (1.0, 1.0)];
    let mut datasets = vec![Dataset::default()
        .name(if roc {
            format!(
                "{} (AUC {:.3})",
                sanitize(&r.detector),
                r.roc_auc.unwrap_or(f64::NAN)
            )
        } else {
            format!(
                "{} (AP {:.3})",
                sanitize(&r.detector),
                r.average_precision.unwrap_or(f64::NAN)
            )
        })
        .graph_type(GraphType::Line)
        .marker(Marker::Braille)
        .style(theme.style(Role::Chart1))
        .data(points)];
    // The cut in force, on the curve.
    let point: Vec<(f64, f64)> = r
        .operating_point()
        .map(|p| {
            if roc {
                (p.fpr, p.recall)
            } else {
                (p.recall, p.precision)
            }
        })
        .into_iter()
        .collect();
    datasets.push(
        Dataset::default()
            .name("threshold ◆")
            .graph_type(GraphType::Scatter)
            .marker(Marker::Custom('◆'))
            .style(theme.style(Role::Threshold))
            .data(&point),
    );
    if roc {
        datasets.push(
            Dataset::default()
                .name("chance")
                .graph_type(GraphType::Line)
                .marker(Marker::Dot)
                .style(theme.style(Role::Muted))
                .data(&diagonal),
        );
    }
    // The axes are named in the title: drawn inside the plot, a name would hide the curve's
    // corner, where the operating point ◆ usually is.
    let axis = || {
        Axis::default()
            .bounds([0.0, 1.0])
            .labels(vec![Span::raw("0"), Span::raw("0.5"), Span::raw("1")])
            .style(theme.style(Role::Muted))
    };
    let title = format!("{title}: {y_name} ↑ by {x_name} → (c: next chart)");
    frame.render_widget(
        Chart::new(datasets)
            .style(theme.style(Role::Base))
            .block(block(&title, false, theme))
            .x_axis(axis())
            .y_axis(axis()),
        area,
    );
}

fn draw_projection(frame: &mut Frame, r: &RunResult, area: Rect, theme: &Theme) {
    let Some(dots) = &r.scatter else {
        frame.render_widget(
            Paragraph::new("No projection for this result (its data is not the loaded table).")
                .block(block("PCA projection", false, theme)),
            area,
        );
        return;
    };
    let (mut normal, mut flagged) = (Vec::new(), Vec::new());
    for (p, &rank) in dots.points.iter().zip(&dots.best_rank) {
        if rank < r.flagged {
            flagged.push(*p);
        } else {
            normal.push(*p);
        }
    }
    let datasets = vec![
        Dataset::default()
            .name("normal ·")
            .marker(Marker::Braille)
            .graph_type(GraphType::Scatter)
            .style(theme.style(Role::Chart1))
            .data(&normal),
        Dataset::default()
            .name("anomaly ✕")
            .marker(Marker::Custom('✕'))
            .graph_type(GraphType::Scatter)
            .style(theme.style(Role::Anomaly))
            .data(&flagged),
    ];
    frame.render_widget(
        Chart::new(datasets)
            .style(theme.style(Role::Base))
            .block(block(
                "PCA projection: first two components (c: next chart)",
                false,
                theme,
            ))
            .x_axis(
                Axis::default()
                    .title("PC1")
                    .bounds(dots.x_bounds)
                    .style(theme.style(Role::Muted)),
            )
            .y_axis(
                Axis::default()
                    .title("PC2")
                    .bounds(dots.y_bounds)
                    .style(theme.style(Role::Muted)),
            ),
        area,
    );
}

fn draw_time(frame: &mut Frame, r: &RunResult, area: Rect, theme: &Theme) {
    let Some(time) = &r.time else {
        let why = if r.run_id.is_some() && r.job == 0 {
            "No time axis: this stored run's data is not the one loaded (open its file), or it has no time column."
        } else {
            "No time column in this dataset (try demo:server_metrics)."
        };
        frame.render_widget(
            Paragraph::new(why).block(block("Scores over time", false, theme)),
            area,
        );
        return;
    };
    let cut = r.threshold();
    // Points in time order, per group (one series per category of a small text column such as
    // `host`; one series without one).
    let mut order: Vec<usize> = (0..r.scores.len()).collect();
    order.sort_by(|&a, &b| time.values[a].total_cmp(&time.values[b]));
    let n_groups = time.groups.as_ref().map_or(1, |g| g.1.len());
    let mut series: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n_groups];
    for &i in &order {
        let g = match &time.groups {
            Some((_, _, index)) => index[i] as usize,
            None => 0,
        };
        if let Some(points) = series.get_mut(g) {
            points.push((time.values[i], r.scores[i]));
        }
    }
    let flagged: Vec<(f64, f64)> = order
        .iter()
        .filter(|&&i| r.scores[i] >= cut)
        .map(|&i| (time.values[i], r.scores[i]))
        .collect();
    let xb = bounds(time.values.iter().copied());
    let yb = bounds(
        r.scores
            .iter()
            .copied()
            .chain(cut.is_finite().then_some(cut)),
    );
    let threshold_line = if cut.is_finite() {
        vec![(xb[0], cut), (xb[1], cut)]
    } else {
        Vec::new()
    };
    let mut datasets: Vec<Dataset> = series
        .iter()
        .enumerate()
        .map(|(g, points)| {
            let name = match &time.groups {
                Some((column, categories, _)) => format!(
                    "{}={}",
                    truncate(&sanitize(column), 10),
                    truncate(&sanitize(&categories[g]), 12)
                ),
                None => "score".into(),
            };
            Dataset::default()
                .name(name)
                .marker(series_style(g).1)
                .graph_type(GraphType::Line)
                .style(theme.style(series_style(g).0))
                .data(points)
        })
        .collect();
    datasets.push(
        Dataset::default()
            .name("threshold ─")
            .marker(Marker::Custom('─'))
            .graph_type(GraphType::Line)
            .style(theme.style(Role::Threshold))
            .data(&threshold_line),
    );
    datasets.push(
        Dataset::default()
            .name("anomaly ▲")
            .marker(Marker::Custom('▲'))
            .graph_type(GraphType::Scatter)
            .style(theme.style(Role::Anomaly))
            .data(&flagged),
    );
    let label = |v: f64| {
        if time.epoch_seconds {
            crate::service::run_view::format_epoch(v)
        } else {
            fmt_num(v)
        }
    };
    let middle = (xb[0] + xb[1]) / 2.0;
    frame.render_widget(
        Chart::new(datasets)
            .style(theme.style(Role::Base))
            .block(block("Scores over time (c: next chart)", false, theme))
            // The legend names the groups: shown while it takes at most half the chart.
            .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)))
            .x_axis(
                Axis::default()
                    .title("time")
                    .bounds(xb)
                    .labels(vec![
                        Span::raw(label(xb[0])),
                        Span::raw(label(middle)),
                        Span::raw(label(xb[1])),
                    ])
                    .style(theme.style(Role::Muted)),
            )
            .y_axis(
                Axis::default()
                    .title("score")
                    .bounds(yb)
                    .labels(vec![Span::raw(fmt_num(yb[0])), Span::raw(fmt_num(yb[1]))])
                    .style(theme.style(Role::Muted)),
            ),
        area,
    );
}

/// `cardio-flagged.csv` for a result of `demo:cardio` or `/data/cardio.csv`, in the folder the
/// workbench was started from.
fn default_export_path(source: &str, kind: ExportKind) -> String {
    let name = source.rsplit(['/', ':']).next().unwrap_or("scores");
    let stem = name.split('.').next().unwrap_or(name);
    let stem: String = stem
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    let stem = if stem.is_empty() {
        "scores".into()
    } else {
        stem
    };
    match kind {
        ExportKind::Flagged => format!("{stem}-flagged.csv"),
        ExportKind::AllRows => format!("{stem}-scores.csv"),
        ExportKind::Report => format!("{stem}-report.md"),
    }
}

/// What the threshold in force is and does: method, value, rows flagged, and with a label the
/// precision, recall and F1 of that cut.
pub fn threshold_status(r: &RunResult) -> String {
    let mut text = format!(
        "Threshold {} = {} → {} of {} rows flagged",
        r.threshold_method(),
        fmt_num(r.threshold()),
        r.flagged,
        r.scores.len()
    );
    if let Some(p) = r.operating_point() {
        text.push_str(&format!(
            " · precision {:.3}, recall {:.3}, F1 {:.3}",
            p.precision, p.recall, p.f1
        ));
    }
    text
}

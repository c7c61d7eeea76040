//! Stored runs side by side (two or more marked in the Experiments pane): dataset, preparation,
//! detector, seed, every parameter, threshold, flagged rows, every metric and timing; below, the
//! ROC (or, with `c`, precision–recall) curves of the runs whose data is on screen, overlaid.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{
    Axis, Cell, Chart, Dataset, GraphType, LegendPosition, Paragraph, Row, Table, Wrap,
};
use ratatui::Frame;

use super::{Dialog, Step};
use crate::store::RunDetail;
use crate::text::{sanitize, truncate};
use crate::tui::app::ComparedRun;
use crate::tui::keymap::Action;
use crate::tui::panes::Panes;
use crate::tui::shared::Shared;
use crate::tui::theme::{Role, Theme};
use crate::tui::widgets::{block, centered, fmt_num, json_text, param_text, series_style};

#[derive(Debug, Clone)]
pub struct Compare {
    pub runs: Vec<ComparedRun>,
    /// Precision–recall instead of ROC.
    pub pr: bool,
}

impl Compare {
    pub fn new(runs: Vec<ComparedRun>) -> Compare {
        Compare { runs, pr: false }
    }
}

impl Dialog for Compare {
    fn on_key(
        &mut self,
        key: KeyEvent,
        action: Option<Action>,
        _cx: &mut Shared,
        _panes: &mut Panes,
    ) -> Step {
        if key.code == KeyCode::Char('c') {
            self.pr = !self.pr;
            return Step::Stay;
        }
        Step::read_only(key, action)
    }

    fn area(&self, screen: Rect) -> Rect {
        centered(
            screen,
            screen.width.saturating_sub(4).min(120),
            screen.height - 2,
        )
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let details: Vec<&RunDetail> = self.runs.iter().map(|(d, _)| d).collect();
        let [table_area, chart_area] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Min(6)]).areas(area);
        draw_table(frame, &details, table_area, theme);
        self.draw_curves(frame, chart_area, theme);
    }
}

impl Compare {
    fn draw_curves(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let title = if self.pr {
            "Precision–recall (c: ROC · Esc closes)"
        } else {
            "ROC curves (c: precision–recall · Esc closes)"
        };
        let with_curves: Vec<(&RunDetail, &Vec<(f64, f64)>)> = self
            .runs
            .iter()
            .filter_map(|(d, c)| {
                c.as_ref()
                    .map(|(roc, pr)| (d, if self.pr { pr } else { roc }))
            })
            .collect();
        if with_curves.is_empty() {
            frame.render_widget(
                Paragraph::new(
                    "No curves: they need a label and the runs' dataset loaded (open it in the Data pane).",
                )
                .wrap(Wrap { trim: true })
                .block(block(title, false, theme)),
                area,
            );
            return;
        }
        let datasets: Vec<Dataset> = with_curves
            .iter()
            .enumerate()
            .map(|(i, (d, points))| {
                Dataset::default()
                    .name(format!(
                        "run {} {}",
                        d.summary.id,
                        truncate(&sanitize(&d.summary.detector), 12)
                    ))
                    .graph_type(GraphType::Line)
                    // A marker per run as well as a colour: the curves read in monochrome too.
                    .marker(series_style(i).1)
                    .style(theme.style(series_style(i).0))
                    .data(points)
            })
            .collect();
        let (x_name, y_name) = if self.pr {
            ("recall", "precision")
        } else {
            ("false positive rate", "true positive rate")
        };
        // Axis names in the title, the legend (which run is which) in the corner the curves
        // leave empty: bottom right for ROC, bottom left for precision–recall.
        let axis = || {
            Axis::default()
                .bounds([0.0, 1.0])
                .labels(vec![Span::raw("0"), Span::raw("0.5"), Span::raw("1")])
                .style(theme.style(Role::Muted))
        };
        let title = format!("{title} · {y_name} ↑ by {x_name} →");
        let corner = if self.pr {
            LegendPosition::BottomLeft
        } else {
            LegendPosition::BottomRight
        };
        frame.render_widget(
            Chart::new(datasets)
                .style(theme.style(Role::Base))
                .block(block(&title, false, theme))
                .legend_position(Some(corner))
                .hidden_legend_constraints((Constraint::Ratio(2, 3), Constraint::Ratio(2, 3)))
                .x_axis(axis())
                .y_axis(axis()),
            area,
        );
    }
}

/// A compare row: its label and how to read its value from a run.
type CompareCell = Box<dyn Fn(&RunDetail) -> String>;

fn draw_table(frame: &mut Frame, runs: &[&RunDetail], area: Rect, theme: &Theme) {
    let file_name = |r: &RunDetail| {
        let d = r.summary.dataset.as_deref().unwrap_or("-");
        sanitize(d.rsplit('/').next().unwrap_or(d)).into_owned()
    };
    let mut keys: Vec<(String, CompareCell)> = vec![
        ("dataset".into(), Box::new(file_name)),
        (
            "preparation".into(),
            Box::new(|r: &RunDetail| {
                sanitize(&crate::service::run_view::preparation_text(r)).into_owned()
            }),
        ),
        (
            "detector".into(),
            Box::new(|r: &RunDetail| sanitize(&r.summary.detector).into_owned()),
        ),
        (
            "status".into(),
            Box::new(|r: &RunDetail| sanitize(&r.summary.status).into_owned()),
        ),
        ("seed".into(), Box::new(|r: &RunDetail| r.seed.to_string())),
        (
            "threshold".into(),
            Box::new(
                |r: &RunDetail| match (&r.threshold_method, r.threshold_value) {
                    (Some(m), Some(v)) => format!("{} {}", sanitize(m), fmt_num(v)),
                    _ => "-".into(),
                },
            ),
        ),
        (
            "flagged".into(),
            Box::new(
                |r: &RunDetail| match (r.summary.n_anomalies, r.summary.n_rows) {
                    (Some(a), Some(n)) => format!("{a} of {n}"),
                    _ => "-".into(),
                },
            ),
        ),
    ];
    let mut names = std::collections::BTreeSet::new();
    for r in runs {
        for (section, value) in [
            ("param", &r.params),
            ("metric", &r.metrics),
            ("time", &r.timing),
        ] {
            if let Some(m) = value.as_object() {
                names.extend(m.keys().map(|k| (section, k.clone())));
            }
        }
    }
    for (section, name) in names {
        let key = name.clone();
        keys.push((
            format!("{section} {}", sanitize(&name)),
            Box::new(move |r: &RunDetail| {
                let v = match section {
                    "param" => &r.params,
                    "metric" => &r.metrics,
                    _ => &r.timing,
                };
                match v.get(&key) {
                    Some(v) if section == "param" => param_text(&key, v),
                    Some(v) => json_text(v),
                    None => "-".into(),
                }
            }),
        ));
    }
    let rows: Vec<Row> = keys
        .iter()
        .map(|(label, get)| {
            Row::new(
                std::iter::once(Cell::from(label.clone()).style(theme.style(Role::Muted)))
                    .chain(runs.iter().map(|r| Cell::from(get(r))))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(22))
        .chain(runs.iter().map(|_| Constraint::Min(14)))
        .collect();
    let header = Row::new(
        std::iter::once(String::new())
            .chain(runs.iter().map(|r| format!("run {}", r.summary.id)))
            .collect::<Vec<_>>(),
    )
    .style(theme.style(Role::Title));
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block("Compare (Esc closes)", true, theme)),
        area,
    );
}

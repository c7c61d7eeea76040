//! Stored runs side by side (two or more marked in the Experiments pane): detector, status,
//! seed, every parameter and metric.

use crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::{Dialog, Step};
use crate::store::RunDetail;
use crate::text::sanitize;
use crate::tui::keymap::Action;
use crate::tui::panes::Panes;
use crate::tui::shared::Shared;
use crate::tui::theme::{Role, Theme};
use crate::tui::widgets::{block, centered, json_text};

#[derive(Debug, Clone)]
pub struct Compare {
    pub runs: Vec<RunDetail>,
}

impl Compare {
    pub fn new(runs: Vec<RunDetail>) -> Compare {
        Compare { runs }
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
        Step::read_only(key, action)
    }

    fn area(&self, screen: Rect) -> Rect {
        centered(screen, 100, screen.height - 2)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        draw_compare(frame, &self.runs, area, cx.theme());
    }
}

/// A compare row: its label and how to read its value from a run.
type CompareCell = Box<dyn Fn(&RunDetail) -> String>;

fn draw_compare(frame: &mut Frame, runs: &[RunDetail], area: Rect, theme: &Theme) {
    let mut keys: Vec<(String, CompareCell)> = vec![
        (
            "detector".into(),
            Box::new(|r: &RunDetail| sanitize(&r.summary.detector).into_owned()),
        ),
        (
            "status".into(),
            Box::new(|r: &RunDetail| r.summary.status.clone()),
        ),
        ("seed".into(), Box::new(|r: &RunDetail| r.seed.to_string())),
    ];
    let mut names = std::collections::BTreeSet::new();
    for r in runs {
        if let Some(m) = r.params.as_object() {
            names.extend(m.keys().map(|k| ("param", k.clone())));
        }
        if let Some(m) = r.metrics.as_object() {
            names.extend(m.keys().map(|k| ("metric", k.clone())));
        }
    }
    for (section, name) in names {
        let key = name.clone();
        keys.push((
            format!("{section} {name}"),
            Box::new(move |r: &RunDetail| {
                let v = if section == "param" {
                    &r.params
                } else {
                    &r.metrics
                };
                v.get(&key).map(json_text).unwrap_or_else(|| "-".into())
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
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(24))
        .chain(runs.iter().map(|_| Constraint::Length(14)))
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

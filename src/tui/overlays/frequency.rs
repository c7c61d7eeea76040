//! The frequency table of one column (VisiData's `F`): each value, how many rows have it, and
//! after a run of the data, how many of them are flagged and what share of the flagged rows
//! that is. Opened with `F` on a column of the Data pane.

use std::collections::HashMap;

use crossterm::event::KeyEvent;
use polars::prelude::DataType;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::{Dialog, Step};
use crate::data::Loaded;
use crate::text::{sanitize, truncate};
use crate::tui::keymap::Action;
use crate::tui::panes::Panes;
use crate::tui::shared::Shared;
use crate::tui::theme::Role;
use crate::tui::widgets::{block, centered};

/// Values listed, the most frequent first.
const SHOWN: usize = 40;

#[derive(Debug, Clone)]
pub struct Frequency {
    pub column: String,
    /// (value, rows, flagged rows when a result of this data exists), most rows first.
    pub values: Vec<(String, usize, Option<usize>)>,
    pub rows: usize,
    pub distinct: usize,
    /// Rows flagged in the result, when there is one.
    pub flagged: Option<usize>,
}

impl Frequency {
    /// Counts `column` of the loaded table; `flagged_rows` (the rows a result of this table
    /// flagged) adds the flagged counts.
    pub fn of(loaded: &Loaded, column: &str, flagged_rows: Option<&[u64]>) -> Option<Frequency> {
        let values = loaded
            .df
            .column(column)
            .ok()?
            .cast(&DataType::String)
            .ok()?;
        let values = values.str().ok()?.clone();
        let text = |row: usize| values.get(row).unwrap_or("∅ (missing)");
        let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
        for row in 0..values.len() {
            counts.entry(text(row)).or_default().0 += 1;
        }
        let flagged = flagged_rows.map(|rows| {
            for &row in rows {
                if (row as usize) < values.len() {
                    counts.entry(text(row as usize)).or_default().1 += 1;
                }
            }
            rows.len()
        });
        let distinct = counts.len();
        let mut list: Vec<(String, usize, Option<usize>)> = counts
            .into_iter()
            .map(|(v, (n, f))| (v.to_string(), n, flagged.map(|_| f)))
            .collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.truncate(SHOWN);
        Some(Frequency {
            column: column.to_string(),
            values: list,
            rows: values.len(),
            distinct,
            flagged,
        })
    }
}

impl Dialog for Frequency {
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
        centered(screen, 80, screen.height - 2)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let share = |n: usize, of: usize| {
            if of == 0 {
                "-".to_string()
            } else {
                format!("{:.1} %", 100.0 * n as f64 / of as f64)
            }
        };
        let rows: Vec<Row> = self
            .values
            .iter()
            .map(|(value, n, flagged)| {
                let mut cells = vec![
                    Cell::from(truncate(&sanitize(value), 30).into_owned()),
                    Cell::from(n.to_string()),
                    Cell::from(share(*n, self.rows)),
                ];
                if let (Some(f), Some(total)) = (flagged, self.flagged) {
                    cells.push(Cell::from(f.to_string()));
                    // Share of the flagged rows, and how often a row of this value is flagged.
                    cells.push(Cell::from(share(*f, total)));
                    cells.push(Cell::from(share(*f, *n)));
                }
                let style = match flagged {
                    Some(f) if *f * 2 > *n && *n > 0 => theme.style(Role::Anomaly),
                    _ => theme.style(Role::Normal),
                };
                Row::new(cells).style(style)
            })
            .collect();
        let mut header = vec!["value", "rows", "share"];
        let mut widths = vec![
            Constraint::Length(30),
            Constraint::Length(8),
            Constraint::Length(8),
        ];
        if self.flagged.is_some() {
            header.extend(["flagged", "of flagged", "flag rate"]);
            widths.extend([
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Length(9),
            ]);
        }
        let title = format!(
            "Frequency of {} · {} distinct in {} rows{} (Esc closes)",
            truncate(&sanitize(&self.column), 24),
            self.distinct,
            self.rows,
            if self.distinct > SHOWN {
                format!(", the {SHOWN} most frequent shown")
            } else {
                String::new()
            }
        );
        frame.render_widget(
            Table::new(rows, widths)
                .header(Row::new(header).style(theme.style(Role::Muted)))
                .block(block(title, true, theme)),
            area,
        );
    }
}

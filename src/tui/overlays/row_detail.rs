//! One row of a result, explained: its original values, each source column's contribution to
//! the score as a bar, each value's percentile, and for proximity detectors the nearest
//! neighbours' values side by side. `n`/`p` walk to the next/previous row by score (the
//! flagged rows first). Opened with Enter on the Charts pane's top anomalies.

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{Dialog, Step};
use crate::service::explain::{original_value, ExplainedRow};
use crate::text::{sanitize, truncate};
use crate::tui::keymap::Action;
use crate::tui::panes::Panes;
use crate::tui::shared::{Level, Shared};
use crate::tui::theme::Role;
use crate::tui::widgets::{block, centered, fmt_cell, fmt_num};

/// Neighbours shown side by side.
const NEIGHBOURS_SHOWN: usize = 3;

#[derive(Debug, Clone)]
pub struct RowDetail {
    /// Index into `Shared::results`.
    pub result: usize,
    /// 0 = the highest score.
    pub rank: usize,
    pub row_id: u64,
    /// `None` while the explanation is computed.
    pub explained: Option<Box<ExplainedRow>>,
    pub error: Option<String>,
}

impl RowDetail {
    pub fn new(result: usize, rank: usize, row_id: u64) -> RowDetail {
        RowDetail {
            result,
            rank,
            row_id,
            explained: None,
            error: None,
        }
    }

    /// The explanation of `row_id` arrived (or failed).
    pub fn receive(&mut self, row_id: u64, result: Result<Box<ExplainedRow>, String>) {
        if row_id != self.row_id {
            return;
        }
        match result {
            Ok(e) => self.explained = Some(e),
            Err(e) => self.error = Some(e),
        }
    }

    fn walk(&mut self, to: usize, cx: &mut Shared) -> Step {
        let Some(r) = cx.results.get(self.result) else {
            return Step::Stay;
        };
        let Some(&position) = r.order.get(to) else {
            return Step::Stay;
        };
        let row_id = r.row_ids[position];
        match cx.explain_row(self.result, to) {
            Ok(effect) => {
                *self = RowDetail::new(self.result, to, row_id);
                Step::Work(vec![effect])
            }
            Err(e) => {
                cx.set_status(Level::Error, e);
                Step::Stay
            }
        }
    }
}

impl Dialog for RowDetail {
    fn on_key(
        &mut self,
        key: KeyEvent,
        action: Option<Action>,
        cx: &mut Shared,
        _panes: &mut Panes,
    ) -> Step {
        match action {
            Some(Action::NextAnomaly | Action::Down) => self.walk(self.rank + 1, cx),
            Some(Action::PrevAnomaly | Action::Up) if self.rank > 0 => self.walk(self.rank - 1, cx),
            _ => Step::read_only(key, action),
        }
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
        let n = cx.results.get(self.result).map_or(0, |r| r.scores.len());
        let flagged = cx
            .results
            .get(self.result)
            .is_some_and(|r| self.rank < r.flagged);
        let title = format!(
            "Row {} · #{} of {n}{} (n/p next/previous · Esc closes)",
            self.row_id,
            self.rank + 1,
            if flagged { " ▲ flagged" } else { "" }
        );
        let mut lines = Vec::new();
        match (&self.explained, &self.error) {
            (_, Some(e)) => lines.push(Line::styled(
                format!("cannot explain this row: {}", sanitize(e)),
                theme.style(Role::Error),
            )),
            (None, None) => lines.push(Line::styled(
                "Explaining the row…",
                theme.style(Role::Muted),
            )),
            (Some(e), None) => {
                // The rows the result flags: the side-by-side neighbours are normal ones.
                let flagged: std::collections::HashSet<u64> = cx
                    .results
                    .get(self.result)
                    .map(|r| r.flagged_row_ids().collect())
                    .unwrap_or_default();
                lines.extend(explanation_lines(e, cx, area.width, &flagged))
            }
        }
        frame.render_widget(Paragraph::new(lines).block(block(title, true, theme)), area);
    }
}

fn explanation_lines<'a>(
    e: &ExplainedRow,
    cx: &Shared,
    width: u16,
    flagged: &std::collections::HashSet<u64>,
) -> Vec<Line<'a>> {
    let theme = cx.theme();
    let loaded = cx.dataset.loaded.as_deref();
    // Side by side: the score's neighbours the result does not flag first (what "normal"
    // looks like near this row), then flagged ones, marked ▲.
    let neighbours: Vec<u64> = e
        .neighbours
        .iter()
        .filter(|id| !flagged.contains(id))
        .chain(e.neighbours.iter().filter(|id| flagged.contains(id)))
        .take(NEIGHBOURS_SHOWN)
        .copied()
        .collect();
    let neighbour_width = 12usize;
    let fixed = 2 + 18 + 1 + 14 + 1 + 10 + 1 + 6 + 1;
    let room = (width as usize).saturating_sub(fixed + 2);
    let shown_neighbours = neighbours
        .len()
        .min(room.saturating_sub(12) / (neighbour_width + 1));
    let bar_width = room
        .saturating_sub(shown_neighbours * (neighbour_width + 1))
        .clamp(4, 30);
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("score {}", fmt_num(e.score)),
            theme.style(Role::Title),
        ),
        Span::styled(
            format!("  · {} (docs/explain.md)", e.method),
            theme.style(Role::Muted),
        ),
    ])];
    let mut header = format!(
        "  {:<18} {:>14} {:<bar_width$} {:>10} {:>6}",
        "column", "value", "contribution", "", "pct"
    );
    for id in &neighbours[..shown_neighbours] {
        let mark = if flagged.contains(id) { "▲" } else { "" };
        header.push_str(&format!(" {:>neighbour_width$}", format!("{mark}row {id}")));
    }
    lines.push(Line::styled(header, theme.style(Role::Muted)));
    let largest = e
        .columns
        .iter()
        .map(|c| c.contribution.abs())
        .fold(0.0f64, f64::max);
    for c in &e.columns {
        // A column that is one feature has that feature's percentile.
        let features: Vec<_> = e
            .contributions
            .iter()
            .filter(|f| f.column == c.column)
            .collect();
        let percentile = match features.as_slice() {
            [one] => format!("{:.1}", one.percentile),
            _ => String::new(),
        };
        let filled = if largest > 0.0 {
            ((c.contribution.abs() / largest) * bar_width as f64).round() as usize
        } else {
            0
        };
        let glyph = if c.contribution >= 0.0 { "█" } else { "░" };
        let bar = format!("{:<bar_width$}", glyph.repeat(filled.min(bar_width)));
        let role = if c.contribution > 0.0 && filled * 2 >= bar_width {
            Role::Anomaly
        } else {
            Role::Normal
        };
        let mut spans = vec![
            Span::raw(format!(
                "  {:<18} {:>14} ",
                truncate(&sanitize(&c.column), 18),
                truncate(&sanitize(&cell_text(&c.value)), 14)
            )),
            Span::styled(bar, theme.style(role)),
            Span::raw(format!(
                " {:>10} {:>6}",
                fmt_num(c.contribution),
                percentile
            )),
        ];
        for &id in &neighbours[..shown_neighbours] {
            let value = loaded.map_or_else(String::new, |l| original_value(l, &c.column, id));
            spans.push(Span::styled(
                format!(
                    " {:>neighbour_width$}",
                    truncate(&sanitize(&cell_text(&value)), neighbour_width)
                ),
                theme.style(Role::Muted),
            ));
        }
        lines.push(Line::from(spans));
    }
    if !e.neighbours.is_empty() {
        // All the score's neighbours, ▲ on flagged ones, cut with an ellipsis to the width.
        let mut text =
            String::from("  the score's neighbours (▲ flagged; unflagged ones first beside):");
        let room = (width as usize).saturating_sub(4);
        for (i, id) in e.neighbours.iter().enumerate() {
            let word = if flagged.contains(id) {
                format!(" ▲{id}")
            } else {
                format!(" {id}")
            };
            let rest = e.neighbours.len() - i;
            if text.chars().count() + word.chars().count() + if rest > 1 { 2 } else { 0 } > room {
                text.push_str(" …");
                break;
            }
            text.push_str(&word);
        }
        lines.push(Line::styled(text, theme.style(Role::Muted)));
    }
    lines
}

/// A number as the tables show numbers (whole ones without decimals); other text as it is.
fn cell_text(value: &str) -> String {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() => fmt_cell(v),
        _ => value.to_string(),
    }
}

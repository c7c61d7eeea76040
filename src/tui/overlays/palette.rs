//! The command palette: every action whose name or help contains the words typed; Enter runs
//! it as if its key had been pressed in the current pane. A number goes to that row of the
//! Data pane's table.

use crossterm::event::{Event, KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

use super::{Dialog, Step};
use crate::tui::keymap::Action;
use crate::tui::panes::Panes;
use crate::tui::shared::{Level, Shared};
use crate::tui::theme::Role;
use crate::tui::widgets::{block, centered};

#[derive(Debug, Clone, Default)]
pub struct Palette {
    pub input: Input,
    pub selected: usize,
    /// Whether the selection was moved with the arrows.
    pub moved: bool,
}

impl Dialog for Palette {
    fn on_key(
        &mut self,
        key: KeyEvent,
        _action: Option<Action>,
        cx: &mut Shared,
        panes: &mut Panes,
    ) -> Step {
        if key.code == KeyCode::Esc {
            return Step::close();
        }
        let matches = palette_matches(self.input.value());
        if key.code == KeyCode::Enter {
            // `:` and a number goes to that row of the table (as in VisiData).
            if let Some(row) = row_number(self.input.value()) {
                let rows = cx.dataset.loaded.as_ref().map_or(0, |l| l.df.height());
                if row < rows {
                    panes.data.go_to_row(row);
                    cx.go(crate::tui::panes::Pane::Data);
                } else {
                    cx.set_status(
                        Level::Error,
                        format!(
                            "no row {row}: the table has rows 0 to {}",
                            rows.saturating_sub(1)
                        ),
                    );
                }
                return Step::close();
            }
            // Nothing typed and nothing chosen: Enter only closes (it never quits by accident).
            if self.input.value().trim().is_empty() && !self.moved {
                return Step::close();
            }
            return match matches.get(self.selected) {
                Some(action) => Step::Run(*action),
                None => Step::close(),
            };
        }
        if matches!(key.code, KeyCode::Down | KeyCode::Up) {
            self.moved = true;
        }
        self.selected = match key.code {
            KeyCode::Down => (self.selected + 1).min(matches.len().saturating_sub(1)),
            KeyCode::Up => self.selected.saturating_sub(1),
            _ => {
                self.input.handle_event(&Event::Key(key));
                0
            }
        };
        Step::Stay
    }

    fn area(&self, screen: Rect) -> Rect {
        centered(screen, 70, 16)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let matches = palette_matches(self.input.value());
        let mut lines = vec![
            Line::from(format!("> {}", self.input.value())),
            Line::raw(""),
        ];
        if let Some(row) = row_number(self.input.value()) {
            lines.push(Line::styled(
                format!("▸ Enter: go to row {row} of the table"),
                theme.style(Role::Selection),
            ));
        }
        for (i, a) in matches
            .iter()
            .enumerate()
            .take(area.height.saturating_sub(4) as usize)
        {
            let style = if i == self.selected {
                theme.style(Role::Selection)
            } else {
                Style::default()
            };
            let marker = if i == self.selected { "▸ " } else { "  " };
            // One line per action: a long description ends in an ellipsis.
            let room = (area.width as usize).saturating_sub(2 + 2 + 17);
            lines.push(Line::styled(
                format!(
                    "{marker}{:<16} {}",
                    a.name(),
                    crate::text::truncate(a.help(), room)
                ),
                style,
            ));
        }
        frame.render_widget(
            Paragraph::new(lines).block(block("Command palette (type, ↑↓, Enter)", true, theme)),
            area,
        );
    }
}

/// A row number typed in the palette.
fn row_number(text: &str) -> Option<usize> {
    let text = text.trim();
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Actions whose name or help contains every word typed: those whose name is the query first,
/// then those whose name starts with it, then those whose name contains it, then the rest (in
/// keymap order within each). With nothing typed, quitting comes last.
pub fn palette_matches(query: &str) -> Vec<Action> {
    let words: Vec<String> = query.split_whitespace().map(|w| w.to_lowercase()).collect();
    let wanted = words.join("_");
    let mut matches: Vec<(u8, usize, Action)> = Action::ALL
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, a)| {
            let text = format!("{} {}", a.name(), a.help()).to_lowercase();
            words.iter().all(|w| text.contains(w.as_str()))
        })
        .map(|(i, a)| {
            let name = a.name();
            let tier = if wanted.is_empty() {
                u8::from(a == Action::Quit)
            } else if name == wanted {
                0
            } else if name.starts_with(&wanted) {
                1
            } else if name.contains(&wanted) {
                2
            } else {
                3
            };
            (tier, i, a)
        })
        .collect();
    matches.sort_by_key(|&(tier, i, _)| (tier, i));
    matches.into_iter().map(|(_, _, a)| a).collect()
}

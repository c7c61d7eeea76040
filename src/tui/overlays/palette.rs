//! The command palette: every action whose name or help contains the words typed; Enter runs
//! it as if its key had been pressed in the current pane.

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
use crate::tui::shared::Shared;
use crate::tui::theme::Role;
use crate::tui::widgets::{block, centered};

#[derive(Debug, Clone, Default)]
pub struct Palette {
    pub input: Input,
    pub selected: usize,
}

impl Dialog for Palette {
    fn on_key(
        &mut self,
        key: KeyEvent,
        _action: Option<Action>,
        _cx: &mut Shared,
        _panes: &mut Panes,
    ) -> Step {
        if key.code == KeyCode::Esc {
            return Step::close();
        }
        let matches = palette_matches(self.input.value());
        if key.code == KeyCode::Enter {
            return match matches.get(self.selected) {
                Some(action) => Step::Run(*action),
                None => Step::close(),
            };
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
            lines.push(Line::styled(
                format!("{marker}{:<16} {}", a.name(), a.help()),
                style,
            ));
        }
        frame.render_widget(
            Paragraph::new(lines).block(block("Command palette (type, ↑↓, Enter)", true, theme)),
            area,
        );
    }
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

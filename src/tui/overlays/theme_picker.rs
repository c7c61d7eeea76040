//! The theme picker: the themes in cycling order; Enter applies and remembers one.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{Dialog, Step};
use crate::tui::keymap::Action;
use crate::tui::panes::Panes;
use crate::tui::shared::Shared;
use crate::tui::theme::Role;
use crate::tui::widgets::{block, centered};

#[derive(Debug, Clone)]
pub struct ThemePicker {
    pub selected: usize,
}

impl ThemePicker {
    /// Opens on the theme in use.
    pub fn new(cx: &Shared) -> ThemePicker {
        let selected = cx
            .themes
            .names()
            .iter()
            .position(|n| *n == cx.theme_name)
            .unwrap_or(0);
        ThemePicker { selected }
    }
}

impl Dialog for ThemePicker {
    fn on_key(
        &mut self,
        key: KeyEvent,
        action: Option<Action>,
        cx: &mut Shared,
        _panes: &mut Panes,
    ) -> Step {
        let names: Vec<String> = cx.themes.names().iter().map(|s| s.to_string()).collect();
        if key.code == KeyCode::Esc {
            return Step::close();
        }
        if key.code == KeyCode::Enter {
            return Step::Close(cx.set_theme(names[self.selected].clone()));
        }
        self.selected = match action {
            Some(Action::Down) => (self.selected + 1).min(names.len() - 1),
            Some(Action::Up) => self.selected.saturating_sub(1),
            _ => self.selected,
        };
        Step::Stay
    }

    fn area(&self, screen: Rect) -> Rect {
        centered(screen, 70, 16)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let lines: Vec<Line> = cx
            .themes
            .names()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let style = if i == self.selected {
                    theme.style(Role::Selection)
                } else {
                    Style::default()
                };
                let current = if *name == cx.theme_name {
                    " (current)"
                } else {
                    ""
                };
                let marker = if i == self.selected { "▸ " } else { "  " };
                Line::styled(format!("{marker}{name}{current}"), style)
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines).block(block("Theme (↑↓, Enter)", true, theme)),
            area,
        );
    }
}

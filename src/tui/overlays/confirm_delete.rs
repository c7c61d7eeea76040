//! Confirms deleting runs from the store: `y` deletes, any other key keeps them.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{Dialog, Step};
use crate::tui::app::Effect;
use crate::tui::keymap::Action;
use crate::tui::panes::Panes;
use crate::tui::shared::{Level, Shared};
use crate::tui::theme::Role;
use crate::tui::widgets::{block, centered};

#[derive(Debug, Clone)]
pub struct ConfirmDelete {
    pub ids: Vec<i64>,
}

impl ConfirmDelete {
    pub fn new(ids: Vec<i64>) -> ConfirmDelete {
        ConfirmDelete { ids }
    }
}

impl Dialog for ConfirmDelete {
    fn on_key(
        &mut self,
        key: KeyEvent,
        _action: Option<Action>,
        cx: &mut Shared,
        panes: &mut Panes,
    ) -> Step {
        if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
            panes.experiments.marked.clear();
            return Step::Close(vec![Effect::DeleteRuns(std::mem::take(&mut self.ids))]);
        }
        cx.set_status(Level::Info, "Nothing deleted");
        Step::close()
    }

    fn area(&self, screen: Rect) -> Rect {
        centered(screen, 70, 7)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let ids: Vec<String> = self.ids.iter().map(|i| i.to_string()).collect();
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled(
                    format!(
                        "Delete {} {} with {} scores and {}?",
                        if ids.len() == 1 { "run" } else { "runs" },
                        ids.join(", "),
                        if ids.len() == 1 { "its" } else { "their" },
                        if ids.len() == 1 { "model" } else { "models" },
                    ),
                    theme.style(Role::Warn),
                ),
                Line::raw(""),
                Line::from("y deletes · any other key keeps them"),
            ])
            .block(block("Confirm", true, theme)),
            area,
        );
    }
}

//! The help overlay: every binding in force, per context, from the keymap (so it cannot drift
//! from the real keys).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{Dialog, Step};
use crate::tui::keymap::{Action, Context};
use crate::tui::panes::Panes;
use crate::tui::shared::Shared;
use crate::tui::theme::Role;
use crate::tui::widgets::{block, centered, wrap_words};

#[derive(Debug, Clone, Default)]
pub struct Help {
    pub scroll: usize,
}

impl Dialog for Help {
    fn on_key(
        &mut self,
        key: KeyEvent,
        action: Option<Action>,
        _cx: &mut Shared,
        _panes: &mut Panes,
    ) -> Step {
        if key.code == KeyCode::Esc || action == Some(Action::Help) || action == Some(Action::Quit)
        {
            return Step::close();
        }
        self.scroll = match action {
            Some(Action::Down) => self.scroll + 1,
            Some(Action::Up) => self.scroll.saturating_sub(1),
            Some(Action::PageDown) => self.scroll + 10,
            Some(Action::PageUp) => self.scroll.saturating_sub(10),
            _ => self.scroll,
        };
        Step::Stay
    }

    fn area(&self, screen: Rect) -> Rect {
        centered(screen, 100, screen.height - 2)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let mut lines = vec![Line::styled(
            "Keys (from the active keymap; override in keymap.toml in the config folder)",
            theme.style(Role::Muted),
        )];
        for ctx in Context::ALL {
            lines.push(Line::styled(
                format!("{} keys", ctx.name()),
                theme.style(Role::Title),
            ));
            for (action, keys) in cx.keymap.bindings(ctx) {
                let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                // Long descriptions wrap under themselves, never cut.
                let room = (area.width as usize).saturating_sub(2 + 20);
                for (i, part) in wrap_words(action.help(), room).into_iter().enumerate() {
                    let key_text = if i == 0 {
                        format!("  {:<18}", keys.join(" "))
                    } else {
                        " ".repeat(20)
                    };
                    lines.push(Line::from(vec![
                        Span::styled(key_text, theme.style(Role::Focus)),
                        Span::raw(part),
                    ]));
                }
            }
        }
        frame.render_widget(
            Paragraph::new(lines)
                .scroll((self.scroll as u16, 0))
                .block(block("Help (Esc closes, j/k scroll)", true, theme)),
            area,
        );
    }
}

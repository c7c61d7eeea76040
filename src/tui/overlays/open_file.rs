//! The open dialog: type a path, or browse: the entries of the folder typed so far are listed
//! (folders end with `/`, `../` goes up); ↑↓ select one, Enter opens a file or enters a folder,
//! Tab completes.

use crossterm::event::{Event, KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

use super::{Dialog, Step};
use crate::data::Source;
use crate::service::jobs::JobKind;
use crate::text::sanitize;
use crate::tui::app::Effect;
use crate::tui::keymap::Action;
use crate::tui::panes::Panes;
use crate::tui::shared::{Level, Shared};
use crate::tui::theme::Role;
use crate::tui::widgets::{block, centered};

#[derive(Debug, Clone)]
pub struct OpenFile {
    pub input: Input,
    pub completions: Vec<String>,
    pub selected: Option<usize>,
}

impl OpenFile {
    /// Opens with `start` typed (a folder ending with `/`, or nothing) and its entries listed.
    pub fn new(start: String) -> OpenFile {
        OpenFile {
            completions: list_entries(&start),
            input: Input::new(start),
            selected: None,
        }
    }
}

impl Dialog for OpenFile {
    fn on_key(
        &mut self,
        key: KeyEvent,
        _action: Option<Action>,
        cx: &mut Shared,
        _panes: &mut Panes,
    ) -> Step {
        if key.code == KeyCode::Esc {
            return Step::close();
        }
        match key.code {
            KeyCode::Down if !self.completions.is_empty() => {
                let last = self.completions.len() - 1;
                self.selected = Some(self.selected.map_or(0, |i| (i + 1).min(last)));
                return Step::Stay;
            }
            KeyCode::Up if !self.completions.is_empty() => {
                self.selected = self.selected.and_then(|i| i.checked_sub(1));
                return Step::Stay;
            }
            KeyCode::Tab => {
                let (completed, _) = complete_path(self.input.value());
                self.completions = list_entries(&completed);
                self.input = Input::new(completed);
                self.selected = None;
                return Step::Stay;
            }
            _ => {}
        }
        if key.code == KeyCode::Enter {
            // A selected entry: enter a folder, or take the file.
            let mut text = self.input.value().trim().to_string();
            if let Some(entry) = self.selected.and_then(|i| self.completions.get(i)) {
                let folder = match text.rfind('/') {
                    Some(i) => text[..=i].to_string(),
                    None => String::new(),
                };
                let is_folder = entry.ends_with('/');
                text = format!("{folder}{entry}");
                if is_folder {
                    self.completions = list_entries(&text);
                    self.input = Input::new(text);
                    self.selected = None;
                    return Step::Stay;
                }
            }
            if text.is_empty() {
                return Step::close();
            }
            return match Source::parse(&text) {
                // The terminal is the workbench's standard input: there is no data there.
                Ok(Source::Stdin) => {
                    cx.set_status(
                        Level::Error,
                        "- (standard input) cannot be read inside the workbench; give a file path",
                    );
                    Step::Stay
                }
                Ok(source) => {
                    cx.dataset.loading = true;
                    cx.set_status(Level::Info, format!("Loading {text}…"));
                    Step::Close(vec![Effect::Load {
                        ticket: cx.jobs.start(JobKind::Load),
                        source,
                    }])
                }
                Err(e) => {
                    cx.set_status(Level::Error, e.to_string());
                    Step::Stay
                }
            };
        }
        self.input.handle_event(&Event::Key(key));
        self.completions = list_entries(self.input.value());
        self.selected = None;
        Step::Stay
    }

    fn area(&self, screen: Rect) -> Rect {
        centered(screen, 70, 16)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let mut lines = vec![
            Line::from(format!("path: {}▏", sanitize(self.input.value()))),
            Line::styled(
                "type or Tab to complete · ↑↓ choose · Enter opens / enters a folder · demo:cardio, demo:server_metrics",
                theme.style(Role::Muted),
            ),
        ];
        let room = area.height.saturating_sub(5) as usize;
        let first = self
            .selected
            .map_or(0, |i| i.saturating_sub(room.saturating_sub(1)));
        for (i, c) in self.completions.iter().enumerate().skip(first).take(room) {
            let style = if Some(i) == self.selected {
                theme.style(Role::Selection)
            } else if c.ends_with('/') {
                theme.style(Role::Focus)
            } else {
                Style::default()
            };
            let marker = if Some(i) == self.selected {
                "▸ "
            } else {
                "  "
            };
            lines.push(Line::styled(format!("{marker}{}", sanitize(c)), style));
        }
        frame.render_widget(
            Paragraph::new(lines).block(block("Open a data file", true, theme)),
            area,
        );
    }
}

/// The entries of the folder typed so far that start with the last component (folders end with
/// `/`; `../` first, to go up), at most a few hundred.
pub fn list_entries(text: &str) -> Vec<String> {
    let (_, mut names) = complete_path(text);
    let prefix = text.rsplit('/').next().unwrap_or("");
    if prefix.is_empty() {
        names.insert(0, "../".into());
    }
    names.truncate(500);
    names
}

/// Completes the last path component: the longest common prefix of the matching entries, and
/// the entries themselves (folders end with `/`).
pub fn complete_path(text: &str) -> (String, Vec<String>) {
    let (dir, prefix) = match text.rfind('/') {
        Some(i) => (&text[..=i], &text[i + 1..]),
        None => ("", text),
    };
    let read_dir = if dir.is_empty() { "." } else { dir };
    let Ok(entries) = std::fs::read_dir(read_dir) else {
        return (text.to_string(), Vec::new());
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
                return None;
            }
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            Some(if is_dir { format!("{name}/") } else { name })
        })
        .collect();
    names.sort();
    let Some(first) = names.first() else {
        return (text.to_string(), Vec::new());
    };
    let mut common = first.clone();
    for n in &names[1..] {
        while !n.starts_with(&common) {
            common.pop();
        }
    }
    (format!("{dir}{common}"), names)
}

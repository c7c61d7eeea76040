//! Drawing: a pure function of the [`App`] state onto a ratatui frame. This module draws the
//! frame (tabs, hints or the job gauge, status line) and hands the body to the pane in front
//! and the top to the open overlay, which draw themselves (`tui::panes`, `tui::overlays`).
//! Every text that comes from data (column names, values, file names) goes through `sanitize`
//! before it is drawn.

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, LineGauge, Paragraph, Wrap};
use ratatui::Frame;

use super::app::App;
use super::keymap::{Action, Context};
use super::overlays::Overlay;
use super::panes::Pane;
use super::shared::{Level, Shared};
use super::theme::{Role, Theme};
use crate::text::sanitize;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn draw(frame: &mut Frame, app: &App) {
    let cx = &app.shared;
    let theme = cx.theme();
    let area = frame.area();
    frame.render_widget(Block::default().style(theme.style(Role::Base)), area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "The terminal is {}×{}; Pynomaly needs at least {MIN_WIDTH}×{MIN_HEIGHT}.\nEnlarge the window, or press q to quit.",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.style(Role::Warn))
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let status_lines = status_lines(cx, area.width);
    let [tabs, body, hints, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(status_lines.len() as u16),
    ])
    .areas(area);
    draw_tabs(frame, app, tabs, theme);
    app.panes.get(app.pane).draw(frame, body, cx);
    draw_hints(frame, app, hints, theme);
    draw_status(frame, cx, status_lines, status, theme);
    if let Some(overlay) = &app.overlay {
        draw_overlay(frame, overlay, area, cx);
    }
}

/// The panes, each with the key of its `go_…` action and its title (that action's short label),
/// then the dataset and the theme.
fn draw_tabs(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let cx = &app.shared;
    let source = cx
        .dataset
        .loaded
        .as_ref()
        .map(|l| sanitize(&l.source).into_owned())
        .unwrap_or_else(|| "no data".into());
    let tabs = |compact: bool| {
        let mut spans = Vec::new();
        if !compact {
            spans.push(Span::styled(" Pynomaly ", theme.style(Role::Title)));
        }
        for pane in Pane::ALL {
            let style = if pane == app.pane {
                theme.style(Role::Focus).add_modifier(Modifier::REVERSED)
            } else {
                theme.style(Role::Muted)
            };
            let label = match cx.keymap.key_for(Context::Global, pane.go_action()) {
                Some(key) => format!(" {key} {} ", pane.title()),
                None => format!(" {} ", pane.title()),
            };
            if !compact {
                spans.push(Span::raw(" "));
            }
            spans.push(Span::styled(label, style));
        }
        Line::from(spans)
    };
    // In a narrow terminal the name and the gaps go, so that the file name stays whole.
    let wide = tabs(false);
    let wanted = source.chars().count().min(24) as u16 + 2;
    let left = if area.width >= wide.width() as u16 + wanted {
        wide
    } else {
        tabs(true)
    };
    let left_width = left.width() as u16;
    frame.render_widget(Paragraph::new(left), area);
    // The dataset and theme go in whatever room the tabs leave, never over them.
    let room = area.width.saturating_sub(left_width + 1) as usize;
    let theme_part = format!(" · theme {} ", cx.theme_name);
    // The data's name (its file name when the path does not fit) comes first; the theme only
    // where room is left after it.
    let name = name_in(&source, room.saturating_sub(1).min(40));
    let right = if room >= name.chars().count() + theme_part.chars().count() {
        format!("{name}{theme_part}")
    } else {
        format!("{name} ")
    };
    let [_, right_area] =
        Layout::horizontal([Constraint::Length(left_width + 1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(right)
            .alignment(Alignment::Right)
            .style(theme.style(Role::Muted)),
        right_area,
    );
}

/// The pane's hint actions and a few global ones, each as its key and its short label; while a
/// job runs, its progress gauge instead.
fn draw_hints(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let cx = &app.shared;
    if let Some(job) = &cx.job {
        let queued = if cx.queue.is_empty() {
            String::new()
        } else {
            format!(" (+{} queued)", cx.queue.len())
        };
        frame.render_widget(
            LineGauge::default()
                .ratio(job.fraction.clamp(0.0, 1.0))
                .label(format!(
                    "{}{queued} {:>3.0}%",
                    job.detector,
                    job.fraction * 100.0
                ))
                .filled_style(theme.style(Role::Focus))
                .unfilled_style(theme.style(Role::Muted)),
            area,
        );
        return;
    }
    let ctx = app.pane.context();
    let actions = app.panes.get(app.pane).hints();
    let mut spans = Vec::new();
    for a in actions
        .iter()
        .chain(&[Action::CycleTheme, Action::Help, Action::Quit])
    {
        if let Some(k) = cx.keymap.key_for(ctx, *a) {
            spans.push(Span::styled(format!(" {k}"), theme.style(Role::Focus)));
            spans.push(Span::styled(
                format!(" {}", a.short()),
                theme.style(Role::Muted),
            ));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The most lines the status may take: a long error (a deep path and its reason) stays readable
/// to its end instead of being cut at the window's edge.
const MAX_STATUS_LINES: usize = 3;

/// The status message, split into the lines of `width` cells it fills (at most
/// [`MAX_STATUS_LINES`]; what does not fit ends in `…`).
fn status_lines(cx: &Shared, width: u16) -> Vec<String> {
    let tag = match cx.status.level {
        Level::Info => "·",
        Level::Ok => "✓",
        Level::Warn => "!",
        Level::Error => "✗ error:",
    };
    let text = format!("{tag} {}", sanitize(&cx.status.text));
    let width = usize::from(width.max(2));
    let cells = |t: &str| Span::raw(t).width();
    // Broken at spaces; a word wider than the line is broken where the line ends.
    let mut lines = vec![String::from(" ")];
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let last = lines.last_mut().expect("one line at least");
        let gap = usize::from(!last.trim().is_empty());
        if cells(last) + gap + cells(word) <= width {
            if gap == 1 {
                last.push(' ');
            }
            last.push_str(word);
            continue;
        }
        let mut line = String::new();
        for c in word.chars() {
            if cells(&line) + cells(&c.to_string()) > width {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
        lines.push(line);
    }
    if lines.len() > MAX_STATUS_LINES {
        lines.truncate(MAX_STATUS_LINES);
        let last = lines.last_mut().expect("one line at least");
        while cells(last) + 1 > width {
            last.pop();
        }
        last.push('…');
    }
    lines
}

fn draw_status(frame: &mut Frame, cx: &Shared, lines: Vec<String>, area: Rect, theme: &Theme) {
    let role = match cx.status.level {
        Level::Info => Role::Base,
        Level::Ok => Role::Ok,
        Level::Warn => Role::Warn,
        Level::Error => Role::Error,
    };
    let lines: Vec<Line> = lines.into_iter().map(Line::from).collect();
    frame.render_widget(Paragraph::new(lines).style(theme.style(role)), area);
}

/// The overlay on a cleared box of its own size.
fn draw_overlay(frame: &mut Frame, overlay: &Overlay, area: Rect, cx: &Shared) {
    let dialog = overlay.dialog();
    let popup = dialog.area(area);
    frame.render_widget(Clear, popup);
    frame.render_widget(Block::default().style(cx.theme().style(Role::Base)), popup);
    dialog.draw(frame, popup, cx);
}

/// A data source in `room` cells: whole if it fits, else its file name (what tells files apart),
/// cut at the front if even that is too long.
fn name_in(source: &str, room: usize) -> String {
    if source.chars().count() <= room {
        return source.to_string();
    }
    let name = source.rsplit(['/', '\\']).next().unwrap_or(source);
    let name = name.strip_prefix("demo:").unwrap_or(name);
    let count = name.chars().count();
    if count <= room {
        return name.to_string();
    }
    let keep = room.saturating_sub(1);
    let tail: String = name.chars().skip(count - keep).collect();
    format!("…{tail}")
}

//! A stored run's details (opened from the Experiments pane).

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{Dialog, Step};
use crate::store::RunDetail;
use crate::text::sanitize;
use crate::tui::keymap::Action;
use crate::tui::panes::Panes;
use crate::tui::shared::Shared;
use crate::tui::theme::{Role, Theme};
use crate::tui::widgets::{block, centered, fmt_num, json_text, param_text};

#[derive(Debug, Clone)]
pub struct RunDetailView {
    pub detail: Box<RunDetail>,
}

impl RunDetailView {
    pub fn new(detail: Box<RunDetail>) -> RunDetailView {
        RunDetailView { detail }
    }
}

impl Dialog for RunDetailView {
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
        let theme = cx.theme();
        frame.render_widget(
            Paragraph::new(detail_lines(&self.detail, theme))
                .wrap(Wrap { trim: false })
                .block(block(
                    format!("Run {} (Esc closes)", self.detail.summary.id),
                    true,
                    theme,
                )),
            area,
        );
    }
}

fn detail_lines<'a>(d: &RunDetail, theme: &Theme) -> Vec<Line<'a>> {
    let s = &d.summary;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(sanitize(&s.detector).into_owned(), theme.style(Role::Title)),
            Span::raw(format!(" · {} · started {} UTC", s.status, s.started)),
        ]),
        Line::raw(format!(
            "dataset {}",
            sanitize(s.dataset.as_deref().unwrap_or("-"))
        )),
        Line::raw(format!(
            "{} rows × {} features · seed {} · Pynomaly {}",
            s.n_rows.unwrap_or(0),
            s.n_features.unwrap_or(0),
            d.seed,
            d.app_version
        )),
    ];
    if let Some(e) = &d.error {
        lines.push(Line::styled(
            format!("error: {}", sanitize(e)),
            theme.style(Role::Error),
        ));
    }
    lines.push(Line::styled("parameters", theme.style(Role::Title)));
    if let Some(map) = d.params.as_object() {
        for (k, v) in map {
            lines.push(Line::raw(format!("  {k:<16} {}", param_text(k, v))));
        }
    }
    lines.push(Line::styled("metrics", theme.style(Role::Title)));
    if let Some(map) = d.metrics.as_object() {
        for (k, v) in map {
            lines.push(Line::raw(format!("  {k:<18} {}", json_text(v))));
        }
    }
    lines.push(Line::raw(format!(
        "preparation {}",
        sanitize(&crate::service::run_view::preparation_text(d))
    )));
    if let (Some(m), Some(v)) = (&d.threshold_method, d.threshold_value) {
        lines.push(Line::raw(format!(
            "threshold {m} = {} → {} flagged",
            fmt_num(crate::service::run_view::threshold_value(v)),
            s.n_anomalies.unwrap_or(0)
        )));
    }
    lines.push(Line::styled(
        "its scores are in the Charts pane (3) · r in the list re-runs it on the loaded data",
        theme.style(Role::Muted),
    ));
    lines
}

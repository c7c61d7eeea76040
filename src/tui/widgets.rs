//! Drawing helpers shared by the panes and overlays: the bordered block, popup placement and
//! number formats.

use std::borrow::Cow;

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Block;

use super::theme::{Role, Theme};
use crate::text::sanitize;

/// A bordered box with a title; the border shows whether it has the focus.
pub fn block<'a>(title: impl Into<Cow<'a, str>>, focused: bool, theme: &Theme) -> Block<'a> {
    let title: Cow<'a, str> = title.into();
    Block::bordered()
        .title(Span::styled(format!(" {title} "), theme.style(Role::Title)))
        .border_style(if focused {
            theme.style(Role::Focus)
        } else {
            theme.style(Role::Muted)
        })
}

/// A box of at most `width` × `height` in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(2));
    let h = height.min(area.height.saturating_sub(2));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Compact number for the status line.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "∞".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
    }
}

/// A number in a table cell: whole numbers without decimals.
pub fn fmt_cell(f: f64) -> String {
    if f == f.trunc() && f.abs() < 1e9 {
        format!("{f:.0}")
    } else if f.abs() >= 1e6 || (f != 0.0 && f.abs() < 1e-3) {
        format!("{f:.3e}")
    } else {
        format!("{f:.4}")
    }
}

/// Axis bounds of the finite values (a unit range around a single value, `[0, 1]` for none).
pub fn bounds(values: impl Iterator<Item = f64>) -> [f64; 2] {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo.is_finite() && hi > lo {
        [lo, hi]
    } else if lo.is_finite() {
        [lo - 1.0, lo + 1.0]
    } else {
        [0.0, 1.0]
    }
}

/// A stored parameter as the faces show it: `auto` for a 0 that means so, numbers as
/// `show_param` writes them (the same text as `experiments show`).
pub fn param_text(name: &str, v: &serde_json::Value) -> String {
    match crate::detectors::params::show_stored_param(name, v) {
        Some(text) => sanitize(&text).into_owned(),
        None => json_text(v),
    }
}

/// A stored JSON value (parameter, metric) as text.
pub fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => sanitize(s).into_owned(),
        serde_json::Value::Number(n) => n
            .as_f64()
            .filter(|_| n.is_f64())
            .map(fmt_num)
            .unwrap_or_else(|| n.to_string()),
        serde_json::Value::Null => "-".into(),
        other => sanitize(&other.to_string()).into_owned(),
    }
}

/// The colour role and marker of the `i`-th of several series in one chart: a marker per series
/// as well as a colour, so the series read apart in monochrome too.
pub fn series_style(i: usize) -> (Role, ratatui::symbols::Marker) {
    use ratatui::symbols::Marker;
    const STYLES: [(Role, Marker); 5] = [
        (Role::Chart1, Marker::Braille),
        (Role::Chart2, Marker::Dot),
        (Role::Chart3, Marker::Block),
        (Role::Chart4, Marker::Bar),
        (Role::Chart5, Marker::HalfBlock),
    ];
    STYLES[i % STYLES.len()]
}

/// `text` broken at spaces into lines of at most `width` characters (a longer word is cut).
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && needed > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&crate::text::truncate(word, width));
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

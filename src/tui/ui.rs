//! Drawing: a pure function of the [`App`] state onto a ratatui frame. Every text that comes
//! from data (column names, values, file names) goes through `sanitize` before it is drawn.

use std::borrow::Cow;

use polars::prelude::AnyValue;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Clear, Dataset, GraphType, LineGauge, Padding, Paragraph, Row, Table,
    Wrap,
};
use ratatui::Frame;

use super::app::{
    fmt_num, palette_matches, App, AutomlField, DataFocus, DetectFocus, Level, LowerChart,
    MetricChoice, Overlay, Pane, RunResult,
};
use super::keymap::{Action, Context};
use super::theme::{Role, Theme};
use crate::detectors::ParamKind;
use crate::store::RunDetail;
use crate::text::{sanitize, sparkline, truncate};

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn draw(frame: &mut Frame, app: &App) {
    let theme = app.theme();
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
    let [tabs, body, hints, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(frame, app, tabs, theme);
    match app.pane {
        Pane::Data => draw_data(frame, app, body, theme),
        Pane::Detect => draw_detect(frame, app, body, theme),
        Pane::Charts => draw_charts(frame, app, body, theme),
        Pane::Experiments => draw_experiments(frame, app, body, theme),
        Pane::Automl => draw_automl(frame, app, body, theme),
    }
    draw_hints(frame, app, hints, theme);
    draw_status(frame, app, status, theme);
    if let Some(overlay) = &app.overlay {
        draw_overlay(frame, app, overlay, area, theme);
    }
}

fn draw_tabs(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let mut spans = vec![Span::styled(" Pynomaly ", theme.style(Role::Title))];
    for (i, pane) in Pane::ALL.iter().enumerate() {
        let style = if *pane == app.pane {
            theme.style(Role::Focus).add_modifier(Modifier::REVERSED)
        } else {
            theme.style(Role::Muted)
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!(" {} {} ", i + 1, pane.title()), style));
    }
    let left = Line::from(spans);
    let left_width = left.width() as u16;
    let source = app
        .data
        .loaded
        .as_ref()
        .map(|l| sanitize(&l.source).into_owned())
        .unwrap_or_else(|| "no data".into());
    frame.render_widget(Paragraph::new(left), area);
    // The dataset and theme go in whatever room the tabs leave, never over them.
    let room = area.width.saturating_sub(left_width + 1) as usize;
    let theme_part = format!(" · theme {} ", app.theme_name);
    // The theme goes first when room is short; the source is cut once, at its end.
    let right = if room >= theme_part.chars().count() + 8 {
        let source_room = (room - theme_part.chars().count()).min(30);
        format!("{}{theme_part}", truncate(&source, source_room))
    } else {
        format!("{} ", truncate(&source, room.saturating_sub(1)))
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

fn draw_hints(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    if let Some(job) = &app.job {
        let queued = if app.queue.is_empty() {
            String::new()
        } else {
            format!(" (+{} queued)", app.queue.len())
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
    let actions: &[Action] = match app.pane {
        Pane::Data => &[
            Action::OpenFile,
            Action::SetLabel,
            Action::ToggleFeature,
            Action::CycleScaling,
            Action::CycleMissing,
        ],
        Pane::Detect => &[
            Action::Run,
            Action::Enqueue,
            Action::SwitchFocus,
            Action::Select,
        ],
        Pane::Charts => &[
            Action::ThresholdUp,
            Action::ThresholdDown,
            Action::NextResult,
            Action::NextChart,
        ],
        Pane::Experiments => &[
            Action::Select,
            Action::Mark,
            Action::Filter,
            Action::Sort,
            Action::Delete,
            Action::Run,
        ],
        Pane::Automl => &[Action::Run, Action::Select, Action::OpenBest],
    };
    let mut spans = Vec::new();
    for a in actions
        .iter()
        .chain(&[Action::CycleTheme, Action::Help, Action::Quit])
    {
        if let Some(k) = app.keymap.key_for(ctx, *a) {
            spans.push(Span::styled(format!(" {k}"), theme.style(Role::Focus)));
            spans.push(Span::styled(
                format!(" {}", short_name(*a)),
                theme.style(Role::Muted),
            ));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn short_name(a: Action) -> &'static str {
    match a {
        Action::OpenFile => "open",
        Action::SetLabel => "label",
        Action::ToggleFeature => "feature on/off",
        Action::CycleScaling => "scaling",
        Action::CycleMissing => "missing",
        Action::Run => "run",
        Action::Enqueue => "queue",
        Action::SwitchFocus => "focus",
        Action::Select => "edit/open",
        Action::ThresholdUp => "threshold up",
        Action::ThresholdDown => "down",
        Action::NextResult => "next result",
        Action::NextChart => "chart",
        Action::Mark => "mark",
        Action::Filter => "filter",
        Action::Sort => "sort",
        Action::Delete => "delete",
        Action::OpenBest => "best in charts",
        Action::CycleTheme => "theme",
        Action::Help => "help",
        Action::Quit => "quit",
        other => other.name(),
    }
}

fn draw_status(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let (role, tag) = match app.status.level {
        Level::Info => (Role::Base, "·"),
        Level::Ok => (Role::Ok, "✓"),
        Level::Warn => (Role::Warn, "!"),
        Level::Error => (Role::Error, "✗ error:"),
    };
    let text = format!(" {tag} {}", sanitize(&app.status.text));
    frame.render_widget(Paragraph::new(text).style(theme.style(role)), area);
}

fn block<'a>(title: impl Into<Cow<'a, str>>, focused: bool, theme: &Theme) -> Block<'a> {
    let title: Cow<'a, str> = title.into();
    Block::bordered()
        .title(Span::styled(format!(" {title} "), theme.style(Role::Title)))
        .border_style(if focused {
            theme.style(Role::Focus)
        } else {
            theme.style(Role::Muted)
        })
}

fn cell_text(v: AnyValue) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => sanitize(s).into_owned(),
        AnyValue::StringOwned(s) => sanitize(s.as_str()).into_owned(),
        AnyValue::Float64(f) => fmt_cell(f),
        AnyValue::Float32(f) => fmt_cell(f as f64),
        other => sanitize(&other.to_string()).into_owned(),
    }
}

fn fmt_cell(f: f64) -> String {
    if f == f.trunc() && f.abs() < 1e9 {
        format!("{f:.0}")
    } else if f.abs() >= 1e6 || (f != 0.0 && f.abs() < 1e-3) {
        format!("{f:.3e}")
    } else {
        format!("{f:.4}")
    }
}

fn draw_data(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let Some(loaded) = &app.data.loaded else {
        let msg = if app.data.loading {
            "Loading…"
        } else {
            "No data. Press o to open a file (CSV, Parquet, JSON, Arrow), or demo:cardio."
        };
        frame.render_widget(Paragraph::new(msg).block(block("Data", true, theme)), area);
        return;
    };
    let [top, spec_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(4)]).areas(area);
    let [left, table_area] =
        Layout::horizontal([Constraint::Length(46), Constraint::Min(0)]).areas(top);
    let [cols_area, detail_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(6)]).areas(left);

    // Column profiles.
    let prepared = app.data.prepared.as_ref().map(|p| &p.prepared);
    let label = prepared.and_then(|p| p.report.label_column.clone());
    let time = prepared.and_then(|p| p.report.time_column.clone());
    let features: Vec<&str> = prepared
        .map(|p| {
            p.spec
                .fitted
                .as_ref()
                .map(|f| f.columns.iter().map(|c| c.source.as_str()).collect())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let names = loaded.df.get_column_names();
    let visible = cols_area.height.saturating_sub(3) as usize;
    let first = app
        .data
        .selected_column
        .saturating_sub(visible.saturating_sub(1));
    let rows: Vec<Row> = names
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .map(|(i, name)| {
            let name = name.as_str();
            let role = if Some(name) == label.as_deref() {
                "label"
            } else if Some(name) == time.as_deref() {
                "time"
            } else if features.contains(&name) {
                "feat"
            } else {
                "—"
            };
            let profile = app.data.profile.as_ref().and_then(|p| p.column(name));
            let dtype = profile.map(|p| p.dtype.clone()).unwrap_or_default();
            let missing = profile.map(|p| p.missing).unwrap_or(0);
            let hist = profile
                .and_then(|p| p.numeric.as_ref())
                .map(|n| sparkline(&n.histogram))
                .unwrap_or_default();
            let style = if i == app.data.selected_column {
                theme.style(Role::Selection)
            } else {
                Style::default()
            };
            Row::new(vec![
                Cell::from(truncate(&sanitize(name), 14).into_owned()),
                Cell::from(truncate(&dtype, 6).into_owned()),
                Cell::from(role),
                Cell::from(missing.to_string()),
                Cell::from(hist),
            ])
            .style(style)
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(16),
        ],
    )
    .header(
        Row::new(vec!["column", "type", "use", "miss", "histogram"])
            .style(theme.style(Role::Muted)),
    )
    .block(block(
        format!("Columns {}/{}", app.data.selected_column + 1, names.len()),
        app.data.focus == DataFocus::Columns,
        theme,
    ));
    frame.render_widget(table, cols_area);
    draw_column_detail(frame, app, detail_area, theme);

    // Preview of the rows.
    let df = &loaded.df;
    let n_rows = df.height();
    let body_rows = table_area.height.saturating_sub(3) as usize;
    let col_width = 11u16;
    let n_cols = ((table_area.width.saturating_sub(9)) / (col_width + 1)) as usize;
    let shown: Vec<usize> = (app.data.col_offset..names.len())
        .take(n_cols.max(1))
        .collect();
    let header = Row::new(
        std::iter::once(Cell::from("row"))
            .chain(shown.iter().map(|&c| {
                let style = if c == app.data.selected_column {
                    theme.style(Role::Focus)
                } else {
                    theme.style(Role::Muted)
                };
                Cell::from(truncate(&sanitize(names[c].as_str()), col_width as usize).into_owned())
                    .style(style)
            }))
            .collect::<Vec<_>>(),
    );
    let columns = df.columns();
    let rows: Vec<Row> = (app.data.row_offset..n_rows)
        .take(body_rows)
        .map(|r| {
            Row::new(
                std::iter::once(Cell::from(r.to_string()).style(theme.style(Role::Muted)))
                    .chain(shown.iter().map(|&c| {
                        let text = columns[c].get(r).map(cell_text).unwrap_or_default();
                        Cell::from(truncate(&text, col_width as usize).into_owned())
                    }))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(7))
        .chain(shown.iter().map(|_| Constraint::Length(col_width)))
        .collect();
    frame.render_widget(
        Table::new(rows, widths).header(header).block(block(
            format!(
                "Rows {}–{} of {n_rows}",
                (app.data.row_offset + 1).min(n_rows),
                (app.data.row_offset + body_rows).min(n_rows)
            ),
            app.data.focus == DataFocus::Table,
            theme,
        )),
        table_area,
    );

    // The preparation recipe.
    let spec = &app.data.spec;
    let matrix = match prepared {
        Some(p) => format!(
            "{} rows × {} features",
            p.matrix.x.nrows(),
            p.matrix.x.ncols()
        ),
        None if app.data.loading => "preparing…".into(),
        None => "not prepared (see the status line)".into(),
    };
    let lines = vec![
        Line::from(vec![
            Span::styled("Matrix ", theme.style(Role::Muted)),
            Span::raw(matrix),
            Span::styled("   label ", theme.style(Role::Muted)),
            Span::raw(
                label
                    .as_deref()
                    .map(|l| sanitize(l).into_owned())
                    .unwrap_or_else(|| "none".into()),
            ),
            Span::styled("   time ", theme.style(Role::Muted)),
            Span::raw(
                time.as_deref()
                    .map(|l| sanitize(l).into_owned())
                    .unwrap_or_else(|| "none".into()),
            ),
        ]),
        Line::from(vec![
            Span::styled("Scaling ", theme.style(Role::Muted)),
            Span::raw(format!("{:?}", spec.scaling).to_lowercase()),
            Span::styled("   missing ", theme.style(Role::Muted)),
            Span::raw(format!("{:?}", spec.missing).to_lowercase()),
            Span::styled("   text columns ", theme.style(Role::Muted)),
            Span::raw(format!("{:?}", spec.categorical).to_lowercase()),
            Span::styled("   excluded ", theme.style(Role::Muted)),
            Span::raw(if spec.exclude.is_empty() {
                "none".to_string()
            } else {
                truncate(&sanitize(&spec.exclude.join(", ")), 30).into_owned()
            }),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(lines).block(block("Preparation", false, theme)),
        spec_area,
    );
}

/// Statistics of the selected column, from the profile.
fn draw_column_detail(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let names = app
        .data
        .loaded
        .as_ref()
        .map(|l| {
            l.df.get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let Some(name) = names.get(app.data.selected_column) else {
        return;
    };
    let muted = theme.style(Role::Muted);
    let mut lines = Vec::new();
    match app.data.profile.as_ref().and_then(|p| p.column(name)) {
        Some(c) => {
            lines.push(Line::from(vec![
                Span::styled("count ", muted),
                Span::raw(c.count.to_string()),
                Span::styled("  missing ", muted),
                Span::raw(c.missing.to_string()),
                Span::styled("  distinct ", muted),
                Span::raw(format!(
                    "{}{}",
                    if c.distinct_is_exact { "" } else { "~" },
                    c.distinct
                )),
            ]));
            if let Some(n) = &c.numeric {
                lines.push(Line::from(vec![
                    Span::styled("min ", muted),
                    Span::raw(fmt_num(n.min)),
                    Span::styled("  q25 ", muted),
                    Span::raw(fmt_num(n.q25)),
                    Span::styled("  med ", muted),
                    Span::raw(fmt_num(n.median)),
                ]));
                lines.push(Line::from(vec![
                    Span::styled("q75 ", muted),
                    Span::raw(fmt_num(n.q75)),
                    Span::styled("  max ", muted),
                    Span::raw(fmt_num(n.max)),
                ]));
                lines.push(Line::from(vec![
                    Span::styled("mean ", muted),
                    Span::raw(fmt_num(n.mean)),
                    Span::styled("  std ", muted),
                    Span::raw(fmt_num(n.std)),
                ]));
            } else if let Some((lo, hi)) = &c.range {
                lines.push(Line::raw(format!(
                    "{} … {}",
                    truncate(&sanitize(lo), 19),
                    truncate(&sanitize(hi), 19)
                )));
            }
            if !c.top_values.is_empty() && c.numeric.is_none() {
                let top: Vec<String> = c
                    .top_values
                    .iter()
                    .take(3)
                    .map(|(v, n)| format!("{} ({n})", truncate(&sanitize(v), 10)))
                    .collect();
                lines.push(Line::from(vec![
                    Span::styled("top ", muted),
                    Span::raw(top.join(", ")),
                ]));
            }
        }
        None => lines.push(Line::styled("no profile", muted)),
    }
    frame.render_widget(
        Paragraph::new(lines).block(block(
            truncate(&sanitize(name), 40).into_owned(),
            false,
            theme,
        )),
        area,
    );
}

fn draw_detect(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let [list_area, right] =
        Layout::horizontal([Constraint::Length(18), Constraint::Min(0)]).areas(area);
    // Registry grouped by family.
    let mut lines: Vec<Line> = Vec::new();
    let mut last_family = "";
    let mut selected_line = 0;
    for (i, d) in app.detect.entries.iter().enumerate() {
        if d.family.name() != last_family {
            last_family = d.family.name();
            lines.push(Line::styled(
                last_family.to_string(),
                theme.style(Role::Muted),
            ));
        }
        if i == app.detect.selected {
            selected_line = lines.len();
        }
        let style = if i == app.detect.selected {
            theme.style(Role::Selection)
        } else {
            Style::default()
        };
        let marker = if i == app.detect.selected {
            "▸ "
        } else {
            "  "
        };
        lines.push(Line::styled(format!("{marker}{}", d.name), style));
    }
    let inner_height = list_area.height.saturating_sub(2) as usize;
    let scroll = selected_line.saturating_sub(inner_height.saturating_sub(1));
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll as u16, 0))
            .block(block(
                "Detectors",
                app.detect.focus == DetectFocus::Detectors,
                theme,
            )),
        list_area,
    );

    let info = app.selected_detector();
    let [about, form, queue] = Layout::vertical([
        Constraint::Length(5),
        Constraint::Min(0),
        Constraint::Length(4),
    ])
    .areas(right);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled(info.name, theme.style(Role::Title)),
                Span::styled(
                    format!("  {} · {}", info.family.name(), info.complexity),
                    theme.style(Role::Muted),
                ),
            ]),
            Line::raw(info.summary),
            Line::styled(
                if info.randomized {
                    format!("randomised: seed {}", app.detect.seed)
                } else {
                    "deterministic".to_string()
                },
                theme.style(Role::Muted),
            ),
        ])
        .wrap(Wrap { trim: true })
        .block(block("About", false, theme)),
        about,
    );

    let values = app.param_values();
    let rows: Vec<Row> = info
        .params
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(i, (p, v))| {
            let log = match p.kind {
                ParamKind::Int { log: true, .. } | ParamKind::Float { log: true, .. } => ", log",
                _ => "",
            };
            let style = if app.detect.focus == DetectFocus::Params && i == app.detect.param_selected
            {
                theme.style(Role::Selection)
            } else {
                Style::default()
            };
            Row::new(vec![
                Cell::from(p.name),
                Cell::from(sanitize(v).into_owned()).style(theme.style(Role::Focus)),
                Cell::from(format!("{}{log}", p.describe_range())).style(theme.style(Role::Muted)),
                Cell::from(p.help),
            ])
            .style(style)
        })
        .collect();
    let mut form_block = block(
        "Parameters (Enter edits)",
        app.detect.focus == DetectFocus::Params,
        theme,
    );
    if let Some(e) = &app.detect.error {
        form_block = form_block.title_bottom(Span::styled(
            format!(" ✗ {} ", sanitize(e)),
            theme.style(Role::Error),
        ));
    }
    if info.params.is_empty() {
        frame.render_widget(
            Paragraph::new("This detector has no parameters.").block(form_block),
            form,
        );
    } else {
        frame.render_widget(
            Table::new(
                rows,
                [
                    Constraint::Length(16),
                    Constraint::Length(12),
                    Constraint::Length(22),
                    Constraint::Min(10),
                ],
            )
            .header(
                Row::new(vec!["parameter", "value", "range", "meaning"])
                    .style(theme.style(Role::Muted)),
            )
            .block(form_block),
            form,
        );
    }

    let mut lines = Vec::new();
    match &app.job {
        Some(job) => lines.push(Line::from(format!(
            "running {} {:.0}%  (x cancels)",
            job.detector,
            job.fraction * 100.0
        ))),
        None => lines.push(Line::styled("idle", theme.style(Role::Muted))),
    }
    if !app.queue.is_empty() {
        let names: Vec<&str> = app.queue.iter().map(|(n, _)| *n).collect();
        lines.push(Line::from(format!("queued: {}", names.join(", "))));
    }
    frame.render_widget(
        Paragraph::new(lines).block(block("Jobs", false, theme)),
        queue,
    );
}

fn draw_charts(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let Some(result) = app.results.get(app.charts.selected) else {
        frame.render_widget(
            Paragraph::new(
                "No results yet. Choose a detector in the Detect pane (2) and press r to run it.",
            )
            .wrap(Wrap { trim: true })
            .block(block("Charts", true, theme)),
            area,
        );
        return;
    };
    let [title, upper, lower] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Percentage(50),
        Constraint::Min(0),
    ])
    .areas(area);
    let auc = result
        .roc_auc
        .map(|a| format!(" · ROC-AUC {a:.4}"))
        .unwrap_or_default();
    let run = result
        .run_id
        .map(|id| format!(" · run {id}"))
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!(" {}/{} ", app.charts.selected + 1, app.results.len()),
                theme.style(Role::Muted),
            ),
            Span::styled(result.detector.clone(), theme.style(Role::Title)),
            Span::raw(format!(
                " on {}{auc}{run} · threshold {} → ",
                truncate(&sanitize(&result.source), 24),
                fmt_num(result.threshold())
            )),
            Span::styled(
                format!("▲ {} flagged", result.flagged),
                theme.style(Role::Anomaly),
            ),
            Span::raw(format!(" of {}", result.scores.len())),
        ])),
        title,
    );
    let [hist_area, top_area] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Min(0)]).areas(upper);
    draw_histogram(frame, result, hist_area, theme);
    draw_top_table(frame, app, result, top_area, theme);
    match app.charts.lower {
        LowerChart::Roc => draw_curve(frame, result, true, lower, theme),
        LowerChart::Pr => draw_curve(frame, result, false, lower, theme),
        LowerChart::Projection => draw_projection(frame, result, lower, theme),
        LowerChart::Time => draw_time(frame, result, lower, theme),
    }
}

fn draw_histogram(frame: &mut Frame, r: &RunResult, area: Rect, theme: &Theme) {
    let bins = (area.width.saturating_sub(10) as usize).clamp(10, 60);
    let (lo, hi) = (
        *r.sorted_desc.last().unwrap_or(&0.0),
        *r.sorted_desc.first().unwrap_or(&1.0),
    );
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0u64; bins];
    for &s in &r.scores {
        let b = (((s - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let cut = r.threshold();
    let max = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    // Bars above the threshold are a second series with their own glyph, not only a colour.
    let mut normal = Vec::new();
    let mut flagged = Vec::new();
    for (i, &c) in counts.iter().enumerate() {
        let x = lo + (i as f64 + 0.5) * width;
        let point = (x, c as f64);
        if lo + (i as f64 + 1.0) * width > cut && cut.is_finite() {
            flagged.push(point);
        } else {
            normal.push(point);
        }
    }
    let line = if cut.is_finite() {
        vec![(cut, 0.0), (cut, max)]
    } else {
        Vec::new()
    };
    let datasets = vec![
        Dataset::default()
            .name("scores")
            .graph_type(GraphType::Bar)
            .marker(Marker::Braille)
            .style(theme.style(Role::Chart1))
            .data(&normal),
        Dataset::default()
            .name("flagged ▲")
            .graph_type(GraphType::Bar)
            .marker(Marker::Custom('▲'))
            .style(theme.style(Role::Anomaly))
            .data(&flagged),
        Dataset::default()
            .name("threshold │")
            .graph_type(GraphType::Line)
            .marker(Marker::Custom('│'))
            .style(theme.style(Role::Threshold))
            .data(&line),
    ];
    let chart = Chart::new(datasets)
        .block(block(
            "Score histogram (+/- moves the threshold)",
            false,
            theme,
        ))
        .x_axis(
            Axis::default()
                .bounds([lo, hi.max(lo + 1e-12)])
                .labels(vec![Span::raw(fmt_num(lo)), Span::raw(fmt_num(hi))])
                .style(theme.style(Role::Muted)),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, max])
                .labels(vec![Span::raw("0"), Span::raw(format!("{max:.0}"))])
                .style(theme.style(Role::Muted)),
        );
    frame.render_widget(chart, area);
}

fn draw_top_table(frame: &mut Frame, app: &App, r: &RunResult, area: Rect, theme: &Theme) {
    let order = &r.order;
    let visible = area.height.saturating_sub(3) as usize;
    let offset = app
        .charts
        .top_offset
        .min(order.len().saturating_sub(visible));
    let prepared = app.data.prepared.as_ref().map(|p| &p.prepared);
    // Feature values come from the loaded matrix when it is the one this run used.
    let matrix = prepared
        .filter(|p| p.matrix.row_ids.len() == r.row_ids.len())
        .map(|p| &p.matrix);
    let n_feat = matrix.map_or(0, |m| {
        m.x.ncols()
            .min(((area.width as usize).saturating_sub(26)) / 9)
    });
    let header = Row::new(
        ["#", "row", "score", ""]
            .iter()
            .map(|s| s.to_string())
            .chain(
                matrix
                    .map(|m| {
                        m.feature_names[..n_feat]
                            .iter()
                            .map(|n| truncate(&sanitize(n), 8).into_owned())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            )
            .map(Cell::from)
            .collect::<Vec<_>>(),
    )
    .style(theme.style(Role::Muted));
    let rows: Vec<Row> = order
        .iter()
        .enumerate()
        .skip(offset)
        .take(visible)
        .map(|(rank, &i)| {
            let is_flagged = rank < r.flagged;
            let mut cells = vec![
                Cell::from((rank + 1).to_string()),
                Cell::from(r.row_ids[i].to_string()),
                Cell::from(fmt_num(r.scores[i])),
                Cell::from(if is_flagged { "▲" } else { " " }),
            ];
            if let Some(m) = matrix {
                for j in 0..n_feat {
                    cells.push(Cell::from(fmt_cell(m.x[[i, j]])));
                }
            }
            Row::new(cells).style(if is_flagged {
                theme.style(Role::Anomaly)
            } else {
                theme.style(Role::Normal)
            })
        })
        .collect();
    let widths: Vec<Constraint> = [4u16, 7, 9, 1]
        .iter()
        .map(|&w| Constraint::Length(w))
        .chain((0..n_feat).map(|_| Constraint::Length(8)))
        .collect();
    frame.render_widget(
        Table::new(rows, widths).header(header).block(block(
            "Top anomalies (j/k scroll)",
            false,
            theme,
        )),
        area,
    );
}

fn draw_curve(frame: &mut Frame, r: &RunResult, roc: bool, area: Rect, theme: &Theme) {
    let (points, title, x_name, y_name) = if roc {
        (
            &r.roc,
            "ROC curve (c: next chart)",
            "false positive rate",
            "true positive rate",
        )
    } else {
        (
            &r.pr,
            "Precision–recall (c: next chart)",
            "recall",
            "precision",
        )
    };
    if points.is_empty() {
        frame.render_widget(
            Paragraph::new("No label column: ROC and precision–recall need one (Data pane, L on a 0/1 column).")
                .wrap(Wrap { trim: true })
                .block(block(title, false, theme)),
            area,
        );
        return;
    }
    let diagonal = [(0.0, 0.0), (1.0, 1.0)];
    let mut datasets = vec![Dataset::default()
        .name(if roc {
            format!("{} (AUC {:.3})", r.detector, r.roc_auc.unwrap_or(f64::NAN))
        } else {
            format!(
                "{} (AP {:.3})",
                r.detector,
                r.average_precision.unwrap_or(f64::NAN)
            )
        })
        .graph_type(GraphType::Line)
        .marker(Marker::Braille)
        .style(theme.style(Role::Chart1))
        .data(points)];
    if roc {
        datasets.push(
            Dataset::default()
                .name("chance")
                .graph_type(GraphType::Line)
                .marker(Marker::Dot)
                .style(theme.style(Role::Muted))
                .data(&diagonal),
        );
    }
    let axis = |name: &'static str| {
        Axis::default()
            .title(name)
            .bounds([0.0, 1.0])
            .labels(vec![Span::raw("0"), Span::raw("0.5"), Span::raw("1")])
            .style(theme.style(Role::Muted))
    };
    frame.render_widget(
        Chart::new(datasets)
            .block(block(title, false, theme))
            .x_axis(axis(x_name))
            .y_axis(axis(y_name)),
        area,
    );
}

fn bounds(values: impl Iterator<Item = f64>) -> [f64; 2] {
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

fn draw_projection(frame: &mut Frame, r: &RunResult, area: Rect, theme: &Theme) {
    let Some(dots) = &r.scatter else {
        frame.render_widget(
            Paragraph::new("No projection for this result (its data is not the loaded table).")
                .block(block("PCA projection", false, theme)),
            area,
        );
        return;
    };
    let (mut normal, mut flagged) = (Vec::new(), Vec::new());
    for (p, &rank) in dots.points.iter().zip(&dots.best_rank) {
        if rank < r.flagged {
            flagged.push(*p);
        } else {
            normal.push(*p);
        }
    }
    let datasets = vec![
        Dataset::default()
            .name("normal ·")
            .marker(Marker::Braille)
            .graph_type(GraphType::Scatter)
            .style(theme.style(Role::Chart1))
            .data(&normal),
        Dataset::default()
            .name("anomaly ✕")
            .marker(Marker::Custom('✕'))
            .graph_type(GraphType::Scatter)
            .style(theme.style(Role::Anomaly))
            .data(&flagged),
    ];
    frame.render_widget(
        Chart::new(datasets)
            .block(block(
                "PCA projection: first two components (c: next chart)",
                false,
                theme,
            ))
            .x_axis(
                Axis::default()
                    .title("PC1")
                    .bounds(dots.x_bounds)
                    .style(theme.style(Role::Muted)),
            )
            .y_axis(
                Axis::default()
                    .title("PC2")
                    .bounds(dots.y_bounds)
                    .style(theme.style(Role::Muted)),
            ),
        area,
    );
}

fn draw_time(frame: &mut Frame, r: &RunResult, area: Rect, theme: &Theme) {
    let Some(time) = &r.time else {
        frame.render_widget(
            Paragraph::new("No time column in this dataset (try demo:server_metrics).")
                .block(block("Scores over time", false, theme)),
            area,
        );
        return;
    };
    let cut = r.threshold();
    let mut line: Vec<(f64, f64)> = time.iter().copied().zip(r.scores.iter().copied()).collect();
    line.sort_by(|a, b| a.0.total_cmp(&b.0));
    let flagged: Vec<(f64, f64)> = line.iter().copied().filter(|p| p.1 >= cut).collect();
    let xb = bounds(line.iter().map(|p| p.0));
    let yb = bounds(line.iter().map(|p| p.1));
    let datasets = vec![
        Dataset::default()
            .name("score")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.style(Role::Chart1))
            .data(&line),
        Dataset::default()
            .name("anomaly ▲")
            .marker(Marker::Custom('▲'))
            .graph_type(GraphType::Scatter)
            .style(theme.style(Role::Anomaly))
            .data(&flagged),
    ];
    frame.render_widget(
        Chart::new(datasets)
            .block(block("Scores over time (c: next chart)", false, theme))
            .x_axis(
                Axis::default()
                    .title("time")
                    .bounds(xb)
                    .style(theme.style(Role::Muted)),
            )
            .y_axis(
                Axis::default()
                    .title("score")
                    .bounds(yb)
                    .labels(vec![Span::raw(fmt_num(yb[0])), Span::raw(fmt_num(yb[1]))])
                    .style(theme.style(Role::Muted)),
            ),
        area,
    );
}

fn draw_experiments(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let e = &app.experiments;
    let runs = e.visible();
    let title = format!(
        "Experiments in {} · {} shown of {} · sorted by {}{}",
        truncate(&sanitize(&app.store_label), 40),
        runs.len(),
        e.runs.len(),
        e.sort.name(),
        if e.filter.is_empty() {
            String::new()
        } else {
            format!(" · filter \"{}\"", sanitize(&e.filter))
        }
    );
    if runs.is_empty() {
        let msg = if e.loading {
            "Loading…"
        } else if e.runs.is_empty() {
            "No runs stored yet. Runs from the Detect pane and from `pynomaly detect` appear here."
        } else {
            "No run matches the filter (/ to change it)."
        };
        frame.render_widget(Paragraph::new(msg).block(block(title, true, theme)), area);
        return;
    }
    let visible = area.height.saturating_sub(3) as usize;
    let first = e.selected.saturating_sub(visible.saturating_sub(1));
    let rows: Vec<Row> = runs
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .map(|(i, r)| {
            let dataset = r
                .dataset
                .as_deref()
                .map(|d| {
                    std::path::Path::new(d)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| d.to_string())
                })
                .unwrap_or_else(|| "-".into());
            let style = if i == e.selected {
                theme.style(Role::Selection)
            } else if r.status == "failed" || r.status == "interrupted" {
                theme.style(Role::Warn)
            } else {
                Style::default()
            };
            Row::new(vec![
                Cell::from(if e.marked.contains(&r.id) { "●" } else { " " }),
                Cell::from(r.id.to_string()),
                Cell::from(r.started.clone()),
                Cell::from(truncate(&sanitize(&r.detector), 8).into_owned()),
                Cell::from(truncate(&sanitize(&dataset), 40).into_owned()),
                Cell::from(r.status.clone()),
                Cell::from(r.n_rows.map(|n| n.to_string()).unwrap_or_default()),
                Cell::from(r.n_anomalies.map(|n| n.to_string()).unwrap_or_default()),
                Cell::from(
                    r.roc_auc
                        .map(|a| format!("{a:.4}"))
                        .unwrap_or_else(|| "-".into()),
                ),
            ])
            .style(style)
        })
        .collect();
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(1),
                Constraint::Length(4),
                Constraint::Length(19),
                Constraint::Length(8),
                Constraint::Min(7),
                Constraint::Length(11),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(7),
            ],
        )
        .header(
            Row::new(vec![
                "",
                "id",
                "started (UTC)",
                "detector",
                "dataset",
                "status",
                "rows",
                "flagged",
                "ROC-AUC",
            ])
            .style(theme.style(Role::Muted)),
        )
        .block(block(title, true, theme)),
        area,
    );
}

fn draw_automl(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let form_width = if area.width < 100 { 32 } else { 36 };
    let [form_area, right] =
        Layout::horizontal([Constraint::Length(form_width), Constraint::Min(0)]).areas(area);
    draw_automl_form(frame, app, form_area, theme);
    let [board_area, chart_area] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(right);
    draw_leaderboard(frame, app, board_area, theme);
    draw_best_so_far(frame, app, chart_area, theme);
}

fn draw_automl_form(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let a = &app.automl;
    let label = app
        .data
        .prepared
        .as_ref()
        .and_then(|p| p.prepared.report.label_column.clone());
    let value = |field: AutomlField| -> String {
        match field {
            AutomlField::Detectors => match a.family {
                None => "all".into(),
                Some(f) => format!("{} family", f.name()),
            },
            AutomlField::Metric => match a.metric {
                MetricChoice::Auto => format!("auto → {}", app.automl_metric().name()),
                MetricChoice::Fixed(m) => m.name().into(),
            },
            AutomlField::Protocol => {
                if app.automl_metric() == crate::automl::Metric::LabelFree {
                    "all rows (label-free)".into()
                } else if a.holdout {
                    "hold-out 30 %".into()
                } else {
                    "all rows".into()
                }
            }
            AutomlField::Strategy => a.strategy.name().into(),
            AutomlField::Trials => a.trials.to_string(),
            AutomlField::Budget => a
                .budget_s
                .map(|s| format!("{s} s"))
                .unwrap_or_else(|| "none".into()),
            AutomlField::Ensemble => match a.ensemble {
                0 => "off".into(),
                k => format!("top {k}"),
            },
        }
    };
    let mut lines: Vec<Line> = AutomlField::ALL
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let style = if i == a.field {
                theme.style(Role::Selection)
            } else {
                Style::default()
            };
            Line::from(vec![
                Span::styled(format!("{:<10}", f.label()), theme.style(Role::Muted)),
                Span::styled(format!("◂ {} ▸", value(*f)), style),
            ])
        })
        .collect();
    lines.push(Line::from(Span::styled(
        format!("{:<10}{} (S in Detect)", "Seed", app.detect.seed),
        theme.style(Role::Muted),
    )));
    lines.push(Line::raw(""));
    let label_line = match &label {
        Some(l) => format!("Label: {}", sanitize(l)),
        None => "No label: the search is label-free".into(),
    };
    lines.push(Line::from(Span::styled(
        label_line,
        theme.style(Role::Muted),
    )));
    let explain = match a.strategy {
        crate::automl::Strategy::Random => "Random: every detector's defaults, then random draws.",
        crate::automl::Strategy::Halving => {
            "Halving: many candidates on a small subsample; the best third moves on to 3× more rows."
        }
        crate::automl::Strategy::Tpe => {
            "TPE: after a random start, new trials are drawn where good ones were."
        }
    };
    lines.push(Line::from(Span::styled(
        explain.to_string(),
        theme.style(Role::Muted),
    )));
    lines.push(Line::from(Span::styled(
        "↑↓ field · ←→ change · r start · x cancel",
        theme.style(Role::Muted),
    )));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(block("Search", true, theme).padding(Padding::horizontal(1))),
        area,
    );
}

fn draw_leaderboard(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let a = &app.automl;
    let running = app.job.as_ref().is_some_and(|j| j.detector == "automl");
    let title = format!(
        "Leaderboard · {} of {} trials{}",
        a.trials_done.len(),
        a.planned,
        match (running, a.running_metric) {
            (true, Some(m)) => format!(" · running, objective {}", m.name()),
            (false, Some(m)) => format!(" · objective {}", m.name()),
            _ => String::new(),
        }
    );
    if a.trials_done.is_empty() {
        let msg = if running {
            "Waiting for the first trial…"
        } else {
            "No search yet. Choose the search on the left and press r. Trials appear here as they finish; the best run opens in Charts with o."
        };
        frame.render_widget(
            Paragraph::new(msg)
                .wrap(Wrap { trim: true })
                .block(block(title, false, theme)),
            area,
        );
        return;
    }
    let ranked = a.ranked();
    // Narrow terminals drop the time column so that the objective stays readable.
    let time_width = if area.width < 70 { 0 } else { 6 };
    let visible = area.height.saturating_sub(3) as usize;
    let first = a.leaderboard_offset.min(ranked.len().saturating_sub(1));
    let rows: Vec<Row> = ranked
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .map(|(rank, t)| {
            let params: Vec<String> = t
                .params
                .0
                .iter()
                .map(|(k, v)| match v {
                    crate::detectors::ParamValue::Float(f) => format!("{k}={}", fmt_num(*f)),
                    other => format!("{k}={other}"),
                })
                .collect();
            let style = if rank == 0 && t.objective.is_some() {
                theme.style(Role::Ok)
            } else if t.objective.is_none() {
                theme.style(Role::Muted)
            } else {
                Style::default()
            };
            Row::new(vec![
                Cell::from((rank + 1).to_string()),
                Cell::from(t.number.to_string()),
                Cell::from(t.detector.clone()),
                Cell::from(t.objective.map(|o| format!("{o:.4}")).unwrap_or_else(
                    || match &t.error {
                        Some(_) => "failed".into(),
                        None => "-".into(),
                    },
                )),
                Cell::from(t.fit_rows.to_string()),
                Cell::from(format!("{:.2}", t.time_s)),
                Cell::from(params.join(" ")),
            ])
            .style(style)
        })
        .collect();
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(4),
                Constraint::Length(3),
                Constraint::Length(8),
                Constraint::Length(9),
                Constraint::Length(7),
                Constraint::Length(time_width),
                Constraint::Min(10),
            ],
        )
        .header(
            Row::new(vec![
                "rank",
                "#",
                "detector",
                "objective",
                "rows",
                "time s",
                "parameters",
            ])
            .style(theme.style(Role::Muted)),
        )
        .block(block(title, false, theme)),
        area,
    );
}

fn draw_best_so_far(frame: &mut Frame, app: &App, area: Rect, theme: &Theme) {
    let a = &app.automl;
    let title = "Best so far on the most rows (line) and each trial (•)";
    let best = a.best_so_far();
    let line: Vec<(f64, f64)> = best
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_finite())
        .map(|(i, b)| ((i + 1) as f64, *b))
        .collect();
    let dots: Vec<(f64, f64)> = a
        .trials_done
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.objective.map(|o| ((i + 1) as f64, o)))
        .collect();
    if dots.is_empty() {
        frame.render_widget(
            Paragraph::new("The best objective over trials is drawn here during a search.")
                .wrap(Wrap { trim: true })
                .block(block(title, false, theme)),
            area,
        );
        return;
    }
    let y = bounds(dots.iter().map(|p| p.1));
    let x_max = (a.planned.max(dots.len())) as f64;
    let datasets = vec![
        Dataset::default()
            .name("trial")
            .graph_type(GraphType::Scatter)
            .marker(Marker::Dot)
            .style(theme.style(Role::Muted))
            .data(&dots),
        Dataset::default()
            .name("best")
            .graph_type(GraphType::Line)
            .marker(Marker::Braille)
            .style(theme.style(Role::Chart1))
            .data(&line),
    ];
    frame.render_widget(
        Chart::new(datasets)
            .block(block(title, false, theme))
            .x_axis(
                Axis::default()
                    .title("trial")
                    .bounds([1.0, x_max.max(2.0)])
                    .labels(vec![Span::raw("1"), Span::raw(format!("{x_max:.0}"))])
                    .style(theme.style(Role::Muted)),
            )
            .y_axis(
                Axis::default()
                    .bounds(y)
                    .labels(vec![
                        Span::raw(format!("{:.3}", y[0])),
                        Span::raw(format!("{:.3}", y[1])),
                    ])
                    .style(theme.style(Role::Muted)),
            ),
        area,
    );
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(2));
    let h = height.min(area.height.saturating_sub(2));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_overlay(frame: &mut Frame, app: &App, overlay: &Overlay, area: Rect, theme: &Theme) {
    let popup = match overlay {
        Overlay::Help { .. } | Overlay::RunDetail(_) | Overlay::Compare(_) => {
            centered(area, 100, area.height - 2)
        }
        Overlay::Palette { .. } | Overlay::ThemePicker { .. } | Overlay::OpenFile { .. } => {
            centered(area, 70, 16)
        }
        _ => centered(area, 70, 7),
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(Block::default().style(theme.style(Role::Base)), popup);
    match overlay {
        Overlay::Help { scroll } => {
            let mut lines = vec![Line::styled(
                "Keys (from the active keymap; override in keymap.toml in the config folder)",
                theme.style(Role::Muted),
            )];
            for ctx in Context::ALL {
                lines.push(Line::styled(
                    format!("{} keys", ctx.name()),
                    theme.style(Role::Title),
                ));
                for (action, keys) in app.keymap.bindings(ctx) {
                    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                    lines.push(Line::from(vec![
                        Span::styled(
                            format!("  {:<18}", keys.join(" ")),
                            theme.style(Role::Focus),
                        ),
                        Span::raw(action.help()),
                    ]));
                }
            }
            frame.render_widget(
                Paragraph::new(lines)
                    .scroll((*scroll as u16, 0))
                    .block(block("Help (Esc closes, j/k scroll)", true, theme)),
                popup,
            );
        }
        Overlay::Palette { input, selected } => {
            let matches = palette_matches(input.value());
            let mut lines = vec![Line::from(format!("> {}", input.value())), Line::raw("")];
            for (i, a) in matches
                .iter()
                .enumerate()
                .take(popup.height.saturating_sub(4) as usize)
            {
                let style = if i == *selected {
                    theme.style(Role::Selection)
                } else {
                    Style::default()
                };
                let marker = if i == *selected { "▸ " } else { "  " };
                lines.push(Line::styled(
                    format!("{marker}{:<16} {}", a.name(), a.help()),
                    style,
                ));
            }
            frame.render_widget(
                Paragraph::new(lines).block(block(
                    "Command palette (type, ↑↓, Enter)",
                    true,
                    theme,
                )),
                popup,
            );
        }
        Overlay::ThemePicker { selected } => {
            let lines: Vec<Line> = app
                .themes
                .names()
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let style = if i == *selected {
                        theme.style(Role::Selection)
                    } else {
                        Style::default()
                    };
                    let current = if *name == app.theme_name {
                        " (current)"
                    } else {
                        ""
                    };
                    let marker = if i == *selected { "▸ " } else { "  " };
                    Line::styled(format!("{marker}{name}{current}"), style)
                })
                .collect();
            frame.render_widget(
                Paragraph::new(lines).block(block("Theme (↑↓, Enter)", true, theme)),
                popup,
            );
        }
        Overlay::OpenFile {
            input,
            completions,
            selected,
        } => {
            let mut lines = vec![
                Line::from(format!("path: {}▏", sanitize(input.value()))),
                Line::styled(
                    "type or Tab to complete · ↑↓ choose · Enter opens / enters a folder · demo:cardio, demo:server_metrics",
                    theme.style(Role::Muted),
                ),
            ];
            let room = popup.height.saturating_sub(5) as usize;
            let first = selected.map_or(0, |i| i.saturating_sub(room.saturating_sub(1)));
            for (i, c) in completions.iter().enumerate().skip(first).take(room) {
                let style = if Some(i) == *selected {
                    theme.style(Role::Selection)
                } else if c.ends_with('/') {
                    theme.style(Role::Focus)
                } else {
                    Style::default()
                };
                let marker = if Some(i) == *selected { "▸ " } else { "  " };
                lines.push(Line::styled(format!("{marker}{}", sanitize(c)), style));
            }
            frame.render_widget(
                Paragraph::new(lines).block(block("Open a data file", true, theme)),
                popup,
            );
        }
        Overlay::EditParam { index, input } => {
            let info = app.selected_detector();
            let p = &info.params[*index];
            let lines = vec![
                Line::from(format!("{} = {}▏", p.name, sanitize(input.value()))),
                Line::styled(
                    format!("{} · {}", p.describe_range(), p.help),
                    theme.style(Role::Muted),
                ),
                Line::styled("Enter keeps · Esc discards", theme.style(Role::Muted)),
            ];
            frame.render_widget(
                Paragraph::new(lines).wrap(Wrap { trim: true }).block(block(
                    format!("Edit {} parameter", info.name),
                    true,
                    theme,
                )),
                popup,
            );
        }
        Overlay::EditSeed { input } => {
            frame.render_widget(
                Paragraph::new(vec![
                    Line::from(format!("seed = {}▏", sanitize(input.value()))),
                    Line::styled(
                        "used by randomised detectors; same seed, same scores · Enter keeps · Esc discards",
                        theme.style(Role::Muted),
                    ),
                ])
                .block(block("Seed", true, theme)),
                popup,
            );
        }
        Overlay::Filter { input } => {
            frame.render_widget(
                Paragraph::new(vec![
                    Line::from(format!("/{}▏", sanitize(input.value()))),
                    Line::styled(
                        "matches detector, dataset or status · Enter keeps · Esc closes",
                        theme.style(Role::Muted),
                    ),
                ])
                .block(block("Filter experiments", true, theme)),
                popup,
            );
        }
        Overlay::ConfirmDelete { ids } => {
            let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            frame.render_widget(
                Paragraph::new(vec![
                    Line::styled(
                        format!(
                            "Delete run(s) {} with their scores and models?",
                            ids.join(", ")
                        ),
                        theme.style(Role::Warn),
                    ),
                    Line::raw(""),
                    Line::from("y deletes · any other key keeps them"),
                ])
                .block(block("Confirm", true, theme)),
                popup,
            );
        }
        Overlay::RunDetail(detail) => {
            frame.render_widget(
                Paragraph::new(detail_lines(detail, theme))
                    .wrap(Wrap { trim: false })
                    .block(block(
                        format!("Run {} (Esc closes)", detail.summary.id),
                        true,
                        theme,
                    )),
                popup,
            );
        }
        Overlay::Compare(runs) => draw_compare(frame, runs, popup, theme),
    }
}

fn json_text(v: &serde_json::Value) -> String {
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
            lines.push(Line::raw(format!("  {k:<16} {}", json_text(v))));
        }
    }
    lines.push(Line::styled("metrics", theme.style(Role::Title)));
    if let Some(map) = d.metrics.as_object() {
        for (k, v) in map {
            lines.push(Line::raw(format!("  {k:<18} {}", json_text(v))));
        }
    }
    if let (Some(m), Some(v)) = (&d.threshold_method, d.threshold_value) {
        lines.push(Line::raw(format!(
            "threshold {m} = {} → {} flagged",
            fmt_num(v),
            s.n_anomalies.unwrap_or(0)
        )));
    }
    lines.push(Line::styled(
        "its scores are in the Charts pane (3) · r in the list re-runs it on the loaded data",
        theme.style(Role::Muted),
    ));
    lines
}

/// A compare row: its label and how to read its value from a run.
type CompareCell = Box<dyn Fn(&RunDetail) -> String>;

fn draw_compare(frame: &mut Frame, runs: &[RunDetail], area: Rect, theme: &Theme) {
    let mut keys: Vec<(String, CompareCell)> = vec![
        (
            "detector".into(),
            Box::new(|r: &RunDetail| sanitize(&r.summary.detector).into_owned()),
        ),
        (
            "status".into(),
            Box::new(|r: &RunDetail| r.summary.status.clone()),
        ),
        ("seed".into(), Box::new(|r: &RunDetail| r.seed.to_string())),
    ];
    let mut names = std::collections::BTreeSet::new();
    for r in runs {
        if let Some(m) = r.params.as_object() {
            names.extend(m.keys().map(|k| ("param", k.clone())));
        }
        if let Some(m) = r.metrics.as_object() {
            names.extend(m.keys().map(|k| ("metric", k.clone())));
        }
    }
    for (section, name) in names {
        let key = name.clone();
        keys.push((
            format!("{section} {name}"),
            Box::new(move |r: &RunDetail| {
                let v = if section == "param" {
                    &r.params
                } else {
                    &r.metrics
                };
                v.get(&key).map(json_text).unwrap_or_else(|| "-".into())
            }),
        ));
    }
    let rows: Vec<Row> = keys
        .iter()
        .map(|(label, get)| {
            Row::new(
                std::iter::once(Cell::from(label.clone()).style(theme.style(Role::Muted)))
                    .chain(runs.iter().map(|r| Cell::from(get(r))))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(24))
        .chain(runs.iter().map(|_| Constraint::Length(14)))
        .collect();
    let header = Row::new(
        std::iter::once(String::new())
            .chain(runs.iter().map(|r| format!("run {}", r.summary.id)))
            .collect::<Vec<_>>(),
    )
    .style(theme.style(Role::Title));
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block("Compare (Esc closes)", true, theme)),
        area,
    );
}

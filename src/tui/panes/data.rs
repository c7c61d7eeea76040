//! The Data pane: the loaded table (column profiles, a preview of the rows) and the recipe that
//! turns it into a matrix. The table and the recipe are shared ([`DatasetState`]): every run
//! uses them; the pane owns only its cursor and scroll positions.
//!
//! [`DatasetState`]: crate::tui::shared::DatasetState

use polars::prelude::AnyValue;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::Component;
use crate::data::prepare::{CategoricalEncoding, ColumnChoice, MissingPolicy, Scaling};
use crate::service::jobs::JobKind;
use crate::text::{sanitize, sparkline, truncate};
use crate::tui::app::Effect;
use crate::tui::keymap::Action;
use crate::tui::overlays::edit_value::EditValue;
use crate::tui::overlays::open_file::OpenFile;
use crate::tui::overlays::row_detail::RowDetail;
use crate::tui::overlays::Overlay;
use crate::tui::shared::{Level, Shared};
use crate::tui::table_lookup::{Found, Lookup};
use crate::tui::theme::{Role, Theme};
use crate::tui::widgets::{block, fmt_cell, fmt_num};

/// The sort's name when the rows are sorted by the newest result's scores; no column of a
/// table can have it (names are sanitised text without control characters).
const SCORE_SORT: &str = "\u{0}score";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFocus {
    Columns,
    Table,
}

#[derive(Debug, Clone)]
pub struct DataPane {
    pub selected_column: usize,
    pub row_offset: usize,
    pub col_offset: usize,
    pub focus: DataFocus,
    /// The last text searched for (`/` starts with it, and finds the next match).
    pub last_search: String,
    /// The column drawn wide (`w`), to read long values whole.
    pub expanded: Option<usize>,
    /// The preview sorted by a column: its name, descending, and the rows in that order.
    pub sort: Option<(String, bool, std::sync::Arc<Vec<usize>>)>,
}

impl Default for DataPane {
    fn default() -> Self {
        DataPane {
            selected_column: 0,
            row_offset: 0,
            col_offset: 0,
            focus: DataFocus::Columns,
            last_search: String::new(),
            expanded: None,
            sort: None,
        }
    }
}

impl Component for DataPane {
    fn on_action(&mut self, action: Action, cx: &mut Shared) -> Vec<Effect> {
        let n_columns = cx.dataset.loaded.as_ref().map_or(0, |l| l.df.width());
        let n_rows = cx.dataset.loaded.as_ref().map_or(0, |l| l.df.height());
        match action {
            Action::OpenFile => {
                // Start in the folder of the file on screen, else the working folder.
                let start = cx
                    .dataset
                    .loaded
                    .as_ref()
                    .and_then(|l| {
                        let p = std::path::Path::new(&l.source);
                        p.parent()
                            .filter(|d| p.is_file() && !d.as_os_str().is_empty())
                            .map(|d| format!("{}/", d.display()))
                    })
                    .unwrap_or_default();
                cx.open(Overlay::OpenFile(OpenFile::new(start)));
            }
            Action::SwitchFocus => {
                self.focus = match self.focus {
                    DataFocus::Columns => DataFocus::Table,
                    DataFocus::Table => DataFocus::Columns,
                };
            }
            // With the table focused, up/down scroll the rows; otherwise they pick a column.
            Action::Up if self.focus == DataFocus::Table => {
                self.row_offset = self.row_offset.saturating_sub(1)
            }
            Action::Down if self.focus == DataFocus::Table => {
                self.row_offset = (self.row_offset + 1).min(n_rows.saturating_sub(1))
            }
            Action::Select if self.focus == DataFocus::Table => {
                return self.explain_row_at_cursor(cx);
            }
            Action::Up => self.selected_column = self.selected_column.saturating_sub(1),
            Action::Down => {
                self.selected_column = (self.selected_column + 1).min(n_columns.saturating_sub(1))
            }
            Action::Top => self.selected_column = 0,
            Action::Bottom => self.selected_column = n_columns.saturating_sub(1),
            Action::PageDown => {
                self.row_offset = (self.row_offset + 20).min(n_rows.saturating_sub(1))
            }
            Action::PageUp => self.row_offset = self.row_offset.saturating_sub(20),
            Action::Right => {
                self.col_offset = (self.col_offset + 1).min(n_columns.saturating_sub(1))
            }
            Action::Left => self.col_offset = self.col_offset.saturating_sub(1),
            Action::SortRows => {
                let Some(name) = self.selected_column_name(cx) else {
                    return Vec::new();
                };
                // Ascending → descending → the file's order.
                let descending = match &self.sort {
                    Some((c, false, _)) if *c == name => Some(true),
                    Some((c, true, _)) if *c == name => None,
                    _ => Some(false),
                };
                match descending {
                    Some(descending) => {
                        cx.set_status(Level::Info, format!("Sorting by {}…", sanitize(&name)));
                        return self.lookup(
                            cx,
                            Lookup::Sort {
                                column: name,
                                descending,
                            },
                        );
                    }
                    None => self.set_sort(None, cx),
                }
            }
            Action::SortByScore => {
                let Some(index) = cx.result_of_loaded() else {
                    cx.set_status(
                        Level::Info,
                        "Run a detector first (Detect pane, r): rows are sorted by its scores",
                    );
                    return Vec::new();
                };
                // Highest first → lowest first → the file's order.
                let descending = match &self.sort {
                    Some((c, true, _)) if c == SCORE_SORT => Some(false),
                    Some((c, false, _)) if c == SCORE_SORT => None,
                    _ => Some(true),
                };
                let sort = descending.map(|d| {
                    let r = &cx.results[index];
                    let mut order: Vec<usize> =
                        r.order.iter().map(|&i| r.row_ids[i] as usize).collect();
                    if !d {
                        order.reverse();
                    }
                    // Rows the run left out (none unless preparation dropped some) come last.
                    let mut scored = vec![false; n_rows];
                    for &row in &order {
                        if let Some(s) = scored.get_mut(row) {
                            *s = true;
                        }
                    }
                    order.retain(|&row| row < n_rows);
                    order.extend((0..n_rows).filter(|&row| !scored[row]));
                    (SCORE_SORT.to_string(), d, std::sync::Arc::new(order))
                });
                self.set_sort(sort, cx);
            }
            Action::ExpandColumn => {
                self.expanded = if self.expanded == Some(self.selected_column) {
                    None
                } else {
                    // The widened column comes first in view.
                    self.col_offset = self.selected_column;
                    Some(self.selected_column)
                };
            }
            Action::SearchRows => {
                cx.open(Overlay::EditValue(EditValue::search_rows(
                    self.last_search.clone(),
                )));
            }
            Action::GoToRow => {
                cx.open(Overlay::EditValue(EditValue::go_to_row()));
            }
            Action::FrequencyTable => {
                let Some(name) = self.selected_column_name(cx) else {
                    return Vec::new();
                };
                let flagged_rows = cx
                    .result_of_loaded()
                    .map(|i| cx.results[i].flagged_row_ids().collect());
                cx.set_status(Level::Info, format!("Counting {}…", sanitize(&name)));
                return self.lookup(
                    cx,
                    Lookup::Frequency {
                        column: name,
                        flagged_rows,
                    },
                );
            }
            Action::SetLabel => {
                let Some(name) = self.selected_column_name(cx) else {
                    return Vec::new();
                };
                let is_label = cx
                    .dataset
                    .prepared
                    .as_ref()
                    .and_then(|p| p.prepared.report.label_column.clone())
                    .as_deref()
                    == Some(name.as_str());
                if is_label {
                    // A label is not a measurement: it leaves the features too, said so.
                    cx.dataset.spec.label = ColumnChoice::None;
                    if !cx.dataset.spec.exclude.contains(&name) {
                        cx.dataset.spec.exclude.push(name.clone());
                    }
                    cx.ready_note = Some(format!(
                        "no label; {} is left out of the features (space includes it)",
                        crate::text::sanitize(&name)
                    ));
                } else {
                    cx.dataset.spec.exclude.retain(|c| *c != name);
                    cx.dataset.spec.label = ColumnChoice::Column(name);
                }
                return cx.reprepare();
            }
            Action::ToggleFeature => {
                let Some(name) = self.selected_column_name(cx) else {
                    return Vec::new();
                };
                if let Some(i) = cx.dataset.spec.exclude.iter().position(|c| *c == name) {
                    cx.dataset.spec.exclude.remove(i);
                } else {
                    cx.dataset.spec.exclude.push(name);
                }
                return cx.reprepare();
            }
            Action::CycleScaling => {
                cx.dataset.spec.scaling = match cx.dataset.spec.scaling {
                    Scaling::None => Scaling::Standard,
                    Scaling::Standard => Scaling::Robust,
                    Scaling::Robust => Scaling::MinMax,
                    Scaling::MinMax => Scaling::None,
                };
                return cx.reprepare();
            }
            Action::CycleMissing => {
                cx.dataset.spec.missing = match cx.dataset.spec.missing {
                    MissingPolicy::Median => MissingPolicy::Mean,
                    MissingPolicy::Mean => MissingPolicy::DropRow,
                    MissingPolicy::DropRow => MissingPolicy::Constant(0.0),
                    MissingPolicy::Constant(_) => MissingPolicy::Median,
                };
                return cx.reprepare();
            }
            Action::CycleEncoding => {
                cx.dataset.spec.categorical = match cx.dataset.spec.categorical {
                    CategoricalEncoding::OneHot => CategoricalEncoding::Ordinal,
                    CategoricalEncoding::Ordinal => CategoricalEncoding::Frequency,
                    CategoricalEncoding::Frequency => CategoricalEncoding::Drop,
                    CategoricalEncoding::Drop => CategoricalEncoding::OneHot,
                };
                return cx.reprepare();
            }
            _ => {}
        }
        Vec::new()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        let Some(loaded) = &cx.dataset.loaded else {
            let msg = if cx.dataset.loading {
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
        let prepared = cx.dataset.prepared.as_ref().map(|p| &p.prepared);
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
        // The name column takes what the fixed columns and a short histogram leave (names are
        // cut with an ellipsis there, never by the table).
        let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        let name_width = (cols_area.width as usize)
            .saturating_sub(2 + 4 + 6 + 5 + 5 + 8)
            .clamp(6, 20)
            .min(longest.max(6));
        let first = self
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
                let profile = cx.dataset.profile.as_ref().and_then(|p| p.column(name));
                let dtype = profile.map(|p| p.dtype.clone()).unwrap_or_default();
                let missing = profile.map(|p| p.missing).unwrap_or(0);
                let hist = profile
                    .and_then(|p| p.numeric.as_ref())
                    .map(|n| sparkline(&n.histogram))
                    .unwrap_or_default();
                let style = if i == self.selected_column {
                    theme.style(Role::Selection)
                } else {
                    Style::default()
                };
                Row::new(vec![
                    Cell::from(truncate(&sanitize(name), name_width).into_owned()),
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
                Constraint::Length(name_width as u16),
                Constraint::Length(6),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Min(4),
            ],
        )
        .header(
            Row::new(vec!["column", "type", "use", "miss", "histogram"])
                .style(theme.style(Role::Muted)),
        )
        .block(block(
            format!("Columns {}/{}", self.selected_column + 1, names.len()),
            self.focus == DataFocus::Columns,
            theme,
        ));
        frame.render_widget(table, cols_area);
        self.draw_column_detail(frame, cx, detail_area, theme);

        // Preview of the rows.
        let df = &loaded.df;
        let n_rows = df.height();
        let body_rows = table_area.height.saturating_sub(3) as usize;
        // Room for the score and flag columns after a run.
        let score_room = if cx.result_of_loaded().is_some() {
            12
        } else {
            0
        };
        // Each column as wide as its name and the values in view need (whole timestamps and
        // names up to 24 cells, the expanded column up to 60), as many columns as fit.
        let in_view: Vec<usize> = (self.row_offset..n_rows)
            .take(body_rows)
            .map(|at| self.row_at(at))
            .collect();
        // One format per float column for the rows in view: "41.30" beside "42.00".
        let decimals: Vec<Option<usize>> = df
            .columns()
            .iter()
            .map(|col| {
                let floats: Vec<f64> = in_view
                    .iter()
                    .filter_map(|&r| match col.get(r) {
                        Ok(AnyValue::Float64(f)) => Some(f),
                        Ok(AnyValue::Float32(f)) => Some(f as f64),
                        _ => None,
                    })
                    .collect();
                shared_decimals(&floats)
            })
            .collect();
        let text_at = |c: usize, v: AnyValue| match (decimals[c], v) {
            (Some(k), AnyValue::Float64(f)) => format!("{f:.k$}"),
            (Some(k), AnyValue::Float32(f)) => format!("{:.k$}", f as f64),
            (_, v) => shown_text(v),
        };
        let width_of = |c: usize| -> u16 {
            let cap = if self.expanded == Some(c) { 60 } else { 24 };
            let name = names[c].chars().count();
            let values = in_view
                .iter()
                .map(|&r| {
                    df.columns()[c]
                        .get(r)
                        .map_or(0, |v| text_at(c, v).chars().count())
                })
                .max()
                .unwrap_or(0);
            name.max(values).clamp(6, cap) as u16
        };
        let mut room = table_area.width.saturating_sub(9 + score_room);
        let mut shown: Vec<usize> = Vec::new();
        let mut col_widths: Vec<u16> = Vec::new();
        for c in self.col_offset..names.len() {
            let w = width_of(c).min(room.saturating_sub(1).max(6));
            if !shown.is_empty() && w + 1 > room {
                break;
            }
            room = room.saturating_sub(w + 1);
            shown.push(c);
            col_widths.push(w);
        }
        let width_at = |c: usize| {
            shown
                .iter()
                .position(|&s| s == c)
                .map_or(11, |i| col_widths[i]) as usize
        };
        let scored = cx.result_of_loaded().is_some();
        let header = Row::new(
            std::iter::once(Cell::from("row"))
                .chain(
                    scored
                        .then(|| [Cell::from("score"), Cell::from("")])
                        .into_iter()
                        .flatten(),
                )
                .chain(shown.iter().map(|&c| {
                    let style = if c == self.selected_column {
                        theme.style(Role::Focus)
                    } else {
                        theme.style(Role::Muted)
                    };
                    Cell::from(truncate(&sanitize(names[c].as_str()), width_at(c)).into_owned())
                        .style(style)
                }))
                .collect::<Vec<_>>(),
        );
        let columns = df.columns();
        // After a run of this data: each row's score and flag beside its values.
        let result = cx.result_of_loaded().map(|i| &cx.results[i]);
        // Flagged = among the first `flagged` by rank; only a score tied with the first row not
        // flagged needs the ranking itself.
        let flagged_rank = |position: usize, r: &crate::tui::app::RunResult| {
            let score = r.scores[position];
            match r.sorted_desc.get(r.flagged) {
                None => true,
                Some(&first_out) if score != first_out => score > first_out,
                Some(_) => r.order.iter().take(r.flagged).any(|&i| i == position),
            }
        };
        let rows: Vec<Row> = (self.row_offset..n_rows)
            .take(body_rows)
            .map(|at| self.row_at(at))
            .map(|row| {
                let mut cells = vec![Cell::from(row.to_string()).style(theme.style(Role::Muted))];
                let mut style = Style::default();
                if let Some(r) = result {
                    match r.row_ids.binary_search(&(row as u64)) {
                        Ok(position) => {
                            let flagged = flagged_rank(position, r);
                            cells.push(Cell::from(fmt_cell(r.scores[position])));
                            cells.push(Cell::from(if flagged { "▲" } else { " " }));
                            if flagged {
                                style = theme.style(Role::Anomaly);
                            }
                        }
                        Err(_) => {
                            cells.push(Cell::from("—").style(theme.style(Role::Muted)));
                            cells.push(Cell::from(" "));
                        }
                    }
                }
                cells.extend(shown.iter().map(|&c| match columns[c].get(row) {
                    Ok(AnyValue::Null) => Cell::from("∅").style(theme.style(Role::Muted)),
                    Ok(v) => Cell::from(truncate(&text_at(c, v), width_at(c)).into_owned()),
                    Err(_) => Cell::from(""),
                }));
                Row::new(cells).style(style)
            })
            .collect();
        let widths: Vec<Constraint> = std::iter::once(Constraint::Length(7))
            .chain(
                result
                    .map(|_| [Constraint::Length(9), Constraint::Length(1)])
                    .into_iter()
                    .flatten(),
            )
            .chain(col_widths.iter().map(|&w| Constraint::Length(w)))
            .collect();
        frame.render_widget(
            Table::new(rows, widths).header(header).block(block(
                format!(
                    "Rows {}–{} of {n_rows}",
                    (self.row_offset + 1).min(n_rows),
                    (self.row_offset + body_rows).min(n_rows)
                ),
                self.focus == DataFocus::Table,
                theme,
            )),
            table_area,
        );

        // The preparation recipe.
        let spec = &cx.dataset.spec;
        let matrix = match prepared {
            Some(p) => format!(
                "{} rows × {} features",
                p.matrix.x.nrows(),
                p.matrix.x.ncols()
            ),
            None if cx.dataset.loading => "preparing…".into(),
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

    fn hints(&self) -> &'static [Action] {
        &[
            Action::OpenFile,
            Action::SetLabel,
            Action::ToggleFeature,
            Action::CycleScaling,
            Action::CycleMissing,
        ]
    }
}

impl DataPane {
    /// A new table: back to its first column and row.
    pub fn reset_view(&mut self) {
        self.selected_column = 0;
        self.row_offset = 0;
        self.sort = None;
        self.expanded = None;
        self.col_offset = 0;
    }

    /// Asks for the next row (in the order shown, after the one at the top) with a cell that
    /// contains `text` (case-insensitive), wrapping around; [`DataPane::receive`] goes there.
    pub fn search(&mut self, text: &str, cx: &mut Shared) -> Vec<Effect> {
        self.last_search = text.to_string();
        cx.set_status(Level::Info, format!("Searching for {:?}…", sanitize(text)));
        let order = self.sort.as_ref().map(|(_, _, order)| order.clone());
        self.lookup(
            cx,
            Lookup::Search {
                needle: text.to_string(),
                from: self.row_offset,
                order,
            },
        )
    }

    /// Starts `lookup` on the loaded table as a job (a newer one replaces an older one).
    fn lookup(&mut self, cx: &mut Shared, lookup: Lookup) -> Vec<Effect> {
        let Some(loaded) = cx.dataset.loaded.clone() else {
            return Vec::new();
        };
        let ticket = cx.jobs.start(JobKind::Lookup);
        vec![Effect::Lookup {
            ticket,
            loaded,
            lookup,
        }]
    }

    /// Shows what a lookup found.
    pub fn receive(&mut self, found: Found, cx: &mut Shared) {
        match found {
            Found::Row {
                needle,
                at: Some(at),
            } => {
                self.focus = DataFocus::Table;
                self.row_offset = at;
                let row = self.row_at(at);
                cx.set_status(
                    Level::Info,
                    format!(
                        "Row {row} has {:?} (/ and Enter: the next)",
                        sanitize(&needle)
                    ),
                );
            }
            Found::Row { needle, at: None } => {
                cx.set_status(Level::Warn, format!("No row has {:?}", sanitize(&needle)));
            }
            Found::Frequency {
                table: Some(table), ..
            } => {
                cx.set_status(
                    Level::Info,
                    format!("Frequency of {}", sanitize(&table.column)),
                );
                cx.open(Overlay::Frequency(table));
            }
            Found::Frequency {
                column,
                table: None,
            } => cx.set_status(
                Level::Warn,
                format!("{}: its values cannot be counted", sanitize(&column)),
            ),
            Found::Sort {
                column,
                descending,
                order,
            } => match order {
                Some(order) => self.set_sort(Some((column, descending, order)), cx),
                None => cx.set_status(
                    Level::Warn,
                    format!("{}: no such column any more", sanitize(&column)),
                ),
            },
        }
    }

    /// Shows the rows in `sort`'s order (or the file's), from the first.
    fn set_sort(
        &mut self,
        sort: Option<(String, bool, std::sync::Arc<Vec<usize>>)>,
        cx: &mut Shared,
    ) {
        self.sort = sort;
        self.row_offset = 0;
        cx.set_status(
            Level::Info,
            match &self.sort {
                Some((c, d, _)) if c == SCORE_SORT => format!(
                    "Rows sorted by score ({})",
                    if *d { "highest first" } else { "lowest first" }
                ),
                Some((c, d, _)) => format!(
                    "Rows sorted by {} ({})",
                    sanitize(c),
                    if *d { "descending" } else { "ascending" }
                ),
                None => "Rows in the file's order".to_string(),
            },
        );
    }

    /// Shows row `row` (a row of the file) at the top of the table, the table focused.
    pub fn go_to_row(&mut self, row: usize) {
        self.focus = DataFocus::Table;
        self.row_offset = match &self.sort {
            Some((_, _, order)) => order.iter().position(|&r| r == row).unwrap_or(0),
            None => row,
        };
    }

    /// The row of the table shown at position `at` (the file's order, or the sort's).
    pub fn row_at(&self, at: usize) -> usize {
        match &self.sort {
            Some((_, _, order)) => order.get(at).copied().unwrap_or(at),
            None => at,
        }
    }

    /// The row detail of the first row shown (the table's cursor), from the newest result of
    /// this data.
    fn explain_row_at_cursor(&self, cx: &mut Shared) -> Vec<Effect> {
        let Some(index) = cx.result_of_loaded() else {
            cx.set_status(
                Level::Info,
                "Run a detector first (Detect pane, r): rows are explained from its result",
            );
            return Vec::new();
        };
        let r = &cx.results[index];
        let row_id = self.row_at(self.row_offset) as u64;
        let Some(position) = r.row_ids.binary_search(&row_id).ok() else {
            cx.set_status(
                Level::Warn,
                format!("row {row_id} was left out by the preparation (missing values dropped): it has no score"),
            );
            return Vec::new();
        };
        let rank = r.order.iter().position(|&i| i == position).unwrap_or(0);
        match cx.explain_row(index, rank) {
            Ok(effect) => {
                cx.open(Overlay::RowDetail(RowDetail::new(index, rank, row_id)));
                vec![effect]
            }
            Err(e) => {
                cx.set_status(Level::Error, e);
                Vec::new()
            }
        }
    }

    fn selected_column_name(&self, cx: &Shared) -> Option<String> {
        let loaded = cx.dataset.loaded.as_ref()?;
        loaded
            .df
            .get_column_names()
            .get(self.selected_column)
            .map(|s| s.to_string())
    }

    /// Statistics of the selected column, from the profile.
    fn draw_column_detail(&self, frame: &mut Frame, cx: &Shared, area: Rect, theme: &Theme) {
        let names = cx
            .dataset
            .loaded
            .as_ref()
            .map(|l| {
                l.df.get_column_names()
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let Some(name) = names.get(self.selected_column) else {
            return;
        };
        let muted = theme.style(Role::Muted);
        let mut lines = Vec::new();
        match cx.dataset.profile.as_ref().and_then(|p| p.column(name)) {
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
}

/// The decimals (0–4) that show every one of `values` as the table would alone, so that a
/// column is drawn with one format; `None` when there are none or one needs an exponent.
fn shared_decimals(values: &[f64]) -> Option<usize> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty()
        || finite
            .iter()
            .any(|v| v.abs() >= 1e6 || (*v != 0.0 && v.abs() < 1e-3))
    {
        return None;
    }
    let needed = |v: f64| {
        (0..4)
            .find(|&k| {
                let scaled = v * 10f64.powi(k as i32);
                (scaled - scaled.round()).abs() < 1e-9 * scaled.abs().max(1.0)
            })
            .unwrap_or(4)
    };
    finite.iter().map(|&v| needed(v)).max()
}

/// A cell as the table shows it: `∅` for a missing value.
fn shown_text(v: AnyValue) -> String {
    match v {
        AnyValue::Null => "∅".into(),
        other => cell_text(other),
    }
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

//! The edit dialog: one value typed in, for a detector parameter (Detect pane, checked by the
//! registry on Enter), the seed, or the experiments filter (applied as it is typed).

use crossterm::event::{Event, KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

use super::{Dialog, Step};
use crate::detectors::DetectorInfo;
use crate::text::sanitize;
use crate::tui::keymap::Action;
use crate::tui::panes::Panes;
use crate::tui::shared::{Level, Shared};
use crate::tui::theme::Role;
use crate::tui::widgets::{block, centered};

/// What Tab chooses in an export dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportOption {
    Columns(ColumnChoice),
    TopRows(usize),
}

/// The original columns an export keeps beside the scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnChoice {
    All,
    /// The columns the features were prepared from.
    Features,
    None,
}

impl ColumnChoice {
    pub fn describe(self) -> &'static str {
        match self {
            ColumnChoice::All => "all",
            ColumnChoice::Features => "the feature columns",
            ColumnChoice::None => "none (row id, score and flag only)",
        }
    }
}

/// The choices Tab cycles through, the default first.
pub fn export_options(kind: ExportKind) -> &'static [ExportOption] {
    match kind {
        ExportKind::Report => &[
            ExportOption::TopRows(10),
            ExportOption::TopRows(25),
            ExportOption::TopRows(50),
            ExportOption::TopRows(100),
        ],
        _ => &[
            ExportOption::Columns(ColumnChoice::All),
            ExportOption::Columns(ColumnChoice::Features),
            ExportOption::Columns(ColumnChoice::None),
        ],
    }
}

/// What the typed value is for.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Parameter `index` of the detector selected in the Detect pane.
    Param {
        detector: &'static DetectorInfo,
        index: usize,
    },
    /// The seed of randomised detectors and searches.
    Seed,
    /// The Experiments pane's filter.
    Filter,
    /// Where to export result `result`; `option` is what Tab cycles: the original columns kept
    /// (scores) or the rows explained (report), an index into [`export_options`].
    Export {
        result: usize,
        kind: ExportKind,
        option: usize,
    },
    /// The threshold method for result `result`.
    Threshold { result: usize },
    /// A row of the Data pane's table to go to.
    GoToRow,
    /// A text to find in the Data pane's rows.
    SearchRows,
}

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// The flagged rows with every original column, score and flag.
    Flagged,
    /// Every row, the same way.
    AllRows,
    /// A Markdown report explaining the top rows.
    Report,
}

#[derive(Debug, Clone)]
pub struct EditValue {
    pub target: Target,
    pub input: Input,
    /// The proposed text is untouched: typing a character replaces it (as a selected field
    /// does); Backspace and the arrows edit it instead.
    pub fresh: bool,
}

impl EditValue {
    pub fn param(detector: &'static DetectorInfo, index: usize, value: String) -> EditValue {
        EditValue {
            target: Target::Param { detector, index },
            input: Input::new(value),
            fresh: true,
        }
    }

    pub fn seed(seed: u64) -> EditValue {
        EditValue {
            target: Target::Seed,
            input: Input::new(seed.to_string()),
            fresh: true,
        }
    }

    pub fn export(result: usize, kind: ExportKind, path: String) -> EditValue {
        EditValue {
            target: Target::Export {
                result,
                kind,
                option: 0,
            },
            input: Input::new(path),
            fresh: true,
        }
    }

    pub fn search_rows(last: String) -> EditValue {
        EditValue {
            target: Target::SearchRows,
            input: Input::new(last),
            fresh: true,
        }
    }

    pub fn go_to_row() -> EditValue {
        EditValue {
            target: Target::GoToRow,
            input: Input::default(),
            fresh: false,
        }
    }

    pub fn threshold(result: usize, current: String) -> EditValue {
        EditValue {
            target: Target::Threshold { result },
            input: Input::new(current),
            fresh: true,
        }
    }

    pub fn filter(text: String) -> EditValue {
        EditValue {
            target: Target::Filter,
            input: Input::new(text),
            fresh: true,
        }
    }
}

impl Dialog for EditValue {
    fn on_key(
        &mut self,
        key: KeyEvent,
        _action: Option<Action>,
        cx: &mut Shared,
        panes: &mut Panes,
    ) -> Step {
        if key.code == KeyCode::Esc {
            return Step::close();
        }
        // Tab changes an option of the dialog, not its text.
        if key.code != KeyCode::Tab
            && std::mem::take(&mut self.fresh)
            && matches!(key.code, KeyCode::Char(_))
            && !key
                .modifiers
                .contains(crossterm::event::KeyModifiers::CONTROL)
        {
            self.input = Input::default();
        }
        let enter = key.code == KeyCode::Enter;
        match self.target {
            Target::Param { index, .. } => {
                if enter {
                    panes
                        .detect
                        .set_param(index, self.input.value().to_string(), cx);
                    return Step::close();
                }
                self.input.handle_event(&Event::Key(key));
                Step::Stay
            }
            Target::Seed => {
                if enter {
                    return match self.input.value().trim().parse::<u64>() {
                        Ok(seed) => {
                            cx.seed = seed;
                            cx.set_status(Level::Ok, format!("Seed {seed}"));
                            Step::close()
                        }
                        Err(_) => {
                            cx.set_status(
                                Level::Error,
                                format!(
                                    "seed {:?}: expected a whole number from 0 to {}",
                                    self.input.value(),
                                    u64::MAX
                                ),
                            );
                            Step::Stay
                        }
                    };
                }
                self.input.handle_event(&Event::Key(key));
                Step::Stay
            }
            Target::Export {
                result,
                kind,
                option,
            } => {
                if key.code == KeyCode::Tab {
                    let n = export_options(kind).len();
                    self.target = Target::Export {
                        result,
                        kind,
                        option: (option + 1) % n,
                    };
                    return Step::Stay;
                }
                if enter {
                    let path = self.input.value().trim();
                    return match cx.export(result, kind, path, export_options(kind)[option]) {
                        Ok(effect) => Step::Close(vec![effect]),
                        Err(e) => {
                            cx.set_status(Level::Error, e);
                            Step::Stay
                        }
                    };
                }
                self.input.handle_event(&Event::Key(key));
                Step::Stay
            }
            Target::SearchRows => {
                if enter {
                    let text = self.input.value().to_string();
                    if text.trim().is_empty() {
                        return Step::close();
                    }
                    return Step::Close(panes.data.search(&text, cx));
                }
                self.input.handle_event(&Event::Key(key));
                Step::Stay
            }
            Target::GoToRow => {
                if enter {
                    let rows = cx.dataset.loaded.as_ref().map_or(0, |l| l.df.height());
                    return match self.input.value().trim().parse::<usize>() {
                        Ok(row) if row < rows => {
                            panes.data.go_to_row(row);
                            Step::close()
                        }
                        _ => {
                            cx.set_status(
                                Level::Error,
                                format!(
                                    "row {:?}: expected a row number from 0 to {}",
                                    self.input.value(),
                                    rows.saturating_sub(1)
                                ),
                            );
                            Step::Stay
                        }
                    };
                }
                self.input.handle_event(&Event::Key(key));
                Step::Stay
            }
            Target::Threshold { result } => {
                if enter {
                    let text = self.input.value().trim();
                    let applied = text
                        .parse::<crate::threshold::ThresholdMethod>()
                        .map_err(|e| e.to_string())
                        .and_then(|method| match cx.results.get_mut(result) {
                            Some(r) => r.apply_threshold(method).map_err(|e| e.to_string()),
                            None => Err("the result is gone".into()),
                        });
                    return match applied {
                        Ok(()) => {
                            let status =
                                crate::tui::panes::charts::threshold_status(&cx.results[result]);
                            cx.set_status(Level::Ok, status);
                            Step::close()
                        }
                        Err(e) => {
                            cx.set_status(Level::Error, format!("threshold {text:?}: {e}"));
                            Step::Stay
                        }
                    };
                }
                self.input.handle_event(&Event::Key(key));
                Step::Stay
            }
            Target::Filter => {
                self.input.handle_event(&Event::Key(key));
                // Filters as you type; Enter keeps it.
                panes.experiments.set_filter(self.input.value());
                if enter {
                    Step::close()
                } else {
                    Step::Stay
                }
            }
        }
    }

    fn area(&self, screen: Rect) -> Rect {
        centered(screen, 70, 7)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared) {
        let theme = cx.theme();
        match self.target {
            Target::Param {
                detector: info,
                index,
            } => {
                let p = &info.params[index];
                let lines = vec![
                    Line::from(format!("{} = {}▏", p.name, sanitize(self.input.value()))),
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
                    area,
                );
            }
            Target::Seed => {
                frame.render_widget(
                    Paragraph::new(vec![
                        Line::from(format!("seed = {}▏", sanitize(self.input.value()))),
                        Line::styled(
                            "used by randomised detectors; same seed, same scores · Enter keeps · Esc discards",
                            theme.style(Role::Muted),
                        ),
                    ])
                    .block(block("Seed", true, theme)),
                    area,
                );
            }
            Target::Export { kind, option, .. } => {
                let (title, what) = match kind {
                    ExportKind::Flagged => (
                        "Export the flagged rows",
                        "score and flag of the rows flagged at the threshold shown",
                    ),
                    ExportKind::AllRows => ("Export every row", "score and flag of every row"),
                    ExportKind::Report => (
                        "Explanation report",
                        "Markdown: what was run, and the top rows explained",
                    ),
                };
                let choice = match export_options(kind)[option] {
                    ExportOption::Columns(c) => format!("original columns: {}", c.describe()),
                    ExportOption::TopRows(k) => format!("rows explained: the top {k}"),
                };
                let formats = if kind == ExportKind::Report {
                    ".md"
                } else {
                    ".csv, .parquet or .json"
                };
                frame.render_widget(
                    Paragraph::new(vec![
                        Line::from(format!("file: {}▏", sanitize(self.input.value()))),
                        Line::from(format!("{choice}  (Tab: change)")),
                        Line::styled(
                            format!("{what} · {formats} · Enter writes · Esc discards"),
                            theme.style(Role::Muted),
                        ),
                    ])
                    .wrap(Wrap { trim: true })
                    .block(block(title, true, theme)),
                    area,
                );
            }
            Target::SearchRows => {
                frame.render_widget(
                    Paragraph::new(vec![
                        Line::from(format!("/{}▏", sanitize(self.input.value()))),
                        Line::styled(
                            "any cell containing the text (any case) · Enter finds the next row · Esc discards",
                            theme.style(Role::Muted),
                        ),
                    ])
                    .block(block("Search the rows", true, theme)),
                    area,
                );
            }
            Target::GoToRow => {
                frame.render_widget(
                    Paragraph::new(vec![
                        Line::from(format!("row: {}▏", sanitize(self.input.value()))),
                        Line::styled(
                            "the row number of the file (0 = first) · Enter goes there · Esc discards",
                            theme.style(Role::Muted),
                        ),
                    ])
                    .block(block("Go to row", true, theme)),
                    area,
                );
            }
            Target::Threshold { .. } => {
                frame.render_widget(
                    Paragraph::new(vec![
                        Line::from(format!("method: {}▏", sanitize(self.input.value()))),
                        Line::styled(
                            "contamination=0.05 (or just 0.05), iqr, mad, zscore, otsu, knee or gap · Enter applies · Esc discards",
                            theme.style(Role::Muted),
                        ),
                    ])
                    .wrap(Wrap { trim: true })
                    .block(block("Threshold method", true, theme)),
                    area,
                );
            }
            Target::Filter => {
                frame.render_widget(
                    Paragraph::new(vec![
                        Line::from(format!("/{}▏", sanitize(self.input.value()))),
                        Line::styled(
                            "matches detector, dataset or status · Enter keeps · Esc closes",
                            theme.style(Role::Muted),
                        ),
                    ])
                    .block(block("Filter experiments", true, theme)),
                    area,
                );
            }
        }
    }
}

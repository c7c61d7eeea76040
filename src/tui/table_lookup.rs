//! Work on the loaded table that grows with its rows, done off the UI thread: finding the next
//! row with a text (`/`), the frequency table of a column (`F`), and sorting the rows by a
//! column (`S`). On a table of millions of rows each takes long enough to miss frames, so the
//! Data pane asks for them as a job and shows the answer when it arrives.

use std::sync::Arc;

use polars::prelude::{DataType, SortOptions};

use crate::data::Loaded;
use crate::service::jobs::CancelToken;
use crate::tui::overlays::frequency::Frequency;

/// What to compute.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// The first position after `from`, in the order shown (`order`, else the file's), whose
    /// row has a cell containing `needle` (case-insensitive), wrapping around.
    Search {
        needle: String,
        from: usize,
        order: Option<Arc<Vec<usize>>>,
    },
    /// The frequency table of `column`; `flagged_rows` are the rows a result flagged.
    Frequency {
        column: String,
        flagged_rows: Option<Vec<u64>>,
    },
    /// The rows in the order of `column`, missing values last.
    Sort { column: String, descending: bool },
}

/// What was found.
#[derive(Debug, Clone)]
pub enum Found {
    /// The position (in the order searched) of the next matching row, if any.
    Row { needle: String, at: Option<usize> },
    /// `None` when the column's values cannot be counted.
    Frequency {
        column: String,
        table: Option<Frequency>,
    },
    Sort {
        column: String,
        descending: bool,
        order: Option<Arc<Vec<usize>>>,
    },
}

/// Rows between two looks at the cancel token.
const CANCEL_EVERY: usize = 1 << 14;

/// Computes `lookup` on `loaded`; `None` when it was cancelled (a newer one replaced it).
pub fn run(loaded: &Loaded, lookup: Lookup, cancel: &CancelToken) -> Option<Found> {
    Some(match lookup {
        Lookup::Search {
            needle,
            from,
            order,
        } => {
            let at = find_row(loaded, &needle, from, order.as_deref(), cancel)?;
            Found::Row { needle, at }
        }
        Lookup::Frequency {
            column,
            flagged_rows,
        } => {
            let table = Frequency::of(loaded, &column, flagged_rows.as_deref());
            Found::Frequency { column, table }
        }
        Lookup::Sort { column, descending } => {
            let order = sort_order(loaded, &column, descending);
            Found::Sort {
                column,
                descending,
                order,
            }
        }
    })
}

/// See [`Lookup::Search`]; `None` when cancelled, `Some(None)` when no row matches.
fn find_row(
    loaded: &Loaded,
    needle: &str,
    from: usize,
    order: Option<&Vec<usize>>,
    cancel: &CancelToken,
) -> Option<Option<usize>> {
    let needle = needle.to_lowercase();
    let columns: Vec<polars::prelude::Column> = loaded
        .df
        .columns()
        .iter()
        .filter_map(|c| c.cast(&DataType::String).ok())
        .collect();
    let texts: Vec<&polars::prelude::StringChunked> =
        columns.iter().filter_map(|c| c.str().ok()).collect();
    let n = loaded.df.height();
    let row_at = |at: usize| order.and_then(|o| o.get(at).copied()).unwrap_or(at);
    let hit = |row: usize| {
        texts.iter().any(|t| {
            t.get(row)
                .is_some_and(|v| v.to_lowercase().contains(&needle))
        })
    };
    for step in 1..=n {
        if step % CANCEL_EVERY == 0 && cancel.is_cancelled() {
            return None;
        }
        let at = (from + step) % n.max(1);
        if hit(row_at(at)) {
            return Some(Some(at));
        }
    }
    Some(None)
}

/// The row numbers in the order of `column`; `None` when it has no such column.
fn sort_order(loaded: &Loaded, column: &str, descending: bool) -> Option<Arc<Vec<usize>>> {
    let column = loaded.df.column(column).ok()?;
    let order = column.arg_sort(SortOptions {
        descending,
        nulls_last: true,
        maintain_order: true,
        ..Default::default()
    });
    Some(Arc::new(
        order.into_no_null_iter().map(|i| i as usize).collect(),
    ))
}

//! Scores out of Pynomaly: row ids, scores and flags, with chosen original columns, all rows or
//! only the flagged ones, as CSV, Parquet or JSON. `detect`/`score --output` and the
//! workbench's export call this.

use std::io::Write;
use std::path::Path;

use polars::prelude::*;

use super::error::{catch_panic, ServiceError, ServiceResult};
use crate::data::Loaded;

/// The file formats scores can be written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Parquet,
    /// One JSON array of row objects.
    Json,
}

impl ExportFormat {
    /// From a file name's extension; `-` (standard output) is CSV.
    pub fn of_path(path: &Path) -> Option<ExportFormat> {
        if path.as_os_str() == "-" {
            return Some(ExportFormat::Csv);
        }
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "parquet" | "pq" => Some(ExportFormat::Parquet),
            "json" => Some(ExportFormat::Json),
            _ => None,
        }
    }
}

/// Which original columns go next to the scores.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OriginalColumns {
    #[default]
    None,
    All,
    These(Vec<String>),
}

impl std::str::FromStr for OriginalColumns {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "none" | "" => Ok(OriginalColumns::None),
            "all" => Ok(OriginalColumns::All),
            list => Ok(OriginalColumns::These(
                list.split(',').map(|c| c.trim().to_string()).collect(),
            )),
        }
    }
}

/// Names the scores columns take: an original column of the same name cannot join them.
const SCORE_COLUMNS: [&str; 3] = ["row_id", "score", "is_anomaly"];

/// What to write.
pub struct ScoresTable<'a> {
    pub loaded: &'a Loaded,
    /// 0-based rows of the source table, one per score.
    pub row_ids: &'a [u64],
    pub scores: &'a [f64],
    pub flags: &'a [u8],
    pub columns: &'a OriginalColumns,
    pub flagged_only: bool,
}

impl ScoresTable<'_> {
    /// `row_id`, the chosen original columns, `score`, `is_anomaly` (a boolean; `0`/`1` in CSV).
    pub fn frame(&self, format: ExportFormat) -> ServiceResult<DataFrame> {
        let keep: Vec<usize> = (0..self.scores.len())
            .filter(|&i| !self.flagged_only || self.flags[i] == 1)
            .collect();
        let names: Vec<String> = match self.columns {
            OriginalColumns::None => Vec::new(),
            OriginalColumns::All => self
                .loaded
                .df
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect(),
            OriginalColumns::These(names) => {
                for n in names {
                    if self.loaded.df.column(n).is_err() {
                        return Err(ServiceError::input(format!(
                            "--output-columns: no column {n:?} in {}",
                            self.loaded.source
                        )));
                    }
                }
                names.clone()
            }
        };
        let ids: Vec<u64> = keep.iter().map(|&i| self.row_ids[i]).collect();
        let mut columns: Vec<Column> = vec![Column::new("row_id".into(), &ids)];
        if !names.is_empty() {
            let take =
                IdxCa::from_vec("take".into(), ids.iter().map(|&id| id as IdxSize).collect());
            let originals = catch_panic("export", || {
                let selected = self
                    .loaded
                    .df
                    .select(names.iter().map(|n| n.as_str()))
                    .map_err(|e| ServiceError::input(e.to_string()))?;
                selected
                    .take(&take)
                    .map_err(|e| ServiceError::internal(e.to_string()))
            })?;
            // An original column named like a scores column (a label called `is_anomaly`) is
            // kept as `input_<name>`, so that both are in the file.
            let taken = |n: &str| SCORE_COLUMNS.contains(&n) || names.iter().any(|o| o == n);
            columns.extend(originals.into_columns().into_iter().map(|mut c| {
                if SCORE_COLUMNS.contains(&c.name().as_str()) {
                    let mut name = format!("input_{}", c.name());
                    while taken(&name) {
                        name = format!("input_{name}");
                    }
                    c.rename(name.into());
                }
                c
            }));
        }
        let scores: Vec<f64> = keep.iter().map(|&i| self.scores[i]).collect();
        columns.push(Column::new("score".into(), &scores));
        columns.push(if format == ExportFormat::Csv {
            let flags: Vec<i32> = keep.iter().map(|&i| i32::from(self.flags[i])).collect();
            Column::new("is_anomaly".into(), &flags)
        } else {
            let flags: Vec<bool> = keep.iter().map(|&i| self.flags[i] == 1).collect();
            Column::new("is_anomaly".into(), &flags)
        });
        DataFrame::new(keep.len(), columns).map_err(|e| ServiceError::internal(e.to_string()))
    }
}

/// Writes `frame` as `format` to `out`.
pub fn write_frame(
    frame: &mut DataFrame,
    format: ExportFormat,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let result = match format {
        ExportFormat::Csv => CsvWriter::new(out).finish(frame),
        ExportFormat::Parquet => ParquetWriter::new(out).finish(frame).map(|_| ()),
        ExportFormat::Json => JsonWriter::new(out)
            .with_json_format(JsonFormat::Json)
            .finish(frame),
    };
    result.map_err(std::io::Error::other)
}

/// Writes the table to `path` (replaced safely), or to standard output for `-` (CSV).
pub fn write_scores_file(path: &Path, table: &ScoresTable<'_>) -> ServiceResult<usize> {
    let format = ExportFormat::of_path(path).ok_or_else(|| {
        ServiceError::input(format!(
            "{}: expected a .csv, .parquet or .json file name, or - for standard output",
            path.display()
        ))
    })?;
    let mut frame = table.frame(format)?;
    let rows = frame.height();
    let written = if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        write_frame(&mut frame, format, &mut out).and_then(|()| out.flush())
    } else {
        crate::output_file::replace_file(path, crate::output_file::NewFileMode::Usual, |w| {
            write_frame(&mut frame, format, w)
        })
    };
    written.map_err(|e| {
        ServiceError::input(format!("{}: cannot write the scores: {e}", path.display()))
    })?;
    Ok(rows)
}

//! Typed errors of the data layer. Every variant names the file (or column) and the problem;
//! `is_bad_input` separates the user's mistakes (CLI exit 2) from our own failures (exit 1).

use std::path::PathBuf;

/// A short, human name for where data came from: a path, `<stdin>` or `demo:NAME`.
pub type SourceName = String;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: file not found")]
    NotFound { path: PathBuf },

    #[error("{path}: permission denied (cannot read the file)")]
    PermissionDenied { path: PathBuf },

    #[error("{path}: is a directory, expected a data file (CSV, TSV, Parquet, JSON, NDJSON or Arrow IPC)")]
    IsDirectory { path: PathBuf },

    #[error("{source_name}: unsupported format: {what}; supported are CSV/TSV, Parquet, JSON, NDJSON and Arrow IPC/Feather")]
    UnsupportedFormat {
        source_name: SourceName,
        what: String,
    },

    #[error("{source_name}: unrecognised format: the content is not CSV/TSV text, Parquet, JSON, NDJSON or Arrow IPC")]
    UnrecognisedFormat { source_name: SourceName },

    #[error("{source_name}: the file is empty")]
    Empty { source_name: SourceName },

    #[error("{source_name}: the file has a header but no data rows")]
    HeaderOnly { source_name: SourceName },

    #[error(
        "{source_name}: line {line}: expected {expected} fields (as in the header), found {found}"
    )]
    RaggedRow {
        source_name: SourceName,
        line: u64,
        expected: usize,
        found: usize,
    },

    #[error("{source_name}: line {line}: bytes that are not valid UTF-8 text (byte offset {offset}); re-save the file as UTF-8")]
    InvalidUtf8 {
        source_name: SourceName,
        line: u64,
        offset: u64,
    },

    #[error("{source_name}: duplicate column name \"{name}\" (columns {first} and {second}); column names must be unique")]
    DuplicateColumn {
        source_name: SourceName,
        name: String,
        first: usize,
        second: usize,
    },

    #[error("{source_name}: line {line}: a single field of {bytes} bytes exceeds the limit of {limit} bytes")]
    FieldTooLarge {
        source_name: SourceName,
        line: u64,
        bytes: u64,
        limit: u64,
    },

    #[error("{source_name}: JSON nested deeper than {limit} levels (at byte {offset}); Pynomaly reads records of flat values")]
    JsonTooDeep {
        source_name: SourceName,
        limit: usize,
        offset: u64,
    },

    #[error("{source_name}: the file changed while it was being read")]
    ChangedWhileReading { source_name: SourceName },

    #[error("{source_name}: larger than the {limit_gib} GiB limit for a stream")]
    StreamTooLarge {
        source_name: SourceName,
        limit_gib: u64,
    },

    #[error("{source_name}: could not parse as {format}: {message}")]
    Parse {
        source_name: SourceName,
        format: &'static str,
        message: String,
    },

    #[error("{source_name}: column \"{column}\" not found; available columns: {available}")]
    MissingColumn {
        source_name: SourceName,
        column: String,
        available: String,
    },

    #[error("{source_name}: column \"{column}\" has type {found}, expected {expected}")]
    ColumnType {
        source_name: SourceName,
        column: String,
        found: String,
        expected: String,
    },

    #[error("{source_name}: no usable numeric feature after preparation ({detail})")]
    NoFeatures {
        source_name: SourceName,
        detail: String,
    },

    #[error("{source_name}: label column \"{column}\" is not binary: {detail}")]
    LabelNotBinary {
        source_name: SourceName,
        column: String,
        detail: String,
    },

    #[error("{source_name}: column \"{column}\": unseen category \"{value}\" (not in the data the preparation was fitted on)")]
    UnseenCategory {
        source_name: SourceName,
        column: String,
        value: String,
    },

    #[error("{source_name}: no rows left after dropping {dropped} rows with missing values")]
    NoRowsLeft {
        source_name: SourceName,
        dropped: usize,
    },

    #[error("{source_name}: column \"{column}\", row {row}: value {value} is not finite after preparation")]
    NonFinite {
        source_name: SourceName,
        column: String,
        row: u64,
        value: f64,
    },

    #[error("prepare spec: {0}")]
    Spec(String),

    #[error("{source_name}: read error: {source}")]
    Io {
        source_name: SourceName,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: cannot be opened: {why}")]
    CannotOpen { path: PathBuf, why: String },

    #[error("internal error: {0}")]
    Internal(String),
}

impl DataError {
    /// True when the user's input (file, spec, options) is at fault — the CLI exits 2 for these;
    /// read errors of the system and our own bugs exit 1.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, DataError::Internal(_) | DataError::Io { .. })
    }
}

pub type DataResult<T> = Result<T, DataError>;

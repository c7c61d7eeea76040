//! Reading a file (or standard input, or a bundled demo) into a polars `DataFrame`.
//!
//! Format by extension, else by sniffing the content. CSV goes through our own checks first
//! (`csv_scan`) so that ragged rows, oversized fields and bad bytes are reported with a line
//! number. JSON is checked for its nesting depth first (`json_depth`), as polars' JSON readers
//! recurse per level. Files are read into memory, not mapped: a mapped file that shrinks while
//! it is parsed kills the process (SIGBUS), a read one is checked for changes instead.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::csv_scan::{self, Dialect, ScanIssue};
use super::demo;
use super::error::{DataError, DataResult};
use super::json_depth::{self, MAX_JSON_DEPTH};

/// A field larger than this is almost surely a broken file (or an attack), not data.
pub const DEFAULT_MAX_FIELD_BYTES: usize = 1 << 20;
/// Bytes looked at for sniffing the format and the CSV dialect.
const SNIFF_BYTES: usize = 64 << 10;
/// The most read from a pipe, FIFO, device or standard input, whose size is unknown beforehand:
/// large for real data, but `/dev/zero` must end in an error, not in the memory running out.
pub const MAX_STREAM_BYTES: u64 = 8 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Parquet,
    Json,
    Ndjson,
    Ipc,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Parquet => "Parquet",
            Format::Json => "JSON",
            Format::Ndjson => "NDJSON",
            Format::Ipc => "Arrow IPC",
        }
    }

    /// Parses a user-given format name (`--format`).
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "csv" | "tsv" | "txt" => Format::Csv,
            "parquet" | "pq" => Format::Parquet,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "ipc" | "arrow" | "feather" => Format::Ipc,
            _ => return None,
        })
    }
}

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(PathBuf),
    Stdin,
    Demo(demo::Demo),
}

impl Source {
    /// `-` is standard input, `demo:NAME` a bundled dataset, anything else a path.
    pub fn parse(text: &str) -> DataResult<Source> {
        if text == "-" {
            return Ok(Source::Stdin);
        }
        if let Some(name) = text.strip_prefix("demo:") {
            return demo::Demo::from_name(name)
                .map(Source::Demo)
                .ok_or_else(|| DataError::NotFound {
                    path: PathBuf::from(format!(
                        "{text} (demos: {})",
                        demo::Demo::names().join(", ")
                    )),
                });
        }
        Ok(Source::Path(PathBuf::from(text)))
    }

    /// How messages refer to this source.
    pub fn display_name(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".to_string(),
            Source::Demo(d) => format!("demo:{}", d.name()),
        }
    }
}

/// Reading choices; `None` means sniff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    pub format: Option<Format>,
    pub delimiter: Option<u8>,
    pub has_header: Option<bool>,
    pub max_field_bytes: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            format: None,
            delimiter: None,
            has_header: None,
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
        }
    }
}

/// A loaded table and how it was read.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub df: DataFrame,
    /// Columns of the file left out because their type cannot be read (name, why).
    pub unreadable: Vec<(String, String)>,
    pub source: String,
    pub format: Format,
    /// Set for CSV input: the delimiter and header choice actually used.
    pub dialect: Option<Dialect>,
    /// XXH3-128 of the raw bytes, hex: identifies the content in the experiment store.
    pub fingerprint: String,
}

/// A content fingerprint: fast (≈ memory bandwidth), stable across platforms and releases.
pub fn fingerprint(bytes: &[u8]) -> String {
    format!("xxh3-128:{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// The raw bytes of a source: a buffer for files and streams, static for demos.
enum Bytes {
    Owned(Vec<u8>),
    Static(&'static [u8]),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Static(s) => s,
        }
    }
}

pub fn load(source: &Source, options: &LoadOptions) -> DataResult<Loaded> {
    let name = source.display_name();
    let (bytes, extension) = match source {
        Source::Path(path) => (Bytes::Owned(read_file(path)?), extension_of(path)),
        Source::Stdin => {
            let buffer = read_stream(std::io::stdin().lock(), &name, MAX_STREAM_BYTES).map_err(
                |e| match e {
                    StreamError::Io(e) => DataError::Io {
                        source_name: name.clone(),
                        source: e,
                    },
                    StreamError::TooLarge(e) => e,
                },
            )?;
            (Bytes::Owned(buffer), Some("csv".to_string()))
        }
        Source::Demo(d) => (Bytes::Static(d.bytes()), Some("csv".to_string())),
    };
    load_bytes(&bytes, &name, extension.as_deref(), options)
}

/// Loads from bytes already in memory (used by tests and by the TUI for pasted data).
pub fn load_from_memory(
    bytes: &[u8],
    name: &str,
    extension: Option<&str>,
    options: &LoadOptions,
) -> DataResult<Loaded> {
    load_bytes(bytes, name, extension, options)
}

fn load_bytes(
    bytes: &[u8],
    name: &str,
    extension: Option<&str>,
    options: &LoadOptions,
) -> DataResult<Loaded> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DataError::Empty {
            source_name: name.to_string(),
        });
    }
    let format = match options.format {
        Some(f) => f,
        None => detect_format(bytes, extension, name)?,
    };
    let mut unreadable = Vec::new();
    let (df, dialect) = match format {
        Format::Csv => {
            let (df, dialect) = read_csv(bytes, name, options)?;
            (df, Some(dialect))
        }
        Format::Parquet => {
            let schema = read_with(name, format, || {
                ParquetReader::new(Cursor::new(bytes)).schema()
            })?;
            let columns = readable_columns(&schema, name, format, &mut unreadable)?;
            let df = read_with(name, format, || {
                ParquetReader::new(Cursor::new(bytes))
                    .with_columns(columns)
                    .finish()
            })?;
            (df, None)
        }
        Format::Ipc => {
            let schema = read_with(name, format, || IpcReader::new(Cursor::new(bytes)).schema())?;
            let columns = readable_columns(&schema, name, format, &mut unreadable)?;
            let df = read_with(name, format, || {
                IpcReader::new(Cursor::new(bytes))
                    .with_columns(columns)
                    .finish()
            })?;
            (df, None)
        }
        Format::Json | Format::Ndjson => {
            let lines = format == Format::Ndjson;
            if let Some(offset) = json_depth::find_too_deep(bytes, MAX_JSON_DEPTH, lines) {
                return Err(DataError::JsonTooDeep {
                    source_name: name.to_string(),
                    limit: MAX_JSON_DEPTH,
                    offset: offset as u64,
                });
            }
            let json_format = if lines {
                JsonFormat::JsonLines
            } else {
                JsonFormat::Json
            };
            let df = read_with(name, format, || {
                JsonReader::new(Cursor::new(bytes))
                    .with_json_format(json_format)
                    .finish()
            })?;
            (df, None)
        }
    };
    if df.width() == 0 {
        return Err(DataError::Empty {
            source_name: name.to_string(),
        });
    }
    if df.height() == 0 {
        return Err(DataError::HeaderOnly {
            source_name: name.to_string(),
        });
    }
    check_unique_names(&df, name)?;
    Ok(Loaded {
        df,
        unreadable,
        source: name.to_string(),
        format,
        dialect,
        fingerprint: fingerprint(bytes),
    })
}

fn read_with<T>(
    name: &str,
    format: Format,
    read: impl FnOnce() -> PolarsResult<T>,
) -> DataResult<T> {
    // polars can panic on malformed binary input; a bad file must never take the app down.
    match crate::panic_boundary::catch(read) {
        Ok(Ok(df)) => Ok(df),
        Ok(Err(e)) => Err(DataError::Parse {
            source_name: name.to_string(),
            format: format.name(),
            message: first_line(&e.to_string()),
        }),
        Err(panic) => Err(DataError::Parse {
            source_name: name.to_string(),
            format: format.name(),
            message: format!(
                "the file is malformed (the reader gave up: {})",
                first_line(&panic)
            ),
        }),
    }
}

/// The columns of a Parquet or Arrow file whose types this build reads safely (`None`: all);
/// the others go to `unreadable` with their type named. A reader can panic on types it does
/// not support, so the schema is screened before any column is read.
fn readable_columns(
    schema: &polars::prelude::ArrowSchema,
    name: &str,
    format: Format,
    unreadable: &mut Vec<(String, String)>,
) -> DataResult<Option<Vec<String>>> {
    let mut keep = Vec::new();
    for (column, field) in schema.iter() {
        match unsupported_type(&field.dtype) {
            None => keep.push(column.to_string()),
            Some(what) => unreadable.push((
                column.to_string(),
                format!(
                    "its type {what} is not supported; convert it to a float or integer column"
                ),
            )),
        }
    }
    if keep.is_empty() && !unreadable.is_empty() {
        let (column, why) = &unreadable[0];
        return Err(DataError::Parse {
            source_name: name.to_string(),
            format: format.name(),
            message: format!(
                "no column can be read: column `{column}`: {why}{}",
                if unreadable.len() > 1 {
                    format!(" (and {} more)", unreadable.len() - 1)
                } else {
                    String::new()
                }
            ),
        });
    }
    Ok(if unreadable.is_empty() {
        None
    } else {
        Some(keep)
    })
}

/// `None` when polars, as built here, reads the Arrow type; otherwise the type's name. An
/// allow-list: a type not named here is refused, not tried.
fn unsupported_type(dtype: &polars::prelude::ArrowDataType) -> Option<String> {
    use polars::prelude::ArrowDataType as A;
    match dtype {
        A::Null
        | A::Boolean
        | A::Int8
        | A::Int16
        | A::Int32
        | A::Int64
        | A::UInt8
        | A::UInt16
        | A::UInt32
        | A::UInt64
        | A::Float32
        | A::Float64
        | A::Utf8
        | A::LargeUtf8
        | A::Utf8View
        | A::Binary
        | A::LargeBinary
        | A::BinaryView
        | A::Date32
        | A::Date64
        | A::Timestamp(..)
        | A::Duration(..) => None,
        A::Dictionary(_, values, _) => unsupported_type(values),
        A::List(field) | A::LargeList(field) => {
            unsupported_type(&field.dtype).map(|inner| format!("list of {inner}"))
        }
        A::Struct(fields) => fields.iter().find_map(|f| {
            unsupported_type(&f.dtype).map(|inner| format!("struct with a field of type {inner}"))
        }),
        A::Decimal(p, s) | A::Decimal32(p, s) | A::Decimal64(p, s) | A::Decimal256(p, s) => {
            Some(format!("decimal({p},{s})"))
        }
        A::Float16 => Some("float16".into()),
        A::Int128 => Some("int128".into()),
        A::UInt128 => Some("uint128".into()),
        A::Time32(_) | A::Time64(_) => Some("time of day".into()),
        A::Interval(_) => Some("interval".into()),
        A::FixedSizeBinary(n) => Some(format!("fixed-size binary({n})")),
        A::FixedSizeList(_, n) => Some(format!("fixed-size list({n})")),
        A::Map(..) => Some("map".into()),
        A::Extension(ext) => Some(format!("extension type {}", ext.name)),
        A::Union(_) => Some("union".into()),
        A::Unknown => Some("unknown".into()),
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_string()
}

fn is_symlink_loop(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Names the common reasons a file cannot be opened.
pub fn open_error(path: &Path, e: std::io::Error) -> DataError {
    match e.kind() {
        std::io::ErrorKind::NotFound => DataError::NotFound {
            path: path.to_path_buf(),
        },
        std::io::ErrorKind::PermissionDenied => DataError::PermissionDenied {
            path: path.to_path_buf(),
        },
        std::io::ErrorKind::IsADirectory => DataError::IsDirectory {
            path: path.to_path_buf(),
        },
        // A symlink loop, a path through a file, a name too long: the path is at fault.
        std::io::ErrorKind::NotADirectory | std::io::ErrorKind::InvalidFilename => {
            DataError::CannotOpen {
                path: path.to_path_buf(),
                why: e.to_string(),
            }
        }
        _ if is_symlink_loop(&e) => DataError::CannotOpen {
            path: path.to_path_buf(),
            why: "too many levels of symbolic links (a symlink loop?)".to_string(),
        },
        _ => DataError::Io {
            source_name: path.display().to_string(),
            source: e,
        },
    }
}

/// Reads a whole file. A regular file must keep the size it had when opened (a file being
/// rewritten meanwhile would give a mix of old and new content); pipes, FIFOs and devices are
/// read to their end, up to [`MAX_STREAM_BYTES`].
fn read_file(path: &Path) -> DataResult<Vec<u8>> {
    let io_error = |e: std::io::Error| open_error(path, e);
    let name = || path.display().to_string();
    if std::fs::metadata(path).map_err(io_error)?.is_dir() {
        return Err(DataError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    let file = File::open(path).map_err(io_error)?;
    let before = file.metadata().map_err(io_error)?;
    if !before.is_file() {
        return read_stream(&file, &name(), MAX_STREAM_BYTES).map_err(|e| match e {
            StreamError::Io(e) => io_error(e),
            StreamError::TooLarge(e) => e,
        });
    }
    let len = before.len();
    if len == 0 {
        return Err(DataError::Empty {
            source_name: name(),
        });
    }
    let mut buffer = Vec::new();
    usize::try_from(len)
        .ok()
        .and_then(|n| buffer.try_reserve_exact(n).ok())
        .ok_or_else(|| DataError::Io {
            source_name: name(),
            source: std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                format!("not enough memory to read its {len} bytes"),
            ),
        })?;
    // One byte more than expected tells a file that grew from one that ended on time.
    (&file)
        .take(len.saturating_add(1))
        .read_to_end(&mut buffer)
        .map_err(io_error)?;
    let after = file.metadata().map_err(io_error)?;
    if buffer.len() as u64 != len
        || after.len() != len
        || after.modified().ok() != before.modified().ok()
    {
        return Err(DataError::ChangedWhileReading {
            source_name: name(),
        });
    }
    Ok(buffer)
}

enum StreamError {
    Io(std::io::Error),
    TooLarge(DataError),
}

/// Reads a stream to its end, or fails once it passes `limit` bytes. Empty content is left to
/// `load_bytes`, which reports it as an empty file.
fn read_stream(reader: impl Read, name: &str, limit: u64) -> Result<Vec<u8>, StreamError> {
    let mut buffer = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut buffer)
        .map_err(StreamError::Io)?;
    if buffer.len() as u64 > limit {
        return Err(StreamError::TooLarge(DataError::StreamTooLarge {
            source_name: name.to_string(),
            limit_gib: limit >> 30,
        }));
    }
    Ok(buffer)
}

fn extension_of(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

/// Extensions of formats we recognise but do not read, with advice.
fn unsupported_extension(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "xlsx" | "xls" | "xlsm" | "ods" => "spreadsheet; export it as CSV first",
        "gz" | "bz2" | "xz" | "zst" | "zip" | "7z" | "tar" => {
            "compressed archive; decompress it first"
        }
        "h5" | "hdf5" | "mat" | "npz" | "npy" | "pkl" | "pickle" | "sav" | "dta" | "sas7bdat" => {
            "binary format of another tool; export it as CSV or Parquet first"
        }
        _ => return None,
    })
}

fn detect_format(bytes: &[u8], extension: Option<&str>, name: &str) -> DataResult<Format> {
    if let Some(ext) = extension {
        if let Some(advice) = unsupported_extension(ext) {
            return Err(DataError::UnsupportedFormat {
                source_name: name.to_string(),
                what: format!(".{ext} ({advice})"),
            });
        }
        if let Some(format) = Format::from_name(ext) {
            return Ok(format);
        }
    }
    sniff_format(bytes, name)
}

/// Content sniffing for files without a known extension.
pub fn sniff_format(bytes: &[u8], name: &str) -> DataResult<Format> {
    let unsupported = |what: &str| DataError::UnsupportedFormat {
        source_name: name.to_string(),
        what: what.to_string(),
    };
    if bytes.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    if bytes.starts_with(b"ARROW1") {
        return Ok(Format::Ipc);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(unsupported(
            "zip archive (an .xlsx spreadsheet?); export or decompress it first",
        ));
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(unsupported("gzip-compressed data; decompress it first"));
    }
    if bytes.starts_with(b"FEA1") {
        return Err(unsupported(
            "Feather version 1; re-save it as Feather v2 / Arrow IPC",
        ));
    }
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if !looks_like_text(head) {
        return Err(DataError::UnrecognisedFormat {
            source_name: name.to_string(),
        });
    }
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    Ok(match head.get(start) {
        Some(b'[') => Format::Json,
        Some(b'{') => Format::Ndjson,
        _ => Format::Csv,
    })
}

/// Text if it has no NUL byte and almost no other control characters (UTF-8 or not: bad bytes in
/// a text file are reported later with their line).
fn looks_like_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c))
        .count();
    controls * 100 <= head.len()
}

fn read_csv(bytes: &[u8], name: &str, options: &LoadOptions) -> DataResult<(DataFrame, Dialect)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes); // UTF-8 byte order mark
    let head_len = bytes.len().min(SNIFF_BYTES);
    let dialect = csv_scan::sniff_dialect(
        &bytes[..head_len],
        head_len == bytes.len(),
        options.delimiter,
        options.has_header,
    );

    let first_line_end = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
    let header = csv_scan::split_line(&bytes[..first_line_end], dialect.delimiter);
    if let Some(big) = header
        .iter()
        .map(String::len)
        .find(|&n| n > options.max_field_bytes)
    {
        return Err(DataError::FieldTooLarge {
            source_name: name.to_string(),
            line: 1,
            bytes: big as u64,
            limit: options.max_field_bytes as u64,
        });
    }
    if dialect.has_header {
        check_unique(header.iter().map(String::as_str), name)?;
    }
    let expected = header.len();
    let report = csv_scan::validate(
        bytes,
        dialect.delimiter,
        expected,
        dialect.has_header,
        options.max_field_bytes,
    )
    .map_err(|issue| match issue {
        ScanIssue::Ragged { line, found } => DataError::RaggedRow {
            source_name: name.to_string(),
            line,
            expected,
            found,
        },
        ScanIssue::FieldTooLarge { line, bytes } => DataError::FieldTooLarge {
            source_name: name.to_string(),
            line,
            bytes,
            limit: options.max_field_bytes as u64,
        },
    })?;
    if report.data_records == 0 {
        return Err(DataError::HeaderOnly {
            source_name: name.to_string(),
        });
    }

    let read = |infer_rows: Option<usize>| {
        let parse_options = CsvParseOptions::default()
            .with_separator(dialect.delimiter)
            .with_quote_char(Some(b'"'))
            .with_try_parse_dates(true)
            .with_missing_is_null(true);
        // polars' CSV reader can panic on input our scanner accepts (found by fuzzing: quotes
        // and tabs it splits differently); that is a malformed file, not our bug.
        crate::panic_boundary::catch(|| {
            CsvReadOptions::default()
                .with_has_header(dialect.has_header)
                .with_infer_schema_length(infer_rows)
                .with_parse_options(parse_options)
                .into_reader_with_file_handle(Cursor::new(bytes))
                .finish()
        })
        .unwrap_or_else(|panic| {
            Err(PolarsError::ComputeError(
                format!(
                    "the file is malformed (the reader gave up: {})",
                    first_line(&panic)
                )
                .into(),
            ))
        })
    };
    // Fast path infers types from the first 10,000 rows; if a later value does not fit (an
    // integer column with a decimal at row 50,000), infer again from every row.
    let result = match read(Some(10_000)) {
        Ok(df) => Ok(df),
        Err(_) => read(None),
    };
    match result {
        Ok(mut df) => {
            missing_markers_to_nulls(&mut df).map_err(|e| DataError::Parse {
                source_name: name.to_string(),
                format: "CSV",
                message: first_line(&e.to_string()),
            })?;
            Ok((df, dialect))
        }
        Err(e) => {
            if let Err(utf8) = std::str::from_utf8(bytes) {
                let offset = utf8.valid_up_to();
                return Err(DataError::InvalidUtf8 {
                    source_name: name.to_string(),
                    line: csv_scan::line_of_offset(bytes, offset),
                    offset: offset as u64,
                });
            }
            Err(DataError::Parse {
                source_name: name.to_string(),
                format: "CSV",
                message: first_line(&e.to_string()),
            })
        }
    }
}

/// Field texts read as missing values, in any column: pandas' default `na_values` (what our
/// users' files were written with), so that a numeric column holding `nan` or `NA` stays
/// numeric, with those cells missing, instead of turning into text.
///
/// Applied after parsing, to text columns only (polars' own null-value option compares every
/// field of every column with each marker, which slows down loading plain numeric files).
pub const MISSING_MARKERS: &[&str] = &[
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
    "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// Text columns holding [`MISSING_MARKERS`]: the markers become nulls, and a column whose other
/// values all read as numbers becomes a `Float64` column (as pandas reads it).
fn missing_markers_to_nulls(df: &mut DataFrame) -> PolarsResult<()> {
    let is_marker = |v: &str| MISSING_MARKERS.contains(&v);
    let text_columns: Vec<PlSmallStr> = df
        .columns()
        .iter()
        .filter(|c| c.dtype() == &DataType::String)
        .map(|c| c.name().clone())
        .collect();
    for name in text_columns {
        let values = df.column(&name)?.str()?.clone();
        if !values.iter().any(|v| v.is_some_and(is_marker)) {
            continue;
        }
        let number = |v: &str| v.trim().parse::<f64>().ok();
        let numeric = values
            .iter()
            .all(|v| v.is_none_or(|v| is_marker(v) || number(v).is_some()));
        let replaced = if numeric {
            Float64Chunked::from_iter_options(
                name.clone(),
                values
                    .iter()
                    .map(|v| v.filter(|v| !is_marker(v)).and_then(number)),
            )
            .into_column()
        } else {
            StringChunked::from_iter_options(
                name.clone(),
                values.iter().map(|v| v.filter(|v| !is_marker(v))),
            )
            .into_column()
        };
        df.replace(&name, replaced)?;
    }
    Ok(())
}

fn check_unique_names(df: &DataFrame, name: &str) -> DataResult<()> {
    check_unique(df.get_column_names().into_iter().map(|s| s.as_str()), name)
}

fn check_unique<'a>(names: impl Iterator<Item = &'a str>, source: &str) -> DataResult<()> {
    let mut seen = std::collections::HashMap::new();
    for (i, n) in names.enumerate() {
        if let Some(first) = seen.insert(n.trim().to_string(), i) {
            return Err(DataError::DuplicateColumn {
                source_name: source.to_string(),
                name: n.to_string(),
                first: first + 1,
                second: i + 1,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_errors_are_named() {
        let p = Path::new("x.csv");
        let denied = open_error(
            p,
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert_eq!(
            denied.to_string(),
            "x.csv: permission denied (cannot read the file)"
        );
        assert!(denied.is_bad_input());
        let other = open_error(p, std::io::Error::other("disk on fire"));
        assert!(!other.is_bad_input());
    }

    #[test]
    fn deeply_nested_json_is_refused_before_parsing() {
        let deep = "[".repeat(50_000) + &"]".repeat(50_000);
        let options = LoadOptions::default();
        let err =
            load_from_memory(deep.as_bytes(), "deep.json", Some("json"), &options).unwrap_err();
        assert!(
            matches!(err, DataError::JsonTooDeep { offset: 64, .. }),
            "{err}"
        );
        assert!(err.is_bad_input());
        assert_eq!(
            err.to_string(),
            "deep.json: JSON nested deeper than 64 levels (at byte 64); Pynomaly reads records of flat values"
        );
        // Sniffed as JSON (no extension), and as NDJSON.
        let err = load_from_memory(deep.as_bytes(), "deep.dat", None, &options).unwrap_err();
        assert!(matches!(err, DataError::JsonTooDeep { .. }), "{err}");
        let line = format!("{{\"a\": 1}}\n{{\"a\": {deep}}}\n");
        let err = load_from_memory(line.as_bytes(), "deep.ndjson", None, &options).unwrap_err();
        assert!(matches!(err, DataError::JsonTooDeep { .. }), "{err}");
        // Records whose fields hold a few levels still load.
        let ok = br#"[{"a": 1.5, "b": [[1, 2], [3]]}, {"a": 2.5, "b": [[4]]}]"#;
        let loaded = load_from_memory(ok, "ok.json", Some("json"), &options).unwrap();
        assert_eq!(loaded.df.height(), 2);
    }

    #[test]
    fn streams_are_read_up_to_the_limit() {
        let data = b"a,b\n1,2\n";
        let read = read_stream(&data[..], "s", data.len() as u64);
        assert_eq!(read.ok().as_deref(), Some(&data[..]));
        match read_stream(&data[..], "s", data.len() as u64 - 1) {
            Err(StreamError::TooLarge(e)) => {
                assert!(matches!(e, DataError::StreamTooLarge { .. }));
                assert!(e.is_bad_input());
            }
            _ => panic!("expected the limit error"),
        }
        let big = DataError::StreamTooLarge {
            source_name: "/dev/zero".to_string(),
            limit_gib: MAX_STREAM_BYTES >> 30,
        };
        assert_eq!(
            big.to_string(),
            "/dev/zero: larger than the 8 GiB limit for a stream"
        );
        assert!(matches!(read_stream(&b""[..], "s", 10), Ok(v) if v.is_empty()));
    }

    #[test]
    fn regular_files_are_read_whole_and_empty_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, "a,b\n1,2\n3,4\n").unwrap();
        assert_eq!(read_file(&path).unwrap(), b"a,b\n1,2\n3,4\n");
        std::fs::write(&path, "").unwrap();
        assert!(matches!(read_file(&path), Err(DataError::Empty { .. })));
        let changed = DataError::ChangedWhileReading {
            source_name: "d.csv".to_string(),
        };
        assert!(changed.is_bad_input());
        assert_eq!(
            changed.to_string(),
            "d.csv: the file changed while it was being read"
        );
    }

    #[cfg(unix)]
    #[test]
    fn fifos_are_read_not_taken_for_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo here
        }
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(&fifo, "a,b\n1,2\n3,4\n").unwrap())
        };
        let loaded = load(&Source::Path(fifo.clone()), &LoadOptions::default()).unwrap();
        writer.join().unwrap();
        assert_eq!(loaded.df.shape(), (2, 2));
        // A FIFO whose writer sends nothing is an empty file after all.
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(&fifo, "").unwrap())
        };
        let err = load(&Source::Path(fifo), &LoadOptions::default()).unwrap_err();
        writer.join().unwrap();
        assert!(matches!(err, DataError::Empty { .. }), "{err}");
    }

    #[test]
    fn sniffs_formats_without_extension() {
        assert_eq!(sniff_format(b"PAR1....", "f").unwrap(), Format::Parquet);
        assert_eq!(sniff_format(b"ARROW1\0\0", "f").unwrap(), Format::Ipc);
        assert_eq!(sniff_format(b"  [{\"a\":1}]", "f").unwrap(), Format::Json);
        assert_eq!(
            sniff_format(b"{\"a\":1}\n{\"a\":2}\n", "f").unwrap(),
            Format::Ndjson
        );
        assert_eq!(sniff_format(b"a;b\n1;2\n", "f").unwrap(), Format::Csv);
        assert!(matches!(
            sniff_format(b"\x00\x01\x02binary", "f"),
            Err(DataError::UnrecognisedFormat { .. })
        ));
        assert!(matches!(
            sniff_format(b"PK\x03\x04zip", "f"),
            Err(DataError::UnsupportedFormat { .. })
        ));
    }
}

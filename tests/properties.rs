//! Property-based tests of everything that reads untrusted input (issue 19, "Trust").
//!
//! Generated inputs are fed to the real entry points and every case must end, within a time
//! bound, in a result or an error that blames the input, never in a panic or a hang:
//!
//! - arbitrary bytes, CSV-like text, JSON-like text (records, NDJSON lines, random nesting and
//!   bracket soup) and damaged Parquet / Arrow files, loaded under every extension, then
//!   profiled and prepared when they load;
//! - generated tables of awkward values (±0, ±1e300, ±f64::MAX, subnormals, `nan`/`inf` as text,
//!   empty cells, short strings) written as CSV, loaded, prepared and given to four detectors;
//! - saved-model files mutated at random (numbers replaced, array elements removed or repeated,
//!   arrays emptied, values swapped, bytes flipped, inserted, deleted or cut off): refused when
//!   read, or scoring rows of the model's width.
//!
//! The case counts keep this file well under two minutes in a debug build. For a longer run
//! (every property then runs that many cases; `--release` makes it several times faster):
//!
//! ```sh
//! PROPTEST_CASES=10000 cargo test --test properties
//! ```
//!
//! A failing case is shrunk and its seed saved in `tests/properties.proptest-regressions`
//! (commit that file): every later run replays the saved cases first.

mod common;

use common::models::{envelope_for, planted, D, N};
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ndarray::Array2;
use polars::prelude::{IpcWriter, ParquetWriter, SerWriter};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use pynomaly::data::load::load_from_memory;
use pynomaly::data::{LoadOptions, PrepareSpec};
use pynomaly::detectors::{registry, JobCtx};
use pynomaly::saved_model::ModelEnvelope;
use pynomaly::service::detect::{prepare, run_detect, Dataset, DetectRequest};
use pynomaly::service::Fault;
use pynomaly::threshold::ThresholdMethod;
use serde_json::Value;

/// The most one step (a load, a profile, a preparation, a fit) may take on a generated input.
const STEP_LIMIT: Duration = Duration::from_secs(5);
/// The most a whole case may take before it is reported as hanging.
const CASE_LIMIT: Duration = Duration::from_secs(60);
/// The most reading and scoring one mutated model file may take.
const MODEL_LIMIT: Duration = Duration::from_secs(10);

/// Every extension the loader is asked to read a generated input as (`None`: sniffed; `dat`:
/// unknown, so sniffed too).
const EXTENSIONS: [Option<&str>; 8] = [
    None,
    Some("csv"),
    Some("tsv"),
    Some("json"),
    Some("ndjson"),
    Some("parquet"),
    Some("arrow"),
    Some("dat"),
];

/// The detectors run on generated tables: cheap, and of different kinds (histogram, empirical
/// distribution, trees, neighbours).
const TABLE_DETECTORS: [&str; 4] = ["hbos", "ecod", "iforest", "knn"];

/// `default_cases` cases, or `PROPTEST_CASES` when set.
fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        // A failure is shrunk for at most a minute: enough for a readable case.
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    }
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

// ---------------------------------------------------------------------------------------------
// Running a case: on its own thread, panics caught, time measured

/// Runs `work` on another thread with panics caught: `Err` names the panic, or a case still
/// running after `limit` (the thread is then left behind; the test fails anyway).
fn bounded<T: Send + 'static>(
    what: &str,
    limit: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("property case".to_string())
        .spawn(move || {
            let _ = tx.send(no_panic("the case", work));
        })
        .expect("a thread for the case");
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(message)) => Err(format!("{what}: {message}")),
        Err(RecvTimeoutError::Timeout) => Err(format!("{what}: still running after {limit:?}")),
        Err(RecvTimeoutError::Disconnected) => {
            Err(format!("{what}: the case ended without a result"))
        }
    }
}

/// `work`, or the message of its panic. (The loader has panic boundaries of its own; a panic
/// that gets past them is what these tests look for.)
fn no_panic<T>(what: &str, work: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(work)).map_err(|payload| {
        format!(
            "{what}: panicked: {}",
            pynomaly::panic_boundary::message(payload.as_ref())
        )
    })
}

/// `work` without a panic and within [`STEP_LIMIT`]; a breach of either is added to `failures`.
fn timed<T>(what: &str, failures: &mut Vec<String>, work: impl FnOnce() -> T) -> Option<T> {
    let started = Instant::now();
    let result = no_panic(what, work);
    let took = started.elapsed();
    if took > STEP_LIMIT {
        failures.push(format!("{what}: took {took:?} (limit {STEP_LIMIT:?})"));
    }
    match result {
        Ok(value) => Some(value),
        Err(message) => {
            failures.push(message);
            None
        }
    }
}

/// Turns the problems a case found into its verdict.
fn verdict(result: Result<Vec<String>, String>) -> Result<(), TestCaseError> {
    let failures = result.map_err(fail)?;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(fail(failures.join("\n")))
    }
}

// ---------------------------------------------------------------------------------------------
// Loading under every extension

/// Loads `bytes` as every extension; what loads is profiled and prepared too. Every error must
/// blame the input (`is_bad_input`): an internal error on a file is a bug as well.
fn load_everyway(bytes: &[u8]) -> Vec<String> {
    let mut failures = Vec::new();
    let options = LoadOptions::default();
    for extension in EXTENSIONS {
        let name = match extension {
            Some(ext) => format!("case.{ext}"),
            None => "case".to_string(),
        };
        let loaded = timed(&format!("{name}: load"), &mut failures, || {
            load_from_memory(bytes, &name, extension, &options)
        });
        let loaded = match loaded {
            Some(Ok(loaded)) => loaded,
            Some(Err(e)) => {
                if !e.is_bad_input() {
                    failures.push(format!("{name}: load: an internal error: {e}"));
                }
                continue;
            }
            None => continue,
        };
        if loaded.df.width() == 0 || loaded.df.height() == 0 {
            failures.push(format!(
                "{name}: loaded an empty frame ({} × {})",
                loaded.df.height(),
                loaded.df.width()
            ));
        }
        let profiled = timed(&format!("{name}: profile"), &mut failures, || {
            pynomaly::data::profile(&loaded).err()
        });
        if let Some(e) = profiled.flatten().filter(|e| !e.is_bad_input()) {
            failures.push(format!("{name}: profile: an internal error: {e}"));
        }
        let prepared = timed(&format!("{name}: prepare"), &mut failures, || {
            PrepareSpec::default()
                .apply(&loaded.df, &loaded.source)
                .err()
        });
        if let Some(e) = prepared.flatten().filter(|e| !e.is_bad_input()) {
            failures.push(format!("{name}: prepare: an internal error: {e}"));
        }
    }
    failures
}

fn check_loads(what: &str, bytes: Vec<u8>) -> Result<(), TestCaseError> {
    verdict(bounded(what, CASE_LIMIT, move || load_everyway(&bytes)))
}

// ---------------------------------------------------------------------------------------------
// Byte-level edits

#[derive(Clone, Debug)]
enum ByteEdit {
    /// Keep only a prefix (possibly all of it).
    Truncate(Index),
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    Insert(Index, u8),
    Delete(Index),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        any::<Index>().prop_map(ByteEdit::Truncate),
        (any::<Index>(), 1u8..=255).prop_map(|(at, mask)| ByteEdit::Flip(at, mask)),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| ByteEdit::Insert(at, byte)),
        any::<Index>().prop_map(ByteEdit::Delete),
    ]
}

fn apply_byte_edit(bytes: &mut Vec<u8>, edit: &ByteEdit) {
    match *edit {
        ByteEdit::Truncate(at) => {
            let keep = at.index(bytes.len() + 1);
            bytes.truncate(keep);
        }
        ByteEdit::Flip(at, mask) => {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] ^= mask;
            }
        }
        ByteEdit::Insert(at, byte) => {
            let i = at.index(bytes.len() + 1);
            bytes.insert(i, byte);
        }
        ByteEdit::Delete(at) => {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes.remove(i);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generators of text

/// Numbers as they appear in files: plain, integer, extreme, subnormal, and the texts of NaN
/// and infinity.
const SPECIAL_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "0.0",
    "-0.0",
    "1e300",
    "-1e300",
    "1.7976931348623157e308",
    "-1.7976931348623157e308",
    "5e-324",
    "-5e-324",
    "2.2250738585072014e-308",
    "1e400",
    "-1e400",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "NA",
    "",
    " 3.5 ",
    "+7",
    "1_000",
    "0x10",
    "1e",
    ".",
    "-",
];

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-1e6f64..1e6).prop_map(|v| format!("{v:?}")),
        2 => any::<i64>().prop_map(|v| v.to_string()),
        2 => select(SPECIAL_NUMBERS).prop_map(|s| s.to_string()),
        1 => any::<f64>().prop_map(|v| format!("{v:?}")),
    ]
}

const WORDS: &[&str] = &[
    "a",
    "b",
    "zz",
    "yes",
    "no",
    "true",
    "false",
    "é",
    "x y",
    "2024-01-02",
    "2024-01-02T03:04:05",
    "12:30",
    "NULL",
    "None",
    "label",
    "\u{1b}[31mred",
    "\u{202e}rtl",
    "\u{feff}bom",
    "日本",
];

/// Fields written with quotes, well-formed or not.
const QUOTED: &[&str] = &[
    "\"a,b\"",
    "\"two\nlines\"",
    "\"two\r\nlines\"",
    "\"say \"\"hi\"\"\"",
    "\"\"",
    "\"\"\"\"",
    "\"unterminated",
    "\"a\"b",
    "a\"b",
    "\"1.5\"",
    "\"\t\"",
];

const NEWLINES: &[&str] = &["\n", "\r\n", "\r", "\n\n"];
const DELIMITERS: &[u8] = b",;\t|";

fn csv_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => number_text(),
        2 => select(WORDS).prop_map(|s| s.to_string()),
        1 => select(QUOTED).prop_map(|s| s.to_string()),
        1 => Just(String::new()),
    ]
}

/// Rows of cells with one delimiter and one line ending; sometimes one row is a field short,
/// sometimes the file starts with a byte-order mark.
fn csv_table_text() -> impl Strategy<Value = Vec<u8>> {
    (1usize..7, 1usize..30)
        .prop_flat_map(|(width, rows)| {
            (
                select(DELIMITERS),
                select(NEWLINES),
                vec(vec(csv_cell(), width), rows),
                any::<Index>(),
                any::<bool>(),
                any::<bool>(),
            )
        })
        .prop_map(|(delimiter, newline, rows, short_row, ragged, bom)| {
            let separator = char::from(delimiter).to_string();
            let short = short_row.index(rows.len());
            let mut text = String::new();
            if bom {
                text.push('\u{feff}');
            }
            for (i, row) in rows.iter().enumerate() {
                let end = if ragged && i == short {
                    row.len() - 1
                } else {
                    row.len()
                };
                text.push_str(&row[..end].join(separator.as_str()));
                text.push_str(newline);
            }
            text.into_bytes()
        })
}

/// Pieces of CSV-ish bytes: delimiters, quotes, line endings, escapes, invalid UTF-8, NUL,
/// terminal escape sequences, values.
const CSV_PIECES: &[&[u8]] = &[
    b",",
    b";",
    b"\t",
    b"|",
    b"\"",
    b"\"\"",
    b"\n",
    b"\r\n",
    b"\r",
    b"\\",
    b"\\\"",
    b" ",
    b"a",
    b"b",
    b"x1",
    b"label",
    b"0",
    b"1",
    b"-1.5",
    b"3.25e10",
    b"1e308",
    b"-1e400",
    b"5e-324",
    b"nan",
    b"inf",
    b"NA",
    b"true",
    b"2024-01-02",
    b"\xEF\xBB\xBF",
    b"\xff",
    b"\xc3",
    b"\xc3\xa9",
    b"\x00",
    b"\x1b[31m",
    b"\x1b]0;t\x07",
    b"\xe2\x80\xae",
    b"#",
    b"'",
];

fn csv_soup() -> impl Strategy<Value = Vec<u8>> {
    vec(select(CSV_PIECES), 0..600).prop_map(|pieces| pieces.concat())
}

const JSON_KEYS: &[&str] = &["a", "b", "x", "label", "t", "\\u0041", "k\\\"q", "", "é"];

const JSON_ATOMS: &[&str] = &[
    "null",
    "true",
    "false",
    "\"s\"",
    "\"\"",
    "\"\\u00e9\"",
    "\"\\ud800\"",
    "\"a\\\"b\"",
    "\"\\\\\"",
    "\"2024-01-02\"",
    "12345678901234567890",
    "-0",
    "1e400",
    "[]",
    "{}",
];

fn json_atom() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => number_text(),
        2 => select(JSON_ATOMS).prop_map(|s| s.to_string()),
    ]
}

fn json_object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("\"{key}\":{value}"))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Any JSON-like value: atoms (some of them not valid JSON), arrays and objects, nested.
fn json_value() -> impl Strategy<Value = String> {
    json_atom().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(","))),
            vec((select(JSON_KEYS), inner), 0..4).prop_map(|fields| json_object(&fields)),
        ]
    })
}

/// A record: mostly flat values, sometimes a nested one.
fn json_record() -> impl Strategy<Value = String> {
    vec(
        (
            select(JSON_KEYS),
            prop_oneof![4 => json_atom(), 1 => json_value()],
        ),
        0..5,
    )
    .prop_map(|fields| json_object(&fields))
}

const JSON_PIECES: &[&[u8]] = &[
    b"[", b"]", b"{", b"}", b"\"", b"\\", b",", b":", b"1", b"-2.5e3", b"null", b"\"a\"", b"\n",
    b" ", b"\xff", b"\x00", b"true", b"\\u", b"\\ud83d", b"\"b\":", b"[{", b"}]",
];

/// A record whose field nests `depth` arrays (or objects) with `closed` of them closed: around
/// the nesting limit of 64 levels.
fn deep_json(depth: usize, objects: bool, closed: usize, lines: bool) -> Vec<u8> {
    let (open, close) = if objects {
        ("{\"a\":", "}")
    } else {
        ("[", "]")
    };
    let nested = format!("{}1{}", open.repeat(depth), close.repeat(closed.min(depth)));
    let text = if lines {
        format!("{{\"x\":1}}\n{{\"x\":{nested}}}\n")
    } else {
        format!("[{{\"x\":{nested}}}]")
    };
    text.into_bytes()
}

fn json_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(json_record(), 0..12)
            .prop_map(|records| format!("[{}]", records.join(",")).into_bytes()),
        3 => (vec(json_record(), 0..12), select(NEWLINES))
            .prop_map(|(records, newline)| records.join(newline).into_bytes()),
        2 => json_value().prop_map(String::into_bytes),
        2 => vec(select(JSON_PIECES), 0..400).prop_map(|pieces| pieces.concat()),
        1 => (1usize..150, any::<bool>(), 0usize..150, any::<bool>())
            .prop_map(|(depth, objects, closed, lines)| deep_json(depth, objects, closed, lines)),
    ]
}

/// Starts of files that steer the format sniffing.
const MAGICS: &[&[u8]] = &[
    b"PAR1",
    b"ARROW1\0\0",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"FEA1",
    b"\xEF\xBB\xBF",
    b"[",
    b"{",
];

fn arbitrary_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..4096),
        // A known magic number in front and, sometimes, a Parquet footer (length + `PAR1`).
        2 => (select(MAGICS), vec(any::<u8>(), 0..2048), any::<bool>()).prop_map(
            |(magic, body, footer)| {
                let mut bytes = [magic, body.as_slice()].concat();
                if footer {
                    let length = u32::try_from(body.len()).unwrap_or(u32::MAX);
                    bytes.extend_from_slice(&length.to_le_bytes());
                    bytes.extend_from_slice(b"PAR1");
                }
                bytes
            }
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Columnar files to damage

/// Valid Parquet and Arrow IPC files: written here from a frame of several types, and the
/// fixtures with types the reader screens out (decimals, float16, nested lists and structs).
fn columnar_files() -> &'static [(&'static str, Vec<u8>)] {
    static FILES: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut df = polars::df!(
            "x" => [1.5f64, -2.0, 3.25, 1e300, 0.0, 7.0],
            "n" => [1i64, 2, 3, 4, 5, 6],
            "s" => ["a", "b", "a", "c", "b", "a"],
            "o" => [Some(1.0f64), None, Some(3.0), Some(-0.0), None, Some(5e-324)],
            "b" => [true, false, true, true, false, false]
        )
        .expect("a frame");
        let mut parquet: Vec<u8> = Vec::new();
        ParquetWriter::new(&mut parquet)
            .finish(&mut df)
            .expect("written as Parquet");
        let mut ipc: Vec<u8> = Vec::new();
        IpcWriter::new(&mut ipc)
            .finish(&mut df)
            .expect("written as Arrow IPC");
        vec![
            ("written.parquet", parquet),
            ("written.arrow", ipc),
            (
                "decimal_mixed.parquet",
                include_bytes!("fixtures/columnar/decimal_mixed.parquet").to_vec(),
            ),
            (
                "decimal_mixed.feather",
                include_bytes!("fixtures/columnar/decimal_mixed.feather").to_vec(),
            ),
            (
                "float16_mixed.parquet",
                include_bytes!("fixtures/columnar/float16_mixed.parquet").to_vec(),
            ),
            (
                "float16_mixed.feather",
                include_bytes!("fixtures/columnar/float16_mixed.feather").to_vec(),
            ),
            (
                "nested_mixed.parquet",
                include_bytes!("fixtures/columnar/nested_mixed.parquet").to_vec(),
            ),
            (
                "nested_mixed.feather",
                include_bytes!("fixtures/columnar/nested_mixed.feather").to_vec(),
            ),
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// Generated tables through load, prepare and detectors

const COLUMN_NAMES: &[&str] = &[
    "x",
    "value",
    "label",
    "is_anomaly",
    "time",
    "timestamp",
    "id",
    "y",
];

/// The values at the edges of floating point, written as `{:?}` writes them (`1e300`,
/// `5e-324`, `-0.0`).
const EXTREMES: &[f64] = &[
    0.0,
    -0.0,
    1e300,
    -1e300,
    f64::MAX,
    -f64::MAX,
    5e-324,
    -5e-324,
    f64::MIN_POSITIVE,
    1e-310,
];

/// Text cells that read as missing or non-finite numbers, or as nothing.
const NUMERIC_TEXT: &[&str] = &["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "", "NA"];

const SHORT_STRINGS: &[&str] = &[
    "a",
    "b",
    "zz",
    "yes",
    "no",
    "true",
    "é",
    "x y",
    "-",
    "1,5",
    "say \"hi\"",
    "two\nlines",
];

fn numeric_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (-1e3f64..1e3).prop_map(|v| format!("{v:?}")),
        1 => any::<i32>().prop_map(|v| v.to_string()),
        2 => select(EXTREMES).prop_map(|v| format!("{v:?}")),
        1 => select(NUMERIC_TEXT).prop_map(|s| s.to_string()),
    ]
}

fn text_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(SHORT_STRINGS).prop_map(|s| s.to_string()),
        1 => Just(String::new()),
    ]
}

/// One column of `rows` cells: numeric (the common case), text, or a mix of both.
fn column(rows: usize) -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        3 => vec(numeric_cell(), rows),
        1 => vec(text_cell(), rows),
        1 => vec(prop_oneof![numeric_cell(), text_cell()], rows),
    ]
}

/// Column names (some of which the label and time detection look for) and 1–6 columns of
/// 1–60 cells.
fn table() -> impl Strategy<Value = (Vec<&'static str>, Vec<Vec<String>>)> {
    (1usize..=6, 1usize..=60).prop_flat_map(|(columns, rows)| {
        (
            vec(select(COLUMN_NAMES), columns),
            vec(column(rows), columns),
        )
    })
}

fn csv_field(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// The table as a comma-separated file with a header; a repeated name gets its column number.
fn table_csv(names: &[&str], columns: &[Vec<String>]) -> Vec<u8> {
    let mut seen = HashSet::new();
    let header: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(j, &name)| {
            if seen.insert(name) {
                name.to_string()
            } else {
                format!("{name}_{j}")
            }
        })
        .collect();
    let rows = columns.first().map_or(0, Vec::len);
    let lines: Vec<String> = (0..rows)
        .map(|i| {
            columns
                .iter()
                .map(|column| csv_field(&column[i]))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    format!("{}\n{}\n", header.join(","), lines.join("\n")).into_bytes()
}

/// Load, prepare (the defaults) and the four detectors with their defaults: no panic, no step
/// over [`STEP_LIMIT`], finite scores, and every error blamed on the input.
fn detect_on_table(csv: &[u8]) -> Vec<String> {
    let mut failures = Vec::new();
    let options = LoadOptions::default();
    let loaded = match timed("load", &mut failures, || {
        load_from_memory(csv, "table.csv", Some("csv"), &options)
    }) {
        Some(Ok(loaded)) => loaded,
        Some(Err(e)) => {
            if !e.is_bad_input() {
                failures.push(format!("load: an internal error: {e}"));
            }
            return failures;
        }
        None => return failures,
    };
    let prepared = match timed("prepare", &mut failures, || {
        prepare(&loaded, &PrepareSpec::default())
    }) {
        Some(Ok((prepared, _))) => prepared,
        Some(Err(e)) => {
            if e.fault != Fault::Input {
                failures.push(format!("prepare: not blamed on the input: {e}"));
            }
            return failures;
        }
        None => return failures,
    };
    let rows = prepared.matrix.x.nrows();
    let data = Dataset {
        loaded: Arc::new(loaded),
        prepared: Arc::new(prepared),
        load_s: 0.0,
    };
    for detector in TABLE_DETECTORS {
        let request = DetectRequest::new(detector, &[], ThresholdMethod::Contamination(0.1), 0)
            .expect("a registered detector with its defaults");
        match timed(detector, &mut failures, || {
            run_detect(&data, &request, &JobCtx::new(0), None)
        }) {
            Some(Ok(outcome)) => {
                if outcome.scores.len() != rows {
                    failures.push(format!(
                        "{detector}: {} scores for {rows} rows",
                        outcome.scores.len()
                    ));
                }
                if let Some(score) = outcome.scores.iter().find(|s| !s.is_finite()) {
                    failures.push(format!("{detector}: a score of {score} was returned"));
                }
            }
            Some(Err(e)) if e.fault != Fault::Input => {
                failures.push(format!("{detector}: not blamed on the input: {e}"));
            }
            Some(Err(_)) | None => {}
        }
    }
    failures
}

// ---------------------------------------------------------------------------------------------
// Model files to mutate

/// The saved model of every registered detector and of an ensemble of three, as JSON values.
fn base_models() -> &'static [(String, Value)] {
    static MODELS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let x = planted(N, D);
        let names = registry().iter().map(|info| info.name).chain(["ensemble"]);
        let models: Vec<(String, ModelEnvelope)> = names
            .map(|name| (name.to_string(), envelope_for(name, &x)))
            .collect();
        models
            .into_iter()
            .map(|(name, envelope)| {
                let doc: Value =
                    serde_json::from_slice(&envelope.to_json()).expect("the envelope's JSON");
                (name, doc)
            })
            .collect()
    })
}

/// An edit of the JSON document of a model file.
#[derive(Clone, Debug)]
enum JsonEdit {
    /// Replace one number (of all numbers in document order) with another value.
    Number(Index, Value),
    /// Remove one element of one array.
    Remove(Index, Index),
    /// Repeat one element of one array.
    Repeat(Index, Index),
    /// Empty one array.
    Empty(Index),
    /// Replace any one value (the whole document included).
    Replace(Index, Value),
}

/// Integers and floats at the edges: zero, ±1, the limits of u32 / u64 / f64, subnormals,
/// anything.
const EDGE_FLOATS: &[f64] = &[
    0.0,
    -0.0,
    0.5,
    1.0,
    -1.0,
    2.0,
    1e300,
    -1e300,
    f64::MAX,
    -f64::MAX,
    5e-324,
    1e-300,
];
const EDGE_INTEGERS: &[u64] = &[
    0,
    1,
    2,
    7,
    u32::MAX as u64,
    u32::MAX as u64 + 1,
    1 << 53,
    u64::MAX,
];

fn json_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => (-3i64..=3).prop_map(Value::from),
        2 => select(EDGE_INTEGERS).prop_map(Value::from),
        2 => select(EDGE_FLOATS).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        // NaN and the infinities become null, as serde_json writes them.
        1 => any::<f64>().prop_map(Value::from),
    ]
}

/// Strings put where a number, an array or an object was: empty, detector and option names.
const REPLACEMENT_TEXT: &[&str] = &["", "knn", "iforest", "full", "x"];

fn json_replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => json_number(),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => select(REPLACEMENT_TEXT).prop_map(Value::from),
        1 => Just(Value::Array(Vec::new())),
        1 => Just(Value::Object(serde_json::Map::new())),
    ]
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        4 => (any::<Index>(), json_number()).prop_map(|(at, v)| JsonEdit::Number(at, v)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, e)| JsonEdit::Remove(a, e)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, e)| JsonEdit::Repeat(a, e)),
        1 => any::<Index>().prop_map(JsonEdit::Empty),
        1 => (any::<Index>(), json_replacement()).prop_map(|(at, v)| JsonEdit::Replace(at, v)),
    ]
}

/// JSON pointers (RFC 6901) to every value, every number and every array of a document.
#[derive(Default)]
struct Places {
    values: Vec<String>,
    numbers: Vec<String>,
    arrays: Vec<String>,
}

fn find_places(v: &Value, pointer: &str, places: &mut Places) {
    places.values.push(pointer.to_string());
    match v {
        Value::Number(_) => places.numbers.push(pointer.to_string()),
        Value::Array(items) => {
            places.arrays.push(pointer.to_string());
            for (i, item) in items.iter().enumerate() {
                find_places(item, &format!("{pointer}/{i}"), places);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                find_places(item, &format!("{pointer}/{key}"), places);
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

fn apply_json_edit(doc: &mut Value, edit: &JsonEdit) {
    let mut places = Places::default();
    find_places(doc, "", &mut places);
    let (list, at) = match edit {
        JsonEdit::Number(at, _) => (&places.numbers, at),
        JsonEdit::Replace(at, _) => (&places.values, at),
        JsonEdit::Remove(at, _) | JsonEdit::Repeat(at, _) | JsonEdit::Empty(at) => {
            (&places.arrays, at)
        }
    };
    if list.is_empty() {
        return;
    }
    let Some(target) = doc.pointer_mut(at.get(&list[..]).as_str()) else {
        return;
    };
    match (edit, target) {
        (JsonEdit::Number(_, new) | JsonEdit::Replace(_, new), slot) => *slot = new.clone(),
        (JsonEdit::Remove(_, element), Value::Array(items)) if !items.is_empty() => {
            let i = element.index(items.len());
            items.remove(i);
        }
        (JsonEdit::Repeat(_, element), Value::Array(items)) if !items.is_empty() => {
            let i = element.index(items.len());
            let copy = items[i].clone();
            items.insert(i, copy);
        }
        (JsonEdit::Empty(_), Value::Array(items)) => items.clear(),
        _ => {}
    }
}

#[derive(Debug)]
enum ModelOutcome {
    Refused(String),
    /// Scored; the number of flags.
    Scored(usize),
    ScoreFailed(String),
}

/// Reads the bytes as a model file and, when accepted, scores three rows of its width (zeros,
/// small values, a far point) and flags them with its threshold.
fn read_and_score(bytes: &[u8]) -> ModelOutcome {
    let envelope = match ModelEnvelope::from_json(bytes, "mutated.model.json") {
        Ok(envelope) => envelope,
        Err(e) => return ModelOutcome::Refused(e.to_string()),
    };
    let d = envelope.feature_names.len();
    let x = Array2::from_shape_fn((3, d), |(i, j)| match i {
        0 => 0.0,
        1 => 0.5 * j as f64 - 1.0,
        _ => 1e6,
    });
    match envelope.model.score(x.view()) {
        Ok(scores) => {
            let flags = pynomaly::threshold::flags(&scores.to_vec(), envelope.threshold.value);
            ModelOutcome::Scored(flags.len())
        }
        Err(e) => ModelOutcome::ScoreFailed(e.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// The properties

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn arbitrary_bytes_load_safely(bytes in arbitrary_bytes()) {
        check_loads("arbitrary bytes", bytes)?;
    }

    #[test]
    fn csv_like_text_loads_safely(
        mut bytes in prop_oneof![csv_table_text(), csv_soup()],
        edit in proptest::option::of(byte_edit()),
    ) {
        if let Some(edit) = &edit {
            apply_byte_edit(&mut bytes, edit);
        }
        check_loads("CSV-like text", bytes)?;
    }

    #[test]
    fn json_like_text_loads_safely(
        mut bytes in json_text(),
        edit in proptest::option::of(byte_edit()),
    ) {
        if let Some(edit) = &edit {
            apply_byte_edit(&mut bytes, edit);
        }
        check_loads("JSON-like text", bytes)?;
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn damaged_columnar_files_load_safely(
        file in any::<Index>(),
        edits in vec(byte_edit(), 1..6),
    ) {
        let (name, original) = file.get(columnar_files());
        let mut bytes = original.clone();
        for edit in &edits {
            apply_byte_edit(&mut bytes, edit);
        }
        check_loads(name, bytes)?;
    }

    #[test]
    fn generated_tables_load_prepare_and_detect_safely((names, columns) in table()) {
        let csv = table_csv(&names, &columns);
        verdict(bounded("table", CASE_LIMIT, move || detect_on_table(&csv)))?;
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn mutated_model_files_are_refused_or_score_safely(
        model in any::<Index>(),
        edits in vec(json_edit(), 0..4),
        byte_edits in vec(byte_edit(), 0..3),
    ) {
        let (name, original) = model.get(base_models());
        let mut doc = original.clone();
        for edit in &edits {
            apply_json_edit(&mut doc, edit);
        }
        let mut bytes = serde_json::to_vec(&doc).expect("a JSON value serialises");
        for edit in &byte_edits {
            apply_byte_edit(&mut bytes, edit);
        }
        let untouched = edits.is_empty() && byte_edits.is_empty();
        let outcome = bounded(name, MODEL_LIMIT, move || read_and_score(&bytes)).map_err(fail)?;
        let failure = match outcome {
            ModelOutcome::Refused(reason) if untouched => {
                Some(format!("{name}: the unmodified model was refused: {reason}"))
            }
            ModelOutcome::Refused(reason) if reason.is_empty() => {
                Some(format!("{name}: refused without a reason"))
            }
            ModelOutcome::Scored(flags) if flags != 3 => {
                Some(format!("{name}: {flags} flags for 3 rows"))
            }
            // An error is no crash; a model as fitted must score, though.
            ModelOutcome::ScoreFailed(message) if untouched => {
                Some(format!("{name}: the unmodified model failed to score: {message}"))
            }
            ModelOutcome::Refused(_)
            | ModelOutcome::Scored(_)
            | ModelOutcome::ScoreFailed(_) => None,
        };
        verdict(Ok(failure.into_iter().collect()))?;
    }
}

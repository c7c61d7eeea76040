//! The headless command line: argument definitions (clap) and the commands they run.
//! `src/main.rs` only parses arguments, calls [`run`] and turns errors into exit codes.

mod automl;
mod detect;
mod drift;
mod experiments;
mod explain;
mod interrupt;
mod output;
mod score;
mod watch;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::data::prepare::{
    CategoricalEncoding, ColumnChoice, MissingPolicy, Scaling, UnseenCategory,
};
use crate::data::{self, Demo, Format, LoadOptions, PrepareSpec, Source};
use crate::service::detect::Dataset;
use crate::service::Blame;
use crate::text;

#[derive(Debug, Parser)]
#[command(name = "pynomaly", version, about = "Anomaly-detection workbench for the terminal", long_about = None)]
pub struct Cli {
    /// The experiment store (SQLite file); default: store.sqlite in the platform data directory.
    #[arg(long, global = true, env = "PYNOMALY_STORE", value_name = "PATH")]
    pub store: Option<PathBuf>,
    /// Workbench options, for `pynomaly` without a command.
    #[command(flatten)]
    pub tui: TuiFlags,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the terminal workbench (the default when no command is given).
    Tui(TuiArgs),
    /// Describe a dataset: per-column statistics, duplicates, label and time column candidates.
    Profile(ProfileArgs),
    /// Turn a dataset into the numeric matrix detectors use, and show (or save) the recipe.
    Prepare(PrepareArgs),
    /// List the datasets bundled with the binary (use them as `demo:NAME`).
    Demos,
    /// List the detectors with their parameters.
    Detectors(detect::DetectorsArgs),
    /// Run one detector on a dataset: scores, threshold, and metrics when a label exists.
    Detect(detect::DetectArgs),
    /// Search detectors and parameters (with a label or label-free) and keep the best model.
    Automl(automl::AutomlArgs),
    /// Score new data with a saved model (a run id from the store, or an exported model file).
    Score(score::ScoreArgs),
    /// Why rows of a stored run are anomalous: each feature's contribution to the score.
    Explain(explain::ExplainArgs),
    /// Has the data changed? Per-feature drift tests between a reference file and a current one.
    Drift(drift::DriftArgs),
    /// Follow a growing CSV/NDJSON file (or standard input) and score each record as it arrives.
    Watch(watch::WatchArgs),
    /// Browse, compare, export and delete the runs in the experiment store.
    #[command(subcommand)]
    Experiments(experiments::ExperimentsCommand),
}

#[derive(Debug, Clone, Default, Args)]
pub struct TuiFlags {
    /// Theme: terminal, dark, light, high-contrast, solarized-dark, colorblind-safe or a user theme.
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Let the mouse scroll (off by default so that terminal text selection keeps working).
    #[arg(long)]
    pub mouse: bool,
    /// Do not record runs in the experiment store.
    #[arg(long)]
    pub no_store: bool,
}

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// A file to open, or `demo:NAME` (default: the bundled demo).
    pub file: Option<std::ffi::OsString>,
    #[command(flatten)]
    pub flags: TuiFlags,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Format instead of guessing from extension and content.
    #[arg(long, value_name = "csv|tsv|parquet|json|ndjson|ipc")]
    pub format: Option<String>,
    /// CSV delimiter instead of sniffing: a character, or `tab`.
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// The CSV file has no header row.
    #[arg(long, conflicts_with = "header")]
    pub no_header: bool,
    /// The CSV file has a header row (skip sniffing).
    #[arg(long)]
    pub header: bool,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// A file, `-` for CSV on standard input, or `demo:NAME` (default: the bundled demo).
    pub file: Option<std::ffi::OsString>,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Print the profile as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CategoricalArg {
    Onehot,
    Ordinal,
    Frequency,
    Drop,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScaleArg {
    None,
    Standard,
    Robust,
    Minmax,
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// A file, `-` for CSV on standard input, or `demo:NAME`.
    pub file: std::ffi::OsString,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub prepare: PrepareOptions,
    /// Save the fitted spec as JSON.
    #[arg(long, value_name = "FILE")]
    pub save_spec: Option<PathBuf>,
    /// Write the matrix as CSV (row_id, features…, label).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the report and fitted spec as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How a table becomes the matrix detectors use: the same options for `prepare`, `detect` and
/// `automl`, so a run from the workbench can be reproduced from a script.
#[derive(Debug, Clone, Args)]
pub struct PrepareOptions {
    #[command(flatten)]
    pub label: LabelArgs,
    /// Time column, kept out of the features; by default detected.
    #[arg(long, conflicts_with = "no_time")]
    pub time: Option<String>,
    /// Do not treat any column as the time column (a detected one becomes a feature).
    #[arg(long)]
    pub no_time: bool,
    /// Feature columns, comma-separated (default: all usable columns).
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// Columns to leave out, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Encoding of text columns.
    #[arg(long, value_enum, default_value = "onehot")]
    pub categorical: CategoricalArg,
    /// One-hot: most frequent categories kept per column; the rest share an "(other)" column.
    #[arg(long, default_value_t = 20)]
    pub max_categories: usize,
    /// Missing values: drop (the row), mean, median, or a number to fill in.
    #[arg(long, default_value = "median")]
    pub missing: String,
    /// Scaling of the features.
    #[arg(long, value_enum, default_value = "none")]
    pub scale: ScaleArg,
    /// Stop on a category not seen when the spec was fitted (default: counted fallback).
    #[arg(long)]
    pub strict_categories: bool,
    /// Replay a saved, fitted spec (JSON, from `prepare --save-spec`) instead of fitting one.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["label", "no_label", "time", "no_time", "features", "exclude", "categorical", "max_categories", "missing", "scale", "strict_categories"])]
    pub spec: Option<PathBuf>,
}

/// A failed command: the message for stderr and the process exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    /// 2 for bad input (files, options), 1 for internal failures.
    pub code: u8,
}

impl CliError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 2,
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 1,
        }
    }
}

/// Every layer's error becomes an exit code by the one policy of [`crate::service::Blame`].
impl<E: Blame + std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError {
            message: e.to_string(),
            code: e.fault().exit_code(),
        }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

impl Cli {
    /// Whether this command line opens the terminal workbench (or may: a bare `pynomaly`).
    pub fn opens_workbench(&self) -> bool {
        matches!(self.command, None | Some(Command::Tui(_)))
    }
}

pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        None => {
            if std::io::stdout().is_terminal() && crate::tui::keys_available() {
                // Data piped in (`cat data.csv | pynomaly`) is what the user wants to look
                // at, as in VisiData; the keys then come from the controlling terminal.
                let piped = crate::tui::stdin_has_data();
                let file = piped.then(|| std::ffi::OsStr::new("-"));
                return workbench(file, cli.tui, cli.store.as_deref());
            }
            // Without a terminal (pipes, CI) the bare command shows the demo's profile instead.
            eprintln!(
                "pynomaly: no terminal for the workbench; showing the demo profile (see pynomaly --help)"
            );
            profile(ProfileArgs {
                file: None,
                load: LoadArgs {
                    format: None,
                    delimiter: None,
                    no_header: false,
                    header: false,
                },
                json: false,
            })
        }
        Some(Command::Tui(args)) => {
            let flags = TuiFlags {
                theme: args.flags.theme.or(cli.tui.theme),
                mouse: args.flags.mouse || cli.tui.mouse,
                no_store: args.flags.no_store || cli.tui.no_store,
            };
            workbench(args.file.as_deref(), flags, cli.store.as_deref())
        }
        Some(Command::Profile(args)) => profile(args),
        Some(Command::Prepare(args)) => prepare(args),
        Some(Command::Detectors(args)) => detect::list_detectors(args),
        // `pynomaly --no-store detect …` means what it says, as `detect --no-store` does.
        Some(Command::Detect(mut args)) => {
            args.no_store |= cli.tui.no_store;
            detect::detect(args, cli.store.as_deref())
        }
        Some(Command::Automl(mut args)) => {
            args.no_store |= cli.tui.no_store;
            automl::automl(args, cli.store.as_deref())
        }
        Some(Command::Score(args)) => score::score(args, cli.store.as_deref()),
        Some(Command::Drift(args)) => drift::drift(args),
        Some(Command::Watch(mut args)) => {
            args.no_store |= cli.tui.no_store;
            watch::watch(args)
        }
        Some(Command::Explain(args)) => explain::explain(args, cli.store.as_deref()),
        Some(Command::Experiments(command)) => experiments::run(command, cli.store.as_deref()),
        Some(Command::Demos) => {
            let mut out = std::io::stdout().lock();
            for d in Demo::ALL {
                let _ = writeln!(out, "demo:{:<16} {}", d.name(), d.description());
            }
            Ok(())
        }
    }
}

fn workbench(
    file: Option<&std::ffi::OsStr>,
    flags: TuiFlags,
    store: Option<&std::path::Path>,
) -> CliResult {
    let source = source_of(file)?;
    let store = if flags.no_store {
        None
    } else {
        Some(match store {
            Some(p) => p.to_path_buf(),
            None => crate::store::default_path().ok_or_else(|| {
                CliError::bad_input(
                    "no home directory for the store; use --store PATH or --no-store",
                )
            })?,
        })
    };
    crate::tui::run(crate::tui::TuiOptions {
        source,
        store,
        theme: flags.theme,
        mouse: flags.mouse,
    })
    .map_err(CliError::bad_input)
}

/// `--label COL` / `--no-label`, shared by every command that reads a label.
#[derive(Debug, Clone, Args)]
pub struct LabelArgs {
    /// Label column (1 = anomaly), used for metrics only; by default detected from names and
    /// values.
    #[arg(long, conflicts_with = "no_label")]
    pub label: Option<String>,
    /// Do not use any column as the label.
    #[arg(long)]
    pub no_label: bool,
}

impl LabelArgs {
    /// The column to use, none, or detect one.
    pub fn choice(&self) -> ColumnChoice {
        match (&self.label, self.no_label) {
            (Some(name), _) => ColumnChoice::Column(name.clone()),
            (None, true) => ColumnChoice::None,
            (None, false) => ColumnChoice::Auto,
        }
    }
}

/// The store for a command that records runs, opened before any work so that a broken store is
/// reported at once; `None` with `--no-store`.
fn store_unless(
    no_store: bool,
    path: Option<&std::path::Path>,
) -> CliResult<Option<crate::store::Store>> {
    if no_store {
        Ok(None)
    } else {
        Ok(Some(crate::store::Store::open_default(path)?))
    }
}

/// `--threshold METHOD`, else `--contamination C`, as one threshold method.
fn threshold_method(
    threshold: Option<&str>,
    contamination: f64,
) -> CliResult<crate::threshold::ThresholdMethod> {
    use crate::threshold::ThresholdMethod;
    match threshold {
        Some(m) => m
            .parse::<ThresholdMethod>()
            .map_err(|e| CliError::bad_input(format!("--threshold: {e}"))),
        None => format!("contamination={contamination}")
            .parse::<ThresholdMethod>()
            .map_err(|e| CliError::bad_input(format!("--contamination: {e}"))),
    }
}

/// Loads a file and prepares it with the default recipe and the given label choice.
fn load_dataset(
    file: &std::ffi::OsStr,
    load: &LoadArgs,
    prepare: &PrepareOptions,
) -> CliResult<Dataset> {
    let spec = build_spec(prepare)?;
    let source = source_of(Some(file))?;
    Ok(crate::service::detect::load_dataset(
        &source,
        &load_options(load)?,
        &spec,
    )?)
}

fn load_options(args: &LoadArgs) -> CliResult<LoadOptions> {
    let format = match &args.format {
        Some(name) => Some(Format::from_name(name).ok_or_else(|| {
            CliError::bad_input(format!(
                "--format {name}: unknown format; expected csv, tsv, parquet, json, ndjson or ipc"
            ))
        })?),
        None => None,
    };
    let delimiter = match args.delimiter.as_deref() {
        None => match args.format.as_deref() {
            Some("tsv") => Some(b'\t'),
            _ => None,
        },
        Some("tab") | Some("\\t") => Some(b'\t'),
        Some(d) if d.len() == 1 && d.is_ascii() && d != "\"" && d != "\n" => Some(d.as_bytes()[0]),
        Some(d) => {
            return Err(CliError::bad_input(format!(
                "--delimiter {d:?}: expected a single ASCII character other than a quote or newline, or `tab`"
            )))
        }
    };
    let has_header = if args.no_header {
        Some(false)
    } else if args.header {
        Some(true)
    } else {
        None
    };
    Ok(LoadOptions {
        format,
        delimiter,
        has_header,
        ..LoadOptions::default()
    })
}

/// The data source a command line names: `-`, `demo:NAME` or a path (any OS string: file names
/// need not be UTF-8).
fn source_of(file: Option<&std::ffi::OsStr>) -> CliResult<Source> {
    match file {
        None => Ok(Source::Demo(Demo::DEFAULT)),
        Some(f) => match f.to_str() {
            Some(text) => Ok(Source::parse(text)?),
            None => Ok(Source::Path(std::path::PathBuf::from(f))),
        },
    }
}

fn profile(args: ProfileArgs) -> CliResult {
    let source = source_of(args.file.as_deref())?;
    let (loaded, _) = crate::service::detect::load(&source, &load_options(&args.load)?)?;
    let profile = data::profile(&loaded)?;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        output::write_json(&mut out, &profile)
    } else {
        output::write_profile_table(&mut out, &profile, loaded.dialect).and_then(|()| {
            // Columns that could not be read are named, not silently missing.
            for (column, why) in &loaded.unreadable {
                writeln!(
                    out,
                    "Skipped     {}: {}",
                    output::cell(column, 40),
                    text::sanitize(why)
                )?;
            }
            Ok(())
        })
    };
    written.map_err(output_error)
}

fn output_error(e: std::io::Error) -> CliError {
    // A closed pipe (`pynomaly profile x | head`) is not a failure worth a message.
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return CliError {
            message: String::new(),
            code: 0,
        };
    }
    CliError::internal(format!("writing output: {e}"))
}

fn parse_missing(text: &str) -> CliResult<MissingPolicy> {
    Ok(match text {
        "drop" | "drop_row" | "drop-row" => MissingPolicy::DropRow,
        "mean" => MissingPolicy::Mean,
        "median" => MissingPolicy::Median,
        other => match other.parse::<f64>() {
            Ok(v) if v.is_finite() => MissingPolicy::Constant(v),
            _ => {
                return Err(CliError::bad_input(format!(
                    "--missing {other:?}: expected drop, mean, median or a finite number"
                )))
            }
        },
    })
}

fn build_spec(args: &PrepareOptions) -> CliResult<PrepareSpec> {
    if let Some(path) = &args.spec {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::bad_input(format!("{}: cannot read the spec: {e}", path.display()))
        })?;
        let spec: PrepareSpec = serde_json::from_str(&text).map_err(|e| {
            CliError::bad_input(format!("{}: not a valid prepare spec: {e}", path.display()))
        })?;
        if spec.fitted.is_none() {
            return Err(CliError::bad_input(format!(
                "{}: the spec was never fitted; save one with --save-spec",
                path.display()
            )));
        }
        return Ok(spec);
    }
    if args.max_categories == 0 {
        return Err(CliError::bad_input(
            "--max-categories 0: expected at least 1",
        ));
    }
    Ok(PrepareSpec {
        label: args.label.choice(),
        time: match (&args.time, args.no_time) {
            (Some(name), _) => ColumnChoice::Column(name.clone()),
            (None, true) => ColumnChoice::None,
            (None, false) => ColumnChoice::Auto,
        },
        features: args.features.clone(),
        exclude: args.exclude.clone(),
        categorical: match args.categorical {
            CategoricalArg::Onehot => CategoricalEncoding::OneHot,
            CategoricalArg::Ordinal => CategoricalEncoding::Ordinal,
            CategoricalArg::Frequency => CategoricalEncoding::Frequency,
            CategoricalArg::Drop => CategoricalEncoding::Drop,
        },
        max_categories: args.max_categories,
        missing: parse_missing(&args.missing)?,
        scaling: match args.scale {
            ScaleArg::None => Scaling::None,
            ScaleArg::Standard => Scaling::Standard,
            ScaleArg::Robust => Scaling::Robust,
            ScaleArg::Minmax => Scaling::MinMax,
        },
        unseen: if args.strict_categories {
            UnseenCategory::Error
        } else {
            UnseenCategory::Fallback
        },
        fitted: None,
    })
}

fn prepare(args: PrepareArgs) -> CliResult {
    let spec = build_spec(&args.prepare)?;
    let source = source_of(Some(&args.file))?;
    let (loaded, _) = crate::service::detect::load(&source, &load_options(&args.load)?)?;
    let (prepared, _) = crate::service::detect::prepare(&loaded, &spec)?;
    if let Some(path) = &args.save_spec {
        let json = serde_json::to_string_pretty(&prepared.spec)
            .map_err(|e| CliError::internal(e.to_string()))?;
        output::replace_file(path, output::NewFileMode::Usual, |w| {
            w.write_all(json.as_bytes())
        })
        .map_err(|e| {
            CliError::bad_input(format!("{}: cannot write the spec: {e}", path.display()))
        })?;
    }
    if let Some(path) = &args.output {
        output::write_matrix_csv(path, &prepared.matrix).map_err(|e| {
            CliError::bad_input(format!("{}: cannot write the matrix: {e}", path.display()))
        })?;
    }
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        output::write_json(
            &mut out,
            &serde_json::json!({
                "source": loaded.source,
                "rows": prepared.matrix.x.nrows(),
                "features": prepared.matrix.feature_names,
                "report": prepared.report,
                "spec": prepared.spec,
            }),
        )
    } else {
        output::write_prepare_summary(&mut out, &loaded.source, &prepared)
    };
    written.map_err(output_error)
}

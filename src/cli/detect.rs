//! `pynomaly detectors` and `pynomaly detect`: the registry as a table, and one detector run on a
//! file with threshold, metrics, timings and an optional scores file.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::interrupt::StopOnInterrupt;
use super::{
    load_dataset, output, output_error, store_unless, threshold_method, CliError, CliResult,
    LoadArgs, PrepareOptions,
};
use crate::detectors::explain::ExplainOptions;
use crate::detectors::{registry, JobCtx, ParamKind, Params};
use crate::service::detect::{
    run_detect, top_rows, DetectRequest, Metrics, ThresholdReport, Timing,
};
use crate::service::explain::{explain_training_rows, ExplainedRow, Selection};
use crate::service::export::{write_scores_file, ExportFormat, OriginalColumns, ScoresTable};
use crate::service::jobs::JobKind;
use crate::text::sanitize;

#[derive(Debug, Args)]
pub struct DetectorsArgs {
    /// Print the whole registry as JSON (parameters with types, ranges and defaults).
    #[arg(long)]
    pub json: bool,
}

pub fn list_detectors(args: DetectorsArgs) -> CliResult {
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        // One list: the batch detectors, then the streaming ones (family `streaming`).
        let mut all: Vec<serde_json::Value> = Vec::new();
        for d in registry() {
            all.push(serde_json::to_value(d).map_err(|e| CliError::internal(e.to_string()))?);
        }
        for d in crate::streaming::streaming_registry() {
            all.push(serde_json::to_value(d).map_err(|e| CliError::internal(e.to_string()))?);
        }
        output::write_json(&mut out, &all)
    } else {
        write_registry_table(&mut out)
    };
    written.map_err(output_error)
}

/// One row of the detectors table, batch or streaming.
struct Listed {
    name: &'static str,
    family: &'static str,
    complexity: &'static str,
    summary: &'static str,
    params: &'static [crate::detectors::ParamSpec],
}

fn write_registry_table(out: &mut impl Write) -> std::io::Result<()> {
    let rows: Vec<Listed> = registry()
        .iter()
        .map(|d| Listed {
            name: d.name,
            family: d.family.name(),
            complexity: d.complexity,
            summary: d.summary,
            params: d.params,
        })
        .chain(
            crate::streaming::streaming_registry()
                .iter()
                .map(|d| Listed {
                    name: d.name,
                    family: d.family,
                    complexity: d.complexity,
                    summary: d.summary,
                    params: d.params,
                }),
        )
        .collect();
    // Columns as wide as their longest entry and two spaces apart: a long complexity never
    // runs into the summary.
    let width = |f: &dyn Fn(&Listed) -> usize, title: &str| {
        rows.iter().map(f).chain([title.len()]).max().unwrap_or(0)
    };
    let name_w = width(&|d| d.name.len(), "name");
    let family_w = width(&|d| d.family.len(), "family");
    let complexity_w = width(&|d| d.complexity.chars().count(), "complexity");
    let indent = name_w + family_w + complexity_w + 6;
    writeln!(
        out,
        "{:<name_w$}  {:<family_w$}  {:<complexity_w$}  summary / parameters (default, range)",
        "name", "family", "complexity"
    )?;
    for d in &rows {
        writeln!(
            out,
            "{:<name_w$}  {:<family_w$}  {:<complexity_w$}  {}",
            d.name, d.family, d.complexity, d.summary
        )?;
        for p in d.params {
            let log = match p.kind {
                ParamKind::Int { log: true, .. } | ParamKind::Float { log: true, .. } => {
                    ", log scale"
                }
                _ => "",
            };
            let default = crate::detectors::show_param(p.name, &p.default.to_value());
            writeln!(
                out,
                "{:<indent$}{} = {} ({}{log}): {}",
                "",
                p.name,
                default,
                p.describe_range(),
                p.help
            )?;
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// A file, `-` for CSV on standard input, or `demo:NAME`.
    pub file: std::ffi::OsString,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Detector name (see `pynomaly detectors`).
    #[arg(long, short = 'd')]
    pub detector: String,
    /// A detector parameter, `name=value`; repeat for several.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    #[command(flatten)]
    pub prepare: PrepareOptions,
    /// Share of anomalies expected, in (0, 0.5]: flags the top C of scores (PyOD's default 0.1).
    #[arg(long, default_value_t = 0.1, conflicts_with = "threshold")]
    pub contamination: f64,
    /// Label-free threshold instead of contamination: iqr, mad, zscore, otsu, knee or gap.
    #[arg(long, value_name = "METHOD")]
    pub threshold: Option<String>,
    /// Seed for randomised detectors.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Print one JSON object with the run's parameters, timings, threshold and metrics.
    #[arg(long)]
    pub json: bool,
    /// Do not record the run in the experiment store.
    #[arg(long)]
    pub no_store: bool,
    #[command(flatten)]
    pub explain: ExplainArgs,
}

/// Per-feature explanations of the highest-scoring rows.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Explain the K highest-scoring rows: each feature's contribution to the score, its value,
    /// percentile and robust z-score (in the JSON as `explanations`).
    #[arg(long, value_name = "K")]
    pub explain: Option<usize>,
    /// How to explain: the detector's own explanation (auto) or Shapley sampling (any detector).
    #[arg(long, value_name = "METHOD", default_value = "auto")]
    pub explain_method: ExplainMethodArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExplainMethodArg {
    Auto,
    Shapley,
}

impl ExplainMethodArg {
    pub fn method(self) -> crate::detectors::explain::Method {
        match self {
            ExplainMethodArg::Auto => crate::detectors::explain::Method::Auto,
            ExplainMethodArg::Shapley => crate::detectors::explain::Method::Shapley,
        }
    }
}

/// Where the scores go.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write row id, score and anomaly flag to a .csv, .parquet or .json file, or `-` for CSV on
    /// standard output (the summary then goes to standard error).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Original columns to keep in --output: none (default), all, or a comma-separated list.
    #[arg(
        long,
        value_name = "all|none|A,B",
        default_value = "none",
        requires = "output"
    )]
    pub output_columns: String,
    /// Write only the flagged rows to --output.
    #[arg(long, requires = "output")]
    pub flagged_only: bool,
}

impl OutputArgs {
    /// Checks what can be checked before any work.
    pub fn check(&self, json: bool) -> CliResult<()> {
        if let Some(path) = &self.output {
            if ExportFormat::of_path(path).is_none() {
                return Err(CliError::bad_input(format!(
                    "--output {}: expected a .csv, .parquet or .json file name, or - for standard output",
                    path.display()
                )));
            }
            if json && self.to_stdout() {
                return Err(CliError::bad_input(
                    "--output - and --json both write to standard output; choose one",
                ));
            }
        }
        Ok(())
    }

    pub fn to_stdout(&self) -> bool {
        self.output.as_ref().is_some_and(|p| p.as_os_str() == "-")
    }

    /// Writes the scores when --output was given.
    pub fn write(
        &self,
        loaded: &crate::data::Loaded,
        row_ids: &[u64],
        scores: &[f64],
        flags: &[u8],
    ) -> CliResult<()> {
        let Some(path) = &self.output else {
            return Ok(());
        };
        let columns: OriginalColumns = self.output_columns.parse().map_err(CliError::bad_input)?;
        write_scores_file(
            path,
            &ScoresTable {
                loaded,
                row_ids,
                scores,
                flags,
                columns: &columns,
                flagged_only: self.flagged_only,
            },
        )?;
        Ok(())
    }

    /// Where the human-readable summary goes: standard error when the scores use stdout.
    pub fn summary_sink(&self) -> Box<dyn Write> {
        if self.to_stdout() {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    }
}

/// `1713 (0.1561), 1661 (0.1318), …` for summaries.
pub(super) fn describe_top(top: &[(u64, f64)]) -> String {
    top.iter()
        .map(|(row, s)| format!("{row} ({})", output::num(*s)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Serialize)]
struct DetectReport {
    /// The run's id in the experiment store; absent with `--no-store`.
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<i64>,
    detector: String,
    params: Params,
    source: String,
    n_rows: usize,
    n_features: usize,
    seed: u64,
    label: Option<String>,
    timing: Timing,
    threshold: ThresholdReport,
    n_anomalies: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<Metrics>,
    /// Row ids (0-based rows of the input) of the highest scores, most anomalous first.
    top_anomalies: Vec<(u64, f64)>,
    /// Columns of the file that are not features, with the reason (as `prepare` reports them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    skipped_columns: Vec<(String, String)>,
    /// (column, count) of missing values filled in (as `prepare` reports them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    imputed: Vec<(String, usize)>,
    /// (column, count) of ±infinity values, treated as missing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    infinite: Vec<(String, usize)>,
    /// Rows left out because a feature was missing (missing-value policy `drop_row`).
    #[serde(skip_serializing_if = "is_zero")]
    dropped_rows: usize,
    /// `--explain K`: the K highest-scoring rows, explained.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    explanations: Vec<ExplainedRow>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub fn detect(args: DetectArgs, store_path: Option<&Path>) -> CliResult {
    // Everything that can be checked without data is checked first.
    let method = threshold_method(args.threshold.as_deref(), args.contamination)?;
    let request = DetectRequest::new(&args.detector, &args.params, method, args.seed)?;
    args.output.check(args.json)?;
    // A store that cannot be used is reported before any work, not after a long fit.
    let mut store = store_unless(args.no_store, store_path)?;
    let data = load_dataset(&args.file, &args.load, &args.prepare)?;
    // Ctrl-C cancels the fit: the stored run ends as `cancelled`, the exit status is 130.
    let interrupt = StopOnInterrupt::start(JobKind::Fit);
    let ctx = JobCtx::new(args.seed).sharing_cancel(interrupt.ticket().cancel.flag());
    let outcome = run_detect(&data, &request, &ctx, store.as_mut());
    let outcome = outcome?;
    let explanations = match args.explain.explain {
        Some(k) if k > 0 => explain_training_rows(
            &data.loaded,
            &data.prepared,
            &outcome.model,
            &outcome.scores,
            &Selection::Top(k),
            &ExplainOptions {
                method: args.explain.explain_method.method(),
                seed: args.seed,
                ..ExplainOptions::default()
            },
            &ctx,
        )?,
        _ => Vec::new(),
    };
    interrupt.finish();

    let (loaded, prepared) = (&data.loaded, &data.prepared);
    let m = &prepared.matrix;
    let report = DetectReport {
        run_id: outcome.run_id,
        detector: request.detector.name.to_string(),
        params: request.params.clone(),
        source: loaded.source.clone(),
        n_rows: m.x.nrows(),
        n_features: m.x.ncols(),
        seed: args.seed,
        label: prepared.report.label_column.clone(),
        timing: outcome.timing,
        threshold: outcome.threshold.clone(),
        n_anomalies: outcome.n_anomalies,
        metrics: outcome.metrics.clone(),
        top_anomalies: top_rows(&m.row_ids, &outcome.scores, 10),
        skipped_columns: prepared.report.dropped_columns.clone(),
        imputed: prepared.report.imputed.clone(),
        infinite: prepared.report.infinite.clone(),
        dropped_rows: prepared.report.dropped_rows,
        explanations,
    };
    // After the run is recorded: a scores file that cannot be written does not lose the run.
    args.output
        .write(loaded, &m.row_ids, &outcome.scores, &outcome.flags)?;
    let mut out = args.output.summary_sink();
    let written = if args.json {
        output::write_json(&mut out, &report)
    } else {
        write_detect_summary(&mut out, &report)
    };
    written.map_err(output_error)
}

fn write_detect_summary(out: &mut impl Write, r: &DetectReport) -> std::io::Result<()> {
    let params = r.params.describe();
    writeln!(
        out,
        "{} on {}: {} rows × {} features",
        r.detector,
        sanitize(&r.source),
        r.n_rows,
        r.n_features
    )?;
    if !params.is_empty() {
        writeln!(out, "Parameters  {}", params.join(", "))?;
    }
    // A column that silently went missing would change the answer unnoticed.
    for (column, why) in &r.skipped_columns {
        writeln!(
            out,
            "Skipped     {}: {}",
            output::cell(column, 40),
            sanitize(why)
        )?;
    }
    // So are filled-in values: the scores are of the prepared matrix, not of the file.
    output::write_missing_values(out, 12, r.dropped_rows, &r.imputed, &r.infinite)?;
    writeln!(
        out,
        "Time        load {:.3} s, fit {:.3} s, threshold {:.3} s",
        r.timing.load_s, r.timing.fit_s, r.timing.score_s
    )?;
    writeln!(
        out,
        "Threshold   {} = {} → {} anomalies ({:.2} %)",
        r.threshold.method,
        output::num(r.threshold.value),
        r.n_anomalies,
        100.0 * r.n_anomalies as f64 / r.n_rows as f64
    )?;
    if let (Some(m), Some(label)) = (&r.metrics, &r.label) {
        writeln!(out, "Metrics     vs {}: {}", sanitize(label), m.describe())?;
    }
    writeln!(out, "Top rows    {}", describe_top(&r.top_anomalies))?;
    if let Some(id) = r.run_id {
        writeln!(out, "Run         {id} (pynomaly experiments show {id})")?;
    }
    output::write_explanations(out, &r.explanations)
}

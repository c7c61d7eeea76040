//! `pynomaly detectors` and `pynomaly detect`: the registry as a table, and one detector run on a
//! file with threshold, metrics, timings and an optional scores file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::awake::KeepCoresAwake;
use super::{
    load_and_prepare, output, output_error, store_unless, CliError, CliResult, LabelArgs, LoadArgs,
};
use crate::detectors::{self, registry, DetectError, JobCtx, ParamKind, Params};
use crate::metrics;
use crate::record::{self, FinishedRun};
use crate::store::RunEnd;
use crate::text::sanitize;
use crate::threshold::{self, ThresholdMethod};

impl From<DetectError> for CliError {
    fn from(e: DetectError) -> Self {
        CliError {
            message: e.to_string(),
            code: if e.is_bad_input() { 2 } else { 1 },
        }
    }
}

#[derive(Debug, Args)]
pub struct DetectorsArgs {
    /// Print the whole registry as JSON (parameters with types, ranges and defaults).
    #[arg(long)]
    pub json: bool,
}

pub fn list_detectors(args: DetectorsArgs) -> CliResult {
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        output::write_json(&mut out, &registry())
    } else {
        write_registry_table(&mut out)
    };
    written.map_err(output_error)
}

fn write_registry_table(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<8} {:<14} {:<16} {}",
        "name", "family", "complexity", "summary / parameters (default, range)"
    )?;
    for d in registry() {
        writeln!(
            out,
            "{:<8} {:<14} {:<16} {}",
            d.name,
            d.family.name(),
            d.complexity,
            d.summary
        )?;
        for p in d.params {
            let log = match p.kind {
                ParamKind::Int { log: true, .. } | ParamKind::Float { log: true, .. } => {
                    ", log scale"
                }
                _ => "",
            };
            writeln!(
                out,
                "{:<41}{} = {} ({}{log}): {}",
                "",
                p.name,
                p.default.to_value(),
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
    pub file: String,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Detector name (see `pynomaly detectors`).
    #[arg(long, short = 'd')]
    pub detector: String,
    /// A detector parameter, `name=value`; repeat for several.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    #[command(flatten)]
    pub label: LabelArgs,
    /// Share of anomalies expected, in (0, 0.5]: flags the top C of scores (PyOD's default 0.1).
    #[arg(long, default_value_t = 0.1, conflicts_with = "threshold")]
    pub contamination: f64,
    /// Label-free threshold instead of contamination: iqr, mad, zscore, otsu, knee or gap.
    #[arg(long, value_name = "METHOD")]
    pub threshold: Option<String>,
    /// Seed for randomised detectors.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write row id, score and anomaly flag to a .csv or .parquet file.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print one JSON object with the run's parameters, timings, threshold and metrics.
    #[arg(long)]
    pub json: bool,
    /// Do not record the run in the experiment store.
    #[arg(long)]
    pub no_store: bool,
}

#[derive(Serialize)]
pub(super) struct Timing {
    load_s: f64,
    fit_s: f64,
    score_s: f64,
}

#[derive(Serialize)]
pub(super) struct ThresholdReport {
    pub method: String,
    pub value: f64,
}

#[derive(Serialize)]
pub(super) struct Metrics {
    pub roc_auc: Option<f64>,
    pub average_precision: Option<f64>,
    pub precision_at_n: Option<f64>,
}

impl Metrics {
    /// `ROC-AUC 0.9254, average precision 0.5502, precision@n 0.5284` for summaries.
    pub fn describe(&self) -> String {
        let show = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "n/a".into());
        format!(
            "ROC-AUC {}, average precision {}, precision@n {}",
            show(self.roc_auc),
            show(self.average_precision),
            show(self.precision_at_n)
        )
    }

    pub fn of(scores: &[f64], labels: &[u8]) -> Metrics {
        Metrics {
            roc_auc: metrics::roc_auc(scores, labels).ok(),
            average_precision: metrics::average_precision(scores, labels).ok(),
            precision_at_n: metrics::precision_at_n(scores, labels, None).ok(),
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

/// (row id, score) of the `k` highest scores, most anomalous first; ties by row order.
pub(super) fn top_rows(row_ids: &[u64], scores: &[f64], k: usize) -> Vec<(u64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    let k = k.min(order.len());
    if k == 0 {
        return Vec::new();
    }
    let by_score = |&a: &usize, &b: &usize| scores[b].total_cmp(&scores[a]).then(a.cmp(&b));
    order.select_nth_unstable_by(k - 1, by_score);
    order.truncate(k);
    order.sort_by(by_score);
    order.iter().map(|&i| (row_ids[i], scores[i])).collect()
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
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub fn detect(args: DetectArgs, store_path: Option<&Path>) -> CliResult {
    // Everything that can be checked without data is checked first.
    let info = detectors::registry::find(&args.detector)?;
    let given = info.parse_assignments(&args.params)?;
    let params = info.resolve(&given)?;
    let method = match &args.threshold {
        Some(m) => m
            .parse::<ThresholdMethod>()
            .map_err(|e| CliError::bad_input(format!("--threshold: {e}")))?,
        None => format!("contamination={}", args.contamination)
            .parse::<ThresholdMethod>()
            .map_err(|e| CliError::bad_input(format!("--contamination: {e}")))?,
    };
    if let Some(path) = &args.output {
        output_format(path)?;
    }
    let detector = info.build(&params);
    // A store that cannot be used is reported before any work, not after a long fit.
    let mut store = store_unless(args.no_store, store_path)?;

    // The other workers poll for work instead of sleeping (see `awake.rs` for why).
    let awake = KeepCoresAwake::while_loading();
    let (loaded, prepared, load_s) = load_and_prepare(&args.file, &args.load, args.label.choice())?;
    let awake = awake.until_scored();
    let m = &prepared.matrix;

    let run_id = match store.as_mut() {
        Some(store) => Some(record::begin(
            store, &loaded, &prepared, info.name, &params, args.seed,
        )?),
        None => None,
    };

    let ctx = JobCtx::new(args.seed);
    let started = Instant::now();
    let fitted = match detector.fit_on_pool(m.x.view(), &ctx) {
        Ok(f) => f,
        Err(e) => {
            let end = match e {
                DetectError::Cancelled => RunEnd::Cancelled,
                _ => RunEnd::Failed,
            };
            let e = in_file(&loaded.source, e);
            if let (Some(store), Some(id)) = (store.as_mut(), run_id) {
                store.end_run(id, end, &e.message)?;
            }
            return Err(e);
        }
    };
    let fit_s = started.elapsed().as_secs_f64();

    // Training scores come out of `fit` (PyOD's decision_scores_); what is left is the threshold.
    let started = Instant::now();
    let scores = fitted.training_scores.to_vec();
    let cut = match threshold::apply(&scores, method) {
        Ok(cut) => cut,
        Err(e) => {
            let e = CliError::internal(format!("threshold: {e}"));
            if let (Some(store), Some(id)) = (store.as_mut(), run_id) {
                store.end_run(id, RunEnd::Failed, &e.message)?;
            }
            return Err(e);
        }
    };
    let flags = threshold::flags(&scores, cut.value);
    let score_s = started.elapsed().as_secs_f64();
    drop(awake);

    let metrics = m
        .label
        .as_ref()
        .map(|label| Metrics::of(&scores, label.as_slice().expect("contiguous")));
    let top_anomalies = top_rows(&m.row_ids, &scores, 10);

    let report = DetectReport {
        run_id,
        detector: info.name.to_string(),
        params,
        source: loaded.source.clone(),
        n_rows: m.x.nrows(),
        n_features: m.x.ncols(),
        seed: args.seed,
        label: prepared.report.label_column.clone(),
        timing: Timing {
            load_s,
            fit_s,
            score_s,
        },
        threshold: ThresholdReport {
            method: cut.method.to_string(),
            value: cut.value,
        },
        n_anomalies: cut.n_flagged,
        metrics,
        top_anomalies,
        skipped_columns: prepared.report.dropped_columns.clone(),
        imputed: prepared.report.imputed.clone(),
        infinite: prepared.report.infinite.clone(),
        dropped_rows: prepared.report.dropped_rows,
    };
    if let (Some(store), Some(id)) = (store.as_mut(), run_id) {
        record::finish(
            store,
            id,
            FinishedRun {
                detector: info.name,
                params: &report.params,
                seed: args.seed,
                loaded: &loaded,
                prepared: &prepared,
                model: fitted.model,
                threshold_method: report.threshold.method.clone(),
                threshold_value: report.threshold.value,
                n_anomalies: report.n_anomalies,
                metrics: &report.metrics,
                timing: &report.timing,
                scores: &scores,
                flags: &flags,
            },
        )?;
    }
    // After the run is recorded: a scores file that cannot be written does not lose the run.
    if let Some(path) = &args.output {
        write_scores(path, &m.row_ids, &scores, &flags).map_err(|e| {
            CliError::bad_input(format!("{}: cannot write the scores: {e}", path.display()))
        })?;
    }
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        output::write_json(&mut out, &report)
    } else {
        write_detect_summary(&mut out, &report)
    };
    written.map_err(output_error)
}

fn in_file(source: &str, e: DetectError) -> CliError {
    let code = if e.is_bad_input() { 2 } else { 1 };
    CliError {
        message: format!("{source}: {e}"),
        code,
    }
}

fn write_detect_summary(out: &mut impl Write, r: &DetectReport) -> std::io::Result<()> {
    let params: Vec<String> = r.params.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
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
    Ok(())
}

pub(super) enum ScoresFormat {
    Csv,
    Parquet,
}

pub(super) fn output_format(path: &Path) -> CliResult<ScoresFormat> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("csv") => Ok(ScoresFormat::Csv),
        Some("parquet") | Some("pq") => Ok(ScoresFormat::Parquet),
        _ => Err(CliError::bad_input(format!(
            "--output {}: expected a .csv or .parquet file name",
            path.display()
        ))),
    }
}

pub(super) fn write_scores(
    path: &Path,
    row_ids: &[u64],
    scores: &[f64],
    flags: &[u8],
) -> std::io::Result<()> {
    use polars::prelude::*;
    match output_format(path).map_err(|e| std::io::Error::other(e.message))? {
        ScoresFormat::Csv => {
            let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
            writeln!(w, "row_id,score,is_anomaly")?;
            for ((id, s), f) in row_ids.iter().zip(scores).zip(flags) {
                writeln!(w, "{id},{s},{f}")?;
            }
            w.flush()
        }
        ScoresFormat::Parquet => {
            let mut df = df![
                "row_id" => row_ids,
                "score" => scores,
                "is_anomaly" => flags.iter().map(|&f| f == 1).collect::<Vec<bool>>(),
            ]
            .map_err(std::io::Error::other)?;
            ParquetWriter::new(std::fs::File::create(path)?)
                .finish(&mut df)
                .map_err(std::io::Error::other)?;
            Ok(())
        }
    }
}

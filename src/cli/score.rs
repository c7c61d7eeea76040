//! `pynomaly score`: apply a saved model (from the store or an exported file) to new data, with
//! the same preparation and the training threshold.

use std::io::Write;
use std::path::Path;

use clap::Args;
use serde::Serialize;

use super::detect::{describe_top, ExplainArgs, OutputArgs};
use super::{load_options, output, output_error, source_of, CliResult, LoadArgs};
use crate::detectors::explain::ExplainOptions;
use crate::detectors::{JobCtx, Params};
use crate::service::detect::{top_rows, Metrics, ThresholdReport};
use crate::service::explain::{explain_new_rows, ExplainedRow};
use crate::service::score::{self as score_service, ScoreTiming};
use crate::text::sanitize;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// A run id from the experiment store, or a model file from `experiments export-model`.
    #[arg(long, short = 'm', value_name = "RUN_ID|FILE")]
    pub model: String,
    /// New data: a file, `-` for CSV on standard input, or `demo:NAME`.
    pub file: std::ffi::OsString,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Print one JSON object with the model, threshold, counts and timings.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub explain: ExplainArgs,
}

#[derive(Serialize)]
struct ModelInfo {
    /// `run N` or the model file's path.
    origin: String,
    detector: String,
    params: Params,
    trained_on: String,
    trained_rows: usize,
}

#[derive(Serialize)]
struct ScoreReport {
    model: ModelInfo,
    source: String,
    n_rows: usize,
    n_features: usize,
    timing: ScoreTiming,
    threshold: ThresholdReport,
    n_anomalies: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<Metrics>,
    top_anomalies: Vec<(u64, f64)>,
    /// `--explain K`: the K highest-scoring rows, explained.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    explanations: Vec<ExplainedRow>,
}

pub fn score(args: ScoreArgs, store_path: Option<&Path>) -> CliResult {
    args.output.check(args.json)?;
    let (envelope, origin) = score_service::read_model(&args.model, store_path)?;
    let source = source_of(Some(&args.file))?;
    let outcome = score_service::score_source(&envelope, &source, &load_options(&args.load)?)?;
    let m = &outcome.prepared.matrix;
    args.output
        .write(&outcome.loaded, &m.row_ids, &outcome.scores, &outcome.flags)?;
    let report = ScoreReport {
        model: ModelInfo {
            origin,
            detector: envelope.detector.clone(),
            params: envelope.params.clone(),
            trained_on: envelope.training.source.clone(),
            trained_rows: envelope.training.n_rows,
        },
        source: outcome.source.clone(),
        n_rows: m.x.nrows(),
        n_features: m.x.ncols(),
        timing: outcome.timing,
        threshold: ThresholdReport {
            method: envelope.threshold.method.clone(),
            value: envelope.threshold.value,
        },
        n_anomalies: outcome.n_anomalies,
        metrics: outcome.metrics.clone(),
        top_anomalies: top_rows(&m.row_ids, &outcome.scores, 10),
        explanations: match args.explain.explain {
            Some(k) if k > 0 => explain_new_rows(
                &outcome.loaded,
                &outcome.prepared,
                &envelope.model,
                &outcome.scores,
                k,
                &ExplainOptions {
                    method: args.explain.explain_method.method(),
                    seed: envelope.seed,
                    ..ExplainOptions::default()
                },
                &JobCtx::new(envelope.seed),
            )?,
            _ => Vec::new(),
        },
    };
    let mut out = args.output.summary_sink();
    let written = if args.json {
        output::write_json(&mut out, &report)
    } else {
        write_score_summary(&mut out, &report)
    };
    written.map_err(output_error)
}

fn write_score_summary(out: &mut impl Write, r: &ScoreReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{} model ({}, trained on {}) applied to {}: {} rows × {} features",
        sanitize(&r.model.detector),
        sanitize(&r.model.origin),
        sanitize(&r.model.trained_on),
        sanitize(&r.source),
        r.n_rows,
        r.n_features
    )?;
    writeln!(
        out,
        "Time        load {:.3} s, score {:.3} s",
        r.timing.load_s, r.timing.score_s
    )?;
    writeln!(
        out,
        "Threshold   {} = {} (from training) → {} anomalies ({:.2} %)",
        sanitize(&r.threshold.method),
        output::num(r.threshold.value),
        r.n_anomalies,
        100.0 * r.n_anomalies as f64 / r.n_rows.max(1) as f64
    )?;
    if let Some(m) = &r.metrics {
        writeln!(out, "Metrics     {}", m.describe())?;
    }
    writeln!(out, "Top rows    {}", describe_top(&r.top_anomalies))?;
    output::write_explanations(out, &r.explanations)
}

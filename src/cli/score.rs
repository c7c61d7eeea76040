//! `pynomaly score`: apply a saved model (from the store or an exported file) to new data, with
//! the same preparation and the training threshold.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::awake::KeepCoresAwake;
use super::detect::{
    describe_top, output_format, top_rows, write_scores, Metrics, ThresholdReport,
};
use super::{load_options, output, output_error, source_of, CliError, CliResult, LoadArgs};
use crate::data;
use crate::detectors::Params;
use crate::saved_model::ModelEnvelope;
use crate::store::Store;
use crate::text::sanitize;
use crate::threshold;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// A run id from the experiment store, or a model file from `experiments export-model`.
    #[arg(long, short = 'm', value_name = "RUN_ID|FILE")]
    pub model: String,
    /// New data: a file, `-` for CSV on standard input, or `demo:NAME`.
    pub file: String,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Write row id, score and anomaly flag to a .csv or .parquet file.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print one JSON object with the model, threshold, counts and timings.
    #[arg(long)]
    pub json: bool,
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
struct ScoreTiming {
    load_s: f64,
    score_s: f64,
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
}

/// Reads the envelope: an existing file wins; otherwise a number is a run id in the store.
fn read_envelope(model: &str, store_path: Option<&Path>) -> CliResult<(ModelEnvelope, String)> {
    let as_path = Path::new(model);
    if as_path.exists() {
        let bytes = std::fs::read(as_path).map_err(|e| {
            CliError::bad_input(format!("{model}: cannot read the model file: {e}"))
        })?;
        let envelope = ModelEnvelope::from_json(&bytes, model)
            .map_err(|e| CliError::bad_input(e.to_string()))?;
        return Ok((envelope, model.to_string()));
    }
    let Ok(id) = model.parse::<i64>() else {
        return Err(CliError::bad_input(format!(
            "--model {model}: no such file, and not a run id"
        )));
    };
    let store = Store::open_default(store_path)?;
    let run = store.run(id)?;
    let bytes = store.model(id)?.ok_or_else(|| {
        CliError::bad_input(format!(
            "run {id} has no saved model (its status is {})",
            run.summary.status
        ))
    })?;
    let origin = format!("run {id}");
    let envelope = ModelEnvelope::from_json(&bytes, &origin)
        .map_err(|e| CliError::bad_input(e.to_string()))?;
    Ok((envelope, origin))
}

pub fn score(args: ScoreArgs, store_path: Option<&Path>) -> CliResult {
    if let Some(path) = &args.output {
        output_format(path)?;
    }
    let (envelope, origin) = read_envelope(&args.model, store_path)?;

    // The other workers poll for work instead of sleeping (see `awake.rs` for why).
    let awake = KeepCoresAwake::while_loading();
    let started = Instant::now();
    let source = source_of(Some(&args.file))?;
    let loaded = data::load(&source, &load_options(&args.load)?)?;
    let prepared = envelope.prepare.transform(&loaded.df, &loaded.source)?;
    let load_s = started.elapsed().as_secs_f64();
    let awake = awake.until_scored();
    let m = &prepared.matrix;
    if m.feature_names != envelope.feature_names {
        return Err(CliError::bad_input(format!(
            "{}: the prepared features ({}) do not match the model's ({})",
            loaded.source,
            m.feature_names.join(", "),
            envelope.feature_names.join(", ")
        )));
    }

    let started = Instant::now();
    let scores = envelope
        .model
        .score(m.x.view())
        .map_err(|e| CliError::bad_input(format!("{}: {e}", loaded.source)))?
        .to_vec();
    let flags = threshold::flags(&scores, envelope.threshold.value);
    let score_s = started.elapsed().as_secs_f64();
    drop(awake);

    let metrics = m
        .label
        .as_ref()
        .map(|label| Metrics::of(&scores, label.as_slice().expect("contiguous")));
    if let Some(path) = &args.output {
        write_scores(path, &m.row_ids, &scores, &flags).map_err(|e| {
            CliError::bad_input(format!("{}: cannot write the scores: {e}", path.display()))
        })?;
    }
    let report = ScoreReport {
        model: ModelInfo {
            origin,
            detector: envelope.detector.clone(),
            params: envelope.params.clone(),
            trained_on: envelope.training.source.clone(),
            trained_rows: envelope.training.n_rows,
        },
        source: loaded.source.clone(),
        n_rows: m.x.nrows(),
        n_features: m.x.ncols(),
        timing: ScoreTiming { load_s, score_s },
        threshold: ThresholdReport {
            method: envelope.threshold.method.clone(),
            value: envelope.threshold.value,
        },
        n_anomalies: flags.iter().filter(|&&f| f == 1).count(),
        metrics,
        top_anomalies: top_rows(&m.row_ids, &scores, 10),
    };
    let mut out = std::io::stdout().lock();
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
        r.model.detector,
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
        r.threshold.method,
        output::num(r.threshold.value),
        r.n_anomalies,
        100.0 * r.n_anomalies as f64 / r.n_rows.max(1) as f64
    )?;
    if let Some(m) = &r.metrics {
        writeln!(out, "Metrics     {}", m.describe())?;
    }
    writeln!(out, "Top rows    {}", describe_top(&r.top_anomalies))
}

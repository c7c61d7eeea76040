//! `pynomaly experiments`: list, show, compare, export and delete the runs in the store, export a
//! run's model, and check the store file for damage.
//!
//! Everything read from the store is untrusted (the file may have been edited or crafted): every
//! string goes through `sanitize` before it reaches the terminal or a report.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use crate::service::run_view::{preparation_text, reproduce_command};
use serde_json::Value;

use super::output::{self, NewFileMode};
use super::{output_error, CliError, CliResult};
use crate::service::detect::top_rows;
use crate::store::{recover_command, RunDetail, RunFilter, RunSummary, Store};
use crate::text::{sanitize, truncate};

#[derive(Debug, Subcommand)]
pub enum ExperimentsCommand {
    /// List runs, newest first.
    List(ListArgs),
    /// Everything stored about one run: parameters, preparation, metrics, timings, top rows.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Parameters, metrics and timings of several runs side by side.
    Compare {
        #[arg(required = true, num_args = 2..)]
        ids: Vec<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Delete runs with their scores and models (asks first unless --yes).
    Delete {
        #[arg(required = true)]
        ids: Vec<i64>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Export a run: scores as CSV, everything as JSON, or a short Markdown report.
    Export {
        id: i64,
        #[arg(long, value_enum, default_value = "md")]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Write a run's saved model (with its preparation) to a file for `pynomaly score`.
    ExportModel {
        id: i64,
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
    },
    /// Check the whole store file for damage (SQLite's integrity check): "ok" or the problems.
    Check,
}

/// Problems `experiments check` prints; the rest are only said to exist.
const CHECK_SHOWN: usize = 20;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only runs whose dataset path contains this text.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Only runs of this detector.
    #[arg(long)]
    pub detector: Option<String>,
    /// Only runs with this status (running, done, failed, cancelled, interrupted).
    #[arg(long)]
    pub status: Option<String>,
    /// At most this many runs (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
    Md,
}

pub fn run(command: ExperimentsCommand, store_path: Option<&Path>) -> CliResult {
    let mut store = Store::open_default(store_path)?;
    match command {
        ExperimentsCommand::List(args) => list(&store, args),
        ExperimentsCommand::Show { id, json } => show(&store, id, json),
        ExperimentsCommand::Compare { ids, json } => compare(&store, &ids, json),
        ExperimentsCommand::Delete { ids, yes } => delete(&mut store, &ids, yes),
        ExperimentsCommand::Export { id, format, output } => {
            export(&store, id, format, output.as_deref())
        }
        ExperimentsCommand::ExportModel { id, output } => export_model(&store, id, &output),
        ExperimentsCommand::Check => check(&store),
    }
}

fn list(store: &Store, args: ListArgs) -> CliResult {
    let runs = store.list_runs(&RunFilter {
        dataset: args.dataset,
        detector: args.detector,
        status: args.status,
        limit: Some(args.limit),
    })?;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        output::write_json(&mut out, &runs)
    } else {
        write_run_table(&mut out, &runs, store.path())
    };
    written.map_err(output_error)
}

fn write_run_table(out: &mut impl Write, runs: &[RunSummary], path: &Path) -> std::io::Result<()> {
    if runs.is_empty() {
        return writeln!(
            out,
            "No runs in {} yet (record one with `pynomaly detect FILE -d NAME`).",
            sanitize(&path.display().to_string())
        );
    }
    writeln!(
        out,
        "{:>5}  {:<19}  {:<6}  {:<8}  {:<11}  {:>13}  {:>7}  {:>7}  {:>8}  dataset",
        "id",
        "started (UTC)",
        "kind",
        "detector",
        "status",
        "rows×feat",
        "flagged",
        "ROC-AUC",
        "time"
    )?;
    for r in runs {
        let shape = match (r.n_rows, r.n_features) {
            (Some(n), Some(d)) => format!("{n}×{d}"),
            _ => "-".into(),
        };
        writeln!(
            out,
            "{:>5}  {:<19}  {:<6}  {:<8}  {:<11}  {:>13}  {:>7}  {:>7}  {:>8}  {}",
            r.id,
            sanitize(&r.started),
            sanitize(&r.kind),
            truncate(&sanitize(&r.detector), 8),
            sanitize(&r.status),
            shape,
            r.n_anomalies
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            r.roc_auc
                .map(|v| format!("{v:.4}"))
                .unwrap_or_else(|| "-".into()),
            r.duration_s
                .map(|s| format!("{s:.2} s"))
                .unwrap_or_else(|| "-".into()),
            truncate(&sanitize(r.dataset.as_deref().unwrap_or("-")), 60),
        )?;
    }
    Ok(())
}

/// Compact text for a JSON value in a table cell.
fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => sanitize(s).into_owned(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => output::num(f),
            _ => n.to_string(),
        },
        other => sanitize(&other.to_string()).into_owned(),
    }
}

/// A stored parameter as the faces show it (`auto` for a 0 that means so; see `show_param`),
/// sanitised: the store is untrusted.
fn param_text(name: &str, v: &Value) -> String {
    match crate::detectors::params::show_stored_param(name, v) {
        Some(text) => sanitize(&text).into_owned(),
        None => value_text(v),
    }
}

fn fields(v: &Value) -> Vec<(String, &Value)> {
    match v {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        _ => Vec::new(),
    }
}

fn show(store: &Store, id: i64, json: bool) -> CliResult {
    let run = store.run(id)?;
    let top = match store.scores(id)? {
        Some(s) => top_rows(&s.row_ids, &s.scores, 10),
        None => Vec::new(),
    };
    let trials = store.trials(id)?;
    let mut out = std::io::stdout().lock();
    let written = if json {
        let mut value = serde_json::to_value(&run).expect("run serialises");
        value["top_anomalies"] = serde_json::to_value(&top).expect("numbers serialise");
        if !trials.is_empty() {
            value["trials"] = serde_json::to_value(&trials).expect("trials serialise");
        }
        output::write_json(&mut out, &value)
    } else {
        write_show(&mut out, &run, &top)
    };
    written.map_err(output_error)
}

fn write_show(out: &mut impl Write, r: &RunDetail, top: &[(u64, f64)]) -> std::io::Result<()> {
    let s = &r.summary;
    writeln!(
        out,
        "Run {} · {} · {} · started {} UTC{}",
        s.id,
        sanitize(&s.kind),
        sanitize(&s.detector),
        sanitize(&s.started),
        s.duration_s
            .map(|d| format!(" · {d:.2} s"))
            .unwrap_or_default()
    )?;
    writeln!(out, "Status      {}", sanitize(&s.status))?;
    if let Some(e) = &r.error {
        writeln!(out, "Error       {}", sanitize(e))?;
    }
    writeln!(
        out,
        "Dataset     {} ({})",
        sanitize(s.dataset.as_deref().unwrap_or("-")),
        sanitize(r.dataset_fingerprint.as_deref().unwrap_or("-"))
    )?;
    if let (Some(n), Some(d)) = (s.n_rows, s.n_features) {
        writeln!(
            out,
            "Matrix      {n} rows × {d} features{}",
            r.label_column
                .as_deref()
                .map(|l| format!(", label {}", sanitize(l)))
                .unwrap_or_default()
        )?;
    }
    writeln!(
        out,
        "Seed        {} · Pynomaly {}",
        r.seed,
        sanitize(&r.app_version)
    )?;
    let params: Vec<String> = fields(&r.params)
        .iter()
        .map(|(k, v)| format!("{}={}", sanitize(k), sanitize(&param_text(k, v))))
        .collect();
    writeln!(
        out,
        "Parameters  {}",
        if params.is_empty() {
            "(none)".into()
        } else {
            params.join(", ")
        }
    )?;
    writeln!(out, "Preparation {}", sanitize(&preparation_text(r)))?;
    if let Some(command) = reproduce_command(r) {
        writeln!(out, "Reproduce   {}", sanitize(&command))?;
    }
    if let (Some(m), Some(v)) = (&r.threshold_method, r.threshold_value) {
        writeln!(
            out,
            "Threshold   {} = {} → {} anomalies",
            sanitize(m),
            output::num(crate::service::run_view::threshold_value(v)),
            s.n_anomalies.unwrap_or(0)
        )?;
    }
    let metrics: Vec<String> = fields(&r.metrics)
        .iter()
        .map(|(k, v)| format!("{} {}", sanitize(k), value_text(v)))
        .collect();
    if !metrics.is_empty() {
        writeln!(out, "Metrics     {}", metrics.join(", "))?;
    }
    let timing: Vec<String> = fields(&r.timing)
        .iter()
        .map(|(k, v)| format!("{} {}", sanitize(k), value_text(v)))
        .collect();
    if !timing.is_empty() {
        writeln!(out, "Timing      {}", timing.join(", "))?;
    }
    if r.n_trials > 0 {
        writeln!(out, "Trials      {}", r.n_trials)?;
    }
    if r.has_model {
        writeln!(
            out,
            "Model       saved (pynomaly score --model {} FILE)",
            r.summary.id
        )?;
    } else {
        writeln!(out, "Model       none")?;
    }
    if !top.is_empty() {
        let top: Vec<String> = top
            .iter()
            .map(|(row, s)| format!("{row} ({})", output::num(*s)))
            .collect();
        writeln!(out, "Top rows    {}", top.join(", "))?;
    }
    Ok(())
}

fn compare(store: &Store, ids: &[i64], json: bool) -> CliResult {
    let runs: Vec<RunDetail> = ids
        .iter()
        .map(|&id| store.run(id))
        .collect::<Result<_, _>>()?;
    let mut out = std::io::stdout().lock();
    if json {
        return output::write_json(&mut out, &serde_json::json!({ "runs": runs }))
            .map_err(output_error);
    }
    // Rows: identity, then the union of parameter, metric and timing names.
    let mut rows: Vec<(String, Vec<String>)> = vec![
        (
            "detector".into(),
            runs.iter()
                .map(|r| sanitize(&r.summary.detector).into_owned())
                .collect(),
        ),
        (
            "dataset".into(),
            runs.iter()
                .map(|r| {
                    let d = r.summary.dataset.as_deref().unwrap_or("-");
                    let name = Path::new(d)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| d.to_string());
                    truncate(&sanitize(&name), 24).into_owned()
                })
                .collect(),
        ),
        (
            "status".into(),
            runs.iter()
                .map(|r| sanitize(&r.summary.status).into_owned())
                .collect(),
        ),
        (
            "seed".into(),
            runs.iter().map(|r| r.seed.to_string()).collect(),
        ),
        (
            "rows×features".into(),
            runs.iter()
                .map(|r| match (r.summary.n_rows, r.summary.n_features) {
                    (Some(n), Some(d)) => format!("{n}×{d}"),
                    _ => "-".into(),
                })
                .collect(),
        ),
    ];
    for (section, get) in [
        (
            "param",
            (|r: &RunDetail| &r.params) as fn(&RunDetail) -> &Value,
        ),
        ("metric", |r: &RunDetail| &r.metrics),
        ("time", |r: &RunDetail| &r.timing),
    ] {
        let names: BTreeSet<String> = runs
            .iter()
            .flat_map(|r| fields(get(r)).into_iter().map(|(k, _)| k))
            .collect();
        for name in names {
            let cells = runs
                .iter()
                .map(|r| {
                    let v = get(r).get(&name).unwrap_or(&Value::Null);
                    if section == "param" && !v.is_null() {
                        param_text(&name, v)
                    } else {
                        value_text(v)
                    }
                })
                .collect();
            rows.push((format!("{section} {}", sanitize(&name)), cells));
        }
        if section == "param" {
            rows.push((
                "threshold".into(),
                runs.iter()
                    .map(|r| match (&r.threshold_method, r.threshold_value) {
                        (Some(m), Some(v)) => format!(
                            "{} = {}",
                            sanitize(m),
                            output::num(crate::service::run_view::threshold_value(v))
                        ),
                        _ => "-".into(),
                    })
                    .collect(),
            ));
            rows.push((
                "flagged".into(),
                runs.iter()
                    .map(|r| {
                        r.summary
                            .n_anomalies
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "-".into())
                    })
                    .collect(),
            ));
        }
    }
    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = (0..runs.len())
        .map(|i| {
            rows.iter()
                .map(|(_, c)| c[i].chars().count())
                .chain([format!("run {}", runs[i].summary.id).len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let write = |out: &mut std::io::StdoutLock, label: &str, cells: &[String]| {
        let mut line = format!("{label:<label_width$}");
        for (cell, w) in cells.iter().zip(&widths) {
            line.push_str(&format!("  {cell:>w$}"));
        }
        writeln!(out, "{}", line.trim_end())
    };
    let header: Vec<String> = runs
        .iter()
        .map(|r| format!("run {}", r.summary.id))
        .collect();
    write(&mut out, "", &header).map_err(output_error)?;
    for (label, cells) in &rows {
        write(&mut out, label, cells).map_err(output_error)?;
    }
    Ok(())
}

fn delete(store: &mut Store, ids: &[i64], yes: bool) -> CliResult {
    let runs: Vec<RunDetail> = ids
        .iter()
        .map(|&id| store.run(id))
        .collect::<Result<_, _>>()?;
    if !yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(CliError::bad_input(
                "refusing to delete without confirmation: add --yes (standard input is not a terminal)",
            ));
        }
        let mut err = std::io::stderr().lock();
        for r in &runs {
            let _ = writeln!(
                err,
                "  run {} · {} on {} · {} · {}",
                r.summary.id,
                sanitize(&r.summary.detector),
                sanitize(r.summary.dataset.as_deref().unwrap_or("-")),
                sanitize(&r.summary.started),
                sanitize(&r.summary.status)
            );
        }
        let _ = write!(
            err,
            "Delete {} with {} scores and models? [y/N] ",
            if runs.len() == 1 {
                "1 run".to_string()
            } else {
                format!("{} runs", runs.len())
            },
            if runs.len() == 1 { "its" } else { "their" }
        );
        let _ = err.flush();
        let mut answer = String::new();
        stdin
            .lock()
            .read_line(&mut answer)
            .map_err(|e| CliError::internal(format!("reading the answer: {e}")))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            return Err(CliError {
                message: "nothing deleted".into(),
                code: 1,
            });
        }
    }
    let mut out = std::io::stdout().lock();
    for r in &runs {
        if store.delete_run(r.summary.id)? {
            writeln!(out, "deleted run {}", r.summary.id).map_err(output_error)?;
        }
    }
    Ok(())
}

fn export(store: &Store, id: i64, format: ExportFormat, path: Option<&Path>) -> CliResult {
    let run = store.run(id)?;
    let scores = store.scores(id)?;
    if matches!(format, ExportFormat::Csv) && scores.is_none() {
        return Err(CliError::bad_input(format!(
            "run {id} has no scores (status {})",
            run.summary.status
        )));
    }
    let json = match format {
        ExportFormat::Json => {
            let mut value = serde_json::to_value(&run).expect("run serialises");
            if let Some(s) = &scores {
                value["scores"] = serde_json::json!({
                    "row_id": s.row_ids, "score": s.scores, "is_anomaly": s.flags,
                });
            }
            let trials = store.trials(id)?;
            if !trials.is_empty() {
                value["trials"] = serde_json::to_value(&trials).expect("trials serialise");
            }
            value
        }
        _ => Value::Null,
    };
    let write = |mut out: &mut dyn Write| -> std::io::Result<()> {
        match format {
            ExportFormat::Csv => {
                writeln!(out, "row_id,score,is_anomaly")?;
                if let Some(s) = &scores {
                    for ((r, v), f) in s.row_ids.iter().zip(&s.scores).zip(&s.flags) {
                        writeln!(out, "{r},{v},{f}")?;
                    }
                }
                Ok(())
            }
            ExportFormat::Json => output::write_json(&mut out, &json),
            ExportFormat::Md => write_markdown(out, &run, scores.as_ref()),
        }
    };
    match path {
        Some(p) => output::replace_file(p, NewFileMode::Usual, write)
            .map_err(|e| write_error(p, "the export", e)),
        None => {
            let mut stdout = std::io::stdout().lock();
            write(&mut stdout)
                .and_then(|_| stdout.flush())
                .map_err(output_error)
        }
    }
}

/// A file given with `-o` that could not be written, or that is not a file to replace.
fn write_error(path: &Path, what: &str, e: std::io::Error) -> CliError {
    if output::is_not_regular_file(&e) {
        CliError::bad_input(format!("{}: {e}", path.display()))
    } else {
        CliError::bad_input(format!("{}: cannot write {what}: {e}", path.display()))
    }
}

/// Text safe inside a Markdown table cell.
fn md_cell(text: &str) -> String {
    sanitize(text).replace('|', "\\|")
}

fn write_markdown(
    out: &mut dyn Write,
    r: &RunDetail,
    scores: Option<&crate::store::StoredScores>,
) -> std::io::Result<()> {
    let s = &r.summary;
    let dataset = s.dataset.as_deref().unwrap_or("-");
    writeln!(
        out,
        "# Run {}: {} on {}\n",
        s.id,
        md_cell(&s.detector),
        md_cell(dataset)
    )?;
    writeln!(
        out,
        "- Status: **{}**; started {} UTC{}",
        md_cell(&s.status),
        md_cell(&s.started),
        s.duration_s
            .map(|d| format!(", took {d:.2} s"))
            .unwrap_or_default()
    )?;
    if let Some(e) = &r.error {
        writeln!(out, "- Error: {}", md_cell(e))?;
    }
    if let (Some(n), Some(d)) = (s.n_rows, s.n_features) {
        writeln!(
            out,
            "- Data: {n} rows × {d} features{}; fingerprint `{}`",
            r.label_column
                .as_deref()
                .map(|l| format!(", label column `{}`", md_cell(l)))
                .unwrap_or_default(),
            md_cell(r.dataset_fingerprint.as_deref().unwrap_or("-"))
        )?;
    }
    writeln!(
        out,
        "- Seed {}; Pynomaly {}\n",
        r.seed,
        md_cell(&r.app_version)
    )?;
    let params = fields(&r.params);
    if params.is_empty() {
        writeln!(
            out,
            "## Parameters\n\nNone: the detector has no parameters."
        )?;
    } else {
        writeln!(out, "## Parameters\n\n| parameter | value |\n|---|---|")?;
    }
    for (k, v) in params {
        writeln!(out, "| {} | {} |", md_cell(&k), md_cell(&param_text(&k, v)))?;
    }
    writeln!(out, "\n## Preparation\n\n{}", md_cell(&preparation_text(r)))?;
    if let Some(command) = reproduce_command(r) {
        writeln!(
            out,
            "\nTo repeat the run:\n\n```sh\n{}\n```",
            crate::text::sanitize(&command).replace("```", "'''")
        )?;
    }
    if let (Some(m), Some(v)) = (&r.threshold_method, r.threshold_value) {
        let n = s.n_anomalies.unwrap_or(0);
        let share = s
            .n_rows
            .filter(|&rows| rows > 0)
            .map(|rows| format!(" ({:.2} %)", 100.0 * n as f64 / rows as f64))
            .unwrap_or_default();
        writeln!(
            out,
            "\n## Threshold\n\n{} = {} → **{n} anomalies**{share}",
            md_cell(m),
            output::num(crate::service::run_view::threshold_value(v))
        )?;
    }
    let metrics = fields(&r.metrics);
    if !metrics.is_empty() {
        writeln!(out, "\n## Metrics\n\n| metric | value |\n|---|---|")?;
        for (k, v) in metrics {
            writeln!(out, "| {} | {} |", md_cell(&k), md_cell(&value_text(v)))?;
        }
    }
    let timing = fields(&r.timing);
    if !timing.is_empty() {
        writeln!(out, "\n## Timing\n\n| step | seconds |\n|---|---|")?;
        for (k, v) in timing {
            writeln!(out, "| {} | {} |", md_cell(&k), md_cell(&value_text(v)))?;
        }
    }
    if let Some(sc) = scores {
        writeln!(
            out,
            "\n## Top anomalies\n\n| rank | row | score |\n|---|---|---|"
        )?;
        for (rank, (row, score)) in top_rows(&sc.row_ids, &sc.scores, 10).iter().enumerate() {
            writeln!(out, "| {} | {row} | {} |", rank + 1, output::num(*score))?;
        }
    }
    Ok(())
}

fn export_model(store: &Store, id: i64, path: &Path) -> CliResult {
    let run = store.run(id)?;
    let bytes = store.model(id)?.ok_or_else(|| {
        CliError::bad_input(format!(
            "run {id} has no saved model (status {})",
            run.summary.status
        ))
    })?;
    // Owner-only, like the store: models of neighbour methods contain the training rows.
    output::replace_file(path, NewFileMode::Private, |out| out.write_all(&bytes))
        .map_err(|e| write_error(path, "the model", e))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote the model of run {id} ({}, {} bytes) to {}",
        sanitize(&run.summary.detector),
        bytes.len(),
        sanitize(&path.display().to_string())
    )
    .map_err(output_error)
}

/// `PRAGMA integrity_check` over the whole file, however long it takes.
fn check(store: &Store) -> CliResult {
    let problems = store.integrity_problems(CHECK_SHOWN + 1)?;
    let mut out = std::io::stdout().lock();
    if problems.is_empty() {
        return writeln!(out, "ok").map_err(output_error);
    }
    for p in problems.iter().take(CHECK_SHOWN) {
        writeln!(out, "{}", truncate(p, 300)).map_err(output_error)?;
    }
    if problems.len() > CHECK_SHOWN {
        writeln!(out, "… (more problems not shown)").map_err(output_error)?;
    }
    let path = store.path().display().to_string();
    Err(CliError::bad_input(format!(
        "store {path} is damaged (problems above); nothing was changed. Recover what can be read with `{}`, or use --store to choose another file",
        recover_command(&path)
    )))
}

//! `pynomaly automl`: search detectors and parameters on a file, show a leaderboard, record the
//! search (with every trial) and the best model in the store.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::detect::describe_top;
use super::interrupt::StopOnInterrupt;
use super::{
    load_dataset, output, output_error, store_unless, threshold_method, CliError, CliResult,
    LoadArgs, PrepareOptions,
};
use crate::automl::{self, Metric, Outcome, Protocol, Strategy, Trial, TrialStatus};
use crate::detectors::JobCtx;
use crate::service::automl::{self as automl_service, AutomlOptions, AutomlTiming};
use crate::service::detect::{top_rows, Metrics, ThresholdReport};
use crate::service::jobs::JobKind;
use crate::text::sanitize;

#[derive(Debug, Args)]
pub struct AutomlArgs {
    /// A file, `-` for CSV on standard input, or `demo:NAME`.
    pub file: std::ffi::OsString,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub prepare: PrepareOptions,
    /// Objective: auc or ap (need a label), or label-free (default without a label). With
    /// label-free the label is only used to report how good the final choice is.
    #[arg(long, value_name = "auc|ap|label-free")]
    pub metric: Option<String>,
    /// With a label: `unsupervised` (fit and score all rows) or `holdout` (fit on 70 %,
    /// measure on the other 30 %, stratified).
    #[arg(
        long,
        default_value = "unsupervised",
        value_name = "unsupervised|holdout"
    )]
    pub protocol: String,
    /// Search strategy: random, halving (successive halving over subsample sizes) or tpe
    /// (model-based, tree-structured Parzen estimator).
    #[arg(long, default_value = "random", value_name = "random|halving|tpe")]
    pub strategy: String,
    /// Number of trials.
    #[arg(long, default_value_t = 50)]
    pub trials: usize,
    /// Wall-time budget, e.g. 60s, 5m (the search stops starting trials after it).
    #[arg(long, value_name = "TIME")]
    pub budget: Option<String>,
    /// Detectors or families to search, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub detectors: Option<Vec<String>>,
    /// Also try the rank average of the best trials of the K best detectors as a final
    /// candidate (0: no ensemble).
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub ensemble: usize,
    /// Share of anomalies the refitted best model flags, in (0, 0.5] (PyOD's default 0.1).
    #[arg(long, default_value_t = 0.1, conflicts_with = "threshold")]
    pub contamination: f64,
    /// Label-free threshold for the best model instead: iqr, mad, zscore, otsu, knee or gap.
    #[arg(long, value_name = "METHOD")]
    pub threshold: Option<String>,
    /// Seed: same seed, same trials, same result.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object (best, trials, strategy, metric, timing).
    #[arg(long)]
    pub json: bool,
    /// Do not record the search in the experiment store.
    #[arg(long)]
    pub no_store: bool,
}

fn parse_budget(text: &str) -> CliResult<Duration> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let value: f64 = number.trim().parse().map_err(|_| {
        CliError::bad_input(format!(
            "--budget {text:?}: expected a time such as 30s, 5m or 1h"
        ))
    })?;
    let seconds = match unit {
        "s" | "sec" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(CliError::bad_input(format!(
                "--budget {text:?}: unknown unit {unit:?}; use s, m or h"
            )))
        }
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(CliError::bad_input(format!(
            "--budget {text:?}: expected a positive time"
        )));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[derive(Serialize)]
struct BestReport {
    detector: String,
    params: crate::detectors::Params,
    objective: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<Metrics>,
    threshold: ThresholdReport,
    n_anomalies: usize,
}

#[derive(Serialize)]
struct AutomlReport<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<i64>,
    source: String,
    n_rows: usize,
    n_features: usize,
    label: Option<String>,
    metric: &'static str,
    /// What `metric` was measured on.
    protocol: Protocol,
    strategy: Strategy,
    seed: u64,
    best: Option<BestReport>,
    n_trials: usize,
    n_done: usize,
    stopped_early: bool,
    /// Stopped by Ctrl-C or SIGTERM (finished trials kept).
    interrupted: bool,
    /// Left out of the search as too slow for this many rows (name them to include them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    skipped_detectors: Vec<&'static str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    consensus_members: &'a [String],
    timing: AutomlTiming,
    trials: &'a [Trial],
}

pub fn automl(args: AutomlArgs, store_path: Option<&Path>) -> CliResult {
    // Everything that can be checked without data first.
    let strategy = Strategy::parse(&args.strategy)?;
    let budget = args.budget.as_deref().map(parse_budget).transpose()?;
    let holdout = match args.protocol.as_str() {
        "unsupervised" => false,
        "holdout" | "hold-out" => true,
        other => {
            return Err(CliError::bad_input(format!(
                "--protocol {other:?}: expected unsupervised or holdout"
            )))
        }
    };
    let threshold = threshold_method(args.threshold.as_deref(), args.contamination)?;
    let options = AutomlOptions {
        detectors: args.detectors.clone(),
        metric: args.metric.as_deref().map(Metric::parse).transpose()?,
        holdout,
        strategy,
        trials: args.trials,
        budget,
        ensemble: args.ensemble,
        seed: args.seed,
        threshold,
    };
    automl_service::check_options(&options)?;
    let mut store = store_unless(args.no_store, store_path)?;

    let data = load_dataset(&args.file, &args.load, &args.prepare)?;
    let (loaded, prepared) = (&data.loaded, &data.prepared);
    let m = &prepared.matrix;
    let plan = automl_service::plan_automl(prepared, &options)
        .map_err(|e| CliError::from(e.context(&loaded.source)))?;

    let progress = (!args.json || std::io::stderr().is_terminal())
        .then(|| progress_bar(args.trials))
        .flatten();
    let best_so_far = std::sync::Mutex::new(f64::NEG_INFINITY);
    let on_trial = |t: &Trial| {
        if let Some(bar) = &progress {
            if let Some(o) = t.objective {
                let mut best = best_so_far.lock().expect("not poisoned");
                if o > *best {
                    *best = o;
                    bar.set_message(format!("best {o:.4} ({})", t.detector));
                }
            }
            bar.inc(1);
        }
    };
    // While the search runs, Ctrl-C cancels it: the finished trials and the best model are kept.
    let interrupt = StopOnInterrupt::start(JobKind::Automl);
    let ctx = JobCtx::new(args.seed).sharing_cancel(interrupt.ticket().cancel.flag());
    let outcome = automl_service::run_automl(&data, &plan, &ctx, &on_trial, store.as_mut());
    let interrupted = interrupt.finish();
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    if interrupted {
        eprintln!("Interrupted: the finished trials are kept and the best of them is refitted (Ctrl-C again exits at once).");
    }
    let outcome = outcome?;
    let search = &outcome.search;

    let top_anomalies = outcome
        .best
        .as_ref()
        .map(|b| top_rows(&m.row_ids, &b.scores, 10))
        .unwrap_or_default();
    let report = AutomlReport {
        run_id: outcome.run_id,
        source: loaded.source.clone(),
        n_rows: m.x.nrows(),
        n_features: m.x.ncols(),
        label: prepared.report.label_column.clone(),
        metric: plan.config.metric.name(),
        protocol: plan.config.protocol,
        strategy,
        seed: args.seed,
        best: outcome.best.as_ref().map(|b| BestReport {
            detector: b.detector.clone(),
            params: b.params.clone(),
            objective: b.objective,
            metrics: b.metrics.clone(),
            threshold: b.threshold.clone(),
            n_anomalies: b.n_anomalies,
        }),
        n_trials: search.trials.len(),
        n_done: search
            .trials
            .iter()
            .filter(|t| matches!(t.status, TrialStatus::Done))
            .count(),
        stopped_early: search.stopped_early,
        interrupted,
        skipped_detectors: plan.skipped_detectors.clone(),
        consensus_members: &search.consensus_members,
        timing: outcome.timing,
        trials: &search.trials,
    };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        output::write_json(&mut out, &report)
    } else {
        write_leaderboard(&mut out, &report, search, &top_anomalies)
    };
    written.map_err(output_error)?;
    if report.best.is_none() {
        let reason = search.no_best_reason();
        return Err(if search.stopped_early && !interrupted {
            // The budget ended the search before one trial finished: the user can fix that.
            CliError::bad_input(format!(
                "{}: {reason}; the budget was too small for one trial on {} rows × {} features: give a larger --budget or name faster detectors with --detectors",
                loaded.source,
                m.x.nrows(),
                m.x.ncols()
            ))
        } else if interrupted {
            CliError {
                message: reason.to_string(),
                code: 130,
            }
        } else {
            CliError::bad_input(format!("{}: {reason}", loaded.source))
        });
    }
    Ok(())
}

fn progress_bar(total: usize) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} trials {elapsed} {msg}")
            .ok()?,
    );
    Some(bar)
}

fn write_leaderboard(
    out: &mut impl Write,
    r: &AutomlReport<'_>,
    outcome: &Outcome,
    top: &[(u64, f64)],
) -> std::io::Result<()> {
    let protocol = match r.protocol {
        Protocol::Unsupervised => "all rows fitted and scored".to_string(),
        Protocol::Holdout { test_fraction } => format!(
            "fitted on {:.0} %, measured on the other {:.0} % (stratified)",
            100.0 * (1.0 - test_fraction),
            100.0 * test_fraction
        ),
    };
    writeln!(
        out,
        "AutoML on {}: {} rows × {} features · {} search, {} of {} trials done in {:.2} s{}",
        sanitize(&r.source),
        r.n_rows,
        r.n_features,
        r.strategy.name(),
        r.n_done,
        r.n_trials,
        r.timing.search_s,
        if r.interrupted {
            " (interrupted)"
        } else if r.stopped_early {
            " (budget reached)"
        } else {
            ""
        }
    )?;
    let what = match r.metric {
        "label-free" => format!(
            "label-free: Spearman agreement with the rank-averaged consensus of {} (labels not used)",
            r.consensus_members.join(", ")
        ),
        m => format!("{m} against {} ({protocol})", sanitize(r.label.as_deref().unwrap_or("-"))),
    };
    writeln!(out, "Objective   {what}")?;
    if !r.skipped_detectors.is_empty() {
        writeln!(
            out,
            "Left out    {} (quadratic in rows; above {} rows name them with --detectors to include them)",
            r.skipped_detectors.join(", "),
            automl::QUADRATIC_ROW_LIMIT
        )?;
    }
    let mut ranked: Vec<&Trial> = outcome
        .trials
        .iter()
        .filter(|t| t.objective.is_some())
        .collect();
    // Trials on more rows first: halving's subsample rungs are not comparable with all rows.
    ranked.sort_by(|a, b| {
        b.fit_rows.cmp(&a.fit_rows).then(
            b.objective
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&a.objective.unwrap_or(f64::NEG_INFINITY))
                .then(a.number.cmp(&b.number)),
        )
    });
    writeln!(
        out,
        "\n rank  trial  detector  objective  ROC-AUC      rows      time  parameters"
    )?;
    for (i, t) in ranked.iter().take(10).enumerate() {
        let params = t.params.describe();
        writeln!(
            out,
            " {:>4}  {:>5}  {:<8}  {:>9.4}  {:>7}  {:>8}  {:>6.2} s  {}",
            i + 1,
            t.number,
            t.detector,
            t.objective.unwrap_or(f64::NAN),
            t.metrics
                .roc_auc
                .map(|a| format!("{a:.4}"))
                .unwrap_or_else(|| "-".into()),
            t.fit_rows,
            t.time_s,
            params.join(", ")
        )?;
    }
    let failed = outcome
        .trials
        .iter()
        .filter(|t| matches!(t.status, TrialStatus::Failed))
        .count();
    if failed > 0 {
        writeln!(out, "({failed} trial(s) failed; --json lists their errors)")?;
    }
    if let Some(b) = &r.best {
        let params = b.params.describe();
        writeln!(
            out,
            "\nBest        {} ({}) objective {:.4}",
            b.detector,
            params.join(", "),
            b.objective
        )?;
        if let Some(m) = &b.metrics {
            let show =
                |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "n/a".into());
            writeln!(
                out,
                "Refitted on all rows: ROC-AUC {}, average precision {}{}",
                show(m.roc_auc),
                show(m.average_precision),
                if r.metric == "label-free" {
                    " (the label was not used to choose)"
                } else {
                    ""
                }
            )?;
        }
        writeln!(out, "Top rows    {}", describe_top(top))?;
    }
    if let Some(id) = r.run_id {
        writeln!(
            out,
            "Run         {id} (pynomaly experiments show {id}; score new data with pynomaly score --model {id})"
        )?;
    }
    Ok(())
}

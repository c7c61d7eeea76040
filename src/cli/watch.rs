//! `pynomaly watch SOURCE`: score every record of a growing source as it arrives (see
//! `service::watch`). `--ndjson` writes one object per record, flushed per line; otherwise a
//! live table of the alerts. Ctrl-C, SIGTERM and SIGHUP stop it cleanly with a summary.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Map, Value};

use super::interrupt::StopOnInterrupt;
use super::{CliError, CliResult};
use crate::service::jobs::JobKind;
use crate::service::watch::{
    ScoredRecord, Watch, WatchEvent, WatchSpec, WatchStep, DEFAULT_COOLDOWN, DEFAULT_DRIFT_WINDOW,
    DEFAULT_PROBABILITY, DEFAULT_WARMUP,
};
use crate::streaming::records::Selection;
use crate::text::sanitize;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A CSV (with a header) or NDJSON file, followed as it grows; `-` for standard input;
    /// `demo:NAME` replays a bundled dataset (see --rate).
    pub source: String,
    /// Streaming detector (`pynomaly detectors` lists the `streaming` family).
    #[arg(long, short = 'd', default_value = crate::streaming::DEFAULT_DETECTOR)]
    pub detector: String,
    /// A detector parameter, `name=value`; repeat for several.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// The time column (default: one named timestamp, time, date, datetime or ts).
    #[arg(long, value_name = "COL")]
    pub time: Option<String>,
    /// The columns to watch (default: every numeric column but the time).
    #[arg(long, value_name = "A,B,…", value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// The detector's window (its `window` parameter).
    #[arg(long, value_name = "N")]
    pub window: Option<usize>,
    /// Records at the start that raise no alert (probability 0) while the detector learns.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_WARMUP)]
    pub warmup: usize,
    /// Alert when a record's anomaly probability reaches this (default: Numenta's "red"
    /// likelihood, a Gaussian tail of 1e-5).
    #[arg(long, value_name = "P", default_value_t = DEFAULT_PROBABILITY)]
    pub probability: f64,
    /// Alert instead when the raw score exceeds this threshold of the last 1000 raw scores:
    /// contamination=C, iqr, mad, zscore, otsu, knee or gap (as `detect --threshold`).
    #[arg(long, value_name = "METHOD", conflicts_with = "probability")]
    pub threshold: Option<String>,
    /// After an alert, this many records have their probability held at 0, so that one event
    /// raises one alert (0: no cooldown).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_COOLDOWN)]
    pub cooldown: usize,
    /// Records per drift window: each feature's first ones are its reference, the last ones are
    /// tested against it (KS) every quarter window; 0 turns drift detection off.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_DRIFT_WINDOW)]
    pub drift_window: usize,
    /// Read to the current end and stop (the streaming path, evaluated on a file).
    #[arg(long)]
    pub once: bool,
    /// One JSON object per record (and per event), in input order, flushed per line.
    #[arg(long)]
    pub ndjson: bool,
    /// Replay speed of a demo source, e.g. `200/s` (default 100/s; all at once with --once).
    #[arg(long, value_name = "N/s")]
    pub rate: Option<String>,
    /// Seed of the randomised detectors.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Record nothing in the experiment store.
    #[arg(long)]
    pub no_store: bool,
}

/// How long one wait for new lines lasts: the bound on the latency from an appended line to its
/// score, and on how late a stop request is seen.
const POLL_WAIT: Duration = Duration::from_millis(10);

pub fn watch(args: WatchArgs) -> CliResult {
    let rate = match &args.rate {
        Some(text) => Some(parse_rate(text)?),
        None if args.once => None,
        None => Some(100.0),
    };
    let threshold = match &args.threshold {
        Some(m) => Some(
            m.parse::<crate::threshold::ThresholdMethod>()
                .map_err(|e| CliError::bad_input(format!("--threshold: {e}")))?,
        ),
        None => None,
    };
    let mut watch = Watch::open(WatchSpec {
        source: args.source.clone(),
        once: args.once,
        rate,
        detector: args.detector.clone(),
        params: args.params.clone(),
        window: args.window,
        warmup: args.warmup,
        probability: args.probability,
        threshold,
        cooldown: args.cooldown,
        drift_window: args.drift_window,
        seed: args.seed,
        selection: Selection {
            features: args.features.clone(),
            time: args.time.clone(),
        },
    })?;
    let stop = StopOnInterrupt::start(JobKind::Watch);
    let started = Instant::now();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut header_done = false;
    let outcome = loop {
        if stop.ticket().cancel.is_cancelled() {
            break Ok(());
        }
        let step = match watch.step(POLL_WAIT) {
            Ok(step) => step,
            Err(e) => break Err(CliError::from(e)),
        };
        let records = match step {
            WatchStep::Records(records) => records,
            WatchStep::Restarted => {
                if !args.ndjson {
                    eprintln!(
                        "pynomaly: {} started again (rotated or truncated)",
                        sanitize(&watch.source_name())
                    );
                }
                continue;
            }
            WatchStep::Ended => break Ok(()),
        };
        if records.is_empty() {
            continue;
        }
        let written = if args.ndjson {
            write_ndjson(&mut out, &records)
        } else {
            if !header_done {
                header_done = true;
                writeln!(
                    out,
                    "Watching {} · {} on {} · alerts {}",
                    sanitize(&watch.source_name()),
                    sanitize(&args.detector),
                    sanitize(&watch.features().join(", ")),
                    match &args.threshold {
                        Some(m) => format!("above {} of the recent scores", sanitize(m)),
                        None => format!("at probability ≥ {}", args.probability),
                    }
                )
                .and_then(|()| {
                    writeln!(
                        out,
                        "{:>8}  {:<20} {:>10} {:>11}  values",
                        "row", "time", "score", "probability"
                    )
                })
            } else {
                Ok(())
            }
            .and_then(|()| write_alerts(&mut out, &records, watch.features()))
        };
        // Followers read the output live: every batch goes out at once.
        if let Err(e) = written.and_then(|()| out.flush()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break Ok(());
            }
            break Err(CliError::internal(format!("cannot write the output: {e}")));
        }
    };
    let interrupted = stop.finish();
    drop(out);
    outcome?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut summary = format!(
        "{} record{}, {} alert{} in {:.1} s ({:.0} records/s){}",
        watch.rows,
        if watch.rows == 1 { "" } else { "s" },
        watch.alerts,
        if watch.alerts == 1 { "" } else { "s" },
        elapsed,
        watch.rows as f64 / elapsed.max(1e-9),
        if interrupted { "; stopped" } else { "" }
    );
    if watch.malformed > 0 {
        summary.push_str(&format!(
            "; {} lines could not be read (scored as missing)",
            watch.malformed
        ));
    }
    let shingles: Vec<String> = watch
        .shingle_lens()
        .iter()
        .filter(|&&w| w > 1)
        .map(|w| w.to_string())
        .collect();
    if !shingles.is_empty() {
        summary.push_str(&format!("; patterns of {} records", shingles.join(", ")));
    }
    eprintln!("pynomaly watch: {summary}");
    Ok(())
}

fn parse_rate(text: &str) -> CliResult<f64> {
    let number = text.trim().trim_end_matches("/s");
    match number.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(CliError::bad_input(format!(
            "--rate: expected records per second such as 200/s, got {:?}",
            sanitize(text)
        ))),
    }
}

fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// One JSON line; text from the source (times, feature names) may hold C1 controls or bidi
/// overrides that serde leaves as raw UTF-8.
fn write_line(out: &mut impl Write, value: &Value) -> std::io::Result<()> {
    let text = serde_json::to_string(value).map_err(std::io::Error::other)?;
    out.write_all(crate::text::sanitize_json_text(&text).as_bytes())?;
    out.write_all(b"\n")
}

fn write_ndjson(out: &mut impl Write, records: &[ScoredRecord]) -> std::io::Result<()> {
    for r in records {
        let mut object = Map::new();
        object.insert("row".into(), json!(r.row));
        if let Some(t) = &r.time {
            object.insert("time".into(), json!(t));
        }
        object.insert("score".into(), number(r.score));
        object.insert("probability".into(), number(r.probability));
        object.insert("is_anomaly".into(), json!(r.is_anomaly));
        write_line(out, &Value::Object(object))?;
        // Events on lines of their own, after the record that revealed them.
        for e in &r.events {
            let event = match e {
                WatchEvent::Drift {
                    feature,
                    statistic,
                    p_value,
                } => json!({"event": "drift", "row": r.row, "feature": feature, "test": "ks",
                            "statistic": number(*statistic), "p_value": number(*p_value)}),
                WatchEvent::Change { statistic } => json!({"event": "change", "row": r.row,
                            "test": "page_hinkley", "statistic": number(*statistic)}),
            };
            write_line(out, &event)?;
        }
    }
    Ok(())
}

fn write_alerts(
    out: &mut impl Write,
    records: &[ScoredRecord],
    features: &[String],
) -> std::io::Result<()> {
    for r in records {
        for e in &r.events {
            match e {
                WatchEvent::Drift {
                    feature,
                    statistic,
                    p_value,
                } => writeln!(
                    out,
                    "{:>8}  {:<20} drift in {} (KS {:.3}, p {:.1e})",
                    r.row,
                    sanitize(r.time.as_deref().unwrap_or("")),
                    sanitize(feature),
                    statistic,
                    p_value
                )?,
                WatchEvent::Change { statistic } => writeln!(
                    out,
                    "{:>8}  {:<20} the scores' level rose (Page–Hinkley {:.1})",
                    r.row,
                    sanitize(r.time.as_deref().unwrap_or("")),
                    statistic
                )?,
            }
        }
        if !r.is_anomaly {
            continue;
        }
        let values: Vec<String> = features
            .iter()
            .zip(&r.values)
            .take(8)
            .map(|(f, v)| format!("{}={}", sanitize(f), super::output::num(*v)))
            .collect();
        writeln!(
            out,
            "{:>8}  {:<20} {:>10.4} {:>11.6}  {}",
            r.row,
            sanitize(r.time.as_deref().unwrap_or("")),
            r.score,
            r.probability,
            values.join(" ")
        )?;
    }
    Ok(())
}

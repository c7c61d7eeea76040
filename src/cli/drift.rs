//! `pynomaly drift REF CURRENT`: has the data changed? A table (or `--json`) of per-feature
//! tests between two files; see `service::drift`.

use std::io::Write;

use clap::Args;

use super::output::{self, cell, num};
use super::{load_options, output_error, source_of, CliResult, LoadArgs};
use crate::service::drift::compare_files;
use crate::text::sanitize;

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The reference data (a path, `-`, or `demo:NAME`).
    pub reference: std::ffi::OsString,
    /// The data to compare with it.
    pub current: std::ffi::OsString,
    #[command(flatten)]
    pub load: LoadArgs,
    /// The columns to compare (default: every column both files have).
    #[arg(long, value_name = "A,B,…", value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// The false-alarm rate over all features (each feature is tested at alpha / features).
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    /// One JSON object: the files, alpha, and per feature its test, statistic, p-value, PSI,
    /// Wasserstein distance and whether it drifted.
    #[arg(long)]
    pub json: bool,
}

pub fn drift(args: DriftArgs) -> CliResult {
    let reference = source_of(Some(args.reference.as_os_str()))?;
    let current = source_of(Some(args.current.as_os_str()))?;
    let report = compare_files(
        &reference,
        &current,
        &load_options(&args.load)?,
        args.features.as_deref(),
        args.alpha,
    )?;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        output::write_json(&mut out, &report)
    } else {
        (|| -> std::io::Result<()> {
            writeln!(
                out,
                "Drift of {} against {} (each feature at p < {:.2e}: alpha {} over {} features)",
                sanitize(&report.current),
                sanitize(&report.reference),
                report.level,
                report.alpha,
                report.features.len()
            )?;
            writeln!(
                out,
                "{:<24} {:<5} {:>10} {:>10} {:>8} {:>12}  drifted",
                "feature", "test", "statistic", "p-value", "PSI", "Wasserstein"
            )?;
            for r in &report.features {
                let d = &r.drift;
                writeln!(
                    out,
                    "{:<24} {:<5} {:>10} {:>10} {:>8} {:>12}  {}",
                    cell(&d.feature, 24),
                    d.test,
                    num(d.statistic),
                    format!("{:.2e}", d.p_value),
                    d.psi.map_or_else(|| "—".into(), num),
                    d.wasserstein.map_or_else(|| "—".into(), num),
                    if r.drifted { "▲ yes" } else { "no" }
                )?;
            }
            for (column, why) in &report.skipped {
                writeln!(out, "Skipped {}: {}", cell(column, 40), sanitize(why))?;
            }
            Ok(())
        })()
    };
    written.map_err(output_error)
}

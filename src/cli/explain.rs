//! `pynomaly explain RUN_ID`: why rows of a stored run are anomalous.

use std::path::Path;

use clap::Args;

use super::detect::ExplainMethodArg;
use super::{load_options, output, output_error, CliResult, LoadArgs};
use crate::service::explain::{explain_run, Selection};
use crate::text::sanitize;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The stored run (see `pynomaly experiments list`).
    pub run_id: i64,
    /// A row to explain, by its row id (0-based row of the file); repeat for several.
    #[arg(long = "row", value_name = "ROW_ID")]
    pub rows: Vec<u64>,
    /// Explain the K highest-scoring rows (the default when no --row is given: 5).
    #[arg(long, value_name = "K", conflicts_with = "rows")]
    pub top: Option<usize>,
    /// The detector's own explanation (auto) or Shapley sampling (any detector).
    #[arg(long, value_name = "METHOD", default_value = "auto")]
    pub method: ExplainMethodArg,
    /// Seed of the sampling methods (default: the run's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn explain(args: ExplainArgs, store_path: Option<&Path>) -> CliResult {
    let selection = if args.rows.is_empty() {
        Selection::Top(args.top.unwrap_or(5))
    } else {
        Selection::RowIds(args.rows.clone())
    };
    let report = explain_run(
        store_path,
        args.run_id,
        &load_options(&args.load)?,
        &selection,
        args.method.method(),
        args.seed,
    )?;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        output::write_json(&mut out, &report)
    } else {
        use std::io::Write;
        writeln!(
            out,
            "Run {}: {} on {}",
            report.run_id,
            sanitize(&report.detector),
            sanitize(&report.source)
        )
        .and_then(|()| output::write_explanations(&mut out, &report.explanations))
    };
    written.map_err(output_error)
}

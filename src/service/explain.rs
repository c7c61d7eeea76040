//! Explanations as both faces show them: for chosen rows of a dataset and a model fitted on it,
//! each feature's contribution with its raw value, percentile and robust z-score, and the
//! contributions summed per source column (one-hot features fold back into their column).
//! The field names are the JSON contract of `detect --explain`, `explain` and `score --explain`.

use serde::Serialize;

use super::error::{catch_panic, ServiceError, ServiceResult};
use crate::data::load::Loaded;
use crate::data::prepare::{FittedEncoding, Prepared};
use crate::detectors::explain::{self as library, ExplainOptions, FeatureStats, Rows};
use crate::detectors::{JobCtx, Model};

/// Which rows to explain.
#[derive(Debug, Clone)]
pub enum Selection {
    /// The `k` highest-scoring rows.
    Top(usize),
    /// These rows, by their id (0-based row of the source table).
    RowIds(Vec<u64>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplainedRow {
    pub row_id: u64,
    /// 1 = the highest score.
    pub rank: usize,
    pub score: f64,
    pub method: String,
    /// Every feature, the largest contribution first.
    pub contributions: Vec<FeatureContribution>,
    /// The contributions summed per source column, the largest first.
    pub columns: Vec<ColumnContribution>,
    /// Proximity detectors: the row ids of the neighbours the score was measured against.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub neighbours: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureContribution {
    pub feature: String,
    /// The source column the feature was prepared from.
    pub column: String,
    /// The value before scaling.
    pub value: f64,
    /// Its percentile among the training values of the feature (0–100).
    pub percentile: f64,
    /// `(value − median) / (1.4826·MAD)`; `null` for a constant feature.
    pub robust_z: Option<f64>,
    pub contribution: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnContribution {
    pub column: String,
    /// The row's original value in that column, as text.
    pub value: String,
    pub contribution: f64,
}

/// Explains rows of the training data of a model fitted on `prepared` (a `detect` run, or a
/// stored run whose dataset was read again); `scores` are the training scores.
pub fn explain_training_rows(
    loaded: &Loaded,
    prepared: &Prepared,
    model: &Model,
    scores: &[f64],
    selection: &Selection,
    options: &ExplainOptions,
    ctx: &JobCtx,
) -> ServiceResult<Vec<ExplainedRow>> {
    let m = &prepared.matrix;
    if scores.len() != m.x.nrows() {
        return Err(ServiceError::internal(format!(
            "{} scores for {} rows",
            scores.len(),
            m.x.nrows()
        )));
    }
    let ranks = ranks(scores);
    let picked: Vec<usize> = match selection {
        Selection::Top(k) => ranks.order.iter().take(*k).copied().collect(),
        Selection::RowIds(ids) => ids
            .iter()
            .map(|id| {
                m.row_ids.iter().position(|r| r == id).ok_or_else(|| {
                    ServiceError::input(format!(
                        "row {id} is not among the rows the detector saw ({} rows; rows dropped by preparation are not scored)",
                        m.row_ids.len()
                    ))
                })
            })
            .collect::<ServiceResult<_>>()?,
    };
    let explained = catch_panic("explain", || {
        Ok(library::explain(
            model,
            m.x.view(),
            Rows::Training(&picked),
            options,
            ctx,
        )?)
    })?;
    let stats = FeatureStats::new(m.x.view());
    let columns = feature_columns(prepared);
    Ok(picked
        .iter()
        .zip(explained)
        .map(|(&i, e)| {
            let values: Vec<f64> = m.x.row(i).to_vec();
            let original = |column: &str| original_value(loaded, column, m.row_ids[i]);
            assemble(
                m.row_ids[i],
                ranks.rank[i],
                scores[i],
                &values,
                e,
                &m.feature_names,
                &columns,
                prepared,
                &stats,
                &original,
                &m.row_ids,
            )
        })
        .collect())
}

/// Rank of every row (1 = highest score; ties by row order) and the rows in rank order.
struct Ranks {
    order: Vec<usize>,
    rank: Vec<usize>,
}

fn ranks(scores: &[f64]) -> Ranks {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut rank = vec![0; scores.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r + 1;
    }
    Ranks { order, rank }
}

/// The source column of each feature, from the fitted preparation (a one-hot column gives one
/// feature per category); the feature's own name where the preparation does not say.
/// The file columns the features were prepared from, each once, in feature order.
pub fn source_columns(prepared: &Prepared) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    feature_columns(prepared)
        .into_iter()
        .filter(|c| seen.insert(c.clone()))
        .collect()
}

pub fn feature_columns(prepared: &Prepared) -> Vec<String> {
    let names = &prepared.matrix.feature_names;
    let Some(fitted) = &prepared.spec.fitted else {
        return names.clone();
    };
    let mut columns = Vec::with_capacity(names.len());
    for c in &fitted.columns {
        let width = match &c.encoding {
            FittedEncoding::OneHot { categories, other } => categories.len() + usize::from(*other),
            _ => 1,
        };
        columns.extend(std::iter::repeat_n(c.source.clone(), width));
    }
    if columns.len() == names.len() {
        columns
    } else {
        names.clone()
    }
}

/// The cell of `column` in source row `row_id`, as text ("" when absent).
pub fn original_value(loaded: &Loaded, column: &str, row_id: u64) -> String {
    let Ok(series) = loaded.df.column(column) else {
        return String::new();
    };
    match series.get(row_id as usize) {
        Ok(polars::prelude::AnyValue::Null) => "missing".into(),
        Ok(polars::prelude::AnyValue::String(s)) => s.to_string(),
        Ok(polars::prelude::AnyValue::StringOwned(s)) => s.to_string(),
        // Every digit (polars' display rounds to six decimals).
        Ok(polars::prelude::AnyValue::Float64(v)) => v.to_string(),
        Ok(polars::prelude::AnyValue::Float32(v)) => v.to_string(),
        Ok(v) => v.to_string(),
        Err(_) => String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    row_id: u64,
    rank: usize,
    score: f64,
    values: &[f64],
    e: library::RowExplanation,
    feature_names: &[String],
    columns: &[String],
    prepared: &Prepared,
    stats: &FeatureStats,
    original: &dyn Fn(&str) -> String,
    row_ids: &[u64],
) -> ExplainedRow {
    let scalers = prepared
        .spec
        .fitted
        .as_ref()
        .map(|f| f.scalers.as_slice())
        .unwrap_or(&[]);
    let mut contributions: Vec<FeatureContribution> = (0..values.len())
        .map(|j| {
            let v = values[j];
            let raw = match scalers.get(j) {
                Some(s) => v * s.scale + s.center,
                None => v,
            };
            FeatureContribution {
                feature: feature_names[j].clone(),
                column: columns[j].clone(),
                value: raw,
                percentile: stats.percentile(j, v),
                robust_z: stats.robust_z(j, v),
                contribution: e.contributions[j],
            }
        })
        .collect();
    let mut by_column: Vec<ColumnContribution> = Vec::new();
    for c in &contributions {
        match by_column.iter_mut().find(|b| b.column == c.column) {
            Some(b) => b.contribution += c.contribution,
            None => by_column.push(ColumnContribution {
                column: c.column.clone(),
                value: original(&c.column),
                contribution: c.contribution,
            }),
        }
    }
    contributions.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    by_column.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    ExplainedRow {
        row_id,
        rank,
        score,
        method: e.method.to_string(),
        contributions,
        columns: by_column,
        neighbours: e.neighbours.iter().map(|&n| row_ids[n]).collect(),
    }
}

/// A stored run's rows, explained.
#[derive(Debug, Clone, Serialize)]
pub struct RunExplanation {
    pub run_id: i64,
    pub detector: String,
    pub source: String,
    pub explanations: Vec<ExplainedRow>,
}

/// Explains rows of a stored run: its saved model, its dataset read again (it must be the same
/// content: the fingerprint is checked) and prepared with the run's fitted preparation, and the
/// stored scores. Without `seed`, the run's own seed.
pub fn explain_run(
    store_path: Option<&std::path::Path>,
    run_id: i64,
    load_options: &crate::data::LoadOptions,
    selection: &Selection,
    method: library::Method,
    seed: Option<u64>,
) -> ServiceResult<RunExplanation> {
    let (envelope, _) = super::score::read_model(&run_id.to_string(), store_path)?;
    let options = ExplainOptions {
        method,
        seed: seed.unwrap_or(envelope.seed),
        ..ExplainOptions::default()
    };
    let ctx = JobCtx::new(options.seed);
    let store = crate::store::Store::open_default(store_path)?;
    let stored = store
        .scores(run_id)?
        .ok_or_else(|| ServiceError::input(format!("run {run_id} has no stored scores")))?;
    // The store keeps the dataset's absolute path; the model has it as it was given.
    let stored_path = store.run(run_id).ok().and_then(|r| r.summary.dataset);
    let source_text = stored_path.as_ref().unwrap_or(&envelope.training.source);
    if source_text == "<stdin>" {
        return Err(ServiceError::input(format!(
            "run {run_id} was made on data from standard input: its rows cannot be read again \
             (explain new data with `pynomaly score --model {run_id} FILE --explain K`)"
        )));
    }
    let source = crate::data::Source::parse(source_text)
        .map_err(|e| ServiceError::from(e).context(&format!("run {run_id}'s dataset")))?;
    let (loaded, _) = super::detect::load(&source, load_options)
        .map_err(|e| e.context(&format!("run {run_id}'s dataset")))?;
    if loaded.fingerprint != envelope.training.fingerprint {
        return Err(ServiceError::input(format!(
            "{source_text}: the file changed since run {run_id} was made (its content differs), so its rows no longer match the stored scores"
        )));
    }
    let prepared = catch_panic("prepare", || {
        Ok(envelope.prepare.transform(&loaded.df, &loaded.source)?)
    })?;
    let m = &prepared.matrix;
    if m.feature_names != envelope.feature_names || m.row_ids != stored.row_ids {
        return Err(ServiceError::input(format!(
            "{source_text}: preparing it again does not give run {run_id}'s rows and features"
        )));
    }
    let explanations = explain_training_rows(
        &loaded,
        &prepared,
        &envelope.model,
        &stored.scores,
        selection,
        &options,
        &ctx,
    )?;
    Ok(RunExplanation {
        run_id,
        detector: envelope.detector.clone(),
        source: source_text.clone(),
        explanations,
    })
}

/// Explains the top `k` rows of new data scored by a saved model. Percentiles, and the
/// reference rows of methods that need some, come from the training rows where the model
/// keeps them, else from the scored data itself.
pub fn explain_new_rows(
    loaded: &Loaded,
    prepared: &Prepared,
    model: &Model,
    scores: &[f64],
    k: usize,
    options: &ExplainOptions,
    ctx: &JobCtx,
) -> ServiceResult<Vec<ExplainedRow>> {
    let m = &prepared.matrix;
    let ranks = ranks(scores);
    let picked: Vec<usize> = ranks.order.iter().take(k).copied().collect();
    let reference = library::training_data(model).unwrap_or(m.x.view());
    // The whole batch goes along: ECOD and COPOD scored each row together with the others.
    let explained = catch_panic("explain", || {
        Ok(library::explain(
            model,
            reference,
            Rows::NewIn {
                batch: m.x.view(),
                picks: &picked,
            },
            options,
            ctx,
        )?)
    })?;
    let stats = FeatureStats::new(reference);
    let columns = feature_columns(prepared);
    // Neighbours are rows of the model's training data: their ids are its row numbers.
    let training_ids: Vec<u64> = (0..reference.nrows() as u64).collect();
    Ok(picked
        .iter()
        .zip(explained)
        .map(|(&i, e)| {
            let original = |column: &str| original_value(loaded, column, m.row_ids[i]);
            assemble(
                m.row_ids[i],
                ranks.rank[i],
                scores[i],
                &m.x.row(i).to_vec(),
                e,
                &m.feature_names,
                &columns,
                prepared,
                &stats,
                &original,
                &training_ids,
            )
        })
        .collect())
}

/// A Markdown report of explained rows: what was run, then per row its strongest columns with
/// their values, contributions and percentiles. Text from the data is escaped for Markdown
/// tables and stripped of control characters.
pub fn markdown_report(title: &str, context: &[(String, String)], rows: &[ExplainedRow]) -> String {
    use std::fmt::Write as _;
    let cell = |text: &str| {
        crate::text::sanitize(text)
            .replace('|', "\\|")
            .replace('\n', " ")
    };
    let mut md = format!("# {}\n\n", cell(title));
    for (key, value) in context {
        let _ = writeln!(md, "- **{}**: {}", cell(key), cell(value));
    }
    for r in rows {
        let _ = writeln!(
            md,
            "\n## #{} · row {} · score {}\n\nExplained by `{}` (docs/explain.md).\n",
            r.rank, r.row_id, r.score, r.method
        );
        md.push_str("| column | value | contribution | percentile |\n|---|---|---:|---:|\n");
        for c in r.columns.iter().take(10) {
            let percentile = r
                .contributions
                .iter()
                .filter(|f| f.column == c.column)
                .map(|f| f.percentile)
                .collect::<Vec<_>>();
            let percentile = match percentile.as_slice() {
                [one] => format!("{one:.1}"),
                _ => String::new(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {:.4} | {percentile} |",
                cell(&c.column),
                cell(&c.value),
                c.contribution
            );
        }
        if !r.neighbours.is_empty() {
            let ids: Vec<String> = r.neighbours.iter().map(u64::to_string).collect();
            let _ = writeln!(md, "\nNearest rows: {}", ids.join(", "));
        }
    }
    md
}

/// Explains the top `k` training rows and writes the Markdown report to `path` (replaced
/// safely); returns how many rows it explains.
#[allow(clippy::too_many_arguments)]
pub fn write_report(
    path: &std::path::Path,
    loaded: &Loaded,
    prepared: &Prepared,
    model: &Model,
    scores: &[f64],
    k: usize,
    context: &[(String, String)],
    options: &ExplainOptions,
    ctx: &JobCtx,
) -> ServiceResult<usize> {
    let rows = explain_training_rows(
        loaded,
        prepared,
        model,
        scores,
        &Selection::Top(k),
        options,
        ctx,
    )?;
    let title = format!("Why these rows are anomalous: {}", loaded.source);
    let md = markdown_report(&title, context, &rows);
    crate::output_file::replace_file(path, crate::output_file::NewFileMode::Usual, |w| {
        w.write_all(md.as_bytes())
    })
    .map_err(|e| {
        ServiceError::input(format!("{}: cannot write the report: {e}", path.display()))
    })?;
    Ok(rows.len())
}

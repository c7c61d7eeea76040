//! From a table to the numeric matrix detectors need, by an explicit, serialisable recipe.
//!
//! A [`PrepareSpec`] holds the user's choices (label, features, encodings, missing values,
//! scaling). Fitting it on a frame learns what the transform needs (fill values, categories,
//! scaler statistics) and stores that in `spec.fitted`; replaying a fitted spec on new data
//! applies exactly the same transform. Everything done to the data is counted in a
//! [`PrepareReport`], and no NaN or infinity leaves this module.

use std::collections::HashMap;

use ndarray::{Array1, Array2, ArrayViewMut1, Axis};
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::column::{kind_of, ColumnKind};
use super::error::{DataError, DataResult};
use super::label;
use super::profile::{quantiles, time_candidate};

/// Category name given to missing text values (unless missing rows are dropped).
pub const MISSING_CATEGORY: &str = "(missing)";
/// Suffix of the one-hot column that collects categories beyond the cap.
pub const OTHER_CATEGORY: &str = "(other)";

/// Which column plays a role (label or time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ColumnChoice {
    /// Detected from names and values (see `label::label_candidate`, `profile::time_candidate`).
    #[default]
    Auto,
    None,
    Column(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalEncoding {
    /// One 0/1 column per category, the `max_categories` most frequent; the rest share an
    /// `(other)` column.
    #[default]
    OneHot,
    /// Categories in sorted order become 0, 1, 2, …
    Ordinal,
    /// Each category becomes its share of the training rows.
    Frequency,
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MissingPolicy {
    DropRow,
    Mean,
    #[default]
    Median,
    Constant(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// Raw values, as PyOD receives them in the ADBench protocol.
    #[default]
    None,
    /// (x − mean) / standard deviation (population, as scikit-learn's StandardScaler).
    Standard,
    /// (x − median) / interquartile range (as scikit-learn's RobustScaler).
    Robust,
    /// (x − min) / (max − min).
    MinMax,
}

/// What to do with a category that the spec was not fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UnseenCategory {
    /// Stop with an error naming the column and value.
    Error,
    /// One-hot: the `(other)` column if there is one, else all zeros; ordinal: −1;
    /// frequency: 0. Every such value is counted in the report.
    #[default]
    Fallback,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrepareSpec {
    pub label: ColumnChoice,
    pub time: ColumnChoice,
    /// Feature columns; `None` means every usable column except label, time and `exclude`.
    pub features: Option<Vec<String>>,
    pub exclude: Vec<String>,
    pub categorical: CategoricalEncoding,
    pub max_categories: usize,
    pub missing: MissingPolicy,
    pub scaling: Scaling,
    pub unseen: UnseenCategory,
    /// Learned by fitting; present in a spec that can be replayed.
    pub fitted: Option<FittedPrepare>,
}

impl Default for PrepareSpec {
    fn default() -> Self {
        PrepareSpec {
            label: ColumnChoice::Auto,
            time: ColumnChoice::Auto,
            features: None,
            exclude: Vec::new(),
            categorical: CategoricalEncoding::OneHot,
            max_categories: 20,
            missing: MissingPolicy::Median,
            scaling: Scaling::None,
            unseen: UnseenCategory::Fallback,
            fitted: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedPrepare {
    pub label_column: Option<String>,
    pub time_column: Option<String>,
    pub columns: Vec<FittedColumn>,
    pub feature_names: Vec<String>,
    /// One per output feature, applied as (x − center) / scale.
    pub scalers: Vec<Scaler>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedColumn {
    pub source: String,
    pub encoding: FittedEncoding,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FittedEncoding {
    /// Numbers, booleans (0/1) and explicitly chosen date/time columns (their physical value).
    Number {
        fill: f64,
    },
    OneHot {
        categories: Vec<String>,
        other: bool,
    },
    Ordinal {
        categories: Vec<String>,
    },
    Frequency {
        frequencies: Vec<(String, f64)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub center: f64,
    pub scale: f64,
}

/// The numeric matrix detectors consume.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Rows × features, row-major, every value finite.
    pub x: Array2<f64>,
    pub feature_names: Vec<String>,
    /// 0-based index of each row in the source table (rows may have been dropped).
    pub row_ids: Vec<u64>,
    /// 1 = anomaly, when a label column was used.
    pub label: Option<Array1<u8>>,
}

/// Everything preparation did to the data, for the user to see.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrepareReport {
    pub rows_in: usize,
    pub rows_out: usize,
    pub label_column: Option<String>,
    pub time_column: Option<String>,
    /// Rows dropped because a feature was missing (policy `drop_row`).
    pub dropped_rows: usize,
    /// (column, values filled) for imputed missing values.
    pub imputed: Vec<(String, usize)>,
    /// (column, count) of ±infinity values, treated as missing.
    pub infinite: Vec<(String, usize)>,
    /// (column, reason) for columns not used as features.
    pub dropped_columns: Vec<(String, String)>,
    /// (column, count) of categories unseen at fit time that took the fallback.
    pub unseen_categories: Vec<(String, usize)>,
    /// Notes that need the user's attention.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Prepared {
    pub matrix: Matrix,
    /// The spec with `fitted` filled in: store it to replay the transform.
    pub spec: PrepareSpec,
    pub report: PrepareReport,
}

impl PrepareSpec {
    /// Replays a fitted spec, or fits it first when it has not been fitted.
    pub fn apply(&self, df: &DataFrame, source: &str) -> DataResult<Prepared> {
        if self.fitted.is_some() {
            self.transform(df, source)
        } else {
            self.fit_transform(df, source)
        }
    }

    /// Learns the transform from `df` (ignoring any earlier fit) and applies it.
    pub fn fit_transform(&self, df: &DataFrame, source: &str) -> DataResult<Prepared> {
        let mut report = PrepareReport {
            rows_in: df.height(),
            ..Default::default()
        };
        let label_column = self.resolve_label(df, source, &mut report)?;
        let time_column = self.resolve_time(df, source)?;
        let columns = self.fit_columns(
            df,
            source,
            label_column.as_deref(),
            time_column.as_deref(),
            &mut report,
        )?;
        if columns.is_empty() {
            let detail = if report.dropped_columns.is_empty() {
                "the table has no columns besides the label/time columns".to_string()
            } else {
                report
                    .dropped_columns
                    .iter()
                    .map(|(c, why)| format!("{c}: {why}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            return Err(DataError::NoFeatures {
                source_name: source.to_string(),
                detail,
            });
        }
        let feature_names = feature_names(&columns);
        let mut fitted = FittedPrepare {
            label_column,
            time_column,
            columns,
            feature_names,
            scalers: Vec::new(),
        };
        let (mut x, kept) = encode(df, source, &fitted, self, &mut report)?;
        fitted.scalers = fit_scalers(&x, self.scaling);
        apply_scalers(&mut x, &fitted.scalers);
        let mut spec = self.clone();
        spec.fitted = Some(fitted);
        let matrix = finish(df, source, x, kept, &spec, &mut report)?;
        Ok(Prepared {
            matrix,
            spec,
            report,
        })
    }

    /// Applies a fitted spec to new data: same columns, same encodings, same scaling.
    pub fn transform(&self, df: &DataFrame, source: &str) -> DataResult<Prepared> {
        let fitted = self.fitted.as_ref().ok_or_else(|| {
            DataError::Spec("the spec has not been fitted; fit it on data first".into())
        })?;
        let mut report = PrepareReport {
            rows_in: df.height(),
            ..Default::default()
        };
        let (mut x, kept) = encode(df, source, fitted, self, &mut report)?;
        apply_scalers(&mut x, &fitted.scalers);
        let matrix = finish(df, source, x, kept, self, &mut report)?;
        Ok(Prepared {
            matrix,
            spec: self.clone(),
            report,
        })
    }

    fn resolve_label(
        &self,
        df: &DataFrame,
        source: &str,
        report: &mut PrepareReport,
    ) -> DataResult<Option<String>> {
        match &self.label {
            ColumnChoice::None => Ok(None),
            ColumnChoice::Column(name) => {
                let column = get_column(df, name, source)?;
                label::read_label(column).map_err(|detail| DataError::LabelNotBinary {
                    source_name: source.to_string(),
                    column: name.clone(),
                    detail,
                })?;
                Ok(Some(name.clone()))
            }
            ColumnChoice::Auto => {
                let found = label::label_candidate(df);
                if found.is_none() {
                    // A column named like a label that is not binary must not become a feature
                    // by accident: say so.
                    if let Some(c) = df
                        .columns()
                        .iter()
                        .find(|c| label::name_suggests_label(c.name()))
                    {
                        report.warnings.push(format!(
                            "column \"{}\" is named like a label but is not binary; it is used as a feature \
                             (choose a label column explicitly, or exclude it)",
                            c.name()
                        ));
                    }
                }
                Ok(found)
            }
        }
    }

    fn resolve_time(&self, df: &DataFrame, source: &str) -> DataResult<Option<String>> {
        match &self.time {
            ColumnChoice::None => Ok(None),
            ColumnChoice::Column(name) => get_column(df, name, source).map(|_| Some(name.clone())),
            ColumnChoice::Auto => Ok(time_candidate(df)),
        }
    }

    fn fit_columns(
        &self,
        df: &DataFrame,
        source: &str,
        label_column: Option<&str>,
        time_column: Option<&str>,
        report: &mut PrepareReport,
    ) -> DataResult<Vec<FittedColumn>> {
        for name in &self.exclude {
            get_column(df, name, source)?;
        }
        let explicit = self.features.is_some();
        let listed: Vec<&Column> = match &self.features {
            Some(names) => names
                .iter()
                .map(|n| get_column(df, n, source))
                .collect::<DataResult<_>>()?,
            None => df.columns().iter().collect(),
        };
        // The label and time columns are never features, and `exclude` always wins.
        let mut candidates = Vec::new();
        for column in listed {
            let n = column.name().as_str();
            if Some(n) == label_column {
                if explicit {
                    report
                        .dropped_columns
                        .push((n.to_string(), "it is the label column".into()));
                }
            } else if Some(n) == time_column {
                if explicit {
                    report
                        .dropped_columns
                        .push((n.to_string(), "it is the time column".into()));
                }
            } else if !self.exclude.iter().any(|e| e == n) {
                candidates.push(column);
            }
        }
        let fitted: Vec<Result<FittedColumn, (String, String)>> = candidates
            .par_iter()
            .map(|c| self.fit_column(c, explicit))
            .collect::<PolarsResult<_>>()
            .map_err(|e| DataError::Internal(format!("preparing {source}: {e}")))?;
        let mut columns = Vec::new();
        for f in fitted {
            match f {
                Ok(c) => columns.push(c),
                Err(dropped) => report.dropped_columns.push(dropped),
            }
        }
        Ok(columns)
    }

    /// Ok(fitted) for a usable feature, Err((name, reason)) for a column left out.
    fn fit_column(
        &self,
        column: &Column,
        explicit: bool,
    ) -> PolarsResult<Result<FittedColumn, (String, String)>> {
        let name = column.name().to_string();
        let drop = |why: &str| Ok(Err((name.clone(), why.to_string())));
        let kind = kind_of(column.dtype());
        let encoding = match kind {
            ColumnKind::Numeric if !explicit && is_row_index(column) => {
                return drop(
                    "a row index (0, 1, 2, … in row order; name it as a feature to use it)",
                )
            }
            ColumnKind::Numeric | ColumnKind::Boolean => number_encoding(column, self.missing)?,
            ColumnKind::Temporal if explicit => number_encoding(column, self.missing)?,
            ColumnKind::Temporal => {
                return drop("date/time column (name it as a feature to use it as a number)")
            }
            ColumnKind::Other => return drop("nested or binary values cannot be a feature"),
            ColumnKind::Text => {
                if self.categorical == CategoricalEncoding::Drop {
                    return drop("text column (categorical encoding is drop)");
                }
                let counts = category_counts(column, self.missing == MissingPolicy::DropRow)?;
                let present: usize = counts.iter().map(|(_, n)| n).sum();
                if counts.len() > self.max_categories && counts.len() == present && present > 1 {
                    return drop("text with a different value in every row (an identifier?)");
                }
                category_encoding(counts, self.categorical, self.max_categories)
            }
        };
        let Some(encoding) = encoding else {
            return drop("all values are missing");
        };
        Ok(Ok(FittedColumn {
            source: name,
            encoding,
        }))
    }
}

/// An integer column counting the rows from 0 or 1, in order: the index a tool wrote out
/// (`prepare --output`'s `row_id`, pandas' unnamed index), never a measurement.
fn is_row_index(column: &Column) -> bool {
    if !column.dtype().is_integer() || column.len() < 2 || column.null_count() > 0 {
        return false;
    }
    let Ok(values) = column.cast(&DataType::Int64) else {
        return false;
    };
    let Ok(values) = values.i64() else {
        return false;
    };
    let first = match values.get(0) {
        Some(first @ (0 | 1)) => first,
        _ => return false,
    };
    let in_order = values
        .into_no_null_iter()
        .zip(first..)
        .all(|(v, expected)| v == expected);
    in_order
}

fn get_column<'a>(df: &'a DataFrame, name: &str, source: &str) -> DataResult<&'a Column> {
    df.column(name).map_err(|_| DataError::MissingColumn {
        source_name: source.to_string(),
        column: name.to_string(),
        available: short_list(df.get_column_names().iter().map(|s| s.as_str())),
    })
}

/// At most a dozen names, then how many more: a message about a 10,000-column table stays one
/// readable line.
pub fn short_list<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    const SHOWN: usize = 12;
    let total = names.len();
    let mut text = names.take(SHOWN).collect::<Vec<_>>().join(", ");
    if total > SHOWN {
        text.push_str(&format!(", … ({} more)", total - SHOWN));
    }
    text
}

fn feature_names(columns: &[FittedColumn]) -> Vec<String> {
    let mut names = Vec::new();
    for c in columns {
        match &c.encoding {
            FittedEncoding::OneHot { categories, other } => {
                names.extend(categories.iter().map(|v| format!("{}={v}", c.source)));
                if *other {
                    names.push(format!("{}={OTHER_CATEGORY}", c.source));
                }
            }
            _ => names.push(c.source.clone()),
        }
    }
    names
}

/// Present values of a numeric-like column (finite only), as f64.
fn finite_values(column: &Column) -> PolarsResult<Vec<f64>> {
    let values = numeric_chunked(column)?;
    Ok(values.iter().flatten().filter(|v| v.is_finite()).collect())
}

fn numeric_chunked(column: &Column) -> PolarsResult<Float64Chunked> {
    let physical = if kind_of(column.dtype()) == ColumnKind::Temporal {
        column.to_physical_repr()
    } else {
        column.clone()
    };
    Ok(physical.cast(&DataType::Float64)?.f64()?.clone())
}

fn number_encoding(
    column: &Column,
    missing: MissingPolicy,
) -> PolarsResult<Option<FittedEncoding>> {
    let mut values = finite_values(column)?;
    if values.is_empty() {
        return Ok(None);
    }
    let fill = match missing {
        MissingPolicy::DropRow => 0.0, // never used: such rows are dropped
        MissingPolicy::Mean => values.iter().sum::<f64>() / values.len() as f64,
        MissingPolicy::Median => quantiles(&mut values, &[0.5])[0],
        MissingPolicy::Constant(c) => c,
    };
    Ok(Some(FittedEncoding::Number { fill }))
}

/// (category, count), most frequent first, ties by name; missing values count as a category
/// unless such rows are dropped.
fn category_counts(column: &Column, skip_missing: bool) -> PolarsResult<Vec<(String, usize)>> {
    let text = column.cast(&DataType::String)?;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for v in text.str()?.iter() {
        match v {
            Some(s) => *counts.entry(s).or_insert(0) += 1,
            None if !skip_missing => *counts.entry(MISSING_CATEGORY).or_insert(0) += 1,
            None => {}
        }
    }
    let mut counts: Vec<(String, usize)> = counts
        .into_iter()
        .map(|(s, n)| (s.to_string(), n))
        .collect();
    counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(counts)
}

fn category_encoding(
    counts: Vec<(String, usize)>,
    encoding: CategoricalEncoding,
    cap: usize,
) -> Option<FittedEncoding> {
    if counts.is_empty() {
        return None;
    }
    Some(match encoding {
        CategoricalEncoding::OneHot => {
            let other = counts.len() > cap;
            FittedEncoding::OneHot {
                categories: counts.into_iter().take(cap).map(|(c, _)| c).collect(),
                other,
            }
        }
        CategoricalEncoding::Ordinal => {
            let mut categories: Vec<String> = counts.into_iter().map(|(c, _)| c).collect();
            categories.sort();
            FittedEncoding::Ordinal { categories }
        }
        CategoricalEncoding::Frequency => {
            let total: usize = counts.iter().map(|(_, n)| n).sum();
            FittedEncoding::Frequency {
                frequencies: counts
                    .into_iter()
                    .map(|(c, n)| (c, n as f64 / total as f64))
                    .collect(),
            }
        }
        CategoricalEncoding::Drop => return None,
    })
}

/// One output feature: which source column feeds it and how.
#[derive(Clone, Copy)]
enum Output<'a> {
    Number {
        fill: f64,
    },
    Indicator {
        category: Option<&'a str>,
        categories: &'a [String],
        first: bool,
        has_other: bool,
    },
    Ordinal {
        categories: &'a [String],
    },
    Frequency {
        frequencies: &'a [(String, f64)],
    },
}

/// Per output column: (events filled or unseen) counted once per source column.
#[derive(Default, Clone, Copy)]
struct Counts {
    imputed: usize,
    infinite: usize,
    unseen: usize,
}

/// Builds the unscaled matrix (all rows) and the rows to keep.
fn encode(
    df: &DataFrame,
    source: &str,
    fitted: &FittedPrepare,
    spec: &PrepareSpec,
    report: &mut PrepareReport,
) -> DataResult<(Array2<f64>, Vec<usize>)> {
    let n = df.height();
    let drop_rows = spec.missing == MissingPolicy::DropRow;
    let mut plan: Vec<(usize, &Column, Output)> = Vec::new();
    for (ci, fc) in fitted.columns.iter().enumerate() {
        let column = get_column(df, &fc.source, source)?;
        let kind = kind_of(column.dtype());
        let expect = |expected: &str| DataError::ColumnType {
            source_name: source.to_string(),
            column: fc.source.clone(),
            found: column.dtype().to_string(),
            expected: expected.to_string(),
        };
        match &fc.encoding {
            FittedEncoding::Number { fill } => {
                if !matches!(
                    kind,
                    ColumnKind::Numeric | ColumnKind::Boolean | ColumnKind::Temporal
                ) {
                    return Err(expect("a number"));
                }
                plan.push((ci, column, Output::Number { fill: *fill }));
            }
            encoding => {
                if kind != ColumnKind::Text {
                    return Err(expect("text (categories)"));
                }
                match encoding {
                    FittedEncoding::OneHot { categories, other } => {
                        for (k, c) in categories.iter().enumerate() {
                            plan.push((
                                ci,
                                column,
                                Output::Indicator {
                                    category: Some(c),
                                    categories,
                                    first: k == 0,
                                    has_other: *other,
                                },
                            ));
                        }
                        if *other {
                            plan.push((
                                ci,
                                column,
                                Output::Indicator {
                                    category: None,
                                    categories,
                                    first: categories.is_empty(),
                                    has_other: true,
                                },
                            ));
                        }
                    }
                    FittedEncoding::Ordinal { categories } => {
                        plan.push((ci, column, Output::Ordinal { categories }))
                    }
                    FittedEncoding::Frequency { frequencies } => {
                        plan.push((ci, column, Output::Frequency { frequencies }))
                    }
                    FittedEncoding::Number { .. } => unreachable!("handled above"),
                }
            }
        }
    }

    // Rows with a missing feature value, when such rows are dropped.
    let mut keep = vec![true; n];
    if drop_rows {
        for fc in &fitted.columns {
            let column = get_column(df, &fc.source, source)?;
            mark_missing(column, &fc.encoding, &mut keep)
                .map_err(|e| DataError::Internal(e.to_string()))?;
        }
    }

    let mut x = Array2::<f64>::zeros((n, plan.len()));
    let unseen_is_error = spec.unseen == UnseenCategory::Error;
    let counts: Vec<Counts> = x
        .axis_iter_mut(Axis(1))
        .into_par_iter()
        .zip(plan.par_iter())
        .map(|(out, (_, column, output))| {
            fill_output(out, column, *output, unseen_is_error, source)
        })
        .collect::<DataResult<_>>()?;

    for (fc_index, fc) in fitted.columns.iter().enumerate() {
        let mut total = Counts::default();
        for ((ci, _, _), c) in plan.iter().zip(&counts) {
            if *ci == fc_index {
                total.imputed += c.imputed;
                total.infinite += c.infinite;
                total.unseen += c.unseen;
            }
        }
        if total.imputed > 0 && !drop_rows {
            report.imputed.push((fc.source.clone(), total.imputed));
        }
        if total.infinite > 0 {
            report.infinite.push((fc.source.clone(), total.infinite));
        }
        if total.unseen > 0 {
            report
                .unseen_categories
                .push((fc.source.clone(), total.unseen));
        }
    }
    let kept: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
    report.dropped_rows = n - kept.len();
    if kept.is_empty() {
        return Err(DataError::NoRowsLeft {
            source_name: source.to_string(),
            dropped: n,
        });
    }
    let x = if kept.len() == n {
        x
    } else {
        x.select(Axis(0), &kept)
    };
    Ok((x, kept))
}

fn mark_missing(column: &Column, encoding: &FittedEncoding, keep: &mut [bool]) -> PolarsResult<()> {
    match encoding {
        FittedEncoding::Number { .. } => {
            for (k, v) in keep.iter_mut().zip(numeric_chunked(column)?.iter()) {
                if !v.is_some_and(f64::is_finite) {
                    *k = false;
                }
            }
        }
        _ => {
            for (k, v) in keep
                .iter_mut()
                .zip(column.cast(&DataType::String)?.str()?.iter())
            {
                if v.is_none() {
                    *k = false;
                }
            }
        }
    }
    Ok(())
}

/// Writes one output feature for every row, returning what had to be filled in.
fn fill_output(
    mut out: ArrayViewMut1<f64>,
    column: &Column,
    output: Output,
    unseen_is_error: bool,
    source: &str,
) -> DataResult<Counts> {
    let internal = |e: PolarsError| DataError::Internal(format!("preparing {source}: {e}"));
    let mut counts = Counts::default();
    let unseen_error = |value: &str| DataError::UnseenCategory {
        source_name: source.to_string(),
        column: column.name().to_string(),
        value: value.to_string(),
    };
    match output {
        Output::Number { fill } => {
            let values = numeric_chunked(column).map_err(internal)?;
            for (dst, v) in out.iter_mut().zip(values.iter()) {
                *dst = match v {
                    Some(x) if x.is_finite() => x,
                    Some(x) if x.is_infinite() => {
                        counts.infinite += 1;
                        counts.imputed += 1;
                        fill
                    }
                    _ => {
                        counts.imputed += 1;
                        fill
                    }
                };
            }
        }
        Output::Indicator {
            category,
            categories,
            first,
            has_other,
        } => {
            let text = column.cast(&DataType::String).map_err(internal)?;
            let known: std::collections::HashSet<&str> =
                categories.iter().map(String::as_str).collect();
            for (dst, v) in out.iter_mut().zip(text.str().map_err(internal)?.iter()) {
                let value = v.unwrap_or(MISSING_CATEGORY);
                let seen = known.contains(value);
                // With an (other) column every category beyond the kept ones belongs there, by
                // design; without one, a category not kept at fit time is unseen. Counted (or
                // refused) once per source column, by its first indicator.
                if !seen && first && !has_other {
                    if unseen_is_error && v.is_some() {
                        return Err(unseen_error(value));
                    }
                    counts.unseen += 1;
                }
                *dst = match category {
                    Some(c) => f64::from(u8::from(value == c)),
                    None => f64::from(u8::from(!seen)), // the (other) column
                };
            }
        }
        Output::Ordinal { categories } => {
            let text = column.cast(&DataType::String).map_err(internal)?;
            let index: HashMap<&str, usize> = categories
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), i))
                .collect();
            for (dst, v) in out.iter_mut().zip(text.str().map_err(internal)?.iter()) {
                let value = v.unwrap_or(MISSING_CATEGORY);
                *dst = match index.get(value) {
                    Some(&i) => i as f64,
                    None if unseen_is_error && v.is_some() => return Err(unseen_error(value)),
                    None => {
                        counts.unseen += 1;
                        -1.0
                    }
                };
            }
        }
        Output::Frequency { frequencies } => {
            let text = column.cast(&DataType::String).map_err(internal)?;
            let freq: HashMap<&str, f64> =
                frequencies.iter().map(|(c, f)| (c.as_str(), *f)).collect();
            for (dst, v) in out.iter_mut().zip(text.str().map_err(internal)?.iter()) {
                let value = v.unwrap_or(MISSING_CATEGORY);
                *dst = match freq.get(value) {
                    Some(&f) => f,
                    None if unseen_is_error && v.is_some() => return Err(unseen_error(value)),
                    None => {
                        counts.unseen += 1;
                        0.0
                    }
                };
            }
        }
    }
    Ok(counts)
}

fn fit_scalers(x: &Array2<f64>, scaling: Scaling) -> Vec<Scaler> {
    let identity = Scaler {
        center: 0.0,
        scale: 1.0,
    };
    // A zero or non-finite spread (a constant column) keeps scale 1, as scikit-learn does.
    let safe = |s: f64| if s.is_finite() && s > 0.0 { s } else { 1.0 };
    x.axis_iter(Axis(1))
        .into_par_iter()
        .map(|col| match scaling {
            Scaling::None => identity,
            Scaling::Standard => {
                let n = col.len() as f64;
                let mean = col.sum() / n;
                let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                Scaler {
                    center: mean,
                    scale: safe(var.sqrt()),
                }
            }
            Scaling::Robust => {
                let mut v = col.to_vec();
                let q = quantiles(&mut v, &[0.25, 0.5, 0.75]);
                Scaler {
                    center: q[1],
                    scale: safe(q[2] - q[0]),
                }
            }
            Scaling::MinMax => {
                let min = col.iter().copied().fold(f64::INFINITY, f64::min);
                let max = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                Scaler {
                    center: min,
                    scale: safe(max - min),
                }
            }
        })
        .collect()
}

fn apply_scalers(x: &mut Array2<f64>, scalers: &[Scaler]) {
    if scalers.iter().all(|s| s.center == 0.0 && s.scale == 1.0) {
        return;
    }
    x.axis_iter_mut(Axis(0))
        .into_par_iter()
        .for_each(|mut row| {
            for (v, s) in row.iter_mut().zip(scalers) {
                *v = (*v - s.center) / s.scale;
            }
        });
}

/// Label, row ids and the final finiteness check.
fn finish(
    df: &DataFrame,
    source: &str,
    x: Array2<f64>,
    kept: Vec<usize>,
    spec: &PrepareSpec,
    report: &mut PrepareReport,
) -> DataResult<Matrix> {
    let fitted = spec
        .fitted
        .as_ref()
        .expect("finish is called with a fitted spec");
    if let Some((i, j)) = x
        .indexed_iter()
        .find(|(_, v)| !v.is_finite())
        .map(|(ij, _)| ij)
    {
        return Err(DataError::NonFinite {
            source_name: source.to_string(),
            column: fitted.feature_names[j].clone(),
            row: kept[i] as u64,
            value: x[[i, j]],
        });
    }
    // On replay the label is optional: new data to score usually has none.
    let label = match &fitted.label_column {
        Some(name) => match df.column(name) {
            Ok(column) => {
                let all =
                    label::read_label(column).map_err(|detail| DataError::LabelNotBinary {
                        source_name: source.to_string(),
                        column: name.clone(),
                        detail,
                    })?;
                report.label_column = Some(name.clone());
                Some(kept.iter().map(|&i| all[i]).collect::<Array1<u8>>())
            }
            Err(_) => None,
        },
        None => None,
    };
    report.time_column = fitted.time_column.clone();
    report.rows_out = x.nrows();
    Ok(Matrix {
        x,
        feature_names: fitted.feature_names.clone(),
        row_ids: kept.into_iter().map(|i| i as u64).collect(),
        label,
    })
}

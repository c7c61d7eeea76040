//! `pynomaly drift REF CURRENT`: per-feature drift between two files (see
//! `streaming::drift`). Columns present in both are compared: numbers with KS, PSI and
//! Wasserstein, text with chi-squared. A feature has drifted when its p-value is below
//! `alpha / number of features` (Bonferroni: many features, one false alarm rate).

use polars::prelude::DataType;
use serde::Serialize;

use crate::data::{LoadOptions, Source};
use crate::streaming::drift::{categorical_drift, numeric_drift, FeatureDrift};

use super::error::catch_panic;
use super::{ServiceError, ServiceResult};

#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub reference: String,
    pub current: String,
    pub alpha: f64,
    /// The per-feature level after Bonferroni's correction.
    pub level: f64,
    pub features: Vec<DriftRow>,
    /// Columns of both files that could not be compared, with the reason.
    pub skipped: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftRow {
    #[serde(flatten)]
    pub drift: FeatureDrift,
    pub drifted: bool,
}

pub fn compare_files(
    reference: &Source,
    current: &Source,
    options: &LoadOptions,
    features: Option<&[String]>,
    alpha: f64,
) -> ServiceResult<DriftReport> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(ServiceError::input(format!(
            "--alpha must be in (0, 1), got {alpha}"
        )));
    }
    let (a, _) = super::detect::load(reference, options)?;
    let (b, _) = super::detect::load(current, options)?;
    let names: Vec<String> = match features {
        Some(names) => {
            for n in names {
                for (loaded, which) in [(&a, "reference"), (&b, "current")] {
                    if loaded.df.column(n).is_err() {
                        return Err(ServiceError::input(format!(
                            "--features: no column {n:?} in the {which} file {}",
                            loaded.source
                        )));
                    }
                }
            }
            names.to_vec()
        }
        None => {
            a.df.get_column_names()
                .iter()
                .map(|n| n.to_string())
                .filter(|n| b.df.column(n).is_ok())
                .collect()
        }
    };
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for name in &names {
        let (ca, cb) = (a.df.column(name), b.df.column(name));
        let (Ok(ca), Ok(cb)) = (ca, cb) else { continue };
        let drift = catch_panic("drift", || {
            let numeric = |c: &polars::prelude::Column| -> Option<Vec<f64>> {
                if !c.dtype().is_primitive_numeric() && c.dtype() != &DataType::Boolean {
                    return None;
                }
                let f = c.cast(&DataType::Float64).ok()?;
                let f = f.f64().ok()?;
                Some((0..f.len()).filter_map(|i| f.get(i)).collect())
            };
            let text = |c: &polars::prelude::Column| -> Option<Vec<String>> {
                let s = c.cast(&DataType::String).ok()?;
                let s = s.str().ok()?;
                Some(
                    (0..s.len())
                        .map(|i| s.get(i).unwrap_or("∅").to_string())
                        .collect(),
                )
            };
            Ok(match (numeric(ca), numeric(cb)) {
                (Some(x), Some(y)) => numeric_drift(name, &x, &y),
                _ if ca.dtype() == &DataType::String && cb.dtype() == &DataType::String => {
                    match (text(ca), text(cb)) {
                        (Some(x), Some(y)) => categorical_drift(name, &x, &y),
                        _ => None,
                    }
                }
                _ => {
                    skipped.push((
                        name.clone(),
                        "neither numbers nor text in both files".into(),
                    ));
                    return Ok(None);
                }
            })
        })?;
        match drift {
            Some(d) => rows.push(d),
            None if !skipped.iter().any(|(n, _)| n == name) => {
                skipped.push((name.clone(), "empty, or a single category".into()))
            }
            None => {}
        }
    }
    let level = alpha / rows.len().max(1) as f64;
    Ok(DriftReport {
        reference: a.source.clone(),
        current: b.source.clone(),
        alpha,
        level,
        features: rows
            .into_iter()
            .map(|d| DriftRow {
                drifted: d.p_value < level,
                drift: d,
            })
            .collect(),
        skipped,
    })
}

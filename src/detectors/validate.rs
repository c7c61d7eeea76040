//! Checks of a fitted model read back from a file or the store: every length, index, shape and
//! value its `score` relies on. A model file can be edited by hand or damaged; without these
//! checks scoring it could index out of bounds, divide by zero, walk a cyclic tree forever or
//! quietly return garbage. Each check is an invariant the detector's `fit` guarantees, so a model
//! this build fitted always passes.
//!
//! Each model type's checks are its own `validate` method, next to the model in its detector's
//! file; this module holds the rules and helpers they share and [`Model::validate`], which
//! dispatches to them (through the `models!` list) and names the detector in the error.

use ndarray::Array2;

use super::{validate_matrix, Model};

/// What a model's `validate` returns: `Err` names the field and what is wrong with it.
pub(super) type Check = Result<(), String>;

/// What a stored value must be.
#[derive(Clone, Copy)]
pub(super) enum Rule {
    Finite,
    NonNegative,
    Positive,
    /// In [0, 1].
    Unit,
    /// In (0, 1).
    OpenUnit,
    /// In (0, 1].
    PositiveUnit,
}

impl Rule {
    pub(super) fn holds(self, v: f64) -> bool {
        v.is_finite()
            && match self {
                Rule::Finite => true,
                Rule::NonNegative => v >= 0.0,
                Rule::Positive => v > 0.0,
                Rule::Unit => (0.0..=1.0).contains(&v),
                Rule::OpenUnit => v > 0.0 && v < 1.0,
                Rule::PositiveUnit => v > 0.0 && v <= 1.0,
            }
    }

    fn expected(self) -> &'static str {
        match self {
            Rule::Finite => "a finite number",
            Rule::NonNegative => "a finite number ≥ 0",
            Rule::Positive => "a finite number > 0",
            Rule::Unit => "a number in [0, 1]",
            Rule::OpenUnit => "a number in (0, 1)",
            Rule::PositiveUnit => "a number in (0, 1]",
        }
    }
}

pub(super) fn values<'a>(
    name: &str,
    values: impl IntoIterator<Item = &'a f64>,
    rule: Rule,
) -> Check {
    match values
        .into_iter()
        .enumerate()
        .find(|(_, v)| !rule.holds(**v))
    {
        Some((i, v)) => Err(format!(
            "{name}: value {i} is {v}, expected {}",
            rule.expected()
        )),
        None => Ok(()),
    }
}

pub(super) fn value(name: &str, v: f64, rule: Rule) -> Check {
    if rule.holds(v) {
        Ok(())
    } else {
        Err(format!("{name} is {v}, expected {}", rule.expected()))
    }
}

pub(super) fn length(name: &str, found: usize, expected: usize) -> Check {
    if found == expected {
        Ok(())
    } else {
        Err(format!("{name} has {found} values, expected {expected}"))
    }
}

pub(super) fn not_empty(name: &str, found: usize) -> Check {
    if found == 0 {
        Err(format!("{name} is empty"))
    } else {
        Ok(())
    }
}

/// `a · b`, or an error when the product does not fit (a hostile size).
pub(super) fn product(name: &str, a: usize, b: usize) -> Result<usize, String> {
    a.checked_mul(b)
        .ok_or_else(|| format!("{name}: {a} × {b} is too large"))
}

/// A kept training matrix: what `fit` accepted (at least 2 rows and 1 feature, finite, not all
/// constant).
pub(super) fn training(train: &Array2<f64>) -> Check {
    validate_matrix(train.view(), 2).map_err(|e| format!("train: {e}"))
}

/// Neighbour methods keep `k < n` (each training point's neighbours leave the point out).
pub(super) fn neighbours(k: usize, rows: usize) -> Check {
    if k == 0 || k >= rows {
        return Err(format!(
            "k is {k}, expected 1 to {} (one less than the {rows} training rows)",
            rows.saturating_sub(1)
        ));
    }
    Ok(())
}

impl Model {
    /// Checks everything [`Model::score`] relies on; the error names the detector and the
    /// field. Run on every model read from outside the process, before it scores anything.
    /// Each model type's own `validate` (in its detector's file) holds its checks.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_fields()
            .map_err(|e| format!("{}: {e}", self.detector_name()))
    }
}

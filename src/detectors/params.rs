//! Hyper-parameters described once, as data: the registry's `ParamSpec`s drive validation, the
//! CLI's `--param key=value` parsing, the TUI's forms and AutoML's search space.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::DetectError;

/// A parameter value as users and the store see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Text(s) => write!(f, "{s}"),
        }
    }
}

/// What values a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ParamKind {
    /// An integer in `min..=max`; `log` hints a log-uniform search.
    Int {
        min: i64,
        max: i64,
        log: bool,
    },
    /// A float in the interval; bounds are inclusive unless `*_open`.
    Float {
        min: f64,
        max: f64,
        min_open: bool,
        max_open: bool,
        log: bool,
    },
    Choice {
        choices: &'static [&'static str],
    },
    Bool,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default: DefaultValue,
    pub help: &'static str,
    /// What AutoML searches: the valid range is often far wider than what is worth trying.
    pub search: Search,
}

/// AutoML's view of a parameter; sampling is log-uniform where the kind says `log`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "search")]
pub enum Search {
    /// Not searched: the default is kept.
    Fixed,
    /// Every choice (or both booleans).
    All,
    /// Numbers in [min, max] (integers rounded).
    Range { min: f64, max: f64 },
}

/// A default that can live in a `static`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DefaultValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(&'static str),
}

impl DefaultValue {
    pub fn to_value(self) -> ParamValue {
        match self {
            DefaultValue::Bool(b) => ParamValue::Bool(b),
            DefaultValue::Int(i) => ParamValue::Int(i),
            DefaultValue::Float(x) => ParamValue::Float(x),
            DefaultValue::Text(s) => ParamValue::Text(s.to_string()),
        }
    }
}

impl ParamSpec {
    /// The accepted values, for messages and listings: `integer in 1..=1000`, `one of a, b`.
    pub fn describe_range(&self) -> String {
        match self.kind {
            ParamKind::Int { min, max, .. } => format!("an integer in {min}..={max}"),
            ParamKind::Float {
                min,
                max,
                min_open,
                max_open,
                ..
            } => format!(
                "a number in {}{min}, {max}{}",
                if min_open { "(" } else { "[" },
                if max_open { ")" } else { "]" }
            ),
            ParamKind::Choice { choices } => format!("one of {}", choices.join(", ")),
            ParamKind::Bool => "true or false".to_string(),
        }
    }

    /// The range in a few characters, for narrow tables: `1–1000`, `(0, 1]`, `a|b|c`.
    pub fn short_range(&self) -> String {
        match self.kind {
            ParamKind::Int { min, max, .. } => format!("{min}–{max}"),
            ParamKind::Float {
                min,
                max,
                min_open,
                max_open,
                ..
            } => format!(
                "{}{min}, {max}{}",
                if min_open { "(" } else { "[" },
                if max_open { ")" } else { "]" }
            ),
            ParamKind::Choice { choices } => choices.join("|"),
            ParamKind::Bool => "true|false".to_string(),
        }
    }

    /// Parses a command-line value (`--param name=value`).
    pub fn parse(&self, detector: &str, text: &str) -> Result<ParamValue, DetectError> {
        // `auto` (or `all`) where 0 stands for it.
        if zero_label(self.name).is_some_and(|label| text.trim().eq_ignore_ascii_case(label)) {
            let zero = match self.kind {
                ParamKind::Float { .. } => ParamValue::Float(0.0),
                _ => ParamValue::Int(0),
            };
            return self.check(detector, &zero);
        }
        let bad = || {
            self.invalid(
                detector,
                format!("cannot read {text:?}; expected {}", self.describe_range()),
            )
        };
        let value = match self.kind {
            ParamKind::Int { .. } => ParamValue::Int(text.trim().parse().map_err(|_| bad())?),
            ParamKind::Float { .. } => ParamValue::Float(text.trim().parse().map_err(|_| bad())?),
            ParamKind::Choice { .. } => ParamValue::Text(text.trim().to_string()),
            ParamKind::Bool => ParamValue::Bool(match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(bad()),
            }),
        };
        self.check(detector, &value)?;
        Ok(value)
    }

    /// Checks type and range; integers are accepted where floats are expected.
    pub fn check(&self, detector: &str, value: &ParamValue) -> Result<ParamValue, DetectError> {
        let out_of_range = |shown: String| {
            self.invalid(
                detector,
                format!(
                    "{shown} is out of range; expected {}",
                    self.describe_range()
                ),
            )
        };
        match (self.kind, value) {
            (ParamKind::Int { min, max, .. }, ParamValue::Int(v)) => {
                if *v < min || *v > max {
                    return Err(out_of_range(v.to_string()));
                }
                Ok(value.clone())
            }
            (
                ParamKind::Float {
                    min,
                    max,
                    min_open,
                    max_open,
                    ..
                },
                ParamValue::Float(_) | ParamValue::Int(_),
            ) => {
                let v = match value {
                    ParamValue::Float(x) => *x,
                    ParamValue::Int(i) => *i as f64,
                    _ => unreachable!(),
                };
                let below = if min_open { v <= min } else { v < min };
                let above = if max_open { v >= max } else { v > max };
                if !v.is_finite() || below || above {
                    return Err(out_of_range(v.to_string()));
                }
                Ok(ParamValue::Float(v))
            }
            (ParamKind::Choice { choices }, ParamValue::Text(s)) => {
                if !choices.contains(&s.as_str()) {
                    return Err(
                        self.invalid(detector, format!("{s:?} is not {}", self.describe_range()))
                    );
                }
                Ok(value.clone())
            }
            (ParamKind::Bool, ParamValue::Bool(_)) => Ok(value.clone()),
            _ => Err(self.invalid(
                detector,
                format!(
                    "{value} has the wrong type; expected {}",
                    self.describe_range()
                ),
            )),
        }
    }

    fn invalid(&self, detector: &str, message: String) -> DetectError {
        DetectError::InvalidParam {
            detector: detector.to_string(),
            param: self.name.to_string(),
            message,
        }
    }
}

/// A complete, validated parameter set: every parameter of the detector, defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Params(pub BTreeMap<String, ParamValue>);

/// Parameters whose 0 stands for an automatic choice, and the word shown (and accepted) for it.
/// hbos' `n_bins` shares a name with loda's but must be at least 2, so it is never 0.
const ZERO_MEANS: &[(&str, &str)] = &[
    ("max_samples", "auto"),
    ("n_bins", "auto"),
    ("gamma", "auto"),
    ("n_selected_components", "all"),
    ("support_fraction", "auto"),
];

fn is_zero(value: &ParamValue) -> bool {
    matches!(value, ParamValue::Int(0)) || matches!(value, ParamValue::Float(f) if *f == 0.0)
}

fn zero_label(name: &str) -> Option<&'static str> {
    ZERO_MEANS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, label)| *label)
}

/// A parameter's value as a form holds it: exact, but `auto` (or `all`) for a 0 that means so.
pub fn form_value(name: &str, value: &ParamValue) -> String {
    match zero_label(name) {
        Some(label) if is_zero(value) => label.to_string(),
        _ => value.to_string(),
    }
}

/// A parameter as the store keeps it (JSON) shown as [`show_param`] does; `None` when it is
/// not a parameter value. Not sanitised: the faces do that (the store is untrusted).
pub fn show_stored_param(name: &str, value: &serde_json::Value) -> Option<String> {
    serde_json::from_value::<ParamValue>(value.clone())
        .ok()
        .map(|p| show_param(name, &p))
}

/// A parameter's value as the faces show it: `auto` (or `all`) for a 0 that means so, floats
/// with at most 4 significant digits past the point, the rest as they are.
pub fn show_param(name: &str, value: &ParamValue) -> String {
    match (zero_label(name), value) {
        (Some(label), _) if is_zero(value) => label.to_string(),
        (_, ParamValue::Float(f)) if f.abs() >= 1e-3 && f.abs() < 1e6 => {
            let text = format!("{f:.4}");
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        (_, ParamValue::Float(f)) if *f != 0.0 => format!("{f:.3e}"),
        _ => value.to_string(),
    }
}

impl Params {
    /// `name=value` pairs as the faces show them ([`show_param`]).
    pub fn describe(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={}", show_param(k, v)))
            .collect()
    }

    pub fn int(&self, name: &str) -> i64 {
        match self.0.get(name) {
            Some(ParamValue::Int(v)) => *v,
            other => panic!("parameter {name} should be a validated integer, got {other:?}"),
        }
    }

    pub fn float(&self, name: &str) -> f64 {
        match self.0.get(name) {
            Some(ParamValue::Float(v)) => *v,
            Some(ParamValue::Int(v)) => *v as f64,
            other => panic!("parameter {name} should be a validated number, got {other:?}"),
        }
    }

    pub fn text(&self, name: &str) -> &str {
        match self.0.get(name) {
            Some(ParamValue::Text(v)) => v,
            other => panic!("parameter {name} should be a validated choice, got {other:?}"),
        }
    }

    pub fn bool(&self, name: &str) -> bool {
        match self.0.get(name) {
            Some(ParamValue::Bool(v)) => *v,
            other => panic!("parameter {name} should be a validated boolean, got {other:?}"),
        }
    }
}

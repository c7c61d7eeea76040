//! The search space as the registry describes it: drawing parameter sets, and mapping them to
//! and from a unit cube for the model-based optimiser.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::detectors::{
    DetectError, DetectorInfo, ParamKind, ParamSpec, ParamValue, Params, Search,
};

/// Draws one parameter set from a detector's search space.
pub fn sample_params(info: &DetectorInfo, rng: &mut ChaCha8Rng) -> Result<Params, DetectError> {
    let mut given = BTreeMap::new();
    for p in info.params {
        let value = match (p.search, p.kind) {
            (Search::Fixed, _) => continue,
            (Search::All, ParamKind::Choice { choices }) => {
                ParamValue::Text(choices[rng.gen_range(0..choices.len())].to_string())
            }
            (Search::All, ParamKind::Bool) => ParamValue::Bool(rng.gen_bool(0.5)),
            (Search::Range { min, max }, ParamKind::Int { log, .. }) => {
                let v = draw(rng, min, max + 0.999, log).floor();
                ParamValue::Int(v.clamp(min, max) as i64)
            }
            (Search::Range { min, max }, ParamKind::Float { log, .. }) => {
                ParamValue::Float(draw(rng, min, max, log))
            }
            // A search hint that does not fit the kind keeps the default (tested in the
            // registry tests, so this does not happen).
            _ => continue,
        };
        given.insert(p.name.to_string(), value);
    }
    info.resolve(&given)
}

fn draw(rng: &mut ChaCha8Rng, min: f64, max: f64, log: bool) -> f64 {
    if log && min > 0.0 {
        (rng.gen_range(min.ln()..=max.ln())).exp()
    } else {
        rng.gen_range(min..=max)
    }
}

/// One searched parameter seen as a coordinate: a number in [0, 1] (log-scaled where the
/// registry says so) or one of `n` categories.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Coord {
    Unit(f64),
    Category { index: usize, n: usize },
}

/// The parameters of `info` that AutoML searches, in registry order.
pub(crate) fn searched(info: &DetectorInfo) -> impl Iterator<Item = &'static ParamSpec> {
    info.params.iter().filter(|p| p.search != Search::Fixed)
}

fn to_unit(v: f64, min: f64, max: f64, log: bool) -> f64 {
    let u = if log && min > 0.0 && v > 0.0 {
        (v.ln() - min.ln()) / (max.ln() - min.ln())
    } else {
        (v - min) / (max - min)
    };
    if u.is_finite() {
        u.clamp(0.0, 1.0)
    } else {
        0.5
    }
}

fn from_unit(u: f64, min: f64, max: f64, log: bool) -> f64 {
    let u = u.clamp(0.0, 1.0);
    if log && min > 0.0 {
        (min.ln() + u * (max.ln() - min.ln())).exp()
    } else {
        min + u * (max - min)
    }
}

/// The coordinates of a parameter set (searched parameters only, registry order).
pub(crate) fn encode(info: &DetectorInfo, params: &Params) -> Vec<Coord> {
    searched(info)
        .map(|p| {
            let value = params.0.get(p.name);
            match (p.search, p.kind, value) {
                (Search::All, ParamKind::Choice { choices }, Some(ParamValue::Text(t))) => {
                    Coord::Category {
                        index: choices.iter().position(|c| c == t).unwrap_or(0),
                        n: choices.len(),
                    }
                }
                (Search::All, ParamKind::Bool, Some(ParamValue::Bool(b))) => Coord::Category {
                    index: usize::from(*b),
                    n: 2,
                },
                (
                    Search::Range { min, max },
                    ParamKind::Int { log, .. },
                    Some(ParamValue::Int(v)),
                ) => Coord::Unit(to_unit(*v as f64, min, max, log)),
                (
                    Search::Range { min, max },
                    ParamKind::Float { log, .. },
                    Some(ParamValue::Float(v)),
                ) => Coord::Unit(to_unit(*v, min, max, log)),
                // A value the space does not describe (e.g. an `auto` default): the middle.
                (_, ParamKind::Choice { choices }, _) => Coord::Category {
                    index: 0,
                    n: choices.len(),
                },
                (_, ParamKind::Bool, _) => Coord::Category { index: 0, n: 2 },
                _ => Coord::Unit(0.5),
            }
        })
        .collect()
}

/// The parameter set at these coordinates (validated by the registry).
pub(crate) fn decode(info: &DetectorInfo, coords: &[Coord]) -> Result<Params, DetectError> {
    let mut given = BTreeMap::new();
    for (p, c) in searched(info).zip(coords) {
        let value = match (p.search, p.kind, *c) {
            (Search::All, ParamKind::Choice { choices }, Coord::Category { index, .. }) => {
                ParamValue::Text(choices[index.min(choices.len() - 1)].to_string())
            }
            (Search::All, ParamKind::Bool, Coord::Category { index, .. }) => {
                ParamValue::Bool(index == 1)
            }
            (Search::Range { min, max }, ParamKind::Int { log, .. }, Coord::Unit(u)) => {
                ParamValue::Int(from_unit(u, min, max, log).round().clamp(min, max) as i64)
            }
            (Search::Range { min, max }, ParamKind::Float { log, .. }, Coord::Unit(u)) => {
                ParamValue::Float(from_unit(u, min, max, log))
            }
            _ => continue,
        };
        given.insert(p.name.to_string(), value);
    }
    info.resolve(&given)
}

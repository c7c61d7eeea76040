//! The one list of detectors. The CLI's `detectors` table, `--param` parsing, the TUI forms,
//! AutoML's search space and the store's parameter JSON all read it; nothing keeps a second list.

use std::collections::BTreeMap;

use serde::Serialize;

use super::params::{ParamSpec, ParamValue, Params};
use super::{copod, ecod, hbos, knn, lof, DetectError, DetectResult, Detector};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Probabilistic,
    Proximity,
    Linear,
    Ensemble,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Probabilistic => "probabilistic",
            Family::Proximity => "proximity",
            Family::Linear => "linear",
            Family::Ensemble => "ensemble",
        }
    }
}

#[derive(Serialize)]
pub struct DetectorInfo {
    pub name: &'static str,
    pub family: Family,
    pub summary: &'static str,
    /// Fit time in terms of n rows and d features.
    pub complexity: &'static str,
    /// Whether the detector uses the seed (randomised) or is deterministic.
    pub randomized: bool,
    pub params: &'static [ParamSpec],
    #[serde(skip)]
    construct: fn(&Params) -> Box<dyn Detector>,
}

static REGISTRY: &[DetectorInfo] = &[
    DetectorInfo {
        name: "ecod",
        family: Family::Probabilistic,
        summary: "Empirical-CDF tail probabilities per feature, summed (parameter-free)",
        complexity: "O(n log n · d)",
        randomized: false,
        params: ecod::PARAMS,
        construct: |p| Box::new(ecod::Ecod::from_params(p)),
    },
    DetectorInfo {
        name: "copod",
        family: Family::Probabilistic,
        summary: "Copula-based tail probabilities per feature, summed (parameter-free)",
        complexity: "O(n log n · d)",
        randomized: false,
        params: copod::PARAMS,
        construct: |p| Box::new(copod::Copod::from_params(p)),
    },
    DetectorInfo {
        name: "hbos",
        family: Family::Probabilistic,
        summary: "Histogram per feature; low-density bins score high",
        complexity: "O(n · d)",
        randomized: false,
        params: hbos::PARAMS,
        construct: |p| Box::new(hbos::Hbos::from_params(p)),
    },
    DetectorInfo {
        name: "knn",
        family: Family::Proximity,
        summary: "Distance to the k-th nearest neighbour (or mean/median of the k)",
        complexity: "O(n² · d)",
        randomized: false,
        params: knn::PARAMS,
        construct: |p| Box::new(knn::Knn::from_params(p)),
    },
    DetectorInfo {
        name: "lof",
        family: Family::Proximity,
        summary: "Local Outlier Factor: density relative to the neighbours' density",
        complexity: "O(n² · d)",
        randomized: false,
        params: lof::PARAMS,
        construct: |p| Box::new(lof::Lof::from_params(p)),
    },
];

/// Every detector, in listing order.
pub fn registry() -> &'static [DetectorInfo] {
    REGISTRY
}

pub fn find(name: &str) -> DetectResult<&'static DetectorInfo> {
    let wanted = name.trim().to_ascii_lowercase();
    REGISTRY
        .iter()
        .find(|d| d.name == wanted)
        .ok_or_else(|| DetectError::UnknownDetector {
            name: name.to_string(),
            available: REGISTRY
                .iter()
                .map(|d| d.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl DetectorInfo {
    /// Validates user-given values (unknown names, types, ranges) and fills in the defaults.
    pub fn resolve(&self, given: &BTreeMap<String, ParamValue>) -> DetectResult<Params> {
        for name in given.keys() {
            if !self.params.iter().any(|p| p.name == name) {
                let known = if self.params.is_empty() {
                    "(none)".to_string()
                } else {
                    self.params
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(DetectError::UnknownParam {
                    detector: self.name.into(),
                    param: name.clone(),
                    known,
                });
            }
        }
        let mut resolved = BTreeMap::new();
        for spec in self.params {
            let value = match given.get(spec.name) {
                Some(v) => spec.check(self.name, v)?,
                None => spec.default.to_value(),
            };
            resolved.insert(spec.name.to_string(), value);
        }
        Ok(Params(resolved))
    }

    /// Parses `key=value` strings from the command line against this detector's parameters.
    pub fn parse_assignments(
        &self,
        assignments: &[String],
    ) -> DetectResult<BTreeMap<String, ParamValue>> {
        let mut out = BTreeMap::new();
        for a in assignments {
            let Some((key, value)) = a.split_once('=') else {
                return Err(DetectError::InvalidParam {
                    detector: self.name.into(),
                    param: a.clone(),
                    message: "expected key=value".into(),
                });
            };
            let key = key.trim();
            let spec = self.params.iter().find(|p| p.name == key).ok_or_else(|| {
                DetectError::UnknownParam {
                    detector: self.name.into(),
                    param: key.to_string(),
                    known: self
                        .params
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            })?;
            out.insert(key.to_string(), spec.parse(self.name, value)?);
        }
        Ok(out)
    }

    pub fn build(&self, params: &Params) -> Box<dyn Detector> {
        (self.construct)(params)
    }
}

/// Looks a detector up, validates the parameters and builds it: everything that can be checked
/// before seeing data.
pub fn build(
    name: &str,
    given: &BTreeMap<String, ParamValue>,
) -> DetectResult<(Box<dyn Detector>, Params)> {
    let info = find(name)?;
    let params = info.resolve(given)?;
    Ok((info.build(&params), params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_defaults_valid() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|d| d.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
        for d in REGISTRY {
            for p in d.params {
                p.check(d.name, &p.default.to_value())
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }

    #[test]
    fn bad_parameters_are_named() {
        let knn = find("knn").unwrap();
        let err = knn
            .parse_assignments(&["n_neighbors=-3".into()])
            .unwrap_err();
        assert!(err.to_string().contains("parameter n_neighbors"), "{err}");
        let err = knn
            .parse_assignments(&["n_neighbours=3".into()])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown parameter \"n_neighbours\""),
            "{err}"
        );
        let err = knn
            .parse_assignments(&["method=loudest".into()])
            .unwrap_err();
        assert!(
            err.to_string().contains("one of largest, mean, median"),
            "{err}"
        );
        let err = knn
            .parse_assignments(&["n_neighbors=abc".into()])
            .unwrap_err();
        assert!(err.to_string().contains("cannot read \"abc\""), "{err}");
        assert!(find("nope").is_err());
    }
}

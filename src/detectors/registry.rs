//! The one list of detectors. The CLI's `detectors` table, `--param` parsing, the TUI forms,
//! AutoML's search space and the store's parameter JSON all read it; nothing keeps a second list.

use std::collections::BTreeMap;

use serde::Serialize;

use super::params::{ParamSpec, ParamValue, Params};
use super::{abod, cof, kde, sod};
use super::{cblof, mcd};
use super::{copod, ecod, hbos, knn, lof, ocsvm, pca, DetectError, DetectResult, Detector};
use super::{gmm, iforest, inne, loda};

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
    /// Constraints between parameters (each one is checked alone by its spec), run by
    /// `resolve` so that they also fail before any work.
    #[serde(skip)]
    cross_check: Option<fn(&Params) -> DetectResult<()>>,
}

impl std::fmt::Debug for DetectorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectorInfo")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
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
        cross_check: None,
    },
    DetectorInfo {
        name: "copod",
        family: Family::Probabilistic,
        summary: "Copula-based tail probabilities per feature, summed (parameter-free)",
        complexity: "O(n log n · d)",
        randomized: false,
        params: copod::PARAMS,
        construct: |p| Box::new(copod::Copod::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "hbos",
        family: Family::Probabilistic,
        summary: "Histogram per feature; low-density bins score high",
        complexity: "O(n · d)",
        randomized: false,
        params: hbos::PARAMS,
        construct: |p| Box::new(hbos::Hbos::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "knn",
        family: Family::Proximity,
        summary: "Distance to the k-th nearest neighbour (or mean/median of the k)",
        complexity: "O(n² · d)",
        randomized: false,
        params: knn::PARAMS,
        construct: |p| Box::new(knn::Knn::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "lof",
        family: Family::Proximity,
        summary: "Local Outlier Factor: density relative to the neighbours' density",
        complexity: "O(n² · d)",
        randomized: false,
        params: lof::PARAMS,
        construct: |p| Box::new(lof::Lof::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "pca",
        family: Family::Linear,
        summary: "Distances to the principal axes, weighted by inverse explained variance",
        complexity: "O(n · d² + d³)",
        randomized: false,
        params: pca::PARAMS,
        construct: |p| Box::new(pca::Pca::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "ocsvm",
        family: Family::Linear,
        summary: "One-class SVM (RBF kernel, libsvm's SMO): distance outside the learned support",
        complexity: "O(n² · d) per pass over the kernel",
        randomized: false,
        params: ocsvm::PARAMS,
        construct: |p| Box::new(ocsvm::Ocsvm::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "mcd",
        family: Family::Linear,
        summary: "Mahalanobis distance to the robust (FastMCD, reweighted) location and covariance",
        complexity: "O(n · d² · iterations + d³)",
        randomized: true,
        params: mcd::PARAMS,
        construct: |p| Box::new(mcd::Mcd::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "cblof",
        family: Family::Proximity,
        summary: "Cluster-based LOF: distance to the own (large) or nearest large k-means centre",
        complexity: "O(n · k · d · iterations)",
        randomized: true,
        params: cblof::PARAMS,
        construct: |p| Box::new(cblof::Cblof::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "iforest",
        family: Family::Ensemble,
        summary: "Isolation Forest: short average path length in random isolation trees",
        complexity: "O(n · t · log ψ)",
        randomized: true,
        params: iforest::PARAMS,
        construct: |p| Box::new(iforest::IForest::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "loda",
        family: Family::Ensemble,
        summary: "LODA: −log density in histograms of sparse random projections",
        complexity: "O(n · t · √d)",
        randomized: true,
        params: loda::PARAMS,
        construct: |p| Box::new(loda::Loda::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "inne",
        family: Family::Ensemble,
        summary: "INNE: isolation by nearest-neighbour hyperspheres of random subsamples",
        complexity: "O(n · t · ψ · d)",
        randomized: true,
        params: inne::PARAMS,
        construct: |p| Box::new(inne::Inne::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "gmm",
        family: Family::Probabilistic,
        summary: "Gaussian mixture (EM): negative log-likelihood of each row",
        complexity: "O(i · n · k · d²)",
        randomized: true,
        params: gmm::PARAMS,
        construct: |p| Box::new(gmm::Gmm::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "kde",
        family: Family::Probabilistic,
        summary: "Gaussian kernel density estimate; low density scores high",
        complexity: "O(n² · d)",
        randomized: false,
        params: kde::PARAMS,
        construct: |p| Box::new(kde::Kde::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "sod",
        family: Family::Proximity,
        summary:
            "Subspace Outlier Degree: deviation in the axes where shared-neighbour peers agree",
        complexity: "O(n² · d)",
        randomized: false,
        params: sod::PARAMS,
        construct: |p| Box::new(sod::Sod::from_params(p)),
        cross_check: Some(sod::check_params),
    },
    DetectorInfo {
        name: "abod",
        family: Family::Proximity,
        summary: "Fast angle-based: low variance of angles to the k nearest neighbours",
        complexity: "O(n² · d + n · k² · d)",
        randomized: false,
        params: abod::PARAMS,
        construct: |p| Box::new(abod::Abod::from_params(p)),
        cross_check: None,
    },
    DetectorInfo {
        name: "cof",
        family: Family::Proximity,
        summary: "Connectivity-based Outlier Factor: chaining distance relative to the neighbours'",
        complexity: "O(n² · d)",
        randomized: false,
        params: cof::PARAMS,
        construct: |p| Box::new(cof::Cof::from_params(p)),
        cross_check: None,
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
        let params = resolve_params(self.name, self.params, given)?;
        if let Some(check) = self.cross_check {
            check(&params)?;
        }
        Ok(params)
    }

    /// Parses `key=value` strings from the command line against this detector's parameters.
    pub fn parse_assignments(
        &self,
        assignments: &[String],
    ) -> DetectResult<BTreeMap<String, ParamValue>> {
        parse_assignments(self.name, self.params, assignments)
    }

    pub fn build(&self, params: &Params) -> Box<dyn Detector> {
        (self.construct)(params)
    }
}

fn known_names(specs: &[ParamSpec]) -> String {
    if specs.is_empty() {
        "(none)".to_string()
    } else {
        specs.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
    }
}

/// Validates user-given values of `detector`'s parameters `specs` (unknown names, types,
/// ranges) and fills in the defaults. Shared by the batch and the streaming registries.
pub fn resolve_params(
    detector: &str,
    specs: &[ParamSpec],
    given: &BTreeMap<String, ParamValue>,
) -> DetectResult<Params> {
    for name in given.keys() {
        if !specs.iter().any(|p| p.name == name) {
            return Err(DetectError::UnknownParam {
                detector: detector.into(),
                param: name.clone(),
                known: known_names(specs),
            });
        }
    }
    let mut resolved = BTreeMap::new();
    for spec in specs {
        let value = match given.get(spec.name) {
            Some(v) => spec.check(detector, v)?,
            None => spec.default.to_value(),
        };
        resolved.insert(spec.name.to_string(), value);
    }
    Ok(Params(resolved))
}

/// Parses `key=value` strings from the command line against `specs`.
pub fn parse_assignments(
    detector: &str,
    specs: &[ParamSpec],
    assignments: &[String],
) -> DetectResult<BTreeMap<String, ParamValue>> {
    let mut out = BTreeMap::new();
    for a in assignments {
        let Some((key, value)) = a.split_once('=') else {
            return Err(DetectError::InvalidParam {
                detector: detector.into(),
                param: a.clone(),
                message: "expected key=value".into(),
            });
        };
        let key = key.trim();
        let spec =
            specs
                .iter()
                .find(|p| p.name == key)
                .ok_or_else(|| DetectError::UnknownParam {
                    detector: detector.into(),
                    param: key.to_string(),
                    known: known_names(specs),
                })?;
        out.insert(key.to_string(), spec.parse(detector, value)?);
    }
    Ok(out)
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
    fn zero_meaning_auto_is_shown_and_accepted_as_auto() {
        let iforest = find("iforest").unwrap();
        let spec = iforest
            .params
            .iter()
            .find(|p| p.name == "max_samples")
            .unwrap();
        assert_eq!(spec.parse("iforest", "auto").unwrap(), ParamValue::Int(0));
        assert_eq!(spec.parse("iforest", "AUTO").unwrap(), ParamValue::Int(0));
        assert_eq!(
            super::super::show_param("max_samples", &ParamValue::Int(0)),
            "auto"
        );
        assert_eq!(
            super::super::show_param("max_samples", &ParamValue::Int(64)),
            "64"
        );
        let pca = find("pca").unwrap();
        let spec = pca
            .params
            .iter()
            .find(|p| p.name == "n_selected_components")
            .unwrap();
        assert_eq!(spec.parse("pca", "all").unwrap(), ParamValue::Int(0));
        let ocsvm = find("ocsvm").unwrap();
        let spec = ocsvm.params.iter().find(|p| p.name == "gamma").unwrap();
        assert_eq!(spec.parse("ocsvm", "auto").unwrap(), ParamValue::Float(0.0));
        assert_eq!(
            super::super::show_param("gamma", &ParamValue::Float(0.0)),
            "auto"
        );
        assert_eq!(
            super::super::show_param("gamma", &ParamValue::Float(0.25)),
            "0.25"
        );
        // Elsewhere `auto` is not a number.
        let knn = find("knn").unwrap();
        assert!(knn.params[0].parse("knn", "auto").is_err());
    }

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

//! A rank-average ensemble of fitted models (AutoML's top-k candidate). Each member's score is
//! turned into its mid-rank among that member's training scores, divided by n, so that scales do
//! not matter; the ensemble score is the members' mean. On the training rows this equals the mean
//! of the members' rank-normalised training scores.

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::validate::{not_empty, values, Check, Rule};
use super::{DetectResult, Model, Params};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleMember {
    pub detector: String,
    pub params: Params,
    pub model: Model,
    /// The member's training scores, ascending: its scale for new rows.
    pub training_sorted: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleModel {
    pub members: Vec<EnsembleMember>,
}

impl EnsembleModel {
    /// Builds the ensemble from fitted members (detector, parameters, model, training scores);
    /// returns it with its training scores.
    pub fn new(members: Vec<(String, Params, Model, Vec<f64>)>) -> (EnsembleModel, Vec<f64>) {
        let n = members.first().map_or(0, |m| m.3.len());
        let mut training = vec![0.0; n];
        let members: Vec<EnsembleMember> = members
            .into_iter()
            .map(|(detector, params, model, scores)| {
                let mut sorted = scores.clone();
                sorted.sort_by(f64::total_cmp);
                for (t, s) in training.iter_mut().zip(&scores) {
                    *t += mid_rank(&sorted, *s);
                }
                EnsembleMember {
                    detector,
                    params,
                    model,
                    training_sorted: sorted,
                }
            })
            .collect();
        let k = members.len().max(1) as f64;
        training.iter_mut().for_each(|t| *t /= k);
        (EnsembleModel { members }, training)
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let mut total = Array1::<f64>::zeros(x.nrows());
        for m in &self.members {
            let scores = m.model.score(x)?;
            for (t, s) in total.iter_mut().zip(scores.iter()) {
                *t += mid_rank(&m.training_sorted, *s);
            }
        }
        Ok(total / self.members.len().max(1) as f64)
    }

    pub fn n_features(&self) -> usize {
        self.members.first().map_or(0, |m| m.model.n_features())
    }

    pub(super) fn validate(&self) -> Check {
        not_empty("members", self.members.len())?;
        let d = self.members[0].model.n_features();
        for (i, m) in self.members.iter().enumerate() {
            let kind = m.model.detector_name();
            // AutoML never nests ensembles; a nested one could recurse as deep as the file.
            if matches!(m.model, Model::Ensemble(_)) {
                return Err(format!("member {i} is itself an ensemble"));
            }
            if m.detector != kind {
                return Err(format!(
                    "member {i} is labelled {:?} but holds a {kind} model",
                    m.detector
                ));
            }
            m.model.validate().map_err(|e| format!("member {i}: {e}"))?;
            if m.model.n_features() != d {
                return Err(format!(
                    "member {i} expects {} features, member 0 expects {d}",
                    m.model.n_features()
                ));
            }
            let name = format!("training scores of member {i}");
            not_empty(&name, m.training_sorted.len())?;
            values(&name, &m.training_sorted, Rule::Finite)?;
            // New scores are ranked among them by binary search.
            if m.training_sorted.windows(2).any(|w| w[0] > w[1]) {
                return Err(format!("{name} are not sorted"));
            }
        }
        Ok(())
    }
}

/// (rows below + (rows equal + 1) / 2) / n: a training value's average rank over n, and the
/// same formula for values between training values.
fn mid_rank(sorted: &[f64], v: f64) -> f64 {
    let below = sorted.partition_point(|&s| s.total_cmp(&v).is_lt());
    let upto = sorted.partition_point(|&s| s.total_cmp(&v).is_le());
    let equal = upto - below;
    (below as f64 + (equal as f64 + 1.0) / 2.0) / sorted.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::{registry, JobCtx};
    use crate::metrics::average_ranks;
    use ndarray::Array2;
    use std::collections::BTreeMap;

    #[test]
    fn mid_ranks_match_average_ranks_on_the_training_scores() {
        let scores = [3.0, 1.0, 3.0, 2.0, 5.0];
        let mut sorted = scores.to_vec();
        sorted.sort_by(f64::total_cmp);
        let ranks = average_ranks(&scores);
        for (s, r) in scores.iter().zip(ranks) {
            assert_eq!(mid_rank(&sorted, *s), r / 5.0);
        }
        assert_eq!(mid_rank(&sorted, 0.0), 0.5 / 5.0);
        assert_eq!(mid_rank(&sorted, 9.0), 5.5 / 5.0);
    }

    #[test]
    fn scoring_the_training_rows_reproduces_the_training_scores() {
        // Members whose scores on the training rows equal their training scores (no
        // leave-one-out, no re-fit on new rows as ECOD does): HBOS and PCA.
        let x = Array2::from_shape_fn((60, 3), |(i, j)| {
            ((i * 7 + j * 13) % 17) as f64 + (i == 5) as u8 as f64 * 40.0
        });
        let members = ["hbos", "pca"]
            .iter()
            .map(|name| {
                let info = registry().iter().find(|d| d.name == *name).unwrap();
                let params = info.resolve(&BTreeMap::new()).unwrap();
                let fitted = info.build(&params).fit(x.view(), &JobCtx::new(0)).unwrap();
                (
                    name.to_string(),
                    params,
                    fitted.model,
                    fitted.training_scores.to_vec(),
                )
            })
            .collect();
        let (model, training) = EnsembleModel::new(members);
        let again = model.score(x.view()).unwrap();
        for (a, b) in training.iter().zip(again.iter()) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        let top = training
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(top, 5, "the planted row ranks first");
        let json = serde_json::to_string(&Model::Ensemble(model.clone())).unwrap();
        let back: Model = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Model::Ensemble(model));
    }
}

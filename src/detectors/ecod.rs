//! ECOD (Li et al. 2022): sum over features of the more extreme empirical tail probability,
//! −log scale, the tail chosen by each feature's skewness. Parameter-free and deterministic.

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::ecdf::{score_with_training, tail_scores};
use super::params::{ParamSpec, Params};
use super::validate::{training, Check};
use super::{validate_matrix, DetectResult, Detector, Fitted, JobCtx, Model};

pub const PARAMS: &[ParamSpec] = &[];

pub struct Ecod;

impl Ecod {
    pub fn from_params(_: &Params) -> Self {
        Ecod
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcodModel {
    /// ECOD ranks new rows together with the training rows, as PyOD does.
    pub train: Array2<f64>,
}

/// PyOD: O = max(U_skew, max(U_l, U_r)), per cell (`tail_cells`).
pub fn outlyingness(left: f64, right: f64, skewed: f64) -> f64 {
    skewed.max(left.max(right))
}

fn ecod_scores(x: ArrayView2<f64>) -> Array1<f64> {
    tail_scores(x, outlyingness)
}

impl Detector for Ecod {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        ctx.checkpoint()?;
        let training_scores = ecod_scores(x);
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::Ecod(EcodModel {
                train: x.to_owned(),
            }),
            training_scores,
        })
    }
}

impl EcodModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.train.ncols()
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        Ok(score_with_training(self.train.view(), x, ecod_scores))
    }

    pub(super) fn validate(&self) -> Check {
        training(&self.train)
    }
}

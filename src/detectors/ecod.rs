//! ECOD (Li et al. 2022): sum over features of the more extreme empirical tail probability,
//! −log scale, the tail chosen by each feature's skewness. Parameter-free and deterministic.

use ndarray::{concatenate, s, Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::ecdf::tails;
use super::numeric::numpy_sum;
use super::params::{ParamSpec, Params};
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

pub(crate) fn ecod_scores(x: ArrayView2<f64>) -> Array1<f64> {
    let t = tails(x);
    let mut o = t.left.clone();
    o.zip_mut_with(&t.right, |a, &b| *a = a.max(b));
    o.zip_mut_with(&t.skewed, |a, &b| *a = b.max(*a));
    o.rows()
        .into_iter()
        .map(|r| numpy_sum(r.as_slice().expect("standard layout")))
        .collect()
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
    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let all = concatenate(Axis(0), &[self.train.view(), x.view()])
            .expect("same width, checked by Model::score");
        let scores = ecod_scores(all.view());
        Ok(scores.slice(s![self.train.nrows()..]).to_owned())
    }
}

//! COPOD (Li et al. 2020): copula-based tail probabilities, averaged left/right tails versus the
//! skew-chosen tail, summed over features. Parameter-free and deterministic.

use ndarray::{concatenate, s, Array1, Array2, ArrayView2, Axis, Zip};
use serde::{Deserialize, Serialize};

use super::ecdf::tails;
use super::numeric::numpy_sum;
use super::params::{ParamSpec, Params};
use super::{validate_matrix, DetectResult, Detector, Fitted, JobCtx, Model};

pub const PARAMS: &[ParamSpec] = &[];

pub struct Copod;

impl Copod {
    pub fn from_params(_: &Params) -> Self {
        Copod
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopodModel {
    pub train: Array2<f64>,
}

fn copod_scores(x: ArrayView2<f64>) -> Array1<f64> {
    let t = tails(x);
    let mut o = Array2::<f64>::zeros(x.raw_dim());
    Zip::from(&mut o)
        .and(&t.left)
        .and(&t.right)
        .and(&t.skewed)
        .for_each(|o, &l, &r, &sk| {
            *o = sk.max((l + r) / 2.0);
        });
    o.rows()
        .into_iter()
        .map(|r| numpy_sum(r.as_slice().expect("standard layout")))
        .collect()
}

impl Detector for Copod {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        ctx.checkpoint()?;
        let training_scores = copod_scores(x);
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::Copod(CopodModel {
                train: x.to_owned(),
            }),
            training_scores,
        })
    }
}

impl CopodModel {
    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let all = concatenate(Axis(0), &[self.train.view(), x.view()])
            .expect("same width, checked by Model::score");
        let scores = copod_scores(all.view());
        Ok(scores.slice(s![self.train.nrows()..]).to_owned())
    }
}

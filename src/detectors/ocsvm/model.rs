//! The fitted one-class SVM: support vectors, dual coefficients, ρ and γ; the training scores
//! from the training kernel, and the scores of new rows (sklearn's `decision_function`).

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::kernel::{exp, PositionedRows, RbfKernel, LANES, PAR_MIN_WORK};
use crate::detectors::validate::{length, not_empty, value, values, Check, Rule};
use crate::detectors::{DetectResult, JobCtx};
use crate::numeric::simd::with_avx2_fma;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OcsvmModel {
    pub support_vectors: Array2<f64>,
    pub dual_coef: Vec<f64>,
    pub rho: f64,
    pub gamma: f64,
}

/// Training scores −(Σ αᵢ K(svᵢ, xⱼ) − ρ) for every training row j, the sum over support
/// vectors in order (libsvm `predict_values`), in `f64`. The kernel is libsvm's training form
/// (‖xᵢ‖² + ‖xⱼ‖² − 2 xᵢ·xⱼ); sklearn's prediction computes ‖xᵢ − xⱼ‖² directly, which agrees
/// to ~1e-16 relative per term.
pub(super) fn training_scores(
    kernel: &RbfKernel,
    alpha: &[f64],
    sv: &[usize],
    rho: f64,
    ctx: &JobCtx,
) -> DetectResult<Array1<f64>> {
    let l = kernel.len();
    let coef: Vec<f64> = sv.iter().map(|&i| alpha[i]).collect();
    let identity: Vec<usize> = (0..l).collect();
    let rows = PositionedRows::new(kernel, &identity);
    let mut scores = vec![0.0; l];
    ctx.checkpoint()?;
    let rows_per_task = if sv.len() * l >= PAR_MIN_WORK {
        LANES * 8
    } else {
        l.max(1)
    };
    scores
        .par_chunks_mut(rows_per_task)
        .enumerate()
        .for_each(|(task, out)| {
            with_avx2_fma(
                #[inline(always)]
                || {
                    for (c, out) in out.chunks_mut(LANES).enumerate() {
                        let first = task * rows_per_task + c * LANES;
                        let sums = kernel.kernel_sums(&rows, first, sv, &coef);
                        for (o, s) in out.iter_mut().zip(sums) {
                            *o = -(s - rho);
                        }
                    }
                },
            )
        });
    Ok(Array1::from(scores))
}

impl OcsvmModel {
    pub fn n_features(&self) -> usize {
        self.support_vectors.ncols()
    }

    /// −(Σ αᵢ exp(−γ‖x − svᵢ‖²) − ρ) for new rows, the sum over support vectors in order
    /// (libsvm `predict_values`, sklearn's `decision_function`).
    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let d = self.n_features();
        let xs = x.as_standard_layout();
        let data = xs.as_slice().expect("standard layout");
        let svs = self.support_vectors.as_standard_layout();
        let sv = svs.as_slice().expect("standard layout");
        let neg_gamma = -self.gamma;
        let out: Vec<f64> = data
            .par_chunks(d)
            .with_min_len(64)
            .map(|row| {
                let mut sum = 0.0;
                for (coef, s) in self.dual_coef.iter().zip(sv.chunks(d)) {
                    let mut dist = 0.0;
                    for k in 0..d {
                        let t = row[k] - s[k];
                        dist += t * t;
                    }
                    sum += coef * exp(neg_gamma * dist);
                }
                -(sum - self.rho)
            })
            .collect();
        Ok(Array1::from(out))
    }

    pub(in crate::detectors) fn validate(&self) -> Check {
        let (n, d) = self.support_vectors.dim();
        if d == 0 {
            return Err("support_vectors has no features".into());
        }
        not_empty("support_vectors", n)?;
        values("support_vectors", &self.support_vectors, Rule::Finite)?;
        length("dual_coef", self.dual_coef.len(), n)?;
        values("dual_coef", &self.dual_coef, Rule::Finite)?;
        value("rho", self.rho, Rule::Finite)?;
        value("gamma", self.gamma, Rule::Positive)
    }
}

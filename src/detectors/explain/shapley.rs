//! The model-agnostic explanation: a sampling estimate of the Shapley values of the score
//! (Štrumbelj & Kononenko 2014). For a permutation of the features and a reference row r, the
//! features of the row are switched in one by one, from r towards the row, and each feature is
//! credited with the change of the score its switch makes. Averaged over permutations (in
//! antithetic pairs: a permutation and its reverse) and reference rows drawn from the training
//! data, the contributions add up exactly to `score(row) − mean score of the reference rows`.

use ndarray::{Array2, ArrayView2};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::{ExplainOptions, RowExplanation, Rows};
use crate::detectors::Model;
use crate::jobctx::{DetectResult, JobCtx};

/// Reference rows drawn from the training data.
const REFERENCE_ROWS: usize = 32;
/// Values scored per batch (bounds memory on wide data).
const BATCH_VALUES: usize = 1 << 22;

pub fn explain(
    model: &Model,
    train: ArrayView2<f64>,
    rows: Rows,
    options: &ExplainOptions,
    ctx: &JobCtx,
) -> DetectResult<Vec<RowExplanation>> {
    let d = model.n_features();
    let n = train.nrows();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(options.seed);
    let reference: Vec<Vec<f64>> = if n == 0 {
        vec![vec![0.0; d]]
    } else {
        rand::seq::index::sample(&mut rng, n, REFERENCE_ROWS.min(n))
            .iter()
            .map(|i| train.row(i).to_vec())
            .collect()
    };
    let permutations = options.permutations.max(2).div_ceil(2) * 2;
    let per_batch = (BATCH_VALUES / ((d + 1) * d).max(1)).max(2) / 2 * 2;
    (0..rows.len())
        .map(|r| {
            let (row, index) = rows.get(train, r);
            // Seeded by the row itself: its explanation does not depend on which others are
            // explained with it.
            let row_seed =
                options.seed ^ (index.unwrap_or(r) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(row_seed);
            let mut contributions = vec![0.0; d];
            let mut done = 0;
            while done < permutations {
                ctx.checkpoint()?;
                let count = per_batch.min(permutations - done);
                let mut orders = Vec::with_capacity(count);
                for p in 0..count {
                    if p % 2 == 0 {
                        let mut order: Vec<usize> = (0..d).collect();
                        order.shuffle(&mut rng);
                        orders.push(order);
                    } else {
                        let mut reverse = orders[p - 1].clone();
                        reverse.reverse();
                        orders.push(reverse);
                    }
                }
                let mut hybrids = Array2::<f64>::zeros((count * (d + 1), d));
                for (p, order) in orders.iter().enumerate() {
                    let base = &reference[((done + p) / 2) % reference.len()];
                    let mut current = base.clone();
                    hybrids
                        .row_mut(p * (d + 1))
                        .assign(&ndarray::aview1(&current));
                    for (t, &f) in order.iter().enumerate() {
                        current[f] = row[f];
                        hybrids
                            .row_mut(p * (d + 1) + t + 1)
                            .assign(&ndarray::aview1(&current));
                    }
                }
                let scores = score_each(model, hybrids.view())?;
                for (p, order) in orders.iter().enumerate() {
                    for (t, &f) in order.iter().enumerate() {
                        let at = p * (d + 1) + t;
                        contributions[f] += scores[at + 1] - scores[at];
                    }
                }
                done += count;
            }
            contributions
                .iter_mut()
                .for_each(|c| *c /= permutations as f64);
            Ok(RowExplanation {
                method: "shapley-sampling",
                contributions,
                neighbours: Vec::new(),
            })
        })
        .collect()
}

/// Each row's score on its own. ECOD and COPOD rank new rows together, so a batch of hybrids
/// that share the explained row's extreme value would make each other look normal: they are
/// scored one by one against the training rows instead.
fn score_each(model: &Model, x: ArrayView2<f64>) -> DetectResult<ndarray::Array1<f64>> {
    use crate::detectors::{copod, ecdf, ecod};
    match model {
        Model::Ecod(m) => Ok(ecdf::score_each_alone(
            m.train.view(),
            x,
            ecod::outlyingness,
        )),
        Model::Copod(m) => Ok(ecdf::score_each_alone(
            m.train.view(),
            x,
            copod::outlyingness,
        )),
        _ => model.score(x),
    }
}

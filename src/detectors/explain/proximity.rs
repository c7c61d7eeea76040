//! Proximity detectors: the row's distance to the neighbours that made its score, split per
//! feature. `Σⱼ (xⱼ − nⱼ)² / ‖x − n‖ = ‖x − n‖`, so the terms add up to that distance exactly.

use ndarray::{Array2, ArrayView2};

use super::{split_distance, RowExplanation, Rows};
use crate::jobctx::{DetectResult, JobCtx};
use crate::neighbors::knn_query;

/// Which neighbours' distances the score is made of.
#[derive(Debug, Clone, Copy)]
pub enum Pick {
    /// The k-th (kNN `largest`): the terms add up to the score.
    Kth,
    /// All k, averaged (kNN `mean`: the terms add up to the score; LOF, COF, SOD, ABOD: to the
    /// mean distance to the neighbours that define the row's density, angle or subspace).
    Mean,
    /// The middle one or two (kNN `median`: the terms add up to the score).
    Median,
}

pub fn explain(
    method: &'static str,
    train: ArrayView2<f64>,
    k: usize,
    pick: Pick,
    rows: Rows,
    ctx: &JobCtx,
) -> DetectResult<Vec<RowExplanation>> {
    let d = train.ncols();
    let (queries, own): (Array2<f64>, Vec<Option<usize>>) = match rows {
        Rows::Training(indices) => (
            ndarray::stack(
                ndarray::Axis(0),
                &indices.iter().map(|&i| train.row(i)).collect::<Vec<_>>(),
            )
            .unwrap_or_else(|_| Array2::zeros((0, d))),
            indices.iter().map(|&i| Some(i)).collect(),
        ),
        Rows::New(x) => (x.to_owned(), vec![None; x.nrows()]),
        Rows::NewIn { batch, picks } => (
            batch.select(ndarray::Axis(0), picks),
            vec![None; picks.len()],
        ),
    };
    if queries.nrows() == 0 {
        return Ok(Vec::new());
    }
    // A training row is left out of its own neighbours, as the fit left it out.
    let extra = usize::from(own.iter().any(Option::is_some));
    let k = k.min(train.nrows().saturating_sub(extra)).max(1);
    let found = knn_query(train, queries.view(), (k + extra).min(train.nrows()), ctx)?;
    let mut out = Vec::with_capacity(queries.nrows());
    for (r, self_index) in own.iter().enumerate() {
        let mut neighbours: Vec<usize> = found.indices.row(r).to_vec();
        if let Some(i) = self_index {
            match neighbours.iter().position(|n| n == i) {
                Some(at) => {
                    neighbours.remove(at);
                }
                None => {
                    neighbours.pop();
                }
            }
        }
        neighbours.truncate(k);
        let row = queries.row(r).to_vec();
        let used: Vec<usize> = match pick {
            Pick::Kth => vec![neighbours.len() - 1],
            Pick::Mean => (0..neighbours.len()).collect(),
            Pick::Median => {
                let m = neighbours.len();
                if m % 2 == 1 {
                    vec![m / 2]
                } else {
                    vec![m / 2 - 1, m / 2]
                }
            }
        };
        let mut terms = vec![0.0; d];
        let weight = 1.0 / used.len() as f64;
        for &u in &used {
            split_distance(&row, &train.row(neighbours[u]).to_vec(), weight, &mut terms);
        }
        out.push(RowExplanation {
            method,
            contributions: terms,
            neighbours,
        });
    }
    Ok(out)
}

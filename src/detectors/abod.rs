//! Angle-Based Outlier Detection, fast variant (Kriegel et al. 2008), as PyOD's
//! `ABOD(method='fast')` computes it: for each point p, take its k nearest neighbours **including p
//! itself** (PyOD queries the training matrix with X, so p is one of its own neighbours), form
//! every pair (a, b) of them in `itertools.combinations` order, skip the pairs where a or b equals
//! p (p itself and its exact duplicates: no angle exists), and compute the weighted cosine
//! `⟨a−p, b−p⟩ / ‖a−p‖² / ‖b−p‖²`. The score is minus the (population) variance of those values:
//! a point seen under a narrow spread of angles is far from the data.
//!
//! **No angle at all.** When at most one neighbour differs from p (≥ k−1 exact duplicates among
//! the k), the list is empty and PyOD returns `np.var([])` = NaN. We never return NaN: such a
//! point sits inside a stack of identical rows, the most ordinary place there is (as duplicates
//! approach p the weighted cosines and their variance grow without bound, so the score tends to
//! −∞). It gets the lowest finite training score, tying it with the least anomalous row (0 if no
//! training row had an angle). The parity test compares PyOD's cells on the rows where PyOD's
//! score is finite.
//!
//! Parity details (bit-identical to PyOD on all nine reference datasets and the tie-heavy sets of
//! tests/parity_ties.rs): the neighbour lists come from scikit-learn's own search order
//! ([`crate::replicas::sktree`]), which fixes the pair order; `np.dot` is OpenBLAS's `ddot` and `np.linalg.norm` its x87 `dnrm2` (both as
//! numba calls them, [`crate::replicas::openblas`]); `np.var` uses numpy's pairwise sums.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::support::check_neighbors;
use super::validate::{neighbours, training, value, Check, Rule};
use super::{validate_matrix, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::neighbors::Neighbors;
use crate::numeric::rows::par_map_rows;
use crate::numeric::sums::numpy_sum;
use crate::replicas::openblas::{nrm2_squared, openblas_ddot};
use crate::replicas::sktree::{kneighbors, kneighbors_of_training};

pub const PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "n_neighbors",
    kind: ParamKind::Int {
        min: 3,
        max: 1000,
        log: true,
    },
    // PyOD's default (`ABOD(n_neighbors=5)`). It was 10, the value ../shared/reference fits
    // ABOD with (tests/parity.rs passes it explicitly): users comparing `-d abod` with PyOD's
    // `ABOD()` got other scores (issue 19: Spearman 0.755 on satellite, every row different,
    // while `n_neighbors=5` matches PyOD bit for bit, tied and duplicate rows included).
    default: DefaultValue::Int(5),
    help: "neighbours per point, the point itself included (at least 3 to form an angle)",
    search: Search::Range {
        min: 5.0,
        max: 30.0,
    },
}];

pub struct Abod {
    k: usize,
}

impl Abod {
    pub fn from_params(p: &Params) -> Self {
        Abod {
            k: p.int("n_neighbors") as usize,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbodModel {
    pub train: Array2<f64>,
    pub k: usize,
    /// The score given to a point with no angle among its neighbours (see the module docs).
    pub no_angle_score: f64,
}

/// `np.var` (ddof 0) of the weighted cosines of `p` against the pairs of `neighbours`, or `None`
/// when no pair forms an angle.
fn angle_variance(
    train: ArrayView2<f64>,
    p: ArrayView1<f64>,
    neighbours: ArrayView1<usize>,
    scratch: &mut Scratch,
) -> Option<f64> {
    let p = p.as_slice().expect("standard layout");
    let d = p.len();
    // a − p for each neighbour; `None` where the neighbour equals p (np.array_equal).
    scratch.diffs.clear();
    scratch.diffs.resize(neighbours.len() * d, 0.0);
    scratch.norms.clear();
    for (slot, &j) in neighbours.iter().enumerate() {
        let row = train.row(j);
        let row = row.as_slice().expect("standard layout");
        if row == p {
            scratch.norms.push(None);
            continue;
        }
        let diff = &mut scratch.diffs[slot * d..(slot + 1) * d];
        for ((o, a), b) in diff.iter_mut().zip(row).zip(p) {
            *o = a - b;
        }
        scratch.norms.push(Some(nrm2_squared(diff)));
    }
    scratch.wcos.clear();
    let k = neighbours.len();
    for a in 0..k {
        let Some(na) = scratch.norms[a] else { continue };
        for b in a + 1..k {
            let Some(nb) = scratch.norms[b] else { continue };
            let da = &scratch.diffs[a * d..(a + 1) * d];
            let db = &scratch.diffs[b * d..(b + 1) * d];
            scratch.wcos.push(openblas_ddot(da, db) / na / nb);
        }
    }
    if scratch.wcos.is_empty() {
        return None;
    }
    // np.var: mean by pairwise sum, then the pairwise sum of squared deviations, over m.
    let m = scratch.wcos.len() as f64;
    let mean = numpy_sum(&scratch.wcos) / m;
    for w in scratch.wcos.iter_mut() {
        let dev = *w - mean;
        *w = dev * dev;
    }
    Some(numpy_sum(&scratch.wcos) / m)
}

#[derive(Default)]
struct Scratch {
    diffs: Vec<f64>,
    norms: Vec<Option<f64>>,
    wcos: Vec<f64>,
}

/// `−var` per query row, `None` where no angle exists.
fn abod_scores(
    train: ArrayView2<f64>,
    queries: ArrayView2<f64>,
    neighbors: &Neighbors,
    ctx: &JobCtx,
) -> DetectResult<Vec<Option<f64>>> {
    par_map_rows(queries.nrows(), ctx, Scratch::default, |scratch, i| {
        angle_variance(train, queries.row(i), neighbors.indices.row(i), scratch).map(|v| -v)
    })
}

impl Detector for Abod {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        // PyOD silently lowers k to n − 1; we say so instead, before any work.
        check_neighbors(x, self.k)?;
        let train = x.as_standard_layout().to_owned();
        let neighbors = kneighbors_of_training(train.view(), self.k, ctx)?;
        let scores = abod_scores(train.view(), train.view(), &neighbors, ctx)?;
        let no_angle_score = scores
            .iter()
            .flatten()
            .copied()
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.min(s))));
        let no_angle_score = no_angle_score.unwrap_or(0.0);
        let training_scores: Array1<f64> = scores
            .into_iter()
            .map(|s| s.unwrap_or(no_angle_score))
            .collect();
        Ok(Fitted {
            model: Model::Abod(AbodModel {
                train,
                k: self.k,
                no_angle_score,
            }),
            training_scores,
        })
    }
}

impl AbodModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.train.ncols()
    }

    /// PyOD's `_decision_function_fast`: the k nearest training rows of each new row (a training
    /// row equal to it is skipped like the point itself).
    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let ctx = JobCtx::default();
        let x = x.as_standard_layout();
        let neighbors = kneighbors(self.train.view(), x.view(), self.k, &ctx)?;
        let scores = abod_scores(self.train.view(), x.view(), &neighbors, &ctx)?;
        Ok(scores
            .into_iter()
            .map(|s| s.unwrap_or(self.no_angle_score))
            .collect())
    }

    pub(super) fn validate(&self) -> Check {
        training(&self.train)?;
        neighbours(self.k, self.train.nrows())?;
        value("no_angle_score", self.no_angle_score, Rule::Finite)
    }
}

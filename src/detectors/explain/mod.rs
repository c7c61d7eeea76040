//! Why is a row anomalous: per-feature contributions to its score, for every detector.
//!
//! Each detector gets the explanation that follows how it scores (docs/explain.md):
//! - ECOD, COPOD, HBOS: their per-feature terms, which add up to the score exactly;
//! - kNN, LOF, COF, SOD, ABOD: the row's distance to the neighbours that made the score, split
//!   per feature (`Σⱼ (xⱼ − nⱼ)² / ‖x − n‖ = ‖x − n‖`), and those neighbours;
//! - PCA: its distances to the selected components, split the same way (adds up to the score);
//! - MCD: the terms `cⱼ·(Σ⁻¹c)ⱼ` of the Mahalanobis distance (add up to the score);
//!   GMM: the same, halved, for the component most responsible for the row;
//! - CBLOF: the distance to the row's large cluster centre, split per feature;
//! - iForest: per split on the row's paths, the share of typical rows it cut the row off from;
//! - the others (and any detector on request): a sampling estimate of the Shapley values of the
//!   score against a reference sample of the training rows.
//!
//! Positive contributions push the row towards anomalous.

mod context;
mod forest;
mod proximity;
mod shapley;

use ndarray::{Array2, ArrayView2};

pub use context::FeatureStats;

use super::{copod, ecdf, ecod, DetectError, DetectResult, JobCtx, Model};

/// How to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// The detector's own explanation (Shapley sampling where it has none).
    #[default]
    Auto,
    /// Shapley sampling, for any detector.
    Shapley,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Method::Auto),
            "shapley" => Ok(Method::Shapley),
            other => Err(format!(
                "unknown explanation method {other:?} (auto or shapley)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExplainOptions {
    pub method: Method,
    /// Seeds the reference sample and the permutations of Shapley sampling.
    pub seed: u64,
    /// Permutations per row for Shapley sampling (antithetic pairs).
    pub permutations: usize,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            method: Method::Auto,
            seed: 0,
            permutations: 64,
        }
    }
}

/// The rows to explain.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    /// Rows of the training matrix, by index: explained as the fit scored them (a proximity
    /// detector leaves the row itself out of its neighbours).
    Training(&'a [usize]),
    /// New rows, explained as [`Model::score`] scores them.
    New(ArrayView2<'a, f64>),
    /// Rows `picks` of a batch of new rows, explained as [`Model::score`] scores the whole
    /// batch: ECOD and COPOD rank a batch's rows together with the training rows, so a row's
    /// score (and its explanation) depends on the rest of its batch.
    NewIn {
        batch: ArrayView2<'a, f64>,
        picks: &'a [usize],
    },
}

impl Rows<'_> {
    fn len(&self) -> usize {
        match self {
            Rows::Training(i) => i.len(),
            Rows::New(x) => x.nrows(),
            Rows::NewIn { picks, .. } => picks.len(),
        }
    }

    /// Row `r`'s values and, for a training row, its index in the training matrix.
    fn get(&self, train: ArrayView2<f64>, r: usize) -> (Vec<f64>, Option<usize>) {
        match self {
            Rows::Training(i) => (train.row(i[r]).to_vec(), Some(i[r])),
            Rows::New(x) => (x.row(r).to_vec(), None),
            Rows::NewIn { batch, picks } => (batch.row(picks[r]).to_vec(), None),
        }
    }
}

/// One row's explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct RowExplanation {
    /// What the contributions are (`ecod-tails`, `knn-distance`, `shapley-sampling`, …).
    pub method: &'static str,
    /// One per feature, in the matrix's column order; positive = towards anomalous.
    pub contributions: Vec<f64>,
    /// For proximity detectors: the training rows (indices) the score was measured against,
    /// nearest first.
    pub neighbours: Vec<usize>,
}

/// Explains `rows` of a model fitted on `train` (the training matrix, or for a model scored
/// on new data without it, a stand-in sample of the same columns: the Shapley reference and
/// the forest's node masses are drawn from it).
pub fn explain(
    model: &Model,
    train: ArrayView2<f64>,
    rows: Rows,
    options: &ExplainOptions,
    ctx: &JobCtx,
) -> DetectResult<Vec<RowExplanation>> {
    let d = model.n_features();
    if train.ncols() != d {
        return Err(DetectError::InvalidData(format!(
            "the model was fitted on {d} features, the reference data has {}",
            train.ncols()
        )));
    }
    if let Rows::NewIn { batch, picks } = rows {
        if let Some(&bad) = picks.iter().find(|&&i| i >= batch.nrows()) {
            return Err(DetectError::InvalidData(format!(
                "row {bad} is not in the batch ({} rows)",
                batch.nrows()
            )));
        }
        // Only the ECDF detectors' own explanations see the rest of the batch.
        let batch_wide =
            matches!(model, Model::Ecod(_) | Model::Copod(_)) && options.method != Method::Shapley;
        if !batch_wide {
            let x = batch.select(ndarray::Axis(0), picks);
            return explain(model, train, Rows::New(x.view()), options, ctx);
        }
    }
    if let Rows::New(x) | Rows::NewIn { batch: x, .. } = rows {
        if x.ncols() != d {
            return Err(DetectError::InvalidData(format!(
                "the model was fitted on {d} features, the rows have {}",
                x.ncols()
            )));
        }
    }
    if let Rows::Training(indices) = rows {
        if let Some(&bad) = indices.iter().find(|&&i| i >= train.nrows()) {
            return Err(DetectError::InvalidData(format!(
                "row {bad} is not in the training data ({} rows)",
                train.nrows()
            )));
        }
    }
    if options.method == Method::Shapley {
        return shapley::explain(model, train, rows, options, ctx);
    }
    let each = |method: &'static str, terms: &dyn Fn(&[f64]) -> Vec<f64>| {
        (0..rows.len())
            .map(|r| {
                ctx.checkpoint()?;
                let (row, _) = rows.get(train, r);
                Ok(RowExplanation {
                    method,
                    contributions: terms(&row),
                    neighbours: Vec::new(),
                })
            })
            .collect::<DetectResult<Vec<_>>>()
    };
    match model {
        Model::Ecod(m) => tails("ecod-tails", m.train.view(), rows, ecod::outlyingness),
        Model::Copod(m) => tails("copod-tails", m.train.view(), rows, copod::outlyingness),
        Model::Hbos(m) => each("hbos-bins", &|row| m.feature_terms(row)),
        Model::Knn(m) => {
            let pick = match m.method {
                super::knn::KnnMethod::Largest => proximity::Pick::Kth,
                super::knn::KnnMethod::Mean => proximity::Pick::Mean,
                super::knn::KnnMethod::Median => proximity::Pick::Median,
            };
            proximity::explain("knn-distance", m.train.view(), m.k, pick, rows, ctx)
        }
        Model::Lof(m) => proximity::explain(
            "lof-neighbour-distance",
            m.train.view(),
            m.k,
            proximity::Pick::Mean,
            rows,
            ctx,
        ),
        Model::Cof(m) => proximity::explain(
            "cof-neighbour-distance",
            m.train.view(),
            m.k,
            proximity::Pick::Mean,
            rows,
            ctx,
        ),
        Model::Sod(m) => proximity::explain(
            "sod-neighbour-distance",
            m.train.view(),
            m.k,
            proximity::Pick::Mean,
            rows,
            ctx,
        ),
        Model::Abod(m) => proximity::explain(
            "abod-neighbour-distance",
            m.train.view(),
            m.k,
            proximity::Pick::Mean,
            rows,
            ctx,
        ),
        Model::Pca(m) => each("pca-component-distance", &|row| pca_terms(m, row)),
        Model::Mcd(m) => each("mahalanobis-terms", &|row| {
            let c: Vec<f64> = row.iter().zip(&m.location).map(|(v, l)| v - l).collect();
            quadratic_terms(&m.precision, &c)
        }),
        Model::Gmm(m) => each("gmm-component-mahalanobis", &|row| {
            m.dominant_component_terms(row)
        }),
        Model::Cblof(m) => each("cblof-centre-distance", &|row| cblof_terms(m, row)),
        Model::IForest(m) => forest::explain(m, train, rows, options, ctx),
        Model::Loda(m) => {
            let centre = column_means(train);
            each("loda-projections", &|row| loda_terms(m, row, &centre))
        }
        Model::Kde(_) | Model::Inne(_) | Model::Ocsvm(_) | Model::Ensemble(_) => {
            shapley::explain(model, train, rows, options, ctx)
        }
    }
}

/// Each column's mean (non-finite values left out).
fn column_means(x: ArrayView2<f64>) -> Vec<f64> {
    x.columns()
        .into_iter()
        .map(|c| {
            let (sum, n) = c
                .iter()
                .filter(|v| v.is_finite())
                .fold((0.0, 0usize), |(s, n), &v| (s + v, n + 1));
            if n == 0 {
                0.0
            } else {
                sum / n as f64
            }
        })
        .collect()
}

/// LODA: each projection's term of the score, split among the features the projection uses
/// in proportion to `|wⱼ·(xⱼ − μⱼ)|`, how far each moves the projected value from that of the
/// training mean μ (evenly when the row sits at the mean). Adds up to the score.
fn loda_terms(m: &super::loda::LodaModel, row: &[f64], centre: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; row.len()];
    for (p, term) in m.projections.iter().zip(m.projection_terms(row)) {
        let pushes: Vec<f64> = p
            .features
            .iter()
            .zip(&p.weights)
            .map(|(&f, &w)| (w * (row[f] - centre.get(f).copied().unwrap_or(0.0))).abs())
            .collect();
        let total: f64 = pushes.iter().sum();
        for (&f, push) in p.features.iter().zip(&pushes) {
            let share = if total > 0.0 {
                push / total
            } else {
                1.0 / p.features.len() as f64
            };
            out[f] += term * share;
        }
    }
    out
}

/// ECOD/COPOD: the cells of the tail-probability matrix the score adds up. Training rows are
/// ranked among the training rows (as the fit did), new rows together with them (as
/// `decision_function` does).
fn tails(
    method: &'static str,
    train: ArrayView2<f64>,
    rows: Rows,
    outlyingness: fn(f64, f64, f64) -> f64,
) -> DetectResult<Vec<RowExplanation>> {
    let (matrix, picks): (Array2<f64>, Vec<usize>) = match rows {
        Rows::Training(indices) => (train.to_owned(), indices.to_vec()),
        Rows::New(x) => {
            let all = ndarray::concatenate(ndarray::Axis(0), &[train.view(), x.view()])
                .map_err(|e| DetectError::InvalidData(e.to_string()))?;
            (all, (train.nrows()..train.nrows() + x.nrows()).collect())
        }
        Rows::NewIn { batch, picks } => {
            let all = ndarray::concatenate(ndarray::Axis(0), &[train.view(), batch.view()])
                .map_err(|e| DetectError::InvalidData(e.to_string()))?;
            (all, picks.iter().map(|&i| train.nrows() + i).collect())
        }
    };
    let n = matrix.nrows();
    let cells = ecdf::tail_cells(matrix.view(), outlyingness);
    let d = matrix.ncols();
    Ok(picks
        .into_iter()
        .map(|i| RowExplanation {
            method,
            contributions: (0..d).map(|j| cells[j * n + i]).collect(),
            neighbours: Vec::new(),
        })
        .collect())
}

/// `Σ_k ‖z − v_k‖ / w_k`, each distance split per feature as `(zⱼ − v_kⱼ)² / ‖z − v_k‖`.
fn pca_terms(m: &super::pca::PcaModel, row: &[f64]) -> Vec<f64> {
    let z: Vec<f64> = match (&m.mean, &m.scale) {
        (Some(mean), Some(scale)) => row
            .iter()
            .zip(mean)
            .zip(scale)
            .map(|((v, m), s)| (v - m) / s)
            .collect(),
        _ => row.to_vec(),
    };
    let mut terms = vec![0.0; z.len()];
    for (v, w) in m.components.rows().into_iter().zip(&m.weights) {
        split_distance(&z, v.as_slice().unwrap_or(&v.to_vec()), 1.0 / w, &mut terms);
    }
    terms
}

/// CBLOF: the distance to the centre the score measured, split per feature (times the
/// cluster's size when the model weights by it).
fn cblof_terms(m: &super::cblof::CblofModel, row: &[f64]) -> Vec<f64> {
    let centres = m.centers.as_standard_layout();
    let d = centres.ncols();
    let sq = |c: usize| -> f64 {
        (0..d)
            .map(|j| (row[j] - centres[[c, j]]).powi(2))
            .sum::<f64>()
    };
    let nearest = |candidates: &mut dyn Iterator<Item = usize>| {
        candidates
            .map(|c| (c, sq(c)))
            .fold(None, |best: Option<(usize, f64)>, (c, s)| match best {
                Some((_, b)) if b <= s => best,
                _ => Some((c, s)),
            })
            .map(|(c, _)| c)
            .unwrap_or(0)
    };
    let label = nearest(&mut (0..centres.nrows()));
    let centre = if m.large[label] {
        label
    } else {
        nearest(&mut (0..centres.nrows()).filter(|&c| m.large[c]))
    };
    let factor = if m.use_weights {
        m.sizes[label] as f64
    } else {
        1.0
    };
    let mut terms = vec![0.0; d];
    split_distance(row, &centres.row(centre).to_vec(), factor, &mut terms);
    terms
}

/// Adds `factor · (aⱼ − bⱼ)² / ‖a − b‖` to `terms`: the distance split per feature, adding up
/// to `factor · ‖a − b‖`.
fn split_distance(a: &[f64], b: &[f64], factor: f64, terms: &mut [f64]) {
    let squares: Vec<f64> = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).collect();
    let distance = squares.iter().sum::<f64>().sqrt();
    if distance > 0.0 {
        for (t, s) in terms.iter_mut().zip(squares) {
            *t += factor * s / distance;
        }
    }
}

/// `cᵀPc` split per feature: `cⱼ·(Pc)ⱼ` (P row-major, symmetric).
fn quadratic_terms(p: &[f64], c: &[f64]) -> Vec<f64> {
    let d = c.len();
    (0..d)
        .map(|j| c[j] * (0..d).map(|k| p[j * d + k] * c[k]).sum::<f64>())
        .collect()
}

/// The training matrix a model keeps (those that score against it), if any.
pub fn training_data(model: &Model) -> Option<ArrayView2<'_, f64>> {
    match model {
        Model::Ecod(m) => Some(m.train.view()),
        Model::Copod(m) => Some(m.train.view()),
        Model::Knn(m) => Some(m.train.view()),
        Model::Lof(m) => Some(m.train.view()),
        Model::Kde(m) => Some(m.train.view()),
        Model::Sod(m) => Some(m.train.view()),
        Model::Abod(m) => Some(m.train.view()),
        Model::Cof(m) => Some(m.train.view()),
        _ => None,
    }
}

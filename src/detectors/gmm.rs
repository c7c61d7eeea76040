//! Gaussian mixture model, as PyOD's `GMM` wraps scikit-learn's `GaussianMixture`: EM from a
//! k-means (or k-means++, random, random-from-data) start, `n_init` restarts keeping the best
//! lower bound, and score = −log-likelihood of each row under the mixture (PyOD's
//! `-score_samples`). Covariances get `reg_covar` on the diagonal; a covariance that is still
//! not positive definite is refused with scikit-learn's advice.
//!
//! With one component (PyOD's default) EM converges in its second step to the sample mean and
//! the (biased) sample covariance plus `reg_covar`, whatever the start.
//!
//! The linear algebra (Cholesky factor, triangular inverse) is `numeric::linalg`'s and the k-means
//! start `numeric::kmeans`'s sequential variant; the log-determinant is written out here. Sums
//! over rows are taken over fixed blocks in a fixed order, so results do not depend on the thread
//! count. Randomness (the k-means start) comes from one ChaCha8 stream seeded with the job seed,
//! shared in order by the `n_init` restarts.

use ndarray::{Array1, ArrayView2};
use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::validate::{length, not_empty, product, values, Check, Rule};
use super::{validate_matrix, DetectError, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::numeric::kmeans::{kmeans, kmeans_plusplus_blocked};
use crate::numeric::linalg::{cholesky, inverse_lower};
use crate::numeric::rows::row_major;
use crate::numeric::sums::numpy_mean;

pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n_components",
        kind: ParamKind::Int {
            min: 1,
            max: 100,
            log: true,
        },
        default: DefaultValue::Int(1),
        help: "number of Gaussian components",
        search: Search::Range {
            min: 1.0,
            max: 10.0,
        },
    },
    ParamSpec {
        name: "covariance_type",
        kind: ParamKind::Choice {
            choices: &["full", "tied", "diag", "spherical"],
        },
        default: DefaultValue::Text("full"),
        help: "full matrix per component, one shared matrix, diagonal, or a single variance",
        search: Search::All,
    },
    ParamSpec {
        name: "tol",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1.0,
            min_open: false,
            max_open: false,
            log: false,
        },
        default: DefaultValue::Float(1e-3),
        help: "EM stops when the mean log-likelihood gains less than this",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "reg_covar",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1.0,
            min_open: false,
            max_open: false,
            log: false,
        },
        default: DefaultValue::Float(1e-6),
        help: "added to the covariance diagonals (keeps them positive definite)",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "max_iter",
        kind: ParamKind::Int {
            min: 1,
            max: 10_000,
            log: true,
        },
        default: DefaultValue::Int(100),
        help: "EM iterations per initialisation",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "n_init",
        kind: ParamKind::Int {
            min: 1,
            max: 100,
            log: false,
        },
        default: DefaultValue::Int(1),
        help: "initialisations; the one with the best lower bound is kept",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "init_params",
        kind: ParamKind::Choice {
            choices: &["kmeans", "k-means++", "random", "random_from_data"],
        },
        default: DefaultValue::Text("kmeans"),
        help: "start: k-means labels, k-means++ centres, random responsibilities or random rows",
        search: Search::Fixed,
    },
];

/// Rows per block in parallel loops; block sums are added in block order.
const BLOCK: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CovarianceType {
    Full,
    Tied,
    Diag,
    Spherical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Init {
    Kmeans,
    KmeansPlusPlus,
    Random,
    RandomFromData,
}

pub struct Gmm {
    k: usize,
    covariance_type: CovarianceType,
    tol: f64,
    reg_covar: f64,
    max_iter: usize,
    n_init: usize,
    init: Init,
}

impl Gmm {
    pub fn from_params(p: &Params) -> Self {
        Gmm {
            k: p.int("n_components") as usize,
            covariance_type: match p.text("covariance_type") {
                "tied" => CovarianceType::Tied,
                "diag" => CovarianceType::Diag,
                "spherical" => CovarianceType::Spherical,
                _ => CovarianceType::Full,
            },
            tol: p.float("tol"),
            reg_covar: p.float("reg_covar"),
            max_iter: p.int("max_iter") as usize,
            n_init: p.int("n_init") as usize,
            init: match p.text("init_params") {
                "k-means++" => Init::KmeansPlusPlus,
                "random" => Init::Random,
                "random_from_data" => Init::RandomFromData,
                _ => Init::Kmeans,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GmmModel {
    pub n_features: usize,
    pub covariance_type: CovarianceType,
    pub weights: Vec<f64>,
    /// `n_components × n_features`, row-major.
    pub means: Vec<f64>,
    /// Cholesky factors of the precisions, `P = L⁻¹` with `Σ = L·Lᵀ` (scikit-learn's
    /// `precisions_cholesky_` transposed): full — `n_components` lower-triangular `d × d`
    /// matrices, row-major; tied — one; diag — `n_components × d` values `1/σ`; spherical —
    /// `n_components` values `1/σ`.
    pub precisions_cholesky: Vec<f64>,
}

const ILL_DEFINED: &str = "fitting the mixture model failed because some components have \
    ill-defined empirical covariance (for instance caused by singleton or collapsed samples); \
    try fewer components, a larger reg_covar, or scaling the data";

// ---------------------------------------------------------------------------------------------
// Linear algebra

/// `P = L⁻¹` for the covariance `cov`: the precision's Cholesky factor.
fn precision_cholesky(cov: &[f64], d: usize) -> DetectResult<Vec<f64>> {
    let l = cholesky(cov, d).ok_or_else(|| DetectError::InvalidData(ILL_DEFINED.into()))?;
    Ok(inverse_lower(&l, d))
}

/// scipy's `logsumexp`.
fn logsumexp(a: &[f64]) -> f64 {
    let max = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let shift = if max.is_finite() { max } else { 0.0 };
    let s: f64 = a.iter().map(|v| (v - shift).exp()).sum();
    s.ln() + shift
}

// ---------------------------------------------------------------------------------------------
// The mixture

impl GmmModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    fn k(&self) -> usize {
        self.weights.len()
    }

    /// `log P_k` for `P_k = L_k⁻¹`: `−½ log det Σ_k`, per component.
    fn log_dets(&self) -> Vec<f64> {
        let (d, k) = (self.n_features, self.k());
        let p = &self.precisions_cholesky;
        match self.covariance_type {
            CovarianceType::Full => (0..k)
                .map(|c| (0..d).map(|i| p[c * d * d + i * d + i].ln()).sum())
                .collect(),
            CovarianceType::Tied => {
                let v: f64 = (0..d).map(|i| p[i * d + i].ln()).sum();
                vec![v; k]
            }
            CovarianceType::Diag => (0..k)
                .map(|c| p[c * d..(c + 1) * d].iter().map(|v| v.ln()).sum())
                .collect(),
            CovarianceType::Spherical => p.iter().map(|v| d as f64 * v.ln()).collect(),
        }
    }

    /// Squared Mahalanobis distances `‖L_k⁻¹ (x − μ_k)‖²` of a block of rows (row-major) to
    /// every component, row by row (`rows × k`), for the full and tied covariances: one matrix
    /// product per component (as scikit-learn's `np.dot(X, prec_chol)`), so that many features
    /// run at matrix-product speed. `None` for the diagonal types (cheap per row).
    fn full_mahalanobis(&self, rows: &[f64]) -> Option<Vec<f64>> {
        if !matches!(
            self.covariance_type,
            CovarianceType::Full | CovarianceType::Tied
        ) {
            return None;
        }
        let (d, k) = (self.n_features, self.k());
        let m = rows.len() / d;
        let mut maha = vec![0.0; m * k];
        let mut diff = ndarray::Array2::<f64>::zeros((m, d));
        for c in 0..k {
            let mu = &self.means[c * d..(c + 1) * d];
            for (mut out, row) in diff.rows_mut().into_iter().zip(rows.chunks_exact(d)) {
                for ((o, x), u) in out.iter_mut().zip(row).zip(mu) {
                    *o = x - u;
                }
            }
            let start = if self.covariance_type == CovarianceType::Full {
                c * d * d
            } else {
                0
            };
            let factor =
                ArrayView2::from_shape((d, d), &self.precisions_cholesky[start..start + d * d])
                    .expect("validated shape");
            let y = diff.dot(&factor.t());
            for (i, row) in y.rows().into_iter().enumerate() {
                maha[i * k + c] = row.iter().map(|v| v * v).sum();
            }
        }
        Some(maha)
    }

    /// `log w_k + log N(row | μ_k, Σ_k)` for each component, into `out`; `full` holds the row's
    /// distances from [`GmmModel::full_mahalanobis`] for the full and tied covariances.
    fn weighted_log_prob(
        &self,
        row: &[f64],
        full: Option<&[f64]>,
        log_dets: &[f64],
        diff: &mut [f64],
        out: &mut [f64],
    ) {
        let d = self.n_features;
        let p = &self.precisions_cholesky;
        let log_2pi = d as f64 * (2.0 * std::f64::consts::PI).ln();
        for (c, o) in out.iter_mut().enumerate() {
            let mu = &self.means[c * d..(c + 1) * d];
            for j in 0..d {
                diff[j] = row[j] - mu[j];
            }
            let maha = match self.covariance_type {
                CovarianceType::Full | CovarianceType::Tied => {
                    full.expect("full and tied distances are precomputed")[c]
                }
                CovarianceType::Diag => {
                    let m = &p[c * d..(c + 1) * d];
                    (0..d).map(|j| (diff[j] * m[j]).powi(2)).sum()
                }
                CovarianceType::Spherical => {
                    let m = p[c];
                    diff.iter().map(|v| (v * m).powi(2)).sum()
                }
            };
            *o = -0.5 * (log_2pi + maha) + log_dets[c] + self.weights[c].ln();
        }
    }

    /// Per row: `log Σ_k w_k N_k(x)`; with `resp`, also the responsibilities.
    fn log_likelihood(
        &self,
        data: &[f64],
        resp: Option<&mut [f64]>,
        ctx: &JobCtx,
    ) -> DetectResult<Vec<f64>> {
        let (d, k) = (self.n_features, self.k());
        let log_dets = self.log_dets();
        let mut out = vec![0.0; data.len() / d];
        let work = |(out, rows, resp): (&mut [f64], &[f64], Option<&mut [f64]>)| {
            ctx.checkpoint()?;
            let mut diff = vec![0.0; d];
            let mut w = vec![0.0; k];
            let mut resp = resp;
            let full = self.full_mahalanobis(rows);
            for (i, (o, row)) in out.iter_mut().zip(rows.chunks_exact(d)).enumerate() {
                let full_row = full.as_deref().map(|m| &m[i * k..(i + 1) * k]);
                self.weighted_log_prob(row, full_row, &log_dets, &mut diff, &mut w);
                let norm = logsumexp(&w);
                *o = norm;
                if let Some(r) = resp.as_deref_mut() {
                    for c in 0..k {
                        r[i * k + c] = (w[c] - norm).exp();
                    }
                }
            }
            Ok(())
        };
        match resp {
            Some(r) => out
                .par_chunks_mut(BLOCK)
                .zip(data.par_chunks(BLOCK * d))
                .zip(r.par_chunks_mut(BLOCK * k))
                .try_for_each(|((o, x), r)| work((o, x, Some(r))))?,
            None => out
                .par_chunks_mut(BLOCK)
                .zip(data.par_chunks(BLOCK * d))
                .try_for_each(|(o, x)| work((o, x, None)))?,
        }
        Ok(out)
    }

    /// Per feature, the terms `½·cⱼ·(Σ⁻¹c)ⱼ` (c = row − μ) of the component most responsible
    /// for `row`: they add up to half that component's squared Mahalanobis distance, the part
    /// of −log p(row) through which the row's values act (exactly, when one component
    /// dominates).
    pub fn dominant_component_terms(&self, row: &[f64]) -> Vec<f64> {
        let (d, k) = (self.n_features, self.k());
        let log_dets = self.log_dets();
        let full = self.full_mahalanobis(row);
        let mut diff = vec![0.0; d];
        let mut w = vec![0.0; k];
        self.weighted_log_prob(row, full.as_deref(), &log_dets, &mut diff, &mut w);
        let c = (0..k).fold(0, |best, c| if w[c] > w[best] { c } else { best });
        let mu = &self.means[c * d..(c + 1) * d];
        for j in 0..d {
            diff[j] = row[j] - mu[j];
        }
        let p = &self.precisions_cholesky;
        // g = Pᵀ·P·c, with P the factor of the component's precision (Σ⁻¹ = PᵀP).
        let g: Vec<f64> = match self.covariance_type {
            CovarianceType::Full | CovarianceType::Tied => {
                let start = if self.covariance_type == CovarianceType::Full {
                    c * d * d
                } else {
                    0
                };
                let f = &p[start..start + d * d];
                let y: Vec<f64> = (0..d)
                    .map(|i| (0..d).map(|j| f[i * d + j] * diff[j]).sum())
                    .collect();
                (0..d)
                    .map(|j| (0..d).map(|i| f[i * d + j] * y[i]).sum())
                    .collect()
            }
            CovarianceType::Diag => (0..d)
                .map(|j| p[c * d + j] * p[c * d + j] * diff[j])
                .collect(),
            CovarianceType::Spherical => diff.iter().map(|v| p[c] * p[c] * v).collect(),
        };
        diff.iter().zip(&g).map(|(c, g)| 0.5 * c * g).collect()
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let ll = self.log_likelihood(&row_major(x), None, &JobCtx::default())?;
        Ok(ll.into_iter().map(|v| -v).collect())
    }

    pub(super) fn validate(&self) -> Check {
        let d = self.n_features;
        if d == 0 {
            return Err("n_features is 0".into());
        }
        let k = self.weights.len();
        not_empty("weights", k)?;
        values("weights", &self.weights, Rule::Positive)?;
        length("means", self.means.len(), product("means", k, d)?)?;
        values("means", &self.means, Rule::Finite)?;
        let p = &self.precisions_cholesky;
        let name = "precisions_cholesky";
        let square = product(name, d, d)?;
        let expected = match self.covariance_type {
            CovarianceType::Full => product(name, k, square)?,
            CovarianceType::Tied => square,
            CovarianceType::Diag => product(name, k, d)?,
            CovarianceType::Spherical => k,
        };
        length(name, p.len(), expected)?;
        values(name, p, Rule::Finite)?;
        // Their logarithms are taken: diagonals of triangular factors, or the 1/σ values.
        match self.covariance_type {
            CovarianceType::Full | CovarianceType::Tied => {
                for (m, factor) in p.chunks_exact(square).enumerate() {
                    for i in 0..d {
                        let v = factor[i * d + i];
                        if !Rule::Positive.holds(v) {
                            return Err(format!(
                                "{name}: diagonal entry {i} of factor {m} is {v}, expected > 0"
                            ));
                        }
                    }
                }
                Ok(())
            }
            CovarianceType::Diag | CovarianceType::Spherical => values(name, p, Rule::Positive),
        }
    }
}

/// Sums of `f(block)` over fixed row blocks, added in block order.
fn block_sum<F>(n: usize, len: usize, f: F) -> Vec<f64>
where
    F: Fn(std::ops::Range<usize>) -> Vec<f64> + Sync,
{
    let blocks: Vec<Vec<f64>> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| f(b * BLOCK..((b + 1) * BLOCK).min(n)))
        .collect();
    let mut total = vec![0.0; len];
    for b in blocks {
        for (t, v) in total.iter_mut().zip(b) {
            *t += v;
        }
    }
    total
}

/// scikit-learn's M-step (`_estimate_gaussian_parameters` + `_compute_precision_cholesky`) from
/// responsibilities `resp` (`n × k`). Weights are the raw `nk`; the caller normalises them.
fn m_step(
    data: &[f64],
    d: usize,
    resp: &[f64],
    k: usize,
    covariance_type: CovarianceType,
    reg_covar: f64,
) -> DetectResult<GmmModel> {
    let n = data.len() / d;
    // nk and Σ r·x in one pass.
    let first = block_sum(n, k + k * d, |rows| {
        let mut s = vec![0.0; k + k * d];
        for i in rows {
            let x = &data[i * d..(i + 1) * d];
            for c in 0..k {
                let r = resp[i * k + c];
                s[c] += r;
                for j in 0..d {
                    s[k + c * d + j] += r * x[j];
                }
            }
        }
        s
    });
    let nk: Vec<f64> = first[..k].iter().map(|v| v + 10.0 * f64::EPSILON).collect();
    let means: Vec<f64> = (0..k * d).map(|i| first[k + i] / nk[i / d]).collect();
    // Σ r·(x − μ)(x − μ)ᵀ (lower triangle) or its diagonal.
    let full = matches!(covariance_type, CovarianceType::Full | CovarianceType::Tied);
    let per = if full { d * d } else { d };
    // Tied: scikit-learn takes `XᵀX − Σ nk·μμᵀ`, i.e. every row counts with weight 1 even where
    // its responsibilities do not sum to 1 (after a k-means++ or random-from-data start, only
    // the chosen rows have any); the extra slot holds Σ (1 − Σ_k r)·xxᵀ so the centred sums
    // below give the same matrix.
    let tied = covariance_type == CovarianceType::Tied;
    let slots = if tied { k + 1 } else { k };
    let second = block_sum(n, slots * per, |rows| {
        let mut s = vec![0.0; slots * per];
        let mut diff = vec![0.0; d];
        for i in rows.clone() {
            let x = &data[i * d..(i + 1) * d];
            if tied {
                let rest = 1.0 - resp[i * k..(i + 1) * k].iter().sum::<f64>();
                // After an E-step the sum is 1 up to rounding: nothing to add.
                if rest.abs() > 1e-9 {
                    let s = &mut s[k * per..];
                    for a in 0..d {
                        let ra = rest * x[a];
                        for b in 0..=a {
                            s[a * d + b] += ra * x[b];
                        }
                    }
                }
            }
            if full {
                continue;
            }
            for c in 0..k {
                let r = resp[i * k + c];
                if r == 0.0 {
                    continue;
                }
                for j in 0..d {
                    diff[j] = x[j] - means[c * d + j];
                }
                let s = &mut s[c * per..(c + 1) * per];
                for j in 0..d {
                    s[j] += r * diff[j] * diff[j];
                }
            }
        }
        if full {
            // Σ r·(x − μ)(x − μ)ᵀ as (r ⊙ D)ᵀ D, one matrix product per component and block
            // (scikit-learn's `np.dot(resp[:, k] * diff.T, diff)`).
            let m = rows.len();
            let mut centred = ndarray::Array2::<f64>::zeros((m, d));
            let mut weighted = ndarray::Array2::<f64>::zeros((m, d));
            for c in 0..k {
                let mu = &means[c * d..(c + 1) * d];
                for (local, i) in rows.clone().enumerate() {
                    let r = resp[i * k + c];
                    let x = &data[i * d..(i + 1) * d];
                    for j in 0..d {
                        let v = x[j] - mu[j];
                        centred[[local, j]] = v;
                        weighted[[local, j]] = r * v;
                    }
                }
                let product = weighted.t().dot(&centred);
                let s = &mut s[c * per..(c + 1) * per];
                for (t, v) in s.iter_mut().zip(product.iter()) {
                    *t += v;
                }
            }
        }
        s
    });
    let precisions_cholesky = match covariance_type {
        CovarianceType::Full => {
            let mut p = Vec::with_capacity(k * d * d);
            for c in 0..k {
                let mut cov = second[c * per..(c + 1) * per].to_vec();
                for a in 0..d {
                    for b in 0..=a {
                        cov[a * d + b] /= nk[c];
                    }
                    cov[a * d + a] += reg_covar;
                }
                p.extend(precision_cholesky(&cov, d)?);
            }
            p
        }
        CovarianceType::Tied => {
            let total: f64 = nk.iter().sum();
            let mut cov = vec![0.0; d * d];
            for c in 0..=k {
                for (t, v) in cov.iter_mut().zip(&second[c * per..(c + 1) * per]) {
                    *t += v;
                }
            }
            for a in 0..d {
                for b in 0..=a {
                    cov[a * d + b] /= total;
                }
                cov[a * d + a] += reg_covar;
            }
            precision_cholesky(&cov, d)?
        }
        CovarianceType::Diag | CovarianceType::Spherical => {
            let var: Vec<f64> = (0..k * d)
                .map(|i| second[i] / nk[i / d] + reg_covar)
                .collect();
            let var = if covariance_type == CovarianceType::Spherical {
                (0..k)
                    .map(|c| var[c * d..(c + 1) * d].iter().sum::<f64>() / d as f64)
                    .collect()
            } else {
                var
            };
            if var.iter().any(|&v| !(v > 0.0)) {
                return Err(DetectError::InvalidData(ILL_DEFINED.into()));
            }
            var.iter().map(|v| 1.0 / v.sqrt()).collect()
        }
    };
    Ok(GmmModel {
        n_features: d,
        covariance_type,
        weights: nk,
        means,
        precisions_cholesky,
    })
}

// ---------------------------------------------------------------------------------------------
// EM

impl Gmm {
    /// Initial responsibilities (scikit-learn's `_initialize_parameters`).
    fn initial_resp(
        &self,
        data: &[f64],
        d: usize,
        rng: &mut ChaCha8Rng,
        ctx: &JobCtx,
    ) -> DetectResult<Vec<f64>> {
        let (n, k) = (data.len() / d, self.k);
        let mut resp = vec![0.0; n * k];
        match self.init {
            Init::Kmeans => {
                for (i, c) in kmeans(data, d, k, rng, ctx)?.1.into_iter().enumerate() {
                    resp[i * k + c] = 1.0;
                }
            }
            Init::KmeansPlusPlus => {
                for (c, i) in kmeans_plusplus_blocked(data, d, k, rng)
                    .1
                    .into_iter()
                    .enumerate()
                {
                    resp[i * k + c] = 1.0;
                }
            }
            Init::RandomFromData => {
                for (c, i) in index::sample(rng, n, k).into_iter().enumerate() {
                    resp[i * k + c] = 1.0;
                }
            }
            Init::Random => {
                for row in resp.chunks_exact_mut(k) {
                    for v in row.iter_mut() {
                        *v = rng.gen::<f64>();
                    }
                    let s: f64 = row.iter().sum();
                    for v in row.iter_mut() {
                        *v /= s;
                    }
                }
            }
        }
        Ok(resp)
    }

    /// One initialisation and its EM run: the model and its final lower bound.
    fn run(
        &self,
        data: &[f64],
        d: usize,
        rng: &mut ChaCha8Rng,
        ctx: &JobCtx,
    ) -> DetectResult<(GmmModel, f64)> {
        let n = data.len() / d;
        let mut resp = self.initial_resp(data, d, rng, ctx)?;
        let mut model = m_step(data, d, &resp, self.k, self.covariance_type, self.reg_covar)?;
        for w in &mut model.weights {
            *w /= n as f64;
        }
        let mut lower_bound = f64::NEG_INFINITY;
        for _ in 0..self.max_iter {
            ctx.checkpoint()?;
            let previous = lower_bound;
            let log_norm = model.log_likelihood(data, Some(&mut resp), ctx)?;
            model = m_step(data, d, &resp, self.k, self.covariance_type, self.reg_covar)?;
            let total: f64 = model.weights.iter().sum();
            for w in &mut model.weights {
                *w /= total;
            }
            lower_bound = numpy_mean(&log_norm);
            if (lower_bound - previous).abs() < self.tol {
                break;
            }
        }
        Ok((model, lower_bound))
    }
}

impl Detector for Gmm {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        let (n, d) = x.dim();
        if n < self.k {
            return Err(DetectError::InvalidData(format!(
                "parameter n_components = {} needs at least that many rows; the matrix has {n}",
                self.k
            )));
        }
        // A full covariance in d ≥ n dimensions is singular but for reg_covar, and each EM step
        // would cost O(k·d³): refuse with the covariance types that stay O(k·n·d).
        if d >= n
            && matches!(
                self.covariance_type,
                CovarianceType::Full | CovarianceType::Tied
            )
        {
            return Err(DetectError::InvalidData(format!(
                "covariance_type = {} needs more rows than features; the matrix has {n} rows and \
                 {d} features: use --param covariance_type=diag (or spherical)",
                if self.covariance_type == CovarianceType::Full {
                    "full"
                } else {
                    "tied"
                }
            )));
        }
        let data = row_major(x);
        let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed);
        let mut best: Option<(GmmModel, f64)> = None;
        for init in 0..self.n_init {
            let (model, bound) = self.run(&data, d, &mut rng, ctx)?;
            if best.as_ref().is_none_or(|b| bound > b.1) {
                best = Some((model, bound));
            }
            ctx.report((init + 1) as f64 / (self.n_init + 1) as f64);
        }
        let (model, _) = best.expect("n_init >= 1");
        let training_scores: Array1<f64> = model
            .log_likelihood(&data, None, ctx)?
            .into_iter()
            .map(|v| -v)
            .collect();
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::Gmm(model),
            training_scores,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_component_is_the_sample_gaussian() {
        // x = (0, 1, 2, 3) in one feature: mean 1.5, biased variance 1.25.
        let x = ndarray::array![[0.0], [1.0], [2.0], [3.0]];
        let p = super::super::registry::find("gmm")
            .unwrap()
            .resolve(&Default::default())
            .unwrap();
        let fitted = Gmm::from_params(&p).fit(x.view(), &JobCtx::new(0)).unwrap();
        let var = 1.25 + 1e-6;
        let expected = 0.5 * ((2.0 * std::f64::consts::PI * var).ln() + 2.25 / var);
        assert!((fitted.training_scores[0] - expected).abs() < 1e-12);
    }
}

//! PCA outlier score (Shyu et al. 2003, as PyOD computes it): standardise, eigen-decompose the
//! covariance, and sum each point's Euclidean distance to every (selected) principal axis
//! vector, taken as a point, weighted by 1 / explained-variance ratio — so the low-variance
//! components dominate. Deterministic.
//!
//! Follows PyOD 3.6 `PCA()` step by step (see the reference README): sklearn `StandardScaler`
//! (population std, near-constant features scaled by 1), sklearn's `covariance_eigh` solver
//! (`C = (ZᵀZ − n·μμᵀ)/(n−1)`, eigenvalues sorted descending and clipped at 0), `svd_flip` with
//! `u_based_decision=False`, and `np.sum(cdist(z, V) / ratio, axis=1)` with numpy's pairwise
//! summation.

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::validate::{length, not_empty, values, Check, Rule};
use super::{validate_matrix, DetectError, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::numeric::linalg::sym_eigen_sorted_desc;
use crate::numeric::sums::pairwise_sum;

pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n_selected_components",
        kind: ParamKind::Int {
            min: 0,
            max: 10_000,
            log: false,
        },
        default: DefaultValue::Int(0),
        help: "how many of the smallest-variance components enter the score (0 = all)",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "weighted",
        kind: ParamKind::Bool,
        default: DefaultValue::Bool(true),
        help: "divide each component's distance by its explained-variance ratio",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "standardization",
        kind: ParamKind::Bool,
        default: DefaultValue::Bool(true),
        help: "scale features to zero mean and unit variance first",
        search: Search::All,
    },
];

/// Eigenvalues below this fraction of the largest are raised to it before weighting: a
/// numerically singular covariance (linearly dependent features) would otherwise give ratios
/// of rounding noise (~1e-17) and scores of ~1e16 or infinity. The reference data sets have
/// condition numbers ≤ 250, far from the floor.
const MIN_EIGEN_FRACTION: f64 = 1e-12;

pub struct Pca {
    n_selected: usize,
    weighted: bool,
    standardization: bool,
}

impl Pca {
    pub fn from_params(p: &Params) -> Self {
        Pca {
            n_selected: p.int("n_selected_components") as usize,
            weighted: p.bool("weighted"),
            standardization: p.bool("standardization"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaModel {
    /// Standardisation applied before projecting (`None` without standardisation).
    pub mean: Option<Vec<f64>>,
    pub scale: Option<Vec<f64>>,
    /// Selected components, one per row (the smallest-variance ones last).
    pub components: Array2<f64>,
    /// Divisor per selected component: the explained-variance ratio (or 1).
    pub weights: Vec<f64>,
}

/// sklearn `StandardScaler().fit(x)`: per column, the mean (sequential sum / n) and the
/// population std by the corrected two-pass algorithm; near-constant columns get scale 1.
fn standard_scaler(x: ArrayView2<f64>) -> (Vec<f64>, Vec<f64>) {
    let (n, d) = x.dim();
    let nf = n as f64;
    // Plain slices instead of ndarray rows: the same additions in the same order, vectorised.
    let xs = x.as_standard_layout();
    let data = xs.as_slice().expect("standard layout");
    let mut sum = vec![0.0; d];
    for row in data.chunks_exact(d) {
        for (s, v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / nf).collect();
    let mut correction = vec![0.0; d];
    let mut squares = vec![0.0; d];
    for row in data.chunks_exact(d) {
        for ((c, q), (v, m)) in correction
            .iter_mut()
            .zip(squares.iter_mut())
            .zip(row.iter().zip(&mean))
        {
            let t = v - m;
            *c += t;
            *q += t * t;
        }
    }
    let eps = f64::EPSILON;
    let scale = (0..d)
        .map(|j| {
            let var = (squares[j] - correction[j] * correction[j] / nf) / nf;
            // sklearn `_is_constant_feature`: the variance is within the two-pass algorithm's
            // error bound.
            let bound = nf * eps * var + (nf * mean[j] * eps).powi(2);
            if var <= bound {
                1.0
            } else {
                var.sqrt()
            }
        })
        .collect();
    (mean, scale)
}

fn standardize(x: ArrayView2<f64>, mean: &[f64], scale: &[f64]) -> Array2<f64> {
    let mut z = x.as_standard_layout().into_owned();
    let d = mean.len();
    for row in z
        .as_slice_mut()
        .expect("standard layout")
        .chunks_exact_mut(d)
    {
        for ((v, m), s) in row.iter_mut().zip(mean).zip(scale) {
            *v = (*v - m) / s;
        }
    }
    z
}

/// `Σ_j ‖z − v_j‖ / w_j` per row, numpy's order: sequential squared differences per distance,
/// pairwise sum over components. Rows are scored [`SCORE_LANES`] at a time, one per vector
/// lane (the group transposed to feature-major first), so each distance's sum over the features
/// runs in registers, four rows side by side, and the k distances are independent chains —
/// each still adding its squared differences in feature order, so the result is the same bit
/// for bit as one distance at a time.
fn scores(z: &Array2<f64>, components: &Array2<f64>, weights: &[f64]) -> Array1<f64> {
    let z = z.as_standard_layout();
    let components = components.as_standard_layout();
    let scorer = RowScorer {
        d: z.ncols(),
        components: components.as_slice().expect("standard layout"),
        weights,
    };
    let zs = z.as_slice().expect("standard layout");
    let mut out = vec![0.0; z.nrows()];
    if scorer.d > 0 {
        out.par_chunks_mut(SCORE_BLOCK_ROWS)
            .zip(zs.par_chunks(SCORE_BLOCK_ROWS * scorer.d))
            .for_each(|(out, rows)| scorer.score_block(rows, out));
    }
    Array1::from(out)
}

/// Rows scored together, one per `f64` lane of an AVX2 register.
const SCORE_LANES: usize = 4;
/// Rows per parallel task.
const SCORE_BLOCK_ROWS: usize = 256;

/// The fitted components (row-major, `d` wide) and their weights: what [`scores`] needs.
struct RowScorer<'a> {
    d: usize,
    components: &'a [f64],
    weights: &'a [f64],
}

impl RowScorer<'_> {
    /// The scores of `rows` (row-major) into `out`; also compiled for AVX2 and chosen at run
    /// time (Rust never fuses the multiply and add, so both versions give the same bits).
    fn score_block(&self, rows: &[f64], out: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { self.score_block_avx2(rows, out) };
            }
        }
        self.score_block_generic(rows, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn score_block_avx2(&self, rows: &[f64], out: &mut [f64]) {
        self.score_block_generic(rows, out)
    }

    #[inline(always)]
    fn score_block_generic(&self, rows: &[f64], out: &mut [f64]) {
        let (d, k) = (self.d, self.weights.len());
        // Feature f of lane r at f·4 + r; the k distances of lane r at r·k.
        let mut transposed = vec![0.0; d * SCORE_LANES];
        let mut distances = vec![0.0; k * SCORE_LANES];
        for (out, group) in out
            .chunks_mut(SCORE_LANES)
            .zip(rows.chunks(SCORE_LANES * d))
        {
            // Missing lanes of a short group repeat the first row.
            for r in 0..SCORE_LANES {
                let row = &group[(if r < out.len() { r } else { 0 }) * d..][..d];
                for (f, &v) in row.iter().enumerate() {
                    transposed[f * SCORE_LANES + r] = v;
                }
            }
            self.group_distances(&transposed, &mut distances);
            for (r, score) in out.iter_mut().enumerate() {
                *score = pairwise_sum(&distances[r * k..(r + 1) * k]);
            }
        }
    }

    /// `‖z_r − v_j‖ / w_j` of the four lanes' rows to every component, two components at a
    /// time: two independent chains of d additions in flight.
    #[inline(always)]
    fn group_distances(&self, transposed: &[f64], distances: &mut [f64]) {
        let (d, k) = (self.d, self.weights.len());
        let mut j = 0;
        while j < k {
            let pair = if j + 1 < k { 2 } else { 1 };
            let (first, second) = (
                &self.components[j * d..(j + 1) * d],
                &self.components[(j + pair - 1) * d..(j + pair) * d],
            );
            let mut acc = [[0.0f64; SCORE_LANES]; 2];
            for (f, lanes) in transposed.chunks_exact(SCORE_LANES).enumerate() {
                let (c0, c1) = (first[f], second[f]);
                for r in 0..SCORE_LANES {
                    let (e0, e1) = (lanes[r] - c0, lanes[r] - c1);
                    acc[0][r] += e0 * e0;
                    acc[1][r] += e1 * e1;
                }
            }
            for (p, sums) in acc.iter().enumerate().take(pair) {
                for (r, &a) in sums.iter().enumerate() {
                    distances[r * k + j + p] = a.sqrt() / self.weights[j + p];
                }
            }
            j += pair;
        }
    }
}

impl Detector for Pca {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        ctx.checkpoint()?;
        let (n, d) = x.dim();
        let (z, mean, scale) = if self.standardization {
            let (mean, scale) = standard_scaler(x);
            (standardize(x, &mean, &scale), Some(mean), Some(scale))
        } else {
            (x.as_standard_layout().into_owned(), None, None)
        };
        // sklearn PCA (covariance_eigh): C = (ZᵀZ − n μ μᵀ) / (n − 1).
        let nf = n as f64;
        let mut mu = vec![0.0; d];
        for row in z.as_slice().expect("standard layout").chunks_exact(d) {
            for (m, v) in mu.iter_mut().zip(row) {
                *m += v;
            }
        }
        for m in mu.iter_mut() {
            *m /= nf;
        }
        let (values, rows) = if d > n {
            eigen_through_rows(&z, &mu, ctx)?
        } else {
            let gram = gram_matrix(&z);
            ctx.checkpoint()?;
            let mut c = vec![0.0; d * d];
            for i in 0..d {
                for j in 0..d {
                    c[i * d + j] = (gram[i * d + j] - nf * mu[i] * mu[j]) / (nf - 1.0);
                }
            }
            let (mut values, mut rows) = sym_eigen_sorted_desc(&c, d);
            for v in values.iter_mut() {
                if *v < 0.0 {
                    *v = 0.0;
                }
            }
            // Signs already follow svd_flip(u_based_decision=False) (`sym_eigen_sorted_desc`).
            // n_components=None keeps min(n, d) components.
            values.truncate(n);
            rows.truncate(n * d);
            (values, rows)
        };
        let n_components = values.len();
        let n_selected = if self.n_selected == 0 {
            n_components
        } else {
            self.n_selected
        };
        if n_selected > n_components {
            return Err(DetectError::InvalidData(format!(
                "parameter n_selected_components = {n_selected} exceeds the {n_components} \
                 components of this matrix"
            )));
        }
        let total = pairwise_sum(&values);
        let floor = values[0] * MIN_EIGEN_FRACTION;
        let first = n_components - n_selected;
        let weights: Vec<f64> = values[first..]
            .iter()
            .map(|&v| {
                if self.weighted {
                    v.max(floor) / total
                } else {
                    1.0
                }
            })
            .collect();
        let components =
            Array2::from_shape_vec((n_selected, d), rows[first * d..].to_vec()).expect("shape");
        let training_scores = scores(&z, &components, &weights);
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::Pca(PcaModel {
                mean,
                scale,
                components,
                weights,
            }),
            training_scores,
        })
    }
}

/// The covariance's eigenpairs when features outnumber rows, through the n × n Gram matrix of
/// the centred rows (`K = Z_c Z_cᵀ = U Λ Uᵀ`, component `v = Z_cᵀ u / √λ`): O(n²d + n³) instead
/// of the d × d covariance's O(d³). Only the components with a nonzero variance exist this way
/// (at most n − 1); their signs follow svd_flip (largest |v_j| positive).
fn eigen_through_rows(
    z: &Array2<f64>,
    mu: &[f64],
    ctx: &JobCtx,
) -> DetectResult<(Vec<f64>, Vec<f64>)> {
    let (n, d) = z.dim();
    let mut zc = z.as_standard_layout().into_owned();
    for mut row in zc.rows_mut() {
        for (v, m) in row.iter_mut().zip(mu) {
            *v -= m;
        }
    }
    let k = zc.dot(&zc.t());
    ctx.checkpoint()?;
    let flat: Vec<f64> = k.iter().copied().collect();
    let (lambda, u) = sym_eigen_sorted_desc(&flat, n);
    let largest = lambda.first().copied().unwrap_or(0.0).max(0.0);
    let mut values = Vec::new();
    let mut rows = Vec::new();
    for (i, &l) in lambda.iter().enumerate() {
        // Zero (or rounding-noise) variance: no direction is defined by the data.
        if !(l > largest * 1e-12) || l <= 0.0 {
            break;
        }
        let ui = ndarray::ArrayView1::from(&u[i * n..(i + 1) * n]);
        let mut v = zc.t().dot(&ui) / l.sqrt();
        let (arg, _) = v.iter().enumerate().fold((0, 0.0f64), |best, (j, x)| {
            if x.abs() > best.1 {
                (j, x.abs())
            } else {
                best
            }
        });
        if v[arg] < 0.0 {
            v.mapv_inplace(|x| -x);
        }
        values.push(l / (n as f64 - 1.0));
        rows.extend(v.iter());
    }
    debug_assert_eq!(rows.len(), values.len() * d);
    Ok((values, rows))
}

/// `ZᵀZ` (upper triangle computed, mirrored). Rows are summed in fixed blocks of
/// [`GRAM_BLOCK_ROWS`] (in parallel), each entry of a block a sequential sum over its rows, and
/// the block sums added in block order: the same bits at any thread count. BLAS (what numpy
/// uses) sums in yet another order; the difference stays at the 1e-16 level, and the scores
/// agree with PyOD's to ≤ 6e-14 relative on the reference data sets.
fn gram_matrix(z: &Array2<f64>) -> Vec<f64> {
    let d = z.ncols();
    let z = z.as_standard_layout();
    let zs = z.as_slice().expect("standard layout");
    let blocks: Vec<Vec<f64>> = zs
        .par_chunks(GRAM_BLOCK_ROWS * d)
        .map(|block| gram_upper(block, d))
        .collect();
    let mut g = vec![0.0; d * d];
    for block in &blocks {
        for (total, part) in g.iter_mut().zip(block) {
            *total += part;
        }
    }
    for i in 0..d {
        for j in 0..i {
            g[i * d + j] = g[j * d + i];
        }
    }
    g
}

const GRAM_BLOCK_ROWS: usize = 512;

/// The upper triangle of `ZᵀZ` over the rows of `zs` (row-major, `d` wide).
fn gram_upper(zs: &[f64], d: usize) -> Vec<f64> {
    let mut g = vec![0.0; d * d];
    // Four rows per pass over the triangle: each entry still adds its products row by row, in
    // order, with a quarter of the loads and stores of g.
    let mut blocks = zs.chunks_exact(4 * d);
    for block in &mut blocks {
        let (r0, rest) = block.split_at(d);
        let (r1, rest) = rest.split_at(d);
        let (r2, r3) = rest.split_at(d);
        for i in 0..d {
            let (a0, a1, a2, a3) = (r0[i], r1[i], r2[i], r3[i]);
            let gi = &mut g[i * d + i..(i + 1) * d];
            for ((((g, b0), b1), b2), b3) in gi
                .iter_mut()
                .zip(&r0[i..])
                .zip(&r1[i..])
                .zip(&r2[i..])
                .zip(&r3[i..])
            {
                *g = *g + a0 * b0 + a1 * b1 + a2 * b2 + a3 * b3;
            }
        }
    }
    for row in blocks.remainder().chunks_exact(d) {
        for i in 0..d {
            let a = row[i];
            for j in i..d {
                g[i * d + j] += a * row[j];
            }
        }
    }
    g
}

impl PcaModel {
    pub fn n_features(&self) -> usize {
        self.components.ncols()
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let z = match (&self.mean, &self.scale) {
            (Some(mean), Some(scale)) => standardize(x, mean, scale),
            _ => x.as_standard_layout().into_owned(),
        };
        Ok(scores(&z, &self.components, &self.weights))
    }

    pub(super) fn validate(&self) -> Check {
        let (k, d) = self.components.dim();
        if d == 0 {
            return Err("components has no features".into());
        }
        not_empty("components", k)?;
        values("components", &self.components, Rule::Finite)?;
        length("weights", self.weights.len(), k)?;
        values("weights", &self.weights, Rule::Positive)?;
        match (&self.mean, &self.scale) {
            (None, None) => Ok(()),
            (Some(mean), Some(scale)) => {
                length("mean", mean.len(), d)?;
                values("mean", mean, Rule::Finite)?;
                length("scale", scale.len(), d)?;
                values("scale", scale, Rule::Positive)
            }
            _ => Err("mean and scale must be given together".into()),
        }
    }
}

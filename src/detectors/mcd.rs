//! Minimum Covariance Determinant (Rousseeuw & Van Driessen 1999, FastMCD), as PyOD's
//! `MCD(random_state)` fits it through scikit-learn's `MinCovDet`: the raw FastMCD estimate
//! (random h-subsets refined by C-steps, nested subsets for n > 500), the consistency
//! correction, then the reweighting step (rows with corrected squared Mahalanobis distance below
//! χ²_d(0.975) give the final location and covariance). Score = squared Mahalanobis distance to
//! the reweighted estimate (`MinCovDet.dist_`, PyOD's `decision_scores_`).
//!
//! Randomised: the random subsets come from `ChaCha8Rng::seed_from_u64(seed)`, all drawn before
//! the parallel C-steps, so results do not depend on the thread count.

use ndarray::{Array1, ArrayView2};
use rand::seq::index::sample;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::validate::{length, not_empty, product, values, Check, Rule};
use super::{validate_matrix, DetectError, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::numeric::linalg::{cholesky, inverse_lower, logdet_from_cholesky, pinvh, quad_form};

pub const PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "support_fraction",
    kind: ParamKind::Float {
        min: 0.0,
        max: 1.0,
        min_open: false,
        max_open: false,
        log: false,
    },
    default: DefaultValue::Float(0.0),
    help: "share of rows in the raw MCD support; 0 = (n + d + 1) / 2 rows (sklearn's default)",
    search: Search::Fixed,
}];

pub struct Mcd {
    support_fraction: Option<f64>,
}

impl Mcd {
    pub fn from_params(p: &Params) -> Self {
        let f = p.float("support_fraction");
        Mcd {
            support_fraction: (f > 0.0).then_some(f),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McdModel {
    pub location: Vec<f64>,
    /// Pseudo-inverse of the reweighted robust covariance (row-major d × d).
    pub precision: Vec<f64>,
}

// ---------------------------------------------------------------------------------------------
// χ² distribution (for the consistency factors and the reweighting cut-off).

fn chi2_cdf(x: f64, k: usize) -> f64 {
    crate::numeric::special::gamma_p(k as f64 / 2.0, x / 2.0)
}

/// The `p`-quantile of χ²_k, by bisection to full precision.
fn chi2_ppf(p: f64, k: usize) -> f64 {
    let (mut lo, mut hi) = (0.0, k as f64 + 10.0);
    while chi2_cdf(hi, k) < p {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if chi2_cdf(mid, k) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// sklearn `_consistency_factor` (Croux & Haesbroeck 1999): α / F_{χ²_{d+2}}(χ²_d⁻¹(α)).
fn consistency_factor(d: usize, alpha: f64) -> f64 {
    alpha / chi2_cdf(chi2_ppf(alpha, d), d + 2)
}

// ---------------------------------------------------------------------------------------------
// Location / covariance helpers on row-major data.

/// From this many features on, products go through ndarray's optimised matrix multiplication.
const GEMM_MIN_D: usize = 10;

/// Mean and biased covariance (`np.cov(X.T, bias=1)`) of the given rows.
fn mean_cov(x: &[f64], d: usize, rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let h = rows.len() as f64;
    let mut mean = vec![0.0; d];
    for &r in rows {
        let xr = &x[r * d..r * d + d];
        for k in 0..d {
            mean[k] += xr[k];
        }
    }
    for m in mean.iter_mut() {
        *m /= h;
    }
    if d >= GEMM_MIN_D {
        let mut centred = gather(x, d, rows);
        for row in centred.chunks_mut(d) {
            for k in 0..d {
                row[k] -= mean[k];
            }
        }
        let c = ArrayView2::from_shape((rows.len(), d), &centred).expect("shape");
        let prod = c.t().dot(&c);
        let mut cov = vec![0.0; d * d];
        for i in 0..d {
            for j in i..d {
                let v = prod[[i, j]] / h;
                cov[i * d + j] = v;
                cov[j * d + i] = v;
            }
        }
        return (mean, cov);
    }
    let mut cov = vec![0.0; d * d];
    let mut c = vec![0.0; d];
    for &r in rows {
        let xr = &x[r * d..r * d + d];
        for k in 0..d {
            c[k] = xr[k] - mean[k];
        }
        for i in 0..d {
            let ci = c[i];
            let row = &mut cov[i * d + i..i * d + d];
            let cj = &c[i..d];
            for t in 0..row.len() {
                row[t] += ci * cj[t];
            }
        }
    }
    for i in 0..d {
        for j in i..d {
            let v = cov[i * d + j] / h;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    (mean, cov)
}

/// A covariance ready for Mahalanobis distances: the inverse of its Cholesky factor when
/// positive definite, otherwise scipy's `pinvh` pseudo-inverse (what sklearn always uses; the
/// two agree up to rounding when the matrix is positive definite). Both row-major d × d.
enum Precision {
    InverseCholesky(Vec<f64>),
    Pseudo(Vec<f64>),
}

impl Precision {
    fn of(cov: &[f64], d: usize) -> (Precision, f64) {
        match cholesky(cov, d) {
            Some(l) => {
                let logdet = logdet_from_cholesky(&l, d);
                (Precision::InverseCholesky(inverse_lower(&l, d)), logdet)
            }
            None => (Precision::Pseudo(pinvh(cov, d)), f64::NEG_INFINITY),
        }
    }

    /// Squared Mahalanobis distance of every row.
    fn distances(&self, x: &[f64], d: usize, location: &[f64]) -> Vec<f64> {
        let n = x.len() / d;
        if d >= GEMM_MIN_D {
            let mut centred = x.to_vec();
            for row in centred.chunks_mut(d) {
                for k in 0..d {
                    row[k] -= location[k];
                }
            }
            let c = ArrayView2::from_shape((n, d), &centred).expect("shape");
            return match self {
                Precision::InverseCholesky(w) => {
                    let w = ArrayView2::from_shape((d, d), w).expect("shape");
                    let y = c.dot(&w.t());
                    let y = y.as_slice().expect("standard layout");
                    y.chunks(d)
                        .map(|r| {
                            let mut t = 0.0;
                            for v in r {
                                t += v * v;
                            }
                            t
                        })
                        .collect()
                }
                Precision::Pseudo(p) => {
                    let p = ArrayView2::from_shape((d, d), p).expect("shape");
                    let z = c.dot(&p);
                    let z = z.as_slice().expect("standard layout");
                    z.chunks(d)
                        .zip(centred.chunks(d))
                        .map(|(a, b)| {
                            let mut t = 0.0;
                            for k in 0..d {
                                t += a[k] * b[k];
                            }
                            t
                        })
                        .collect()
                }
            };
        }
        let mut out = vec![0.0; n];
        let mut c = vec![0.0; d];
        for (r, o) in out.iter_mut().enumerate() {
            let xr = &x[r * d..r * d + d];
            for k in 0..d {
                c[k] = xr[k] - location[k];
            }
            let mut total = 0.0;
            match self {
                Precision::InverseCholesky(w) => {
                    // ‖L⁻¹ c‖², L⁻¹ lower-triangular.
                    for i in 0..d {
                        let wi = &w[i * d..i * d + i + 1];
                        let ci = &c[..i + 1];
                        let mut y = 0.0;
                        for k in 0..wi.len() {
                            y += wi[k] * ci[k];
                        }
                        total += y * y;
                    }
                }
                Precision::Pseudo(p) => {
                    for i in 0..d {
                        let pi = &p[i * d..i * d + d];
                        let mut y = 0.0;
                        for k in 0..d {
                            y += pi[k] * c[k];
                        }
                        total += y * c[i];
                    }
                }
            }
            *o = total;
        }
        out
    }
}

/// Indices of the `h` smallest distances (ties by index: deterministic), ascending.
fn smallest(dist: &[f64], h: usize) -> Vec<usize> {
    // Order-preserving integer keys for f64, paired with the index.
    let mut keys: Vec<(u64, u32)> = dist
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let b = v.to_bits();
            let k = if b >> 63 == 1 { !b } else { b | (1 << 63) };
            (k, i as u32)
        })
        .collect();
    if h < keys.len() {
        keys.select_nth_unstable(h - 1);
        keys.truncate(h);
    }
    let mut idx: Vec<usize> = keys.into_iter().map(|(_, i)| i as usize).collect();
    idx.sort_unstable();
    idx
}

#[derive(Clone)]
struct Estimate {
    location: Vec<f64>,
    covariance: Vec<f64>,
    det: f64,
    support: Vec<usize>,
    dist: Vec<f64>,
}

enum Start<'a> {
    Support(Vec<usize>),
    Estimate(&'a [f64], &'a [f64]),
}

/// sklearn `_c_step`, quirks included: the returned distances use the last iteration's
/// precision with the new location, and an increase of the determinant returns the previous
/// estimate.
fn c_step(x: &[f64], d: usize, h: usize, start: Start, max_iter: usize) -> Estimate {
    let mut dist: Vec<f64> = Vec::new();
    let mut support = match start {
        Start::Support(s) => s,
        Start::Estimate(location, covariance) => {
            let (precision, _) = Precision::of(covariance, d);
            dist = precision.distances(x, d, location);
            smallest(&dist, h)
        }
    };
    let (mut location, mut covariance) = mean_cov(x, d, &support);
    let (mut precision, mut det) = Precision::of(&covariance, d);
    let mut previous_det = f64::INFINITY;
    let mut remaining = max_iter;
    let mut previous: Option<(Vec<f64>, Vec<f64>, Vec<usize>)> = None;
    while det < previous_det && remaining > 0 && det.is_finite() {
        previous_det = det;
        dist = precision.distances(x, d, &location);
        let new_support = smallest(&dist, h);
        let (new_location, new_covariance) = mean_cov(x, d, &new_support);
        let (new_precision, new_det) = Precision::of(&new_covariance, d);
        previous = Some((
            std::mem::replace(&mut location, new_location),
            std::mem::replace(&mut covariance, new_covariance),
            std::mem::replace(&mut support, new_support),
        ));
        // sklearn keeps the precision of the previous covariance for the final distances.
        let old_precision = std::mem::replace(&mut precision, new_precision);
        det = new_det;
        remaining -= 1;
        if !(det < previous_det && remaining > 0 && det.is_finite()) {
            precision = old_precision;
            break;
        }
    }
    let previous_dist = dist;
    let dist = precision.distances(x, d, &location);
    // np.allclose: infinities are close only to themselves.
    let allclose = det == previous_det
        || (det.is_finite()
            && previous_det.is_finite()
            && (det - previous_det).abs() <= 1e-8 + 1e-5 * previous_det.abs());
    let take_previous = !det.is_infinite() && !allclose && det > previous_det && remaining > 0;
    match (take_previous, previous) {
        (true, Some((location, covariance, support))) => Estimate {
            location,
            covariance,
            det: previous_det,
            support,
            dist: previous_dist,
        },
        _ => Estimate {
            location,
            covariance,
            det,
            support,
            dist,
        },
    }
}

/// sklearn `select_candidates`: run every start, keep the `select` lowest determinants.
fn select_candidates(
    x: &[f64],
    d: usize,
    h: usize,
    starts: Vec<Start>,
    select: usize,
    max_iter: usize,
    ctx: &JobCtx,
) -> DetectResult<Vec<Estimate>> {
    let results: Vec<DetectResult<Estimate>> = starts
        .into_par_iter()
        .map(|s| {
            ctx.checkpoint()?;
            Ok(c_step(x, d, h, s, max_iter))
        })
        .collect();
    let mut all = results.into_iter().collect::<DetectResult<Vec<_>>>()?;
    // Stable: equal determinants keep the start order.
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by(|&a, &b| all[a].det.total_cmp(&all[b].det));
    order.truncate(select);
    Ok(order
        .into_iter()
        .map(|i| std::mem::replace(&mut all[i], placeholder()))
        .collect())
}

fn placeholder() -> Estimate {
    Estimate {
        location: Vec::new(),
        covariance: Vec::new(),
        det: f64::NAN,
        support: Vec::new(),
        dist: Vec::new(),
    }
}

fn gather(x: &[f64], d: usize, rows: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows.len() * d);
    for &r in rows {
        out.extend_from_slice(&x[r * d..(r + 1) * d]);
    }
    out
}

/// sklearn `fast_mcd`: the raw estimate (location, covariance, support mask, distances).
fn fast_mcd(
    x: &[f64],
    n: usize,
    d: usize,
    n_support: usize,
    rng: &mut ChaCha8Rng,
    ctx: &JobCtx,
) -> DetectResult<Estimate> {
    if d == 1 {
        return Ok(fast_mcd_univariate(x, n, n_support));
    }
    let random_start = |rng: &mut ChaCha8Rng, m: usize, h: usize| {
        let mut s = sample(rng, m, h).into_vec();
        s.sort_unstable();
        Start::Support(s)
    };
    if n > 500 {
        let n_subsets = n / 300;
        let per_subset = n / n_subsets;
        let mut shuffle: Vec<usize> = (0..n).collect();
        shuffle.shuffle(rng);
        let h_subset = (per_subset as f64 * (n_support as f64 / n as f64)).ceil() as usize;
        let n_trials = (500 / n_subsets).max(10);
        let n_best_sub = 10;
        // Draw every random start first, then run the subsets in parallel.
        let subsets: Vec<(Vec<f64>, Vec<Start>)> = (0..n_subsets)
            .map(|i| {
                let rows = &shuffle[i * per_subset..(i + 1) * per_subset];
                let starts = (0..n_trials)
                    .map(|_| random_start(rng, per_subset, h_subset))
                    .collect();
                (gather(x, d, rows), starts)
            })
            .collect();
        let n_merged = n.min(1500);
        let h_merged = (n_merged as f64 * (n_support as f64 / n as f64)).ceil() as usize;
        let n_best_merged = if n > 1500 { 10 } else { 1 };
        let mut selection: Vec<usize> = (0..n).collect();
        selection.shuffle(rng);
        selection.truncate(n_merged);
        let per_subset_best: Vec<DetectResult<Vec<Estimate>>> = subsets
            .into_iter()
            .map(|(data, starts)| select_candidates(&data, d, h_subset, starts, n_best_sub, 2, ctx))
            .collect();
        let mut best = Vec::new();
        for b in per_subset_best {
            best.extend(b?);
        }
        ctx.report(0.4);
        let merged_data = gather(x, d, &selection);
        let starts = best
            .iter()
            .map(|e| Start::Estimate(&e.location, &e.covariance))
            .collect();
        let merged = select_candidates(&merged_data, d, h_merged, starts, n_best_merged, 30, ctx)?;
        ctx.report(0.7);
        if n < 1500 {
            let m = merged.into_iter().next().expect("one candidate");
            let mut dist = vec![0.0; n];
            for (k, &r) in selection.iter().enumerate() {
                dist[r] = m.dist[k];
            }
            let mut support: Vec<usize> = m.support.iter().map(|&k| selection[k]).collect();
            support.sort_unstable();
            Ok(Estimate {
                location: m.location,
                covariance: m.covariance,
                det: m.det,
                support,
                dist,
            })
        } else {
            let starts = merged
                .iter()
                .map(|e| Start::Estimate(&e.location, &e.covariance))
                .collect();
            let full = select_candidates(x, d, n_support, starts, 1, 30, ctx)?;
            Ok(full.into_iter().next().expect("one candidate"))
        }
    } else {
        let starts = (0..30).map(|_| random_start(rng, n, n_support)).collect();
        let best = select_candidates(x, d, n_support, starts, 10, 2, ctx)?;
        let starts = best
            .iter()
            .map(|e| Start::Estimate(&e.location, &e.covariance))
            .collect();
        let full = select_candidates(x, d, n_support, starts, 1, 30, ctx)?;
        Ok(full.into_iter().next().expect("one candidate"))
    }
}

/// sklearn's exact univariate MCD: the shortest half-interval.
fn fast_mcd_univariate(x: &[f64], n: usize, n_support: usize) -> Estimate {
    let (location, support) = if n_support < n {
        let mut sorted = x.to_vec();
        sorted.sort_by(f64::total_cmp);
        let diffs: Vec<f64> = (0..n - n_support)
            .map(|i| sorted[n_support + i] - sorted[i])
            .collect();
        let min = diffs.iter().copied().fold(f64::INFINITY, f64::min);
        let starts: Vec<usize> = (0..diffs.len()).filter(|&i| diffs[i] == min).collect();
        let mids: f64 = starts
            .iter()
            .map(|&i| sorted[n_support + i] + sorted[i])
            .sum::<f64>()
            / starts.len() as f64;
        let location = 0.5 * mids;
        let dev: Vec<f64> = x.iter().map(|v| (v - location).abs()).collect();
        (location, smallest(&dev, n_support))
    } else {
        (x.iter().sum::<f64>() / n as f64, (0..n).collect())
    };
    let (mean, var) = mean_cov(x, 1, &support);
    let location = if n_support < n { location } else { mean[0] };
    let precision = pinvh(&var, 1);
    let dist = x
        .iter()
        .map(|v| (v - location) * precision[0] * (v - location))
        .collect();
    Estimate {
        location: vec![location],
        det: var[0].ln(),
        covariance: var,
        support,
        dist,
    }
}

impl Detector for Mcd {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        let (n, d) = x.dim();
        // A covariance of at most n rows in d ≥ n dimensions is singular: no Mahalanobis
        // distance exists (and the C-steps would cost O(d³) each for nothing).
        if d >= n {
            return Err(DetectError::InvalidData(format!(
                "mcd needs more rows than features (the covariance of the support is singular \
                 otherwise); the matrix has {n} rows and {d} features: use pca or another \
                 detector, or fewer features"
            )));
        }
        let xs = x.as_standard_layout();
        let data = xs.as_slice().expect("standard layout");
        let n_support = match self.support_fraction {
            None => ((0.5 * (n + d + 1) as f64).ceil() as usize).min(n),
            Some(f) => ((f * n as f64) as usize).clamp(1, n),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed);
        let raw = fast_mcd(data, n, d, n_support, &mut rng, ctx)?;
        ctx.checkpoint()?;
        // correct_covariance: only the distances are rescaled (sklearn keeps raw_covariance_).
        if raw.support.len() < n && raw.covariance.iter().all(|v| v.abs() <= 1e-8) {
            return Err(DetectError::InvalidData(
                "the covariance of the MCD support is zero (more than half the rows are \
                 identical); try a larger support_fraction"
                    .into(),
            ));
        }
        let correction = consistency_factor(d, raw.support.len() as f64 / n as f64);
        let cutoff = chi2_ppf(0.975, d);
        // reweight_covariance.
        let mask: Vec<usize> = (0..n)
            .filter(|&i| raw.dist[i] / correction < cutoff)
            .collect();
        let (location, precision) = if mask.len() >= 2 {
            let (location, mut cov) = mean_cov(data, d, &mask);
            let factor = consistency_factor(d, 0.975);
            for v in cov.iter_mut() {
                *v *= factor;
            }
            (location, pinvh(&cov, d))
        } else {
            // Nothing passes the cut-off (degenerate data): keep the raw estimate.
            (raw.location.clone(), pinvh(&raw.covariance, d))
        };
        let model = McdModel {
            location,
            precision,
        };
        let training_scores = model.distances(data);
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::Mcd(model),
            training_scores,
        })
    }
}

impl McdModel {
    pub fn n_features(&self) -> usize {
        self.location.len()
    }

    fn distances(&self, data: &[f64]) -> Array1<f64> {
        let d = self.n_features();
        let out: Vec<f64> = data
            .par_chunks(d)
            .map(|row| {
                let c: Vec<f64> = row.iter().zip(&self.location).map(|(v, m)| v - m).collect();
                quad_form(&self.precision, d, &c)
            })
            .collect();
        Array1::from(out)
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let xs = x.as_standard_layout();
        Ok(self.distances(xs.as_slice().expect("standard layout")))
    }

    pub(super) fn validate(&self) -> Check {
        let d = self.location.len();
        not_empty("location", d)?;
        values("location", &self.location, Rule::Finite)?;
        length(
            "precision",
            self.precision.len(),
            product("precision", d, d)?,
        )?;
        values("precision", &self.precision, Rule::Finite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi2_matches_scipy() {
        // scipy.stats.chi2.ppf(0.975, d), chi2.cdf(3.3, d) and sklearn _consistency_factor.
        let cases = [
            (
                1,
                5.023886187314888,
                0.9307201167787983,
                1.1747786415645665,
                6.645957462028612,
            ),
            (
                2,
                7.377758908227871,
                0.8079500913792459,
                1.1044679239029054,
                3.1603038475266403,
            ),
            (
                6,
                14.44937533544792,
                0.22963980404499998,
                1.0492657231950313,
                1.7588866325639096,
            ),
            (
                9,
                19.02276779864163,
                0.048795309315902924,
                1.0379916026977127,
                1.5562738967802194,
            ),
            (
                21,
                35.478875905727264,
                3.6124803790434916e-06,
                1.022642361897738,
                1.3119857193960804,
            ),
            (
                36,
                54.437293631813226,
                2.6980218644696977e-13,
                1.0165373970254978,
                1.2232276364886652,
            ),
        ];
        for (d, ppf, cdf, c975, c5123) in cases {
            let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs();
            assert!(close(chi2_ppf(0.975, d), ppf, 1e-12), "ppf {d}");
            assert!(
                close(chi2_cdf(3.3, d), cdf, 1e-11),
                "cdf {d}: {}",
                chi2_cdf(3.3, d)
            );
            assert!(close(consistency_factor(d, 0.975), c975, 1e-12), "c975 {d}");
            assert!(
                close(consistency_factor(d, 0.5123), c5123, 1e-12),
                "c5123 {d}"
            );
        }
    }
}

//! INNE, isolation using nearest-neighbour ensembles (Bandaragoda et al. 2018), as PyOD's `INNE`
//! computes it. Each of `n_estimators` sets draws `max_samples` training rows as centres; a
//! centre's hypersphere reaches its nearest other centre (radius τ(c), squared distances as
//! PyOD keeps them), and carries the ratio `1 − (τ(nn(c)) + ε) / (τ(c) + ε)`. A row takes, in
//! each set, the ratio of the smallest hypersphere covering it (`dist² ≤ τ`), or 1 when none
//! does; the score is the mean over the sets (higher = more anomalous).
//!
//! Randomness: one ChaCha8 stream from the job seed draws a seed per set before any parallel
//! work (as PyOD draws `_seeds`), so the sets do not depend on the thread count.

use ndarray::{Array1, ArrayView2};
use rand::seq::index;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::support::task_seeds;
use super::validate::{length, not_empty, product, values, Check, Rule};
use super::{validate_matrix, DetectError, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::numeric::rows::row_major;

pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n_estimators",
        kind: ParamKind::Int {
            min: 1,
            max: 10_000,
            log: true,
        },
        default: DefaultValue::Int(200),
        help: "number of hypersphere sets",
        search: Search::Range {
            min: 50.0,
            max: 300.0,
        },
    },
    ParamSpec {
        name: "max_samples",
        kind: ParamKind::Int {
            min: 0,
            max: 100_000,
            log: true,
        },
        default: DefaultValue::Int(0),
        help: "centres per set; 0 = auto (min(8, n), as PyOD's 'auto'); otherwise at least 2, \
               values above n use all n rows",
        search: Search::Range {
            min: 4.0,
            max: 64.0,
        },
    },
];

/// numpy's `np.finfo(float).eps`, PyOD's `MIN_FLOAT`.
const MIN_FLOAT: f64 = f64::EPSILON;

pub struct Inne {
    n_estimators: usize,
    max_samples: usize,
}

impl Inne {
    pub fn from_params(p: &Params) -> Self {
        Inne {
            n_estimators: p.int("n_estimators") as usize,
            max_samples: p.int("max_samples") as usize,
        }
    }
}

/// The sets as flat arrays. Within a set the centres are stored by increasing radius (ties in
/// drawing order), so the first covering centre is the smallest covering hypersphere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InneModel {
    pub n_features: usize,
    /// Centres per set.
    pub max_samples: usize,
    /// `n_estimators · max_samples` rows of `n_features`, row-major.
    pub centres: Vec<f64>,
    /// Squared radius of each centre.
    pub radii: Vec<f64>,
    /// Isolation ratio of each centre.
    pub ratios: Vec<f64>,
}

#[inline(always)]
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        let t = x - y;
        s += t * t;
    }
    s
}

/// Builds one set from the drawn rows: (centres, squared radii, ratios) sorted by radius.
fn build_set(data: &[f64], d: usize, rows: &[usize]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let psi = rows.len();
    let centre = |i: usize| &data[rows[i] * d..rows[i] * d + d];
    let mut radius = vec![f64::INFINITY; psi];
    let mut nearest = vec![0usize; psi];
    for i in 0..psi {
        for j in 0..psi {
            if i != j {
                let dist = squared_distance(centre(i), centre(j));
                // np.argmin: the first minimum.
                if dist < radius[i] {
                    radius[i] = dist;
                    nearest[i] = j;
                }
            }
        }
    }
    let ratio: Vec<f64> = (0..psi)
        .map(|i| 1.0 - (radius[nearest[i]] + MIN_FLOAT) / (radius[i] + MIN_FLOAT))
        .collect();
    let mut order: Vec<usize> = (0..psi).collect();
    order.sort_by(|&a, &b| radius[a].total_cmp(&radius[b])); // stable: ties keep drawing order
    let mut centres = Vec::with_capacity(psi * d);
    for &i in &order {
        centres.extend_from_slice(centre(i));
    }
    (
        centres,
        order.iter().map(|&i| radius[i]).collect(),
        order.iter().map(|&i| ratio[i]).collect(),
    )
}

impl Detector for Inne {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        let (n, d) = x.dim();
        let psi = if self.max_samples == 0 {
            n.min(8)
        } else {
            self.max_samples.min(n)
        };
        if psi < 2 {
            return Err(DetectError::InvalidParam {
                detector: "inne".into(),
                param: "max_samples".into(),
                message: "each set needs at least 2 centres (0 = auto)".into(),
            });
        }
        let data = row_major(x);
        let seeds = task_seeds(ctx.seed, self.n_estimators);
        let sets: Vec<_> = seeds
            .par_iter()
            .map(|&s| {
                ctx.checkpoint()?;
                let mut rng = ChaCha8Rng::seed_from_u64(s);
                let rows = index::sample(&mut rng, n, psi).into_vec();
                Ok(build_set(&data, d, &rows))
            })
            .collect::<DetectResult<_>>()?;
        let mut model = InneModel {
            n_features: d,
            max_samples: psi,
            centres: Vec::with_capacity(self.n_estimators * psi * d),
            radii: Vec::with_capacity(self.n_estimators * psi),
            ratios: Vec::with_capacity(self.n_estimators * psi),
        };
        for (c, r, q) in sets {
            model.centres.extend(c);
            model.radii.extend(r);
            model.ratios.extend(q);
        }
        ctx.report(0.3);
        let training_scores = model.score_rows(&data, ctx)?;
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::Inne(model),
            training_scores,
        })
    }
}

impl InneModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    fn score_rows(&self, data: &[f64], ctx: &JobCtx) -> DetectResult<Array1<f64>> {
        let d = self.n_features;
        let psi = self.max_samples;
        let n_sets = self.radii.len() / psi;
        // Each set's centres transposed (feature-major): a row's distances to all the centres
        // are then built feature by feature, `psi` independent sums side by side.
        let mut transposed = vec![0.0; self.centres.len()];
        for set in 0..n_sets {
            let base = set * psi * d;
            for k in 0..psi {
                for j in 0..d {
                    transposed[base + j * psi + k] = self.centres[base + k * d + j];
                }
            }
        }
        let mut out = vec![0.0; data.len() / d];
        out.par_chunks_mut(256)
            .zip(data.par_chunks(256 * d))
            .try_for_each(|(out, rows)| {
                ctx.checkpoint()?;
                let mut dist = vec![0.0; psi];
                // Sets outer, rows inner (a set stays in cache); each row still adds its
                // isolation scores in set order.
                let mut total = vec![0.0; out.len()];
                for set in 0..n_sets {
                    let centres = &transposed[set * psi * d..(set + 1) * psi * d];
                    let radii = &self.radii[set * psi..(set + 1) * psi];
                    let ratios = &self.ratios[set * psi..(set + 1) * psi];
                    for (t, row) in total.iter_mut().zip(rows.chunks_exact(d)) {
                        // Squared distances, each summed over the features in order.
                        dist.fill(0.0);
                        for (&x, column) in row.iter().zip(centres.chunks_exact(psi)) {
                            for (s, &c) in dist.iter_mut().zip(column) {
                                let diff = x - c;
                                *s += diff * diff;
                            }
                        }
                        // Centres by increasing radius: the first covering one is the smallest.
                        let mut score = 1.0;
                        for k in (0..psi).rev() {
                            if dist[k] <= radii[k] {
                                score = ratios[k];
                            }
                        }
                        *t += score;
                    }
                }
                for (o, t) in out.iter_mut().zip(total) {
                    *o = t / n_sets as f64;
                }
                Ok(())
            })?;
        Ok(Array1::from(out))
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        self.score_rows(&row_major(x), &JobCtx::default())
    }

    pub(super) fn validate(&self) -> Check {
        let d = self.n_features;
        if d == 0 {
            return Err("n_features is 0".into());
        }
        let psi = self.max_samples;
        if psi < 2 {
            return Err(format!("max_samples is {psi}, expected at least 2"));
        }
        let centres = self.radii.len();
        not_empty("radii", centres)?;
        if !centres.is_multiple_of(psi) {
            return Err(format!(
                "radii has {centres} values, not a whole number of sets of {psi}"
            ));
        }
        length("ratios", self.ratios.len(), centres)?;
        length(
            "centres",
            self.centres.len(),
            product("centres", centres, d)?,
        )?;
        values("centres", &self.centres, Rule::Finite)?;
        values("radii", &self.radii, Rule::NonNegative)?;
        values("ratios", &self.ratios, Rule::Unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_follow_pyod() {
        // Centres at 0, 1 and 3 on a line: radii (squared) 1, 1, 4; nearest 1, 0, 1.
        let data = [0.0, 1.0, 3.0];
        let (centres, radii, ratios) = build_set(&data, 1, &[0, 1, 2]);
        assert_eq!(centres, vec![0.0, 1.0, 3.0]);
        assert_eq!(radii, vec![1.0, 1.0, 4.0]);
        assert_eq!(ratios[0], 1.0 - (1.0 + MIN_FLOAT) / (1.0 + MIN_FLOAT));
        assert_eq!(ratios[2], 1.0 - (1.0 + MIN_FLOAT) / (4.0 + MIN_FLOAT));
    }
}

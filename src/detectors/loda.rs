//! LODA, the lightweight on-line detector of anomalies (Pevný 2016), as PyOD's `LODA` computes
//! it: `n_random_cuts` sparse random projections (standard-normal weights on `int(√d)` features,
//! the others zero), an equal-width histogram of the training data along each projection, and
//! score = mean over projections of −log(bin probability).
//!
//! PyOD's details kept (the scores stay on PyOD's scale):
//! - bin probabilities are `(count + 1e-12) / Σ(count + 1e-12)`;
//! - the sum of `−log(p) / n_random_cuts` is divided by `n_random_cuts` once more;
//! - values outside the training range take the first or last bin.
//!
//! One deliberate difference by default, `bin_lookup = counted`: a value is scored with the bin
//! that counted it. PyOD 3.6.7 looks values up with `searchsorted(edges[:n_bins-1], v,
//! side='left')`, which for every value strictly inside a bin returns the bin *above* it; rows at
//! the upper edge of a dense region then take an empty bin's probability (1e-12) and outscore
//! true outliers, and its ROC-AUC swings widely with the seed (the counted bin's does not).
//! `bin_lookup = pyod` reproduces PyOD's lookup, and with it PyOD's ROC-AUC distribution over
//! seeds.
//!
//! `n_bins = 0` is PyOD's `'auto'`: each projection takes the Birgé–Rozenholc number of bins
//! (PyOD's `get_optimal_n_bins`, penalty included per bin as PyOD sums it).

use ndarray::{Array1, ArrayView2};
use rand::seq::index;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::validate::{length, not_empty, values, Check, Rule};
use super::{validate_matrix, DetectResult, Detector, Fitted, JobCtx, Model};
use crate::numeric::rows::row_major;
use crate::numeric::sums::{linspace, numpy_sum};

pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n_bins",
        kind: ParamKind::Int {
            min: 0,
            max: 1000,
            log: false,
        },
        default: DefaultValue::Int(10),
        help: "histogram bins per projection; 0 = auto (PyOD's 'auto': Birgé–Rozenholc per \
               projection)",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "bin_lookup",
        kind: ParamKind::Choice {
            choices: &["counted", "pyod"],
        },
        default: DefaultValue::Text("counted"),
        help: "which bin scores a value: the one that counted it, or PyOD 3.6.7's lookup (the \
               next bin up for values inside a bin; reproduces PyOD's scores)",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "n_random_cuts",
        kind: ParamKind::Int {
            min: 1,
            max: 10_000,
            log: true,
        },
        default: DefaultValue::Int(100),
        help: "number of random projections",
        search: Search::Range {
            min: 50.0,
            max: 300.0,
        },
    },
];

pub struct Loda {
    n_bins: usize,
    n_cuts: usize,
    lookup: BinLookup,
}

/// How a projected value finds its bin (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinLookup {
    /// The bin `[e_k, e_{k+1})` that holds the value (the last bin closed), as `np.histogram`
    /// counted it; out-of-range values take the first or last bin.
    Counted,
    /// PyOD's `searchsorted(edges[:n_bins-1], v, side='left')`.
    Pyod,
}

impl Loda {
    pub fn from_params(p: &Params) -> Self {
        Loda {
            n_bins: p.int("n_bins") as usize,
            n_cuts: p.int("n_random_cuts") as usize,
            lookup: match p.text("bin_lookup") {
                "pyod" => BinLookup::Pyod,
                _ => BinLookup::Counted,
            },
        }
    }
}

/// One projection: sparse weights and the histogram of the training data along it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    /// Features with a non-zero weight, increasing.
    pub features: Vec<usize>,
    pub weights: Vec<f64>,
    /// `n_bins + 1` bin edges.
    pub edges: Vec<f64>,
    /// Bin probabilities (`n_bins` of them).
    pub probabilities: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LodaModel {
    pub n_features: usize,
    pub bin_lookup: BinLookup,
    pub projections: Vec<Projection>,
}

impl Projection {
    /// The projection of one row, its terms added in feature order (as the fit and
    /// `score_rows` add them).
    #[cfg(test)]
    fn project(&self, row: &[f64]) -> f64 {
        let mut s = 0.0;
        for (&f, &w) in self.features.iter().zip(&self.weights) {
            s += w * row[f];
        }
        s
    }
}

/// The bin `[e_k, e_{k+1})` holding `v` (the last bin closed; outside the range, the first or
/// last bin): numpy's arithmetic guess corrected against the actual edges.
#[inline(always)]
fn counted_bin(v: f64, lo: f64, norm: f64, edges: &[f64]) -> usize {
    let bins = edges.len() - 1;
    // Float-to-int casts saturate: below the range (or NaN) gives 0.
    let mut k = (((v - lo) * norm) as usize).min(bins - 1);
    while k > 0 && v < edges[k] {
        k -= 1;
    }
    while k + 1 < bins && v >= edges[k + 1] {
        k += 1;
    }
    k
}

/// The bin whose probability scores `v`. PyOD's `searchsorted(edges[:n_bins-1], v, 'left')`
/// counts the edges `e_0..e_{n_bins-2}` below `v`: the counted bin `k`, plus one when `e_k < v`
/// and `e_k` is among those edges.
#[inline(always)]
fn lookup_bin(v: f64, lo: f64, norm: f64, edges: &[f64], lookup: BinLookup) -> usize {
    adjust_bin(counted_bin(v, lo, norm, edges), v, edges, lookup)
}

/// The scoring bin from the counted bin `k` of `v` (see [`lookup_bin`]).
#[inline(always)]
fn adjust_bin(k: usize, v: f64, edges: &[f64], lookup: BinLookup) -> usize {
    match lookup {
        BinLookup::Counted => k,
        BinLookup::Pyod => k + usize::from(k + 2 < edges.len() && v > edges[k]),
    }
}

/// The range `np.histogram` spans: the data's, widened by 0.5 each way when constant.
fn histogram_range(values: &[f64]) -> (f64, f64) {
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// `np.histogram(values, bins)` counts and edges, with numpy's bin rule for equal widths.
fn histogram(values: &[f64], bins: usize) -> (Vec<f64>, Vec<f64>) {
    let (lo, hi) = histogram_range(values);
    let edges = linspace(lo, hi, bins + 1);
    let norm = bins as f64 / (hi - lo);
    let mut counts = vec![0.0; bins];
    for &v in values {
        counts[counted_bin(v, lo, norm, &edges)] += 1.0;
    }
    (counts, edges)
}

/// PyOD's `get_optimal_n_bins` (Birgé & Rozenholc 2006 as PyOD writes it): the `b` in
/// `1..max(2, ⌊√n⌋)` maximising `Σ_bins [h·ln(b·h/n + 1) − (b − 1 + ln(b)^2.5)]`.
fn optimal_n_bins(values: &[f64]) -> usize {
    let n = values.len();
    let upper = ((n as f64).sqrt() as usize).max(2);
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (lo, hi) = histogram_range(values);
    let mut best = (f64::NEG_INFINITY, 1);
    for b in 1..upper {
        // Counts from the sorted values: bin k holds [e_k, e_{k+1}), the last one closed.
        let edges = linspace(lo, hi, b + 1);
        let mut below = 0usize;
        let terms: Vec<f64> = (0..b)
            .map(|k| {
                let next = if k + 1 == b {
                    n
                } else {
                    sorted.partition_point(|&v| v < edges[k + 1])
                };
                let h = (next - below) as f64;
                below = next;
                h * ((b as f64 * h) / n as f64 + 1.0).ln()
                    - (b as f64 - 1.0 + (b as f64).ln().powf(2.5))
            })
            .collect();
        let likelihood = numpy_sum(&terms);
        if likelihood > best.0 {
            best = (likelihood, b);
        }
    }
    best.1
}

impl Detector for Loda {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        let d = x.ncols();
        let n_nonzero = ((d as f64).sqrt() as usize).clamp(1, d);
        // All random draws, in order, from one stream: the projection weights, then each
        // projection's kept features (as PyOD draws randn first, then the permutations).
        let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed);
        let dense: Vec<Vec<f64>> = (0..self.n_cuts)
            .map(|_| (0..d).map(|_| StandardNormal.sample(&mut rng)).collect())
            .collect();
        let kept: Vec<Vec<usize>> = (0..self.n_cuts)
            .map(|_| {
                let mut f = index::sample(&mut rng, d, n_nonzero).into_vec();
                f.sort_unstable();
                f
            })
            .collect();
        // Histograms: projections in parallel, each streaming over its √d columns.
        let columns: Vec<Vec<f64>> = x.columns().into_iter().map(|c| c.to_vec()).collect();
        let projections: Vec<Projection> = dense
            .into_par_iter()
            .zip(kept)
            .map(|(w, features)| {
                ctx.checkpoint()?;
                let weights: Vec<f64> = features.iter().map(|&f| w[f]).collect();
                // Terms added in feature order, as `score_rows` adds them.
                let mut projected = vec![0.0; x.nrows()];
                for (&f, &w) in features.iter().zip(&weights) {
                    for (o, &v) in projected.iter_mut().zip(&columns[f]) {
                        *o += w * v;
                    }
                }
                let bins = if self.n_bins == 0 {
                    optimal_n_bins(&projected)
                } else {
                    self.n_bins
                };
                let (counts, edges) = histogram(&projected, bins);
                let counts: Vec<f64> = counts.iter().map(|&k| k + 1e-12).collect();
                let total = numpy_sum(&counts);
                Ok(Projection {
                    features,
                    weights,
                    edges,
                    probabilities: counts.iter().map(|k| k / total).collect(),
                })
            })
            .collect::<DetectResult<_>>()?;
        ctx.report(0.5);
        let model = LodaModel {
            n_features: d,
            bin_lookup: self.lookup,
            projections,
        };
        // Scores: row blocks in parallel, each row adding its terms in projection order.
        let training_scores = model.score_rows(&row_major(x), ctx)?;
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::Loda(model),
            training_scores,
        })
    }
}

/// A projection laid out for scoring.
struct Cut<'a> {
    features: &'a [usize],
    weights: &'a [f64],
    edges: &'a [f64],
    lo: f64,
    norm: f64,
    /// `−log(p) / n_random_cuts` per bin.
    terms: Vec<f64>,
}

impl LodaModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Scores of the row-major `data`: PyOD's `Σ −w·log p / n_random_cuts`, `w = 1 /
    /// n_random_cuts`, added in projection order.
    fn score_rows(&self, data: &[f64], ctx: &JobCtx) -> DetectResult<Array1<f64>> {
        let d = self.n_features;
        let n_cuts = self.projections.len() as f64;
        let weight = 1.0 / n_cuts;
        let cuts: Vec<Cut> = self
            .projections
            .iter()
            .map(|p| {
                let bins = p.probabilities.len();
                Cut {
                    features: &p.features,
                    weights: &p.weights,
                    edges: &p.edges,
                    lo: p.edges[0],
                    norm: bins as f64 / (p.edges[bins] - p.edges[0]),
                    terms: p.probabilities.iter().map(|&q| -weight * q.ln()).collect(),
                }
            })
            .collect();
        let lookup = self.bin_lookup;
        let mut out = vec![0.0; data.len() / d];
        out.par_chunks_mut(512)
            .zip(data.par_chunks(512 * d))
            .try_for_each(|(out, rows)| {
                ctx.checkpoint()?;
                for (o, row) in out.iter_mut().zip(rows.chunks_exact(d)) {
                    let mut s = 0.0;
                    for c in &cuts {
                        let mut v = 0.0;
                        for (&f, &w) in c.features.iter().zip(c.weights) {
                            v += w * row[f];
                        }
                        s += c.terms[lookup_bin(v, c.lo, c.norm, c.edges, lookup)];
                    }
                    *o = s / n_cuts;
                }
                Ok(())
            })?;
        Ok(Array1::from(out))
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        self.score_rows(&row_major(x), &JobCtx::default())
    }

    /// Each projection's term of `row`'s score, `−ln q(bin) / n²` for n projections: they
    /// add up to the score (up to rounding).
    pub fn projection_terms(&self, row: &[f64]) -> Vec<f64> {
        let n_cuts = self.projections.len() as f64;
        self.projections
            .iter()
            .map(|p| {
                let bins = p.probabilities.len();
                let v: f64 = p
                    .features
                    .iter()
                    .zip(&p.weights)
                    .map(|(&f, &w)| w * row[f])
                    .sum();
                let norm = bins as f64 / (p.edges[bins] - p.edges[0]);
                let bin = lookup_bin(v, p.edges[0], norm, &p.edges, self.bin_lookup);
                -p.probabilities[bin].ln() / n_cuts / n_cuts
            })
            .collect()
    }

    pub(super) fn validate(&self) -> Check {
        let d = self.n_features;
        if d == 0 {
            return Err("n_features is 0".into());
        }
        not_empty("projections", self.projections.len())?;
        for (t, p) in self.projections.iter().enumerate() {
            let name = |field: &str| format!("{field} of projection {t}");
            not_empty(&name("features"), p.features.len())?;
            if let Some(&f) = p.features.iter().find(|&&f| f >= d) {
                return Err(format!(
                    "{} include feature {f}, but the model has {d} features",
                    name("features")
                ));
            }
            if p.features.windows(2).any(|w| w[0] >= w[1]) {
                return Err(format!("{} do not increase", name("features")));
            }
            length(&name("weights"), p.weights.len(), p.features.len())?;
            values(&name("weights"), &p.weights, Rule::Finite)?;
            not_empty(&name("probabilities"), p.probabilities.len())?;
            values(&name("probabilities"), &p.probabilities, Rule::Positive)?;
            length(&name("edges"), p.edges.len(), p.probabilities.len() + 1)?;
            values(&name("edges"), &p.edges, Rule::Finite)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_like_numpy() {
        // np.histogram([0, 1, 1, 2, 3, 10], bins=3) -> [5, 0, 1], edges [0, 10/3, 20/3, 10]
        let (counts, edges) = histogram(&[0.0, 1.0, 1.0, 2.0, 3.0, 10.0], 3);
        assert_eq!(counts, vec![5.0, 0.0, 1.0]);
        assert_eq!(edges.len(), 4);
        assert_eq!(edges[3], 10.0);
    }

    #[test]
    fn lookups() {
        let p = Projection {
            features: vec![0],
            weights: vec![1.0],
            edges: vec![0.0, 1.0, 2.0, 3.0],
            probabilities: vec![0.2, 0.3, 0.5],
        };
        let bin_of = |v, lookup| lookup_bin(v, 0.0, 1.0, &p.edges, lookup);
        let pyod = |v| bin_of(v, BinLookup::Pyod);
        // searchsorted([0, 1], v, 'left')
        assert_eq!(
            [-1.0, 0.0, 0.5, 1.0, 2.5, 3.0, 9.0].map(pyod),
            [0, 0, 1, 1, 2, 2, 2]
        );
        // np.histogram's bins: [0, 1), [1, 2), [2, 3]; outside: the edge bins.
        let counted = |v| bin_of(v, BinLookup::Counted);
        assert_eq!(
            [-1.0, 0.0, 0.5, 1.0, 2.5, 3.0, 9.0].map(counted),
            [0, 0, 0, 1, 2, 2, 2]
        );
    }

    #[test]
    fn training_scores_are_the_models_scores() {
        let x = ndarray::Array2::from_shape_fn((300, 5), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1000) as f64 / 100.0
        });
        for (n_bins, lookup) in [(10, BinLookup::Counted), (0, BinLookup::Pyod)] {
            let loda = Loda {
                n_bins,
                n_cuts: 30,
                lookup,
            };
            let fitted = loda.fit(x.view(), &JobCtx::new(3)).unwrap();
            let Model::Loda(m) = &fitted.model else {
                panic!("not a LODA model")
            };
            assert_eq!(m.score(x.view()).unwrap(), fitted.training_scores);
            // The blocked counting agrees with np.histogram's.
            let data = row_major(x.view());
            for p in &m.projections {
                let projected: Vec<f64> = data.chunks_exact(5).map(|r| p.project(r)).collect();
                let (counts, edges) = histogram(&projected, p.probabilities.len());
                assert_eq!(edges, p.edges);
                let counts: Vec<f64> = counts.iter().map(|c| c + 1e-12).collect();
                let total = numpy_sum(&counts);
                let expected: Vec<f64> = counts.iter().map(|c| c / total).collect();
                assert_eq!(expected, p.probabilities);
            }
        }
    }

    #[test]
    fn optimal_bins_match_pyod() {
        // pyod.utils.utility.get_optimal_n_bins on the same values: 1, 4, 4, 8
        let flat: Vec<f64> = (0..100).map(|i| ((i * 37) % 100) as f64 / 7.0).collect();
        assert_eq!(optimal_n_bins(&flat), 1);
        let u = |i: usize, m: usize| ((i * 37) % m) as f64 / 100.0;
        let exp: Vec<f64> = (0..400).map(|i| u(i, 400).exp()).collect();
        assert_eq!(optimal_n_bins(&exp), 4);
        let cube: Vec<f64> = (0..400).map(|i| u(i, 400).powi(3)).collect();
        assert_eq!(optimal_n_bins(&cube), 4);
        let quartic: Vec<f64> = (0..1000).map(|i| u(i, 1000).powi(4)).collect();
        assert_eq!(optimal_n_bins(&quartic), 8);
    }
}

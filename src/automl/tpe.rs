//! A tree-structured Parzen estimator (Bergstra et al. 2011), kept small: the detector is the
//! root choice, its searched parameters hang below it. Finished trials are split into the best
//! quarter ("good") and the rest; candidates are drawn half from the prior and half around good
//! trials, and the ones where good trials are most likely relative to the rest (l(x) / g(x))
//! are proposed. Everything is driven by a seeded generator and by finished trials in trial
//! order, so proposals do not depend on the thread count.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::evaluate::Candidate;
use super::space::{decode, encode, sample_params, Coord};
use crate::detectors::{DetectorInfo, Params};

/// Share of finished trials that count as good.
const GAMMA: f64 = 0.25;
/// Candidates scored per proposed trial.
const CANDIDATES_PER_PROPOSAL: usize = 24;
/// Kernel width of a numeric coordinate in the unit interval.
const BANDWIDTH: f64 = 0.15;
/// Probability that a categorical kernel keeps its centre's category.
const KEEP_CATEGORY: f64 = 0.7;

/// A finished trial as the optimiser sees it.
pub(crate) struct Observation<'a> {
    pub info: &'static DetectorInfo,
    pub params: &'a Params,
    pub objective: f64,
}

struct Encoded {
    detector: &'static str,
    coords: Vec<Coord>,
}

/// Proposes `count` new parameter sets (not among `seen`), drawing from `rng`.
pub(crate) fn propose(
    detectors: &[&'static DetectorInfo],
    history: &[Observation<'_>],
    seen: &[(&str, &Params)],
    count: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Candidate> {
    // Best first; a stable sort keeps trial order among ties.
    let mut order: Vec<&Observation> = history.iter().collect();
    order.sort_by(|a, b| b.objective.total_cmp(&a.objective));
    let n_good = ((GAMMA * order.len() as f64).ceil() as usize).clamp(1, order.len().max(1));
    let encode_all = |obs: &[&Observation]| -> Vec<Encoded> {
        obs.iter()
            .map(|o| Encoded {
                detector: o.info.name,
                coords: encode(o.info, o.params),
            })
            .collect()
    };
    let good = encode_all(&order[..n_good.min(order.len())]);
    let bad = encode_all(&order[n_good.min(order.len())..]);

    let mut scored: Vec<(f64, Candidate)> = Vec::new();
    for _ in 0..count * CANDIDATES_PER_PROPOSAL {
        let drawn = if !good.is_empty() && rng.gen_bool(0.5) {
            around(&good[rng.gen_range(0..good.len())], detectors, rng)
        } else {
            let info = detectors[rng.gen_range(0..detectors.len())];
            sample_params(info, rng).ok().map(|p| (info, p))
        };
        let seed = rng.gen::<u64>();
        let Some((info, params)) = drawn else {
            continue;
        };
        let duplicate = seen.iter().any(|(d, p)| *d == info.name && **p == params)
            || scored
                .iter()
                .any(|(_, c)| c.info.name == info.name && c.params == params);
        if duplicate {
            continue;
        }
        let x = encode(info, &params);
        let ratio = log_density(info.name, &x, &good, detectors.len())
            - log_density(info.name, &x, &bad, detectors.len());
        scored.push((ratio, Candidate { info, params, seed }));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(count).map(|(_, c)| c).collect()
}

/// A draw from the good trials' Parzen estimator: the centre's detector, each coordinate
/// perturbed by its kernel.
fn around(
    centre: &Encoded,
    detectors: &[&'static DetectorInfo],
    rng: &mut ChaCha8Rng,
) -> Option<(&'static DetectorInfo, Params)> {
    let info = *detectors.iter().find(|d| d.name == centre.detector)?;
    let noise = Normal::new(0.0, BANDWIDTH).expect("a positive width");
    let coords: Vec<Coord> = centre
        .coords
        .iter()
        .map(|c| match *c {
            Coord::Unit(u) => Coord::Unit((u + noise.sample(rng)).clamp(0.0, 1.0)),
            Coord::Category { index, n } => Coord::Category {
                index: if n > 1 && !rng.gen_bool(KEEP_CATEGORY) {
                    rng.gen_range(0..n)
                } else {
                    index
                },
                n,
            },
        })
        .collect();
    decode(info, &coords).ok().map(|p| (info, p))
}

/// log p(x) under the Parzen estimator of `set`: a smoothed frequency for the detector, then a
/// mixture of product kernels over that detector's members plus a uniform prior component.
fn log_density(detector: &str, x: &[Coord], set: &[Encoded], n_detectors: usize) -> f64 {
    let same: Vec<&Encoded> = set.iter().filter(|e| e.detector == detector).collect();
    let p_detector = (same.len() as f64 + 1.0) / (set.len() as f64 + n_detectors as f64);
    let prior: f64 = x
        .iter()
        .map(|c| match c {
            Coord::Unit(_) => 1.0,
            Coord::Category { n, .. } => 1.0 / *n as f64,
        })
        .product();
    let kernels: f64 = same.iter().map(|e| kernel(x, &e.coords)).sum();
    let p_params = (prior + kernels) / (same.len() as f64 + 1.0);
    p_detector.ln() + p_params.ln()
}

fn kernel(x: &[Coord], centre: &[Coord]) -> f64 {
    let norm = 1.0 / (BANDWIDTH * (2.0 * std::f64::consts::PI).sqrt());
    x.iter()
        .zip(centre)
        .map(|(a, b)| match (*a, *b) {
            (Coord::Unit(u), Coord::Unit(v)) => {
                let z = (u - v) / BANDWIDTH;
                norm * (-0.5 * z * z).exp()
            }
            (Coord::Category { index: i, n }, Coord::Category { index: j, .. }) => {
                if n <= 1 {
                    1.0
                } else if i == j {
                    KEEP_CATEGORY + (1.0 - KEEP_CATEGORY) / n as f64
                } else {
                    (1.0 - KEEP_CATEGORY) / n as f64
                }
            }
            _ => 1.0,
        })
        .product()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::registry;
    use rand::SeedableRng;

    fn info(name: &str) -> &'static DetectorInfo {
        registry().iter().find(|d| d.name == name).unwrap()
    }

    #[test]
    fn proposals_concentrate_where_good_trials_were() {
        // knn trials are good when n_neighbors is small, bad when large; iforest trials bad.
        let knn = info("knn");
        let iforest = info("iforest");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut owned: Vec<(&'static DetectorInfo, Params, f64)> = Vec::new();
        for _ in 0..40 {
            let p = sample_params(knn, &mut rng).unwrap();
            let k = p.int("n_neighbors") as f64;
            owned.push((knn, p, 1.0 - k / 100.0));
            let q = sample_params(iforest, &mut rng).unwrap();
            owned.push((iforest, q, 0.0));
        }
        let history: Vec<Observation> = owned
            .iter()
            .map(|(i, p, o)| Observation {
                info: i,
                params: p,
                objective: *o,
            })
            .collect();
        let proposals = propose(&[knn, iforest], &history, &[], 20, &mut rng);
        assert_eq!(proposals.len(), 20);
        let knn_small = proposals
            .iter()
            .filter(|c| c.info.name == "knn" && c.params.int("n_neighbors") <= 20)
            .count();
        assert!(
            knn_small >= 15,
            "only {knn_small} of 20 proposals are knn with few neighbours"
        );
    }

    #[test]
    fn proposals_are_reproducible_and_new() {
        let knn = info("knn");
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let owned: Vec<Params> = (0..10)
            .map(|_| sample_params(knn, &mut rng).unwrap())
            .collect();
        let history: Vec<Observation> = owned
            .iter()
            .enumerate()
            .map(|(i, p)| Observation {
                info: knn,
                params: p,
                objective: i as f64,
            })
            .collect();
        let seen: Vec<(&str, &Params)> = owned.iter().map(|p| ("knn", p)).collect();
        let a = propose(
            &[knn],
            &history,
            &seen,
            5,
            &mut ChaCha8Rng::seed_from_u64(9),
        );
        let b = propose(
            &[knn],
            &history,
            &seen,
            5,
            &mut ChaCha8Rng::seed_from_u64(9),
        );
        let show = |v: &[Candidate]| {
            v.iter()
                .map(|c| format!("{:?}", c.params))
                .collect::<Vec<_>>()
        };
        assert_eq!(show(&a), show(&b));
        for c in &a {
            assert!(
                !owned.contains(&c.params),
                "{:?} was already tried",
                c.params
            );
        }
    }
}

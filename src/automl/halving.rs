//! Successive halving (Jamieson & Talwalkar 2016) with the number of rows as the budget: every
//! candidate is first fitted on a small subsample, the best third moves on to a subsample three
//! times larger, and so on until the last rung fits all rows. Cheap rungs weed out poor
//! candidates, so many more configurations are explored for the time of a few full fits.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::evaluate::shuffle;

/// Growth of the subsample and share promoted (1 / ETA) from rung to rung.
pub const ETA: usize = 3;
/// Smallest subsample worth measuring: below this, rankings are mostly noise.
pub const MIN_RUNG_ROWS: usize = 150;
/// With labels, a subsample must hold at least this many anomalies for ROC-AUC to mean much.
const MIN_RUNG_ANOMALIES: usize = 5;
const MAX_RUNGS: usize = 4;

/// Row counts of the rungs, smallest first; the last is all `n_rows`. A dataset too small for
/// a second rung gets one rung: plain random search.
pub fn rung_sizes(n_rows: usize, anomalies: Option<usize>) -> Vec<usize> {
    let mut sizes = vec![n_rows];
    while sizes.len() < MAX_RUNGS {
        let next = sizes[sizes.len() - 1] / ETA;
        let enough_anomalies =
            anomalies.is_none_or(|a| a * next / n_rows.max(1) >= MIN_RUNG_ANOMALIES);
        if next < MIN_RUNG_ROWS || !enough_anomalies {
            break;
        }
        sizes.push(next);
    }
    sizes.reverse();
    sizes
}

/// Candidates promoted out of `k` (at least one).
pub fn survivors(k: usize) -> usize {
    k.div_ceil(ETA).max(1).min(k)
}

/// The most candidates the first rung can take so that all rungs together run at most `trials`
/// fits (at least one).
pub fn first_rung_candidates(trials: usize, rungs: usize) -> usize {
    (1..=trials)
        .rev()
        .find(|&n0| total_fits(n0, rungs) <= trials)
        .unwrap_or(1)
}

/// Fits that `n0` first-rung candidates lead to over `rungs` rungs.
pub fn total_fits(n0: usize, rungs: usize) -> usize {
    let mut k = n0;
    let mut total = 0;
    for r in 0..rungs {
        total += k;
        if r + 1 < rungs {
            k = survivors(k);
        }
    }
    total
}

/// A seeded subsample of `size` of the `n_rows` rows (sorted indices); stratified by class when
/// labels are given, so each rung keeps the anomaly share.
pub fn subsample(
    n_rows: usize,
    size: usize,
    labels: Option<&[u8]>,
    seed: u64,
    rung: usize,
) -> Vec<usize> {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ SUBSAMPLE_SALT ^ (rung as u64).wrapping_mul(0x9e37_79b9));
    let mut chosen = Vec::with_capacity(size);
    match labels {
        Some(l) => {
            let anomalies = l.iter().filter(|&&v| v == 1).count();
            let anomalies_taken = ((anomalies * size) as f64 / n_rows as f64).round() as usize;
            for class in [0u8, 1u8] {
                let mut rows: Vec<usize> = (0..n_rows).filter(|&i| l[i] == class).collect();
                let take = if class == 1 {
                    anomalies_taken
                } else {
                    size - anomalies_taken
                };
                shuffle(&mut rows, &mut rng);
                chosen.extend_from_slice(&rows[..take.min(rows.len())]);
            }
        }
        None => {
            let mut rows: Vec<usize> = (0..n_rows).collect();
            shuffle(&mut rows, &mut rng);
            chosen.extend_from_slice(&rows[..size.min(n_rows)]);
        }
    }
    chosen.sort_unstable();
    chosen
}

const SUBSAMPLE_SALT: u64 = 0x4a1f_0bad_5eed;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_grow_by_eta_and_end_with_all_rows() {
        assert_eq!(rung_sizes(1831, None), vec![203, 610, 1831]);
        assert_eq!(rung_sizes(100_000, None), vec![3703, 11111, 33333, 100_000]);
        assert_eq!(rung_sizes(300, None), vec![300]);
        // 176 anomalies in 1831 rows: 203 rows would hold ~19.
        assert_eq!(rung_sizes(1831, Some(176)), vec![203, 610, 1831]);
        // Only 10 anomalies: a third of the rows holds 3, too few.
        assert_eq!(rung_sizes(1831, Some(10)), vec![1831]);
    }

    #[test]
    fn the_first_rung_fills_the_trial_budget() {
        assert_eq!(first_rung_candidates(50, 1), 50);
        let n0 = first_rung_candidates(50, 3);
        assert!(
            total_fits(n0, 3) <= 50 && total_fits(n0 + 1, 3) > 50,
            "{n0}"
        );
        assert_eq!(first_rung_candidates(1, 4), 1);
    }

    #[test]
    fn subsamples_are_seeded_stratified_and_sorted() {
        let labels: Vec<u8> = (0..1000).map(|i| u8::from(i % 10 == 0)).collect();
        let a = subsample(1000, 300, Some(&labels), 7, 0);
        assert_eq!(a, subsample(1000, 300, Some(&labels), 7, 0));
        assert_ne!(a, subsample(1000, 300, Some(&labels), 8, 0));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        let anomalies = a.iter().filter(|&&i| labels[i] == 1).count();
        assert_eq!(anomalies, 30);
        assert_eq!(a.len(), 300);
        assert_eq!(subsample(1000, 300, None, 7, 1).len(), 300);
    }
}

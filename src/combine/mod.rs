//! Putting several detectors' scores on one scale and merging them into one score per sample,
//! as PyOD's `pyod.models.combination` (average, maximization, median, aom, moa).
//!
//! Detectors score on unrelated scales (a distance, a probability, a path length), so
//! normalise each detector's column first ([`normalize_columns`]) and combine after.

use std::fmt;
use std::str::FromStr;

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::metrics::{average_ranks, median_sorted};

/// What can be wrong with a score matrix or a combination's parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CombineError {
    #[error(
        "the score matrix is empty ({rows} samples x {cols} detectors); need at least one of each"
    )]
    Empty { rows: usize, cols: usize },

    #[error("score of sample {row}, detector {col} is {value}, expected a finite number")]
    NonFinite { row: usize, col: usize, value: f64 },

    #[error("{method} with {n_buckets} buckets cannot split {n_detectors} detectors evenly; valid bucket counts: {valid}")]
    InvalidBuckets {
        method: &'static str,
        n_buckets: usize,
        n_detectors: usize,
        valid: String,
    },

    #[error("unknown {kind} \"{given}\"; expected one of: {expected}")]
    UnknownMethod {
        kind: &'static str,
        given: String,
        expected: &'static str,
    },

    #[error("\"{given}\": the bucket count must be a whole number >= 2, e.g. aom:5")]
    BadBucketCount { given: String },
}

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

/// How to put one detector's scores on a common scale. Each keeps "higher = more anomalous".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Normalization {
    /// (x − mean) / std with the population std, as PyOD's `standardizer` (sklearn's
    /// `StandardScaler`). Constant scores become all zeros.
    #[serde(rename = "zscore")]
    ZScore,
    /// (x − min) / (max − min) into [0, 1]. Constant scores become all zeros.
    #[serde(rename = "minmax")]
    MinMax,
    /// Average rank / n, into (0, 1]: only the order counts, so one extreme score cannot
    /// dominate a combination. Ties share their average rank.
    #[serde(rename = "rank")]
    Rank,
}

impl Normalization {
    pub const NAMES: &'static str = "zscore, minmax, rank";

    /// Normalises one detector's scores; see [`normalize`].
    pub fn apply(self, scores: &[f64]) -> Vec<f64> {
        normalize(scores, self)
    }
}

impl fmt::Display for Normalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Normalization::ZScore => "zscore",
            Normalization::MinMax => "minmax",
            Normalization::Rank => "rank",
        })
    }
}

/// Accepts (case-insensitive): `zscore` / `z-score` / `standard`, `minmax` / `min-max`, `rank`.
impl FromStr for Normalization {
    type Err = CombineError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "zscore" | "z-score" | "z_score" | "standard" => Ok(Normalization::ZScore),
            "minmax" | "min-max" | "min_max" => Ok(Normalization::MinMax),
            "rank" => Ok(Normalization::Rank),
            _ => Err(CombineError::UnknownMethod {
                kind: "normalization",
                given: text.trim().to_string(),
                expected: Normalization::NAMES,
            }),
        }
    }
}

/// Normalises one detector's scores. Never panics; it does not validate: non-finite input
/// gives non-finite output (use [`normalize_columns`] for a checked version). Empty in, empty
/// out.
pub fn normalize(scores: &[f64], method: Normalization) -> Vec<f64> {
    let n = scores.len();
    if n == 0 {
        return Vec::new();
    }
    let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match method {
        // Checking min == max first keeps rounding in the mean from turning a constant column
        // into tiny noise blown up by a tiny std.
        Normalization::ZScore | Normalization::MinMax if min == max => vec![0.0; n],
        Normalization::ZScore => {
            let mean = scores.iter().sum::<f64>() / n as f64;
            let variance = scores.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / n as f64;
            let std = variance.sqrt();
            scores.iter().map(|s| (s - mean) / std).collect()
        }
        Normalization::MinMax => scores.iter().map(|s| (s - min) / (max - min)).collect(),
        Normalization::Rank => average_ranks(scores)
            .into_iter()
            .map(|r| r / n as f64)
            .collect(),
    }
}

/// Normalises every column (detector) of an n_samples × n_detectors matrix, after checking
/// that it is non-empty and finite.
pub fn normalize_columns(
    scores: ArrayView2<f64>,
    method: Normalization,
) -> Result<Array2<f64>, CombineError> {
    check_matrix(scores)?;
    let mut out = Array2::<f64>::zeros(scores.raw_dim());
    for (column, mut target) in scores.axis_iter(Axis(1)).zip(out.axis_iter_mut(Axis(1))) {
        let normalized = normalize(&column.to_vec(), method);
        for (t, v) in target.iter_mut().zip(normalized) {
            *t = v;
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Combination
// ---------------------------------------------------------------------------------------------

/// How to merge the detectors' (normalised) scores of one sample into one score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combination {
    /// Mean over detectors (PyOD `average`): stable, but one weak detector dilutes a signal.
    Average,
    /// Max over detectors (PyOD `maximization`): keeps any detector's alarm, noise included.
    Maximum,
    /// Median over detectors (PyOD `median`); with an even count, the mean of the middle two.
    Median,
    /// Average of Maximum (Aggarwal & Sathe 2015): max within each bucket of detectors, then
    /// the mean of the bucket maxima. Between `Average` and `Maximum` in bias and variance.
    Aom { n_buckets: usize },
    /// Maximum of Average: mean within each bucket, then the max of the bucket means.
    Moa { n_buckets: usize },
}

impl Combination {
    pub const NAMES: &'static str = "average, max, median, aom[:BUCKETS], moa[:BUCKETS]";
    /// PyOD's default bucket count for aom and moa.
    pub const DEFAULT_BUCKETS: usize = 5;
}

impl fmt::Display for Combination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Combination::Average => f.write_str("average"),
            Combination::Maximum => f.write_str("max"),
            Combination::Median => f.write_str("median"),
            Combination::Aom { n_buckets } => write!(f, "aom:{n_buckets}"),
            Combination::Moa { n_buckets } => write!(f, "moa:{n_buckets}"),
        }
    }
}

/// Accepts (case-insensitive): `average` / `avg` / `mean`, `max` / `maximum` / `maximization`,
/// `median`, `aom` / `moa` optionally followed by `:N` or `=N` buckets (default 5, as PyOD).
/// Whether N fits the number of detectors is checked by [`combine`].
impl FromStr for Combination {
    type Err = CombineError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        let (name, buckets) = match lower.split_once([':', '=']) {
            Some((name, buckets)) => (name.trim(), Some(buckets.trim())),
            None => (lower.as_str(), None),
        };
        let n_buckets = || -> Result<usize, CombineError> {
            match buckets {
                None => Ok(Combination::DEFAULT_BUCKETS),
                Some(b) => match b.parse::<usize>() {
                    Ok(n) if n >= 2 => Ok(n),
                    _ => Err(CombineError::BadBucketCount {
                        given: text.trim().to_string(),
                    }),
                },
            }
        };
        let plain = |c: Combination| match buckets {
            None => Ok(c),
            Some(_) => Err(CombineError::UnknownMethod {
                kind: "combination",
                given: text.trim().to_string(),
                expected: Combination::NAMES,
            }),
        };
        match name {
            "average" | "avg" | "mean" => plain(Combination::Average),
            "max" | "maximum" | "maximization" => plain(Combination::Maximum),
            "median" => plain(Combination::Median),
            "aom" => Ok(Combination::Aom {
                n_buckets: n_buckets()?,
            }),
            "moa" => Ok(Combination::Moa {
                n_buckets: n_buckets()?,
            }),
            _ => Err(CombineError::UnknownMethod {
                kind: "combination",
                given: text.trim().to_string(),
                expected: Combination::NAMES,
            }),
        }
    }
}

/// Merges an n_samples × n_detectors score matrix into one score per sample.
///
/// `seed` only matters for `Aom` and `Moa`, which split the detectors into `n_buckets` equal
/// buckets as PyOD's static, no-bootstrap mode does (so 2 <= n_buckets <= n_detectors and
/// n_buckets must divide n_detectors, else an error listing the valid counts). PyOD shuffles
/// the detectors with NumPy's RNG first; here `None` keeps detector order (contiguous buckets,
/// fully reproducible) and `Some(seed)` shuffles with a seeded Fisher–Yates (splitmix64). The
/// same seed does not give NumPy's permutation: results match PyOD for the same buckets, not
/// for the same seed. See [`buckets`] to show which detectors went together.
pub fn combine(
    scores: ArrayView2<f64>,
    method: Combination,
    seed: Option<u64>,
) -> Result<Array1<f64>, CombineError> {
    check_matrix(scores)?;
    let rows = scores.axis_iter(Axis(0));
    let combined: Array1<f64> = match method {
        Combination::Average => rows.map(|row| row.sum() / row.len() as f64).collect(),
        Combination::Maximum => rows.map(|row| row_max(row.iter().copied())).collect(),
        Combination::Median => rows
            .map(|row| {
                let mut values = row.to_vec();
                values.sort_by(f64::total_cmp);
                median_sorted(&values)
            })
            .collect(),
        Combination::Aom { n_buckets } => {
            let groups = buckets_for("aom", scores.ncols(), n_buckets, seed)?;
            rows.map(|row| {
                let maxima = groups.iter().map(|g| row_max(g.iter().map(|&d| row[d])));
                maxima.sum::<f64>() / groups.len() as f64
            })
            .collect()
        }
        Combination::Moa { n_buckets } => {
            let groups = buckets_for("moa", scores.ncols(), n_buckets, seed)?;
            rows.map(|row| {
                let means = groups
                    .iter()
                    .map(|g| g.iter().map(|&d| row[d]).sum::<f64>() / g.len() as f64);
                row_max(means)
            })
            .collect()
        }
    };
    Ok(combined)
}

/// The detector indices in each bucket that `combine` uses for `Aom`/`Moa` with these
/// arguments, so a report can say which detectors were grouped.
pub fn buckets(
    n_detectors: usize,
    n_buckets: usize,
    seed: Option<u64>,
) -> Result<Vec<Vec<usize>>, CombineError> {
    buckets_for("aom/moa", n_detectors, n_buckets, seed)
}

fn buckets_for(
    method: &'static str,
    n_detectors: usize,
    n_buckets: usize,
    seed: Option<u64>,
) -> Result<Vec<Vec<usize>>, CombineError> {
    if n_buckets < 2 || n_buckets > n_detectors || !n_detectors.is_multiple_of(n_buckets) {
        let valid: Vec<String> = (2..=n_detectors)
            .filter(|b| n_detectors.is_multiple_of(*b))
            .map(|b| b.to_string())
            .collect();
        return Err(CombineError::InvalidBuckets {
            method,
            n_buckets,
            n_detectors,
            valid: if valid.is_empty() {
                "none (needs at least 2 detectors)".to_string()
            } else {
                valid.join(", ")
            },
        });
    }
    let order = match seed {
        None => (0..n_detectors).collect(),
        Some(seed) => permutation(n_detectors, seed),
    };
    let size = n_detectors / n_buckets;
    Ok(order.chunks(size).map(<[usize]>::to_vec).collect())
}

/// A seeded shuffle of 0..n: Fisher–Yates drawing from splitmix64, so it is reproducible on
/// every platform without a random-number crate. Index j is drawn as ⌊u64 · (i + 1) / 2⁶⁴⌋
/// (negligible bias for detector counts).
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = seed;
    for i in (1..n).rev() {
        let j = ((u128::from(splitmix64(&mut state)) * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    order
}

/// Sebastiano Vigna's splitmix64 step.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn row_max(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(f64::NEG_INFINITY, f64::max)
}

fn check_matrix(scores: ArrayView2<f64>) -> Result<(), CombineError> {
    let (rows, cols) = scores.dim();
    if rows == 0 || cols == 0 {
        return Err(CombineError::Empty { rows, cols });
    }
    if let Some(((row, col), &value)) = scores.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(CombineError::NonFinite { row, col, value });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    const TOL: f64 = 1e-12;

    fn close_all(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                (a - e).abs() <= TOL,
                "expected {expected:?}, got {actual:?}"
            );
        }
    }

    /// 5 samples × 6 detectors.
    fn matrix() -> Array2<f64> {
        array![
            [0.1, 0.5, 0.3, 0.9, 0.2, 0.4],
            [1.0, 0.2, 0.8, 0.3, 0.6, 0.7],
            [0.4, 0.4, 0.4, 0.4, 0.4, 0.4],
            [0.9, 0.1, 0.2, 0.8, 0.7, 0.05],
            [0.3, 0.6, 0.9, 0.1, 0.5, 0.2],
        ]
    }

    // ---- normalisation ----

    #[test]
    fn zscore_matches_standard_scaler() {
        let x = [1.0, 2.0, 2.0, 5.0];
        // sklearn.preprocessing.StandardScaler().fit_transform(np.c_[x]).ravel()
        //   -> [-1.0, -0.3333333333333333, -0.3333333333333333, 1.6666666666666667]
        //   (population std 1.5; the sample std would give 1.7320508 and other values)
        close_all(
            &normalize(&x, Normalization::ZScore),
            &[
                -1.0,
                -0.3333333333333333,
                -0.3333333333333333,
                1.6666666666666667,
            ],
        );
    }

    #[test]
    fn minmax_and_rank() {
        let x = [1.0, 2.0, 2.0, 5.0];
        // (x - x.min()) / (x.max() - x.min()) -> [0, 0.25, 0.25, 1]
        close_all(
            &normalize(&x, Normalization::MinMax),
            &[0.0, 0.25, 0.25, 1.0],
        );
        // scipy.stats.rankdata(x) / 4 -> [0.25, 0.625, 0.625, 1.0]
        close_all(
            &normalize(&x, Normalization::Rank),
            &[0.25, 0.625, 0.625, 1.0],
        );
    }

    #[test]
    fn constant_and_empty_inputs_normalise_safely() {
        let c = [0.1; 3];
        assert_eq!(normalize(&c, Normalization::ZScore), vec![0.0; 3]);
        assert_eq!(normalize(&c, Normalization::MinMax), vec![0.0; 3]);
        // rankdata([0.1] * 3) / 3 -> [2/3] * 3
        close_all(&normalize(&c, Normalization::Rank), &[2.0 / 3.0; 3]);
        assert!(normalize(&[], Normalization::ZScore).is_empty());
    }

    #[test]
    fn normalize_columns_works_per_detector_and_validates() {
        let m = array![[1.0, 10.0], [2.0, 10.0], [3.0, 10.0]];
        let n = normalize_columns(m.view(), Normalization::MinMax).unwrap();
        assert_eq!(n, array![[0.0, 0.0], [0.5, 0.0], [1.0, 0.0]]);
        let bad = array![[1.0, 2.0], [f64::NAN, 3.0]];
        assert!(matches!(
            normalize_columns(bad.view(), Normalization::Rank),
            Err(CombineError::NonFinite { row: 1, col: 0, .. })
        ));
    }

    // ---- combination ----

    #[test]
    fn average_maximum_median_match_pyod() {
        let m = matrix();
        // pyod.models.combination.average(m)
        let avg = combine(m.view(), Combination::Average, None).unwrap();
        close_all(
            avg.as_slice().unwrap(),
            &[
                0.39999999999999997,
                0.6,
                0.39999999999999997,
                0.4583333333333333,
                0.43333333333333335,
            ],
        );
        // pyod.models.combination.maximization(m)
        let max = combine(m.view(), Combination::Maximum, None).unwrap();
        close_all(max.as_slice().unwrap(), &[0.9, 1.0, 0.4, 0.9, 0.9]);
        // pyod.models.combination.median(m)  (6 detectors: mean of the middle two)
        let med = combine(m.view(), Combination::Median, None).unwrap();
        close_all(
            med.as_slice().unwrap(),
            &[0.35, 0.6499999999999999, 0.4, 0.44999999999999996, 0.4],
        );
    }

    #[test]
    fn aom_moa_match_pyod_for_the_same_buckets() {
        let m = matrix();
        // PyOD shuffles detectors first: p = sklearn.utils.shuffle(list(range(6)), random_state=0)
        // -> [5, 2, 1, 3, 0, 4]. So pyod's aom(m, 3, random_state=0) must equal our
        // unshuffled (seed None) aom on the columns reordered by p.
        let p = [5, 2, 1, 3, 0, 4];
        let reordered = m.select(Axis(1), &p);
        // pyod.models.combination.aom(m, n_buckets=3, random_state=0)
        let aom = combine(reordered.view(), Combination::Aom { n_buckets: 3 }, None).unwrap();
        close_all(
            aom.as_slice().unwrap(),
            &[
                0.5,
                0.7000000000000001,
                0.4000000000000001,
                0.6333333333333333,
                0.6666666666666666,
            ],
        );
        // pyod.models.combination.moa(m, n_buckets=3, random_state=0)
        let moa = combine(reordered.view(), Combination::Moa { n_buckets: 3 }, None).unwrap();
        close_all(moa.as_slice().unwrap(), &[0.7, 0.8, 0.4, 0.8, 0.55]);
        // pyod.models.combination.aom(m, n_buckets=2, random_state=0)
        let aom2 = combine(reordered.view(), Combination::Aom { n_buckets: 2 }, None).unwrap();
        close_all(aom2.as_slice().unwrap(), &[0.7, 0.9, 0.4, 0.55, 0.7]);
    }

    #[test]
    fn seeded_buckets_follow_the_splitmix_permutation() {
        // Reference: the same splitmix64 + Fisher–Yates written in Python (64-bit masked
        // arithmetic, j = (next() * (i + 1)) >> 64) gives perm(6, 1) -> [2, 0, 1, 4, 5, 3]
        // and perm(9, 7) -> [4, 5, 1, 7, 2, 8, 6, 0, 3].
        assert_eq!(permutation(6, 1), vec![2, 0, 1, 4, 5, 3]);
        assert_eq!(permutation(9, 7), vec![4, 5, 1, 7, 2, 8, 6, 0, 3]);
        assert_eq!(
            buckets(6, 3, Some(1)).unwrap(),
            vec![vec![2, 0], vec![1, 4], vec![5, 3]]
        );
        // np.mean([m[:, g].max(axis=1) for g in buckets], axis=0)
        let aom = combine(matrix().view(), Combination::Aom { n_buckets: 3 }, Some(1)).unwrap();
        close_all(
            aom.as_slice().unwrap(),
            &[
                0.5666666666666668,
                0.7666666666666666,
                0.4000000000000001,
                0.8000000000000002,
                0.5666666666666667,
            ],
        );
        // np.max([m[:, g].mean(axis=1) for g in buckets], axis=0)
        let moa = combine(matrix().view(), Combination::Moa { n_buckets: 3 }, Some(1)).unwrap();
        close_all(moa.as_slice().unwrap(), &[0.65, 0.9, 0.4, 0.55, 0.6]);
        let mut sorted = permutation(9, 7);
        sorted.sort_unstable();
        assert_eq!(sorted, (0..9).collect::<Vec<_>>());
    }

    #[test]
    fn unseeded_buckets_are_contiguous() {
        assert_eq!(
            buckets(6, 2, None).unwrap(),
            vec![vec![0, 1, 2], vec![3, 4, 5]]
        );
        // buckets [0, 1], [2, 3], [4, 5]: np.mean([m[:, g].max(axis=1) for g in b], axis=0)
        let aom = combine(matrix().view(), Combination::Aom { n_buckets: 3 }, None).unwrap();
        close_all(
            aom.as_slice().unwrap(),
            &[
                0.6,
                0.8333333333333334,
                0.4000000000000001,
                0.8000000000000002,
                0.6666666666666666,
            ],
        );
    }

    #[test]
    fn aom_with_one_detector_per_bucket_is_average_and_moa_is_max() {
        let m = matrix();
        let aom = combine(m.view(), Combination::Aom { n_buckets: 6 }, Some(3)).unwrap();
        let avg = combine(m.view(), Combination::Average, None).unwrap();
        close_all(aom.as_slice().unwrap(), avg.as_slice().unwrap());
        let moa = combine(m.view(), Combination::Moa { n_buckets: 6 }, None).unwrap();
        let max = combine(m.view(), Combination::Maximum, None).unwrap();
        close_all(moa.as_slice().unwrap(), max.as_slice().unwrap());
    }

    #[test]
    fn invalid_buckets_list_the_valid_counts() {
        let m = matrix();
        let err = combine(m.view(), Combination::Aom { n_buckets: 4 }, None).unwrap_err();
        assert_eq!(
            err,
            CombineError::InvalidBuckets {
                method: "aom",
                n_buckets: 4,
                n_detectors: 6,
                valid: "2, 3, 6".to_string()
            }
        );
        assert!(err.to_string().contains("valid bucket counts: 2, 3, 6"));
        assert!(combine(m.view(), Combination::Moa { n_buckets: 1 }, None).is_err());
        assert!(combine(m.view(), Combination::Moa { n_buckets: 12 }, None).is_err());
        let one = array![[1.0], [2.0]];
        let err = combine(one.view(), Combination::Moa { n_buckets: 2 }, None).unwrap_err();
        assert!(err.to_string().contains("none"), "{err}");
    }

    #[test]
    fn bad_matrices_are_errors() {
        let empty = Array2::<f64>::zeros((0, 3));
        assert_eq!(
            combine(empty.view(), Combination::Average, None),
            Err(CombineError::Empty { rows: 0, cols: 3 })
        );
        let no_detectors = Array2::<f64>::zeros((4, 0));
        assert!(matches!(
            combine(no_detectors.view(), Combination::Maximum, None),
            Err(CombineError::Empty { rows: 4, cols: 0 })
        ));
        let inf = array![[1.0, f64::INFINITY]];
        assert!(matches!(
            combine(inf.view(), Combination::Median, None),
            Err(CombineError::NonFinite { row: 0, col: 1, .. })
        ));
    }

    #[test]
    fn parse_and_display() {
        assert_eq!("average".parse(), Ok(Combination::Average));
        assert_eq!("MEAN".parse(), Ok(Combination::Average));
        assert_eq!("max".parse(), Ok(Combination::Maximum));
        assert_eq!("median".parse(), Ok(Combination::Median));
        assert_eq!("aom".parse(), Ok(Combination::Aom { n_buckets: 5 }));
        assert_eq!("moa:3".parse(), Ok(Combination::Moa { n_buckets: 3 }));
        assert_eq!("aom = 2".parse(), Ok(Combination::Aom { n_buckets: 2 }));
        assert!(matches!(
            "aom:1".parse::<Combination>(),
            Err(CombineError::BadBucketCount { .. })
        ));
        assert!(matches!(
            "average:3".parse::<Combination>(),
            Err(CombineError::UnknownMethod { .. })
        ));
        let err = "vote".parse::<Combination>().unwrap_err().to_string();
        assert!(err.contains("vote") && err.contains("aom"), "{err}");
        for c in [
            Combination::Average,
            Combination::Maximum,
            Combination::Median,
            Combination::Aom { n_buckets: 3 },
            Combination::Moa { n_buckets: 2 },
        ] {
            assert_eq!(c.to_string().parse(), Ok(c));
        }
        assert_eq!("minmax".parse(), Ok(Normalization::MinMax));
        assert_eq!("Z-Score".parse(), Ok(Normalization::ZScore));
        assert_eq!("rank".parse(), Ok(Normalization::Rank));
        assert!("log"
            .parse::<Normalization>()
            .unwrap_err()
            .to_string()
            .contains("minmax"));
        for n in [
            Normalization::ZScore,
            Normalization::MinMax,
            Normalization::Rank,
        ] {
            assert_eq!(n.to_string().parse(), Ok(n));
        }
    }

    #[test]
    fn serde_names() {
        assert_eq!(
            serde_json::to_string(&Normalization::ZScore).unwrap(),
            "\"zscore\""
        );
        assert_eq!(
            serde_json::to_string(&Combination::Aom { n_buckets: 3 }).unwrap(),
            "{\"aom\":{\"n_buckets\":3}}"
        );
        assert_eq!(
            serde_json::to_string(&Combination::Maximum).unwrap(),
            "\"maximum\""
        );
    }
}

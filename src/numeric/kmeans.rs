//! k-means as scikit-learn's `KMeans(n_clusters=k, n_init=1)` runs it: greedy k-means++
//! seeding (`2 + ⌊ln k⌋` candidates per centre, the one that lowers the potential most kept),
//! then Lloyd iterations (at most 300, tolerance 1e-4 × the mean feature variance), empty
//! clusters moved to the rows farthest from their centres. One implementation for CBLOF's
//! clusters and GMM's k-means starts ([`kmeans`]; GMM's `k-means++` start uses the seeding's
//! row indices from [`kmeans_plusplus_blocked`]).
//!
//! Potentials and cluster sums are summed per block of [`CHUNK`] rows in row order, then over
//! the blocks in block order (the same bits at any thread count); candidates are drawn by
//! walking the block potentials; the Lloyd assignments skip rows settled by Hamerly's bounds
//! (assignments unchanged); new centres are `sum × (1 / count)`. Hot loops have AVX2 copies
//! chosen at run time. Randomness comes from the caller's `ChaCha8Rng`, drawn on one thread.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::jobctx::{DetectResult, JobCtx};

/// Lloyd iterations at most (scikit-learn's `max_iter`).
const MAX_ITER: usize = 300;
/// Rows per block of the blocked sums.
const CHUNK: usize = 256;

/// Squared Euclidean distance, the squares added in feature order from zero.
#[inline]
pub(crate) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        let t = x - y;
        s += t * t;
    }
    s
}

/// Index of the nearest centre (first on ties) and its squared distance.
#[inline]
pub(crate) fn nearest(row: &[f64], centers: &[f64], d: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, center) in centers.chunks(d).enumerate() {
        let s = sq_dist(row, center);
        if s < best.1 {
            best = (c, s);
        }
    }
    best
}

// ---------------------------------------------------------------------------------------------
// Blocked (CBLOF)

/// sklearn `_kmeans_plusplus` (greedy k-means++): returns the initial centres.
///
/// The potentials (sums of each row's squared distance to its nearest centre) are summed
/// per block of [`CHUNK`] rows in row order, then over the blocks in block order: a fixed
/// order, whatever the thread count. Everything per row happens in one parallel pass per
/// step (the trial distances, their minimum with the current one, the blocks' potentials);
/// a sample walks the block potentials and then one block's rows.
pub(crate) fn kmeans_plusplus_blocked(
    x: &[f64],
    d: usize,
    k: usize,
    rng: &mut ChaCha8Rng,
) -> (Vec<f64>, Vec<usize>) {
    let n = x.len() / d;
    // sklearn's count, which stays within MAX_TRIALS for every k the registry allows.
    let n_trials = (2 + (k as f64).ln() as usize).min(MAX_TRIALS);
    let mut centers = Vec::with_capacity(k * d);
    let first = rng.gen_range(0..n);
    centers.extend_from_slice(&x[first * d..(first + 1) * d]);
    let mut chosen = vec![first];
    // closest[i]: squared distance of row i to its nearest centre so far.
    let mut closest = vec![0.0f64; n];
    let mut block_pots: Vec<f64> = closest
        .par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK * d))
        .map(|(out, rows)| {
            let mut pot = 0.0;
            for (o, row) in out.iter_mut().zip(rows.chunks_exact(d)) {
                *o = sq_dist(row, &centers[..d]);
                pot += *o;
            }
            pot
        })
        .collect();
    let mut current_pot: f64 = block_pots.iter().sum();
    let mut trial = vec![0.0f64; n * n_trials];
    for _ in 1..k {
        let candidates: Vec<usize> = (0..n_trials)
            .map(|_| {
                let r = rng.gen::<f64>() * current_pot;
                sample_by_potential(&closest, &block_pots, r)
            })
            .collect();
        // Every candidate in one pass over the rows: trial[i·T + t] = min(closest[i],
        // d(candidate t, row i)), and per block the potential of each candidate.
        let transposed: Vec<f64> = (0..d)
            .flat_map(|f| candidates.iter().map(move |&c| x[c * d + f]))
            .collect();
        let trial_block_pots = match n_trials {
            1 => trial_pass::<1>(x, d, &transposed, &closest, &mut trial),
            2 => trial_pass::<2>(x, d, &transposed, &closest, &mut trial),
            3 => trial_pass::<3>(x, d, &transposed, &closest, &mut trial),
            4 => trial_pass::<4>(x, d, &transposed, &closest, &mut trial),
            5 => trial_pass::<5>(x, d, &transposed, &closest, &mut trial),
            6 => trial_pass::<6>(x, d, &transposed, &closest, &mut trial),
            7 => trial_pass::<7>(x, d, &transposed, &closest, &mut trial),
            _ => trial_pass::<MAX_TRIALS>(x, d, &transposed, &closest, &mut trial),
        };
        let mut pots = vec![0.0f64; n_trials];
        for block in trial_block_pots.chunks_exact(n_trials) {
            for (p, &v) in pots.iter_mut().zip(block) {
                *p += v;
            }
        }
        let mut best = 0;
        for (t, &p) in pots.iter().enumerate() {
            if p < pots[best] {
                best = t;
            }
        }
        current_pot = pots[best];
        for (c, row) in closest.iter_mut().zip(trial.chunks_exact(n_trials)) {
            *c = row[best];
        }
        for (b, block) in block_pots
            .iter_mut()
            .zip(trial_block_pots.chunks_exact(n_trials))
        {
            *b = block[best];
        }
        let c = candidates[best];
        centers.extend_from_slice(&x[c * d..(c + 1) * d]);
        chosen.push(c);
    }
    (centers, chosen)
}

/// scikit-learn's `KMeans(n_clusters=k, n_init=1).fit(x)`: the data centred (for accuracy),
/// greedy k-means++, Lloyd to the tolerance `1e-4 ×` the mean feature variance; the centres
/// shifted back. Returns the centres (row-major) and each row's cluster. CBLOF's clusters and
/// GMM's `init_params="kmeans"` start.
pub(crate) fn kmeans(
    raw: &[f64],
    d: usize,
    k: usize,
    rng: &mut ChaCha8Rng,
    ctx: &JobCtx,
) -> DetectResult<(Vec<f64>, Vec<usize>)> {
    let n = raw.len() / d;
    // sklearn centres the data before clustering (for accuracy) and shifts back after.
    let mut mean = vec![0.0; d];
    for row in raw.chunks(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in mean.iter_mut() {
        *m /= n as f64;
    }
    // One pass: the centred rows and, per column, the sum of squares in row order (the
    // columns' sums advance side by side instead of one strided pass per column).
    let mut centred = vec![0.0; n * d];
    let mut squares = vec![0.0; d];
    for (out, row) in centred.chunks_exact_mut(d).zip(raw.chunks_exact(d)) {
        for (((o, v), m), s) in out.iter_mut().zip(row).zip(&mean).zip(squares.iter_mut()) {
            *o = v - m;
            *s += *o * *o;
        }
    }
    let mut var_sum = 0.0;
    for s in squares {
        var_sum += s / n as f64;
    }
    let tol = var_sum / d as f64 * 1e-4;
    let init = kmeans_plusplus_blocked(&centred, d, k, rng).0;
    let (mut centers, labels) = lloyd_blocked(&centred, d, init, tol, ctx)?;
    for c in centers.chunks_mut(d) {
        for (v, m) in c.iter_mut().zip(&mean) {
            *v += m;
        }
    }
    Ok((centers, labels))
}

/// Candidates per k-means++ step are `2 + ⌊ln k⌋`: at most 8 for k ≤ 2980 (the registry allows
/// 1000).
const MAX_TRIALS: usize = 8;

/// One k-means++ step's pass over the rows for `T` candidates (`transposed[f * T + t]` is
/// feature f of candidate t): `trial[i·T + t] = min(closest[i], d(candidate t, row i))`, and
/// per block of [`CHUNK`] rows each candidate's potential, summed in row order (block b's at
/// `b·T + t`). With `T` fixed the sums stay in registers (through memory, each row's
/// additions would wait for the previous row's stores).
fn trial_pass<const T: usize>(
    x: &[f64],
    d: usize,
    transposed: &[f64],
    closest: &[f64],
    trial: &mut [f64],
) -> Vec<f64> {
    let blocks: Vec<[f64; T]> = trial
        .par_chunks_mut(CHUNK * T)
        .zip(x.par_chunks(CHUNK * d))
        .zip(closest.par_chunks(CHUNK))
        .map(|((out, rows), close)| trial_block::<T>(rows, d, transposed, close, out))
        .collect();
    blocks.into_iter().flatten().collect()
}

/// One block of [`trial_pass`]; also compiled for AVX2 and chosen at run time.
fn trial_block<const T: usize>(
    rows: &[f64],
    d: usize,
    transposed: &[f64],
    close: &[f64],
    out: &mut [f64],
) -> [f64; T] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { trial_block_avx2::<T>(rows, d, transposed, close, out) };
        }
    }
    trial_block_generic::<T>(rows, d, transposed, close, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn trial_block_avx2<const T: usize>(
    rows: &[f64],
    d: usize,
    transposed: &[f64],
    close: &[f64],
    out: &mut [f64],
) -> [f64; T] {
    trial_block_generic::<T>(rows, d, transposed, close, out)
}

#[inline(always)]
fn trial_block_generic<const T: usize>(
    rows: &[f64],
    d: usize,
    transposed: &[f64],
    close: &[f64],
    out: &mut [f64],
) -> [f64; T] {
    let mut pots = [0.0f64; T];
    for ((out, row), &close) in out.chunks_exact_mut(T).zip(rows.chunks_exact(d)).zip(close) {
        // Each candidate's distance is the sequential sum of [`sq_dist`], in feature order.
        let mut acc = [0.0f64; T];
        for (&a, values) in row.iter().zip(transposed.chunks_exact(T)) {
            for (s, &c) in acc.iter_mut().zip(values) {
                let t = a - c;
                *s += t * t;
            }
        }
        for ((o, p), v) in out.iter_mut().zip(pots.iter_mut()).zip(acc) {
            *o = v.min(close);
            *p += *o;
        }
    }
    pots
}

/// The first row where the running potential reaches `r` (numpy's `searchsorted` on the
/// cumulative sum, as sklearn samples): blocks whose potential stays below are skipped whole;
/// the running sum is the blocks' sum so far plus the rows of the block in order. The last
/// row if rounding never gets there.
fn sample_by_potential(closest: &[f64], block_pots: &[f64], r: f64) -> usize {
    let mut before = 0.0;
    for (b, &pot) in block_pots.iter().enumerate() {
        if before + pot >= r {
            let mut running = before;
            for (i, &v) in closest[b * CHUNK..].iter().take(CHUNK).enumerate() {
                running += v;
                if running >= r {
                    return b * CHUNK + i;
                }
            }
        }
        before += pot;
    }
    closest.len() - 1
}

/// Hamerly's bounds (Hamerly 2010) for the Lloyd assignments: per row, an upper bound on the
/// distance to its centre and a lower bound on the distance to every other centre. A row whose
/// upper bound is below both its lower bound and half the gap from its centre to the nearest
/// other centre keeps its centre without computing any distance. Rows near a tie (within a
/// relative margin far above rounding error) are always scanned in full, so the assignments —
/// first nearest centre, as the plain scan — and everything computed from them are unchanged.
struct Bounds {
    upper: Vec<f64>,
    lower: Vec<f64>,
}

/// Relative margin of the bound tests: rounding in the bounds is ~1e-16 per operation.
const BOUND_MARGIN: f64 = 1e-9;

impl Bounds {
    fn new(n: usize) -> Bounds {
        Bounds {
            upper: vec![f64::INFINITY; n],
            lower: vec![0.0; n],
        }
    }
}

/// How far the centres moved since the bounds were last updated (Euclidean, per centre),
/// applied to each row's bounds as the next assignment pass reaches it.
struct Shift {
    per_centre: Vec<f64>,
    /// The largest and second largest shifts, and the centre of the largest: a row's lower
    /// bound drops by the largest shift among the other centres.
    first: f64,
    second: f64,
    first_centre: usize,
}

impl Shift {
    fn new(per_centre: Vec<f64>) -> Shift {
        let (mut first, mut second, mut first_centre) = (0.0f64, 0.0f64, usize::MAX);
        for (c, &s) in per_centre.iter().enumerate() {
            if s > first {
                second = first;
                first = s;
                first_centre = c;
            } else if s > second {
                second = s;
            }
        }
        Shift {
            per_centre,
            first,
            second,
            first_centre,
        }
    }

    /// Per centre, the bound test's inputs for the rows assigned to it (`half_gaps` from
    /// [`half_gaps`]).
    fn centre_bounds(&self, half_gaps: &[f64]) -> Vec<CentreBounds> {
        self.per_centre
            .iter()
            .zip(half_gaps)
            .enumerate()
            .map(|(c, (&moved, &half_gap))| CentreBounds {
                upper_growth: moved,
                lower_drop: if c == self.first_centre {
                    self.second
                } else {
                    self.first
                },
                half_gap,
            })
            .collect()
    }
}

/// What the bound test of a row assigned to one centre needs, in one place: how far its upper
/// bound grows (the centre's move), how far its lower bound drops (the largest move among the
/// other centres), and half the gap from the centre to its nearest other centre.
#[derive(Clone, Copy)]
struct CentreBounds {
    upper_growth: f64,
    lower_drop: f64,
    half_gap: f64,
}

/// Half the distance from each centre to its nearest other centre.
fn half_gaps(centers: &[f64], d: usize) -> Vec<f64> {
    let k = centers.len() / d;
    (0..k)
        .map(|c| {
            let mut best = f64::INFINITY;
            for o in (0..k).filter(|&o| o != c) {
                best = best.min(sq_dist(
                    &centers[c * d..(c + 1) * d],
                    &centers[o * d..(o + 1) * d],
                ));
            }
            0.5 * best.sqrt()
        })
        .collect()
}

/// Rows whose distances to the centres are computed side by side: one AVX2 register of `f64`.
const ROW_LANES: usize = 4;

/// What the assignment of every chunk reads: the centres stored feature-major
/// (`transposed[f * k + c]`) and, once rows have labels, each centre's bound-test inputs.
struct Assignment<'a> {
    d: usize,
    k: usize,
    transposed: &'a [f64],
    /// `None` on the first pass, when no row has a centre yet.
    centre_bounds: Option<&'a [CentreBounds]>,
}

/// The per-cluster sums and counts of one chunk (rows in order), and how many of its rows
/// changed cluster.
type ChunkTotals = (Vec<f64>, Vec<usize>, usize);

impl Assignment<'_> {
    /// Assigns the rows of one chunk (at most [`CHUNK`]); also compiled for AVX2 and chosen at
    /// run time.
    fn chunk(
        &self,
        rows: &[f64],
        labels: &mut [usize],
        uppers: &mut [f64],
        lowers: &mut [f64],
    ) -> ChunkTotals {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { self.chunk_avx2(rows, labels, uppers, lowers) };
            }
        }
        self.chunk_generic(rows, labels, uppers, lowers)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn chunk_avx2(
        &self,
        rows: &[f64],
        labels: &mut [usize],
        uppers: &mut [f64],
        lowers: &mut [f64],
    ) -> ChunkTotals {
        self.chunk_generic(rows, labels, uppers, lowers)
    }

    /// Three passes: loosen every row's bounds and list the rows they cannot settle (without
    /// branching on the test, which is unpredictable); compute the listed rows' distances to
    /// all centres [`ROW_LANES`] rows at a time, the nearest two kept per lane; then the sums,
    /// in row order.
    #[inline(always)]
    fn chunk_generic(
        &self,
        rows: &[f64],
        labels: &mut [usize],
        uppers: &mut [f64],
        lowers: &mut [f64],
    ) -> ChunkTotals {
        let (d, k) = (self.d, self.k);
        let mut unsettled = [0u16; CHUNK];
        let mut n_unsettled = 0;
        match self.centre_bounds {
            // The first pass: no row has a centre yet, so every row is scanned.
            None => {
                for (i, u) in unsettled.iter_mut().enumerate().take(labels.len()) {
                    *u = i as u16;
                }
                n_unsettled = labels.len();
            }
            Some(centre_bounds) => {
                for (i, ((&label, upper), lower)) in labels
                    .iter()
                    .zip(uppers.iter_mut())
                    .zip(lowers.iter_mut())
                    .enumerate()
                {
                    let b = centre_bounds[label];
                    *upper += b.upper_growth;
                    *lower -= b.lower_drop;
                    let m = lower.max(b.half_gap);
                    let settled = *upper < m - BOUND_MARGIN * (*upper + m);
                    unsettled[n_unsettled] = i as u16;
                    n_unsettled += usize::from(!settled);
                }
            }
        }
        let mut changed = 0;
        // The group's rows feature-major: feature f of lane l at `f * ROW_LANES + l`.
        let mut lanes = vec![0.0f64; d * ROW_LANES];
        let mut dists = vec![[0.0f64; ROW_LANES]; k];
        for group in unsettled[..n_unsettled].chunks(ROW_LANES) {
            // A short last group repeats its first row; the extra lanes are dropped.
            for l in 0..ROW_LANES {
                let i = usize::from(*group.get(l).unwrap_or(&group[0]));
                for (f, &v) in rows[i * d..(i + 1) * d].iter().enumerate() {
                    lanes[f * ROW_LANES + l] = v;
                }
            }
            sq_dists_of_lanes(&lanes, self.transposed, k, &mut dists);
            let (best, best_d, second_d) = nearest_two_of_lanes(&dists);
            let (upper, lower) = (best_d.map(f64::sqrt), second_d.map(f64::sqrt));
            for (l, &i) in group.iter().enumerate() {
                let i = usize::from(i);
                changed += usize::from(labels[i] != best[l]);
                labels[i] = best[l];
                uppers[i] = upper[l];
                lowers[i] = lower[l];
            }
        }
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        for (row, &c) in rows.chunks_exact(d).zip(labels.iter()) {
            counts[c] += 1;
            for (s, v) in sums[c * d..(c + 1) * d].iter_mut().zip(row) {
                *s += v;
            }
        }
        (sums, counts, changed)
    }
}

/// Squared distances of [`ROW_LANES`] rows (stored feature-major in `lanes`) to all `k`
/// centres (`transposed[f * k + c]`): `out[c][l]`, each the sequential sum of [`sq_dist`] in
/// feature order, so the same bits as row by row.
#[inline(always)]
fn sq_dists_of_lanes(lanes: &[f64], transposed: &[f64], k: usize, out: &mut [[f64; ROW_LANES]]) {
    let mut first = 0;
    while first < k {
        first += match k - first {
            8.. => sq_dists_of_lanes_to_some::<8>(lanes, transposed, k, first, out),
            4.. => sq_dists_of_lanes_to_some::<4>(lanes, transposed, k, first, out),
            _ => sq_dists_of_lanes_to_some::<1>(lanes, transposed, k, first, out),
        };
    }
}

/// Centres `first..first + C` of [`sq_dists_of_lanes`]; the `C` lane vectors of sums stay in
/// registers across the features.
#[inline(always)]
fn sq_dists_of_lanes_to_some<const C: usize>(
    lanes: &[f64],
    transposed: &[f64],
    k: usize,
    first: usize,
    out: &mut [[f64; ROW_LANES]],
) -> usize {
    let mut acc = [[0.0f64; ROW_LANES]; C];
    for (values, centre_values) in lanes
        .chunks_exact(ROW_LANES)
        .zip(transposed.chunks_exact(k))
    {
        let centre_values: &[f64; C] = centre_values[first..first + C]
            .try_into()
            .expect("C centres");
        for (sums, &c) in acc.iter_mut().zip(centre_values) {
            for (s, &v) in sums.iter_mut().zip(values) {
                let t = v - c;
                *s += t * t;
            }
        }
    }
    out[first..first + C].copy_from_slice(&acc);
    C
}

/// Per lane: the index of the smallest distance (first on ties), the smallest and the second
/// smallest; written with selects, lane by lane alike, so that it vectorises.
#[inline(always)]
fn nearest_two_of_lanes(
    dists: &[[f64; ROW_LANES]],
) -> ([usize; ROW_LANES], [f64; ROW_LANES], [f64; ROW_LANES]) {
    let mut best = [0usize; ROW_LANES];
    let mut best_d = [f64::INFINITY; ROW_LANES];
    let mut second_d = [f64::INFINITY; ROW_LANES];
    for (c, ds) in dists.iter().enumerate() {
        for l in 0..ROW_LANES {
            let s = ds[l];
            let closer = s < best_d[l];
            second_d[l] = if closer {
                best_d[l]
            } else {
                second_d[l].min(s)
            };
            best[l] = if closer { c } else { best[l] };
            best_d[l] = if closer { s } else { best_d[l] };
        }
    }
    (best, best_d, second_d)
}

/// Assigns every row to its nearest centre (first on ties), after loosening its bounds by
/// `shift` (the centres' moves since the bounds were last updated; `None` on the first pass,
/// when no row has a centre yet); returns the per-cluster
/// sums and counts, summed per fixed-size chunk in row order and then in chunk order, and
/// how many rows changed cluster.
fn assign(
    x: &[f64],
    d: usize,
    centers: &[f64],
    labels: &mut [usize],
    bounds: &mut Bounds,
    shift: Option<&Shift>,
) -> (Vec<f64>, Vec<usize>, usize) {
    let k = centers.len() / d;
    let transposed: Vec<f64> = (0..d)
        .flat_map(|f| centers.chunks_exact(d).map(move |c| c[f]))
        .collect();
    let centre_bounds = shift.map(|shift| shift.centre_bounds(&half_gaps(centers, d)));
    let assignment = Assignment {
        d,
        k,
        transposed: &transposed,
        centre_bounds: centre_bounds.as_deref(),
    };
    let partial: Vec<ChunkTotals> = x
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks_mut(CHUNK))
        .zip(bounds.upper.par_chunks_mut(CHUNK))
        .zip(bounds.lower.par_chunks_mut(CHUNK))
        .map(|(((rows, labels), uppers), lowers)| assignment.chunk(rows, labels, uppers, lowers))
        .collect();
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    let mut changed = 0;
    for (s, c, ch) in partial {
        for (a, b) in sums.iter_mut().zip(s) {
            *a += b;
        }
        for (a, b) in counts.iter_mut().zip(c) {
            *a += b;
        }
        changed += ch;
    }
    (sums, counts, changed)
}

/// The new centres: each cluster's mean (its sum times 1 / count, as sklearn), or its old
/// centre if it is empty.
fn means(centers: &[f64], sums: &[f64], counts: &[usize], d: usize) -> Vec<f64> {
    let mut new_centers = centers.to_vec();
    for (c, &count) in counts.iter().enumerate() {
        if count > 0 {
            let w = 1.0 / count as f64;
            for j in 0..d {
                new_centers[c * d + j] = sums[c * d + j] * w;
            }
        }
    }
    new_centers
}

/// sklearn's Lloyd iterations (`_kmeans_single_lloyd`), returning (centres, labels).
pub(crate) fn lloyd_blocked(
    x: &[f64],
    d: usize,
    mut centers: Vec<f64>,
    tol: f64,
    ctx: &JobCtx,
) -> DetectResult<(Vec<f64>, Vec<usize>)> {
    let n = x.len() / d;
    let k = centers.len() / d;
    let mut labels = vec![usize::MAX; n];
    let mut bounds = Bounds::new(n);
    let mut shift: Option<Shift> = None;
    let mut strict = false;
    for _ in 0..MAX_ITER {
        ctx.checkpoint()?;
        let (mut sums, mut counts, changed) =
            assign(x, d, &centers, &mut labels, &mut bounds, shift.as_ref());
        // _relocate_empty_clusters_dense: empty clusters take the rows farthest from their
        // (old) centres.
        let empty: Vec<usize> = (0..k).filter(|&c| counts[c] == 0).collect();
        if !empty.is_empty() {
            let far: Vec<f64> = x
                .par_chunks(d)
                .zip(labels.par_iter())
                .map(|(r, &l)| sq_dist(r, &centers[l * d..(l + 1) * d]))
                .collect();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| far[b].total_cmp(&far[a]).then(a.cmp(&b)));
            for (&c, &row) in empty.iter().zip(&order) {
                let old = labels[row];
                let r = &x[row * d..(row + 1) * d];
                for j in 0..d {
                    sums[old * d + j] -= r[j];
                    sums[c * d + j] = r[j];
                }
                counts[c] = 1;
                counts[old] -= 1;
            }
        }
        let new_centers = means(&centers, &sums, &counts, d);
        let moves: Vec<f64> = (0..k)
            .map(|c| {
                sq_dist(
                    &centers[c * d..(c + 1) * d],
                    &new_centers[c * d..(c + 1) * d],
                )
            })
            .collect();
        let total_shift: f64 = moves.iter().sum();
        shift = Some(Shift::new(moves.iter().map(|m| m.sqrt()).collect()));
        centers = new_centers;
        if changed == 0 {
            strict = true;
            break;
        }
        if total_shift <= tol {
            break;
        }
    }
    if !strict {
        // Labels consistent with the final centres.
        assign(x, d, &centers, &mut labels, &mut bounds, shift.as_ref());
    }
    Ok((centers, labels))
}

// ---------------------------------------------------------------------------------------------
// Sequential (GMM's start)

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn kmeans_separates_blobs() {
        let mut x = Vec::new();
        for c in 0..3 {
            for i in 0..40 {
                x.push(c as f64 * 10.0 + (i % 7) as f64 * 0.1);
                x.push(-(c as f64) * 10.0 + (i % 5) as f64 * 0.1);
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let init = kmeans_plusplus_blocked(&x, 2, 3, &mut rng).0;
        let (_, labels) = lloyd_blocked(&x, 2, init, 1e-9, &JobCtx::default()).unwrap();
        for c in 0..3 {
            let block = &labels[c * 40..(c + 1) * 40];
            assert!(block.iter().all(|&l| l == block[0]));
        }
        assert!(labels[0] != labels[40] && labels[40] != labels[80] && labels[0] != labels[80]);
    }

    /// The plain Lloyd iteration the bounds must reproduce: every row scanned against every
    /// centre each time, sums per chunk in row order.
    fn plain_lloyd(x: &[f64], d: usize, mut centers: Vec<f64>, tol: f64) -> (Vec<f64>, Vec<usize>) {
        let n = x.len() / d;
        let k = centers.len() / d;
        let mut labels = vec![usize::MAX; n];
        let mut labels_old = labels.clone();
        for _ in 0..MAX_ITER {
            let mut sums = vec![0.0; k * d];
            let mut counts = vec![0usize; k];
            for (rows, labs) in x.chunks(CHUNK * d).zip(labels.chunks_mut(CHUNK)) {
                let mut s = vec![0.0; k * d];
                let mut c = vec![0usize; k];
                for (row, lab) in rows.chunks(d).zip(labs.iter_mut()) {
                    *lab = nearest(row, &centers, d).0;
                    c[*lab] += 1;
                    for (a, v) in s[*lab * d..(*lab + 1) * d].iter_mut().zip(row) {
                        *a += v;
                    }
                }
                sums.iter_mut().zip(s).for_each(|(a, b)| *a += b);
                counts.iter_mut().zip(c).for_each(|(a, b)| *a += b);
            }
            let new_centers = means(&centers, &sums, &counts, d);
            let shift: f64 = (0..k)
                .map(|c| {
                    sq_dist(
                        &centers[c * d..(c + 1) * d],
                        &new_centers[c * d..(c + 1) * d],
                    )
                })
                .sum();
            centers = new_centers;
            if labels == labels_old || shift <= tol {
                break;
            }
            labels_old.copy_from_slice(&labels);
        }
        for (row, lab) in x.chunks(d).zip(labels.iter_mut()) {
            *lab = nearest(row, &centers, d).0;
        }
        (centers, labels)
    }

    /// Sampling through the block potentials picks the row numpy's `searchsorted` on the
    /// whole cumulative sum picks (exact here: integer potentials), including zero-potential
    /// rows and blocks, block edges, r = 0 and r = the total.
    #[test]
    fn sampling_by_block_potential_matches_the_cumulative_sum() {
        let n = 3 * CHUNK + 17;
        let closest: Vec<f64> = (0..n)
            .map(|i| {
                if (CHUNK..2 * CHUNK).contains(&i) || i % 7 == 0 {
                    0.0
                } else {
                    (i % 5) as f64
                }
            })
            .collect();
        let block_pots: Vec<f64> = closest.chunks(CHUNK).map(|b| b.iter().sum()).collect();
        let mut cumsum = Vec::with_capacity(n);
        let mut acc = 0.0;
        for v in &closest {
            acc += v;
            cumsum.push(acc);
        }
        let total = acc;
        let mut targets: Vec<f64> = (0..=4 * n)
            .map(|i| i as f64 * total / (4 * n) as f64)
            .collect();
        targets.extend(cumsum.iter().copied());
        for r in targets {
            let expected = cumsum.partition_point(|&c| c < r).min(n - 1);
            assert_eq!(
                sample_by_potential(&closest, &block_pots, r),
                expected,
                "r = {r}"
            );
        }
    }

    #[test]
    fn hamerly_bounds_change_no_assignment() {
        // Overlapping clusters, duplicated rows and rows exactly between two centres: the bound
        // tests must never keep a row whose nearest centre changed, ties included.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for (n, d, k) in [(3000, 3, 8), (1200, 7, 5), (600, 2, 12)] {
            let mut x: Vec<f64> = (0..n * d)
                .map(|i| ((i / d) % 5) as f64 + rng.gen::<f64>() * 1.5)
                .collect();
            for i in 0..n / 10 {
                let (a, b) = (i * 7 % n, (i * 13 + 1) % n);
                for j in 0..d {
                    x[b * d + j] = x[a * d + j]; // duplicates
                }
            }
            for j in 0..d {
                x[j] = 2.5; // a row on a grid of integer-spaced clusters
            }
            let init = kmeans_plusplus_blocked(&x, d, k, &mut ChaCha8Rng::seed_from_u64(5)).0;
            let (centers, labels) =
                lloyd_blocked(&x, d, init.clone(), 1e-12, &JobCtx::default()).unwrap();
            let (plain_centers, plain_labels) = plain_lloyd(&x, d, init, 1e-12);
            assert_eq!(labels, plain_labels, "n={n} d={d} k={k}");
            assert_eq!(
                centers.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                plain_centers
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            );
        }
    }

    /// The seeding's row indices name the rows its centres were copied from (GMM's
    /// `k-means++` start uses the indices, CBLOF the centres).
    #[test]
    fn seeding_indices_name_the_centres_rows() {
        let (n, d, k) = (300, 3, 5);
        let x: Vec<f64> = (0..n * d).map(|i| ((i * 37) % 101) as f64 / 7.0).collect();
        let (centers, chosen) =
            kmeans_plusplus_blocked(&x, d, k, &mut ChaCha8Rng::seed_from_u64(11));
        assert_eq!(chosen.len(), k);
        for (c, &i) in chosen.iter().enumerate() {
            assert_eq!(&centers[c * d..(c + 1) * d], &x[i * d..(i + 1) * d]);
        }
    }
}

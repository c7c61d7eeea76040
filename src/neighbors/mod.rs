//! Exact k-nearest-neighbour search (Euclidean), shared by the neighbour-based detectors.
//!
//! Distances are `sqrt(Σ (x − y)²)` summed in feature order — bit-identical to scikit-learn's
//! kd-tree, which PyOD uses for low-dimensional data. Neighbours are ordered by (distance,
//! index), so results never depend on the thread count. Queries run in parallel over rows.

mod kdtree;

use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

/// Per worker: the k best (distance², index) of each query row in a block, and a distance buffer.
type QueryScratch = (Vec<Vec<(f64, usize)>>, Vec<f64>);

use crate::jobctx::{DetectResult, JobCtx};

/// `k` neighbours per query row, nearest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbors {
    pub distances: Array2<f64>,
    pub indices: Array2<usize>,
}

/// Neighbours of every training row among the *other* rows (PyOD's training-score protocol).
pub fn knn_leave_self_out(x: ArrayView2<f64>, k: usize, ctx: &JobCtx) -> DetectResult<Neighbors> {
    search(x, x, k, true, ctx)
}

/// Neighbours of each query row among all training rows.
pub fn knn_query(
    train: ArrayView2<f64>,
    queries: ArrayView2<f64>,
    k: usize,
    ctx: &JobCtx,
) -> DetectResult<Neighbors> {
    search(train, queries, k, false, ctx)
}

const ROWS_PER_TASK: usize = 64;
const MIN_TREE_ROWS: usize = 256;

/// Whether the kd-tree beats brute force. A kd-tree prunes once there are many more points
/// than its depth can separate, roughly n ≫ 2^(d/2); the constant is measured against the
/// filtered brute force on the shared datasets. Both give the same results.
fn tree_pays_off(rows: usize, dims: usize) -> bool {
    rows >= MIN_TREE_ROWS && rows as f64 >= 2f64.powf(dims as f64 / 2.0 + 10.0)
}

fn search(
    train: ArrayView2<f64>,
    queries: ArrayView2<f64>,
    k: usize,
    leave_self_out: bool,
    ctx: &JobCtx,
) -> DetectResult<Neighbors> {
    let n_queries = queries.nrows();
    let available = train.nrows() - usize::from(leave_self_out);
    assert!(
        k >= 1 && k <= available,
        "k = {k} with {available} candidate rows: validated by callers"
    );
    // Contiguous rows make the inner loop a plain slice loop.
    let train = train.as_standard_layout();
    let queries = queries.as_standard_layout();
    let use_tree = tree_pays_off(train.nrows(), train.ncols());
    let tree = use_tree.then(|| kdtree::KdTree::build(train.view()));
    // Brute force over the training rows themselves: rows stored (and queried) in a spatial
    // order, so that each block of queries can start with the tiles around it and has a tight
    // k-th distance from the first tiles on.
    let spatial_order =
        (!use_tree && leave_self_out).then(|| kdtree::KdTree::far_pair_order(train.view()));
    let brute = (!use_tree).then(|| BruteForce::for_neighbours(train.view(), spatial_order));
    // Training rows are queried in tree order: consecutive queries then walk the same nodes.
    // Results are per query, so the order changes nothing but the cache hits.
    let query_order: Option<&[usize]> = match (&tree, &brute) {
        (Some(t), _) if leave_self_out => Some(t.order()),
        (None, Some(b)) => b.original.as_deref(),
        _ => None,
    };
    let row_at = |pos: usize| query_order.map_or(pos, |order| order[pos]);
    // Results in query-position order, scattered to rows at the end.
    let (found_d2, found_idx) = for_each_query_block(
        n_queries,
        k,
        ROWS_PER_TASK,
        ctx,
        || (Vec::new(), Vec::new()),
        |(bests, scratch): &mut QueryScratch, first, d2_out, idx_out| {
            let rows = d2_out.len() / k;
            bests.resize_with(rows, || Vec::with_capacity(k + 1));
            let bests = &mut bests[..rows];
            match (&tree, &brute) {
                (Some(t), _) => {
                    for (r, best) in bests.iter_mut().enumerate() {
                        let qi = row_at(first + r);
                        let skip = leave_self_out.then_some(qi);
                        let q = queries.row(qi);
                        t.query(
                            q.as_slice().expect("standard layout"),
                            k,
                            skip,
                            best,
                            scratch,
                        );
                    }
                }
                (None, Some(b)) => {
                    let rows_of_chunk: Vec<&[f64]> = (first..first + rows)
                        .map(|pos| {
                            queries
                                .row(row_at(pos))
                                .to_slice()
                                .expect("standard layout")
                        })
                        .collect();
                    b.nearest_block(&rows_of_chunk, first, leave_self_out, k, bests);
                }
                (None, None) => unreachable!("a tree or brute force is always built"),
            }
            for (r, best) in bests.iter().enumerate() {
                for (c, &(d2, j)) in best.iter().enumerate() {
                    d2_out[r * k + c] = d2;
                    idx_out[r * k + c] = j;
                }
            }
        },
    )?;
    let mut distances = Array2::<f64>::zeros((n_queries, k));
    let mut indices = Array2::<usize>::zeros((n_queries, k));
    for pos in 0..n_queries {
        let qi = row_at(pos);
        for c in 0..k {
            distances[[qi, c]] = found_d2[pos * k + c].sqrt();
            indices[[qi, c]] = found_idx[pos * k + c];
        }
    }
    Ok(Neighbors { distances, indices })
}

/// The parallel frame of a k-nearest search: `n_queries · k` results in query-position order,
/// filled by `block(state, first, distances, indices)` for `rows_per_task` consecutive query
/// positions from `first` at a time (`state` from `init`, one per worker), with a cancellation
/// checkpoint and a progress report per block.
pub(crate) fn for_each_query_block<S, I, F>(
    n_queries: usize,
    k: usize,
    rows_per_task: usize,
    ctx: &JobCtx,
    init: I,
    block: F,
) -> DetectResult<(Vec<f64>, Vec<usize>)>
where
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize, &mut [f64], &mut [usize]) + Sync + Send,
{
    let mut found_d2 = vec![0.0f64; n_queries * k];
    let mut found_idx = vec![0usize; n_queries * k];
    let done = std::sync::atomic::AtomicUsize::new(0);
    found_d2
        .par_chunks_mut(rows_per_task * k)
        .zip(found_idx.par_chunks_mut(rows_per_task * k))
        .enumerate()
        .try_for_each_init(init, |state, (chunk, (d2_out, idx_out))| {
            ctx.checkpoint()?;
            block(state, chunk * rows_per_task, d2_out, idx_out);
            let rows = d2_out.len() / k;
            let finished = done.fetch_add(rows, std::sync::atomic::Ordering::Relaxed) + rows;
            ctx.report(finished as f64 / n_queries as f64);
            Ok(())
        })?;
    Ok((found_d2, found_idx))
}

/// Brute-force search with a register-tiled kernel: 4 query rows against 8 training rows at a
/// time, 32 squared distances accumulated side by side, one feature after another. Each
/// distance is still the plain sequential sum `Σ (x_f − q_f)²` in feature order (Rust never
/// fuses the multiply and add), so the results are bit-identical to a row-by-row loop; the
/// tiling only saves loads and stores. On x86-64 the same code is also compiled for AVX2 and
/// chosen at run time.
pub(crate) struct BruteForce {
    n: usize,
    d: usize,
    /// Training rows in tiles of 8, feature-major inside a tile: feature f of row 8t + l at
    /// `(t * d + f) * 8 + l`. The last tile is padded with zeros (ignored by index).
    tiles: Vec<f64>,
    /// The neighbour search's filter (see [`BruteForce::nearest_block`]); `None` when squared
    /// norms could overflow, and the exact kernel scans everything.
    filter: Option<DotFilter>,
    /// Original row index of each stored row, when the rows are stored in another order.
    original: Option<Vec<usize>>,
}

/// Centred training rows for the dot-product filter: `‖q − x‖² = ‖q'‖² + ‖x'‖² − 2 q'·x'`
/// with `x' = x − mean`, one fused multiply-add per feature and pair instead of a subtraction,
/// a multiplication and an addition. Centring keeps the norms, and so the rounding error,
/// at the scale of the data's spread.
///
/// The filter runs in `f32` (eight lanes per vector register instead of four): it only decides
/// which pairs are computed exactly, and its rounding error is part of the bound. A pair can
/// be among the `k` nearest only if `q'·x' − keep·‖x'‖²/2 ≥ (keep·‖q'‖² − limit)/2`, `limit`
/// the current k-th distance and `keep = 1 − slack`: each accumulator starts at the row's
/// `−keep·‖x'‖²/2` and the test is one comparison with a per-query threshold. Values are kept in
/// `f32`'s normal range (see [`f32_safe`]) so that every rounding is relative.
struct DotFilter {
    mean: Vec<f64>,
    /// `1 − filter_slack(d)`.
    keep: f64,
    /// Centred rows in `f32`, [`FILTER_ROWS`] to a tile, feature-major inside a tile: feature
    /// f of row 16t + l at `(t * d + f) * 16 + l`. Padding rows are zeros.
    tiles: Vec<f32>,
    /// `−keep·‖x'‖²/2` per training row; padding rows −∞ (never hopeful once a query has
    /// `k` candidates).
    start: Vec<f32>,
    /// Bounding box of each filter tile's rows (original values), for [`box_gap_bounds`]:
    /// tiles in chunks of [`BOX_LANES`], feature f of chunk c at `(c * d + f) * 2 * BOX_LANES`
    /// (lows of the chunk's tiles) and `+ BOX_LANES` (highs). Tiles past the end have low +∞
    /// and high −∞.
    boxes: Vec<f64>,
}

/// Filter tiles whose box bounds are computed side by side.
const BOX_LANES: usize = 8;

/// Per filter tile, a lower bound on the exact squared distance (as [`tile_row_distances`]
/// computes it) from any query inside the box `[low, high]` to any row of the tile: the
/// per-feature gaps between the two boxes, squared and summed in feature order. Every step
/// rounds monotonically and the exact distance's steps are each at least as large (a
/// difference of a row and a query is at least the gap between their boxes), so the computed
/// bound never exceeds the computed distance: a tile whose bound is above a query's k-th
/// distance offers it nothing, and skipping it changes no result, not even a tie.
#[inline(always)]
fn box_gap_bounds(boxes: &[f64], d: usize, low: &[f64], high: &[f64], out: &mut [f64]) {
    for (chunk, bounds) in boxes
        .chunks_exact(d * 2 * BOX_LANES)
        .zip(out.chunks_mut(BOX_LANES))
    {
        let mut acc = [0.0f64; BOX_LANES];
        for ((tile_box, &lo), &hi) in chunk.chunks_exact(2 * BOX_LANES).zip(low).zip(high) {
            let (tile_low, tile_high) = tile_box.split_at(BOX_LANES);
            for l in 0..BOX_LANES {
                let gap = (tile_low[l] - hi).max(lo - tile_high[l]).max(0.0);
                acc[l] += gap * gap;
            }
        }
        bounds.copy_from_slice(&acc[..bounds.len()]);
    }
}

/// Bound on |filter value − exact distance| as a multiple of `‖q'‖² + ‖x'‖²`: the `f32` part
/// (the two conversions, the `−keep·‖x'‖²/2` start value and d multiply-adds: ≤ (d + 3)·u₃₂·
/// (‖q'‖² + ‖x'‖²) on the accumulator, doubled in the distance), then the centring, norms and
/// the exact sum's own rounding in `f64` (Higham's γ), each with a factor of about two to
/// spare.
fn filter_slack(d: usize) -> f64 {
    let d = d as f64;
    // f32::EPSILON is 2·u₃₂: this is twice 2(d + 5)·u₃₂, and twice the f64 part.
    2.0 * (d + 5.0) * f64::from(f32::EPSILON) + 8.0 * (d + 4.0) * f64::EPSILON
}

/// The filter's per-query threshold `(keep·‖q'‖² − limit)/2`, rounded down to `f32` (with
/// this line's own `f64` rounding allowed for): an accumulator below it cannot be a neighbour.
fn filter_threshold(query_norm: f64, keep: f64, limit: f64) -> f32 {
    if limit == f64::INFINITY {
        return f32::NEG_INFINITY;
    }
    let t = (query_norm * keep - limit) * 0.5;
    let t = t - (query_norm + limit) * 4.0 * f64::EPSILON;
    let rounded = t as f32;
    if f64::from(rounded) > t {
        rounded.next_down()
    } else {
        rounded
    }
}

/// Whether every non-zero value lies where `f32` rounds relatively: magnitudes in
/// [2⁻⁶⁰, 2⁵⁰], so that products are normal (≥ 2⁻¹²⁰) and sums of up to 2²⁷ of them finite.
fn f32_safe(values: &[f64]) -> bool {
    const LOW: f64 = 8.673_617_379_884_035e-19; // 2^-60
    const HIGH: f64 = 1.125_899_906_842_624e15; // 2^50
    values
        .iter()
        .all(|&v| v == 0.0 || (v.abs() >= LOW && v.abs() <= HIGH))
}

/// Training rows per filter tile: two `f32` vector registers.
const FILTER_ROWS: usize = 16;
/// Filter tiles around a block of training rows whose pairs with the block are all computed
/// exactly before the filtered scan (see `BruteForce::seed_from_window`): the block's own
/// four, and a tile more per six neighbours (measured on the shared datasets).
fn seed_tiles(k: usize) -> usize {
    (4 + k / 6).min(MAX_SEED_ROWS / FILTER_ROWS)
}
/// The most rows a seed window holds (its distances and candidates live on the stack).
const MAX_SEED_ROWS: usize = 256;
/// Query rows the filter computes together against each tile: 12 accumulator registers,
/// which with the tile's two and a broadcast fill AVX2's sixteen.
const FILTER_QUERIES: usize = 6;
const TILE_ROWS: usize = 8;
/// Query rows computed together against each tile.
pub(crate) const QUERY_ROWS: usize = 4;

impl BruteForce {
    /// The training rows, tiled, without the neighbour search's filter: for callers that only
    /// want [`BruteForce::squared_distances`].
    pub(crate) fn new(train: ArrayView2<f64>) -> Self {
        let (n, d) = train.dim();
        BruteForce {
            n,
            d,
            tiles: tile_rows(n, d, |j| train.row(j)),
            filter: None,
            original: None,
        }
    }

    /// The training rows with the neighbour search's filter, stored in `order` (a
    /// permutation) when given; neighbours are still reported, and ties still broken, by
    /// original row index. Query row `first + r` of `nearest_block` is then the stored row at
    /// that position.
    fn for_neighbours(train: ArrayView2<f64>, order: Option<Vec<usize>>) -> Self {
        let (n, d) = train.dim();
        let stored = |j: usize| train.row(order.as_ref().map_or(j, |o| o[j]));
        let tiles = tile_rows(n, d, stored);
        let filter = DotFilter::new(n, d, stored);
        BruteForce {
            n,
            d,
            tiles,
            filter,
            original: order,
        }
    }

    /// The original row index of stored row `j`.
    #[inline]
    fn original_index(&self, j: usize) -> usize {
        self.original.as_ref().map_or(j, |order| order[j])
    }

    /// Squared distances (each summed in feature order) of up to 4 query rows to every
    /// training row: `out[r][j]` for query `r` and training row `j`; `out[r]` must hold `n`
    /// values. Kernel sums over all rows (KDE) use this.
    pub(crate) fn squared_distances(&self, queries: &[&[f64]], out: &mut [Vec<f64>]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                unsafe { self.squared_distances_avx2(queries, out) };
                return;
            }
        }
        self.squared_distances_generic(queries, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn squared_distances_avx2(&self, queries: &[&[f64]], out: &mut [Vec<f64>]) {
        self.squared_distances_generic(queries, out);
    }

    #[inline(always)]
    fn squared_distances_generic(&self, queries: &[&[f64]], out: &mut [Vec<f64>]) {
        assert!(!queries.is_empty() && queries.len() <= QUERY_ROWS && out.len() >= queries.len());
        let d = self.d;
        let q: [&[f64]; QUERY_ROWS] =
            std::array::from_fn(|r| &queries.get(r).copied().unwrap_or(queries[0])[..d]);
        for (t, tile) in self.tiles.chunks_exact(d * TILE_ROWS).enumerate() {
            let acc = tile_distances(q, tile, d);
            let first = t * TILE_ROWS;
            let len = TILE_ROWS.min(self.n - first);
            for (row_acc, row_out) in acc.iter().zip(out.iter_mut()).take(queries.len()) {
                row_out[first..first + len].copy_from_slice(&row_acc[..len]);
            }
        }
    }

    /// The `k` nearest training rows of each query row (query `r` is row `first + r` of the
    /// query matrix; with `leave_self_out` the training row of the same index is skipped).
    ///
    /// With the dot-product filter, each pair first gets a cheap estimate of its squared
    /// distance; only pairs whose estimate minus the error bound could beat the current k-th
    /// distance are computed exactly (the same sequential sum as everywhere), so the results
    /// are bit-identical to the exact scan.
    fn nearest_block(
        &self,
        queries: &[&[f64]],
        first: usize,
        leave_self_out: bool,
        k: usize,
        bests: &mut [Vec<(f64, usize)>],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            // With few features the filter's sums are short and AVX-512 gains nothing.
            if self.d >= MIN_AVX512_FEATURES && std::arch::is_x86_feature_detected!("avx512f") {
                let run = || {
                    self.nearest_block_generic::<AVX512>(queries, first, leave_self_out, k, bests)
                };
                // SAFETY: the CPU supports AVX-512F (checked just above).
                return unsafe { crate::numeric::simd::in_avx512(run) };
            }
            if crate::numeric::simd::has_avx2_fma() {
                let run =
                    || self.nearest_block_generic::<AVX2>(queries, first, leave_self_out, k, bests);
                // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                return unsafe { crate::numeric::simd::in_avx2_fma(run) };
            }
        }
        self.nearest_block_generic::<PORTABLE>(queries, first, leave_self_out, k, bests);
    }

    #[inline(always)]
    fn nearest_block_generic<const SIMD: u8>(
        &self,
        queries: &[&[f64]],
        first: usize,
        leave_self_out: bool,
        k: usize,
        bests: &mut [Vec<(f64, usize)>],
    ) {
        match &self.filter {
            Some(filter) => {
                self.nearest_filtered::<SIMD>(filter, queries, first, leave_self_out, k, bests)
            }
            None => self.nearest_exact(queries, first, leave_self_out, k, bests),
        }
    }

    #[inline(always)]
    fn nearest_filtered<const SIMD: u8>(
        &self,
        filter: &DotFilter,
        queries: &[&[f64]],
        first: usize,
        leave_self_out: bool,
        k: usize,
        bests: &mut [Vec<(f64, usize)>],
    ) {
        let d = self.d;
        for best in bests.iter_mut() {
            best.clear();
        }
        let centred: Vec<Vec<f64>> = queries
            .iter()
            .map(|q| {
                q[..d]
                    .iter()
                    .zip(&filter.mean)
                    .map(|(v, m)| v - m)
                    .collect()
            })
            .collect();
        if !centred.iter().all(|q| f32_safe(q)) {
            // A query row outside f32's safe range (new data far from the training data).
            return self.nearest_exact(queries, first, leave_self_out, k, bests);
        }
        let query_norms: Vec<f64> = centred
            .iter()
            .map(|q| q.iter().map(|v| v * v).sum())
            .collect();
        // Query groups interleaved feature-major, as the kernel reads them: feature f of the
        // group's query r at `f * FILTER_QUERIES + r`. A short last group repeats its first
        // row; the extra results are never looked at.
        let groups: Vec<Vec<f32>> = centred
            .chunks(FILTER_QUERIES)
            .map(|group| {
                let mut interleaved = vec![0.0f32; d * FILTER_QUERIES];
                for r in 0..FILTER_QUERIES {
                    let query = group.get(r).unwrap_or(&group[0]);
                    for (f, &v) in query.iter().enumerate() {
                        interleaved[f * FILTER_QUERIES + r] = v as f32;
                    }
                }
                interleaved
            })
            .collect();
        let n_tiles = filter.start.len() / FILTER_ROWS;
        // Training rows queried in storage order start from the window around their own
        // block (see `seed_from_window`); the scan below covers the other tiles.
        let window = if leave_self_out {
            self.seed_from_window(queries, first, k, bests)
        } else {
            0..0
        };
        let mut worst: Vec<f64> = bests
            .iter()
            .map(|best| {
                if best.len() == k {
                    best[k - 1].0
                } else {
                    f64::INFINITY
                }
            })
            .collect();
        // Rows of a short last group never pass (+∞).
        let mut thresholds = vec![f32::INFINITY; groups.len() * FILTER_QUERIES];
        for (qi, &limit) in worst.iter().enumerate() {
            thresholds[qi] = filter_threshold(query_norms[qi], filter.keep, limit);
        }
        // Per group, a lower bound on its distances to each filter tile: a tile whose bound
        // is above every member's k-th distance is skipped.
        let n_bounds = n_tiles.next_multiple_of(BOX_LANES);
        let mut tile_bounds = vec![0.0f64; groups.len() * n_bounds];
        let (mut low, mut high) = (vec![0.0f64; d], vec![0.0f64; d]);
        for (group, bounds) in queries
            .chunks(FILTER_QUERIES)
            .zip(tile_bounds.chunks_exact_mut(n_bounds))
        {
            low.fill(f64::INFINITY);
            high.fill(f64::NEG_INFINITY);
            for q in group {
                for ((lo, hi), &v) in low.iter_mut().zip(high.iter_mut()).zip(&q[..d]) {
                    *lo = lo.min(v);
                    *hi = hi.max(v);
                }
            }
            box_gap_bounds(&filter.boxes, d, &low, &high, bounds);
        }
        let n_exact_tiles = self.tiles.len() / (d * TILE_ROWS);
        // Outward from the window (or from this block's own tiles): with rows in spatial
        // order, the nearest rows come first and the k-th distance is tight early.
        let around = if window.is_empty() {
            let own = (first / FILTER_ROWS).min(n_tiles);
            own..own
        } else {
            window
        };
        for t in tiles_outward_from(around, n_tiles) {
            let tile = &filter.tiles[t * d * FILTER_ROWS..(t + 1) * d * FILTER_ROWS];
            let init: &[f32; FILTER_ROWS] = filter.start[t * FILTER_ROWS..(t + 1) * FILTER_ROWS]
                .try_into()
                .expect("a whole tile");
            for (g, group) in groups.iter().enumerate() {
                let members = FILTER_QUERIES.min(queries.len() - g * FILTER_QUERIES);
                let group_worst = worst[g * FILTER_QUERIES..g * FILTER_QUERIES + members]
                    .iter()
                    .fold(0.0f64, |a, &b| a.max(b));
                if tile_bounds[g * n_bounds + t] > group_worst {
                    continue;
                }
                let group_thresholds: &[f32; FILTER_QUERIES] = thresholds
                    [g * FILTER_QUERIES..(g + 1) * FILTER_QUERIES]
                    .try_into()
                    .expect("a whole group");
                let masks = filter_tile_masks::<SIMD>(group, tile, init, group_thresholds);
                for (r, &mask) in masks.iter().enumerate().take(members) {
                    if mask == 0 {
                        continue;
                    }
                    let qi = g * FILTER_QUERIES + r;
                    let skip = leave_self_out.then_some(first + qi);
                    // Each hopeful half exactly: 8 sums side by side cost about what one
                    // dependent chain of d additions does.
                    for half in 0..FILTER_ROWS / TILE_ROWS {
                        let exact_tile = t * (FILTER_ROWS / TILE_ROWS) + half;
                        let half_mask = (1 << TILE_ROWS) - 1;
                        if exact_tile >= n_exact_tiles
                            || (mask >> (half * TILE_ROWS)) & half_mask == 0
                        {
                            continue;
                        }
                        let exact = tile_row_distances::<SIMD>(
                            &queries[qi][..d],
                            &self.tiles
                                [exact_tile * d * TILE_ROWS..(exact_tile + 1) * d * TILE_ROWS],
                        );
                        self.offer_tile_row(
                            exact_tile,
                            &exact,
                            skip,
                            k,
                            &mut bests[qi],
                            &mut worst[qi],
                        );
                    }
                    thresholds[qi] = filter_threshold(query_norms[qi], filter.keep, worst[qi]);
                }
            }
        }
    }

    /// Fills each query's best list from the filter tiles around the block (queries
    /// `first..` are the stored rows at those positions, so this window holds rows near them
    /// in space) and returns the window's filter tiles. Every pair there is computed exactly,
    /// 4 queries at a time, and the `k` best are chosen by selection, not by insertion one at
    /// a time: the first rows scanned would nearly all be inserted, and each insertion moves
    /// up to `k` entries.
    #[inline(always)]
    fn seed_from_window(
        &self,
        queries: &[&[f64]],
        first: usize,
        k: usize,
        bests: &mut [Vec<(f64, usize)>],
    ) -> std::ops::Range<usize> {
        let d = self.d;
        let n_tiles = self.n.div_ceil(FILTER_ROWS);
        let seed_tiles = seed_tiles(k);
        let block_tiles = first / FILTER_ROWS..(first + queries.len()).div_ceil(FILTER_ROWS);
        let end = (block_tiles.end + seed_tiles.saturating_sub(block_tiles.len()) / 2)
            .max(block_tiles.start + seed_tiles)
            .min(n_tiles);
        let window = end.saturating_sub(seed_tiles)..end;
        let rows = window.start * FILTER_ROWS..(window.end * FILTER_ROWS).min(self.n);
        let exact_tiles = rows.start / TILE_ROWS..rows.end.div_ceil(TILE_ROWS);
        let mut d2s = [[0.0f64; MAX_SEED_ROWS]; QUERY_ROWS];
        let mut candidates = [(0.0f64, 0usize); MAX_SEED_ROWS];
        for (g, group) in queries.chunks(QUERY_ROWS).enumerate() {
            let q: [&[f64]; QUERY_ROWS] =
                std::array::from_fn(|r| &group.get(r).copied().unwrap_or(group[0])[..d]);
            for (w, t) in exact_tiles.clone().enumerate() {
                let tile = &self.tiles[t * d * TILE_ROWS..(t + 1) * d * TILE_ROWS];
                for (out, acc) in d2s.iter_mut().zip(tile_distances(q, tile, d)) {
                    out[w * TILE_ROWS..(w + 1) * TILE_ROWS].copy_from_slice(&acc);
                }
            }
            for (r, row_d2) in d2s.iter().enumerate().take(group.len()) {
                let own = first + g * QUERY_ROWS + r;
                let mut count = 0;
                for (j, &d2) in rows.clone().zip(row_d2) {
                    if j != own {
                        candidates[count] = (d2, self.original_index(j));
                        count += 1;
                    }
                }
                let best = &mut bests[g * QUERY_ROWS + r];
                best.clear();
                append_nearest_by_selection(&mut candidates[..count], k, best);
            }
        }
        window
    }

    /// Offers the exact squared distances of one query to the 8 rows of tile `t` (stored row
    /// `skip` left out, padding rows ignored) and keeps `worst`, the k-th distance, current.
    /// Tiles are not always visited in index order, so an equal distance may still win on the
    /// index: `offer` decides.
    #[inline(always)]
    fn offer_tile_row(
        &self,
        t: usize,
        row_d2: &[f64; TILE_ROWS],
        skip: Option<usize>,
        k: usize,
        best: &mut Vec<(f64, usize)>,
        worst: &mut f64,
    ) {
        // Most rows fail the first test: find those that pass side by side.
        let mut candidates = 0u32;
        for (l, &d2) in row_d2.iter().enumerate() {
            candidates |= u32::from(d2 <= *worst) << l;
        }
        while candidates != 0 {
            let l = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            let (d2, j) = (row_d2[l], t * TILE_ROWS + l);
            if d2 <= *worst && j < self.n && Some(j) != skip {
                offer(best, k, d2, self.original_index(j));
                if best.len() == k {
                    *worst = best[k - 1].0;
                }
            }
        }
    }

    /// Every pair computed exactly (the fallback when the filter's norms could overflow).
    #[inline(always)]
    fn nearest_exact(
        &self,
        queries: &[&[f64]],
        first: usize,
        leave_self_out: bool,
        k: usize,
        bests: &mut [Vec<(f64, usize)>],
    ) {
        let d = self.d;
        for best in bests.iter_mut() {
            best.clear();
        }
        // The current k-th distance per query: most candidates fail this one comparison.
        let mut worst = vec![f64::INFINITY; queries.len()];
        // Training tiles outside, query groups inside: a tile stays in L1 while every query
        // of the block passes over it.
        for (t, tile) in self.tiles.chunks_exact(d * TILE_ROWS).enumerate() {
            for (g, group) in queries.chunks(QUERY_ROWS).enumerate() {
                // A short last group repeats its first row; the extra results are dropped.
                let q: [&[f64]; QUERY_ROWS] =
                    std::array::from_fn(|r| &group.get(r).copied().unwrap_or(group[0])[..d]);
                let acc = tile_distances(q, tile, d);
                for (r, row_acc) in acc.iter().enumerate().take(group.len()) {
                    let qi = g * QUERY_ROWS + r;
                    if !row_acc.iter().any(|&d2| d2 <= worst[qi]) {
                        continue;
                    }
                    let skip = leave_self_out.then_some(first + qi);
                    self.offer_tile_row(t, row_acc, skip, k, &mut bests[qi], &mut worst[qi]);
                }
            }
        }
    }
}

/// Squared distances of 4 query rows to the 8 rows of a tile, each summed over the features in
/// order. Written for the vectoriser: 32 accumulators, one tile column per feature.
#[inline(always)]
fn tile_distances(
    q: [&[f64]; QUERY_ROWS],
    tile: &[f64],
    d: usize,
) -> [[f64; TILE_ROWS]; QUERY_ROWS] {
    let mut a0 = [0.0f64; TILE_ROWS];
    let mut a1 = [0.0f64; TILE_ROWS];
    let mut a2 = [0.0f64; TILE_ROWS];
    let mut a3 = [0.0f64; TILE_ROWS];
    let (q0, q1, q2, q3) = (&q[0][..d], &q[1][..d], &q[2][..d], &q[3][..d]);
    for (f, x) in tile[..d * TILE_ROWS].chunks_exact(TILE_ROWS).enumerate() {
        let (v0, v1, v2, v3) = (q0[f], q1[f], q2[f], q3[f]);
        for l in 0..TILE_ROWS {
            let xl = x[l];
            let (e0, e1, e2, e3) = (xl - v0, xl - v1, xl - v2, xl - v3);
            a0[l] += e0 * e0;
            a1[l] += e1 * e1;
            a2[l] += e2 * e2;
            a3[l] += e3 * e3;
        }
    }
    [a0, a1, a2, a3]
}

impl DotFilter {
    /// `None` when a centred value lies outside `f32`'s safe range ([`f32_safe`]); the
    /// exact kernel then scans everything.
    fn new<'a>(
        n: usize,
        d: usize,
        row: impl Fn(usize) -> ArrayView1<'a, f64> + Sync,
    ) -> Option<DotFilter> {
        if d == 0 {
            return None;
        }
        let mut mean = vec![0.0; d];
        for j in 0..n {
            for (m, v) in mean.iter_mut().zip(row(j)) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        let keep = 1.0 - filter_slack(d);
        let n_tiles = n.div_ceil(FILTER_ROWS);
        let mut tiles = vec![0.0f32; n_tiles * d * FILTER_ROWS];
        let mut start = vec![f32::NEG_INFINITY; n_tiles * FILTER_ROWS];
        // Per tile and feature, the low and high of its rows' original values.
        let mut tile_boxes = vec![0.0f64; n_tiles * d * 2];
        let all_safe = tiles
            .par_chunks_mut(d * FILTER_ROWS)
            .zip(start.par_chunks_mut(FILTER_ROWS))
            .zip(tile_boxes.par_chunks_mut(d * 2))
            .enumerate()
            .with_min_len(16)
            .map(|(t, ((tile, start), tile_box))| {
                for bounds in tile_box.chunks_exact_mut(2) {
                    bounds.copy_from_slice(&[f64::INFINITY, f64::NEG_INFINITY]);
                }
                let mut centred = vec![0.0f64; d];
                for (l, s) in start.iter_mut().enumerate() {
                    let j = t * FILTER_ROWS + l;
                    if j >= n {
                        break;
                    }
                    for (((c, v), m), bounds) in centred
                        .iter_mut()
                        .zip(row(j))
                        .zip(&mean)
                        .zip(tile_box.chunks_exact_mut(2))
                    {
                        *c = v - m;
                        bounds[0] = bounds[0].min(*v);
                        bounds[1] = bounds[1].max(*v);
                    }
                    if !f32_safe(&centred) {
                        return false;
                    }
                    for (f, &c) in centred.iter().enumerate() {
                        tile[f * FILTER_ROWS + l] = c as f32;
                    }
                    let norm: f64 = centred.iter().map(|c| c * c).sum();
                    *s = (-0.5 * keep * norm) as f32;
                }
                true
            })
            .reduce(|| true, |a, b| a && b);
        if !all_safe {
            return None;
        }
        // Gathered side by side for `box_gap_bounds` (a serial pass: 2·d values per tile).
        let mut boxes = vec![0.0f64; n_tiles.div_ceil(BOX_LANES) * d * 2 * BOX_LANES];
        for (c, chunk) in boxes.chunks_exact_mut(d * 2 * BOX_LANES).enumerate() {
            for l in 0..BOX_LANES {
                let t = c * BOX_LANES + l;
                for f in 0..d {
                    let (lo, hi) = if t < n_tiles {
                        (tile_boxes[(t * d + f) * 2], tile_boxes[(t * d + f) * 2 + 1])
                    } else {
                        (f64::INFINITY, f64::NEG_INFINITY)
                    };
                    chunk[f * 2 * BOX_LANES + l] = lo;
                    chunk[f * 2 * BOX_LANES + BOX_LANES + l] = hi;
                }
            }
        }
        Some(DotFilter {
            mean,
            keep,
            tiles,
            start,
            boxes,
        })
    }
}

/// Rows `row(0..n)` in tiles of 8, feature-major inside a tile (see `BruteForce::tiles`),
/// tiles filled in parallel.
fn tile_rows<'a>(
    n: usize,
    d: usize,
    row: impl Fn(usize) -> ArrayView1<'a, f64> + Sync,
) -> Vec<f64> {
    let mut tiles = vec![0.0; n.div_ceil(TILE_ROWS) * d * TILE_ROWS];
    if d == 0 {
        return tiles;
    }
    tiles
        .par_chunks_mut(d * TILE_ROWS)
        .enumerate()
        .with_min_len(32)
        .for_each(|(t, tile)| {
            for l in 0..TILE_ROWS.min(n - t * TILE_ROWS) {
                for (f, &v) in row(t * TILE_ROWS + l).iter().enumerate() {
                    tile[f * TILE_ROWS + l] = v;
                }
            }
        });
    tiles
}

/// Squared distances of one query row to the 8 rows of a tile, each summed in feature order.
#[inline(always)]
fn tile_row_distances<const SIMD: u8>(q: &[f64], tile: &[f64]) -> [f64; TILE_ROWS] {
    #[cfg(target_arch = "x86_64")]
    if SIMD == AVX512 {
        // SAFETY: SIMD is only AVX512 on the AVX-512 path of `nearest_block`.
        return unsafe { avx512::tile_row_distances(q, tile) };
    }
    let mut acc = [0.0f64; TILE_ROWS];
    for (x, &v) in tile.chunks_exact(TILE_ROWS).zip(q) {
        for l in 0..TILE_ROWS {
            let diff = x[l] - v;
            acc[l] += diff * diff;
        }
    }
    acc
}

/// The fewest features for which `nearest_block` takes the AVX-512 path.
const MIN_AVX512_FEATURES: usize = 16;

/// Which filter kernel `nearest_filtered` runs: chosen once per block from the CPU's features
/// (`nearest_block`), a const parameter so that each variant compiles to its own loop.
const PORTABLE: u8 = 0;
const AVX2: u8 = 1;
const AVX512: u8 = 2;

/// The filter's kernel: for each of the group's [`FILTER_QUERIES`] centred query rows
/// (interleaved, see `nearest_filtered`), which of the tile's 16 rows may be neighbours — bit
/// `l` of `masks[r]` set when row `l`'s starting value plus its dot product with query `r`,
/// in `f32`, reaches the query's threshold. One multiply-add per feature and pair (fused on
/// the AVX2 and AVX-512 paths).
#[inline(always)]
fn filter_tile_masks<const SIMD: u8>(
    group: &[f32],
    tile: &[f32],
    init: &[f32; FILTER_ROWS],
    thresholds: &[f32; FILTER_QUERIES],
) -> [u32; FILTER_QUERIES] {
    #[cfg(target_arch = "x86_64")]
    match SIMD {
        // SAFETY: SIMD is only AVX512 on the AVX-512 path of `nearest_block`.
        AVX512 => return unsafe { avx512::filter_tile_masks(group, tile, init, thresholds) },
        // SAFETY: SIMD is only AVX2 on the AVX2 and FMA path of `nearest_block`.
        AVX2 => return unsafe { avx2::filter_tile_masks(group, tile, init, thresholds) },
        _ => {}
    }
    let mut acc = [*init; FILTER_QUERIES];
    for (x, v) in tile
        .chunks_exact(FILTER_ROWS)
        .zip(group.chunks_exact(FILTER_QUERIES))
    {
        for (a, &vr) in acc.iter_mut().zip(v) {
            for l in 0..FILTER_ROWS {
                a[l] += x[l] * vr;
            }
        }
    }
    std::array::from_fn(|r| {
        acc[r].iter().enumerate().fold(0, |mask, (l, &a)| {
            mask | (u32::from(a >= thresholds[r]) << l)
        })
    })
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{FILTER_QUERIES, FILTER_ROWS, TILE_ROWS};
    use std::arch::x86_64::*;

    /// [`super::tile_row_distances`] in one register: the compiler left to itself splits the
    /// 8 lanes into pieces of 1, 4, 1 and 2 once AVX-512 is enabled. The same operations per
    /// lane (difference, square, add; not fused), so the same sums to the bit.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tile_row_distances(q: &[f64], tile: &[f64]) -> [f64; TILE_ROWS] {
        const _: () = assert!(TILE_ROWS == 8);
        let d = q.len();
        assert!(tile.len() >= d * TILE_ROWS);
        let mut acc = _mm512_setzero_pd();
        for (f, &v) in q.iter().enumerate() {
            // SAFETY: feature f < d reads tile[8f..8f + 8], in bounds by the check above.
            let x = unsafe { _mm512_loadu_pd(tile.as_ptr().add(f * TILE_ROWS)) };
            let diff = _mm512_sub_pd(x, _mm512_set1_pd(v));
            acc = _mm512_add_pd(acc, _mm512_mul_pd(diff, diff));
        }
        let mut out = [0.0f64; TILE_ROWS];
        // SAFETY: `out` holds 8 f64.
        unsafe { _mm512_storeu_pd(out.as_mut_ptr(), acc) };
        out
    }

    /// [`super::filter_tile_masks`] with a tile's 16 rows in one register. Even and odd
    /// features go to separate accumulators, 12 in all: with one chain per query, each
    /// feature would wait out the latency of the previous multiply-add. The error bound
    /// (`filter_slack`) holds for any order of the sum.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn filter_tile_masks(
        group: &[f32],
        tile: &[f32],
        init: &[f32; FILTER_ROWS],
        thresholds: &[f32; FILTER_QUERIES],
    ) -> [u32; FILTER_QUERIES] {
        const _: () = assert!(FILTER_ROWS == 16);
        let d = group.len() / FILTER_QUERIES;
        assert!(tile.len() >= d * FILTER_ROWS);
        let (g, x) = (group.as_ptr(), tile.as_ptr());
        // SAFETY (all loads): feature f < d reads group[6f..6f + 6] and tile[16f..16f + 16],
        // in bounds by the lengths checked above.
        let mut even = [unsafe { _mm512_loadu_ps(init.as_ptr()) }; FILTER_QUERIES];
        let mut odd = [_mm512_setzero_ps(); FILTER_QUERIES];
        let mut f = 0;
        while f + 2 <= d {
            let (x0, x1) = unsafe {
                (
                    _mm512_loadu_ps(x.add(f * FILTER_ROWS)),
                    _mm512_loadu_ps(x.add((f + 1) * FILTER_ROWS)),
                )
            };
            for (r, (e, o)) in even.iter_mut().zip(odd.iter_mut()).enumerate() {
                let (v0, v1) = unsafe {
                    (
                        _mm512_set1_ps(*g.add(f * FILTER_QUERIES + r)),
                        _mm512_set1_ps(*g.add((f + 1) * FILTER_QUERIES + r)),
                    )
                };
                *e = _mm512_fmadd_ps(x0, v0, *e);
                *o = _mm512_fmadd_ps(x1, v1, *o);
            }
            f += 2;
        }
        if f < d {
            let x0 = unsafe { _mm512_loadu_ps(x.add(f * FILTER_ROWS)) };
            for (r, e) in even.iter_mut().enumerate() {
                let v0 = unsafe { _mm512_set1_ps(*g.add(f * FILTER_QUERIES + r)) };
                *e = _mm512_fmadd_ps(x0, v0, *e);
            }
        }
        std::array::from_fn(|r| {
            let sum = _mm512_add_ps(even[r], odd[r]);
            u32::from(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(
                sum,
                _mm512_set1_ps(thresholds[r]),
            ))
        })
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{FILTER_QUERIES, FILTER_ROWS};
    use std::arch::x86_64::*;

    /// [`super::filter_tile_masks`] with the 12 accumulators held in registers (the compiler
    /// left to itself splits the 16 lanes into two passes and loads every broadcast twice).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn filter_tile_masks(
        group: &[f32],
        tile: &[f32],
        init: &[f32; FILTER_ROWS],
        thresholds: &[f32; FILTER_QUERIES],
    ) -> [u32; FILTER_QUERIES] {
        const _: () = assert!(FILTER_ROWS == 16 && FILTER_QUERIES == 6);
        let d = group.len() / FILTER_QUERIES;
        assert!(tile.len() >= d * FILTER_ROWS);
        let (g, x) = (group.as_ptr(), tile.as_ptr());
        // SAFETY (all loads): feature f < d reads group[6f..6f + 6] and tile[16f..16f + 16],
        // in bounds by the lengths checked above.
        let start_lo = unsafe { _mm256_loadu_ps(init.as_ptr()) };
        let start_hi = unsafe { _mm256_loadu_ps(init.as_ptr().add(8)) };
        let mut lo = [start_lo; FILTER_QUERIES];
        let mut hi = [start_hi; FILTER_QUERIES];
        for f in 0..d {
            let (x_lo, x_hi) = unsafe {
                (
                    _mm256_loadu_ps(x.add(f * FILTER_ROWS)),
                    _mm256_loadu_ps(x.add(f * FILTER_ROWS + 8)),
                )
            };
            for r in 0..FILTER_QUERIES {
                let v = unsafe { _mm256_broadcast_ss(&*g.add(f * FILTER_QUERIES + r)) };
                lo[r] = _mm256_fmadd_ps(x_lo, v, lo[r]);
                hi[r] = _mm256_fmadd_ps(x_hi, v, hi[r]);
            }
        }
        std::array::from_fn(|r| {
            let t = _mm256_set1_ps(thresholds[r]);
            let pass_lo = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(lo[r], t)) as u32;
            let pass_hi = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(hi[r], t)) as u32;
            pass_lo | (pass_hi << 8)
        })
    }
}

/// Fills `best` with the `k` nearest rows as (squared distance, index), sorted: the plain
/// definition, kept as the oracle the fast paths are tested against.
#[cfg(test)]
fn nearest(
    train: ArrayView2<f64>,
    q: ndarray::ArrayView1<f64>,
    k: usize,
    skip: Option<usize>,
    best: &mut Vec<(f64, usize)>,
) {
    best.clear();
    let q = q.as_slice().expect("standard layout");
    let mut worst = f64::INFINITY;
    for (j, row) in train.outer_iter().enumerate() {
        if Some(j) == skip {
            continue;
        }
        let row = row.as_slice().expect("standard layout");
        let mut d2 = 0.0;
        for (a, b) in row.iter().zip(q) {
            let diff = a - b;
            d2 += diff * diff;
        }
        if best.len() < k || d2 < worst {
            offer(best, k, d2, j);
            if best.len() == k {
                worst = best[k - 1].0;
            }
        }
    }
}

/// The tile indices below `n_tiles` outside `around`, the nearest to it first: the next one
/// after it and the next one before it in turn (measured faster than going on after it and
/// wrapping round).
fn tiles_outward_from(
    around: std::ops::Range<usize>,
    n_tiles: usize,
) -> impl Iterator<Item = usize> {
    let mut after = around.end..n_tiles;
    let mut before = (0..around.start).rev();
    let mut take_after = true;
    std::iter::from_fn(move || {
        let next = if take_after {
            after.next().or_else(|| before.next())
        } else {
            before.next().or_else(|| after.next())
        };
        take_after = !take_after;
        next
    })
}

/// Orders (value, row index) pairs by value, then by index: the neighbour order, and the
/// tie-break that makes every split and selection independent of the visiting order.
fn by_value_then_index(a: &(f64, usize), b: &(f64, usize)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// Appends the `k` nearest of `candidates` (all of them if fewer), sorted by (distance,
/// index), to `best`: what offering them one by one would give, without moving up to `k`
/// entries per insertion.
fn append_nearest_by_selection(
    candidates: &mut [(f64, usize)],
    k: usize,
    best: &mut Vec<(f64, usize)>,
) {
    if candidates.len() > k {
        candidates.select_nth_unstable_by(k - 1, by_value_then_index);
    }
    let kept = k.min(candidates.len());
    let nearest = &mut candidates[..kept];
    nearest.sort_unstable_by(by_value_then_index);
    best.extend_from_slice(nearest);
}

/// Inserts a candidate into the sorted best-`k` list; later indices lose ties, so scanning in
/// any order gives the (distance, index) order.
fn offer(best: &mut Vec<(f64, usize)>, k: usize, d2: f64, j: usize) {
    if best.len() == k && (d2, j) >= best[k - 1] {
        return;
    }
    // Insertion by moving the larger entries up one at a time: k is small, and a call to
    // `memmove` (what `Vec::insert` becomes) costs more than the few moves.
    if best.len() < k {
        best.push((d2, j));
    }
    let mut pos = best.len() - 1;
    while pos > 0 && (d2, j) < best[pos - 1] {
        best[pos] = best[pos - 1];
        pos -= 1;
    }
    best[pos] = (d2, j);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// A deterministic stream of pseudo-random integers (an LCG's upper 31 bits).
    fn lcg(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            state >> 33
        }
    }

    /// Asserts that `found` holds the plain scan's `k` neighbours in `train` (indices and
    /// distances) of every row of `queries`, each left out of its own list when
    /// `leave_self_out`.
    fn assert_matches_plain_scan(
        train: &Array2<f64>,
        queries: &Array2<f64>,
        k: usize,
        leave_self_out: bool,
        found: &Neighbors,
        context: &str,
    ) {
        let mut best = Vec::new();
        for i in 0..queries.nrows() {
            nearest(
                train.view(),
                queries.row(i),
                k,
                leave_self_out.then_some(i),
                &mut best,
            );
            let (d, j): (Vec<f64>, Vec<usize>) = best.iter().map(|&(d2, j)| (d2.sqrt(), j)).unzip();
            assert_eq!(found.indices.row(i).to_vec(), j, "{context} row {i}");
            assert_eq!(found.distances.row(i).to_vec(), d, "{context} row {i}");
        }
    }

    /// The box bound never exceeds a computed distance, and equals it (to the bit) when a
    /// tile row and a query sit at the two boxes' facing corners: a bound any larger, however
    /// slightly, would fail here.
    #[test]
    fn box_bound_is_at_most_the_computed_distance() {
        let mut next = lcg(3);
        // Values with long mantissas and mixed signs, so that the differences round.
        let mut value = || (next() as f64 / 7.0 - 1.5e8) * 1e-7;
        let d = 9;
        let mut tight = 0;
        for case in 0..200 {
            // Odd cases: the query group lies above the tile in every feature (values span
            // about ±15).
            let shift = if case % 2 == 0 {
                0.0
            } else {
                40.0 + value().abs()
            };
            let tile: Vec<Vec<f64>> = (0..TILE_ROWS)
                .map(|_| (0..d).map(|_| value()).collect())
                .collect();
            let mut queries: Vec<Vec<f64>> = (0..FILTER_QUERIES)
                .map(|_| (0..d).map(|_| value() + shift).collect())
                .collect();
            // Query 0 at the group's low corner; tile row 0 at the tile's high corner.
            let tile_low: Vec<f64> = (0..d)
                .map(|f| tile.iter().map(|r| r[f]).fold(f64::INFINITY, f64::min))
                .collect();
            let mut tile_high: Vec<f64> = (0..d)
                .map(|f| tile.iter().map(|r| r[f]).fold(f64::NEG_INFINITY, f64::max))
                .collect();
            let mut tile = tile;
            tile[0].clone_from(&tile_high);
            for f in 0..d {
                queries[0][f] = queries.iter().map(|q| q[f]).fold(f64::INFINITY, f64::min);
                tile_high[f] = tile_high[f].max(tile[0][f]);
            }
            let low: Vec<f64> = (0..d)
                .map(|f| queries.iter().map(|q| q[f]).fold(f64::INFINITY, f64::min))
                .collect();
            let high: Vec<f64> = (0..d)
                .map(|f| {
                    queries
                        .iter()
                        .map(|q| q[f])
                        .fold(f64::NEG_INFINITY, f64::max)
                })
                .collect();
            // One tile in lane 0; the other lanes empty (low +∞, high −∞).
            let mut boxes = vec![0.0; d * 2 * BOX_LANES];
            for f in 0..d {
                let at = f * 2 * BOX_LANES;
                boxes[at..at + BOX_LANES].fill(f64::INFINITY);
                boxes[at + BOX_LANES..at + 2 * BOX_LANES].fill(f64::NEG_INFINITY);
                boxes[at] = tile_low[f];
                boxes[at + BOX_LANES] = tile_high[f];
            }
            let mut bounds = [0.0; BOX_LANES];
            box_gap_bounds(&boxes, d, &low, &high, &mut bounds);
            assert!(
                bounds[1..].iter().all(|b| b.is_infinite()),
                "empty lanes never pass"
            );
            let mut stored = vec![0.0; d * TILE_ROWS];
            for (l, row) in tile.iter().enumerate() {
                for (f, &v) in row.iter().enumerate() {
                    stored[f * TILE_ROWS + l] = v;
                }
            }
            for (r, q) in queries.iter().enumerate() {
                let exact = tile_row_distances::<PORTABLE>(q, &stored);
                for (l, &d2) in exact.iter().enumerate() {
                    assert!(
                        bounds[0] <= d2,
                        "case {case} query {r} row {l}: {} > {d2}",
                        bounds[0]
                    );
                }
                if r == 0 && bounds[0] > 0.0 && bounds[0] == exact[0] {
                    tight += 1;
                }
            }
        }
        // In the shifted cases the corner pair meets the bound exactly.
        assert!(tight >= 100, "only {tight} exact corner cases");
    }

    #[test]
    fn finds_neighbours_leaving_self_out() {
        let x = array![[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [5.0, 5.0]];
        let n = knn_leave_self_out(x.view(), 2, &JobCtx::default()).unwrap();
        assert_eq!(n.indices.row(0).to_vec(), vec![1, 2]);
        assert_eq!(n.distances.row(0).to_vec(), vec![1.0, 2.0]);
        assert_eq!(n.indices.row(3).to_vec(), vec![2, 1]);
        let q = knn_query(x.view(), array![[0.0, 0.1]].view(), 1, &JobCtx::default()).unwrap();
        assert_eq!(q.indices[[0, 0]], 0);
    }

    #[test]
    fn ties_break_by_index() {
        let x = array![[0.0], [1.0], [-1.0], [1.0]];
        let n = knn_leave_self_out(x.view(), 3, &JobCtx::default()).unwrap();
        assert_eq!(n.indices.row(0).to_vec(), vec![1, 2, 3]);
    }

    #[test]
    fn tree_and_brute_force_agree_exactly() {
        // Integer-valued points: many exact distance ties, the hard case for a tree.
        let mut next = lcg(7);
        let x = Array2::from_shape_fn((3000, 3), |_| (next() % 6) as f64);
        assert!(tree_pays_off(3000, 3), "this test is about the tree");
        let with_tree = knn_leave_self_out(x.view(), 7, &JobCtx::default()).unwrap();
        assert_matches_plain_scan(&x, &x, 7, true, &with_tree, "tree");
    }

    #[test]
    fn tree_matches_the_plain_scan_for_large_k_new_rows_and_unsplittable_leaves() {
        // k from 1 to beyond a leaf (the first leaf then holds fewer than k candidates), new
        // rows (nothing left out), and 300 copies of one point: a leaf that cannot be split
        // and is larger than any other, so the first-leaf selection does not apply to it.
        let mut next = lcg(13);
        let mut x = Array2::from_shape_fn((2100, 2), |_| (next() % 40) as f64 * 0.5);
        x.slice_mut(ndarray::s![..300, ..]).fill(3.0);
        assert!(tree_pays_off(2100, 2), "this test is about the tree");
        assert!(kdtree::KdTree::build(x.view()).largest_leaf() > kdtree::LEAF_SIZE);
        let new = Array2::from_shape_fn((25, 2), |_| (next() % 40) as f64 * 0.5 + 0.25);
        let ctx = JobCtx::default();
        for k in [1, 20, 70, 301] {
            let trained = knn_leave_self_out(x.view(), k, &ctx).unwrap();
            let queried = knn_query(x.view(), new.view(), k, &ctx).unwrap();
            assert_matches_plain_scan(&x, &x, k, true, &trained, &format!("k {k}"));
            assert_matches_plain_scan(&x, &new, k, false, &queried, &format!("new k {k}"));
        }
    }

    #[test]
    fn tiles_outward_cover_everything_outside_the_window_once() {
        let order: Vec<usize> = tiles_outward_from(3..5, 9).collect();
        assert_eq!(order, vec![5, 2, 6, 1, 7, 0, 8]);
        let order: Vec<usize> = tiles_outward_from(0..0, 3).collect();
        assert_eq!(order, vec![0, 1, 2]);
        let order: Vec<usize> = tiles_outward_from(2..2, 4).collect();
        assert_eq!(order, vec![2, 1, 3, 0]);
    }

    #[test]
    fn far_pair_order_is_a_permutation_whatever_the_thread_count() {
        // Nodes of 256 rows and more are split in parallel; the order must not depend on it.
        let mut next = lcg(17);
        let x = Array2::from_shape_fn((3000, 12), |_| (next() % 1000) as f64 * 0.01);
        let order = kdtree::KdTree::far_pair_order(x.view());
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..3000).collect::<Vec<_>>());
        let one_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| kdtree::KdTree::far_pair_order(x.view()));
        assert_eq!(order, one_thread);
    }

    #[test]
    fn vectorised_brute_force_is_bit_identical() {
        let mut state = 11u64;
        // 701 rows: a partial last tile (701 % 8) and a partial last query group (61 % 4).
        let x = Array2::from_shape_fn((701, 21), |_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 11) as f64 / (1u64 << 53) as f64 * 3.0 - 1.0
        });
        let fast = knn_leave_self_out(x.view(), 5, &JobCtx::default()).unwrap();
        let mut best = Vec::new();
        for i in 0..701 {
            nearest(x.view(), x.row(i), 5, Some(i), &mut best);
            let (d, j): (Vec<f64>, Vec<usize>) = best.iter().map(|&(d2, j)| (d2.sqrt(), j)).unzip();
            assert_eq!(fast.indices.row(i).to_vec(), j);
            assert_eq!(fast.distances.row(i).to_vec(), d);
        }
    }

    #[test]
    fn filtered_brute_force_is_exact_with_ties_offsets_and_new_rows() {
        // 20 integer features (brute force, many exact ties: the filter must keep every
        // candidate that ties the k-th distance) in two clusters 1e4 apart, so that the
        // centred norms are ~1e9 and the estimate's rounding (~1e-7) is far from zero: only
        // the slack keeps the tied candidates. Queried with the training rows left out and
        // with new rows.
        let mut next = lcg(3);
        let x = Array2::from_shape_fn((603, 20), |(i, _)| {
            (i % 2) as f64 * 1e4 + (next() % 4) as f64
        });
        let queries = Array2::from_shape_fn((37, 20), |(i, _)| {
            (i % 2) as f64 * 1e4 + (next() % 4) as f64 + 0.5
        });
        let ctx = JobCtx::default();
        let trained = knn_leave_self_out(x.view(), 9, &ctx).unwrap();
        let queried = knn_query(x.view(), queries.view(), 9, &ctx).unwrap();
        assert_matches_plain_scan(&x, &x, 9, true, &trained, "training");
        assert_matches_plain_scan(&x, &queries, 9, false, &queried, "new");
    }

    #[test]
    fn few_features_and_k_up_to_n_minus_one_match_the_plain_scan() {
        // Brute force now also serves low-dimensional data of moderate size: 1 to 4
        // features, heavy ties, k from 1 to n − 1, training rows and new rows.
        let mut next = lcg(5);
        let mut value = move || (next() % 5) as f64 * 0.25;
        let ctx = JobCtx::default();
        for d in 1..=4 {
            let n = 150 + 7 * d;
            assert!(!tree_pays_off(n, d));
            let x = Array2::from_shape_fn((n, d), |_| value());
            let new = Array2::from_shape_fn((9, d), |_| value() + 0.1);
            for k in [1, 3, 20, n - 1] {
                let trained = knn_leave_self_out(x.view(), k, &ctx).unwrap();
                let queried = knn_query(x.view(), new.view(), k, &ctx).unwrap();
                let context = format!("d {d} k {k}");
                assert_matches_plain_scan(&x, &x, k, true, &trained, &context);
                assert_matches_plain_scan(&x, &new, k, false, &queried, &context);
            }
        }
    }

    #[test]
    fn every_filter_kernel_this_cpu_has_agrees_with_the_plain_scan() {
        // The portable kernel (other CPUs), AVX2 and AVX-512 where this CPU has them: 23
        // features (an odd count: AVX-512's even/odd split has a last feature on its own),
        // ties, a short last query group.
        let mut next = lcg(11);
        let x = Array2::from_shape_fn((301, 23), |(i, _)| {
            (i % 3) as f64 * 50.0 + (next() % 7) as f64
        });
        let brute = BruteForce::for_neighbours(x.view(), None);
        assert!(brute.filter.is_some());
        let rows: Vec<&[f64]> = (0..29).map(|i| x.row(i).to_slice().unwrap()).collect();
        let mut found = vec![("portable", vec![Vec::new(); 29])];
        brute.nearest_block_generic::<PORTABLE>(&rows, 0, true, 7, &mut found[0].1);
        #[cfg(target_arch = "x86_64")]
        {
            if crate::numeric::simd::has_avx2_fma() {
                let mut out = vec![Vec::new(); 29];
                let run = || brute.nearest_block_generic::<AVX2>(&rows, 0, true, 7, &mut out);
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                unsafe { crate::numeric::simd::in_avx2_fma(run) };
                found.push(("avx2", out));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut out = vec![Vec::new(); 29];
                let run = || brute.nearest_block_generic::<AVX512>(&rows, 0, true, 7, &mut out);
                // SAFETY: the CPU has AVX-512F (checked just above).
                unsafe { crate::numeric::simd::in_avx512(run) };
                found.push(("avx512", out));
            }
        }
        let mut best = Vec::new();
        for (kernel, neighbours) in &found {
            for (i, row) in neighbours.iter().enumerate() {
                nearest(x.view(), x.row(i), 7, Some(i), &mut best);
                assert_eq!(row, &best, "{kernel} kernel, row {i}");
            }
        }
    }

    #[test]
    fn values_outside_the_f32_range_fall_back_to_the_exact_scan() {
        // 18 features (brute force). Training values at 1e16 (beyond 2^50): no filter at all.
        // Training values in range (rows in ± pairs: the mean is exactly 0) but queries
        // 1e-25 from the mean: their block falls back.
        let mut lcg = lcg(9);
        let mut next = move || (lcg() % 1000) as f64;
        let huge = Array2::from_shape_fn((300, 18), |_| 1e16 * (1.0 + next()));
        assert!(BruteForce::for_neighbours(huge.view(), None)
            .filter
            .is_none());
        let half = Array2::from_shape_fn((150, 18), |_| next() + 1.0);
        let plain = Array2::from_shape_fn((300, 18), |(i, f)| {
            half[[i / 2, f]] * if i % 2 == 0 { 1.0 } else { -1.0 }
        });
        let filter = BruteForce::for_neighbours(plain.view(), None)
            .filter
            .expect("in range");
        assert!(filter.mean.iter().all(|&m| m == 0.0));
        let odd_query = Array2::from_shape_fn((3, 18), |(i, f)| 1e-25 * (i + f) as f64);
        assert!(!f32_safe(odd_query.as_slice().unwrap()));
        let ctx = JobCtx::default();
        for (train, queries) in [(&huge, &huge), (&plain, &odd_query)] {
            let found = knn_query(train.view(), queries.view(), 4, &ctx).unwrap();
            assert_matches_plain_scan(train, queries, 4, false, &found, "fallback");
        }
    }

    #[test]
    fn cancellation_stops_the_search() {
        let x = Array2::<f64>::zeros((500, 3));
        let ctx = JobCtx::default();
        ctx.cancel();
        assert!(knn_leave_self_out(x.view(), 3, &ctx).is_err());
    }
}

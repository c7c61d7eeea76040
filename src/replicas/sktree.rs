//! A replica of scikit-learn's `KDTree` (`sklearn/neighbors/_binary_tree.pxi.tp`,
//! `_kd_tree.pyx.tp`, `_partition_nodes.pyx`), leaf size 30 as PyOD constructs it: the same
//! nodes, the same order of points inside each leaf (libstdc++'s `nth_element`), the same bounds
//! and the same k-nearest-neighbour query (depth-first, sklearn's fixed-size max-heap, then sorted
//! by distance); above 15 features, the same brute-force `ArgKmin` heap instead. Exact distance
//! ties come out in scikit-learn's order, which decides PyOD's neighbour lists on data with
//! duplicate rows or integer values; KDE replays its kernel sums over the same tree.
//!
//! Checked against the PyOD reference scores: SOD and ABOD, which depend on these neighbour
//! lists, match bit for bit on all nine reference datasets, and KDE as well.

use std::hint::black_box;

use ndarray::{s, Array2, ArrayView2, Axis};

use crate::jobctx::{DetectResult, JobCtx};
use crate::neighbors::Neighbors;
use crate::numeric::rows::{par_map_rows, Rows};

/// scikit-learn's default leaf size for `NearestNeighbors` and `KernelDensity`, kept by PyOD.
const LEAF_SIZE: usize = 30;

/// `pow` from the C library, as the Cython code calls it with a run-time exponent (glibc's `pow`
/// is not always equal to `x*x` or `sqrt`, so neither may be substituted blindly).
///
/// glibc's `pow` is within 0.54 ulp of the exact power. So wherever the exact square (or
/// square root) is within 0.45 ulp of a double that is not a power of two, that double is the
/// only one `pow` can return, and it is `x*x` (or `sqrt(x)`); only the rare values near a
/// rounding midpoint still call `pow`. The exact residual comes from a fused multiply-add.
#[inline]
pub(crate) fn c_pow(x: f64, y: f64) -> f64 {
    if y == 2.0 {
        let square = x * x;
        let residual = x.mul_add(x, -square);
        if unambiguous(square, residual) {
            return square;
        }
    } else if y == 0.5 && x > 0.0 {
        let root = x.sqrt();
        // x − root² is exact for a correctly rounded root; root + that/(2·root) is the exact
        // root to first order.
        let residual = (-root).mul_add(root, x) / (2.0 * root);
        if unambiguous(root, residual) {
            return root;
        }
    }
    x.powf(black_box(y))
}

/// Whether `value + offset` (the exact result, `offset` tiny) rounds to `value` under any
/// function accurate to 0.54 ulp: `value` is a positive normal double other than a power of
/// two (where the spacing changes), and `offset` is at most 0.45 of its spacing.
#[inline]
fn unambiguous(value: f64, offset: f64) -> bool {
    let bits = value.to_bits();
    let mantissa = bits & ((1u64 << 52) - 1);
    if !(value.is_normal() && value > 0.0) || mantissa == 0 {
        return false;
    }
    let spacing = f64::from_bits(bits + 1) - value;
    offset.abs() <= 0.45 * spacing
}

/// `pow(x, 2.0)` for x ≥ 0, skipping the call for x = 0 (a point inside the node's range along
/// that axis): `pow(+0, 2)` is exactly +0, and adding +0 changes no sum.
#[inline]
fn pow2_or_zero(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        c_pow(x, 2.0)
    }
}

/// scikit-learn's `KDTree` (`_binary_tree.pxi`, `_kd_tree.pyx`): a complete binary tree of
/// `2^levels − 1` nodes, each split at the median of its widest dimension.
pub(crate) struct KdTree {
    pub(crate) idx: Vec<usize>,
    pub(crate) start: Vec<usize>,
    pub(crate) end: Vec<usize>,
    pub(crate) is_leaf: Vec<bool>,
    /// Per node: `d` lower bounds, then `d` upper bounds.
    bounds: Vec<f64>,
    d: usize,
}

impl KdTree {
    pub(crate) fn build(data: ArrayView2<f64>) -> KdTree {
        let (n, d) = data.dim();
        let levels = (((n as f64 - 1.0) / LEAF_SIZE as f64).max(1.0).log2() + 1.0) as u32;
        let n_nodes = (1usize << levels) - 1;
        let mut tree = KdTree {
            idx: (0..n).collect(),
            start: vec![0; n_nodes],
            end: vec![0; n_nodes],
            is_leaf: vec![false; n_nodes],
            bounds: vec![0.0; n_nodes * 2 * d],
            d,
        };
        tree.build_node(data, 0, 0, n);
        tree
    }

    fn build_node(&mut self, data: ArrayView2<f64>, node: usize, start: usize, end: usize) {
        let d = self.d;
        let n_nodes = self.start.len();
        // init_node: the actual range of the node's points.
        let (lower, upper) = self.bounds[node * 2 * d..(node + 1) * 2 * d].split_at_mut(d);
        lower.fill(f64::INFINITY);
        upper.fill(f64::NEG_INFINITY);
        for &i in &self.idx[start..end] {
            for j in 0..d {
                lower[j] = lower[j].min(data[[i, j]]);
                upper[j] = upper[j].max(data[[i, j]]);
            }
        }
        self.start[node] = start;
        self.end[node] = end;
        if 2 * node + 1 >= n_nodes || end - start < 2 {
            self.is_leaf[node] = true;
            return;
        }
        // find_node_split_dim: the first dimension of largest spread.
        let points = &self.idx[start..end];
        let mut split_dim = 0;
        let mut max_spread = 0.0;
        for j in 0..d {
            let mut max_val = data[[points[0], j]];
            let mut min_val = max_val;
            for &i in &points[1..] {
                max_val = max_val.max(data[[i, j]]);
                min_val = min_val.min(data[[i, j]]);
            }
            let spread = max_val - min_val;
            if spread > max_spread {
                max_spread = spread;
                split_dim = j;
            }
        }
        let n_mid = (end - start) / 2;
        let column = data.column(split_dim);
        let less = |a: usize, b: usize| {
            let (va, vb) = (column[a], column[b]);
            if va == vb {
                a < b
            } else {
                va < vb
            }
        };
        nth_element(&mut self.idx[start..end], n_mid, &less);
        self.build_node(data, 2 * node + 1, start, start + n_mid);
        self.build_node(data, 2 * node + 2, start + n_mid, end);
    }

    /// `min_max_dist` (or, for the root, `min_dist`/`max_dist`: the same sums).
    pub(crate) fn min_max_dist(&self, node: usize, pt: &[f64]) -> (f64, f64) {
        let d = self.d;
        let (lower, upper) = self.bounds[node * 2 * d..(node + 1) * 2 * d].split_at(d);
        let (mut min_d, mut max_d) = (0.0, 0.0);
        for j in 0..d {
            let d_lo = lower[j] - pt[j];
            let d_hi = pt[j] - upper[j];
            let dd = (d_lo + d_lo.abs()) + (d_hi + d_hi.abs());
            min_d += pow2_or_zero(0.5 * dd);
            max_d += c_pow(d_lo.abs().max(d_hi.abs()), 2.0);
        }
        (c_pow(min_d, 0.5), c_pow(max_d, 0.5))
    }
}

/// `euclidean_rdist`: the squared distance summed in feature order.
fn rdist(a: &[f64], b: &[f64]) -> f64 {
    let b = &b[..a.len()];
    let mut d = 0.0;
    for j in 0..a.len() {
        let tmp = a[j] - b[j];
        d += tmp * tmp;
    }
    d
}

impl KdTree {
    /// `min_rdist`: the squared distance from `pt` to the node's bounding box.
    fn min_rdist(&self, node: usize, pt: &[f64]) -> f64 {
        let d = self.d;
        let (lower, upper) = self.bounds[node * 2 * d..(node + 1) * 2 * d].split_at(d);
        let mut rdist = 0.0;
        for j in 0..d {
            let d_lo = lower[j] - pt[j];
            let d_hi = pt[j] - upper[j];
            let dd = (d_lo + d_lo.abs()) + (d_hi + d_hi.abs());
            rdist += pow2_or_zero(0.5 * dd);
        }
        rdist
    }

    /// `query(pt, k)` (depth-first, sorted): the k nearest rows as squared distances and
    /// indices, in scikit-learn's order.
    fn query(
        &self,
        data: Rows,
        pt: &[f64],
        values: &mut [f64],
        indices: &mut [usize],
        pairs: &mut Vec<(f64, usize)>,
    ) {
        values.fill(f64::INFINITY);
        indices.fill(0);
        let lb = self.min_rdist(0, pt);
        self.query_depthfirst(data, 0, pt, values, indices, lb);
        sort_heap(values, indices, pairs);
    }

    fn query_depthfirst(
        &self,
        data: Rows,
        node: usize,
        pt: &[f64],
        values: &mut [f64],
        indices: &mut [usize],
        reduced_dist_lb: f64,
    ) {
        if reduced_dist_lb > values[0] {
            // Trimmed: the node is farther than the current k-th neighbour.
        } else if self.is_leaf[node] {
            for &i in &self.idx[self.start[node]..self.end[node]] {
                heap_push(values, indices, rdist(pt, data.get(i)), i);
            }
        } else {
            let (i1, i2) = (2 * node + 1, 2 * node + 2);
            let lb1 = self.min_rdist(i1, pt);
            let lb2 = self.min_rdist(i2, pt);
            if lb1 <= lb2 {
                self.query_depthfirst(data, i1, pt, values, indices, lb1);
                self.query_depthfirst(data, i2, pt, values, indices, lb2);
            } else {
                self.query_depthfirst(data, i2, pt, values, indices, lb2);
                self.query_depthfirst(data, i1, pt, values, indices, lb1);
            }
        }
    }
}

/// `sklearn.utils._heap.heap_push`: a fixed-size max-heap; a value not strictly below the top is
/// rejected.
fn heap_push(values: &mut [f64], indices: &mut [usize], val: f64, val_idx: usize) {
    let size = values.len();
    if val >= values[0] {
        return;
    }
    values[0] = val;
    indices[0] = val_idx;
    let mut current = 0;
    loop {
        let left = 2 * current + 1;
        let right = left + 1;
        let swap = if left >= size {
            break;
        } else if right >= size || values[left] >= values[right] {
            if val < values[left] {
                left
            } else {
                break;
            }
        } else if val < values[right] {
            right
        } else {
            break;
        };
        values[current] = values[swap];
        indices[current] = indices[swap];
        current = swap;
    }
    values[current] = val;
    indices[current] = val_idx;
}

/// Sorts the heap's contents by distance, keeping the heap order among equal distances: that is
/// the order scikit-learn 1.9 returns (checked on every reference dataset with duplicate rows or
/// integer features, where its neighbour lists decide PyOD's ABOD scores bit for bit; the
/// unstable quicksort of older versions does not reproduce them).
fn sort_heap(values: &mut [f64], indices: &mut [usize], pairs: &mut Vec<(f64, usize)>) {
    pairs.clear();
    pairs.extend(values.iter().copied().zip(indices.iter().copied()));
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (t, &(v, i)) in pairs.iter().enumerate() {
        values[t] = v;
        indices[t] = i;
    }
}

/// How scikit-learn searches, which decides the order of exact ties: the algorithm
/// `NearestNeighbors(n_neighbors=k, algorithm='auto')` picks when fitted on n×d data
/// (`sklearn/neighbors/_base.py`: its kd-tree up to 15 features and for k below n // 2, else
/// brute force), and for brute force `ArgKmin`'s strategy with one thread (PyOD's reference pins
/// one): parallel on the training rows ("on Y") unless the queries are more than those rows or
/// more than 4 · chunk size 256.
#[derive(Debug, Clone, Copy)]
struct Strategy {
    kd_tree: bool,
    on_y: bool,
}

impl Strategy {
    fn new(n: usize, d: usize, k: usize, n_queries: usize) -> Strategy {
        Strategy {
            kd_tree: d <= 15 && k < n / 2,
            on_y: !(n < n_queries || 4 * 256 < n_queries),
        }
    }
}

/// `NearestNeighbors(n_neighbors=k).fit(train).kneighbors(queries)`: the k nearest training rows
/// of each query (a query equal to a training row finds it), in scikit-learn's order.
///
/// The shared exact search ([`crate::neighbors`]) finds k + 1 neighbours of every query, ordered
/// by (distance, index). Where those k + 1 distances are all different, scikit-learn's answer is
/// the first k of them whatever its search order; only the rows with a tie go through the
/// replica of its search.
pub(crate) fn kneighbors(
    train: ArrayView2<f64>,
    queries: ArrayView2<f64>,
    k: usize,
    ctx: &JobCtx,
) -> DetectResult<Neighbors> {
    let (n, d) = train.dim();
    let strategy = Strategy::new(n, d, k, queries.nrows());
    if k >= n {
        return search(train, queries, k, strategy, ctx);
    }
    let ahead = crate::neighbors::knn_query(train, queries, k + 1, ctx)?;
    let settled = |i: usize| strictly_increasing(ahead.distances.row(i).as_slice().expect("rows"));
    let mut found = Neighbors {
        distances: ahead.distances.slice(s![.., ..k]).to_owned(),
        indices: ahead.indices.slice(s![.., ..k]).to_owned(),
    };
    replay_ties(train, queries, k, strategy, ctx, settled, &mut found)?;
    Ok(found)
}

/// [`kneighbors`] with the training rows as the queries. Each row then finds itself at distance
/// 0, followed by its k − 1 nearest other rows; from the k nearest *other* rows (the shared
/// search's leave-one-out mode, its fastest) that answer is settled when those k distances are
/// all different and none is 0 (a duplicate row would tie with the row itself).
pub(crate) fn kneighbors_of_training(
    x: ArrayView2<f64>,
    k: usize,
    ctx: &JobCtx,
) -> DetectResult<Neighbors> {
    let (n, d) = x.dim();
    let strategy = Strategy::new(n, d, k, n);
    if k >= n {
        return search(x, x, k, strategy, ctx);
    }
    let others = crate::neighbors::knn_leave_self_out(x, k, ctx)?;
    let settled = |i: usize| {
        let row = others.distances.row(i);
        row[0] > 0.0 && strictly_increasing(row.as_slice().expect("rows"))
    };
    let mut found = Neighbors {
        distances: Array2::zeros((n, k)),
        indices: Array2::zeros((n, k)),
    };
    for i in 0..n {
        found.indices[[i, 0]] = i;
        for c in 1..k {
            found.distances[[i, c]] = others.distances[[i, c - 1]];
            found.indices[[i, c]] = others.indices[[i, c - 1]];
        }
    }
    replay_ties(x, x, k, strategy, ctx, settled, &mut found)?;
    Ok(found)
}

fn strictly_increasing(values: &[f64]) -> bool {
    values.windows(2).all(|w| w[0] < w[1])
}

/// Overwrites the rows of `found` that are not `settled` with scikit-learn's own answer, from
/// the replica of its search run on just those queries (with the strategy of the whole call).
fn replay_ties(
    train: ArrayView2<f64>,
    queries: ArrayView2<f64>,
    k: usize,
    strategy: Strategy,
    ctx: &JobCtx,
    settled: impl Fn(usize) -> bool,
    found: &mut Neighbors,
) -> DetectResult<()> {
    let tied: Vec<usize> = (0..queries.nrows()).filter(|&i| !settled(i)).collect();
    if tied.is_empty() {
        return Ok(());
    }
    let replayed = search(
        train,
        queries.select(Axis(0), &tied).view(),
        k,
        strategy,
        ctx,
    )?;
    for (r, &i) in tied.iter().enumerate() {
        found
            .distances
            .row_mut(i)
            .assign(&replayed.distances.row(r));
        found.indices.row_mut(i).assign(&replayed.indices.row(r));
    }
    Ok(())
}

fn search(
    train: ArrayView2<f64>,
    queries: ArrayView2<f64>,
    k: usize,
    strategy: Strategy,
    ctx: &JobCtx,
) -> DetectResult<Neighbors> {
    let train = train.as_standard_layout();
    let queries = queries.as_standard_layout();
    if !strategy.kd_tree {
        return brute_search(train.view(), queries.view(), k, strategy.on_y, ctx);
    }
    let tree = KdTree::build(train.view());
    let rows = Rows::new(train.view());
    let rows = par_map_rows(
        queries.nrows(),
        ctx,
        || (vec![0.0; k], vec![0usize; k], Vec::with_capacity(k)),
        |(values, indices, pairs), i| {
            let q = queries.row(i);
            let q = q.as_slice().expect("standard layout");
            tree.query(rows, q, values, indices, pairs);
            (values.clone(), indices.clone())
        },
    )?;
    let mut distances = Array2::<f64>::zeros((rows.len(), k));
    let mut idx = Array2::<usize>::zeros((rows.len(), k));
    for (r, (v, ix)) in rows.into_iter().enumerate() {
        for c in 0..k {
            distances[[r, c]] = v[c].sqrt();
            idx[[r, c]] = ix[c];
        }
    }
    Ok(Neighbors {
        distances,
        indices: idx,
    })
}

/// scikit-learn's brute-force `ArgKmin` with one thread: every training row pushed in index
/// order on the same fixed-size heap (strategy "parallel on Y" pushes that heap's entries into
/// a second one first), then sorted. scikit-learn ranks by `‖x‖² − 2x·y + ‖y‖²` from a GEMM,
/// which is exact for integer data; here the squared distance is summed directly, so ties on
/// real-valued data may differ in the last bit.
///
/// The squared distances of 4 query rows at a time come from the shared tiled kernel (each
/// still summed in feature order: the same bits as `rdist`).
fn brute_search(
    train: ArrayView2<f64>,
    queries: ArrayView2<f64>,
    k: usize,
    on_y: bool,
    ctx: &JobCtx,
) -> DetectResult<Neighbors> {
    let n = train.nrows();
    let nq = queries.nrows();
    let kernel = crate::neighbors::BruteForce::new(train);
    let group = crate::neighbors::QUERY_ROWS;
    let (found_d2, found_idx) = crate::neighbors::for_each_query_block(
        nq,
        k,
        group,
        ctx,
        || (vec![vec![0.0; n]; group], Vec::with_capacity(k)),
        |(d2, pairs), first, out_d2, out_idx| {
            let rows = out_d2.len() / k;
            let qs: Vec<&[f64]> = (first..first + rows)
                .map(|i| queries.row(i).to_slice().expect("standard layout"))
                .collect();
            kernel.squared_distances(&qs, d2);
            for r in 0..rows {
                let values = &mut out_d2[r * k..(r + 1) * k];
                let indices = &mut out_idx[r * k..(r + 1) * k];
                values.fill(f64::MAX);
                indices.fill(0);
                for (j, &v) in d2[r].iter().enumerate() {
                    heap_push(values, indices, v, j);
                }
                if on_y {
                    pairs.clear();
                    pairs.extend(values.iter().copied().zip(indices.iter().copied()));
                    values.fill(f64::MAX);
                    indices.fill(0);
                    for &(v, j) in pairs.iter() {
                        heap_push(values, indices, v, j);
                    }
                }
                sort_heap(values, indices, pairs);
            }
        },
    )?;
    let distances = Array2::from_shape_vec((nq, k), found_d2.into_iter().map(f64::sqrt).collect())
        .expect("shape");
    let indices = Array2::from_shape_vec((nq, k), found_idx).expect("shape");
    Ok(Neighbors { distances, indices })
}

/// `NearestNeighbors(n_neighbors=k).fit(x).kneighbors()` (no argument): k + 1 neighbours of every
/// row, then the row itself removed, or the first entry when duplicates crowd it out.
pub(crate) fn kneighbors_leave_self_out(
    x: ArrayView2<f64>,
    k: usize,
    ctx: &JobCtx,
) -> DetectResult<Neighbors> {
    let (n, d) = x.dim();
    // The estimator (n_neighbors = k) chose the algorithm; the query asks for k + 1.
    let with_self = search(x, x, k + 1, Strategy::new(n, d, k, n), ctx)?;
    let mut distances = Array2::<f64>::zeros((n, k));
    let mut indices = Array2::<usize>::zeros((n, k));
    for i in 0..n {
        let row = with_self.indices.row(i);
        let drop = row.iter().position(|&j| j == i).unwrap_or(0);
        let mut c = 0;
        for (t, &j) in row.iter().enumerate() {
            if t != drop {
                distances[[i, c]] = with_self.distances[[i, t]];
                indices[[i, c]] = j;
                c += 1;
            }
        }
    }
    Ok(Neighbors { distances, indices })
}

/// scikit-learn's `NodeHeap`: a binary min-heap on the value, with its own tie behaviour.
pub(crate) fn node_heap_push(heap: &mut Vec<(f64, usize)>, item: (f64, usize)) {
    heap.push(item);
    let mut i = heap.len() - 1;
    while i > 0 {
        let parent = (i - 1) / 2;
        if heap[parent].0 <= heap[i].0 {
            break;
        }
        heap.swap(i, parent);
        i = parent;
    }
}

pub(crate) fn node_heap_pop(heap: &mut Vec<(f64, usize)>) -> (f64, usize) {
    let popped = heap[0];
    let last = heap.pop().expect("non-empty heap");
    let n = heap.len();
    if n == 0 {
        return popped;
    }
    heap[0] = last;
    let mut i = 0;
    while i < n {
        let (c1, c2) = (2 * i + 1, 2 * i + 2);
        let swap = if c2 < n {
            if heap[c1].0 <= heap[c2].0 {
                c1
            } else {
                c2
            }
        } else if c1 < n {
            c1
        } else {
            break;
        };
        if swap > 0 && heap[swap].0 <= heap[i].0 {
            heap.swap(i, swap);
            i = swap;
        } else {
            break;
        }
    }
    popped
}

/// libstdc++'s `std::nth_element` (introselect: median-of-three pivot, unguarded partition,
/// heap select past 2·log2(n) levels, insertion sort below 4 elements). The order it leaves the
/// elements in, not only which side they land on, decides the summation order in the leaves.
fn nth_element(a: &mut [usize], nth: usize, less: &impl Fn(usize, usize) -> bool) {
    let len = a.len();
    if len == 0 || nth == len {
        return;
    }
    let depth_limit = 2 * (usize::BITS - 1 - len.leading_zeros()) as usize;
    introselect(a, nth, depth_limit, less);
}

fn introselect(
    a: &mut [usize],
    nth: usize,
    mut depth_limit: usize,
    less: &impl Fn(usize, usize) -> bool,
) {
    let (mut first, mut last) = (0usize, a.len());
    while last - first > 3 {
        if depth_limit == 0 {
            heap_select(&mut a[first..last], nth + 1 - first, less);
            a.swap(first, nth);
            return;
        }
        depth_limit -= 1;
        let cut = unguarded_partition_pivot(a, first, last, less);
        if cut <= nth {
            first = cut;
        } else {
            last = cut;
        }
    }
    insertion_sort(&mut a[first..last], less);
}

pub(crate) fn unguarded_partition_pivot(
    a: &mut [usize],
    first: usize,
    last: usize,
    less: &impl Fn(usize, usize) -> bool,
) -> usize {
    let mid = first + (last - first) / 2;
    // __move_median_to_first(first, first + 1, mid, last − 1)
    let (x, y, z) = (first + 1, mid, last - 1);
    let median = if less(a[x], a[y]) {
        if less(a[y], a[z]) {
            y
        } else if less(a[x], a[z]) {
            z
        } else {
            x
        }
    } else if less(a[x], a[z]) {
        x
    } else if less(a[y], a[z]) {
        z
    } else {
        y
    };
    a.swap(first, median);
    // __unguarded_partition(first + 1, last, pivot = first)
    let pivot = first;
    let (mut lo, mut hi) = (first + 1, last);
    loop {
        while less(a[lo], a[pivot]) {
            lo += 1;
        }
        hi -= 1;
        while less(a[pivot], a[hi]) {
            hi -= 1;
        }
        if lo >= hi {
            return lo;
        }
        a.swap(lo, hi);
        lo += 1;
    }
}

pub(crate) fn insertion_sort(a: &mut [usize], less: &impl Fn(usize, usize) -> bool) {
    for i in 1..a.len() {
        let val = a[i];
        if less(val, a[0]) {
            a.copy_within(0..i, 1);
            a[0] = val;
        } else {
            let mut j = i;
            while less(val, a[j - 1]) {
                a[j] = a[j - 1];
                j -= 1;
            }
            a[j] = val;
        }
    }
}

/// `std::__heap_select(first, middle, last)`: a max-heap of the first `middle` elements, then
/// every later element smaller than the top replaces it.
fn heap_select(a: &mut [usize], middle: usize, less: &impl Fn(usize, usize) -> bool) {
    make_heap(&mut a[..middle], less);
    for i in middle..a.len() {
        if less(a[i], a[0]) {
            // __pop_heap(first, middle, i)
            let value = a[i];
            a[i] = a[0];
            adjust_heap(&mut a[..middle], 0, value, less);
        }
    }
}

pub(crate) fn make_heap(a: &mut [usize], less: &impl Fn(usize, usize) -> bool) {
    let len = a.len();
    if len < 2 {
        return;
    }
    let mut parent = (len - 2) / 2;
    loop {
        let value = a[parent];
        adjust_heap(a, parent, value, less);
        if parent == 0 {
            return;
        }
        parent -= 1;
    }
}

pub(crate) fn adjust_heap(
    a: &mut [usize],
    mut hole: usize,
    value: usize,
    less: &impl Fn(usize, usize) -> bool,
) {
    let len = a.len();
    let top = hole;
    let mut second = hole;
    while second < (len.saturating_sub(1)) / 2 {
        second = 2 * (second + 1);
        if less(a[second], a[second - 1]) {
            second -= 1;
        }
        a[hole] = a[second];
        hole = second;
    }
    if len.is_multiple_of(2) && len >= 2 && second == (len - 2) / 2 {
        second = 2 * (second + 1);
        a[hole] = a[second - 1];
        hole = second - 1;
    }
    // __push_heap(first, hole, top, value)
    let mut parent = hole.wrapping_sub(1) / 2;
    while hole > top && less(a[parent], value) {
        a[hole] = a[parent];
        hole = parent;
        parent = hole.wrapping_sub(1) / 2;
    }
    a[hole] = value;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow_shortcuts_return_exactly_what_glibc_pow_returns() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut shortcut = 0;
        for i in 0..2_000_000u32 {
            // Random mantissas over a wide exponent range, and every tenth value a short
            // mantissa (squares near a rounding midpoint, the case that must fall back).
            let bits = next();
            let exponent = 1023 - 200 + (bits >> 56) % 400;
            let mantissa = if i % 10 == 0 {
                (bits & ((1 << 52) - 1)) & !((1 << 25) - 1)
            } else {
                bits & ((1 << 52) - 1)
            };
            let x = f64::from_bits((exponent << 52) | mantissa);
            for y in [2.0, 0.5] {
                let expected = x.powf(black_box(y));
                assert_eq!(c_pow(x, y).to_bits(), expected.to_bits(), "pow({x:e}, {y})");
                shortcut += usize::from(expected == if y == 2.0 { x * x } else { x.sqrt() });
            }
        }
        assert!(
            shortcut > 3_000_000,
            "pow should equal the plain square or root for most values"
        );
        for x in [0.0, 1.0, 4.0, f64::MIN_POSITIVE, 1e-310, 2f64.sqrt()] {
            assert_eq!(c_pow(x, 2.0).to_bits(), x.powf(2.0).to_bits());
            assert_eq!(c_pow(x, 0.5).to_bits(), x.powf(0.5).to_bits());
        }
    }

    /// Cases printed by a C++ program calling libstdc++ 12's `std::__introselect` with the
    /// comparator scikit-learn uses (value, then index): `n nth depth_limit`, the input index
    /// order, the values, the output order. Depth limits 0 and 1 exercise the heap-select path.
    const LIBSTDCXX_CASES: &[&str] = &[
        "26 13 0 22 10 19 9 6 14 20 7 3 21 8 16 5 23 13 24 11 12 18 4 15 17 1 0 25 2 26 25 24 23 22 21 20 19 18 17 16 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 23 15 13 17 21 14 20 18 24 25 22 16 19 12 3 5 6 7 8 4 9 10 1 0 11 2",
        "22 11 0 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 21 20 19 18 17 16 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 17 12 11 15 14 13 16 18 21 20 19 10 0 1 2 3 4 5 6 7 8 9",
        "30 15 1 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 29 28 27 26 25 24 23 22 21 20 19 18 17 16 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 15 29 28 27 26 25 24 23 22 21 20 19 18 17 16 14 0 13 12 11 10 9 8 7 6 5 4 3 2 1",
        "43 21 10 19 36 4 18 12 34 11 27 35 2 33 14 26 15 5 32 8 1 37 29 22 23 30 40 31 20 10 39 7 16 25 21 3 41 42 28 13 24 17 6 9 0 38 0 1 0 0 1 1 2 0 1 0 1 0 1 0 1 0 2 0 1 0 0 1 2 1 0 0 0 1 1 1 1 2 0 2 1 2 2 0 0 1 0 2 0 38 7 25 20 3 0 11 9 17 2 24 19 26 15 13 32 37 42 40 4 1 5 8 12 21 18 10 14 23 16 39 31 30 41 22 28 29 33 35 6 27 34 36",
        "42 21 10 26 21 30 3 4 39 15 7 0 10 14 18 36 22 31 23 24 1 27 19 29 41 33 35 25 40 17 12 34 16 6 5 13 9 28 11 38 2 37 8 20 32 173 314 297 381 555 643 689 650 598 355 546 365 23 522 638 898 335 155 7 455 151 108 989 397 819 999 779 652 235 499 582 238 235 85 106 668 125 553 610 531 438 442 32 21 20 28 34 12 17 33 0 36 18 9 2 16 31 1 40 23 3 11 41 19 13 29 39 10 37 8 4 35 6 5 7 27 30 14 38 26 15 25 24 22",
    ];

    #[test]
    fn introselect_matches_libstdcxx() {
        for line in LIBSTDCXX_CASES {
            let f: Vec<&str> = line.split(' ').collect();
            let n: usize = f[0].parse().unwrap();
            let nth: usize = f[1].parse().unwrap();
            let depth: usize = f[2].parse().unwrap();
            let mut idx: Vec<usize> = f[3..3 + n].iter().map(|v| v.parse().unwrap()).collect();
            let v: Vec<f64> = f[3 + n..3 + 2 * n]
                .iter()
                .map(|v| v.parse().unwrap())
                .collect();
            let expected: Vec<usize> = f[3 + 2 * n..].iter().map(|v| v.parse().unwrap()).collect();
            let less = |a: usize, b: usize| if v[a] == v[b] { a < b } else { v[a] < v[b] };
            introselect(&mut idx, nth, depth, &less);
            assert_eq!(idx, expected, "{line}");
        }
    }

    #[test]
    fn kneighbors_finds_the_nearest_rows() {
        // 300 points on a grid with duplicates: kd-tree search (d <= 15) against a sort.
        let x = Array2::from_shape_fn((300, 3), |(i, j)| ((i * (j + 3)) % 17) as f64);
        let nb = kneighbors(x.view(), x.view(), 7, &JobCtx::default()).unwrap();
        for i in 0..300 {
            let mut d: Vec<f64> = (0..300)
                .map(|j| rdist(x.row(i).as_slice().unwrap(), x.row(j).as_slice().unwrap()))
                .collect();
            d.sort_by(|a, b| a.total_cmp(b));
            for (c, &expected) in d.iter().take(7).enumerate() {
                assert_eq!(nb.distances[[i, c]], expected.sqrt(), "row {i}");
                let j = nb.indices[[i, c]];
                assert_eq!(
                    rdist(x.row(i).as_slice().unwrap(), x.row(j).as_slice().unwrap()),
                    expected
                );
            }
        }
    }

    #[test]
    fn answers_settled_without_the_replica_are_the_replicas_answers() {
        // Integer grids (many exact ties) and real values (almost none), for the kd-tree
        // (3 features) and brute force (20), with brute force's two ArgKmin strategies (300
        // rows: on Y; 1,500 rows: on X). Queries: the rows themselves, and other points.
        let ctx = JobCtx::default();
        for (n, d) in [(300, 3), (300, 20), (1500, 20), (1500, 3)] {
            for tied in [true, false] {
                let x = Array2::from_shape_fn((n, d), |(i, j)| {
                    let v = ((i * (j + 3) + j * j) % 13) as f64;
                    if tied {
                        v
                    } else {
                        v + ((i * 7919 + j * 104_729) % 1000) as f64 * 1e-4
                    }
                });
                let q = Array2::from_shape_fn((40, d), |(i, j)| ((i + 2 * j) % 11) as f64 + 0.5);
                for k in [1, 5, 10] {
                    let replica = search(x.view(), x.view(), k, Strategy::new(n, d, k, n), &ctx);
                    let fast = kneighbors_of_training(x.view(), k, &ctx).unwrap();
                    assert_eq!(fast, replica.unwrap(), "training rows, n {n} d {d} k {k}");
                    let replica = search(x.view(), q.view(), k, Strategy::new(n, d, k, 40), &ctx);
                    let fast = kneighbors(x.view(), q.view(), k, &ctx).unwrap();
                    assert_eq!(fast, replica.unwrap(), "queries, n {n} d {d} k {k}");
                }
            }
        }
    }
}

//! Exact k-nearest-neighbour search (Euclidean), shared by the neighbour-based detectors.
//!
//! Distances are `sqrt(Σ (x − y)²)` summed in feature order — bit-identical to scikit-learn's
//! kd-tree, which PyOD uses for low-dimensional data. Neighbours are ordered by (distance,
//! index), so results never depend on the thread count. Queries run in parallel over rows.

mod kdtree;

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::detectors::{DetectResult, JobCtx};

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
/// Up to this many features a kd-tree prunes well (scikit-learn switches to brute force above
/// 15 too); higher dimensions use parallel brute force.
const MAX_TREE_DIMENSIONS: usize = 15;
const MIN_TREE_ROWS: usize = 256;

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
    let mut distances = Array2::<f64>::zeros((n_queries, k));
    let mut indices = Array2::<usize>::zeros((n_queries, k));
    let use_tree = train.ncols() <= MAX_TREE_DIMENSIONS && train.nrows() >= MIN_TREE_ROWS;
    let tree = use_tree.then(|| kdtree::KdTree::build(train.view()));
    let brute = (!use_tree).then(|| BruteForce::new(train.view()));
    let done = std::sync::atomic::AtomicUsize::new(0);
    distances
        .axis_chunks_iter_mut(ndarray::Axis(0), ROWS_PER_TASK)
        .into_par_iter()
        .zip(indices.axis_chunks_iter_mut(ndarray::Axis(0), ROWS_PER_TASK))
        .enumerate()
        .try_for_each(|(chunk, (mut dist_chunk, mut idx_chunk))| {
            ctx.checkpoint()?;
            let mut best: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
            let mut scratch: Vec<f64> = Vec::new();
            for r in 0..dist_chunk.nrows() {
                let qi = chunk * ROWS_PER_TASK + r;
                let skip = leave_self_out.then_some(qi);
                match &tree {
                    Some(t) => t.query(
                        queries.row(qi).as_slice().expect("standard layout"),
                        k,
                        skip,
                        &mut best,
                    ),
                    None => brute
                        .as_ref()
                        .expect("brute force when there is no tree")
                        .nearest(
                            queries.row(qi).as_slice().expect("standard layout"),
                            k,
                            skip,
                            &mut best,
                            &mut scratch,
                        ),
                }
                for (c, &(d2, j)) in best.iter().enumerate() {
                    dist_chunk[[r, c]] = d2.sqrt();
                    idx_chunk[[r, c]] = j;
                }
            }
            let finished = done.fetch_add(dist_chunk.nrows(), std::sync::atomic::Ordering::Relaxed);
            ctx.report((finished + dist_chunk.nrows()) as f64 / n_queries as f64);
            Ok(())
        })?;
    Ok(Neighbors { distances, indices })
}

/// Brute-force search over feature-major (transposed) training data: the squared distances to
/// many training rows are accumulated side by side, one feature at a time, so the compiler can
/// vectorise across rows while each row's sum keeps the sequential feature order — the results
/// are bit-identical to a row-by-row loop.
struct BruteForce {
    n: usize,
    /// `d` rows of `n` values: feature f of training row j at `f * n + j`.
    by_feature: Vec<f64>,
}

impl BruteForce {
    fn new(train: ArrayView2<f64>) -> Self {
        let (n, d) = train.dim();
        let mut by_feature = vec![0.0; n * d];
        for ((j, f), &v) in train.indexed_iter() {
            by_feature[f * n + j] = v;
        }
        BruteForce { n, by_feature }
    }

    fn nearest(
        &self,
        q: &[f64],
        k: usize,
        skip: Option<usize>,
        best: &mut Vec<(f64, usize)>,
        d2: &mut Vec<f64>,
    ) {
        d2.clear();
        d2.resize(self.n, 0.0);
        for (f, &qf) in q.iter().enumerate() {
            let column = &self.by_feature[f * self.n..(f + 1) * self.n];
            for (acc, &v) in d2.iter_mut().zip(column) {
                let diff = v - qf;
                *acc += diff * diff;
            }
        }
        best.clear();
        for (j, &dist) in d2.iter().enumerate() {
            if Some(j) != skip {
                offer(best, k, dist, j);
            }
        }
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

/// Inserts a candidate into the sorted best-`k` list; later indices lose ties, so scanning in
/// any order gives the (distance, index) order.
fn offer(best: &mut Vec<(f64, usize)>, k: usize, d2: f64, j: usize) {
    if best.len() == k && (d2, j) >= best[k - 1] {
        return;
    }
    let pos = best.partition_point(|&(d, i)| (d, i) < (d2, j));
    best.insert(pos, (d2, j));
    if best.len() > k {
        best.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

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
        let mut state = 7u64;
        let x = Array2::from_shape_fn((2000, 3), |_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            ((state >> 33) % 6) as f64
        });
        let ctx = JobCtx::default();
        let with_tree = knn_leave_self_out(x.view(), 7, &ctx).unwrap();
        let mut brute_d = Array2::zeros((2000, 7));
        let mut brute_i = Array2::zeros((2000, 7));
        let mut best = Vec::new();
        for i in 0..2000 {
            nearest(x.view(), x.row(i), 7, Some(i), &mut best);
            for (c, &(d2, j)) in best.iter().enumerate() {
                brute_d[[i, c]] = f64::sqrt(d2);
                brute_i[[i, c]] = j;
            }
        }
        assert_eq!(with_tree.indices, brute_i);
        assert_eq!(with_tree.distances, brute_d);
    }

    #[test]
    fn vectorised_brute_force_is_bit_identical() {
        let mut state = 11u64;
        let x = Array2::from_shape_fn((700, 21), |_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 11) as f64 / (1u64 << 53) as f64 * 3.0 - 1.0
        });
        let fast = knn_leave_self_out(x.view(), 5, &JobCtx::default()).unwrap();
        let mut best = Vec::new();
        for i in 0..700 {
            nearest(x.view(), x.row(i), 5, Some(i), &mut best);
            let (d, j): (Vec<f64>, Vec<usize>) = best.iter().map(|&(d2, j)| (d2.sqrt(), j)).unzip();
            assert_eq!(fast.indices.row(i).to_vec(), j);
            assert_eq!(fast.distances.row(i).to_vec(), d);
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

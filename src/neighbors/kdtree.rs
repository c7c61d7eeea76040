//! A kd-tree for exact k-nearest-neighbour queries in low dimension.
//!
//! Results are identical to brute force: point distances use the same sequential sum, and a
//! node is skipped only when its box's lower bound is *strictly* worse than the current k-th
//! candidate (the bound never exceeds a computed point distance: every rounding step is
//! monotone), so equal-distance candidates with smaller indices are still found.

use ndarray::ArrayView2;

/// Points per leaf: small enough to prune well, large enough to keep the tree shallow and the
/// first leaf (chosen from by selection) a good start (measured: docs/benchmarks.md).
pub(super) const LEAF_SIZE: usize = 64;

pub struct KdTree {
    d: usize,
    /// Leaf points in tree order, feature-major inside each leaf: feature `f` of the point at
    /// tree position `p` of a leaf spanning `start..end` is at
    /// `start·d + f·(end − start) + (p − start)`. The distance loop over a leaf's points then
    /// runs over contiguous values, which the compiler vectorises (each distance is still
    /// summed over the features in order, so the bits do not change).
    leaf_points: Vec<f64>,
    /// Original row index of each point in tree order.
    index: Vec<usize>,
    nodes: Vec<Node>,
    /// Per node: lower then upper corner of its bounding box (2·d values).
    boxes: Vec<f64>,
    /// Per node: the smallest original row index inside it. A node whose box is exactly as
    /// far as the current k-th candidate can only contribute a tie, and a tie only wins with
    /// a smaller index: duplicate-heavy data would otherwise open every node that holds a copy.
    min_index: Vec<usize>,
}

struct Node {
    start: usize,
    end: usize,
    /// Children, or `None` for a leaf.
    children: Option<(usize, usize)>,
}

impl KdTree {
    pub fn build(x: ArrayView2<f64>) -> KdTree {
        let (n, d) = x.dim();
        let x = x.as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let mut order: Vec<usize> = (0..n).collect();
        let mut tree = KdTree {
            d,
            leaf_points: Vec::new(),
            index: Vec::new(),
            nodes: Vec::new(),
            boxes: Vec::new(),
            min_index: Vec::new(),
        };
        tree.build_node(x, &mut order, 0, n);
        tree.leaf_points = vec![0.0; n * d];
        for node in tree.nodes.iter().filter(|node| node.children.is_none()) {
            let len = node.end - node.start;
            let block = &mut tree.leaf_points[node.start * d..node.end * d];
            for (p, &row) in order[node.start..node.end].iter().enumerate() {
                for (f, &v) in x[row * d..(row + 1) * d].iter().enumerate() {
                    block[f * len + p] = v;
                }
            }
        }
        tree.index = order;
        tree
    }

    /// The rows in an order where rows near in storage are near in space, for brute force to
    /// store its rows in: the leaves of a tree that splits each node at the median of its
    /// rows' projections on the direction between two far-apart rows (the row farthest from
    /// the node's centre, and the row farthest from that one), a cheap stand-in for the
    /// principal direction. In 10–40 dimensions this keeps neighbours together far better
    /// than splitting on the widest feature, as the kd-tree does (refining the direction by
    /// power iterations cost more than it gained). Nodes are split in parallel; every sum runs
    /// in a fixed order, so the order is the same at any thread count.
    pub fn far_pair_order(x: ArrayView2<f64>) -> Vec<usize> {
        let mut order: Vec<usize> = (0..x.nrows()).collect();
        let x = x.as_standard_layout();
        let values = x.as_slice().expect("standard layout");
        split_on_far_pair_direction(values, x.ncols(), &mut order);
        order
    }

    /// Original row indices in tree order: neighbouring positions are near in space, so
    /// queries taken in this order reuse the same nodes while they are in cache.
    pub fn order(&self) -> &[usize] {
        &self.index
    }

    /// Builds the node over `order[start..end]` (`x` row-major, `d` wide) and its children.
    fn build_node(&mut self, x: &[f64], order: &mut [usize], start: usize, end: usize) -> usize {
        let d = self.d;
        let id = self.nodes.len();
        self.nodes.push(Node {
            start,
            end,
            children: None,
        });
        let (lo, hi) = bounding_box(x, d, &order[start..end]);
        self.boxes.extend(&lo);
        self.boxes.extend(&hi);
        self.min_index.push(
            order[start..end]
                .iter()
                .copied()
                .min()
                .unwrap_or(usize::MAX),
        );
        if end - start > LEAF_SIZE {
            if let Some(half) = split_at_median(x, d, &mut order[start..end], &lo, &hi) {
                let mid = start + half;
                let left = self.build_node(x, order, start, mid);
                let right = self.build_node(x, order, mid, end);
                self.nodes[id].children = Some((left, right));
            }
        }
        id
    }

    /// Squared distance from `q` to the node's box (0 inside). One of the two gaps is always
    /// zero, so the branch-free sum is the same value as choosing the side.
    #[inline(always)]
    fn lower_bound(&self, node: usize, q: &[f64]) -> f64 {
        let d = self.d;
        let b = &self.boxes[node * 2 * d..(node + 1) * 2 * d];
        let (lo, hi) = b.split_at(d);
        let mut sum = 0.0;
        for ((&l, &h), &v) in lo.iter().zip(hi).zip(&q[..d]) {
            let gap = (l - v).max(0.0) + (v - h).max(0.0);
            sum += gap * gap;
        }
        sum
    }

    /// The `k` nearest points to `q` as (squared distance, original index), sorted by
    /// (distance, index); `skip` leaves one original row out. `scratch` holds a leaf's
    /// distances between calls.
    pub fn query(
        &self,
        q: &[f64],
        k: usize,
        skip: Option<usize>,
        best: &mut Vec<(f64, usize)>,
        scratch: &mut Vec<f64>,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                unsafe { self.query_avx2(q, k, skip, best, scratch) };
                return;
            }
        }
        self.query_generic(q, k, skip, best, scratch);
    }

    // Its own wrapper, not `crate::numeric::simd::with_avx2_fma`: through that closure the tree's
    // queries were slower.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn query_avx2(
        &self,
        q: &[f64],
        k: usize,
        skip: Option<usize>,
        best: &mut Vec<(f64, usize)>,
        scratch: &mut Vec<f64>,
    ) {
        self.query_generic(q, k, skip, best, scratch);
    }

    /// Depth-first, nearer child first, with an explicit stack (a loop, unlike recursion,
    /// can be compiled once per instruction set). A node is opened only if its box can still
    /// hold a better candidate when it comes off the stack.
    #[inline(always)]
    fn query_generic(
        &self,
        q: &[f64],
        k: usize,
        skip: Option<usize>,
        best: &mut Vec<(f64, usize)>,
        scratch: &mut Vec<f64>,
    ) {
        best.clear();
        // (node, lower bound of its box); a path holds one pending sibling per level.
        let mut stack: Vec<(usize, f64)> = Vec::with_capacity(64);
        stack.push((0, 0.0));
        while let Some((node, bound)) = stack.pop() {
            if !self.may_improve(node, bound, worst_of(best, k)) {
                continue;
            }
            let n = &self.nodes[node];
            match n.children {
                None => self.visit_leaf(n, q, k, skip, best, scratch),
                Some((left, right)) => {
                    let (bl, br) = (self.lower_bound(left, q), self.lower_bound(right, q));
                    if bl <= br {
                        stack.push((right, br));
                        stack.push((left, bl));
                    } else {
                        stack.push((left, bl));
                        stack.push((right, br));
                    }
                }
            }
        }
    }

    /// Offers the points of a leaf.
    #[inline(always)]
    fn visit_leaf(
        &self,
        n: &Node,
        q: &[f64],
        k: usize,
        skip: Option<usize>,
        best: &mut Vec<(f64, usize)>,
        scratch: &mut Vec<f64>,
    ) {
        let d = self.d;
        let len = n.end - n.start;
        if scratch.len() < len {
            scratch.resize(len, 0.0);
        }
        let d2s = &mut scratch[..len];
        let block = &self.leaf_points[n.start * d..n.end * d];
        // The first feature's squares start the sums (0 + x is x, so the bits are those of
        // a sum started at zero).
        let mut columns = block.chunks_exact(len).zip(&q[..d]);
        if let Some((column, &qf)) = columns.next() {
            for (acc, &v) in d2s.iter_mut().zip(column) {
                let diff = v - qf;
                *acc = diff * diff;
            }
        }
        for (column, &qf) in columns {
            for (acc, &v) in d2s.iter_mut().zip(column) {
                let diff = v - qf;
                *acc += diff * diff;
            }
        }
        let index = &self.index[n.start..n.end];
        if best.is_empty() && len <= LEAF_SIZE {
            // The first leaf (the query's own): nearly every point would be inserted one by
            // one, so the k nearest are chosen by selection instead.
            let mut found = [(0.0f64, 0usize); LEAF_SIZE];
            let mut count = 0;
            for (&d2, &i) in d2s.iter().zip(index) {
                if Some(i) != skip {
                    found[count] = (d2, i);
                    count += 1;
                }
            }
            super::append_nearest_by_selection(&mut found[..count], k, best);
            return;
        }
        let mut worst = worst_of(best, k);
        // In runs of 64 points, one bit each of the pass mask.
        for (d2s, index) in d2s.chunks(64).zip(index.chunks(64)) {
            // Most points fail the first test: find those that pass side by side.
            let mut passing = 0u64;
            for (p, &d2) in d2s.iter().enumerate() {
                passing |= u64::from(d2 <= worst.0) << p;
            }
            while passing != 0 {
                let p = passing.trailing_zeros() as usize;
                passing &= passing - 1;
                let (d2, i) = (d2s[p], index[p]);
                // `worst` may have moved; an equal distance wins only with a smaller index.
                if d2 > worst.0 || (d2 == worst.0 && i > worst.1) || Some(i) == skip {
                    continue;
                }
                super::offer(best, k, d2, i);
                worst = worst_of(best, k);
            }
        }
    }

    /// The number of points in the largest leaf.
    #[cfg(test)]
    pub fn largest_leaf(&self) -> usize {
        let leaves = self.nodes.iter().filter(|node| node.children.is_none());
        leaves.map(|node| node.end - node.start).max().unwrap_or(0)
    }

    /// Whether a node at box distance `bound` can hold a better candidate than `worst`.
    #[inline(always)]
    fn may_improve(&self, node: usize, bound: f64, worst: (f64, usize)) -> bool {
        bound < worst.0 || (bound == worst.0 && self.min_index[node] < worst.1)
    }
}

/// The current k-th candidate (distance, index), or one that everything beats.
fn worst_of(best: &[(f64, usize)], k: usize) -> (f64, usize) {
    if best.len() == k {
        best[k - 1]
    } else {
        (f64::INFINITY, usize::MAX)
    }
}

/// Lower and upper corner of the box around rows `order` of `x` (row-major, `d` wide).
fn bounding_box(x: &[f64], d: usize, order: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let mut lo = vec![f64::INFINITY; d];
    let mut hi = vec![f64::NEG_INFINITY; d];
    for &i in order {
        for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(&x[i * d..(i + 1) * d]) {
            *l = l.min(v);
            *h = h.max(v);
        }
    }
    (lo, hi)
}

/// Puts the lower half of `order` (by the box's widest feature, ties by row index) before the
/// upper half and returns the size of the lower half; `None` when every feature is constant.
fn split_at_median(
    x: &[f64],
    d: usize,
    order: &mut [usize],
    lo: &[f64],
    hi: &[f64],
) -> Option<usize> {
    let (split, spread) = (0..d)
        .map(|j| (j, hi[j] - lo[j]))
        .fold((0, -1.0), |best, c| if c.1 > best.1 { c } else { best });
    if spread <= 0.0 {
        return None;
    }
    let mid = order.len() / 2;
    order.select_nth_unstable_by(mid, |&a, &b| {
        x[a * d + split]
            .total_cmp(&x[b * d + split])
            .then(a.cmp(&b))
    });
    Some(mid)
}

/// Recursive step of [`KdTree::far_pair_order`].
fn split_on_far_pair_direction(x: &[f64], d: usize, order: &mut [usize]) {
    /// Below this many rows the two halves are split on the calling thread (measured:
    /// docs/benchmarks.md).
    const PARALLEL_ROWS: usize = 256;
    if order.len() <= LEAF_SIZE {
        return;
    }
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let mut centre = vec![0.0; d];
    for &i in order.iter() {
        for (c, &v) in centre.iter_mut().zip(row(i)) {
            *c += v;
        }
    }
    centre.iter_mut().for_each(|c| *c /= order.len() as f64);
    let farthest_from = |from: &[f64]| {
        let mut best = (f64::NEG_INFINITY, order[0]);
        for &i in order.iter() {
            let d2: f64 = row(i)
                .iter()
                .zip(from)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            if d2 > best.0 {
                best = (d2, i);
            }
        }
        best.1
    };
    let a = farthest_from(&centre);
    let b = farthest_from(row(a));
    let direction: Vec<f64> = row(b).iter().zip(row(a)).map(|(p, q)| p - q).collect();
    if !direction.iter().all(|v| v.is_finite()) || direction.iter().all(|&v| v == 0.0) {
        // All rows alike (or values too large to project): nothing to split on.
        return;
    }
    let mut projected: Vec<(f64, usize)> = order
        .iter()
        .map(|&i| (row(i).iter().zip(&direction).map(|(v, u)| v * u).sum(), i))
        .collect();
    let mid = order.len() / 2;
    projected.select_nth_unstable_by(mid, super::by_value_then_index);
    for (slot, &(_, i)) in order.iter_mut().zip(&projected) {
        *slot = i;
    }
    let (left, right) = order.split_at_mut(mid);
    if left.len() + right.len() >= PARALLEL_ROWS {
        rayon::join(
            || split_on_far_pair_direction(x, d, left),
            || split_on_far_pair_direction(x, d, right),
        );
    } else {
        split_on_far_pair_direction(x, d, left);
        split_on_far_pair_direction(x, d, right);
    }
}

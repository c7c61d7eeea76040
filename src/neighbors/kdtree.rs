//! A kd-tree for exact k-nearest-neighbour queries in low dimension.
//!
//! Results are identical to brute force: point distances use the same sequential sum, and a
//! node is skipped only when its box's lower bound is *strictly* worse than the current k-th
//! candidate (the bound never exceeds a computed point distance: every rounding step is
//! monotone), so equal-distance candidates with smaller indices are still found.

use ndarray::ArrayView2;

/// Points per leaf: small enough to prune well, large enough to keep the tree shallow.
const LEAF_SIZE: usize = 32;

pub struct KdTree {
    d: usize,
    /// Points in tree order, row-major.
    points: Vec<f64>,
    /// Original row index of each point in tree order.
    index: Vec<usize>,
    nodes: Vec<Node>,
    /// Per node: lower then upper corner of its bounding box (2·d values).
    boxes: Vec<f64>,
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
        let mut order: Vec<usize> = (0..n).collect();
        let mut tree = KdTree {
            d,
            points: Vec::new(),
            index: Vec::new(),
            nodes: Vec::new(),
            boxes: Vec::new(),
        };
        tree.build_node(x, &mut order, 0, n);
        tree.points = Vec::with_capacity(n * d);
        for &i in &order {
            tree.points.extend(x.row(i).iter());
        }
        tree.index = order;
        tree
    }

    fn build_node(
        &mut self,
        x: ArrayView2<f64>,
        order: &mut [usize],
        start: usize,
        end: usize,
    ) -> usize {
        let d = self.d;
        let id = self.nodes.len();
        self.nodes.push(Node {
            start,
            end,
            children: None,
        });
        let mut lo = vec![f64::INFINITY; d];
        let mut hi = vec![f64::NEG_INFINITY; d];
        for &i in &order[start..end] {
            for j in 0..d {
                let v = x[[i, j]];
                lo[j] = lo[j].min(v);
                hi[j] = hi[j].max(v);
            }
        }
        self.boxes.extend(&lo);
        self.boxes.extend(&hi);
        if end - start > LEAF_SIZE {
            let (split, spread) = (0..d)
                .map(|j| (j, hi[j] - lo[j]))
                .fold((0, -1.0), |best, c| if c.1 > best.1 { c } else { best });
            if spread > 0.0 {
                let mid = start + (end - start) / 2;
                order[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
                    x[[a, split]].total_cmp(&x[[b, split]]).then(a.cmp(&b))
                });
                let left = self.build_node(x, order, start, mid);
                let right = self.build_node(x, order, mid, end);
                self.nodes[id].children = Some((left, right));
            }
        }
        id
    }

    /// Squared distance from `q` to the node's box (0 inside).
    fn lower_bound(&self, node: usize, q: &[f64]) -> f64 {
        let d = self.d;
        let b = &self.boxes[node * 2 * d..(node + 1) * 2 * d];
        let mut sum = 0.0;
        for j in 0..d {
            let gap = if q[j] < b[j] {
                b[j] - q[j]
            } else if q[j] > b[d + j] {
                q[j] - b[d + j]
            } else {
                0.0
            };
            sum += gap * gap;
        }
        sum
    }

    /// The `k` nearest points to `q` as (squared distance, original index), sorted by
    /// (distance, index); `skip` leaves one original row out.
    pub fn query(&self, q: &[f64], k: usize, skip: Option<usize>, best: &mut Vec<(f64, usize)>) {
        best.clear();
        self.visit(0, q, k, skip, best);
    }

    fn visit(
        &self,
        node: usize,
        q: &[f64],
        k: usize,
        skip: Option<usize>,
        best: &mut Vec<(f64, usize)>,
    ) {
        let n = &self.nodes[node];
        match n.children {
            None => {
                let d = self.d;
                for pos in n.start..n.end {
                    let i = self.index[pos];
                    if Some(i) == skip {
                        continue;
                    }
                    let p = &self.points[pos * d..(pos + 1) * d];
                    let mut d2 = 0.0;
                    for (a, b) in p.iter().zip(q) {
                        let diff = a - b;
                        d2 += diff * diff;
                    }
                    super::offer(best, k, d2, i);
                }
            }
            Some((left, right)) => {
                let (bl, br) = (self.lower_bound(left, q), self.lower_bound(right, q));
                let (first, second, b_second) = if bl <= br {
                    (left, right, br)
                } else {
                    (right, left, bl)
                };
                let b_first = bl.min(br);
                if best.len() < k || b_first <= best[k - 1].0 {
                    self.visit(first, q, k, skip, best);
                }
                if best.len() < k || b_second <= best[k - 1].0 {
                    self.visit(second, q, k, skip, best);
                }
            }
        }
    }
}

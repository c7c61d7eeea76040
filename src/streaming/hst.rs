//! Half-Space Trees (Tan, Ting & Liu, "Fast anomaly detection for streaming data", IJCAI 2011),
//! as river implements them (`river.anomaly.HalfSpaceTrees`): random trees of fixed height that
//! halve the feature space; each node counts the records of the current window (`l_mass`) and
//! keeps the counts of the last complete window (`r_mass`). A record scores low where the last
//! window was dense. Scores are river's: `1 − Σ r_mass·2^depth / max`, in [0, 1], 1 = anomalous.
//!
//! Differences from river, on purpose: the feature ranges are learned from the first window
//! (river assumes [0, 1] unless given) and widened by half their width on each side, and that
//! first window, during which river scores 0, is also the one used to build the trees.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Splits stay this fraction of a range away from its ends (river's `padding`).
const PADDING: f64 = 0.15;
/// The learned ranges are widened by this fraction of their width on each side.
const RANGE_MARGIN: f64 = 0.5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HalfSpaceTrees {
    n_trees: usize,
    height: usize,
    window: usize,
    seed: u64,
    /// A node stops the walk when its reference mass is below this (river: 10 % of a window).
    size_limit: f64,
    /// Rows of the first window, kept until the trees are built from their ranges.
    warm: Vec<Vec<f64>>,
    trees: Vec<Tree>,
    /// Records counted into the current window.
    counter: usize,
}

/// One tree, as complete-binary-tree arrays: node `i` has children `2i+1` and `2i+2`; the
/// `2^height − 1` internal nodes come first, then the leaves.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tree {
    feature: Vec<u32>,
    threshold: Vec<f64>,
    l_mass: Vec<u32>,
    r_mass: Vec<u32>,
}

impl HalfSpaceTrees {
    pub fn new(n_trees: usize, height: usize, window: usize, seed: u64) -> HalfSpaceTrees {
        HalfSpaceTrees {
            n_trees: n_trees.max(1),
            height: height.clamp(1, 20),
            window: window.max(1),
            seed,
            size_limit: 0.1 * window.max(1) as f64,
            warm: Vec::new(),
            trees: Vec::new(),
            counter: 0,
        }
    }

    /// Scores `x`, then learns it. No score during the first window (nothing to compare with).
    pub fn score_learn(&mut self, x: &[f64]) -> Option<f64> {
        if self.trees.is_empty() {
            self.warm.push(x.to_vec());
            if self.warm.len() == self.window {
                self.build();
            }
            return None;
        }
        let score = self.score(x);
        self.learn(x);
        Some(score)
    }

    fn build(&mut self) {
        let d = self.warm[0].len();
        let mut limits = vec![(f64::INFINITY, f64::NEG_INFINITY); d];
        for row in &self.warm {
            for (l, &v) in limits.iter_mut().zip(row) {
                if v.is_finite() {
                    l.0 = l.0.min(v);
                    l.1 = l.1.max(v);
                }
            }
        }
        for l in &mut limits {
            if !l.0.is_finite() {
                *l = (0.0, 1.0);
            } else if l.1 - l.0 < 1e-12 {
                // A constant feature still gets a range, so that a change in it is seen.
                let pad = l.0.abs().max(1.0) * 0.5;
                *l = (l.0 - pad, l.1 + pad);
            } else {
                // Values beyond the first window's range must land in cells of their own (with
                // no mass), not in the edge cells shared with the window's extremes.
                let pad = (l.1 - l.0) * RANGE_MARGIN;
                *l = (l.0 - pad, l.1 + pad);
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let internal = (1usize << self.height) - 1;
        let nodes = (1usize << (self.height + 1)) - 1;
        self.trees = (0..self.n_trees)
            .map(|_| {
                let mut tree = Tree {
                    feature: vec![0; internal],
                    threshold: vec![0.0; internal],
                    l_mass: vec![0; nodes],
                    r_mass: vec![0; nodes],
                };
                grow(&mut tree, 0, &mut limits.clone(), &mut rng, internal);
                tree
            })
            .collect();
        let warm = std::mem::take(&mut self.warm);
        for row in &warm {
            self.learn(row);
        }
    }

    fn score(&self, x: &[f64]) -> f64 {
        let internal = (1usize << self.height) - 1;
        let mut total = 0.0;
        for tree in &self.trees {
            let mut node = 0;
            let mut depth = 0;
            loop {
                let mass = tree.r_mass[node] as f64;
                total += mass * (1u64 << depth) as f64;
                if mass < self.size_limit || node >= internal {
                    break;
                }
                node = tree.child(node, x);
                depth += 1;
            }
        }
        let max =
            self.n_trees as f64 * self.window as f64 * ((1u64 << (self.height + 1)) - 1) as f64;
        1.0 - total / max
    }

    fn learn(&mut self, x: &[f64]) {
        let internal = (1usize << self.height) - 1;
        for tree in &mut self.trees {
            let mut node = 0;
            loop {
                tree.l_mass[node] += 1;
                if node >= internal {
                    break;
                }
                node = tree.child(node, x);
            }
        }
        self.counter += 1;
        if self.counter == self.window {
            for tree in &mut self.trees {
                std::mem::swap(&mut tree.r_mass, &mut tree.l_mass);
                tree.l_mass.iter_mut().for_each(|m| *m = 0);
            }
            self.counter = 0;
        }
    }
}

impl Tree {
    fn child(&self, node: usize, x: &[f64]) -> usize {
        let v = x.get(self.feature[node] as usize).copied().unwrap_or(0.0);
        // A missing value goes left, as river's comparison with NaN does.
        if v < self.threshold[node] || v.is_nan() {
            2 * node + 1
        } else {
            2 * node + 2
        }
    }
}

/// Fills the split of `node` and its subtree within `limits` (restored on return).
fn grow(
    tree: &mut Tree,
    node: usize,
    limits: &mut [(f64, f64)],
    rng: &mut ChaCha8Rng,
    internal: usize,
) {
    if node >= internal {
        return;
    }
    let on = rng.gen_range(0..limits.len());
    let (a, b) = limits[on];
    let at = rng.gen_range(0.0..1.0) * (b - a) * (1.0 - 2.0 * PADDING) + a + PADDING * (b - a);
    tree.feature[node] = on as u32;
    tree.threshold[node] = at;
    limits[on] = (a, at);
    grow(tree, 2 * node + 1, limits, rng, internal);
    limits[on] = (at, b);
    grow(tree, 2 * node + 2, limits, rng, internal);
    limits[on] = (a, b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_regions_score_low_and_outliers_high() {
        let mut hst = HalfSpaceTrees::new(10, 8, 250, 7);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut normal = 0.0f64;
        for i in 0..1000 {
            let x = [rng.gen_range(0.4..0.6), rng.gen_range(0.4..0.6)];
            let s = hst.score_learn(&x).unwrap_or(0.0);
            if i >= 750 {
                normal = normal.max(s);
            }
        }
        // Far outside the region the trees were grown in: no mass below the root's children.
        let outlier = hst.score_learn(&[0.05, 0.95]).unwrap();
        assert!(
            outlier > normal,
            "outlier {outlier} vs normal at most {normal}"
        );
        assert!((0.0..=1.0).contains(&outlier));
    }

    #[test]
    fn the_first_window_has_no_score() {
        let mut hst = HalfSpaceTrees::new(3, 4, 10, 0);
        for i in 0..10 {
            assert_eq!(hst.score_learn(&[i as f64]), None);
        }
        assert!(hst.score_learn(&[100.0]).unwrap() > 0.0);
    }
}

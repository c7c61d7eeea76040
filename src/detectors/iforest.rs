//! Isolation Forest (Liu, Ting & Zhou 2008) as scikit-learn's `IsolationForest` builds it and
//! PyOD's `IForest` scores it: each tree is grown on a subsample of `max_samples` rows drawn
//! without replacement, splitting on a feature drawn uniformly among those not constant in the
//! node at a threshold drawn uniformly between the node's minimum and maximum (`x <= t` goes left),
//! down to depth `ceil(log2(max_samples))`. A row's path length in a tree is the depth of its leaf
//! plus `c(n_leaf)`, the average path length of an unsuccessful search in a BST of the leaf's
//! size; `s(x) = 2^(−E[h(x)] / c(max_samples))`.
//!
//! Scores are PyOD's `decision_scores_`: `s(x) + offset`, where `offset` is scikit-learn's
//! `offset_` for PyOD's default `contamination = 0.1` (the 10th percentile of `−s` over the
//! training rows). The offset is a constant shift; it keeps the values on PyOD's scale.
//!
//! scikit-learn grows its trees on a float32 copy of the data; this works in f64 throughout
//! (splits can differ only between values closer than float32 resolution).
//!
//! Randomness: one ChaCha8 stream from the job seed draws a seed per tree before any parallel
//! work, so the forest does not depend on the thread count.

use crate::metrics::percentile;
use crate::numeric::rows::row_major;
use ndarray::{Array1, ArrayView2};
use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::support::task_seeds;
use super::validate::{length, not_empty, value, Check, Rule};
use super::{validate_matrix, DetectResult, Detector, Fitted, JobCtx, Model};

pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n_estimators",
        kind: ParamKind::Int {
            min: 1,
            max: 10_000,
            log: true,
        },
        default: DefaultValue::Int(100),
        help: "number of isolation trees",
        search: Search::Range {
            min: 50.0,
            max: 300.0,
        },
    },
    ParamSpec {
        name: "max_samples",
        kind: ParamKind::Int {
            min: 0,
            max: 1_000_000,
            log: true,
        },
        default: DefaultValue::Int(0),
        help: "rows drawn to grow each tree; 0 = auto (min(256, n), as PyOD's 'auto'); \
               values above n use all n rows",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "max_features",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1.0,
            min_open: true,
            max_open: false,
            log: false,
        },
        default: DefaultValue::Float(1.0),
        help: "fraction of the features each tree may split on (at least one)",
        search: Search::Range { min: 0.5, max: 1.0 },
    },
    ParamSpec {
        name: "bootstrap",
        kind: ParamKind::Bool,
        default: DefaultValue::Bool(false),
        help: "draw each tree's rows with replacement",
        search: Search::Fixed,
    },
];

/// PyOD's default contamination, which fixes scikit-learn's `offset_`.
const CONTAMINATION: f64 = 0.1;
/// scikit-learn's `FEATURE_THRESHOLD`: a feature spanning less than this in a node is constant.
const FEATURE_THRESHOLD: f64 = 1e-7;
pub(crate) const LEAF: u32 = u32::MAX;

pub struct IForest {
    n_estimators: usize,
    max_samples: usize,
    max_features: f64,
    bootstrap: bool,
}

impl IForest {
    pub fn from_params(p: &Params) -> Self {
        IForest {
            n_estimators: p.int("n_estimators") as usize,
            max_samples: p.int("max_samples") as usize,
            max_features: p.float("max_features"),
            bootstrap: p.bool("bootstrap"),
        }
    }
}

/// The forest as flat arrays: node `i` splits on `feature[i]` at `value[i]` with children
/// `left[i]` and `left[i] + 1`, or is a leaf (`feature[i] == u32::MAX`) whose `value[i]` is the
/// path length of a row ending there. Tree `t` starts at node `roots[t]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IForestModel {
    pub n_features: usize,
    pub max_samples: usize,
    pub roots: Vec<u32>,
    pub feature: Vec<u32>,
    pub left: Vec<u32>,
    pub value: Vec<f64>,
    /// scikit-learn's `offset_` (contamination 0.1), added to `2^(−E[h]/c)`.
    pub offset: f64,
}

/// scikit-learn's `_average_path_length`: `c(n)`, the mean depth of an unsuccessful search in a
/// binary search tree of `n` keys.
pub(crate) fn average_path_length(n: usize) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

struct Tree {
    feature: Vec<u32>,
    left: Vec<u32>,
    value: Vec<f64>,
}

/// Grows one tree on `rows` (indices into the row-major `data`), splitting only on `features`.
fn grow_tree(
    data: &[f64],
    d: usize,
    mut rows: Vec<usize>,
    features: &[usize],
    max_depth: usize,
    rng: &mut ChaCha8Rng,
) -> Tree {
    let mut tree = Tree {
        feature: vec![LEAF],
        left: vec![0],
        value: vec![0.0],
    };
    // (node, start, end, depth, number of features known constant from the ancestors); the
    // node's own candidates are `feats[known..]`, as scikit-learn's splitter tracks them.
    let mut stack = vec![(
        0usize,
        0usize,
        rows.len(),
        0usize,
        features.to_vec(),
        0usize,
    )];
    while let Some((node, start, end, depth, mut feats, known)) = stack.pop() {
        let n_node = end - start;
        let leaf = |tree: &mut Tree| {
            tree.value[node] = ((depth + 1) as f64 + average_path_length(n_node)) - 1.0;
        };
        if depth >= max_depth || n_node < 2 {
            leaf(&mut tree);
            continue;
        }
        // Draw features without replacement until one is not constant in the node.
        let mut constants = known;
        let mut split = None;
        while constants < feats.len() {
            let pick = rng.gen_range(constants..feats.len());
            let f = feats[pick];
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for &r in &rows[start..end] {
                let v = data[r * d + f];
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if hi <= lo + FEATURE_THRESHOLD {
                feats.swap(pick, constants);
                constants += 1;
                continue;
            }
            let mut t = (hi - lo) * rng.gen::<f64>() + lo;
            if t == hi {
                t = lo;
            }
            split = Some((f, t));
            break;
        }
        let Some((f, t)) = split else {
            leaf(&mut tree);
            continue;
        };
        // Partition rows[start..end]: values <= t first.
        let mut mid = start;
        for i in start..end {
            if data[rows[i] * d + f] <= t {
                rows.swap(i, mid);
                mid += 1;
            }
        }
        let child = tree.feature.len();
        tree.feature[node] = f as u32;
        tree.value[node] = t;
        tree.left[node] = child as u32;
        tree.feature.extend([LEAF, LEAF]);
        tree.left.extend([0, 0]);
        tree.value.extend([0.0, 0.0]);
        // Right pushed first so the left subtree is grown (and draws its randomness) first.
        stack.push((child + 1, mid, end, depth + 1, feats.clone(), constants));
        stack.push((child, start, mid, depth + 1, feats, constants));
    }
    tree
}

impl Detector for IForest {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        let (n, d) = x.dim();
        let psi = if self.max_samples == 0 {
            n.min(256)
        } else {
            self.max_samples.min(n)
        };
        let max_depth = (psi.max(2) as f64).log2().ceil() as usize;
        let n_tree_features = ((self.max_features * d as f64) as usize).clamp(1, d);
        let data = row_major(x);
        let seeds = task_seeds(ctx.seed, self.n_estimators);
        let trees: Vec<Tree> = seeds
            .par_iter()
            .map(|&s| {
                ctx.checkpoint()?;
                let mut rng = ChaCha8Rng::seed_from_u64(s);
                let rows: Vec<usize> = if self.bootstrap {
                    // scikit-learn passes the draw as sample weights: a row drawn twice is one
                    // row of the tree.
                    let mut drawn: Vec<usize> = (0..psi).map(|_| rng.gen_range(0..n)).collect();
                    drawn.sort_unstable();
                    drawn.dedup();
                    drawn
                } else {
                    index::sample(&mut rng, n, psi).into_vec()
                };
                let features: Vec<usize> = if n_tree_features == d {
                    (0..d).collect()
                } else {
                    let mut f = index::sample(&mut rng, d, n_tree_features).into_vec();
                    f.sort_unstable();
                    f
                };
                Ok(grow_tree(&data, d, rows, &features, max_depth, &mut rng))
            })
            .collect::<DetectResult<_>>()?;
        ctx.report(0.5);

        let mut model = IForestModel {
            n_features: d,
            max_samples: psi,
            roots: Vec::with_capacity(trees.len()),
            feature: Vec::new(),
            left: Vec::new(),
            value: Vec::new(),
            offset: 0.0,
        };
        for tree in trees {
            let base = model.feature.len() as u32;
            model.roots.push(base);
            model.feature.extend(&tree.feature);
            model
                .left
                .extend(tree.left.iter().map(|&l| if l == 0 { 0 } else { l + base }));
            model.value.extend(&tree.value);
        }
        let s = model.isolation_scores(&data, ctx)?;
        let neg: Vec<f64> = s.iter().map(|v| -v).collect();
        model.offset = percentile(&neg, 100.0 * CONTAMINATION);
        let training_scores = s.iter().map(|v| v + model.offset).collect();
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::IForest(model),
            training_scores,
        })
    }
}

impl IForestModel {
    /// Columns of the training matrix.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// `2^(−E[h(x)] / c(max_samples))` of each row of the row-major `data`.
    fn isolation_scores(&self, data: &[f64], ctx: &JobCtx) -> DetectResult<Vec<f64>> {
        /// A node packed into 16 bytes. A leaf points to itself with a NaN threshold (`x > NaN`
        /// is false), so every row takes exactly the tree's depth in steps, without branches.
        #[derive(Clone, Copy)]
        struct Node {
            feature: u32,
            left: u32,
            threshold: f64,
        }
        const BLOCK: usize = 256;
        let d = self.n_features;
        let mut nodes = Vec::with_capacity(self.feature.len());
        let mut depth_of = vec![0usize; self.feature.len()];
        for i in 0..self.feature.len() {
            if self.feature[i] == LEAF {
                nodes.push(Node {
                    feature: 0,
                    left: i as u32,
                    threshold: f64::NAN,
                });
            } else {
                let left = self.left[i] as usize;
                depth_of[left] = depth_of[i] + 1;
                depth_of[left + 1] = depth_of[i] + 1;
                nodes.push(Node {
                    feature: self.feature[i],
                    left: left as u32,
                    threshold: self.value[i],
                });
            }
        }
        // (root, number of steps to the deepest leaf) per tree.
        let trees: Vec<(usize, usize)> = self
            .roots
            .iter()
            .enumerate()
            .map(|(t, &root)| {
                let end = self
                    .roots
                    .get(t + 1)
                    .map_or(nodes.len(), |&next| next as usize);
                let depth = depth_of[root as usize..end].iter().copied().max();
                (root as usize, depth.unwrap_or(0))
            })
            .collect();
        let denominator = self.roots.len() as f64 * average_path_length(self.max_samples);
        let mut out = vec![0.0; data.len() / d];
        out.par_chunks_mut(BLOCK)
            .zip(data.par_chunks(BLOCK * d))
            .try_for_each(|(out, rows)| {
                ctx.checkpoint()?;
                // Trees outer, then steps, then rows: the block's rows walk a tree level by
                // level, independent walks the processor overlaps, with the tree and the rows in
                // cache. Each row still adds its path lengths in tree order.
                let mut depth = vec![0.0; out.len()];
                let mut at = vec![0u32; out.len()];
                for &(root, steps) in &trees {
                    at.fill(root as u32);
                    for _ in 0..steps {
                        for (a, row) in at.iter_mut().zip(rows.chunks_exact(d)) {
                            let node = nodes[*a as usize];
                            *a = node.left + u32::from(row[node.feature as usize] > node.threshold);
                        }
                    }
                    for (h, &a) in depth.iter_mut().zip(&at) {
                        *h += self.value[a as usize];
                    }
                }
                for (o, h) in out.iter_mut().zip(depth) {
                    // A single-row subsample makes c(1) = 0: scikit-learn's score is then 2^-1.
                    *o = if denominator != 0.0 {
                        2f64.powf(-(h / denominator))
                    } else {
                        0.5
                    };
                }
                Ok(())
            })?;
        Ok(out)
    }

    pub fn score(&self, x: ArrayView2<f64>) -> DetectResult<Array1<f64>> {
        let s = self.isolation_scores(&row_major(x), &JobCtx::default())?;
        Ok(s.into_iter().map(|v| v + self.offset).collect())
    }

    /// Beyond lengths and indices: every tree must be a tree (children after their parent and
    /// inside its own tree, each node but the root with exactly one parent), no deeper than
    /// `max_samples` allows. Scoring walks each tree for its depth in steps, so a cycle or a
    /// child index outside the tree can never be reached.
    pub(super) fn validate(&self) -> Check {
        let d = self.n_features;
        if d == 0 {
            return Err("n_features is 0".into());
        }
        if self.max_samples == 0 {
            return Err("max_samples is 0".into());
        }
        value("offset", self.offset, Rule::Finite)?;
        let nodes = self.feature.len();
        not_empty("feature", nodes)?;
        // Node indices are u32 and u32::MAX marks a leaf.
        if nodes >= LEAF as usize {
            return Err(format!("the forest has {nodes} nodes, too many"));
        }
        length("left", self.left.len(), nodes)?;
        length("value", self.value.len(), nodes)?;
        not_empty("roots", self.roots.len())?;
        if self.roots[0] != 0 {
            return Err(format!(
                "roots: the first tree starts at node {}, expected 0",
                self.roots[0]
            ));
        }
        if let Some(t) = self.roots.windows(2).position(|w| w[0] >= w[1]) {
            return Err(format!("roots do not increase at tree {}", t + 1));
        }
        let last = *self.roots.last().expect("not empty") as usize;
        if last >= nodes {
            return Err(format!(
                "roots: the last tree starts at node {last}, but there are {nodes} nodes"
            ));
        }
        let max_depth = (self.max_samples.max(2) as f64).log2().ceil() as usize;
        let mut parents = vec![0u8; nodes];
        let mut depth = vec![0usize; nodes];
        for (t, &root) in self.roots.iter().enumerate() {
            let start = root as usize;
            let end = self.roots.get(t + 1).map_or(nodes, |&next| next as usize);
            for i in start..end {
                let f = self.feature[i];
                let v = self.value[i];
                if f == LEAF {
                    // A leaf's value is the path length of the rows ending there.
                    if !Rule::NonNegative.holds(v) {
                        return Err(format!("value of leaf {i} is {v}, expected a number ≥ 0"));
                    }
                    continue;
                }
                if f as usize >= d {
                    return Err(format!(
                        "feature of node {i} is {f}, but the model has {d} features"
                    ));
                }
                if !Rule::Finite.holds(v) {
                    return Err(format!(
                        "value of node {i} is {v}, expected a finite threshold"
                    ));
                }
                let left = self.left[i] as usize;
                if left <= i || left + 1 >= end {
                    return Err(format!(
                        "left of node {i} is {left}: children must come after their node and \
                         inside its tree (nodes {start} to {})",
                        end - 1
                    ));
                }
                for child in [left, left + 1] {
                    if parents[child] != 0 {
                        return Err(format!("node {child} has two parents"));
                    }
                    parents[child] = 1;
                    depth[child] = depth[i] + 1;
                    if depth[child] > max_depth {
                        return Err(format!(
                            "tree {t} is deeper than {max_depth} levels, the most \
                             max_samples = {} allows",
                            self.max_samples
                        ));
                    }
                }
            }
            if let Some(orphan) = (start + 1..end).find(|&i| parents[i] == 0) {
                return Err(format!("node {orphan} of tree {t} has no parent"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_path_length_matches_sklearn() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // sklearn: _average_path_length([256])
        assert!((average_path_length(256) - 10.244_770_920_119_917).abs() < 1e-12);
    }

    #[test]
    fn training_scores_are_the_models_scores() {
        let x = ndarray::Array2::from_shape_fn((300, 4), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1000) as f64 / 100.0
        });
        let forest = IForest {
            n_estimators: 20,
            max_samples: 0,
            max_features: 0.5,
            bootstrap: true,
        };
        let fitted = forest.fit(x.view(), &JobCtx::new(3)).unwrap();
        let Model::IForest(m) = &fitted.model else {
            panic!("not an IForest model")
        };
        assert_eq!(m.score(x.view()).unwrap(), fitted.training_scores);
        // PyOD's offset puts 10 % of the training rows above 0.
        let above = fitted.training_scores.iter().filter(|&&s| s > 0.0).count();
        assert!((25..=35).contains(&above), "{above}");
    }
}

//! Isolation forest: how much each feature isolates the row, along its paths. Typical rows (a
//! sample of the training data) are run through every tree to give each node its mass; each
//! split on the row's path credits its feature with `ln((mass(node) + 1) / (mass(child) + 1))`,
//! the share of the typical rows that split separated the row from (in the spirit of DIFFI,
//! Carletti et al. 2023, with masses instead of depths). A split near the root that cuts the
//! row off from almost everything gets the most; the credits of a path add up to
//! `ln((N + 1) / (mass(leaf) + 1))`, so a row's contributions add up to that, averaged over the
//! trees: how isolated the row ends up.

use rand::SeedableRng;

use super::{ExplainOptions, RowExplanation, Rows};
use crate::detectors::iforest::{IForestModel, LEAF};
use crate::jobctx::{DetectResult, JobCtx};

/// Training rows that give the nodes their masses.
const MASS_ROWS: usize = 4096;

pub fn explain(
    m: &IForestModel,
    train: ndarray::ArrayView2<f64>,
    rows: Rows,
    options: &ExplainOptions,
    ctx: &JobCtx,
) -> DetectResult<Vec<RowExplanation>> {
    let mut mass = vec![0.0f64; m.feature.len()];
    let n = train.nrows();
    if n > 0 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(options.seed);
        for i in rand::seq::index::sample(&mut rng, n, MASS_ROWS.min(n)).iter() {
            let row = train.row(i).to_vec();
            walk(m, &row, |node, _| mass[node] += 1.0);
        }
    }
    (0..rows.len())
        .map(|r| {
            ctx.checkpoint()?;
            let (row, _) = rows.get(train, r);
            let mut credit = vec![0.0; m.n_features];
            walk(m, &row, |node, split| {
                if let Some((feature, parent)) = split {
                    credit[feature] += ((mass[parent] + 1.0) / (mass[node] + 1.0)).ln();
                }
            });
            let trees = m.roots.len().max(1) as f64;
            credit.iter_mut().for_each(|c| *c /= trees);
            Ok(RowExplanation {
                method: "iforest-path-isolation",
                contributions: credit,
                neighbours: Vec::new(),
            })
        })
        .collect()
}

/// Calls `visit(node, split)` for every node on the row's path in every tree, root first;
/// `split` is the feature and the parent node of the split that led there (`None` at a root).
fn walk(m: &IForestModel, row: &[f64], mut visit: impl FnMut(usize, Option<(usize, usize)>)) {
    for &root in &m.roots {
        let mut node = root as usize;
        visit(node, None);
        // Validated trees are finite; the bound only guards the walk itself.
        for _ in 0..m.feature.len() {
            let f = m.feature[node];
            if f == LEAF {
                break;
            }
            let child = m.left[node] as usize + usize::from(row[f as usize] > m.value[node]);
            visit(child, Some((f as usize, node)));
            node = child;
        }
    }
}

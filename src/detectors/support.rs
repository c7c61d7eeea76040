//! Helpers that several detectors share and that belong to none of them: the neighbour-count
//! check of the neighbour methods and the per-task seeds of the randomised ensembles.

use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{DetectError, DetectResult};

/// Needs more rows than neighbours: each point's neighbours exclude the point itself.
pub(crate) fn check_neighbors(x: ArrayView2<f64>, k: usize) -> DetectResult<()> {
    if k >= x.nrows() {
        return Err(DetectError::InvalidData(format!(
            "parameter n_neighbors = {k} needs more rows than that; the matrix has {} rows",
            x.nrows()
        )));
    }
    Ok(())
}

/// One seed per parallel task, drawn in order from a ChaCha8 stream seeded with the job seed:
/// the tasks' random draws never depend on scheduling.
pub(crate) fn task_seeds(seed: u64, n: usize) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen()).collect()
}

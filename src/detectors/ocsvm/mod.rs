//! One-class SVM (Schölkopf et al. 2001) with an RBF kernel, as PyOD's `OCSVM()` fits it
//! through scikit-learn's bundled libsvm: `gamma='auto'` (= 1/d), `nu=0.5`, `tol=1e-3`,
//! shrinking on. Score = −decision function = −(Σ αᵢ K(svᵢ, x) − ρ).
//!
//! The solver is a port of libsvm's `Solver` (Fan, Chen & Lin 2005, the SMO of libsvm 3.x as
//! sklearn ships it) specialised to the one-class problem (all yᵢ = +1, p = 0, Cᵢ = 1):
//! second-order (WSS3) working-set selection, shrinking with one un-shrink near convergence,
//! libsvm's initial α (the first ⌊ν·l⌋ set to 1, the next one fractional) and its ρ. The kernel
//! matrix entries are rounded to `f32` as libsvm's `Qfloat` cache stores them, so the
//! optimisation path (and ρ) follows libsvm's: on the reference data sets the scores agree
//! with PyOD's to ≤ 7e-13 absolute.
//!
//! Speed, without changing any value the solver sees:
//! - Kernel entries are computed 32 side by side from feature-major rows, with a vectorised
//!   `exp` (a few ulps from glibc's). Each entry is checked to round to the same `f32` as
//!   glibc's value, and recomputed with glibc's `exp` when it might not; so every cached
//!   `Qfloat` is libsvm's exactly. Each dot product is still libsvm's sequential sum.
//! - The cache (libsvm's 200 MB of `f32`) lays columns out by solver position, like
//!   libsvm's; the solver's loops run over contiguous memory. Shrinking re-orders a column
//!   lazily, when it is next used, instead of swapping entries in every column.
//! - The initial gradient reuses the symmetric half of the kernel.
//! - The training scores are summed in `f64` with the vectorised `exp` (not from the `f32`
//!   cache), within ~1e-14 of glibc's.
//!
//! Every sum keeps libsvm's order, so results do not depend on the thread count.

mod cache;
mod kernel;
mod model;
mod solver;

use ndarray::{Array2, ArrayView2};

use super::params::{DefaultValue, ParamKind, ParamSpec, Params, Search};
use super::{validate_matrix, DetectResult, Detector, Fitted, JobCtx, Model};
use kernel::RbfKernel;
use model::training_scores;
pub use model::OcsvmModel;
use solver::train;

pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "nu",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1.0,
            min_open: true,
            max_open: false,
            log: false,
        },
        default: DefaultValue::Float(0.5),
        help: "upper bound on the share of training errors, lower bound on support vectors",
        search: Search::Range {
            min: 0.05,
            max: 0.9,
        },
    },
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1e6,
            min_open: false,
            max_open: false,
            log: true,
        },
        default: DefaultValue::Float(0.0),
        help: "RBF kernel coefficient; 0 = 'auto' = 1 / n_features (PyOD's default)",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "tol",
        kind: ParamKind::Float {
            // Below 1e-12 the stopping test asks for more than f64 gradients can deliver: the
            // solver would only stop at its iteration cap.
            min: 1e-12,
            max: 1.0,
            min_open: false,
            max_open: false,
            log: true,
        },
        default: DefaultValue::Float(1e-3),
        help: "stopping tolerance of the SMO solver (libsvm's eps)",
        search: Search::Fixed,
    },
    ParamSpec {
        name: "shrinking",
        kind: ParamKind::Bool,
        default: DefaultValue::Bool(true),
        help: "libsvm's shrinking heuristic (changes the path within tol, not the problem)",
        search: Search::Fixed,
    },
];

pub struct Ocsvm {
    nu: f64,
    gamma: f64,
    tol: f64,
    shrinking: bool,
}

impl Ocsvm {
    pub fn from_params(p: &Params) -> Self {
        Ocsvm {
            nu: p.float("nu"),
            gamma: p.float("gamma"),
            tol: p.float("tol"),
            shrinking: p.bool("shrinking"),
        }
    }
}

impl Detector for Ocsvm {
    fn fit(&self, x: ArrayView2<f64>, ctx: &JobCtx) -> DetectResult<Fitted> {
        validate_matrix(x, 2)?;
        let d = x.ncols();
        let gamma = if self.gamma > 0.0 {
            self.gamma
        } else {
            1.0 / d as f64
        };
        let xs = x.as_standard_layout();
        let data = xs.as_slice().expect("standard layout");
        let solution = train(
            RbfKernel::new(data, d, gamma),
            self.nu,
            self.tol,
            self.shrinking,
            ctx,
        )?;
        ctx.report(0.7);
        let sv: Vec<usize> = (0..x.nrows())
            .filter(|&i| solution.alpha[i].abs() > 0.0)
            .collect();
        let training_scores = training_scores(
            &RbfKernel::new(data, d, gamma),
            &solution.alpha,
            &sv,
            solution.rho,
            ctx,
        )?;
        let mut support_vectors = Array2::zeros((sv.len(), d));
        for (r, &i) in sv.iter().enumerate() {
            support_vectors.row_mut(r).assign(&x.row(i));
        }
        let model = OcsvmModel {
            support_vectors,
            dual_coef: sv.iter().map(|&i| solution.alpha[i]).collect(),
            rho: solution.rho,
            gamma,
        };
        ctx.report(1.0);
        Ok(Fitted {
            model: Model::Ocsvm(model),
            training_scores,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::cache::ColumnCache;
    use super::kernel::{fast_exp_is_safe, PositionedRows};
    use super::*;

    fn data(n: usize, d: usize, scale: f64) -> Array2<f64> {
        let mut state = 7u64;
        Array2::from_shape_fn((n, d), |_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * scale
        })
    }

    /// Every cached entry is glibc's `exp` rounded to `f32`, bit for bit, whatever the scale
    /// of the data: near 1, ordinary, `f32`-subnormal (arguments around −90 to −104), and
    /// underflowing to zero. Columns are checked whole and from an offset that leaves a
    /// remainder shorter than a block.
    #[test]
    fn cached_entries_are_glibcs_values_in_f32() {
        let mut checked = 0;
        for (d, scale) in [(3, 0.5), (6, 4.0), (9, 14.0), (37, 9.0), (2, 60.0)] {
            let x = data(203, d, scale);
            let flat = x.as_slice().unwrap();
            let kernel = RbfKernel::new(flat, d, 1.0 / d as f64);
            let identity: Vec<usize> = (0..203).collect();
            let rows = PositionedRows::new(&kernel, &identity);
            for i in 0..203 {
                let mut column = vec![0.0f32; 203];
                kernel.column_range(i, &rows, 0, &mut column);
                let mut tail = vec![0.0f32; 203 - 37];
                kernel.column_range(i, &rows, 37, &mut tail);
                for j in 0..203 {
                    let expected = kernel.eval(i, j) as f32;
                    assert_eq!(column[j].to_bits(), expected.to_bits(), "d={d} ({i}, {j})");
                    if j >= 37 {
                        assert_eq!(tail[j - 37].to_bits(), expected.to_bits());
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 5 * 203 * 203);
    }

    /// The fast exponential is refused exactly where it could round to a different `f32`
    /// than glibc's: at and next to a midpoint between two `f32`s, and outside its domain.
    #[test]
    fn fast_exp_is_refused_near_an_f32_midpoint() {
        let below = 0.75f32;
        let midpoint = below as f64 + f32::EPSILON as f64 * 0.5 * 0.5;
        assert_eq!(
            midpoint as f32, below,
            "ties go to even: 0.75 has an even mantissa"
        );
        for ulps in [-3i64, 0, 1, 5] {
            let nearby = f64::from_bits((midpoint.to_bits() as i64 + ulps) as u64);
            assert!(
                !fast_exp_is_safe(-0.3, nearby),
                "{ulps} ulps from the midpoint"
            );
        }
        assert!(fast_exp_is_safe(-0.3, below as f64));
        assert!(fast_exp_is_safe(-0.3, 0.7500001));
        assert!(!fast_exp_is_safe(0.1, 1.1));
        // Zero and tiny values round to zero either way.
        assert!(fast_exp_is_safe(-800.0, 0.0));
        assert!(fast_exp_is_safe(-720.0, 1e-310));
    }

    /// After shrinking reorders the positions, a cached column is re-laid out (or extended)
    /// and still holds `K(i, row at p)` at every position `p`, whether it was whole, partly
    /// computed, or computed in a layout two steps back.
    #[test]
    fn cached_columns_follow_the_positions_through_relayouts() {
        let (n, d) = (150, 4);
        let x = data(n, d, 3.0);
        let flat = x.as_slice().unwrap();
        let kernel = RbfKernel::new(flat, d, 0.25);
        let mut cache = ColumnCache::new(RbfKernel::new(flat, d, 0.25));
        let mut order: Vec<usize> = (0..n).collect();
        cache.ensure(3, &order, n);
        cache.ensure(7, &order, 40);
        cache.ensure(11, &order, 90);
        let check = |cache: &ColumnCache, order: &[usize], i: usize, len: usize| {
            for (p, &row) in order.iter().enumerate().take(len) {
                let expected = kernel.eval(i, row) as f32;
                assert_eq!(
                    cache.get(i)[p].to_bits(),
                    expected.to_bits(),
                    "col {i} pos {p}"
                );
            }
        };
        for step in 0..3 {
            // A shrink: some positions swapped with later ones.
            for a in (step..n / 2).step_by(7) {
                order.swap(a, n - 1 - a - step);
            }
            cache.relayout(&order);
            if step == 1 {
                continue; // column 11 below skips a layout
            }
            cache.ensure(3, &order, n);
            check(&cache, &order, 3, n);
            cache.ensure(7, &order, 60);
            check(&cache, &order, 7, 60);
            cache.ensure(11, &order, n);
            check(&cache, &order, 11, n);
        }
    }

    /// The training scores come from cached kernel columns (libsvm's training formula); the
    /// model scores new rows with sklearn's prediction formula. Both must agree.
    #[test]
    fn training_scores_are_the_models_scores() {
        // Narrow rows, and wide rows with far-apart points (the negligible-entry path).
        for (d, scale) in [(4, 2.0), (20, 12.0)] {
            let x = data(300, d, scale);
            let p = Params(
                PARAMS
                    .iter()
                    .map(|s| (s.name.to_string(), s.default.to_value()))
                    .collect(),
            );
            let fitted = Ocsvm::from_params(&p)
                .fit(x.view(), &JobCtx::default())
                .unwrap();
            let again = fitted.model.score(x.view()).unwrap();
            for (a, b) in fitted.training_scores.iter().zip(&again) {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                    "d={d}: {a} vs {b}"
                );
            }
            let Model::Ocsvm(m) = &fitted.model else {
                unreachable!()
            };
            // ν = 0.5: Σα = ν·l, and at least ν·l support vectors.
            let total: f64 = m.dual_coef.iter().sum();
            assert!((total - 150.0).abs() < 1e-9, "{total}");
            assert!(m.dual_coef.len() >= 150);
        }
    }
}

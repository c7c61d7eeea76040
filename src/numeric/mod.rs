//! The numeric machinery under the detectors, apart from the algorithms that use it: none of it
//! knows about detectors, parameters or models. What is here is shared (or general enough to be)
//! and reproduces the reference implementations' arithmetic where PyOD's scores depend on it.
//!
//! * [`linalg`]: small dense linear algebra (symmetric eigen-decomposition, Cholesky, the two
//!   triangular inverses, `pinvh`), no LAPACK. Whether `faer` should replace it is not measured
//!   yet; planned.
//! * [`vexp`]: a branch-free `exp` for non-positive arguments that vectorises (a few ulps from
//!   glibc; used only where results are specified to a tolerance).
//! * [`sums`]: numpy's pairwise summation (sum, mean, the `scipy` distance) and `linspace`.
//! * [`simd`]: running a body compiled for AVX2+FMA or AVX-512 when the CPU has them.
//! * [`kmeans`]: scikit-learn's k-means (k-means++ and Lloyd), in CBLOF's blocked and GMM's
//!   sequential summation orders.
//! * [`special`]: ln Γ and the regularised incomplete gamma functions (the χ² distribution).
//! * [`rows`]: row-major matrices, rows as slices, and the row-parallel driver that checks a
//!   job's cancellation and reports its progress.
//!
//! Replicas of other libraries' internals kept for their exact tie orders and bits (the
//! scikit-learn kd-tree, numpy's argsort, OpenBLAS's `ddot`/`dnrm2`) are [`crate::replicas`].

pub(crate) mod kmeans;
pub(crate) mod linalg;
pub(crate) mod rows;
pub(crate) mod simd;
pub(crate) mod special;
pub(crate) mod sums;
pub(crate) mod vexp;

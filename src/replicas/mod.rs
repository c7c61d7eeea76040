//! Bit-for-bit replicas of other libraries' internals. See `README.md` in this folder.
//!
//! PyOD's scores are the reference: the parity tests (`tests/parity.rs`) compare ours with PyOD's
//! score vectors, many of them bit for bit. Where a score depends on *how* a library computes,
//! not just on what it computes — which of several equidistant points counts as a neighbour,
//! the order a sum is added in, the precision of an intermediate — a clean reimplementation
//! gives different bits, sometimes a different neighbour list and a visibly different score.
//! The modules here reproduce those internals exactly, with the library's source cited in each:
//!
//! * [`sktree`]: scikit-learn's `KDTree` (leaf size 30, its node layout, libstdc++'s
//!   `nth_element` order inside leaves, its k-nearest-neighbour heap) and its brute-force
//!   `ArgKmin` above 15 features: the neighbour lists, ties included, of SOD, ABOD and KDE.
//! * [`npsort`]: `np.argsort` as numpy runs it on an AVX-512 CPU (x86-simd-sort's
//!   `avx512_argsort`), whose order of equal values decides COF's neighbours.
//! * [`openblas`]: OpenBLAS's SkylakeX `ddot` and its x87 `dnrm2` (on the x87 unit itself, and
//!   emulated as the portable path and the test oracle), as numpy and numba call them: SOD's and
//!   ABOD's dot products and norms.
//!
//! Nothing here is an algorithm of ours: change a replica only to follow the library it copies,
//! and keep its tests comparing with that library's results. numpy's pairwise summation, which
//! many detectors share as an ordinary building block, lives in [`crate::numeric::sums`].

pub(crate) mod npsort;
pub(crate) mod openblas;
pub(crate) mod sktree;

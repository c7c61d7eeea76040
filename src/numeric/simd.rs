//! Running code compiled for a wider instruction set than the binary's baseline (x86-64 with
//! SSE2), chosen at run time. The body is written once, as portable Rust marked
//! `#[inline(always)]`; these wrappers are where it gets compiled for AVX2 or AVX-512. The
//! results are the same bits on every path: nothing here turns on fused multiply-adds that the
//! body does not ask for with `mul_add` or intrinsics.
//!
//! Not every hot loop goes through here. Routing pca's and cblof's scoring blocks, kde's
//! distance rows and exp sums, and the kd-tree's query through these closures gave the same
//! bits but ran slower. Those keep their own `#[target_feature]` method around an
//! `#[inline(always)]` body, which the compiler then vectorises for AVX2. Measure before moving
//! one here.

/// Runs `body` compiled for AVX2 and FMA when the CPU has both, as plain code otherwise.
#[inline(always)]
pub(crate) fn with_avx2_fma<R>(body: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { in_avx2_fma(body) };
        }
    }
    body()
}

/// Whether [`in_avx2_fma`] may be called.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Runs `body` compiled for AVX2 and FMA.
///
/// # Safety
/// The CPU must support both ([`has_avx2_fma`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn in_avx2_fma<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// Runs `body` compiled for AVX-512F (which implies AVX2 and FMA).
///
/// # Safety
/// The CPU must support AVX-512F (`is_x86_feature_detected!("avx512f")`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
pub(crate) unsafe fn in_avx512<R>(body: impl FnOnce() -> R) -> R {
    body()
}

//! A branch-free `exp` for non-positive arguments that the compiler vectorises.
//!
//! glibc's `exp` is a function call per value; in O(n²) kernel sums it dominates. This one is
//! the classic Cody–Waite reduction `x = k·ln 2 + r`, `|r| ≤ ln 2 / 2`, a degree-13 Taylor
//! polynomial for `e^r` (truncation below 5e-18 relative) and `2^k` built from its bits. It is
//! within a few ulps of glibc (tested below), not bit-identical, so it is only used where the
//! callers' results are specified to a tolerance.

const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// ln 2 split so that `k · LN2_HI` is exact for every |k| < 2^32 (fdlibm's constants).
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// Adding 1.5·2^52 rounds to an integer and leaves it in the low mantissa bits.
const ROUND_SHIFT: f64 = 6_755_399_441_055_744.0;
/// Below this, `e^x` < 2.5e-308: the result is flushed to zero (no subnormals).
const MIN_ARGUMENT: f64 = -708.0;

/// `e^x` for `x ≤ 0`, or 0 below −708; a few ulps from the correctly rounded value.
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f64) -> f64 {
    exp_with::<false>(x)
}

/// [`exp_nonpositive`] with fused multiply-adds: the same reduction and polynomial, each step
/// rounded once instead of twice, so about half the instructions. Same contract (a few ulps
/// from glibc, zero below −708), different low bits. `mul_add` is exact everywhere (libm's
/// `fma` where the CPU has none), so the result does not depend on the machine; callers
/// compile it with the `fma` target feature (see
/// [`with_avx2_fma`](crate::numeric::simd::with_avx2_fma)) to make it fast.
#[inline(always)]
pub(crate) fn exp_nonpositive_fma(x: f64) -> f64 {
    exp_with::<true>(x)
}

/// The two variants' one body: `a·b + c` rounded twice, or fused when `FUSED`.
#[inline(always)]
fn exp_with<const FUSED: bool>(x: f64) -> f64 {
    let mul_add = |a: f64, b: f64, c: f64| if FUSED { a.mul_add(b, c) } else { a * b + c };
    let clamped = x.max(MIN_ARGUMENT);
    let shifted = mul_add(clamped, LOG2_E, ROUND_SHIFT);
    let k = shifted - ROUND_SHIFT;
    // clamped − k·ln 2 in two steps (negating k is exact).
    let r = mul_add(-k, LN2_LO, mul_add(-k, LN2_HI, clamped));
    // e^r by Horner, 1/13! … 1/1!, 1.
    let mut p = TAYLOR[0];
    for &c in &TAYLOR[1..] {
        p = mul_add(p, r, c);
    }
    // k is in the low bits of `shifted`; 2^k has exponent field k + 1023 (k ≥ −1022 here).
    let k_int = (shifted.to_bits() as i64).wrapping_sub(ROUND_SHIFT.to_bits() as i64);
    let scale = f64::from_bits(((k_int + 1023) as u64) << 52);
    let value = p * scale;
    if x < MIN_ARGUMENT {
        0.0
    } else {
        value
    }
}

/// Taylor coefficients of `e^r`, highest degree first.
const TAYLOR: [f64; 14] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];

/// `Σ_i e^(scale · (min − values[i]))`, with `scale ≥ 0` and `min ≤` every value: the shifted
/// kernel sum of a log-sum-exp. Eight interleaved partial sums (fixed order, so the result
/// depends only on the input) let the loop run in vector registers.
pub(crate) fn sum_exp_below(values: &[f64], min: f64, scale: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { sum_exp_below_avx2(values, min, scale) };
        }
    }
    sum_exp_below_generic(values, min, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_exp_below_avx2(values: &[f64], min: f64, scale: f64) -> f64 {
    sum_exp_below_generic(values, min, scale)
}

#[inline(always)]
fn sum_exp_below_generic(values: &[f64], min: f64, scale: f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += exp_nonpositive((min - v) * scale);
        }
    }
    for (a, &v) in acc.iter_mut().zip(rest) {
        *a += exp_nonpositive((min - v) * scale);
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::simd::with_avx2_fma;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    /// The largest distance in ulps from glibc's `exp` over 2,000,000 points from `from` down
    /// to −708 (where glibc's result is a normal number).
    fn worst_ulps_down_from(from: f64, exp: impl Fn(f64) -> f64) -> u64 {
        let mut worst = 0;
        let mut x = from;
        let step = (from - MIN_ARGUMENT) / 2_000_000.0;
        while x >= MIN_ARGUMENT {
            let (ours, libm) = (exp(x), x.exp());
            if libm > f64::MIN_POSITIVE {
                worst = worst.max(ulps(ours, libm));
            }
            x -= step * 1.000_000_7;
        }
        worst
    }

    #[test]
    fn within_a_few_ulps_of_glibc_over_the_whole_range() {
        // The whole range, plus the exact edges.
        let mut worst = worst_ulps_down_from(0.0, exp_nonpositive);
        for x in [
            0.0,
            -0.0,
            -1e-300,
            -0.5 * std::f64::consts::LN_2,
            -1.0,
            -707.9,
        ] {
            worst = worst.max(ulps(exp_nonpositive(x), x.exp()));
        }
        assert!(worst <= 2, "worst error {worst} ulps");
        assert_eq!(exp_nonpositive(0.0), 1.0);
    }

    #[test]
    fn fused_variant_is_within_a_few_ulps_of_glibc() {
        // From just above 0 (arguments the kernel can see before clamping).
        let worst = worst_ulps_down_from(0.3, |x| with_avx2_fma(|| exp_nonpositive_fma(x)));
        assert!(worst <= 2, "worst error {worst} ulps");
        assert_eq!(exp_nonpositive_fma(0.0), 1.0);
        assert_eq!(exp_nonpositive_fma(-708.5), 0.0);
    }

    #[test]
    fn flushes_to_zero_below_the_range() {
        assert_eq!(exp_nonpositive(-708.5), 0.0);
        assert_eq!(exp_nonpositive(-1e300), 0.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn shifted_sum_matches_the_plain_sum() {
        let values: Vec<f64> = (0..1003).map(|i| (i as f64 * 0.37) % 41.0).collect();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let plain: f64 = values.iter().map(|&v| ((min - v) * 0.5).exp()).sum();
        let fast = sum_exp_below(&values, min, 0.5);
        assert!((fast - plain).abs() <= 1e-13 * plain, "{fast} vs {plain}");
    }
}

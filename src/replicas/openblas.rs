//! OpenBLAS's `ddot` and `dnrm2` as PyOD's numbers pass through them (numpy's and numba's
//! `np.dot` and `np.linalg.norm`, with the reference machine's SkylakeX kernels): the same
//! accumulators, the same order of additions, the same fused multiply-adds, and for `dnrm2` the
//! x87 unit's 64-bit extended precision, run on the x87 itself on x86-64 and emulated elsewhere.
//! SOD and ABOD use them so that their scores match PyOD's to the last bit.

/// OpenBLAS `ddot` for contiguous vectors as built for x86-64 SkylakeX (the kernel numpy's and
/// scipy's bundled OpenBLAS select on the reference machine; numba's `np.dot` calls the same
/// routine). `kernel/x86_64/ddot.c`: the first `n & -16` elements go through
/// `ddot_microk_skylakex-2.c` (four 8-lane accumulators per 32 elements folded to 4 lanes, then
/// four 4-lane accumulators per 16, combined as ((a0+a1)+a2)+a3, then lanes (0+2)+(1+3)); the
/// rest is added in order. GCC contracts the `acc += x*y` statements into fused multiply-adds.
pub(crate) fn openblas_ddot(x: &[f64], y: &[f64]) -> f64 {
    debug_assert_eq!(x.len(), y.len());
    let n = x.len();
    let n1 = n & !15;
    let mut dot = 0.0;
    if n1 > 0 {
        let mut acc = [[0.0f64; 4]; 4];
        let n32 = n1 & !31;
        let mut i = 0;
        if n32 > 0 {
            let mut wide = [[0.0f64; 8]; 4];
            while i < n32 {
                for (b, lanes) in wide.iter_mut().enumerate() {
                    for (l, v) in lanes.iter_mut().enumerate() {
                        let k = i + 8 * b + l;
                        *v = x[k].mul_add(y[k], *v);
                    }
                }
                i += 32;
            }
            for (b, lanes) in acc.iter_mut().enumerate() {
                for (l, v) in lanes.iter_mut().enumerate() {
                    *v = wide[b][l] + wide[b][l + 4];
                }
            }
        }
        while i < n1 {
            for (b, lanes) in acc.iter_mut().enumerate() {
                for (l, v) in lanes.iter_mut().enumerate() {
                    let k = i + 4 * b + l;
                    *v = x[k].mul_add(y[k], *v);
                }
            }
            i += 16;
        }
        let c: [f64; 4] =
            std::array::from_fn(|l| ((acc[0][l] + acc[1][l]) + acc[2][l]) + acc[3][l]);
        dot = (c[0] + c[2]) + (c[1] + c[3]);
    }
    for i in n1..n {
        dot = y[i].mul_add(x[i], dot);
    }
    dot
}

/// `np.linalg.norm(v) ** 2` as numba computes it: OpenBLAS `dnrm2`, then squared.
pub(crate) fn nrm2_squared(v: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    let r = nrm2_on_x87(v);
    #[cfg(not(target_arch = "x86_64"))]
    let r = nrm2_x87(v);
    r * r
}

/// [`nrm2_x87`] on the x87 unit itself, the instructions of OpenBLAS's kernel in its order:
/// the software emulation was ABOD's largest cost.
/// x86-64 Linux starts every thread with the x87 in 64-bit precision and round-to-nearest (the
/// psABI's control word 0x037F), the mode OpenBLAS runs in; the test checks the two agree.
#[cfg(target_arch = "x86_64")]
fn nrm2_on_x87(v: &[f64]) -> f64 {
    let mut out = 0.0f64;
    // SAFETY: reads `v.len()` doubles from `v`, writes one to `out`; the x87 stack is empty at
    // entry and exit (all eight registers are declared clobbered).
    unsafe {
        std::arch::asm!(
            // st0..st3 = D, C, B, A: the accumulators of elements 8k, 8k+1, 8k+2, 8k+3.
            "fldz", "fldz", "fldz", "fldz",
            "test {blocks}, {blocks}",
            "jz 3f",
            "2:",
            // After each load the accumulators sit one place deeper: D at st(1) … A at st(4).
            "fld qword ptr [{p}]", "fmul st(0), st(0)", "faddp st(1), st(0)",
            "fld qword ptr [{p} + 8]", "fmul st(0), st(0)", "faddp st(2), st(0)",
            "fld qword ptr [{p} + 16]", "fmul st(0), st(0)", "faddp st(3), st(0)",
            "fld qword ptr [{p} + 24]", "fmul st(0), st(0)", "faddp st(4), st(0)",
            "fld qword ptr [{p} + 32]", "fmul st(0), st(0)", "faddp st(1), st(0)",
            "fld qword ptr [{p} + 40]", "fmul st(0), st(0)", "faddp st(2), st(0)",
            "fld qword ptr [{p} + 48]", "fmul st(0), st(0)", "faddp st(3), st(0)",
            "fld qword ptr [{p} + 56]", "fmul st(0), st(0)", "faddp st(4), st(0)",
            "add {p}, 64",
            "dec {blocks}",
            "jnz 2b",
            "3:",
            // The last len % 8 elements all go to D.
            "test {tail}, {tail}",
            "jz 5f",
            "4:",
            "fld qword ptr [{p}]", "fmul st(0), st(0)", "faddp st(1), st(0)",
            "add {p}, 8",
            "dec {tail}",
            "jnz 4b",
            "5:",
            // A + ((B + D) + C), the square root, and the store that rounds to a double.
            "faddp st(2), st(0)",
            "faddp st(1), st(0)",
            "faddp st(1), st(0)",
            "fsqrt",
            "fstp qword ptr [{out}]",
            p = inout(reg) v.as_ptr() => _,
            blocks = inout(reg) v.len() / 8 => _,
            tail = inout(reg) v.len() % 8 => _,
            out = in(reg) &mut out as *mut f64,
            out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
            out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
            options(nostack),
        );
    }
    out
}

/// OpenBLAS's x86-64 `dnrm2` (`kernel/x86_64/nrm2.S`) runs on the x87 unit: each square is
/// rounded to 64 significant bits, four accumulators (elements 8k+3, 8k+2, 8k+1, 8k (+ the
/// tail)) are added in 64-bit precision and combined as A + ((B + D) + C), `fsqrt` rounds to
/// 64 bits, and the store rounds to double. [`X87`] reproduces that arithmetic exactly for the
/// non-negative values involved (the portable path, and the x87 path's test oracle).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn nrm2_x87(v: &[f64]) -> f64 {
    let mut acc = [X87::ZERO; 4]; // D, C, B, A
    let blocks = v.len() / 8;
    for b in 0..blocks {
        for half in 0..2 {
            for lane in 0..4 {
                let x = X87::from_f64(v[8 * b + 4 * half + lane]);
                acc[lane] = acc[lane].add(x.mul(x));
            }
        }
    }
    for &x in &v[8 * blocks..] {
        let x = X87::from_f64(x);
        acc[0] = acc[0].add(x.mul(x));
    }
    let [d, c, b, a] = acc;
    a.add(b.add(d).add(c)).sqrt().to_f64()
}

/// A non-negative x87 extended-precision value: `m · 2^e` with a 64-bit significand (bit 63
/// set), or zero. Round-to-nearest-even throughout, as the x87 default control word.
#[derive(Clone, Copy, Debug, PartialEq)]
struct X87 {
    m: u64,
    e: i32,
}

impl X87 {
    const ZERO: X87 = X87 { m: 0, e: 0 };

    fn from_f64(x: f64) -> X87 {
        let x = x.abs();
        if x == 0.0 {
            return X87::ZERO;
        }
        let bits = x.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (m, e) = if exp == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), exp - 1075)
        };
        let shift = m.leading_zeros() as i32;
        X87 {
            m: m << shift,
            e: e - shift,
        }
    }

    /// Rounds `v · 2^e` (v > 0) to a 64-bit significand.
    fn round(v: u128, e: i32) -> X87 {
        let top = 127 - v.leading_zeros() as i32; // index of the leading bit
        if top <= 63 {
            return X87 {
                m: (v << (63 - top)) as u64,
                e: e - (63 - top),
            };
        }
        let drop = (top - 63) as u32;
        let mut m = v >> drop;
        let rest = v & ((1u128 << drop) - 1);
        let half = 1u128 << (drop - 1);
        if rest > half || (rest == half && m & 1 == 1) {
            m += 1;
        }
        let mut e = e + drop as i32;
        if m >> 64 != 0 {
            m >>= 1;
            e += 1;
        }
        X87 { m: m as u64, e }
    }

    fn mul(self, other: X87) -> X87 {
        if self.m == 0 || other.m == 0 {
            return X87::ZERO;
        }
        X87::round(self.m as u128 * other.m as u128, self.e + other.e)
    }

    fn add(self, other: X87) -> X87 {
        if self.m == 0 {
            return other;
        }
        if other.m == 0 {
            return self;
        }
        let (hi, lo) = if self.e >= other.e {
            (self, other)
        } else {
            (other, self)
        };
        // Both significands at bit 125 of a u128 (room for the carry), the smaller shifted right
        // by the exponent difference with a sticky bit for whatever falls off.
        let base = hi.e - 62;
        let a = (hi.m as u128) << 62;
        let diff = (hi.e - lo.e) as u32;
        let b_full = (lo.m as u128) << 62;
        let b = if diff >= 127 {
            1
        } else {
            let shifted = b_full >> diff;
            if shifted << diff != b_full {
                shifted | 1
            } else {
                shifted
            }
        };
        X87::round(a + b, base)
    }

    fn sqrt(self) -> X87 {
        if self.m == 0 {
            return X87::ZERO;
        }
        // N = m · 2^s with e − s even and N in [2^126, 2^128).
        let s = if (self.e - 63).rem_euclid(2) == 0 {
            63
        } else {
            64
        };
        let n = (self.m as u128) << s;
        let mut r = ((n as f64).sqrt() as u128).min(u64::MAX as u128);
        while r * r > n {
            r -= 1;
        }
        while r < u64::MAX as u128 && (r + 1) * (r + 1) <= n {
            r += 1;
        }
        let rem = n - r * r;
        if rem > r {
            r += 1; // sqrt(n) > r + 1/2 (exact halves cannot occur)
        }
        X87::round(r, (self.e - s) / 2)
    }

    fn to_f64(self) -> f64 {
        if self.m == 0 {
            return 0.0;
        }
        // Round the 64-bit significand to 53 bits (normal doubles only here).
        let drop = 11u32;
        let mut m = self.m >> drop;
        let rest = self.m & ((1u64 << drop) - 1);
        let half = 1u64 << (drop - 1);
        if rest > half || (rest == half && m & 1 == 1) {
            m += 1;
        }
        let mut e = self.e + drop as i32;
        if m >> 53 != 0 {
            m >>= 1;
            e += 1;
        }
        let half = e / 2;
        m as f64 * 2f64.powi(half) * 2f64.powi(e - half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_x87_unit_gives_the_emulated_dnrm2_bit_for_bit() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for len in 0..48 {
            for trial in 0..4000 {
                // Spreads of magnitude, so that additions round at every position.
                let spread = [1.0, 1e3, 1e12, 1e-150][trial % 4];
                let v: Vec<f64> = (0..len)
                    .map(|_| rng.gen_range(-1.0..1.0) * spread * rng.gen_range(0.0f64..8.0).exp())
                    .collect();
                let (emulated, on_x87) = (nrm2_x87(&v), nrm2_on_x87(&v));
                assert_eq!(emulated.to_bits(), on_x87.to_bits(), "len {len}: {v:?}");
            }
        }
    }
}

//! `np.argsort` of a float64 row, default kind, as numpy runs it on an AVX-512 CPU (the PyOD
//! reference machine): x86-simd-sort's `avx512_argsort` (`xss-common-argsort.h`,
//! `xss-network-keyvaluesort.hpp`, `avx512-64bit-common.h`), replayed lane by lane in scalar
//! code. The algorithm is a quicksort (median-of-8 pivot, vectorised partition that writes
//! from both ends) with bitonic key/index networks for the ranges of at most 256 elements.
//! It is not stable, and the order it leaves equal values in decides which of several
//! equidistant points PyOD's COF takes as a neighbour, and in which order.
//!
//! Only the order of the first `keep` positions is needed, so ranges entirely past them are not
//! sorted (sorting a range never moves elements across its bounds).

/// The first `keep` entries of `np.argsort(values)` (AVX-512 kind) in `arg`; the rest of `arg`
/// holds the remaining indices in no useful order.
pub(crate) fn argsort_prefix(values: &[f64], keep: usize, arg: &mut Vec<usize>) {
    let n = values.len();
    arg.clear();
    arg.extend(0..n);
    if n > 1 {
        let max_iters = 2 * ((n as f64).log2() as usize);
        argsort_range(values, arg, 0, n - 1, max_iters as isize, keep);
    }
}

const LANES: usize = 8;
const NETWORK_MAX: usize = 256;
const UNROLL: usize = 4;

/// `argsort_64bit_(arr, arg, left, right, max_iters)`, `right` inclusive.
fn argsort_range(
    v: &[f64],
    arg: &mut [usize],
    left: usize,
    right: usize,
    max_iters: isize,
    keep: usize,
) {
    if left >= keep {
        return;
    }
    if max_iters <= 0 {
        std_sort(&mut arg[left..=right], &|a, b| v[a] < v[b]);
        return;
    }
    if right + 1 - left <= NETWORK_MAX {
        argsort_n(v, &mut arg[left..=right]);
        return;
    }
    let pivot = pivot_of(v, arg, left, right);
    let (pivot_index, smallest, biggest) = partition_unrolled(v, arg, left, right + 1, pivot);
    if pivot != smallest {
        argsort_range(v, arg, left, pivot_index - 1, max_iters - 1, keep);
    }
    if pivot != biggest {
        argsort_range(v, arg, pivot_index, right, max_iters - 1, keep);
    }
}

/// `get_pivot_64bit`: the fifth smallest of eight evenly spaced samples.
fn pivot_of(v: &[f64], arg: &[usize], left: usize, right: usize) -> f64 {
    if right - left >= LANES {
        let size = (right - left) / 8;
        let mut samples: [f64; 8] = std::array::from_fn(|t| v[arg[left + (t + 1) * size]]);
        samples.sort_by(|a, b| a.total_cmp(b));
        samples[4]
    } else {
        v[arg[right]]
    }
}

/// `partition_vec_avx512`: lanes below the pivot are compress-stored at `arg[left..]`, the others
/// at `arg[right − count..]`, both in lane order. Returns how many were not below.
/// (All lanes are read before any is written, as the register holds them.)
fn partition_vec(
    v: &[f64],
    arg: &mut [usize],
    left: usize,
    right: usize,
    lanes: &[usize; LANES],
    pivot: f64,
    min_max: &mut (f64, f64),
) -> usize {
    let ge: [bool; LANES] = std::array::from_fn(|l| v[lanes[l]] >= pivot);
    let amount_ge = ge.iter().filter(|&&g| g).count();
    let (mut lo, mut hi) = (left, right - amount_ge);
    for l in 0..LANES {
        let x = v[lanes[l]];
        min_max.0 = min_max.0.min(x);
        min_max.1 = min_max.1.max(x);
        if ge[l] {
            arg[hi] = lanes[l];
            hi += 1;
        } else {
            arg[lo] = lanes[l];
            lo += 1;
        }
    }
    amount_ge
}

fn load(arg: &[usize], at: usize) -> [usize; LANES] {
    std::array::from_fn(|l| arg[at + l])
}

/// `partition_avx512_unrolled<…, 4>` for a range of more than 256 elements (`right` exclusive):
/// returns the split point and the range's smallest and largest values.
fn partition_unrolled(
    v: &[f64],
    arg: &mut [usize],
    mut left: usize,
    mut right: usize,
    pivot: f64,
) -> (usize, f64, f64) {
    let block = UNROLL * LANES;
    let mut mm = (f64::INFINITY, f64::NEG_INFINITY);
    // Shorten the range to a multiple of 32, one element at a time from the left.
    for _ in 0..(right - left) % block {
        let x = v[arg[left]];
        if x < mm.0 {
            mm.0 = x;
        }
        if mm.1 < x {
            mm.1 = x;
        }
        // `!(x < pivot)`; no NaN reaches the sort (numpy's NaN path is for NaN input).
        if x >= pivot {
            right -= 1;
            arg.swap(left, right);
        } else {
            left += 1;
        }
    }
    if left == right {
        return (left, mm.0, mm.1);
    }
    let vec_left: [[usize; LANES]; UNROLL] = std::array::from_fn(|ii| load(arg, left + LANES * ii));
    let vec_right: [[usize; LANES]; UNROLL] =
        std::array::from_fn(|ii| load(arg, right - LANES * (UNROLL - ii)));
    let mut r_store = right - LANES;
    let mut l_store = left;
    left += block;
    right -= block;
    while right != left {
        let current: [[usize; LANES]; UNROLL] =
            if r_store.wrapping_add(LANES) - right < left - l_store {
                right -= block;
                std::array::from_fn(|ii| load(arg, right + ii * LANES))
            } else {
                let c = std::array::from_fn(|ii| load(arg, left + ii * LANES));
                left += block;
                c
            };
        for lanes in &current {
            let right_end = r_store.wrapping_add(LANES);
            let amount = partition_vec(v, arg, l_store, right_end, lanes, pivot, &mut mm);
            l_store += LANES - amount;
            r_store = r_store.wrapping_sub(amount);
        }
    }
    for lanes in vec_left.iter().chain(vec_right.iter()) {
        let right_end = r_store.wrapping_add(LANES);
        let amount = partition_vec(v, arg, l_store, right_end, lanes, pivot, &mut mm);
        l_store += LANES - amount;
        // Unsigned in C: it may wrap below zero after the last store, never to be used again.
        r_store = r_store.wrapping_sub(amount);
    }
    (l_store, mm.0, mm.1)
}

/// One zmm register of keys and the matching register of indices.
#[derive(Clone, Copy)]
struct Reg {
    k: [f64; LANES],
    i: [usize; LANES],
}

impl Reg {
    /// `cmp_merge` against a permutation of itself: lanes in `mask` take the max of the pair,
    /// the others the min; an index moves only if its key lost (equal keys never move).
    fn cmp_merge(&mut self, partner: impl Fn(usize) -> usize, mask: u8) {
        let old = *self;
        for l in 0..LANES {
            let p = partner(l);
            let (a, b) = (old.k[l], old.k[p]);
            // vtype::min(in2, in1) / max(in2, in1): `_mm512_min_pd(b, a)` = b < a ? b : a.
            let key = if mask >> l & 1 == 1 {
                if b > a {
                    b
                } else {
                    a
                }
            } else if b < a {
                b
            } else {
                a
            };
            self.k[l] = key;
            self.i[l] = if key == a { old.i[l] } else { old.i[p] };
        }
    }

    /// `sort_zmm_64bit` (key/index): the 8-lane bitonic network.
    fn sort(&mut self) {
        self.cmp_merge(|l| l ^ 1, 0xAA);
        self.cmp_merge(|l| if l < 4 { 3 - l } else { 11 - l }, 0xCC);
        self.cmp_merge(|l| l ^ 1, 0xAA);
        self.cmp_merge(|l| 7 - l, 0xF0);
        self.cmp_merge(|l| l ^ 2, 0xCC);
        self.cmp_merge(|l| l ^ 1, 0xAA);
    }

    /// `bitonic_merge_zmm_64bit`: half cleaners over 4, 2 and 1 lanes.
    fn bitonic_merge(&mut self) {
        self.cmp_merge(|l| l ^ 4, 0xF0);
        self.cmp_merge(|l| l ^ 2, 0xCC);
        self.cmp_merge(|l| l ^ 1, 0xAA);
    }

    fn reverse(&mut self) {
        self.k.reverse();
        self.i.reverse();
    }
}

/// `COEX`: lane-wise min into `a`, max into `b`; indices follow only a strictly smaller key.
fn coex(regs: &mut [Reg], x: usize, y: usize) {
    let (a, b) = (regs[x], regs[y]);
    for l in 0..LANES {
        let lo = if b.k[l] < a.k[l] { b.k[l] } else { a.k[l] };
        let hi = if b.k[l] > a.k[l] { b.k[l] } else { a.k[l] };
        let keep = lo == a.k[l];
        regs[x].k[l] = lo;
        regs[y].k[l] = hi;
        regs[x].i[l] = if keep { a.i[l] } else { b.i[l] };
        regs[y].i[l] = if keep { b.i[l] } else { a.i[l] };
    }
}

/// `bitonic_merge_n_vec<n>` on `regs` (n registers, each sorted; pairs of sorted halves).
fn bitonic_merge_n(regs: &mut [Reg]) {
    let n = regs.len();
    for i in 0..n / 2 {
        regs[n - 1 - i].reverse();
        coex(regs, i, n - 1 - i);
        regs[n - 1 - i].reverse();
    }
    let mut num = n / 2;
    while num >= 2 {
        for j in (0..n).step_by(num) {
            for i in 0..num / 2 {
                coex(regs, i + j, i + j + num / 2);
            }
        }
        num /= 2;
    }
    for r in regs.iter_mut() {
        r.bitonic_merge();
    }
}

/// `argsort_n<…, 256>`: at most 256 indices sorted by key with the register networks.
fn argsort_n(v: &[f64], arg: &mut [usize]) {
    let n = arg.len();
    let mut num_vecs = NETWORK_MAX / LANES;
    while num_vecs > 1 && n * 2 <= num_vecs * LANES {
        num_vecs /= 2;
    }
    let mut regs: Vec<Reg> = (0..num_vecs)
        .map(|r| {
            let mut reg = Reg {
                k: [f64::INFINITY; LANES],
                i: [usize::MAX; LANES],
            };
            for l in 0..LANES {
                let at = r * LANES + l;
                if at < n {
                    reg.i[l] = arg[at];
                    reg.k[l] = v[arg[at]];
                }
            }
            reg
        })
        .collect();
    for r in regs.iter_mut() {
        r.sort();
    }
    let mut per = 2;
    while per <= num_vecs {
        for group in regs.chunks_mut(per) {
            bitonic_merge_n(group);
        }
        per *= 2;
    }
    for (at, slot) in arg.iter_mut().enumerate() {
        *slot = regs[at / LANES].i[at % LANES];
    }
}

/// libstdc++'s `std::sort` (introsort, then insertion sort), x86-simd-sort's fallback when the
/// quicksort makes no progress.
fn std_sort(a: &mut [usize], less: &impl Fn(usize, usize) -> bool) {
    if a.len() < 2 {
        return;
    }
    let depth = 2 * (usize::BITS - 1 - a.len().leading_zeros()) as usize;
    introsort_loop(a, depth, less);
    // __final_insertion_sort
    if a.len() > 16 {
        super::sktree::insertion_sort(&mut a[..16], less);
        for i in 16..a.len() {
            let val = a[i];
            let mut j = i;
            while less(val, a[j - 1]) {
                a[j] = a[j - 1];
                j -= 1;
            }
            a[j] = val;
        }
    } else {
        super::sktree::insertion_sort(a, less);
    }
}

fn introsort_loop(a: &mut [usize], mut depth: usize, less: &impl Fn(usize, usize) -> bool) {
    let mut last = a.len();
    while last > 16 {
        if depth == 0 {
            // __partial_sort(first, last, last): heap select, then sort_heap.
            let s = &mut a[..last];
            super::sktree::make_heap(s, less);
            let mut end = s.len();
            while end > 1 {
                end -= 1;
                let value = s[end];
                s[end] = s[0];
                super::sktree::adjust_heap(&mut s[..end], 0, value, less);
            }
            return;
        }
        depth -= 1;
        let cut = super::sktree::unguarded_partition_pivot(a, 0, last, less);
        introsort_loop(&mut a[cut..last], depth, less);
        last = cut;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_a_sort() {
        let mut state = 3u64;
        for n in [
            1usize, 2, 7, 8, 9, 63, 64, 65, 200, 256, 257, 300, 683, 2000,
        ] {
            for levels in [3u64, 1000] {
                let v: Vec<f64> = (0..n)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                        ((state >> 33) % levels) as f64
                    })
                    .collect();
                let mut arg = Vec::new();
                argsort_prefix(&v, n, &mut arg);
                let mut seen = arg.clone();
                seen.sort();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
                for w in arg.windows(2) {
                    assert!(v[w[0]] <= v[w[1]], "n = {n}");
                }
                // The pruned prefix agrees with the full sort.
                let mut prefix = Vec::new();
                argsort_prefix(&v, 21.min(n), &mut prefix);
                assert_eq!(&prefix[..21.min(n)], &arg[..21.min(n)]);
            }
        }
    }
}

//! Sums in numpy's order, so that results reproduce numpy's bit for bit where PyOD relies on
//! them: row sums and means use numpy's pairwise summation, not a plain loop, and so does the
//! Euclidean distance as `scipy.spatial.distance_matrix` computes it; plus `np.linspace`.

/// numpy's `pairwise_sum` over a contiguous slice (`numpy/_core/src/umath/loops_utils.h.src`):
/// fewer than 8 values are added in order; up to 128 use eight interleaved accumulators;
/// longer slices are split in halves (at a multiple of 8).
pub fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &v in a {
            res += v;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// `np.sum(row)` of a contiguous row: the pairwise sum of all its elements (the parity tests
/// against PyOD's scores pin this down bit for bit).
pub fn numpy_sum(a: &[f64]) -> f64 {
    pairwise_sum(a)
}

/// `np.mean(row)`: numpy's sum divided by the count.
pub fn numpy_mean(a: &[f64]) -> f64 {
    numpy_sum(a) / a.len() as f64
}

/// `np.linspace(start, stop, n)`: `i * step + start`, the last value exactly `stop`.
pub fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
    v[n - 1] = stop;
    v
}

/// `np.sum(np.abs(b − a)**2) ** 0.5` over a contiguous row, as `scipy.spatial.distance_matrix`
/// computes it: numpy's pairwise summation (eight interleaved accumulators from 8 values on,
/// halving above 128), identical to [`numpy_sum`] of the squared differences.
pub(crate) fn numpy_distance(a: &[f64], b: &[f64]) -> f64 {
    pairwise_sq_diff(a, b).sqrt()
}

fn pairwise_sq_diff(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len();
    let sq = |i: usize| {
        let diff = a[i] - b[i];
        diff * diff
    };
    if n < 8 {
        let mut res = 0.0;
        for i in 0..n {
            res += sq(i);
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        for (j, rj) in r.iter_mut().enumerate() {
            *rj = sq(j);
        }
        let mut i = 8;
        while i < n - (n % 8) {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += sq(i + j);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += sq(i);
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sq_diff(&a[..n2], &b[..n2]) + pairwise_sq_diff(&a[n2..], &b[n2..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_groups_like_numpy() {
        // Values whose sum depends on the order of additions.
        let a: Vec<f64> = (0..20)
            .map(|i| 1.0 / (i as f64 + 1.0) * if i % 2 == 0 { 1e16 } else { 1.0 })
            .collect();
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[1..9]);
        for j in 0..8 {
            r[j] += a[9 + j];
        }
        let mut expected = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        expected += a[17];
        expected += a[18];
        expected += a[19];
        assert_eq!(pairwise_sum(&a[1..]), expected);
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
    }

    #[test]
    fn linspace_ends_exactly() {
        let v = linspace(0.1, 1.0, 7);
        assert_eq!(v[0], 0.1);
        assert_eq!(v[6], 1.0);
        assert_eq!(v[3], 3.0 * ((1.0 - 0.1) / 6.0) + 0.1);
    }
}

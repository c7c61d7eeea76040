//! Small dense linear algebra for the linear detectors (PCA, MCD, GMM) and the TUI's projection:
//! no LAPACK, matrices are at most a few dozen columns wide. Matrices are row-major `d × d`
//! slices. Matrix products go through ndarray's `dot`; see docs/architecture.md for the `faer`
//! question.
//!
//! * [`sym_eigen_tridiagonal`]: Householder reduction and implicit QL (EISPACK `tred2`/`tql2`,
//!   after JAMA): backward stable, used for PCA's covariance (scores within 6e-14 relative of
//!   PyOD's LAPACK `syevd`, the same level as PyOD's own change between CPUs) and MCD's C-steps.
//! * [`sym_eigen`] (tests only): cyclic Jacobi with a relative-accuracy stopping rule, the
//!   independent oracle for the QL version (several times more operations).
//! * [`cholesky`], [`logdet_spd`]: for Mahalanobis distances and `log det` of covariances.
//! * [`inverse_lower_by_substitution`] (MCD) and [`inverse_lower`] (GMM): the
//!   inverse of a Cholesky factor, two orders of the same operations that differ only in the
//!   sign of exact zeros (kept apart so that neither caller's bits change).
//! * [`pinvh`]: scipy's `linalg.pinvh` (eigenvalues below `d·ε·max|λ|` are dropped).

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi: `(values, vectors)` with
/// `vectors` row-major, column `k` the eigenvector of `values[k]`. Unsorted.
#[cfg(test)]
pub fn sym_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(a.len(), d * d);
    let mut m = a.to_vec();
    // Symmetrise exactly: only the upper triangle is trusted.
    for i in 0..d {
        for j in 0..i {
            m[i * d + j] = m[j * d + i];
        }
    }
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    if d == 1 {
        return (vec![m[0]], v);
    }
    for _sweep in 0..100 {
        let mut rotated = false;
        for p in 0..d - 1 {
            for q in p + 1..d {
                let apq = m[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let app = m[p * d + p];
                let aqq = m[q * d + q];
                // Relative criterion (Demmel & Veselić): an off-diagonal entry negligible
                // against the geometric mean of its diagonal entries changes no eigenvalue
                // beyond rounding.
                if apq.abs() <= f64::EPSILON * 0.5 * (app.abs() * aqq.abs()).sqrt()
                    || apq.abs() < f64::MIN_POSITIVE
                {
                    m[p * d + q] = 0.0;
                    m[q * d + p] = 0.0;
                    continue;
                }
                rotated = true;
                let theta = (aqq - app) / (2.0 * apq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta
                } else {
                    let t = 1.0 / (theta.abs() + (theta * theta + 1.0).sqrt());
                    if theta < 0.0 {
                        -t
                    } else {
                        t
                    }
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                let tau = s / (1.0 + c);
                m[p * d + p] = app - t * apq;
                m[q * d + q] = aqq + t * apq;
                m[p * d + q] = 0.0;
                m[q * d + p] = 0.0;
                for r in 0..d {
                    if r == p || r == q {
                        continue;
                    }
                    let arp = m[r * d + p];
                    let arq = m[r * d + q];
                    let nrp = arp - s * (arq + tau * arp);
                    let nrq = arq + s * (arp - tau * arq);
                    m[r * d + p] = nrp;
                    m[p * d + r] = nrp;
                    m[r * d + q] = nrq;
                    m[q * d + r] = nrq;
                }
                for r in 0..d {
                    let vrp = v[r * d + p];
                    let vrq = v[r * d + q];
                    v[r * d + p] = vrp - s * (vrq + tau * vrp);
                    v[r * d + q] = vrq + s * (vrp - tau * vrq);
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let values = (0..d).map(|i| m[i * d + i]).collect();
    (values, v)
}

/// Eigen-decomposition of a symmetric matrix by Householder tridiagonalisation and the
/// implicit QL algorithm (EISPACK `tred2` / `tql2` as in JAMA): unsorted `values`, `vectors`
/// row-major with column `k` the eigenvector of `values[k]`.
pub fn sym_eigen_tridiagonal(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(a.len(), n * n);
    let mut v = a.to_vec();
    for i in 0..n {
        for j in 0..i {
            v[i * n + j] = v[j * n + i];
        }
    }
    if n == 1 {
        return (vec![v[0]], vec![1.0]);
    }
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    // tred2: Householder reduction to tridiagonal form.
    for j in 0..n {
        d[j] = v[(n - 1) * n + j];
    }
    for i in (1..n).rev() {
        let mut scale = 0.0;
        let mut h = 0.0;
        for k in 0..i {
            scale += d[k].abs();
        }
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[(i - 1) * n + j];
                v[i * n + j] = 0.0;
                v[j * n + i] = 0.0;
            }
        } else {
            for k in 0..i {
                d[k] /= scale;
                h += d[k] * d[k];
            }
            let mut f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            for ej in e.iter_mut().take(i) {
                *ej = 0.0;
            }
            for j in 0..i {
                f = d[j];
                v[j * n + i] = f;
                g = e[j] + v[j * n + j] * f;
                for k in j + 1..i {
                    g += v[k * n + j] * d[k];
                    e[k] += v[k * n + j] * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                f = d[j];
                g = e[j];
                for k in j..i {
                    v[k * n + j] -= f * e[k] + g * d[k];
                }
                d[j] = v[(i - 1) * n + j];
                v[i * n + j] = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    for i in 0..n - 1 {
        v[(n - 1) * n + i] = v[i * n + i];
        v[i * n + i] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[k * n + i + 1] / h;
            }
            for j in 0..=i {
                let mut g = 0.0;
                for k in 0..=i {
                    g += v[k * n + i + 1] * v[k * n + j];
                }
                for k in 0..=i {
                    v[k * n + j] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[k * n + i + 1] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[(n - 1) * n + j];
        v[(n - 1) * n + j] = 0.0;
    }
    v[(n - 1) * n + n - 1] = 1.0;
    e[0] = 0.0;
    // tql2: implicit QL on the tridiagonal matrix.
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0;
    let mut tst1: f64 = 0.0;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 {
            if e[m].abs() <= eps * tst1 {
                break;
            }
            m += 1;
        }
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for di in d.iter_mut().skip(l + 2) {
                    *di -= h;
                }
                f += h;
                p = d[m];
                let mut c = 1.0;
                let mut c2 = c;
                let mut c3 = c;
                let el1 = e[l + 1];
                let mut s = 0.0;
                let mut s2 = 0.0;
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    for k in 0..n {
                        let vk = &mut v[k * n + i..k * n + i + 2];
                        let h = vk[1];
                        vk[1] = s * vk[0] + c * h;
                        vk[0] = c * vk[0] - s * h;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if !(e[l].abs() > eps * tst1) || iter >= 100 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
    (d, v)
}

/// The width from which faer's blocked decomposition replaces [`sym_eigen_tridiagonal`]. Below
/// it ours is about as fast and is what PCA's PyOD parity was established with; above it faer
/// is several times faster (docs/architecture.md, "Dense linear algebra").
pub const FAER_EIGEN_MIN_DIM: usize = 64;

/// faer's symmetric eigen-decomposition, in [`sym_eigen_tridiagonal`]'s layout (values in
/// faer's order, eigenvectors as the columns of a row-major `d × d`), or `None` if it did not
/// converge. Sequential on purpose: the result must not depend on the thread count.
pub fn sym_eigen_faer(a: &[f64], d: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::evd::{self, ComputeEigenvectors};
    use faer::{Mat, Par};

    let m = Mat::<f64>::from_fn(d, d, |i, j| a[i * d + j]);
    let mut s = faer::diag::Diag::<f64>::zeros(d);
    let mut u = Mat::<f64>::zeros(d, d);
    let params = Default::default();
    let mut mem = MemBuffer::try_new(evd::self_adjoint_evd_scratch::<f64>(
        d,
        ComputeEigenvectors::Yes,
        Par::Seq,
        params,
    ))
    .ok()?;
    evd::self_adjoint_evd(
        m.as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        Par::Seq,
        MemStack::new(&mut mem),
        params,
    )
    .ok()?;
    let values: Vec<f64> = (0..d).map(|k| s[k]).collect();
    let mut v = vec![0.0; d * d];
    for r in 0..d {
        for k in 0..d {
            v[r * d + k] = u[(r, k)];
        }
    }
    values.iter().all(|v| v.is_finite()).then_some((values, v))
}

/// [`sym_eigen_tridiagonal`] with the eigenvalues in descending order (stable for ties) and the
/// vectors returned as rows: `vectors[k*d..(k+1)*d]` belongs to `values[k]`. Each vector's sign
/// is fixed by scikit-learn's `svd_flip(u_based_decision=False)` rule (see [`flip_signs`]),
/// so callers (PCA, the TUI's projection) get signs that do not depend on the solver.
pub fn sym_eigen_sorted_desc(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let (values, v) = if d >= FAER_EIGEN_MIN_DIM {
        sym_eigen_faer(a, d).unwrap_or_else(|| sym_eigen_tridiagonal(a, d))
    } else {
        sym_eigen_tridiagonal(a, d)
    };
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| values[j].total_cmp(&values[i]));
    let sorted_values = order.iter().map(|&k| values[k]).collect();
    let mut rows = vec![0.0; d * d];
    for (out, &k) in order.iter().enumerate() {
        for r in 0..d {
            rows[out * d + r] = v[r * d + k];
        }
    }
    flip_signs(&mut rows, d);
    (sorted_values, rows)
}

/// scikit-learn's `svd_flip(u_based_decision=False)` sign rule for eigenvectors stored as
/// rows (`d` wide): each row's largest-magnitude entry (the first of equals) made positive.
fn flip_signs(rows: &mut [f64], d: usize) {
    for row in rows.chunks_exact_mut(d) {
        let mut best = 0;
        for (i, v) in row.iter().enumerate() {
            if v.abs() > row[best].abs() {
                best = i;
            }
        }
        if row[best] < 0.0 {
            for v in row.iter_mut() {
                *v = -*v;
            }
        }
    }
}

/// Lower-triangular `L` with `L Lᵀ = a`, or `None` if `a` is not (numerically) positive
/// definite: a pivot that is not strictly positive.
pub fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for j in 0..d {
        let mut diag = a[j * d + j];
        for k in 0..j {
            diag -= l[j * d + k] * l[j * d + k];
        }
        // Not strictly positive, or NaN.
        if diag.is_nan() || diag <= 0.0 || !diag.is_finite() {
            return None;
        }
        let ljj = diag.sqrt();
        l[j * d + j] = ljj;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            l[i * d + j] = s / ljj;
        }
    }
    Some(l)
}

/// `log det a` from its Cholesky factor.
pub fn logdet_from_cholesky(l: &[f64], d: usize) -> f64 {
    2.0 * (0..d).map(|i| l[i * d + i].ln()).sum::<f64>()
}

/// `log det a` for a symmetric matrix, `-inf` when it is singular or not positive definite
/// (sklearn's `fast_logdet` semantics).
#[cfg(test)]
pub fn logdet_spd(a: &[f64], d: usize) -> f64 {
    match cholesky(a, d) {
        Some(l) => logdet_from_cholesky(&l, d),
        None => f64::NEG_INFINITY,
    }
}

/// Solves `L y = b` in place (forward substitution): the tests' reference.
#[cfg(test)]
fn forward_solve(l: &[f64], d: usize, b: &mut [f64]) {
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * d + k] * b[k];
        }
        b[i] = s / l[i * d + i];
    }
}

/// `L⁻¹` by forward substitution on the identity's columns: the tests' independent oracle for
/// [`inverse_lower`] (same bits but for the sign of exact zeros).
#[cfg(test)]
fn inverse_lower_by_substitution(l: &[f64], d: usize) -> Vec<f64> {
    let mut w = vec![0.0; d * d];
    let mut col = vec![0.0; d];
    for j in 0..d {
        col.iter_mut().for_each(|v| *v = 0.0);
        col[j] = 1.0;
        forward_solve(l, d, &mut col);
        for i in 0..d {
            w[i * d + j] = col[i];
        }
    }
    w
}

/// Inverse of the lower-triangular `l`: `m_ij = −(Σ_{k=j}^{i−1} l_ik m_kj) / l_ii`. GMM stores
/// it as the precision's Cholesky factor; MCD takes squared norms of `L⁻¹ c`, where the sign
/// of an exact zero (this order gives `−0.0` below the diagonal) cannot matter.
pub fn inverse_lower(l: &[f64], d: usize) -> Vec<f64> {
    let mut m = vec![0.0; d * d];
    for j in 0..d {
        m[j * d + j] = 1.0 / l[j * d + j];
        for i in j + 1..d {
            let mut s = 0.0;
            for k in j..i {
                s += l[i * d + k] * m[k * d + j];
            }
            m[i * d + j] = -s / l[i * d + i];
        }
    }
    m
}

/// scipy's `linalg.pinvh`: the pseudo-inverse of a symmetric matrix through its
/// eigen-decomposition, dropping eigenvalues with `|λ| ≤ d · ε · max|λ|`.
pub fn pinvh(a: &[f64], d: usize) -> Vec<f64> {
    let (values, v) = sym_eigen_tridiagonal(a, d);
    let max_abs = values.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let cutoff = max_abs * d as f64 * f64::EPSILON;
    let mut out = vec![0.0; d * d];
    for k in 0..d {
        if values[k].abs() <= cutoff {
            continue;
        }
        let inv = 1.0 / values[k];
        for i in 0..d {
            let vik = v[i * d + k] * inv;
            if vik == 0.0 {
                continue;
            }
            for j in 0..d {
                out[i * d + j] += vik * v[j * d + k];
            }
        }
    }
    // Exactly symmetric, as a quadratic form expects.
    for i in 0..d {
        for j in 0..i {
            let m = 0.5 * (out[i * d + j] + out[j * d + i]);
            out[i * d + j] = m;
            out[j * d + i] = m;
        }
    }
    out
}

/// `xᵀ P x` for a symmetric `P`, summed as `Σ_i x_i (Σ_j x_j P_ji)`: numpy's
/// `(x @ P * x).sum()` order.
pub fn quad_form(p: &[f64], d: usize, x: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..d {
        let mut s = 0.0;
        for j in 0..d {
            s += x[j] * p[j * d + i];
        }
        total += s * x[i];
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
        let mut c = vec![0.0; d * d];
        for i in 0..d {
            for k in 0..d {
                for j in 0..d {
                    c[i * d + j] += a[i * d + k] * b[k * d + j];
                }
            }
        }
        c
    }

    fn spd(d: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let b: Vec<f64> = (0..d * d).map(|_| next()).collect();
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                for k in 0..d {
                    a[i * d + j] += b[k * d + i] * b[k * d + j];
                }
            }
        }
        a
    }

    #[test]
    fn sorted_eigenpairs_reconstruct_and_are_orthonormal() {
        for d in [1, 2, 5, 12, 36] {
            let a = spd(d, d as u64 + 3);
            let (values, rows) = sym_eigen_sorted_desc(&a, d);
            for w in values.windows(2) {
                assert!(w[0] >= w[1]);
            }
            // A v = λ v and V Vᵀ = I.
            for k in 0..d {
                let v = &rows[k * d..(k + 1) * d];
                for i in 0..d {
                    let av: f64 = (0..d).map(|j| a[i * d + j] * v[j]).sum();
                    assert!((av - values[k] * v[i]).abs() < 1e-12 * values[0].max(1.0));
                }
                for l in 0..d {
                    let dot: f64 = (0..d).map(|j| v[j] * rows[l * d + j]).sum();
                    let want = if k == l { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-13, "d={d} {k} {l}: {dot}");
                }
            }
        }
    }

    #[test]
    fn tridiagonal_ql_agrees_with_jacobi() {
        for d in [1, 2, 3, 7, 21, 36] {
            let mut a = spd(d, 5 * d as u64 + 1);
            if d > 3 {
                // A singular one: a zero row and column.
                for j in 0..d {
                    a[j] = 0.0;
                    a[j * d] = 0.0;
                }
            }
            let (mut v1, _) = sym_eigen(&a, d);
            let (mut v2, vecs) = sym_eigen_tridiagonal(&a, d);
            let scale = v1.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for k in 0..d {
                // A v = λ v, V orthonormal.
                for i in 0..d {
                    let av: f64 = (0..d).map(|j| a[i * d + j] * vecs[j * d + k]).sum();
                    assert!((av - v2[k] * vecs[i * d + k]).abs() < 1e-12 * scale.max(1.0));
                }
                for l in 0..d {
                    let dot: f64 = (0..d).map(|j| vecs[j * d + k] * vecs[j * d + l]).sum();
                    let want = if k == l { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-12, "d={d} {k} {l}: {dot}");
                }
            }
            v1.sort_by(f64::total_cmp);
            v2.sort_by(f64::total_cmp);
            for (x, y) in v1.iter().zip(&v2) {
                assert!((x - y).abs() < 1e-13 * scale.max(1.0), "d={d}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn faer_agrees_with_ours_on_wide_matrices() {
        for d in [FAER_EIGEN_MIN_DIM, 97] {
            let a = spd(d, 11 * d as u64);
            let (mut ours, _) = sym_eigen_tridiagonal(&a, d);
            let (values, rows) = sym_eigen_sorted_desc(&a, d);
            ours.sort_by(|x, y| y.total_cmp(x));
            for (x, y) in ours.iter().zip(&values) {
                assert!((x - y).abs() < 1e-12 * values[0], "d={d}: {x} vs {y}");
            }
            // The faer path's pairs: A v = λ v, V orthonormal, signs by the svd_flip rule.
            for k in 0..d {
                let v = &rows[k * d..(k + 1) * d];
                for i in 0..d {
                    let av: f64 = (0..d).map(|j| a[i * d + j] * v[j]).sum();
                    assert!((av - values[k] * v[i]).abs() < 1e-11 * values[0]);
                }
                for l in 0..d {
                    let dot: f64 = (0..d).map(|j| v[j] * rows[l * d + j]).sum();
                    let want = if k == l { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-12, "d={d} {k} {l}: {dot}");
                }
                let big = v
                    .iter()
                    .fold(0.0f64, |m, x| if x.abs() > m.abs() { *x } else { m });
                assert!(big > 0.0);
            }
        }
    }

    #[test]
    fn known_eigenvalues() {
        let a = [2.0, 1.0, 1.0, 2.0];
        let (values, rows) = sym_eigen_sorted_desc(&a, 2);
        assert!((values[0] - 3.0).abs() < 1e-15 && (values[1] - 1.0).abs() < 1e-15);
        assert!((rows[0].abs() - 0.5f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn cholesky_and_inverse() {
        // [[4, 2], [2, 3]] = L·Lᵀ with L = [[2, 0], [1, √2]]
        let a = [4.0, 2.0, 2.0, 3.0];
        let l = cholesky(&a, 2).unwrap();
        assert_eq!(l[0], 2.0);
        assert_eq!(l[2], 1.0);
        assert!((l[3] - 2f64.sqrt()).abs() < 1e-15);
        let m = inverse_lower(&l, 2);
        // m·l = I
        assert!((m[0] * l[0] - 1.0).abs() < 1e-15);
        assert!((m[2] * l[0] + m[3] * l[2]).abs() < 1e-15);
        assert!((m[3] * l[3] - 1.0).abs() < 1e-15);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    /// The triangular inverse gives the same bits as plain forward substitution wherever the
    /// entry is not zero, and differs only in the sign of exact zeros below the diagonal.
    #[test]
    fn the_triangular_inverse_agrees_with_substitution_but_for_the_sign_of_zeros() {
        let mut cases: Vec<(usize, Vec<f64>)> = [1, 2, 3, 7, 21, 36]
            .iter()
            .map(|&d| {
                let mut a = spd(d, 3 * d as u64 + 2);
                for i in 0..d {
                    a[i * d + i] += 1.0; // well conditioned: the factorisation succeeds
                }
                (d, a)
            })
            .collect();
        // Block diagonal: exact zeros below the diagonal.
        let d = 5;
        let mut block = vec![0.0; d * d];
        for i in 0..d {
            block[i * d + i] = 2.0 + i as f64;
        }
        block[d] = 0.5; // (1, 0)
        block[1] = 0.5; // (0, 1)
        cases.push((d, block));
        let mut zeros = 0;
        for (d, a) in cases {
            let l = cholesky(&a, d).unwrap();
            let by_substitution = inverse_lower_by_substitution(&l, d);
            let by_negated_sums = inverse_lower(&l, d);
            for i in 0..d {
                for j in 0..d {
                    let (x, y) = (by_substitution[i * d + j], by_negated_sums[i * d + j]);
                    if x == 0.0 {
                        assert_eq!(y, 0.0, "d={d} ({i}, {j})");
                        assert!(x.is_sign_positive());
                        if i > j {
                            assert!(y.is_sign_negative(), "d={d} ({i}, {j})");
                            zeros += 1;
                        }
                    } else {
                        assert_eq!(x.to_bits(), y.to_bits(), "d={d} ({i}, {j})");
                    }
                }
            }
        }
        assert!(zeros > 0);
    }

    #[test]
    fn cholesky_pinvh_and_logdet_agree() {
        let d = 6;
        let a = spd(d, 11);
        let l = cholesky(&a, d).unwrap();
        let p = pinvh(&a, d);
        let id = matmul(&a, &p, d);
        for i in 0..d {
            for j in 0..d {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((id[i * d + j] - want).abs() < 1e-9, "{}", id[i * d + j]);
            }
        }
        let (values, _) = sym_eigen(&a, d);
        let logdet: f64 = values.iter().map(|v| v.ln()).sum();
        assert!((logdet_from_cholesky(&l, d) - logdet).abs() < 1e-10);
        let x: Vec<f64> = (0..d).map(|i| i as f64 - 2.0).collect();
        let mut y = x.clone();
        forward_solve(&l, d, &mut y);
        let via_chol: f64 = y.iter().map(|v| v * v).sum();
        assert!((via_chol - quad_form(&p, d, &x)).abs() < 1e-8 * via_chol);
        // Singular: a zero row.
        let mut s = a.clone();
        for j in 0..d {
            s[2 * d + j] = 0.0;
            s[j * d + 2] = 0.0;
        }
        assert_eq!(logdet_spd(&s, d), f64::NEG_INFINITY);
        let ps = pinvh(&s, d);
        assert!(ps.iter().all(|v| v.is_finite()));
        assert!(ps[2 * d + 2].abs() < 1e-12, "{}", ps[2 * d + 2]);
    }
}

//! Non-negative least squares (Lawson and Hanson's active-set method, "Solving Least Squares
//! Problems", 1974, ch. 23): every hardware term costs something or nothing, never less.

/// `argmin |A x - b|` subject to `x >= 0`; `a` is row-major with `cols` columns.
pub fn nnls(a: &[f64], b: &[f64], cols: usize) -> Vec<f64> {
    let rows = b.len();
    let mut x = vec![0.0; cols];
    let mut passive = vec![false; cols];
    let residual_grad = |x: &[f64]| -> Vec<f64> {
        // w = A^T (b - A x)
        let mut r = b.to_vec();
        for i in 0..rows {
            r[i] -= (0..cols).map(|j| a[i * cols + j] * x[j]).sum::<f64>();
        }
        (0..cols)
            .map(|j| (0..rows).map(|i| a[i * cols + j] * r[i]).sum())
            .collect()
    };
    for _ in 0..3 * cols.max(1) {
        let w = residual_grad(&x);
        let Some((j, &wj)) = w
            .iter()
            .enumerate()
            .filter(|(j, _)| !passive[*j])
            .max_by(|p, q| p.1.total_cmp(q.1))
        else {
            break;
        };
        if wj <= 1e-10 {
            break;
        }
        passive[j] = true;
        loop {
            let z = least_squares(a, b, cols, &passive);
            if (0..cols).all(|k| !passive[k] || z[k] > 0.0) {
                x = z;
                break;
            }
            // Step toward z until a passive coefficient reaches zero; drop it.
            let alpha = (0..cols)
                .filter(|&k| passive[k] && z[k] <= 0.0)
                .map(|k| x[k] / (x[k] - z[k]))
                .fold(f64::INFINITY, f64::min);
            for k in 0..cols {
                x[k] += alpha * (z[k] - x[k]);
                if passive[k] && x[k] <= 1e-12 {
                    passive[k] = false;
                    x[k] = 0.0;
                }
            }
        }
    }
    x
}

/// Unconstrained least squares on the `passive` columns (normal equations, Gaussian
/// elimination with partial pivoting and a tiny ridge for rank-deficient data).
fn least_squares(a: &[f64], b: &[f64], cols: usize, passive: &[bool]) -> Vec<f64> {
    let idx: Vec<usize> = (0..cols).filter(|&j| passive[j]).collect();
    let m = idx.len();
    let rows = b.len();
    let mut n = vec![0.0; m * (m + 1)];
    for (p, &j) in idx.iter().enumerate() {
        for (q, &k) in idx.iter().enumerate() {
            n[p * (m + 1) + q] = (0..rows).map(|i| a[i * cols + j] * a[i * cols + k]).sum();
        }
        n[p * (m + 1) + p] += 1e-9;
        n[p * (m + 1) + m] = (0..rows).map(|i| a[i * cols + j] * b[i]).sum();
    }
    for c in 0..m {
        let piv = (c..m)
            .max_by(|&p, &q| {
                n[p * (m + 1) + c]
                    .abs()
                    .total_cmp(&n[q * (m + 1) + c].abs())
            })
            .unwrap_or(c);
        for k in 0..=m {
            n.swap(c * (m + 1) + k, piv * (m + 1) + k);
        }
        let d = n[c * (m + 1) + c];
        if d.abs() < 1e-300 {
            continue;
        }
        for r in 0..m {
            if r != c {
                let f = n[r * (m + 1) + c] / d;
                for k in c..=m {
                    n[r * (m + 1) + k] -= f * n[c * (m + 1) + k];
                }
            }
        }
    }
    let mut z = vec![0.0; cols];
    for (p, &j) in idx.iter().enumerate() {
        let d = n[p * (m + 1) + p];
        z[j] = if d.abs() < 1e-300 {
            0.0
        } else {
            n[p * (m + 1) + m] / d
        };
    }
    z
}

#[cfg(test)]
mod tests {
    use super::nnls;

    #[test]
    fn recovers_non_negative_coefficients_and_clamps_negative_ones() {
        // b = 2 x0 + 3 x1 exactly.
        let a = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 1.0];
        let b = [2.0, 3.0, 5.0, 7.0];
        let x = nnls(&a, &b, 2);
        assert!(
            (x[0] - 2.0).abs() < 1e-6 && (x[1] - 3.0).abs() < 1e-6,
            "{x:?}"
        );
        // b = -1 * x0 + 1 * x1 has a negative best fit for x0: held at zero.
        let b = [-1.0, 1.0, 0.0, -1.0];
        let x = nnls(&a, &b, 2);
        assert_eq!(x[0], 0.0);
        assert!(x[1] >= 0.0);
    }
}

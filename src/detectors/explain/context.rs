//! Cheap context for a row's values: each value's percentile among the training values of its
//! feature and a robust z-score, `(v − median) / (1.4826·MAD)`.

use ndarray::ArrayView2;

/// Per feature, the sorted training values and the robust location and scale.
#[derive(Debug, Clone)]
pub struct FeatureStats {
    sorted: Vec<Vec<f64>>,
    median: Vec<f64>,
    /// 1.4826·MAD, or (when more than half the values are equal) the mean absolute deviation
    /// times 1.2533; `0` for a constant feature.
    scale: Vec<f64>,
}

impl FeatureStats {
    pub fn new(train: ArrayView2<f64>) -> FeatureStats {
        let mut sorted = Vec::with_capacity(train.ncols());
        let mut median = Vec::with_capacity(train.ncols());
        let mut scale = Vec::with_capacity(train.ncols());
        for column in train.columns() {
            let mut values: Vec<f64> = column.iter().copied().filter(|v| v.is_finite()).collect();
            values.sort_by(f64::total_cmp);
            let m = middle(&values);
            let mut deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
            deviations.sort_by(f64::total_cmp);
            let mad = middle(&deviations);
            let s = if mad > 0.0 {
                1.4826 * mad
            } else if values.is_empty() {
                0.0
            } else {
                1.2533 * deviations.iter().sum::<f64>() / deviations.len() as f64
            };
            sorted.push(values);
            median.push(m);
            scale.push(s);
        }
        FeatureStats {
            sorted,
            median,
            scale,
        }
    }

    /// The share of training values below `v`, counting equal ones half (0–100).
    pub fn percentile(&self, feature: usize, v: f64) -> f64 {
        let values = &self.sorted[feature];
        if values.is_empty() {
            return 50.0;
        }
        let below = values.partition_point(|&x| x < v);
        let equal = values[below..].partition_point(|&x| x <= v);
        100.0 * (below as f64 + 0.5 * equal as f64) / values.len() as f64
    }

    /// `(v − median) / scale`; `None` for a constant feature (any other value is infinitely
    /// far).
    pub fn robust_z(&self, feature: usize, v: f64) -> Option<f64> {
        let scale = self.scale[feature];
        let distance = v - self.median[feature];
        if scale > 0.0 {
            Some(distance / scale)
        } else if distance == 0.0 {
            Some(0.0)
        } else {
            None
        }
    }
}

fn middle(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn percentiles_and_robust_z() {
        let x = array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [4.0, 5.0], [100.0, 5.0]];
        let s = FeatureStats::new(x.view());
        assert_eq!(s.percentile(0, 3.0), 50.0);
        assert_eq!(s.percentile(0, 1000.0), 100.0);
        assert_eq!(s.percentile(0, 0.0), 0.0);
        // median 3, MAD 1.
        assert!((s.robust_z(0, 100.0).unwrap() - 97.0 / 1.4826).abs() < 1e-12);
        assert_eq!(s.robust_z(1, 5.0), Some(0.0));
        assert_eq!(s.robust_z(1, 6.0), None);
    }
}

//! Minimum, median and maximum of repeated measurements.

use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub min: f64,
    pub median: f64,
    pub max: f64,
    pub samples: usize,
}

impl Summary {
    /// Panics on an empty slice: every caller measured at least once.
    pub fn of(values: &[f64]) -> Summary {
        assert!(!values.is_empty(), "no samples to summarize");
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Summary {
            min: sorted[0],
            median,
            max: sorted[n - 1],
            samples: n,
        }
    }
}

/// `a[i] / b[i]` for each pair: ratios of measurements taken side by side.
pub fn paired_ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter(|(_, b)| **b > 0.0)
        .map(|(a, b)| a / b)
        .collect()
}

/// Each value as a ratio to the values' median: how far a run's seconds stray from its typical
/// second.
pub fn relative_to_median(values: &[f64]) -> Vec<f64> {
    if values.is_empty() {
        return Vec::new();
    }
    let median = Summary::of(values).median;
    paired_ratios(values, &vec![median; values.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let odd = Summary::of(&[3.0, 1.0, 2.0]);
        assert_eq!((odd.min, odd.median, odd.max), (1.0, 2.0, 3.0));
        let even = Summary::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(even.median, 2.5);
        assert_eq!(even.samples, 4);
    }

    #[test]
    fn ratios_pair_values_and_skip_zero_divisors() {
        assert_eq!(
            paired_ratios(&[2.0, 9.0, 4.0], &[1.0, 0.0, 2.0]),
            [2.0, 2.0]
        );
    }

    #[test]
    fn values_relative_to_their_median() {
        assert_eq!(
            relative_to_median(&[90.0, 100.0, 110.0, 100.0, 50.0]),
            [0.9, 1.0, 1.1, 1.0, 0.5]
        );
        assert!(relative_to_median(&[]).is_empty());
        // A median of zero (nothing got through) gives no ratios rather than infinities.
        assert!(relative_to_median(&[0.0, 0.0, 5.0]).is_empty());
    }
}

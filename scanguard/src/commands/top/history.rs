//! The last minute of counter samples: rates between the two latest, and per-interval counts
//! for the sparklines. Pure, so the arithmetic is tested without a kernel.

use std::{collections::VecDeque, time::Duration};

use scanguard_common::counters::{COUNTER_SLOTS, Counters};

/// How far back the sparklines reach.
const WINDOW: Duration = Duration::from_secs(60);

/// The kernel's counters summed over CPUs, and when they were read (any monotonic origin).
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub at: Duration,
    pub totals: Counters,
}

/// Samples spanning at most [`WINDOW`], oldest first.
#[derive(Debug, Default)]
pub struct History {
    samples: VecDeque<Sample>,
}

impl History {
    /// Adds a sample and forgets those no interval of the window needs any more.
    pub fn push(&mut self, sample: Sample) {
        self.samples.push_back(sample);
        while self
            .samples
            .get(1)
            .is_some_and(|second| sample.at.saturating_sub(second.at) >= WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// The latest totals; zeros before the first sample.
    pub fn totals(&self) -> Counters {
        self.samples
            .back()
            .map_or([0; COUNTER_SLOTS], |sample| sample.totals)
    }

    /// Per second over the latest interval; 0 before there are two samples.
    pub fn rate(&self, slot: usize) -> f64 {
        match self.last_two() {
            Some((before, after)) => rate(
                before.totals[slot],
                after.totals[slot],
                after.at.saturating_sub(before.at),
            ),
            None => 0.0,
        }
    }

    /// The seconds the latest interval lasted; 0 before there are two samples.
    pub fn interval(&self) -> Duration {
        self.last_two().map_or(Duration::ZERO, |(before, after)| {
            after.at.saturating_sub(before.at)
        })
    }

    /// How much `slot` grew in each interval of the window, oldest first.
    pub fn increments(&self, slot: usize) -> Vec<u64> {
        self.samples
            .iter()
            .zip(self.samples.iter().skip(1))
            .map(|(before, after)| after.totals[slot].saturating_sub(before.totals[slot]))
            .collect()
    }

    fn last_two(&self) -> Option<(&Sample, &Sample)> {
        let count = self.samples.len();
        Some((
            self.samples.get(count.checked_sub(2)?)?,
            self.samples.back()?,
        ))
    }
}

/// Growth per second from `before` to `after` over `elapsed`. A counter that went down (the
/// daemon restarted with fresh maps) grew by nothing.
pub fn rate(before: u64, after: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        return 0.0;
    }
    after.saturating_sub(before) as f64 / elapsed.as_secs_f64()
}

/// `values` in at most `width` buckets, each the sum of consecutive values; grouped from the
/// newest end, so the last bucket is always whole and holds the latest values.
pub fn buckets(values: &[u64], width: usize) -> Vec<u64> {
    if width == 0 || values.is_empty() {
        return Vec::new();
    }
    let per_bucket = values.len().div_ceil(width);
    let mut sums: Vec<u64> = values
        .rchunks(per_bucket)
        .map(|chunk| chunk.iter().sum())
        .collect();
    sums.reverse();
    sums
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per value, scaled to the largest: a space for none, `▁` to `█` for some.
pub fn sparkline(values: &[u64]) -> String {
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&value| {
            if value == 0 {
                return ' ';
            }
            // 1..=max onto the eight bars: the smallest count still shows, the largest is full.
            let level = (u128::from(value) * BARS.len() as u128).div_ceil(u128::from(max)) - 1;
            BARS[usize::try_from(level).map_or(BARS.len() - 1, |level| level.min(BARS.len() - 1))]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(second: u64, value: u64) -> Sample {
        let mut totals = [0; COUNTER_SLOTS];
        totals[0] = value;
        Sample {
            at: Duration::from_secs(second),
            totals,
        }
    }

    #[test]
    fn rates_are_over_the_latest_interval() {
        let mut history = History::default();
        assert_eq!(history.rate(0), 0.0);
        history.push(sample(10, 100));
        assert_eq!(history.rate(0), 0.0, "one sample has no rate");
        history.push(sample(12, 300));
        assert_eq!(history.rate(0), 100.0);
        assert_eq!(history.interval(), Duration::from_secs(2));
        history.push(sample(13, 310));
        assert_eq!(history.rate(0), 10.0);
        assert_eq!(history.totals()[0], 310);
    }

    #[test]
    fn a_counter_that_went_down_grew_by_nothing() {
        assert_eq!(rate(500, 20, Duration::from_secs(1)), 0.0);
        assert_eq!(rate(0, 20, Duration::ZERO), 0.0);
        assert_eq!(rate(10, 25, Duration::from_millis(500)), 30.0);
    }

    #[test]
    fn the_history_keeps_one_minute() {
        let mut history = History::default();
        for second in 0..100 {
            history.push(sample(second, second * 2));
        }
        let increments = history.increments(0);
        assert_eq!(increments.len(), 60, "sixty one-second intervals");
        assert!(increments.iter().all(|&increment| increment == 2));
    }

    #[test]
    fn buckets_group_from_the_newest_end() {
        let values: Vec<u64> = (1..=60).collect();
        let grouped = buckets(&values, 20);
        assert_eq!(grouped.len(), 20);
        assert_eq!(grouped.last(), Some(&(58 + 59 + 60)));
        assert_eq!(grouped.first(), Some(&(1 + 2 + 3)));
        // Not a multiple: the oldest bucket is the short one.
        assert_eq!(buckets(&[1, 2, 3, 4, 5], 2), vec![1 + 2, 3 + 4 + 5]);
        assert_eq!(buckets(&[1, 2, 3, 4, 5], 3), vec![1, 2 + 3, 4 + 5]);
        assert_eq!(buckets(&[7, 8], 30), vec![7, 8], "narrower than the width");
        assert!(buckets(&[], 10).is_empty());
        assert!(buckets(&[1], 0).is_empty());
    }

    #[test]
    fn sparklines_scale_to_the_largest() {
        assert_eq!(sparkline(&[0, 1, 8, 4]), " ▁█▄");
        assert_eq!(sparkline(&[0, 0]), "  ");
        assert_eq!(
            sparkline(&[1, 1000]),
            "▁█",
            "a single detection still shows"
        );
        assert_eq!(sparkline(&[]), "");
    }
}

//! A path's samples summarised per method: medians over the repetitions, and each method's
//! ratios to "nothing attached" taken repetition by repetition (median, and min–max as the
//! spread).

use serde::Serialize;

use super::{ConnectionRun, TrafficMethod};
use crate::stats::{Summary, paired_ratios, relative_to_median};

/// One method's samples, one per repetition.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Figures {
    pub up_gbits: Vec<f64>,
    pub down_gbits: Vec<f64>,
    pub connections: Vec<ConnectionRun>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MethodResult {
    pub method: TrafficMethod,
    pub raw: Figures,
    pub up: Summary,
    pub down: Summary,
    pub connections: Summary,
    /// The per-repetition ratios to "nothing attached" (all zero if nothing got through).
    pub up_ratio: Summary,
    pub down_ratio: Summary,
    pub connections_ratio: Summary,
    /// Every whole second of every connection run, as a ratio to its run's median second:
    /// how steady the rate held.
    pub connection_seconds: Summary,
    pub connections_failed: u64,
}

/// `figures` in the order measured; "nothing attached" must be among them.
pub fn summarize(figures: Vec<(TrafficMethod, Figures)>) -> Vec<MethodResult> {
    let nothing = figures
        .iter()
        .find(|(method, _)| *method == TrafficMethod::Nothing)
        .map(|(_, figures)| figures.clone())
        .unwrap_or_default();
    let nothing_rates = rates(&nothing.connections);
    figures
        .into_iter()
        .map(|(method, raw)| {
            let connection_rates = rates(&raw.connections);
            let seconds: Vec<f64> = raw
                .connections
                .iter()
                .flat_map(|run| {
                    let counts: Vec<f64> = run.per_second.iter().map(|&c| c as f64).collect();
                    relative_to_median(&counts)
                })
                .collect();
            MethodResult {
                method,
                up: summary(&raw.up_gbits),
                down: summary(&raw.down_gbits),
                connections: summary(&connection_rates),
                up_ratio: summary(&paired_ratios(&raw.up_gbits, &nothing.up_gbits)),
                down_ratio: summary(&paired_ratios(&raw.down_gbits, &nothing.down_gbits)),
                connections_ratio: summary(&paired_ratios(&connection_rates, &nothing_rates)),
                connection_seconds: summary(&seconds),
                connections_failed: raw.connections.iter().map(|run| run.failed).sum(),
                raw,
            }
        })
        .collect()
}

fn rates(runs: &[ConnectionRun]) -> Vec<f64> {
    runs.iter().map(ConnectionRun::rate).collect()
}

/// All zero when there is nothing to summarise (e.g. no ratio: nothing got through).
fn summary(values: &[f64]) -> Summary {
    if values.is_empty() {
        Summary::default()
    } else {
        Summary::of(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(up: [f64; 3], seconds: [[u64; 3]; 3]) -> Figures {
        Figures {
            up_gbits: up.to_vec(),
            down_gbits: up.to_vec(),
            connections: seconds
                .iter()
                .map(|s| ConnectionRun {
                    per_second: s.to_vec(),
                    failed: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn ratios_are_paired_by_repetition_with_their_spread() {
        let rows = summarize(vec![
            (
                TrafficMethod::Nothing,
                figures([10.0, 20.0, 16.0], [[100, 100, 100]; 3]),
            ),
            (
                TrafficMethod::ScanguardAuto,
                figures([9.0, 20.0, 17.6], [[90, 100, 110], [50, 50, 50], [100; 3]]),
            ),
        ]);
        let nothing = &rows[0];
        assert_eq!(nothing.up_ratio.median, 1.0);
        assert_eq!((nothing.up_ratio.min, nothing.up_ratio.max), (1.0, 1.0));
        let auto = &rows[1];
        assert_eq!(auto.method, TrafficMethod::ScanguardAuto);
        // 0.9, 1.0, 1.1: the medians of raw values (17.6) would not give this.
        assert_eq!(auto.up_ratio.median, 1.0);
        assert_eq!(auto.up_ratio.min, 0.9);
        assert!((auto.up_ratio.max - 1.1).abs() < 1e-12);
        assert_eq!(auto.up.median, 17.6);
        assert_eq!(auto.connections.median, 100.0);
        assert_eq!(auto.connections_ratio.min, 0.5);
        // The seconds of each run against that run's own median second.
        assert_eq!(auto.connection_seconds.min, 0.9);
        assert_eq!(auto.connection_seconds.max, 1.1);
        assert_eq!(auto.connection_seconds.samples, 9);
    }

    #[test]
    fn a_baseline_that_got_nothing_through_gives_zero_ratios() {
        let rows = summarize(vec![(
            TrafficMethod::Nothing,
            figures([0.0; 3], [[0; 3]; 3]),
        )]);
        assert_eq!(rows[0].up_ratio, Summary::default());
        assert_eq!(rows[0].connections_ratio, Summary::default());
        assert_eq!(rows[0].connection_seconds, Summary::default());
    }
}

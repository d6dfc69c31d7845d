//! The benchmark's targets, checked against what this run measured.

use serde::Serialize;

use super::Report;
use crate::{stats::Summary, traffic::TrafficMethod};

#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub what: &'static str,
    pub goal: &'static str,
    pub measured: String,
    pub met: Verdict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Met,
    Missed,
    /// Two runs with nothing attached differed by more than the figure's distance from the
    /// goal: this run cannot tell.
    WithinNoise,
    NotMeasured,
}

const TRAFFIC: &str = "container TCP throughput with the default attach (worst path and direction)";

pub fn evaluate(report: &Report) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut add = |what, goal, value: Option<(String, bool)>| {
        let (measured, met) = match value {
            Some((measured, true)) => (measured, Verdict::Met),
            Some((measured, false)) => (measured, Verdict::Missed),
            None => ("not measured".to_string(), Verdict::NotMeasured),
        };
        targets.push(Target {
            what,
            goal,
            measured,
            met,
        });
    };
    let worst = |group: &str| {
        let cost = report.packet_cost.as_ref()?;
        cost.rows
            .iter()
            .filter(|row| row.group == group)
            .max_by(|a, b| a.ratio.total_cmp(&b.ratio))
            .map(|row| (row.ratio, row.case.clone()))
    };
    add(
        "per-packet, benign (worst case)",
        "≤ 1.5× floor",
        worst("benign").map(|(r, case)| (format!("{r:.2}× ({case})"), r <= 1.5)),
    );
    add(
        "per-packet, banned drop (worst case)",
        "≤ 2.0× floor",
        worst("banned").map(|(r, case)| (format!("{r:.2}× ({case})"), r <= 2.0)),
    );
    let flood = report.flood.as_ref();
    let native = flood.and_then(|f| f.methods.iter().find(|m| m.key == "scanguard-native"));
    add(
        "flood drop rate, native",
        "≥ 0.8× floor",
        native
            .and_then(|m| m.ratio_to_floor)
            .map(|r| (format!("{:.2}×", r.median), r.median >= 0.8)),
    );
    let versus = |key: &str| {
        flood?
            .scanguard_vs
            .iter()
            .find(|(other, _)| other == key)
            .map(|(_, ratio)| ratio.median)
    };
    add(
        "flood drop rate vs xdp-filter",
        "≥ 1.3×",
        versus("xdp-filter").map(|r| (format!("{r:.2}×"), r >= 1.3)),
    );
    add(
        "flood drop rate vs classic iptables INPUT + recent",
        "≥ 8×",
        versus("iptables-input-recent").map(|r| (format!("{r:.2}×"), r >= 8.0)),
    );
    // The default's cost to a container: the worst of both directions and all paths, beside
    // how far two runs with nothing attached differed on the same path and direction.
    let default_traffic = report.traffic.as_ref().and_then(|traffic| {
        traffic
            .paths
            .iter()
            .flat_map(|path| {
                let row = |method| path.rows.iter().find(|row| row.method == method);
                let auto = row(TrafficMethod::ScanguardAuto)?;
                let noise = row(TrafficMethod::NothingAgain)?;
                Some([
                    (auto.up_ratio, noise.up_ratio, path.path.up()),
                    (auto.down_ratio, noise.down_ratio, "the other way"),
                ]
                .map(|(ratio, noise, way)| {
                    let text = format!(
                        "{:.2}× ({}, {way}; repetitions {:.2}–{:.2}; nothing vs nothing {:.2}–{:.2})",
                        ratio.median,
                        path.path.name(),
                        ratio.min,
                        ratio.max,
                        noise.min,
                        noise.max
                    );
                    (ratio.median, noise, text)
                }))
            })
            .flatten()
            .min_by(|a, b| a.0.total_cmp(&b.0))
    });
    let traffic_verdict = default_traffic
        .as_ref()
        .map(|(ratio, noise, _)| traffic_verdict(*ratio, noise, TRAFFIC_GOAL));
    add(
        TRAFFIC,
        "≥ 0.95× nothing attached",
        default_traffic.map(|(r, _, text)| (text, r >= TRAFFIC_GOAL)),
    );
    // A `--quick` run fills a smaller map: its figures are shown, but cannot meet a 1M target.
    let scale = report.scale.as_ref();
    let at_full_size = scale.is_some_and(|s| s.capacity >= 1_000_000);
    let size_note = if at_full_size {
        ""
    } else {
        " (quick run: not 1M)"
    };
    let full_vs_empty = scale.map(|s| {
        s.full_vs_empty
            .iter()
            .map(|(case, r)| (case.clone(), r.median))
            .fold((String::new(), 0.0f64), |(text, worst), (case, r)| {
                let sep = if text.is_empty() { "" } else { "; " };
                (format!("{text}{sep}{case} {r:.2}×"), worst.max(r))
            })
    });
    add(
        "per-packet at 1M bans vs empty map",
        "≤ 1.2×",
        full_vs_empty
            .map(|(text, worst)| (format!("{text}{size_note}"), at_full_size && worst <= 1.2)),
    );
    add(
        "`scanguard bans` listing 1M",
        "< 2 s",
        scale.map(|s| {
            (
                format!(
                    "{:.2} s ({} listed){size_note}",
                    s.bans_seconds.median, s.listed
                ),
                at_full_size && s.bans_seconds.median < 2.0,
            )
        }),
    );
    let storm = report.storm.as_ref();
    let ten_thousand = storm.and_then(|s| s.levels.iter().find(|l| l.target_per_second == 10_000));
    add(
        "daemon RSS at 10,000 detections/s (and peak over all levels)",
        "< 30 MB",
        ten_thousand.zip(storm).map(|(level, storm)| {
            let mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
            (
                format!(
                    "{:.1} MB (peak {:.1} MB)",
                    mb(level.daemon_rss_max_kib),
                    mb(storm.rss_peak_kib)
                ),
                mb(level.daemon_rss_max_kib) < 30.0,
            )
        }),
    );
    add(
        "lost events at 10,000 detections/s",
        "0",
        ten_thousand.map(|l| {
            (
                format!("{} ({:.0} bans/s)", l.events_lost, l.detections_per_second),
                l.events_lost == 0,
            )
        }),
    );
    if let (Some(verdict), Some(target)) = (
        traffic_verdict,
        targets.iter_mut().find(|target| target.what == TRAFFIC),
    ) {
        target.met = verdict;
    }
    targets
}

const TRAFFIC_GOAL: f64 = 0.95;

/// Met only if the run could resolve the goal (nothing vs nothing never below it); missed only
/// if the figure is further down than two identical setups ever differed.
fn traffic_verdict(ratio: f64, noise: &Summary, goal: f64) -> Verdict {
    if ratio >= goal && noise.min >= goal {
        Verdict::Met
    } else if ratio < goal && ratio < noise.min {
        Verdict::Missed
    } else {
        Verdict::WithinNoise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(min: f64, max: f64) -> Summary {
        Summary {
            min,
            median: 1.0,
            max,
            samples: 5,
        }
    }

    #[test]
    fn a_throughput_verdict_needs_a_noise_floor_tighter_than_the_goal() {
        assert_eq!(
            traffic_verdict(0.98, &noise(0.97, 1.03), 0.95),
            Verdict::Met
        );
        assert_eq!(
            traffic_verdict(0.98, &noise(0.80, 1.20), 0.95),
            Verdict::WithinNoise
        );
        assert_eq!(
            traffic_verdict(0.90, &noise(0.80, 1.20), 0.95),
            Verdict::WithinNoise
        );
        assert_eq!(
            traffic_verdict(0.70, &noise(0.80, 1.20), 0.95),
            Verdict::Missed
        );
        assert_eq!(
            traffic_verdict(0.94, &noise(0.97, 1.03), 0.95),
            Verdict::Missed
        );
    }
}

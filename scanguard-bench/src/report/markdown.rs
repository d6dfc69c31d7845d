//! The report as markdown tables.

use std::fmt::Write as _;

use super::{Report, Verdict};
use crate::{packet_cost::Row, stats::Summary, traffic::Traffic};

pub fn render(report: &Report) -> String {
    let mut md = String::new();
    let out = &mut md;
    line(out, "# scanguard benchmark");
    line(out, "");
    if let Some(env) = &report.environment {
        line(
            out,
            &format!(
                "{} · Linux {} · {} × {} · scanguard {} · run time {:.0} s · load average before/after: {} / {}",
                env.date,
                env.kernel,
                env.cpus,
                env.cpu,
                env.scanguard,
                report.seconds,
                first3(&env.load_before),
                first3(&env.load_after)
            ),
        );
        line(out, "");
    }
    targets(out, report);
    if let Some(cost) = &report.packet_cost {
        line(
            out,
            &format!(
                "## Per-packet cost (BPF_PROG_TEST_RUN, {} runs per call, {} rounds; first packets: {} new sources × {} rounds, one run per call)",
                thousands(u64::from(cost.repeat)),
                cost.rounds,
                thousands(cost.first_frames as u64),
                cost.first_rounds
            ),
        );
        line(out, "");
        line(
            out,
            "The kernel's own per-run figure. × floor: the median of the ratios to the empty program, paired round by round (first packets: of the per-round medians).",
        );
        line(out, "");
        cost_table(out, cost.floors.iter().chain(&cost.rows));
    }
    if let Some(flood) = &report.flood {
        line(
            out,
            &format!(
                "## Flood: drop rate of a banned source on a veth pair ({} repetitions × {} windows of {:.0} s per method, offered {:.2} Mpps median)",
                flood.repetitions,
                flood.windows,
                flood.window_seconds,
                flood.offered_pps.median / 1e6
            ),
        );
        line(out, "");
        line(
            out,
            "Mpps: frames the method dropped per second of wall time, by its own counter (the empty program has none: the frames the receiver's NAPI thread consumed); busy: the share of that time the receiving thread was on its CPU; per CPU: frames dropped per second of that thread's CPU time, the method's cost per frame, which other load on the machine changes less. Each repetition's figure is the median of its windows. × floor: per CPU, paired per repetition. Last column: the method's drop count ÷ the frames the receiver consumed (below 1: frames lost before the method, e.g. skb allocation under load).",
        );
        line(out, "");
        line(
            out,
            "| method | Mpps min | Mpps median | Mpps max | busy | Mpps per CPU | × floor | own count ÷ consumed |",
        );
        line(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for method in &flood.methods {
            match (&method.pps, &method.failure) {
                (Some(pps), _) => line(
                    out,
                    &format!(
                        "| {} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} |",
                        method.method,
                        pps.min / 1e6,
                        pps.median / 1e6,
                        pps.max / 1e6,
                        method
                            .receiver_busy
                            .map_or("-".into(), |b| format!("{:.0}%", b.median * 100.0)),
                        method
                            .pps_per_cpu
                            .map_or("-".into(), |p| format!("{:.3}", p.median / 1e6)),
                        method
                            .ratio_to_floor
                            .map_or("-".into(), |r| format!("{:.2}×", r.median)),
                        method
                            .dropped_share
                            .map_or("-".into(), |s| format!("{:.3}", s.median)),
                    ),
                ),
                (None, Some(failure)) => line(
                    out,
                    &format!(
                        "| {} | not measured: {} | | | | | | |",
                        method.method,
                        failure.replace('|', "/")
                    ),
                ),
                (None, None) => line(
                    out,
                    &format!("| {} | not measured | | | | | | |", method.method),
                ),
            }
        }
        line(out, "");
        let versus: Vec<String> = flood
            .scanguard_vs
            .iter()
            .map(|(other, r)| {
                format!(
                    "{other} {:.2}× (min {:.2}, max {:.2})",
                    r.median, r.min, r.max
                )
            })
            .collect();
        line(
            out,
            &format!(
                "scanguard native per receiver CPU, paired per repetition, against: {}.",
                versus.join("; ")
            ),
        );
        line(out, "");
    }
    if let Some(scale) = &report.scale {
        line(
            out,
            &format!(
                "## Scale: a ban map of {} entries",
                thousands(u64::from(scale.capacity))
            ),
        );
        line(out, "");
        line(out, "| measure | value |");
        line(out, "|---|---:|");
        line(
            out,
            &format!(
                "| bans inserted (batched) | {} in {:.2} s |",
                thousands(scale.inserted),
                scale.fill_seconds
            ),
        );
        line(
            out,
            &format!(
                "| kernel memory of all maps | {:.1} MiB (default capacity 65,536: {:.1} MiB) |",
                mib(scale.memory_total),
                mib(scale.memory_default_capacity)
            ),
        );
        for map in &scale.memory {
            line(
                out,
                &format!(
                    "| · {} ({}, {} entries) | {:.1} MiB |",
                    map.name,
                    map.map_type,
                    thousands(map.max_entries),
                    mib(map.bytes)
                ),
            );
        }
        line(
            out,
            &format!(
                "| `scanguard bans` (text) | {:.2} s median, {:.2}–{:.2} s; {} listed |",
                scale.bans_seconds.median,
                scale.bans_seconds.min,
                scale.bans_seconds.max,
                thousands(scale.listed as u64)
            ),
        );
        line(
            out,
            &format!(
                "| `scanguard bans --json` | {:.2} s |",
                scale.bans_json_seconds
            ),
        );
        line(
            out,
            &format!(
                "| `scanguard unban ADDR` (whole command) | {:.1} ms median, {:.1}–{:.1} ms |",
                scale.unban_seconds.median * 1e3,
                scale.unban_seconds.min * 1e3,
                scale.unban_seconds.max * 1e3
            ),
        );
        for (case, ratio) in &scale.full_vs_empty {
            line(
                out,
                &format!(
                    "| per-packet, full ÷ nearly empty: {case} | {:.2}× |",
                    ratio.median
                ),
            );
        }
        line(out, "");
        cost_table(out, scale.rows.iter());
    }
    if let Some(decisions) = &report.decisions {
        super::crowdsec::render(out, decisions);
    }
    if let Some(storm) = &report.storm {
        line(
            out,
            "## Daemon under a scan storm (every frame a NULL probe from a new source)",
        );
        line(out, "");
        line(
            out,
            "Ban budgets and the global event cap lifted (`max_bans_per_second`, `[events] per_second`), so that every probe is a ban and an event. sent: frames the generator sent; bans: sources the program banned, each a detection and an event; printed: detection lines the daemon wrote while the level lasted; backlog: lines it wrote in the second after; lost: events the kernel could not hand it; CPU: over the level and that second.",
        );
        line(out, "");
        line(
            out,
            "| target detections/s | sent/s | bans/s | printed/s | backlog | events lost | daemon CPU | daemon RSS max |",
        );
        line(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
        for level in &storm.levels {
            line(
                out,
                &format!(
                    "| {} | {:.0} | {:.0} | {:.0} | {} | {} | {:.0}% | {:.1} MB |",
                    thousands(u64::from(level.target_per_second)),
                    level.sent_per_second,
                    level.detections_per_second,
                    level.printed_per_second,
                    thousands(level.backlog),
                    thousands(level.events_lost),
                    level.daemon_cpu_percent,
                    level.daemon_rss_max_kib as f64 * 1024.0 / 1e6,
                ),
            );
        }
        line(out, "");
        line(
            out,
            &format!(
                "RSS idle {:.1} MB, peak (VmHWM) {:.1} MB. `scanguard stats --json` at the end: events_sent {}, events_lost {}. Generator: {}.",
                storm.rss_idle_kib as f64 * 1024.0 / 1e6,
                storm.rss_peak_kib as f64 * 1024.0 / 1e6,
                thousands(storm.stats_events_sent),
                thousands(storm.stats_events_lost),
                storm.generator,
            ),
        );
        line(out, "");
        let full = &storm.full_map;
        line(
            out,
            &format!(
                "Beside a full ban map (capacity {}: {} bans, {} of them ended), over two ban sweeps ({:.0} s): RSS up to {:.1} MB, peak (VmHWM) {:.1} MB against {:.1} MB before the fill, daemon CPU {:.1}%; {} bans left, {} of them ended.",
                thousands(u64::from(full.capacity)),
                thousands(full.filled),
                thousands(full.ended),
                full.seconds,
                full.rss_max_kib as f64 * 1024.0 / 1e6,
                full.rss_peak_kib as f64 * 1024.0 / 1e6,
                full.rss_peak_before_kib as f64 * 1024.0 / 1e6,
                full.daemon_cpu_percent,
                thousands(full.left),
                thousands(full.ended_left),
            ),
        );
        line(out, "");
    }
    if let Some(traffic) = &report.traffic {
        traffic_tables(out, traffic);
    }
    for (section, error) in &report.errors {
        line(out, &format!("**{section} failed:** {error}"));
        line(out, "");
    }
    md
}

fn traffic_tables(out: &mut String, traffic: &Traffic) {
    line(
        out,
        &format!(
            "## Real traffic through attached interfaces (iperf3 TCP, {0} s each way; short connections, {0} s; {1} alternating repetitions)",
            traffic.seconds, traffic.repetitions
        ),
    );
    line(out, "");
    line(
        out,
        "Medians over the repetitions; ratios to nothing attached, paired by repetition: median (min–max). The second \"nothing attached\" is the noise floor. Seconds: every whole second of the connection runs as a ratio to its run's median second (min–max).",
    );
    line(out, "");
    for path in &traffic.paths {
        line(out, &format!("### {}", path.path.name()));
        line(out, "");
        line(
            out,
            &format!(
                "Set up in {:.1} s, outside every figure.",
                path.setup_seconds
            ),
        );
        line(out, "");
        line(
            out,
            &format!(
                "| | {} Gbit/s | ratio | other way Gbit/s | ratio | connections/s | ratio | seconds |",
                path.path.up()
            ),
        );
        line(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for row in &path.rows {
            line(
                out,
                &format!(
                    "| {} | {:.1} | {} | {:.1} | {} | {:.0} | {} | {:.2}–{:.2} |",
                    row.method.name(),
                    row.up.median,
                    spread(&row.up_ratio),
                    row.down.median,
                    spread(&row.down_ratio),
                    row.connections.median,
                    spread(&row.connections_ratio),
                    row.connection_seconds.min,
                    row.connection_seconds.max,
                ),
            );
        }
        line(out, "");
        for row in path.rows.iter().filter(|row| row.connections_failed > 0) {
            line(
                out,
                &format!(
                    "{}: {} connections failed (refused, timed out or a wrong reply).",
                    row.method.name(),
                    row.connections_failed
                ),
            );
            line(out, "");
        }
    }
}

/// A ratio's median and its min–max over the repetitions.
fn spread(ratio: &Summary) -> String {
    format!("{:.2}× ({:.2}–{:.2})", ratio.median, ratio.min, ratio.max)
}

fn targets(out: &mut String, report: &Report) {
    line(out, "## Targets");
    line(out, "");
    line(out, "| target | goal | measured | met |");
    line(out, "|---|---|---|---|");
    for target in &report.targets {
        let met = match target.met {
            Verdict::Met => "yes",
            Verdict::Missed => "**no**",
            Verdict::WithinNoise => "within noise",
            Verdict::NotMeasured => "-",
        };
        line(
            out,
            &format!(
                "| {} | {} | {} | {met} |",
                target.what, target.goal, target.measured
            ),
        );
    }
    line(out, "");
    let floor = report
        .packet_cost
        .as_ref()
        .and_then(|cost| cost.floors.first());
    if let Some(spread) = floor.and_then(|floor| busy_spread(&floor.ns)) {
        line(
            out,
            &format!(
                "**The per-packet part ran in a busy spell:** the floor's median stood {spread:.0}% above its minimum (in quiet spells at most {QUIET_SPREAD_PERCENT:.0}%). On a shared VM such spells raise scanguard's medians more than the floor's, so this run's per-packet ratios read high."
            ),
        );
        line(out, "");
    }
}

/// How far the floor's median stands above its minimum at most in a quiet spell: up to 7% in
/// the quiet runs on the two VMs of the README, 14 to 21% in the busy ones.
const QUIET_SPREAD_PERCENT: f64 = 10.0;

/// How far the floor's median stood above its minimum, in percent, if more than in a quiet
/// spell.
fn busy_spread(floor: &Summary) -> Option<f64> {
    let spread = (floor.median / floor.min - 1.0) * 100.0;
    (spread > QUIET_SPREAD_PERCENT).then_some(spread)
}

pub(super) fn cost_table<'a>(out: &mut String, rows: impl Iterator<Item = &'a Row>) {
    line(
        out,
        "| case | verdict | ns median | ns min | × floor | measured against |",
    );
    line(out, "|---|---|---:|---:|---:|---|");
    for row in rows {
        let verdict = if row.verdict == row.expected {
            row.verdict.to_string()
        } else {
            format!("**{}** (expected {})", row.verdict, row.expected)
        };
        line(
            out,
            &format!(
                "| {} | {} | {:.0} | {:.0} | {:.2}× | {} |",
                row.case, verdict, row.ns.median, row.ns.min, row.ratio, row.floor
            ),
        );
    }
    line(out, "");
}

pub(super) fn line(out: &mut String, text: &str) {
    let _ = writeln!(out, "{text}");
}

pub(super) fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

fn first3(loadavg: &str) -> String {
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// 1000000 as 1,000,000.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn a_floor_median_far_above_its_minimum_marks_a_busy_spell() {
        // Floors of real runs: quiet on the first VM and the second, then busy on the second.
        assert_eq!(busy_spread(&Summary::of(&[21.0, 21.0, 21.0, 22.0])), None);
        assert_eq!(busy_spread(&Summary::of(&[29.0, 31.0, 31.0, 32.0])), None);
        let busy = busy_spread(&Summary::of(&[29.0, 34.0, 34.0, 36.0]));
        assert!(
            busy.is_some_and(|spread| (spread - 17.2).abs() < 0.1),
            "{busy:?}"
        );
    }
}

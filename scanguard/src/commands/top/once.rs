//! `scanguard top --once` and `--json`: one snapshot on stdout, for scripts and tests.

use std::{
    fmt::Write as _,
    io::{BufWriter, Write as _},
};

use anyhow::Result;

use super::{
    history::{buckets, sparkline},
    snapshot::Snapshot,
    units,
};
use crate::events::render;

/// Characters of a kind's last minute: two seconds each.
const SPARKLINE_WIDTH: usize = 30;

pub fn print(snapshot: &Snapshot, json: bool) -> Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, snapshot)?;
        writeln!(out)?;
    } else {
        out.write_all(text(snapshot).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// The snapshot as plain text: the sections of the view, untruncated, in aligned columns.
pub fn text(snapshot: &Snapshot) -> String {
    let mut text = String::new();
    let daemon = &snapshot.daemon;
    match daemon.pid {
        Some(pid) => {
            let up = daemon
                .uptime_seconds
                .map_or_else(|| "?".to_string(), units::duration);
            let _ = write!(text, "daemon: pid {pid}, up {up}");
        }
        None => text.push_str("daemon: stopped"),
    }
    for hook in &daemon.interfaces {
        let _ = write!(text, ", {} {}/{}", hook.interface, hook.hook, hook.mode);
    }
    let packets = &snapshot.packets;
    let _ = writeln!(
        text,
        "\nbans: {} of {} in force\npackets/s over {:.1} s: seen {}, passed {}, dropped {} \
         (since start: seen {}, passed {}, dropped {})",
        snapshot.bans.in_force,
        snapshot.bans.capacity,
        snapshot.interval_seconds,
        units::rate(packets.seen.per_second),
        units::rate(packets.passed.per_second),
        units::rate(packets.dropped.per_second),
        packets.seen.total,
        packets.passed.total,
        packets.dropped.total,
    );
    text.push_str("\ndetections:\n");
    let _ = writeln!(
        text,
        "  {:<13} {:>6} {:>12}  LAST MINUTE",
        "KIND", "/S", "TOTAL"
    );
    for kind in snapshot.detections.iter().filter(|kind| kind.is_active()) {
        let row = format!(
            "  {:<13} {:>6} {:>12}  {}",
            kind.kind,
            units::rate(kind.per_second),
            kind.total,
            sparkline(&buckets(&kind.last_minute, SPARKLINE_WIDTH))
        );
        let _ = writeln!(text, "{}", row.trim_end());
    }
    text.push_str("\nbanned sources:\n");
    let _ = writeln!(
        text,
        "  {:<39} {:<13} {:>6} {:>10} {:>8} {:>8}",
        "ADDRESS", "REASON", "REPEAT", "DROPPED", "DROP/S", "LEFT"
    );
    for source in &snapshot.banned {
        let _ = writeln!(
            text,
            "  {:<39} {:<13} {:>6} {:>10} {:>8} {:>8}",
            source.address,
            source.reason,
            source.repeat,
            source.dropped_packets,
            units::rate(source.dropped_per_second),
            units::duration(source.expires_in_seconds)
        );
    }
    // Events are live: a snapshot knows those that came while it was taken.
    let _ = writeln!(
        text,
        "\nmost probed ports (events of the last {:.1} s):",
        snapshot.interval_seconds
    );
    let _ = writeln!(text, "  {:<9} {:<16} {:>8}", "PORT", "SERVICE", "PROBES");
    for port in &snapshot.ports {
        let _ = writeln!(
            text,
            "  {:<9} {:<16} {:>8}",
            format!("{}/{}", port.port, port.protocol),
            port.service.as_deref().unwrap_or("-"),
            port.probes
        );
    }
    let events = &snapshot.events;
    let _ = writeln!(
        text,
        "\nlatest detections (events of the last {:.1} s: {} received, {} skipped, {} lost \
         by the kernel, {} reconnects):",
        snapshot.interval_seconds, events.received, events.skipped, events.lost, events.reconnects
    );
    for detection in &snapshot.latest {
        let _ = writeln!(text, "  {} {}", detection.time, render::log_line(detection));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::top::snapshot::{
        PRINTED_ROWS,
        example::{detection, snapshot},
    };

    #[test]
    fn the_text_has_every_section_and_whole_log_lines() {
        let text = text(&snapshot(2));
        assert!(
            text.starts_with(
                "daemon: pid 812, up 3m12s, veth-v xdp/native\nbans: 2 of 65536 in force\n\
                 packets/s over 1.0 s: seen 12, passed 10, dropped 2.0 \
                 (since start: seen 1234, passed 1200, dropped 34)\n"
            ),
            "{text}"
        );
        let kind = text
            .lines()
            .find(|line| line.starts_with("  null-scan        1.0            3  "))
            .expect(&text);
        assert!(kind.ends_with(" █"), "the last two seconds: {kind}");
        assert!(!text.contains("fin-scan"), "only kinds detected: {text}");
        assert!(
            text.contains(
                "\n  10.77.0.2                               null-scan          1       1000      \
                 2.5    9m58s\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\n  23/tcp    telnet                  3\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "\n  2026-11-21T14:03:07.123Z [scanguard::null-scan] IN=veth-v MAC=02:00:00:00:00:01:"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_printed_snapshot_keeps_the_top_rows_and_the_latest_detections() {
        let mut full = snapshot(PRINTED_ROWS + 5);
        full.latest = (0..PRINTED_ROWS + 5)
            .map(|n| detection(&format!("10.78.0.{n}"), "syn-scan", 23))
            .collect();
        let printed = full.printed();
        assert_eq!(printed.banned.len(), PRINTED_ROWS);
        assert_eq!(printed.banned[0], full.banned[0], "the busiest stay");
        assert_eq!(printed.latest.len(), PRINTED_ROWS);
        assert_eq!(printed.latest.last(), full.latest.last(), "the latest stay");
        assert_eq!(printed.bans.in_force, PRINTED_ROWS + 5);
    }
}

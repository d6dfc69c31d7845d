//! The markdown report's CrowdSec section: a blocklist's startup pull, the memory its maps
//! take, and the per-packet cost with decisions.

use super::markdown::{cost_table, line, mib, thousands};
use crate::decisions::Decisions;

/// The CrowdSec part: a blocklist's startup pull, and the per-packet cost with decisions.
pub fn render(out: &mut String, decisions: &Decisions) {
    line(
        out,
        &format!(
            "## CrowdSec: a startup pull of {} decisions",
            thousands(u64::from(decisions.decisions))
        ),
    );
    line(out, "");
    line(out, "| measure | value |");
    line(out, "|---|---:|");
    let rows = [
        (
            "decisions enforced (addresses, ranges)".to_string(),
            format!(
                "{}, {}",
                thousands(u64::from(decisions.addresses)),
                thousands(u64::from(decisions.ranges))
            ),
        ),
        (
            "startup answer".to_string(),
            format!("{:.1} MiB of JSON", mib(decisions.answer_bytes as u64)),
        ),
        (
            "daemon start until all are enforced".to_string(),
            format!("{:.2} s", decisions.enforced_seconds),
        ),
        (
            "daemon CPU until then (load and attach included)".to_string(),
            format!("{:.2} s", decisions.daemon_cpu_seconds),
        ),
        (
            "daemon peak RSS".to_string(),
            format!("{:.1} MiB", decisions.daemon_peak_rss_kib as f64 / 1024.0),
        ),
        (
            "kernel memory of the decision maps".to_string(),
            format!("{:.1} MiB", mib(decisions.memory_total)),
        ),
    ];
    for (measure, value) in rows {
        line(out, &format!("| {measure} | {value} |"));
    }
    for map in &decisions.memory {
        line(
            out,
            &format!(
                "| · {} ({}, {} entries at most) | {:.1} MiB |",
                map.name,
                map.map_type,
                thousands(map.max_entries),
                mib(map.bytes)
            ),
        );
    }
    for (case, ratio) in &decisions.full_vs_empty {
        line(
            out,
            &format!(
                "| per-packet, full ÷ empty decision set: {case} | {:.2}× |",
                ratio.median
            ),
        );
    }
    line(out, "");
    cost_table(out, decisions.rows.iter());
}

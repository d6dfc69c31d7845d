//! The played rows as the aligned summary table `cargo xtask lab` prints.

use std::fmt::Write as _;

use super::{Row, Step};

/// The rows as an aligned table: probe, before → after, detected, banned, whether it held.
pub fn summary_table(rows: &[Row]) -> String {
    let header = ["#", "probe", "before → after", "detected", "banned", "ok"];
    let lines: Vec<[String; 6]> = rows
        .iter()
        .enumerate()
        .map(|(index, row)| {
            [
                (index + 1).to_string(),
                short_probe(row),
                format!("{} → {}", row.before.verdict, row.after.verdict),
                if row.detected.is_empty() {
                    "-".to_string()
                } else {
                    row.detected.join(",")
                },
                row.banned
                    .as_ref()
                    .map_or("no".to_string(), |reason| format!("yes ({reason})")),
                if row.passed() { "✓" } else { "✗" }.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(|title| title.chars().count());
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut table = String::new();
    let mut push = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        let _ = writeln!(table, "{}", padded.join("  ").trim_end());
    };
    push(&header.map(str::to_string));
    push(&widths.map(|width| "─".repeat(width)));
    for line in &lines {
        push(line);
    }
    table
}

fn short_probe(row: &Row) -> String {
    let scenario = &row.scenario;
    let what = match scenario.step {
        Step::Nmap(flag) => format!("nmap {flag}"),
        Step::Decoys(flag, decoy) => format!("nmap {flag} -D {},ME", decoy.name()),
        Step::Connect => "connect".to_string(),
        Step::Unban => "unban, connect".to_string(),
        Step::Expire => "expiry, connect".to_string(),
    };
    format!(
        "{what}: {} → {}:{}",
        scenario.from.name(),
        scenario.to.name(),
        scenario.port
    )
}

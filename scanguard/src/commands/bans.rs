//! `scanguard bans`: who is banned, why, since when, for how long.

use std::io::{BufWriter, Write as _};

use anyhow::Result;
use scanguard_common::ban::AddrKey;
use serde::Serialize;

use crate::{ban_filter, bans, clock, pins::Pins};

#[derive(Serialize)]
struct BanView {
    address: String,
    reason: &'static str,
    manual: bool,
    banned_since: String,
    expires_in_seconds: u64,
    dropped_packets: u64,
    /// Times banned again soon after the previous ban (each doubles the length).
    repeat: u8,
}

pub fn execute(pins: &Pins, json: bool) -> Result<()> {
    let mode = pins.config()?.ban_mode();
    let now = clock::boot_ns();
    let pending = ban_filter::pending_drops(&pins.verdicts()?)?;
    let views: Vec<BanView> = bans::active(&pins.bans()?, mode)?
        .into_iter()
        .map(|record| BanView {
            address: record.address.to_string(),
            reason: record.reason(),
            manual: record.ban.origin == scanguard_common::ban::ORIGIN_MANUAL,
            banned_since: humantime::format_rfc3339_seconds(clock::wall_time(
                record.ban.banned_at_ns,
            ))
            .to_string(),
            expires_in_seconds: record.expires_in(mode, now).as_secs(),
            dropped_packets: record.ban.dropped_packets
                + pending
                    .get(&AddrKey::from(record.address))
                    .copied()
                    .unwrap_or(0),
            repeat: record.ban.repeat,
        })
        .collect();
    // Stdout is line-buffered: a million bans would be a million writes.
    let mut out = BufWriter::new(std::io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &views)?;
        writeln!(out)?;
    } else if views.is_empty() {
        writeln!(out, "no banned sources")?;
    } else {
        writeln!(
            out,
            "{:<40} {:<13} {:<21} {:>10} {:>10} {:>6}",
            "ADDRESS", "REASON", "BANNED SINCE", "EXPIRES IN", "DROPPED", "REPEAT"
        )?;
        for view in views {
            writeln!(
                out,
                "{:<40} {:<13} {:<21} {:>9}s {:>10} {:>6}",
                view.address,
                view.reason,
                view.banned_since,
                view.expires_in_seconds,
                view.dropped_packets,
                view.repeat
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

//! `scanguard bans`: who is banned, why, since when, for how long.

use std::{
    fmt::Display,
    io::{BufWriter, Write as _},
    time::Duration,
};

use anyhow::Result;
use humantime::Rfc3339Timestamp;
use scanguard_common::{addr::AddrKey, ban::ORIGIN_MANUAL};
use serde::Serialize;

use crate::{
    bpf::{
        ban_filter, bans,
        clock::{self, WallClock},
        pins::Pins,
    },
    crowdsec::{book::is_address, maps::Maps},
};

#[derive(Serialize)]
struct BanView {
    /// An address; for a CrowdSec range decision, a network.
    address: String,
    /// The scan kind, `manual`, or a CrowdSec decision's scenario.
    reason: String,
    /// `scanguard` (detected here), `manual`, or `lapi/` and a CrowdSec decision's origin.
    origin: String,
    manual: bool,
    #[serde(serialize_with = "as_text")]
    banned_since: Rfc3339Timestamp,
    expires_in_seconds: u64,
    dropped_packets: u64,
    /// Times banned again soon after the previous ban (each doubles the length).
    repeat: u8,
}

pub fn execute(pins: &Pins, json: bool) -> Result<()> {
    let mode = pins.config()?.ban_mode();
    let now = clock::boot_ns();
    let wall_clock = WallClock::now();
    let pending = ban_filter::pending_drops(&pins.verdicts()?)?;
    // Nothing per ban is allocated: a million bans are listed in about a second.
    let views: Vec<BanView> = bans::active(&pins.bans()?, mode)?
        .into_iter()
        .map(|record| BanView {
            address: record.address.to_string(),
            reason: record.reason().to_string(),
            origin: match record.ban.origin == ORIGIN_MANUAL {
                true => "manual",
                false => "scanguard",
            }
            .to_string(),
            manual: record.ban.origin == ORIGIN_MANUAL,
            banned_since: humantime::format_rfc3339_seconds(wall_clock.at(record.ban.banned_at_ns)),
            expires_in_seconds: record.expires_in(mode, now).as_secs(),
            dropped_packets: record.ban.dropped_packets
                + pending
                    .get(&AddrKey::from(record.address))
                    .copied()
                    .unwrap_or(0),
            repeat: record.ban.repeat,
        })
        .chain(decisions(pins, now, &wall_clock)?)
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
            "{:<40} {:<13} {:<13} {:<21} {:>10} {:>10} {:>6}",
            "ADDRESS", "REASON", "ORIGIN", "BANNED SINCE", "EXPIRES IN", "DROPPED", "REPEAT"
        )?;
        for view in views {
            // The timestamp ignores a width; it is always 20 characters.
            writeln!(
                out,
                "{:<40} {:<13} {:<13} {}  {:>9}s {:>10} {:>6}",
                view.address,
                view.reason,
                view.origin,
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

/// The CrowdSec LAPI's decisions in force, after the local bans.
fn decisions(pins: &Pins, now: u64, wall_clock: &WallClock) -> Result<Vec<BanView>> {
    Ok(Maps::open(pins)?
        .in_force(now)?
        .into_iter()
        .map(|entry| BanView {
            address: match is_address(&entry.net) {
                true => entry.net.addr().to_string(),
                false => entry.net.to_string(),
            },
            reason: entry.scenario,
            origin: format!("lapi/{}", entry.origin),
            manual: false,
            banned_since: humantime::format_rfc3339_seconds(wall_clock.at(entry.decision.since_ns)),
            expires_in_seconds: Duration::from_nanos(
                entry.decision.expires_at_ns.saturating_sub(now),
            )
            .as_secs(),
            dropped_packets: entry.decision.dropped,
            repeat: 0,
        })
        .collect())
}

/// Serializes through `Display`, without an intermediate `String`.
fn as_text<S: serde::Serializer>(value: &impl Display, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

//! Bans that outlive a reboot. The daemon saves the ban map to `<state dir>/bans.json` on a
//! timer and as it exits ([`saver`]); `attach` puts the bans still in force back when it finds
//! no pinned program to adopt, since bpffs is empty after a reboot ([`saver::restore`]). The
//! map stamps bans with CLOCK_BOOTTIME, which starts again at zero with every boot, so the file
//! holds wall-clock times. How the file is read, replaced and set aside: [`store`].

pub mod saver;
pub mod store;

use std::{
    net::IpAddr,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::{Result, bail};
use scanguard_common::{
    addr::AddrKey,
    ban::{Ban, ORIGIN_DETECTED, ORIGIN_MANUAL, REASON_MANUAL, reason_name},
    config::BanMode,
    kind::Kind,
};
use serde::{Deserialize, Serialize};

use crate::bpf::clock;

const NANOS_PER_MILLI: u64 = 1_000_000;

/// One ban as saved. Times are Unix milliseconds (wall clock).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedBan {
    pub address: IpAddr,
    /// A scan kind's name, or `manual`.
    pub reason: String,
    pub manual: bool,
    pub banned_at_unix_ms: u64,
    /// When it ends as things stood at the save: a sliding ban ends later if its source comes
    /// back.
    pub expires_at_unix_ms: u64,
    /// Its full length, which a sliding ban starts again from at every dropped packet.
    pub duration_ms: u64,
    pub repeat: u8,
    pub dropped_packets: u64,
}

/// One reading of the boot clock and the wall clock, to convert between them both ways in
/// milliseconds, as the file counts.
#[derive(Clone, Copy, Debug)]
pub struct Clocks {
    pub boot_ns: u64,
    pub unix_ms: u64,
}

impl Clocks {
    pub fn now() -> Clocks {
        Clocks {
            boot_ns: clock::boot_ns(),
            unix_ms: unix_ms(SystemTime::now()),
        }
    }

    /// The wall-clock time of a boot-clock timestamp, past or future.
    pub fn unix_ms_at(&self, boot_ns: u64) -> u64 {
        match boot_ns.checked_sub(self.boot_ns) {
            Some(ahead) => self.unix_ms.saturating_add(ahead / NANOS_PER_MILLI),
            None => self
                .unix_ms
                .saturating_sub((self.boot_ns - boot_ns) / NANOS_PER_MILLI),
        }
    }

    /// The boot-clock timestamp of a wall-clock time; 0 for one before this boot.
    pub fn boot_ns_at(&self, unix_ms: u64) -> u64 {
        match unix_ms.checked_sub(self.unix_ms) {
            Some(ahead) => self
                .boot_ns
                .saturating_add(ahead.saturating_mul(NANOS_PER_MILLI)),
            None => self
                .boot_ns
                .saturating_sub((self.unix_ms - unix_ms).saturating_mul(NANOS_PER_MILLI)),
        }
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

impl SavedBan {
    pub fn new(key: &AddrKey, ban: &Ban, mode: BanMode, clocks: &Clocks) -> SavedBan {
        SavedBan {
            address: key.address(),
            reason: reason_name(ban.reason).to_string(),
            manual: ban.origin == ORIGIN_MANUAL,
            banned_at_unix_ms: clocks.unix_ms_at(ban.banned_at_ns),
            expires_at_unix_ms: clocks.unix_ms_at(ban.expires_at_ns(mode)),
            duration_ms: ban.duration_ns / NANOS_PER_MILLI,
            repeat: ban.repeat,
            dropped_packets: ban.dropped_packets,
        }
    }

    /// The ban for this boot's map, ending when it ended before; `None` once it has ended.
    /// A ban begun before this boot is dated from the boot, the earliest the map can say, and
    /// in fixed mode its length shrinks to match.
    pub fn to_ban(&self, mode: BanMode, clocks: &Clocks) -> Result<Option<Ban>> {
        let reason = reason_byte(&self.reason)?;
        if self.expires_at_unix_ms <= clocks.unix_ms {
            return Ok(None);
        }
        let expires_ns = clocks.boot_ns_at(self.expires_at_unix_ms);
        let duration_ns = self.duration_ms.saturating_mul(NANOS_PER_MILLI);
        // The ban's start, or for a sliding one its last drop, on this boot's clock.
        let start_ns = expires_ns.saturating_sub(duration_ns);
        let banned_at_ns = match mode {
            BanMode::Fixed => start_ns,
            BanMode::Sliding => clocks.boot_ns_at(self.banned_at_unix_ms).min(start_ns),
        };
        Ok(Some(Ban {
            banned_at_ns,
            last_seen_ns: start_ns,
            duration_ns: expires_ns - start_ns,
            dropped_packets: self.dropped_packets,
            reason,
            origin: if self.manual {
                ORIGIN_MANUAL
            } else {
                ORIGIN_DETECTED
            },
            repeat: self.repeat,
            _pad: [0; 5],
        }))
    }
}

/// The map's reason byte of a saved reason name.
fn reason_byte(name: &str) -> Result<u8> {
    match Kind::from_name(name) {
        Some(kind) => Ok(kind as u8),
        None if name == reason_name(REASON_MANUAL) => Ok(REASON_MANUAL),
        None => bail!("unknown ban reason {name:?}"),
    }
}

#[cfg(test)]
mod tests;

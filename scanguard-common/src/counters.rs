//! Per-CPU packet counters: one array entry per CPU, summed by the loader.

use crate::kind::{Kind, MAX_KINDS};

pub const COUNTERS_MAP: &str = "COUNTERS";

#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    Seen = 0,
    Passed = 1,
    DroppedBanned = 2,
    DroppedProbe = 3,
    ParseFailed = 4,
    BanInsertFailed = 5,
    BansCreated = 6,
    BansExpired = 7,
    EventsSent = 8,
    EventsSuppressed = 9,
    /// A ban not created because the global new-bans budget was spent.
    BansCapped = 10,
    /// A ban not created because its /24 or /64 had too many new bans this minute.
    BansCappedSubnet = 11,
    /// A ban not created because lock-out protection covers the source.
    BansSpared = 12,
    /// A probe dropped without a ban: its source has not sent `min_probes` yet.
    ProbesPending = 13,
    /// A probe dropped without a ban: the route back to its claimed source names another MAC
    /// or another interface (see `source_check`).
    Spoofed = 14,
    /// A probe dropped without a ban: the route back cannot vouch for its source (no neighbour
    /// entry, no route, a VLAN tag).
    Unverified = 15,
    /// A ban taken from the reserve: the source came back after the global budget turned it
    /// away (see `reserve`).
    BansReserved = 16,
}

impl Counter {
    pub const ALL: [Counter; 17] = [
        Counter::Seen,
        Counter::Passed,
        Counter::DroppedBanned,
        Counter::DroppedProbe,
        Counter::ParseFailed,
        Counter::BanInsertFailed,
        Counter::BansCreated,
        Counter::BansExpired,
        Counter::EventsSent,
        Counter::EventsSuppressed,
        Counter::BansCapped,
        Counter::BansCappedSubnet,
        Counter::BansSpared,
        Counter::ProbesPending,
        Counter::Spoofed,
        Counter::Unverified,
        Counter::BansReserved,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Counter::Seen => "seen",
            Counter::Passed => "passed",
            Counter::DroppedBanned => "dropped_banned",
            Counter::DroppedProbe => "dropped_probe",
            Counter::ParseFailed => "parse_failed",
            Counter::BanInsertFailed => "ban_insert_failed",
            Counter::BansCreated => "bans_created",
            Counter::BansExpired => "bans_expired",
            Counter::EventsSent => "events_sent",
            Counter::EventsSuppressed => "events_suppressed",
            Counter::BansCapped => "bans_capped",
            Counter::BansCappedSubnet => "bans_capped_subnet",
            Counter::BansSpared => "bans_spared",
            Counter::ProbesPending => "probes_pending",
            Counter::Spoofed => "spoofed",
            Counter::Unverified => "unverified",
            Counter::BansReserved => "bans_reserved",
        }
    }
}

/// Detections of a kind are counted after the plain counters.
const DETECTIONS_START: usize = Counter::ALL.len();
pub const COUNTER_SLOTS: usize = DETECTIONS_START + MAX_KINDS;

/// The whole per-CPU counter block, one map entry, so a packet costs one lookup.
pub type Counters = [u64; COUNTER_SLOTS];

pub const fn counter_slot(counter: Counter) -> usize {
    counter as usize
}

pub const fn detection_slot(kind: Kind) -> usize {
    DETECTIONS_START + kind.index()
}

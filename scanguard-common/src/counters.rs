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
}

impl Counter {
    pub const ALL: [Counter; 10] = [
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

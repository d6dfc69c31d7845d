//! The runtime configuration the loader writes into a one-entry array map before attaching.

use crate::{
    action::Action,
    kind::{Kind, MAX_KINDS},
    wire_struct,
};

pub const CONFIG_MAP: &str = "CONFIG";

/// How a ban's clock runs.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BanMode {
    /// Expires `ban_seconds` after it began, like `-m recent --rcheck --seconds`.
    Fixed = 0,
    /// Every dropped packet restarts the clock, like `-m recent --update --seconds`.
    Sliding = 1,
}

impl BanMode {
    pub const fn name(self) -> &'static str {
        match self {
            BanMode::Fixed => "fixed",
            BanMode::Sliding => "sliding",
        }
    }

    pub fn from_name(name: &str) -> Option<BanMode> {
        [BanMode::Fixed, BanMode::Sliding]
            .into_iter()
            .find(|mode| mode.name() == name)
    }

    pub const fn from_u8(value: u8) -> BanMode {
        match value {
            1 => BanMode::Sliding,
            _ => BanMode::Fixed,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// How long a ban the program creates lasts, in nanoseconds.
    pub ban_ns: u64,
    /// An `Action` per `Kind`, indexed by the kind's discriminant.
    pub actions: [u8; MAX_KINDS],
    /// Events per source: one per `event_interval_ns` on average (the `--limit`)...
    pub event_interval_ns: u64,
    /// ...and at most `event_capacity_ns / event_interval_ns` at once (the `--limit-burst`).
    pub event_capacity_ns: u64,
    /// A `BanMode`.
    pub ban_mode: u8,
    pub _pad: [u8; 7],
}
wire_struct!(Config, 48);

/// As `-m limit --limit 3/m --limit-burst 5`.
pub const DEFAULT_EVENTS_PER_MINUTE: u32 = 3;
pub const DEFAULT_EVENT_BURST: u32 = 5;

pub const NANOS_PER_SECOND: u64 = 1_000_000_000;
/// As the seeds' `-m recent --seconds 60`.
pub const DEFAULT_BAN_SECONDS: u64 = 60;

/// The spacing of events at `per_minute` (0 means none).
pub const fn event_interval_ns(per_minute: u32) -> u64 {
    match per_minute {
        0 => 0,
        rate => 60 * NANOS_PER_SECOND / rate as u64,
    }
}

impl Config {
    pub fn action(&self, kind: Kind) -> Action {
        Action::from_u8(self.actions[kind.index()])
    }

    pub fn set_action(&mut self, kind: Kind, action: Action) {
        self.actions[kind.index()] = action as u8;
    }

    pub const fn ban_mode(&self) -> BanMode {
        BanMode::from_u8(self.ban_mode)
    }
}

impl Default for Config {
    fn default() -> Self {
        let mut config = Config {
            ban_ns: DEFAULT_BAN_SECONDS * NANOS_PER_SECOND,
            actions: [Action::Ignore as u8; MAX_KINDS],
            event_interval_ns: event_interval_ns(DEFAULT_EVENTS_PER_MINUTE),
            event_capacity_ns: event_interval_ns(DEFAULT_EVENTS_PER_MINUTE)
                * DEFAULT_EVENT_BURST as u64,
            ban_mode: BanMode::Fixed as u8,
            _pad: [0; 7],
        };
        for kind in Kind::ALL {
            config.set_action(kind, Action::default_for(kind));
        }
        config
    }
}

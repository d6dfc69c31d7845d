//! The runtime configuration the loader writes into a one-entry array map before attaching.

use crate::{
    action::Action,
    kind::{Kind, MAX_KINDS},
    sweep::{DEFAULT_SWEEP_PORTS, DEFAULT_SWEEP_SECONDS},
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
    /// A source probing `sweep_ports` distinct ports within this window is a `port-sweep`.
    pub sweep_window_ns: u64,
    /// 0 turns port-sweep detection off.
    pub sweep_ports: u32,
    /// A `BanMode`.
    pub ban_mode: u8,
    /// 1: default-deny sensor mode (inbound TCP only to open ports and existing flows).
    pub default_deny: u8,
    /// `Fingerprint::bit`s that make a SYN a `fingerprint` detection.
    pub fingerprint_mask: u8,
    /// 1 once the egress program records flows; until then nothing that needs to know the
    /// flows (stateless probes, UDP sweeps, default-deny) is judged, so nothing is misjudged.
    pub flows_tracked: u8,
}
wire_struct!(Config, 56);

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
            sweep_window_ns: DEFAULT_SWEEP_SECONDS * NANOS_PER_SECOND,
            sweep_ports: DEFAULT_SWEEP_PORTS,
            ban_mode: BanMode::Fixed as u8,
            default_deny: 0,
            fingerprint_mask: 0,
            flows_tracked: 0,
        };
        for kind in Kind::ALL {
            config.set_action(kind, Action::default_for(kind));
        }
        config
    }
}

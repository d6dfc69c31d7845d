//! The runtime configuration: a global variable of the program, which the loader writes
//! through its one-entry array map before attaching.

use crate::{
    action::Action,
    bucket::Rate,
    kind::{Kind, MAX_KINDS},
    ports::ROLE_COMBINATIONS,
    reserve::DEFAULT_RESERVED_BANS_PER_SECOND,
    sweep::{
        DEFAULT_SLOW_SWEEP_PORTS, DEFAULT_SLOW_SWEEP_SECONDS, DEFAULT_SWEEP_PORTS,
        DEFAULT_SWEEP_SECONDS,
    },
    wire_struct,
};

/// The config's pin name.
pub const CONFIG_MAP: &str = "CONFIG";
/// The section of the program's global config variable, which aya names its map after.
pub const CONFIG_SECTION: &str = ".bss.config";

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
    /// Detection events per source, as `-m limit` on the LOG targets of the classic iptables
    /// rules.
    pub event_rate: Rate,
    /// Detection events from all sources together, so a spoofed flood from random sources
    /// cannot flood the log either.
    pub global_event_rate: Rate,
    /// New bans from all sources together: a spoofed flood cannot churn the ban map faster.
    pub ban_rate: Rate,
    /// New bans for sources `ban_rate` turned away that probe again (see `reserve`).
    pub reserved_ban_rate: Rate,
    /// Probes of a kind from one source, within `ban_ns`, before it is banned (0 and 1: the
    /// first). Its earlier probes are dropped without a ban.
    pub min_probes: [u8; MAX_KINDS],
    /// A source banned again within this long of its previous ban's end is banned twice as
    /// long each time (fail2ban's `bantime.increment`), up to `max_ban_ns`; 0: off.
    pub repeat_window_ns: u64,
    pub max_ban_ns: u64,
    /// A source probing `sweep_ports` distinct ports within this window is a `port-sweep`.
    pub sweep_window_ns: u64,
    /// A source probing `slow_sweep_ports` distinct ports within this window is a
    /// `slow-sweep`.
    pub slow_sweep_window_ns: u64,
    /// 0 turns port-sweep detection off.
    pub sweep_ports: u32,
    /// 0 turns slow-sweep detection off.
    pub slow_sweep_ports: u32,
    /// New bans per /24 (IPv4) or /64 (IPv6) per minute, against decoys from one network;
    /// 0: no cap.
    pub subnet_bans_per_minute: u32,
    /// The ban filter's line count minus one (see `ban_filter`); the loader sets it from the
    /// filter map it created or adopted.
    pub ban_filter_mask: u32,
    /// A `BanMode`.
    pub ban_mode: u8,
    /// 1: default-deny sensor mode (inbound TCP only to open ports and existing flows).
    pub default_deny: u8,
    /// `Fingerprint::bit`s that make a SYN a `fingerprint` detection.
    pub fingerprint_mask: u8,
    /// 1: probes towards `min_probes` only count when their TTL matches the source's first
    /// (like `-m recent --rttl`): decoys spoofed from elsewhere arrive with other TTLs.
    pub ttl_check: u8,
    /// 1 once the egress program records flows; until then nothing that needs to know the
    /// flows (stateless probes, UDP sweeps, default-deny) is judged, so nothing is misjudged.
    pub flows_tracked: u8,
    /// 1: a probe bans only a source the route back vouches for (see `source_check`); set by
    /// the loader once loopback can take route lookups.
    pub verify_source: u8,
    pub _pad: [u8; 10],
    /// Per combination of port roles, the TCP control-flag combinations that pass unjudged
    /// (see `settled`); all zero, every segment is judged.
    pub tcp_settled: [u64; ROLE_COMBINATIONS],
}
wire_struct!(Config, 680);

/// As `-m limit --limit 3/m --limit-burst 5`.
pub const DEFAULT_EVENTS_PER_MINUTE: u32 = 3;
pub const DEFAULT_EVENT_BURST: u32 = 5;

pub const NANOS_PER_SECOND: u64 = 1_000_000_000;
/// As the classic iptables rules' `-m recent --seconds 60`.
pub const DEFAULT_BAN_SECONDS: u64 = 60;

/// All sources together, per second: enough to see a scan storm, not to drown the daemon.
pub const DEFAULT_EVENTS_PER_SECOND: u32 = 200;
/// New bans per second, all sources together.
pub const DEFAULT_BANS_PER_SECOND: u32 = 100;

impl Config {
    /// What the program holds until the loader stores a config: every action `ignore`, nothing
    /// settled, so it detects nothing.
    pub const OFF: Config = Config {
        ban_ns: 0,
        actions: [0; MAX_KINDS],
        event_rate: Rate::NONE,
        global_event_rate: Rate::NONE,
        ban_rate: Rate::NONE,
        reserved_ban_rate: Rate::NONE,
        min_probes: [0; MAX_KINDS],
        repeat_window_ns: 0,
        max_ban_ns: 0,
        sweep_window_ns: 0,
        slow_sweep_window_ns: 0,
        sweep_ports: 0,
        slow_sweep_ports: 0,
        subnet_bans_per_minute: 0,
        ban_filter_mask: 0,
        ban_mode: 0,
        default_deny: 0,
        fingerprint_mask: 0,
        ttl_check: 0,
        flows_tracked: 0,
        verify_source: 0,
        _pad: [0; 10],
        tcp_settled: [0; ROLE_COMBINATIONS],
    };

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
            event_rate: Rate::new(
                DEFAULT_EVENTS_PER_MINUTE,
                60 * NANOS_PER_SECOND,
                DEFAULT_EVENT_BURST,
            ),
            global_event_rate: Rate::new(
                DEFAULT_EVENTS_PER_SECOND,
                NANOS_PER_SECOND,
                DEFAULT_EVENTS_PER_SECOND,
            ),
            ban_rate: Rate::new(
                DEFAULT_BANS_PER_SECOND,
                NANOS_PER_SECOND,
                DEFAULT_BANS_PER_SECOND,
            ),
            reserved_ban_rate: Rate::new(
                DEFAULT_RESERVED_BANS_PER_SECOND,
                NANOS_PER_SECOND,
                DEFAULT_RESERVED_BANS_PER_SECOND,
            ),
            sweep_window_ns: DEFAULT_SWEEP_SECONDS * NANOS_PER_SECOND,
            sweep_ports: DEFAULT_SWEEP_PORTS,
            slow_sweep_window_ns: DEFAULT_SLOW_SWEEP_SECONDS * NANOS_PER_SECOND,
            slow_sweep_ports: DEFAULT_SLOW_SWEEP_PORTS,
            ..Config::OFF
        };
        for kind in Kind::ALL {
            config.set_action(kind, Action::default_for(kind));
        }
        config
    }
}

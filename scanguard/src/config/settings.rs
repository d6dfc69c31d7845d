//! What an operator can configure, validated, with defaults taken from the classic iptables
//! rules scanguard replaces.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use scanguard_common::{
    action::Action,
    ban::DEFAULT_BAN_CAPACITY,
    bucket::Rate,
    config::{
        BanMode, Config, DEFAULT_BAN_SECONDS, DEFAULT_BANS_PER_SECOND, DEFAULT_EVENT_BURST,
        DEFAULT_EVENTS_PER_MINUTE, DEFAULT_EVENTS_PER_SECOND, NANOS_PER_SECOND,
    },
    fingerprint::Fingerprint,
    flow::DEFAULT_FLOW_CAPACITY,
    kind::{Kind, MAX_KINDS},
    ports::{
        DEFAULT_WATCHED_PORTS, DEFAULT_WATCHED_UDP_PORTS, ROLE_OPEN, ROLE_PROTECTED, ROLE_TRAP,
        ROLE_WATCHED, ROLE_WATCHED_UDP,
    },
    reserve::DEFAULT_RESERVED_BANS_PER_SECOND,
    sweep::{
        DEFAULT_SLOW_SWEEP_PORTS, DEFAULT_SLOW_SWEEP_SECONDS, DEFAULT_SWEEP_PORTS,
        DEFAULT_SWEEP_SECONDS,
    },
};

use crate::config::crowdsec::CrowdSec;

/// Decoys from one network: a /24 or /64 gets at most this many new bans a minute.
pub const DEFAULT_SUBNET_BANS_PER_MINUTE: u32 = 16;
/// Back within 10 minutes of a ban's end: a repeat offender.
pub const DEFAULT_REPEAT_WINDOW_SECONDS: u64 = 600;
/// Repeat offenders' bans double up to a day.
pub const DEFAULT_MAX_BAN_SECONDS: u64 = 86_400;

/// A fingerprint, ordered by its name so settings can hold a set of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FingerprintName(pub Fingerprint);

impl Ord for FingerprintName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.name().cmp(other.0.name())
    }
}

impl PartialOrd for FingerprintName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// A bare SYN to one of these is a `syn-scan`.
    pub watched_ports: BTreeSet<u16>,
    /// Any connection attempt to one of these is a `trap-port` probe, logged by name.
    pub trap_ports: BTreeMap<u16, String>,
    /// Never trigger anything (the real sshd of a sensor).
    pub protected_ports: BTreeSet<u16>,
    pub actions: BTreeMap<Kind, Action>,
    pub ban_seconds: u64,
    pub ban_mode: BanMode,
    /// Ban-map entries; the least recently used ban is evicted beyond it.
    pub capacity: u32,
    /// Sources never banned nor dropped.
    pub allow: Vec<IpNet>,
    /// A datagram to one of these outside any flow is a `udp-probe`.
    pub watched_udp_ports: BTreeSet<u16>,
    /// A source probing this many distinct ports within `sweep_seconds` is a `port-sweep`
    /// (0: off).
    pub sweep_ports: u32,
    pub sweep_seconds: u64,
    /// A source probing this many distinct ports within `slow_sweep_seconds` is a
    /// `slow-sweep` (0: off).
    pub slow_sweep_ports: u32,
    pub slow_sweep_seconds: u64,
    /// Scanner fingerprints that make a SYN a `fingerprint` detection (always tagged in events).
    pub fingerprints: BTreeSet<FingerprintName>,
    /// Default-deny sensor mode: inbound TCP only to `open_ports` and existing flows.
    pub default_deny: bool,
    pub open_ports: BTreeSet<u16>,
    /// Flows remembered for the stateless-probe and default-deny checks.
    pub flow_capacity: u32,
    /// Never ban the default gateways, this host's addresses or the SSH client that started
    /// scanguard; report "would have banned" instead.
    pub lockout_protection: bool,
    /// New bans per second, all sources together.
    pub bans_per_second: u32,
    /// New bans per /24 or /64 per minute (0: no cap).
    pub subnet_bans_per_minute: u32,
    /// New bans per second for sources the spent `bans_per_second` turned away that probe
    /// again (0: none; see docs/spoofing.md).
    pub reserved_bans_per_second: u32,
    /// Ban only a source the route back vouches for: the probe came from the route's next hop,
    /// on its interface (see docs/spoofing.md).
    pub verify_source: bool,
    /// Probes of a kind one source must send before it is banned (default 1).
    pub min_probes: BTreeMap<Kind, u8>,
    /// Probes towards `min_probes` must share the source's first TTL.
    pub ttl_check: bool,
    /// A source banned again within `repeat_window_seconds` of its last ban's end gets twice
    /// the previous length, up to `max_ban_seconds` (0 window: off).
    pub repeat_window_seconds: u64,
    pub max_ban_seconds: u64,
    /// Detection events from all sources together, per second.
    pub events_per_second: u32,
    /// Detection events per source per minute (`-m limit --limit N/m`)...
    pub events_per_minute: u32,
    /// ...after a burst of this many (`--limit-burst`).
    pub event_burst: u32,
    /// The CrowdSec LAPI to take decisions from and push bans to, and the decision maps' sizes.
    pub crowdsec: CrowdSec,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            watched_ports: DEFAULT_WATCHED_PORTS.into_iter().collect(),
            trap_ports: BTreeMap::new(),
            protected_ports: BTreeSet::new(),
            actions: Kind::ALL
                .into_iter()
                .map(|kind| (kind, Action::default_for(kind)))
                .collect(),
            ban_seconds: DEFAULT_BAN_SECONDS,
            ban_mode: BanMode::Fixed,
            capacity: DEFAULT_BAN_CAPACITY,
            allow: Vec::new(),
            watched_udp_ports: DEFAULT_WATCHED_UDP_PORTS.into_iter().collect(),
            sweep_ports: DEFAULT_SWEEP_PORTS,
            sweep_seconds: DEFAULT_SWEEP_SECONDS,
            slow_sweep_ports: DEFAULT_SLOW_SWEEP_PORTS,
            slow_sweep_seconds: DEFAULT_SLOW_SWEEP_SECONDS,
            fingerprints: BTreeSet::new(),
            default_deny: false,
            open_ports: BTreeSet::new(),
            flow_capacity: DEFAULT_FLOW_CAPACITY,
            lockout_protection: true,
            bans_per_second: DEFAULT_BANS_PER_SECOND,
            subnet_bans_per_minute: DEFAULT_SUBNET_BANS_PER_MINUTE,
            reserved_bans_per_second: DEFAULT_RESERVED_BANS_PER_SECOND,
            verify_source: true,
            min_probes: BTreeMap::new(),
            ttl_check: true,
            repeat_window_seconds: DEFAULT_REPEAT_WINDOW_SECONDS,
            max_ban_seconds: DEFAULT_MAX_BAN_SECONDS,
            events_per_second: DEFAULT_EVENTS_PER_SECOND,
            events_per_minute: DEFAULT_EVENTS_PER_MINUTE,
            event_burst: DEFAULT_EVENT_BURST,
            crowdsec: CrowdSec::default(),
        }
    }
}

impl Settings {
    /// The struct the program reads from its global config variable.
    pub fn kernel_config(&self) -> Config {
        let seconds = |seconds: u64| seconds.saturating_mul(NANOS_PER_SECOND);
        let mut min_probes = [0; MAX_KINDS];
        for (kind, probes) in &self.min_probes {
            min_probes[kind.index()] = *probes;
        }
        let mut config = Config {
            ban_ns: seconds(self.ban_seconds),
            event_rate: Rate::new(self.events_per_minute, seconds(60), self.event_burst),
            global_event_rate: Rate::new(
                self.events_per_second,
                seconds(1),
                self.events_per_second,
            ),
            ban_rate: Rate::new(self.bans_per_second, seconds(1), self.bans_per_second),
            reserved_ban_rate: Rate::new(
                self.reserved_bans_per_second,
                seconds(1),
                self.reserved_bans_per_second,
            ),
            subnet_bans_per_minute: self.subnet_bans_per_minute,
            min_probes,
            repeat_window_ns: seconds(self.repeat_window_seconds),
            max_ban_ns: seconds(self.max_ban_seconds),
            ttl_check: u8::from(self.ttl_check),
            sweep_window_ns: seconds(self.sweep_seconds),
            sweep_ports: self.sweep_ports,
            slow_sweep_window_ns: seconds(self.slow_sweep_seconds),
            slow_sweep_ports: self.slow_sweep_ports,
            default_deny: u8::from(self.default_deny),
            fingerprint_mask: self
                .fingerprints
                .iter()
                .fold(0, |mask, name| mask | name.0.bit()),
            ban_mode: self.ban_mode as u8,
            ..Config::default()
        };
        for (kind, action) in &self.actions {
            config.set_action(*kind, *action);
        }
        config
    }

    /// Every port with a role, and its `ROLE_*` bits.
    pub fn port_roles(&self) -> BTreeMap<u16, u8> {
        let mut roles = BTreeMap::new();
        let ports_with_role: [(Vec<u16>, u8); 5] = [
            (self.watched_ports.iter().copied().collect(), ROLE_WATCHED),
            (self.trap_ports.keys().copied().collect(), ROLE_TRAP),
            (
                self.protected_ports.iter().copied().collect(),
                ROLE_PROTECTED,
            ),
            (
                self.watched_udp_ports.iter().copied().collect(),
                ROLE_WATCHED_UDP,
            ),
            (self.open_ports.iter().copied().collect(), ROLE_OPEN),
        ];
        for (ports, role) in ports_with_role {
            for port in ports {
                *roles.entry(port).or_insert(0) |= role;
            }
        }
        roles
    }

    pub fn action(&self, kind: Kind) -> Action {
        self.actions
            .get(&kind)
            .copied()
            .unwrap_or(Action::default_for(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_ban_stealth_scans_for_a_minute_on_the_iptables_rules_ports() {
        let settings = Settings::default();
        let config = settings.kernel_config();
        assert_eq!(config.ban_ns, 60 * NANOS_PER_SECOND);
        assert_eq!(config.action(Kind::NullScan), Action::Ban);
        assert_eq!(config.action(Kind::TrapPort), Action::Log);
        // 3 per minute with a burst of 5, as `-m limit --limit 3/m --limit-burst 5`.
        assert_eq!(config.event_rate.interval_ns, 20 * NANOS_PER_SECOND);
        assert_eq!(config.event_rate.capacity_ns, 100 * NANOS_PER_SECOND);
        let roles = settings.port_roles();
        assert_eq!(roles.get(&23), Some(&ROLE_WATCHED));
        assert_eq!(roles.get(&79), Some(&ROLE_WATCHED));
        assert_eq!(roles.get(&22), None);
    }

    #[test]
    fn a_port_can_hold_several_roles() {
        let settings = Settings {
            trap_ports: [(23, "telnet".to_string())].into(),
            protected_ports: [23].into(),
            ..Settings::default()
        };
        assert_eq!(
            settings.port_roles()[&23],
            ROLE_WATCHED | ROLE_TRAP | ROLE_PROTECTED
        );
    }
}

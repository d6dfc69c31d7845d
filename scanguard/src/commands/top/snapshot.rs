//! One snapshot of the running daemon: the data model that the view draws and `--once` and
//! `--json` print, and the pure steps that build it from what the collector read.

use std::{collections::HashMap, net::IpAddr, time::Duration};

use serde::Serialize;

use super::{
    feed::{PortTally, Transport},
    history,
    services::Services,
};
use crate::events::Detection;

/// Rows `--once` and `--json` print of the banned sources, ports and detections.
pub const PRINTED_ROWS: usize = 20;

#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    /// The seconds the rates are over: the latest interval between two readings.
    pub interval_seconds: f64,
    pub daemon: Daemon,
    pub bans: BanCount,
    pub packets: Packets,
    /// Every kind, in the order `stats` lists them.
    pub detections: Vec<KindActivity>,
    /// Bans in force, the busiest first: by drops per second, then drops, then the latest.
    pub banned: Vec<BannedSource>,
    /// Ports in the events received since the view started, the most probed first.
    pub ports: Vec<ProbedPort>,
    pub events: EventStream,
    /// The latest events (detections and drops of banned sources), oldest first.
    pub latest: Vec<Detection>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Daemon {
    /// Whether the daemon is still there; the view goes on showing the maps when it stops.
    pub running: bool,
    pub pid: Option<u32>,
    pub uptime_seconds: Option<u64>,
    pub interfaces: Vec<Hook>,
}

/// Where the program is attached.
#[derive(Clone, Debug, Serialize)]
pub struct Hook {
    pub interface: String,
    /// `xdp`: the program that judges ingress.
    pub hook: &'static str,
    /// `native` or `skb` (generic).
    pub mode: String,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct BanCount {
    pub in_force: usize,
    pub capacity: u32,
}

/// The packet counters as `stats` sums them, with their rates.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Packets {
    pub seen: Rate,
    pub passed: Rate,
    /// `dropped_banned` and `dropped_probe` together.
    pub dropped: Rate,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Rate {
    pub total: u64,
    pub per_second: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct KindActivity {
    pub kind: &'static str,
    pub total: u64,
    pub per_second: f64,
    /// Detections in each interval of the last minute, oldest first.
    pub last_minute: Vec<u64>,
}

impl KindActivity {
    /// Detected since the view started, or before it and counted still.
    pub fn is_active(&self) -> bool {
        self.total > 0
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BannedSource {
    pub address: IpAddr,
    pub reason: &'static str,
    pub manual: bool,
    /// Times banned again soon after the previous ban (each doubles the length).
    pub repeat: u8,
    pub dropped_packets: u64,
    pub dropped_per_second: f64,
    pub expires_in_seconds: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbedPort {
    pub port: u16,
    pub protocol: &'static str,
    pub service: Option<String>,
    pub probes: u64,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct EventStream {
    /// Whether the event socket is open (the daemon closes it when it stops).
    pub connected: bool,
    /// Events received since the view started.
    pub received: u64,
    pub per_second: f64,
    /// Received but not kept for the latest detections: a storm is sampled, not queued.
    pub skipped: u64,
    /// Times the view opened the socket again after the daemon closed it: it drops a viewer
    /// that falls 4,096 events behind. The events in between were not seen.
    pub reconnects: u64,
    /// Events the kernel could not deliver to the daemon, as the daemon counts them.
    pub lost: u64,
}

/// What is known of a ban in force when the snapshot is taken.
pub struct BanReading {
    pub address: IpAddr,
    pub reason: &'static str,
    pub manual: bool,
    pub repeat: u8,
    pub dropped_packets: u64,
    pub expires_in: Duration,
}

/// The banned sources, busiest first, with their drop rates since `previous` (the drops per
/// source at the reading `elapsed` ago; a source missing there was banned since, from 0).
pub fn banned_sources(
    readings: Vec<BanReading>,
    previous: &HashMap<IpAddr, u64>,
    elapsed: Duration,
) -> Vec<BannedSource> {
    let mut banned: Vec<BannedSource> = readings
        .into_iter()
        .map(|reading| BannedSource {
            dropped_per_second: history::rate(
                previous.get(&reading.address).copied().unwrap_or(0),
                reading.dropped_packets,
                elapsed,
            ),
            address: reading.address,
            reason: reading.reason,
            manual: reading.manual,
            repeat: reading.repeat,
            dropped_packets: reading.dropped_packets,
            expires_in_seconds: reading.expires_in.as_secs(),
        })
        .collect();
    // Stable: sources equally busy keep the order they came in, the latest ban first.
    banned.sort_by(|a, b| {
        b.dropped_per_second
            .total_cmp(&a.dropped_per_second)
            .then(b.dropped_packets.cmp(&a.dropped_packets))
    });
    banned
}

/// The most probed ports, at most `limit`, named by the daemon or else by `services`.
pub fn probed_ports(
    tallies: &HashMap<(Transport, u16), PortTally>,
    services: &Services,
    limit: usize,
) -> Vec<ProbedPort> {
    let mut ports: Vec<(&(Transport, u16), &PortTally)> = tallies.iter().collect();
    ports.sort_by(|(a_key, a), (b_key, b)| b.probes.cmp(&a.probes).then(a_key.cmp(b_key)));
    ports
        .into_iter()
        .take(limit)
        .map(|(&(transport, port), tally)| ProbedPort {
            port,
            protocol: transport.name(),
            service: tally
                .service
                .clone()
                .or_else(|| services.name(transport, port).map(str::to_string)),
            probes: tally.probes,
        })
        .collect()
}

impl Snapshot {
    /// The snapshot as `--once` and `--json` print it: the first rows of each list.
    pub fn printed(&self) -> Snapshot {
        let mut printed = self.clone();
        printed.banned.truncate(PRINTED_ROWS);
        printed.ports.truncate(PRINTED_ROWS);
        let skip = printed.latest.len().saturating_sub(PRINTED_ROWS);
        printed.latest.drain(..skip);
        printed
    }
}

/// A snapshot of a daemon that banned a null scan, for the views' tests.
#[cfg(test)]
pub mod example {
    use super::*;

    pub fn detection(src: &str, kind: &str, port: u16) -> Detection {
        Detection {
            time: "2026-11-21T14:03:07.123Z".into(),
            event: "detection".into(),
            kind: kind.into(),
            action: "ban".into(),
            interface: "veth-v".into(),
            ifindex: 7,
            src_mac: "02:00:00:00:00:02".into(),
            dst_mac: "02:00:00:00:00:01".into(),
            ethertype: 0x0800,
            vlan_id: None,
            src: src.parse().unwrap(),
            dst: "10.77.0.1".parse().unwrap(),
            protocol: "TCP".into(),
            src_port: 45_757,
            dst_port: port,
            tcp_flags: "NONE".into(),
            window: 1024,
            ttl: 50,
            tos: 0,
            ip_id: 8039,
            length: 40,
            suppressed: 0,
            service: None,
            fingerprint: None,
            ask_ifindex: 0,
        }
    }

    fn source(address: String, dropped_packets: u64) -> BannedSource {
        BannedSource {
            address: address.parse().unwrap(),
            reason: "null-scan",
            manual: false,
            repeat: 1,
            dropped_packets,
            dropped_per_second: 2.5,
            expires_in_seconds: 598,
        }
    }

    pub fn snapshot(bans: usize) -> Snapshot {
        let rate = |total, per_second| Rate { total, per_second };
        let mut detections: Vec<KindActivity> = scanguard_common::kind::Kind::ALL
            .into_iter()
            .map(|kind| KindActivity {
                kind: kind.name(),
                total: 0,
                per_second: 0.0,
                last_minute: vec![0; 60],
            })
            .collect();
        detections[0].total = 3;
        detections[0].per_second = 1.0;
        detections[0].last_minute[59] = 3;
        Snapshot {
            interval_seconds: 1.0,
            daemon: Daemon {
                running: true,
                pid: Some(812),
                uptime_seconds: Some(192),
                interfaces: vec![Hook {
                    interface: "veth-v".into(),
                    hook: "xdp",
                    mode: "native".into(),
                }],
            },
            bans: BanCount {
                in_force: bans,
                capacity: 65_536,
            },
            packets: Packets {
                seen: rate(1234, 12.0),
                passed: rate(1200, 10.0),
                dropped: rate(34, 2.0),
            },
            detections,
            banned: (0..bans)
                .map(|n| {
                    source(
                        format!("10.77.{}.{}", n / 250, n % 250 + 2),
                        1000 - n as u64,
                    )
                })
                .collect(),
            ports: vec![ProbedPort {
                port: 23,
                protocol: "tcp",
                service: Some("telnet".into()),
                probes: 3,
            }],
            events: EventStream {
                connected: true,
                received: 3,
                per_second: 1.0,
                skipped: 0,
                reconnects: 0,
                lost: 0,
            },
            latest: vec![detection("10.77.0.2", "null-scan", 23)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(address: &str, dropped_packets: u64) -> BanReading {
        BanReading {
            address: address.parse().unwrap(),
            reason: "null-scan",
            manual: false,
            repeat: 0,
            dropped_packets,
            expires_in: Duration::from_millis(59_900),
        }
    }

    #[test]
    fn the_busiest_sources_come_first() {
        let previous: HashMap<IpAddr, u64> = [
            ("198.51.100.1".parse().unwrap(), 100),
            ("198.51.100.2".parse().unwrap(), 0),
            ("198.51.100.3".parse().unwrap(), 10),
        ]
        .into();
        // The latest ban first, as `bans` lists them.
        let banned = banned_sources(
            vec![
                reading("198.51.100.4", 5),
                reading("198.51.100.3", 10),
                reading("198.51.100.1", 1000),
                reading("198.51.100.2", 20),
                reading("198.51.100.5", 10),
            ],
            &previous,
            Duration::from_secs(2),
        );
        let order: Vec<String> = banned.iter().map(|b| b.address.to_string()).collect();
        assert_eq!(
            order,
            [
                "198.51.100.1",
                "198.51.100.2",
                "198.51.100.5",
                "198.51.100.4",
                "198.51.100.3"
            ]
        );
        assert_eq!(banned[0].dropped_per_second, 450.0);
        assert_eq!(
            banned[2].dropped_per_second, 5.0,
            "banned since the last reading: from 0"
        );
        assert_eq!(banned[4].dropped_per_second, 0.0);
        assert_eq!(banned[0].expires_in_seconds, 59);
    }

    #[test]
    fn ports_are_ranked_and_named() {
        let tallies: HashMap<(Transport, u16), PortTally> = [
            (
                (Transport::Tcp, 23),
                PortTally {
                    probes: 3,
                    service: Some("telnet".into()),
                },
            ),
            (
                (Transport::Tcp, 80),
                PortTally {
                    probes: 9,
                    service: None,
                },
            ),
            (
                (Transport::Udp, 161),
                PortTally {
                    probes: 3,
                    service: None,
                },
            ),
            (
                (Transport::Tcp, 81),
                PortTally {
                    probes: 1,
                    service: None,
                },
            ),
        ]
        .into();
        let services = Services::parse("http 80/tcp www\nsnmp 161/udp\n");
        let ports = probed_ports(&tallies, &services, 3);
        assert_eq!(
            ports,
            [
                ProbedPort {
                    port: 80,
                    protocol: "tcp",
                    service: Some("http".into()),
                    probes: 9
                },
                ProbedPort {
                    port: 23,
                    protocol: "tcp",
                    service: Some("telnet".into()),
                    probes: 3
                },
                ProbedPort {
                    port: 161,
                    protocol: "udp",
                    service: Some("snmp".into()),
                    probes: 3
                },
            ]
        );
    }
}

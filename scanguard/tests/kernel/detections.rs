//! BPF_PROG_TEST_RUN tests of what fixed flag rules miss: port sweeps within a window, stateless
//! probes against the flow table the egress program records, UDP probes, scanner fingerprints
//! and default-deny mode.

use std::{net::IpAddr, thread, time::Duration};

use scanguard::config::settings::{FingerprintName, Settings};
use scanguard_common::{
    action::Action,
    classify::{ACK, CONTROL, CWR, ECE, FIN, PSH, SYN},
    fingerprint::Fingerprint,
    kind::Kind,
};
use scanguard_lab::frames::{FrameBuilder, MSS_1460};

use crate::support::kernel::{
    SCANNER_PORT, Scanguard, TARGET_V4, TARGET_V6, Verdict, from, scanner_v4, scanner_v6, tcp,
};

const SWEEP_PORTS: u32 = 4;
/// Unwatched, unprotected ports.
const PORTS: [u16; 6] = [1000, 2000, 3000, 4000, 5000, 6000];

fn sweep_settings() -> Settings {
    Settings {
        sweep_ports: SWEEP_PORTS,
        sweep_seconds: 1,
        ..Settings::default()
    }
}

#[test]
fn a_port_sweep_is_banned_at_the_threshold() {
    let mut scanguard = Scanguard::load(&sweep_settings());
    for src in [scanner_v4(1), scanner_v6(1)] {
        for port in &PORTS[..SWEEP_PORTS as usize - 1] {
            scanguard.expect(
                &tcp(src, *port, SYN),
                Verdict::Pass,
                "a port below the threshold",
            );
        }
        let last = PORTS[SWEEP_PORTS as usize - 1];
        scanguard.expect(&tcp(src, last, SYN), Verdict::Drop, "the threshold port");
        assert_eq!(scanguard.ban_reason(src), Some(Kind::PortSweep));
    }
}

#[test]
fn the_sweep_window_forgets_old_probes() {
    let mut scanguard = Scanguard::load(&sweep_settings());
    let src = scanner_v4(1);
    for port in &PORTS[..3] {
        scanguard.expect(&tcp(src, *port, SYN), Verdict::Pass, "first window");
    }
    thread::sleep(Duration::from_millis(1100));
    for port in &PORTS[3..6] {
        scanguard.expect(&tcp(src, *port, SYN), Verdict::Pass, "a new window");
    }
    assert_eq!(scanguard.ban(src), None);
}

#[test]
fn many_connections_to_one_port_are_no_sweep() {
    let mut scanguard = Scanguard::load(&sweep_settings());
    let src = scanner_v4(1);
    for n in 0..200 {
        let syn = from(src).tcp(SCANNER_PORT + n, 443, SYN).build();
        scanguard.expect(&syn, Verdict::Pass, "another connection to 443");
    }
    assert_eq!(scanguard.bans(), []);
}

#[test]
fn protected_ports_and_allow_listed_sources_never_count() {
    let mut scanguard = Scanguard::load(&Settings {
        protected_ports: PORTS.into_iter().collect(),
        allow: vec!["203.0.113.9/32".parse().expect("a prefix")],
        ..sweep_settings()
    });
    for src in [scanner_v4(1), scanner_v4(9)] {
        for port in PORTS {
            scanguard.expect(&tcp(src, port, SYN), Verdict::Pass, "protected port");
        }
    }
    let allowed = scanner_v4(9);
    for port in [7000, 7001, 7002, 7003, 7004] {
        scanguard.expect(&tcp(allowed, port, SYN), Verdict::Pass, "allow-listed");
    }
    assert_eq!(scanguard.bans(), []);
}

#[test]
fn bare_ack_and_fin_ack_outside_a_flow_are_stateless_probes() {
    let mut scanguard = Scanguard::load(&Settings::default());
    let (ack, maimon) = (scanner_v4(1), scanner_v6(1));
    // Until the egress program runs nothing is known about flows, so nothing is judged.
    scanguard.expect(
        &tcp(ack, 80, ACK),
        Verdict::Pass,
        "ack before flows are tracked",
    );
    scanguard.track_flows();
    scanguard.expect(&tcp(ack, 80, ACK), Verdict::Drop, "ack outside a flow");
    assert_eq!(scanguard.ban_reason(ack), Some(Kind::AckScan));
    scanguard.expect(
        &tcp(maimon, 80, FIN | ACK),
        Verdict::Drop,
        "fin+ack outside a flow",
    );
    assert_eq!(scanguard.ban_reason(maimon), Some(Kind::MaimonScan));
}

#[test]
fn the_flow_check_remembers_a_found_flow_for_a_tick_and_a_miss_not_at_all() {
    let mut settings = Settings::default();
    settings.actions.insert(Kind::AckScan, Action::Drop);
    let mut scanguard = Scanguard::load(&settings);
    scanguard.track_flows();
    let client = scanner_v4(1);
    let ack = tcp(client, 80, ACK);
    scanguard.expect(&ack, Verdict::Drop, "ack before the connection");
    // We accept the connection: its ACKs pass at once, the miss just before not remembered.
    let accept = FrameBuilder::new(TARGET_V4, client).tcp(80, SCANNER_PORT, SYN | ACK);
    scanguard.send(&accept.build());
    for _ in 0..3 {
        scanguard.expect(&ack, Verdict::Pass, "ack of the connection");
    }
    // Found in the map, a flow is taken as found for the rest of the tick: gone from the map
    // (evicted) right after a hit, its next ACK still passes if the tick has not ended. A tick
    // is 1 to 10 ms, a try well under one, so of ten tries at least one falls within a tick.
    let remembered = (0..10).any(|_| {
        scanguard.send(&accept.build());
        scanguard.expect(&ack, Verdict::Pass, "ack of the connection");
        scanguard.forget_flows();
        scanguard.run(&ack) == Verdict::Pass
    });
    assert!(remembered, "a found flow is remembered within its tick");
    // It stops counting once that tick is over.
    thread::sleep(Duration::from_millis(50));
    scanguard.expect(&ack, Verdict::Drop, "ack of a forgotten connection");
}

#[test]
fn segments_of_flows_the_host_started_or_accepted_pass() {
    let mut scanguard = Scanguard::load(&Settings::default());
    scanguard.track_flows();
    let hosts = [
        (scanner_v4(1), scanner_v4(2), IpAddr::from(TARGET_V4)),
        (scanner_v6(1), scanner_v6(2), IpAddr::from(TARGET_V6)),
    ];
    for (client, server, target) in hosts {
        // We accept a connection from the client: our SYN+ACK leaves through the egress program.
        scanguard.send(
            &FrameBuilder::new(target, client)
                .tcp(80, SCANNER_PORT, SYN | ACK)
                .build(),
        );
        // We connect to the server.
        scanguard.send(
            &FrameBuilder::new(target, server)
                .tcp(50_000, 443, SYN)
                .build(),
        );
        for flags in [ACK, ACK | PSH, FIN | ACK] {
            scanguard.expect(&tcp(client, 80, flags), Verdict::Pass, "client's segment");
            let reply = FrameBuilder::new(server, target)
                .tcp(443, 50_000, flags)
                .build();
            scanguard.expect(&reply, Verdict::Pass, "server's segment");
        }
        // A different port of the same client is no flow.
        scanguard.expect(
            &from(client).tcp(SCANNER_PORT + 1, 80, ACK).build(),
            Verdict::Drop,
            "other flow",
        );
    }
}

#[test]
fn udp_to_watched_ports_outside_a_flow_is_a_probe() {
    let mut scanguard = Scanguard::load(&Settings::default());
    scanguard.track_flows();
    let (prober, resolver) = (scanner_v4(1), scanner_v4(2));
    let tftp = from(prober).udp(SCANNER_PORT, 69).build();
    scanguard.expect(&tftp, Verdict::Drop, "udp to tftp");
    assert_eq!(scanguard.ban_reason(prober), Some(Kind::UdpProbe));
    // Our DNS query to the resolver makes its answers a flow, whatever port they reach.
    scanguard.send(
        &FrameBuilder::new(TARGET_V4, resolver)
            .udp(53_000, 53)
            .build(),
    );
    let answer = FrameBuilder::new(resolver, TARGET_V4)
        .udp(53, 53_000)
        .build();
    scanguard.expect(&answer, Verdict::Pass, "dns answer");
    assert_eq!(scanguard.ban(resolver), None);
}

#[test]
fn udp_sweeps_count_only_outside_flows() {
    let mut scanguard = Scanguard::load(&sweep_settings());
    scanguard.track_flows();
    let src = scanner_v4(1);
    for port in &PORTS[..SWEEP_PORTS as usize - 1] {
        let probe = from(src).udp(SCANNER_PORT, *port).build();
        scanguard.expect(&probe, Verdict::Pass, "udp below the threshold");
    }
    let probe = from(src)
        .udp(SCANNER_PORT, PORTS[SWEEP_PORTS as usize - 1])
        .build();
    scanguard.expect(&probe, Verdict::Drop, "udp sweep");
    assert_eq!(scanguard.ban_reason(src), Some(Kind::PortSweep));
}

#[test]
fn scanner_fingerprints_are_acted_on_when_configured() {
    let nmap_syn = |src: IpAddr| {
        from(src)
            .tcp(SCANNER_PORT, 8080, SYN)
            .window(1024)
            .tcp_options(&MSS_1460)
            .ttl(48)
            .build()
    };
    let mut quiet = Scanguard::load(&Settings::default());
    quiet.expect(&nmap_syn(scanner_v4(1)), Verdict::Pass, "fingerprints off");
    let mut settings = Settings {
        fingerprints: [FingerprintName(Fingerprint::Nmap)].into(),
        ..Settings::default()
    };
    settings.actions.insert(Kind::Fingerprint, Action::Ban);
    let mut scanguard = Scanguard::load(&settings);
    scanguard.expect(&nmap_syn(scanner_v4(1)), Verdict::Drop, "nmap's SYN");
    assert_eq!(scanguard.ban_reason(scanner_v4(1)), Some(Kind::Fingerprint));
    let linux_syn = from(scanner_v4(2))
        .tcp(SCANNER_PORT, 8080, SYN)
        .window(64_240)
        .tcp_options(&[
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ])
        .ttl(64)
        .build();
    scanguard.expect(&linux_syn, Verdict::Pass, "a Linux SYN");
}

#[test]
fn default_deny_drops_what_is_neither_open_nor_a_flow() {
    let mut scanguard = Scanguard::load(&Settings {
        default_deny: true,
        open_ports: [80].into(),
        ..Settings::default()
    });
    scanguard.track_flows();
    let (visitor, server) = (scanner_v4(1), scanner_v4(2));
    scanguard.expect(
        &tcp(visitor, 22, SYN),
        Verdict::Drop,
        "syn to a closed port",
    );
    scanguard.expect(&tcp(visitor, 80, SYN), Verdict::Pass, "syn to an open port");
    assert_eq!(scanguard.ban(visitor), None, "denied, not banned");
    // Our own outbound connection keeps working.
    scanguard.send(
        &FrameBuilder::new(TARGET_V4, server)
            .tcp(50_000, 443, SYN)
            .build(),
    );
    for flags in [SYN | ACK, ACK, ACK | PSH, FIN | ACK] {
        let reply = FrameBuilder::new(server, TARGET_V4)
            .tcp(443, 50_000, flags)
            .build();
        scanguard.expect(&reply, Verdict::Pass, "our connection's replies");
    }
    let counts = scanguard.counts();
    assert_eq!(counts.get("denied"), Some(&1));
    assert_eq!(counts.get("events_sent"), Some(&1));
}

/// The segments a config settles pass unjudged; judging them in full must change nothing. Two
/// instances, one with the settled segments cleared, see the same frames in the same order: every
/// control-flag combination to ports of every role, each combination from one of a few sources,
/// so its SYNs to the unserved ports make a sweep.
#[test]
fn settled_segments_are_exactly_those_full_judging_passes() {
    let trap_port = 2222;
    let ports = [1000, 1001, 1002, 1003, 23, 79, trap_port, 22, 80, 443];
    let configs = [
        Settings::default(),
        sweep_settings(),
        Settings {
            default_deny: true,
            ..sweep_settings()
        },
        Settings {
            fingerprints: [FingerprintName(Fingerprint::Nmap)].into(),
            sweep_ports: 0,
            slow_sweep_ports: 0,
            ..Settings::default()
        },
    ];
    for base in configs {
        let settings = Settings {
            trap_ports: [(trap_port, "trap".to_string())].into(),
            protected_ports: [22].into(),
            open_ports: [80, 443].into(),
            actions: Kind::ALL
                .into_iter()
                .map(|kind| (kind, Action::Drop))
                .collect(),
            ..base
        };
        let mut settled = Scanguard::load(&settings);
        let mut judged = Scanguard::load(&settings);
        for tracked in [false, true] {
            if tracked {
                settled.track_flows();
                judged.track_flows();
            }
            judged.unsettle();
            let mut detections = 0;
            for control in 0..=CONTROL {
                for (n, port) in (0u8..).zip(ports) {
                    let ecn = if n % 2 == 0 { 0 } else { ECE | CWR };
                    let frame = tcp(scanner_v4(control % 3 + 1), port, control | ecn);
                    let verdict = judged.run(&frame);
                    detections += u32::from(verdict == Verdict::Drop);
                    let what = format!("flags {control:#04x} to port {port}, {settings:?}");
                    settled.expect(&frame, verdict, &what);
                }
            }
            assert!(detections > 0, "nothing was judged a probe");
            assert_eq!(settled.counts(), judged.counts(), "{settings:?}");
        }
    }
}

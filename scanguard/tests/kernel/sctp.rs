//! BPF_PROG_TEST_RUN tests of SCTP: association requests (INIT, COOKIE ECHO) to ports no
//! service listens on count toward sweeps, and a COOKIE ECHO there is an `sctp-probe` of its
//! own; served and protected ports, and every other chunk, never count.

use std::net::IpAddr;

use scanguard::config::settings::Settings;
use scanguard_common::{
    event::EVENT_DETECTION,
    kind::Kind,
    parse::{IPPROTO_SCTP, SCTP_COOKIE_ECHO, SCTP_INIT},
};

use crate::support::kernel::{SCANNER_PORT, Scanguard, Verdict, from, scanner_v4, scanner_v6};

const SWEEP_PORTS: u32 = 4;
/// Unwatched, unprotected ports.
const PORTS: [u16; 8] = [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000];
/// Diameter, an SCTP service.
const SERVED_PORT: u16 = 3868;
/// INIT ACK, ABORT, DATA, HEARTBEAT: chunks of an association, never a request for one.
const OTHER_CHUNKS: [u8; 4] = [2, 6, 0, 4];

fn sweep_settings() -> Settings {
    Settings {
        sweep_ports: SWEEP_PORTS,
        sweep_seconds: 1,
        ..Settings::default()
    }
}

fn sctp(src: IpAddr, port: u16, chunk: u8) -> Vec<u8> {
    from(src).sctp(SCANNER_PORT, port, chunk).build()
}

#[test]
fn an_init_sweep_is_a_port_sweep_at_the_threshold() {
    let mut scanguard = Scanguard::load(&sweep_settings());
    for src in [scanner_v4(1), scanner_v6(1)] {
        for port in &PORTS[..SWEEP_PORTS as usize - 1] {
            let frame = sctp(src, *port, SCTP_INIT);
            scanguard.expect(&frame, Verdict::Pass, "an INIT below the threshold");
        }
        let last = sctp(src, PORTS[SWEEP_PORTS as usize - 1], SCTP_INIT);
        scanguard.expect(&last, Verdict::Drop, "the threshold INIT");
        assert_eq!(scanguard.ban_reason(src), Some(Kind::PortSweep));
    }
}

#[test]
fn a_cookie_echo_to_a_port_nothing_serves_is_an_sctp_probe() {
    let mut scanguard = Scanguard::load(&Settings::default());
    let mut events = scanguard.open_events();
    for src in [scanner_v4(1), scanner_v6(1)] {
        let frame = sctp(src, PORTS[0], SCTP_COOKIE_ECHO);
        scanguard.expect(&frame, Verdict::Drop, "a COOKIE ECHO");
        assert_eq!(scanguard.ban_reason(src), Some(Kind::SctpProbe));
    }
    let events = events.take();
    assert_eq!(events.len(), 2, "{events:?}");
    for event in events {
        assert_eq!(event.event_type, EVENT_DETECTION);
        assert_eq!(event.kind, Kind::SctpProbe as u8);
        assert_eq!(event.protocol, IPPROTO_SCTP);
        assert_eq!((event.src_port, event.dst_port), (SCANNER_PORT, PORTS[0]));
    }
    assert_eq!(scanguard.counts().get("sctp-probe"), Some(&2));
}

#[test]
fn served_and_protected_ports_and_other_chunks_never_count() {
    let settings = Settings {
        open_ports: [SERVED_PORT].into(),
        protected_ports: [PORTS[0]].into(),
        ..sweep_settings()
    };
    let mut scanguard = Scanguard::load(&settings);
    let src = scanner_v4(1);
    for chunk in [SCTP_INIT, SCTP_COOKIE_ECHO] {
        for _ in 0..20 {
            let frame = sctp(src, SERVED_PORT, chunk);
            scanguard.expect(&frame, Verdict::Pass, "a client of the served port");
        }
        let frame = sctp(src, PORTS[0], chunk);
        scanguard.expect(&frame, Verdict::Pass, "a protected port");
    }
    let other = scanner_v6(1);
    for chunk in OTHER_CHUNKS {
        for port in PORTS {
            let frame = sctp(other, port, chunk);
            scanguard.expect(&frame, Verdict::Pass, "no association request");
        }
    }
    assert_eq!(scanguard.bans(), []);
}

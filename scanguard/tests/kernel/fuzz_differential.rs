//! Differential fuzzing of the XDP program: over 100,000 random and mutated frames through
//! BPF_PROG_TEST_RUN, each verdict checked against a host-side reference model built from the
//! same pure parser and classifier; allow-listed sources are never dropped nor banned.
//!
//! The model covers the stateless part of the program, so the settings turn the stateful parts
//! off (sweeps, flows, fingerprints) and make every kind's action `drop`. The seed is printed;
//! `SCANGUARD_FUZZ_SEED=<n>` replays a run.

use std::net::IpAddr;

use ipnet::IpNet;
use scanguard::config::settings::Settings;
use scanguard_common::{
    action::Action,
    addr::AddrKey,
    classify::classify_tcp,
    kind::Kind,
    parse::{
        Fragment, Header, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, SCTP_COOKIE_ECHO, SCTP_INIT,
        parse,
    },
    ports::{ROLE_PROTECTED, ROLE_WATCHED_UDP, SERVED},
};
use scanguard_lab::frames::{FrameBuilder, Ipv6Ext, truncated};

use crate::support::kernel::{Scanguard, Verdict};

const FRAMES: usize = 100_000;
const ALLOWED_V4: &str = "203.0.113.128/25";
const ALLOWED_V6: &str = "2001:db8:5c::/64";
/// Ports with every role, and a few without.
const PORTS: [u16; 10] = [22, 23, 69, 79, 80, 111, 443, 2222, 8080, 40000];

fn settings(action: Action) -> Settings {
    let mut settings = Settings {
        trap_ports: [(22, "ssh".to_string())].into(),
        protected_ports: [2222].into(),
        allow: [ALLOWED_V4, ALLOWED_V6]
            .map(|net| net.parse().expect("a prefix"))
            .to_vec(),
        sweep_ports: 0,
        slow_sweep_ports: 0,
        ..Settings::default()
    };
    for kind in Kind::ALL {
        settings.actions.insert(kind, action);
    }
    settings
}

/// What the program must answer for `frame`, from the pure parser and classifier.
fn reference(frame: &[u8], settings: &Settings) -> Verdict {
    let Ok(parsed) = parse(frame) else {
        return Verdict::Pass;
    };
    let transport = &parsed.transport;
    let roles = |port: u16| settings.port_roles().get(&port).copied().unwrap_or(0);
    let tiny = match parsed.fragment {
        Fragment::First => transport.header == Header::Missing,
        Fragment::Later => parsed.fragment_offset == 1,
        Fragment::No => false,
    };
    let kind = if transport.protocol == IPPROTO_TCP && tiny {
        Some(Kind::TinyFragment)
    } else if transport.header != Header::Parsed {
        None
    } else if transport.protocol == IPPROTO_TCP {
        classify_tcp(transport.tcp_flags, roles(transport.dst_port))
    } else if transport.protocol == IPPROTO_UDP {
        let roles = roles(transport.dst_port);
        let unicast = !parsed.link_multicast;
        (unicast && roles & ROLE_PROTECTED == 0 && roles & ROLE_WATCHED_UDP != 0)
            .then_some(Kind::UdpProbe)
    } else if transport.protocol == IPPROTO_SCTP {
        let roles = roles(transport.dst_port);
        let unicast = !parsed.link_multicast;
        let unserved = roles & (ROLE_PROTECTED | SERVED) == 0;
        (unicast && unserved && transport.sctp_chunk == SCTP_COOKIE_ECHO).then_some(Kind::SctpProbe)
    } else {
        None
    };
    match kind {
        Some(_) if !is_allowed(&parsed.src, settings) => Verdict::Drop,
        _ => Verdict::Pass,
    }
}

fn is_allowed(src: &AddrKey, settings: &Settings) -> bool {
    let address = src.address();
    settings
        .allow
        .iter()
        .any(|net: &IpNet| net.contains(&address))
}

/// A well-formed frame of random shape: family, tags, options, extension headers, fragments,
/// protocol, flags, ports and source (sometimes allow-listed).
fn random_frame(rng: &mut fastrand::Rng) -> Vec<u8> {
    let v6 = rng.bool();
    let src: IpAddr = match (v6, rng.u8(..4)) {
        (false, 0) => [203, 0, 113, 128 + rng.u8(..128)].into(),
        (false, _) => [rng.u8(..), rng.u8(..), rng.u8(..), rng.u8(..)].into(),
        (true, 0) => [0x2001, 0xdb8, 0x5c, 0, 0, 0, 0, rng.u16(..)].into(),
        (true, _) => std::array::from_fn::<u16, 8, _>(|_| rng.u16(..)).into(),
    };
    let dst: IpAddr = if v6 {
        [0x2001, 0xdb8, 0x7a, 0, 0, 0, 0, 1].into()
    } else {
        [198, 51, 100, 1].into()
    };
    let port = PORTS[rng.usize(..PORTS.len())];
    let mut frame = FrameBuilder::new(src, dst);
    frame = match rng.u8(..11) {
        0..=5 => frame.tcp(rng.u16(1024..), port, rng.u8(..)),
        6..=8 => frame.udp(rng.u16(1024..), port),
        9 => {
            let chunks = [SCTP_INIT, SCTP_COOKIE_ECHO, rng.u8(..)];
            frame.sctp(rng.u16(1024..), port, chunks[rng.usize(..chunks.len())])
        }
        _ => frame.icmp_echo(),
    };
    for _ in 0..rng.u8(..3) {
        frame = frame.vlan(rng.u16(1..4095));
    }
    if !v6 && rng.u8(..5) == 0 {
        frame = frame.ipv4_options(&[1, 1, 1, 0]);
    }
    if v6 {
        for _ in 0..rng.u8(..3) {
            let ext = [
                Ipv6Ext::HopByHop,
                Ipv6Ext::Routing,
                Ipv6Ext::DestinationOptions,
            ];
            frame = frame.ipv6_ext(ext[rng.usize(..ext.len())]);
        }
    }
    match rng.u8(..10) {
        0 => frame = frame.fragment(0, true).carrying(rng.usize(..20)),
        1 => frame = frame.fragment(rng.u16(..3), rng.bool()),
        _ => {}
    }
    frame.build()
}

/// Bit flips, overwritten bytes, truncation or garbage appended; or bytes from nowhere.
fn mutate(rng: &mut fastrand::Rng, mut frame: Vec<u8>) -> Vec<u8> {
    match rng.u8(..6) {
        0 => {
            for _ in 0..rng.u8(1..9) {
                let bit = rng.usize(..frame.len() * 8);
                frame[bit / 8] ^= 1 << (bit % 8);
            }
            frame
        }
        1 => {
            let at = rng.usize(..frame.len());
            frame[at] = rng.u8(..);
            frame
        }
        2 => truncated(&frame, rng.usize(14..=frame.len())),
        3 => {
            frame.extend((0..rng.usize(..64)).map(|_| rng.u8(..)));
            frame
        }
        4 => {
            // Random bytes behind a real ethertype, so the parser gets past Ethernet.
            let mut bytes: Vec<u8> = (0..rng.usize(14..120)).map(|_| rng.u8(..)).collect();
            let ether_types = [[0x08, 0x00], [0x86, 0xdd], [0x81, 0x00], [0x88, 0xa8]];
            bytes[12..14].copy_from_slice(&ether_types[rng.usize(..ether_types.len())]);
            bytes
        }
        _ => frame,
    }
}

fn seed() -> u64 {
    let seed = std::env::var("SCANGUARD_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("seed {seed} (SCANGUARD_FUZZ_SEED={seed} replays this run)");
    seed
}

#[test]
fn every_verdict_matches_the_reference_model() {
    let settings = settings(Action::Drop);
    let mut scanguard = Scanguard::load(&settings);
    let mut rng = fastrand::Rng::with_seed(seed());
    let (mut drops, mut mutated) = (0, 0);
    for _ in 0..FRAMES {
        let mut frame = random_frame(&mut rng);
        if rng.bool() {
            frame = mutate(&mut rng, frame);
            mutated += 1;
        }
        let expected = reference(&frame, &settings);
        assert_eq!(scanguard.run(&frame), expected, "frame {frame:02x?}");
        drops += usize::from(expected == Verdict::Drop);
    }
    println!("{FRAMES} frames, {mutated} mutated, {drops} dropped");
    // The generator must exercise both answers, or the comparison proves little.
    assert!(drops > FRAMES / 20 && drops < FRAMES / 2, "{drops} drops");
}

#[test]
fn allow_listed_sources_are_never_banned_whatever_they_send() {
    let settings = settings(Action::Ban);
    let mut scanguard = Scanguard::load(&settings);
    let mut rng = fastrand::Rng::with_seed(seed());
    for _ in 0..FRAMES / 5 {
        let frame = random_frame(&mut rng);
        let frame = mutate(&mut rng, frame);
        let verdict = scanguard.run(&frame);
        if let Ok(parsed) = parse(frame.as_slice())
            && is_allowed(&parsed.src, &settings)
        {
            assert_eq!(
                verdict,
                Verdict::Pass,
                "allow-listed source dropped: {frame:02x?}"
            );
        }
    }
    let bans = scanguard.bans();
    assert!(!bans.is_empty(), "the run banned nobody: it proves nothing");
    for (key, _) in bans {
        assert!(!is_allowed(&key, &settings), "allow-listed {key:?} banned");
    }
}

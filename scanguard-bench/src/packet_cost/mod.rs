//! Part 1: what one packet costs scanguard in the kernel, through BPF_PROG_TEST_RUN, beside the
//! empty XDP program (the floor) loaded and run in the same rounds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{Context as _, Result};
use aya::{Ebpf, programs::Xdp};
use scanguard::{
    bpf::{object::PROGRAM_NAME, program},
    config::settings::{FingerprintName, Settings},
};
use scanguard_common::{
    action::Action,
    addr::AddrKey,
    classify::{ACK, FIN, PSH, SYN, URG},
    fingerprint::Fingerprint,
    kind::Kind,
    parse::{SCTP_COOKIE_ECHO, SCTP_INIT},
};
use scanguard_lab::frames::{FrameBuilder, MSS_1460, arp_request};
use serde::Serialize;

mod first;
pub mod verify;

use crate::{
    interrupt,
    object::{
        self, FLOOR_DROP, FLOOR_PASS, REF_BANS, REF_CLOCK, REF_COARSE_CLOCK, REF_COUNTER,
        REF_JIFFIES, REF_LOOKUP,
    },
    stats::{Summary, paired_ratios},
    test_run::{self, Timing, XDP_DROP, XDP_PASS, verdict_name},
};

pub const TARGET_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const TARGET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x7a, 0, 0, 0, 0, 1);
pub const BENIGN_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub const BENIGN_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 0x10);
pub const BANNED_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 66);
pub const BANNED_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x5c, 0, 0, 0, 0, 0x66);
pub const SCANNER_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
pub const CLIENT_PORT: u16 = 40_000;
/// The resolver this host queries, from its `CLIENT_PORT`.
pub const RESOLVER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);
pub const DNS_PORT: u16 = 53;
/// Served: its clients' SYNs do not count toward sweeps.
pub const OPEN_PORT: u16 = 80;
/// Nothing listens here: a SYN to it counts toward a sweep.
pub const UNSERVED_PORT: u16 = 8080;
/// Watched by default (telnet).
pub const WATCHED_PORT: u16 = 23;
/// Watched by default (snmp).
pub const WATCHED_UDP_PORT: u16 = 161;
pub const TRAP_PORT: u16 = 2222;

#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Runs per BPF_PROG_TEST_RUN call for the steady-state cases.
    pub repeat: u32,
    /// Calls per case; the cases alternate within each round.
    pub rounds: usize,
    /// Distinct new sources per first-packet case and round, one run each.
    pub first_frames: usize,
    pub first_rounds: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub case: String,
    pub group: &'static str,
    pub verdict: &'static str,
    pub expected: &'static str,
    /// The kernel's per-run figure, over the rounds (first-packet cases: over every run).
    pub ns: Summary,
    /// Wall time of the call per run; steady-state cases only.
    pub wall_ns: Option<Summary>,
    pub floor: String,
    /// The floor's median under the same method.
    pub floor_ns: f64,
    /// Median of the ratios to the floor, paired round by round (first-packet: of medians).
    pub ratio: f64,
    /// The same with wall times, which are not truncated to whole nanoseconds.
    pub ratio_wall: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PacketCost {
    pub repeat: u32,
    pub rounds: usize,
    pub first_frames: usize,
    pub first_rounds: usize,
    pub floors: Vec<Row>,
    pub rows: Vec<Row>,
}

/// One steady-state case: the same frame `repeat` times through one program.
pub struct Case<'a> {
    pub name: String,
    pub group: &'static str,
    pub xdp: &'a Xdp,
    pub frame: Vec<u8>,
    pub expected: u32,
    /// The ingress interface of the test runs (`verify::time_on`), in the namespace the runs
    /// happen in; none: loopback.
    pub ingress: Option<u32>,
}

/// Runs every case `rounds` times, alternating them within each round (shifted by one each
/// round, so no case always follows the same one); returns each case's timings.
pub fn measure(cases: &[Case<'_>], repeat: u32, rounds: usize) -> Result<Vec<Vec<Timing>>> {
    let mut timings = vec![Vec::with_capacity(rounds); cases.len()];
    for round in 0..rounds {
        for i in 0..cases.len() {
            interrupt::check()?;
            let index = (i + round) % cases.len();
            let case = &cases[index];
            let timing = match case.ingress {
                Some(ingress) => verify::time_on(case.xdp, &case.frame, repeat, ingress),
                None => test_run::time(case.xdp, &case.frame, repeat),
            }
            .with_context(|| format!("test run of {}", case.name))?;
            timings[index].push(timing);
        }
    }
    Ok(timings)
}

/// A row for `case` against `floor` (both measured in the same rounds).
pub fn row(case: &Case<'_>, timings: &[Timing], floor: &Case<'_>, floor_timings: &[Timing]) -> Row {
    let kernel = |t: &[Timing]| t.iter().map(|t| t.kernel_ns).collect::<Vec<_>>();
    let wall = |t: &[Timing]| t.iter().map(|t| t.wall_ns).collect::<Vec<_>>();
    let verdict = timings.first().map_or(0, |t| t.verdict);
    Row {
        case: case.name.clone(),
        group: case.group,
        verdict: verdict_name(verdict),
        expected: verdict_name(case.expected),
        ns: Summary::of(&kernel(timings)),
        wall_ns: Some(Summary::of(&wall(timings))),
        floor: floor.name.clone(),
        floor_ns: Summary::of(&kernel(floor_timings)).median,
        ratio: Summary::of(&paired_ratios(&kernel(timings), &kernel(floor_timings))).median,
        ratio_wall: Some(Summary::of(&paired_ratios(&wall(timings), &wall(floor_timings))).median),
    }
}

pub fn tcp(src: IpAddr, dst_port: u16, flags: u8) -> Vec<u8> {
    builder(src).tcp(CLIENT_PORT, dst_port, flags).build()
}

/// The target's address of `peer`'s family.
fn target_for(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => TARGET_V4.into(),
        IpAddr::V6(_) => TARGET_V6.into(),
    }
}

/// An inbound frame from `src` to the target.
fn builder(src: IpAddr) -> FrameBuilder {
    FrameBuilder::new(src, target_for(src))
}

/// An outbound frame from the target to `dst`.
fn from_target(dst: IpAddr) -> FrameBuilder {
    FrameBuilder::new(target_for(dst), dst)
}

/// Default settings plus a trap port, so every kind can be detected, with the ban budgets and
/// the global event cap lifted: test runs bring thousands of new sources a second, which the
/// defaults (100 bans a second, 16 per /24 a minute, 200 events a second) would refuse, and
/// what is measured here is the cost of a ban and an event, not of a refusal.
pub fn settings(capacity: u32) -> Settings {
    Settings {
        capacity,
        bans_per_second: UNCAPPED,
        subnet_bans_per_minute: 0,
        events_per_second: UNCAPPED,
        ..default_settings()
    }
}

/// Default settings plus a trap port and a served port (as a web server's 80, which attach
/// would find listening), budgets and caps as they come.
pub fn default_settings() -> Settings {
    Settings {
        trap_ports: [(TRAP_PORT, "trap".to_string())].into(),
        open_ports: [OPEN_PORT].into(),
        ..Settings::default()
    }
}

/// A budget no test run reaches.
pub const UNCAPPED: u32 = 1_000_000;

/// Loads scanguard with `settings`, perf buffers open as under the daemon.
pub fn load_scanguard(settings: &Settings, event_pages: usize) -> Result<Instance> {
    let mut ebpf = program::load(settings, None)?;
    let buffers = test_run::open_event_buffers(&mut ebpf, event_pages)?;
    Ok(Instance {
        ebpf,
        _buffers: buffers,
    })
}

/// A loaded scanguard program, not attached anywhere, and the perf buffers it writes to.
pub struct Instance {
    pub ebpf: Ebpf,
    _buffers: Vec<aya::maps::perf::PerfEventArrayBuffer<aya::maps::MapData>>,
}

impl Instance {
    pub fn xdp(&self) -> Result<&Xdp> {
        test_run::xdp(&self.ebpf, PROGRAM_NAME)
    }
}

/// The n-th new IPv4 source, from the benchmarking range 198.18.0.0/15 (RFC 2544).
pub fn new_source_v4(n: u32) -> IpAddr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + (n % (1 << 17))).into()
}

pub fn new_source_v6(n: u32) -> IpAddr {
    let base = u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0xf1, 0, 0, 0, 0, 0));
    Ipv6Addr::from(base + u128::from(n)).into()
}

pub fn run(config: Config) -> Result<PacketCost> {
    let mut floor = object::load(&[
        FLOOR_PASS,
        FLOOR_DROP,
        REF_COUNTER,
        REF_CLOCK,
        REF_COARSE_CLOCK,
        REF_JIFFIES,
        REF_LOOKUP,
    ])?;
    for banned in [IpAddr::from(BANNED_V4), BANNED_V6.into()] {
        let map = floor.map_mut(REF_BANS).context("no REF_BANS map")?;
        let mut bans: aya::maps::HashMap<_, [u8; 16], u64> = aya::maps::HashMap::try_from(map)?;
        bans.insert(AddrKey::from(banned).octets(), 1, 0)?;
    }
    let floor_pass = test_run::xdp(&floor, FLOOR_PASS)?;
    let floor_drop = test_run::xdp(&floor, FLOOR_DROP)?;
    let reference = |name| test_run::xdp(&floor, name);

    let mut guard = load_scanguard(&settings(scanguard_common::ban::DEFAULT_BAN_CAPACITY), 64)?;
    test_run::ban(&mut guard.ebpf, BANNED_V4.into())?;
    test_run::ban(&mut guard.ebpf, BANNED_V6.into())?;
    // As under the daemon: flows tracked, so a bare ACK or a datagram is checked against them.
    // The benign client's connections and this host's DNS query leave first.
    let outbound = [
        from_target(BENIGN_V4.into()).tcp(OPEN_PORT, CLIENT_PORT, SYN | ACK),
        from_target(BENIGN_V6.into()).tcp(OPEN_PORT, CLIENT_PORT, SYN | ACK),
        from_target(RESOLVER_V4.into()).udp(CLIENT_PORT, DNS_PORT),
    ];
    let outbound_frames = outbound.map(|frame| frame.build());
    test_run::track_flows(&mut guard.ebpf, &outbound_frames)?;
    // The same with source verification on, its runs coming in on the LAN veth of a namespace
    // whose routes vouch for every source (see `verify`): benign frames and banned drops must
    // not pay for it. Every test run from here on runs in that namespace.
    let route_back = verify::RouteBack::build()?;
    let _inside = route_back.enter()?;
    let mut verifying =
        verify::load_verifying(&settings(scanguard_common::ban::DEFAULT_BAN_CAPACITY), 64)?;
    test_run::ban(&mut verifying.ebpf, BANNED_V4.into())?;
    test_run::ban(&mut verifying.ebpf, BANNED_V6.into())?;
    test_run::track_flows(&mut verifying.ebpf, &outbound_frames)?;
    // Every kind dropped but never banned: each repeat takes the detection path. The flows are
    // tracked, as under the daemon, so the stateless probes are judged, and nmap's fingerprint
    // is configured; default-deny, which judges everything else too, has an instance of its own.
    let detect_settings = Settings {
        actions: Kind::ALL
            .into_iter()
            .map(|kind| (kind, Action::Drop))
            .collect(),
        fingerprints: [FingerprintName(Fingerprint::Nmap)].into(),
        ..settings(scanguard_common::ban::DEFAULT_BAN_CAPACITY)
    };
    let mut detect = load_scanguard(&detect_settings, 64)?;
    test_run::track_flows(&mut detect.ebpf, &[])?;
    let mut deny = load_scanguard(
        &Settings {
            default_deny: true,
            ..detect_settings
        },
        64,
    )?;
    test_run::track_flows(&mut deny.ebpf, &[])?;
    let (guard_xdp, detect_xdp, deny_xdp) = (guard.xdp()?, detect.xdp()?, deny.xdp()?);
    let verifying_xdp = verifying.xdp()?;

    let benign: IpAddr = BENIGN_V4.into();
    let scanner: IpAddr = SCANNER_V4.into();
    let case = |name: &str, group, xdp, frame, expected| Case {
        name: name.to_string(),
        group,
        xdp,
        frame,
        expected,
        ingress: None,
    };
    let floors = vec![
        case(
            "floor: XDP_PASS",
            "floor",
            floor_pass,
            tcp(benign, OPEN_PORT, SYN),
            XDP_PASS,
        ),
        case(
            "floor: XDP_DROP",
            "floor",
            floor_drop,
            tcp(benign, OPEN_PORT, SYN),
            XDP_DROP,
        ),
    ];
    let scan = |flags, port| tcp(scanner, port, flags);
    let banned_v4 = || tcp(BANNED_V4.into(), OPEN_PORT, SYN);
    let cases = vec![
        case(
            "+ one per-CPU counter",
            "reference",
            reference(REF_COUNTER)?,
            tcp(benign, OPEN_PORT, SYN),
            XDP_PASS,
        ),
        case(
            "+ one boot-clock read",
            "reference",
            reference(REF_CLOCK)?,
            tcp(benign, OPEN_PORT, SYN),
            XDP_PASS,
        ),
        case(
            "+ one coarse-clock read",
            "reference",
            reference(REF_COARSE_CLOCK)?,
            tcp(benign, OPEN_PORT, SYN),
            XDP_PASS,
        ),
        case(
            "+ one jiffies read",
            "reference",
            reference(REF_JIFFIES)?,
            tcp(benign, OPEN_PORT, SYN),
            XDP_PASS,
        ),
        case(
            "+ source lookup, miss",
            "reference",
            reference(REF_LOOKUP)?,
            tcp(benign, OPEN_PORT, SYN),
            XDP_PASS,
        ),
        case(
            "+ source lookup, hit (drop)",
            "reference",
            reference(REF_LOOKUP)?,
            banned_v4(),
            XDP_DROP,
        ),
        case(
            "TCP SYN",
            "benign",
            guard_xdp,
            tcp(benign, OPEN_PORT, SYN),
            XDP_PASS,
        ),
        case(
            "TCP SYN to an unserved port (counted toward sweeps)",
            "sweep",
            guard_xdp,
            tcp(benign, UNSERVED_PORT, SYN),
            XDP_PASS,
        ),
        case(
            "SCTP INIT to an unserved port (counted toward sweeps)",
            "sweep",
            guard_xdp,
            builder(benign)
                .sctp(CLIENT_PORT, UNSERVED_PORT, SCTP_INIT)
                .build(),
            XDP_PASS,
        ),
        case(
            "TCP SYN+ACK",
            "benign",
            guard_xdp,
            tcp(benign, OPEN_PORT, SYN | ACK),
            XDP_PASS,
        ),
        case(
            "TCP ACK",
            "benign",
            guard_xdp,
            tcp(benign, OPEN_PORT, ACK),
            XDP_PASS,
        ),
        case(
            "UDP (a DNS answer)",
            "benign",
            guard_xdp,
            builder(RESOLVER_V4.into())
                .udp(DNS_PORT, CLIENT_PORT)
                .build(),
            XDP_PASS,
        ),
        case(
            "IPv6 TCP ACK",
            "benign",
            guard_xdp,
            tcp(BENIGN_V6.into(), OPEN_PORT, ACK),
            XDP_PASS,
        ),
        case(
            "ARP request",
            "benign",
            guard_xdp,
            arp_request(BENIGN_V4, TARGET_V4),
            XDP_PASS,
        ),
        case(
            "null-scan",
            "scan",
            detect_xdp,
            scan(0, OPEN_PORT),
            XDP_DROP,
        ),
        case(
            "fin-scan",
            "scan",
            detect_xdp,
            scan(FIN, OPEN_PORT),
            XDP_DROP,
        ),
        case(
            "xmas-scan",
            "scan",
            detect_xdp,
            scan(FIN | PSH | URG, OPEN_PORT),
            XDP_DROP,
        ),
        case(
            "syn-scan (watched port)",
            "scan",
            detect_xdp,
            scan(SYN, WATCHED_PORT),
            XDP_DROP,
        ),
        case(
            "trap-port",
            "scan",
            detect_xdp,
            scan(SYN, TRAP_PORT),
            XDP_DROP,
        ),
        case(
            "ack-scan (no flow: a flow map lookup)",
            "scan",
            detect_xdp,
            scan(ACK, OPEN_PORT),
            XDP_DROP,
        ),
        case(
            "maimon-scan (FIN+ACK, no flow)",
            "scan",
            detect_xdp,
            scan(FIN | ACK, OPEN_PORT),
            XDP_DROP,
        ),
        case(
            "udp-probe (watched UDP port: flow and sweep lookups)",
            "scan",
            detect_xdp,
            builder(scanner).udp(CLIENT_PORT, WATCHED_UDP_PORT).build(),
            XDP_DROP,
        ),
        case(
            "sctp-probe (COOKIE ECHO to an unserved port: sweep lookups)",
            "scan",
            detect_xdp,
            builder(scanner)
                .sctp(CLIENT_PORT, UNSERVED_PORT, SCTP_COOKIE_ECHO)
                .build(),
            XDP_DROP,
        ),
        case(
            "tiny-fragment (a first fragment cut before the flags)",
            "scan",
            detect_xdp,
            builder(scanner)
                .tcp(CLIENT_PORT, OPEN_PORT, 0)
                .fragment(0, true)
                .carrying(8)
                .build(),
            XDP_DROP,
        ),
        case(
            "fingerprint (nmap's SYN to a served port)",
            "scan",
            detect_xdp,
            builder(scanner)
                .tcp(CLIENT_PORT, OPEN_PORT, SYN)
                .window(1024)
                .tcp_options(&MSS_1460)
                .ttl(48)
                .build(),
            XDP_DROP,
        ),
        case(
            "denied (default-deny: a SYN to a port not open, no flow)",
            "scan",
            deny_xdp,
            scan(SYN, UNSERVED_PORT),
            XDP_DROP,
        ),
        case(
            "banned source, IPv4",
            "banned",
            guard_xdp,
            banned_v4(),
            XDP_DROP,
        ),
        case(
            "banned source, IPv6",
            "banned",
            guard_xdp,
            tcp(BANNED_V6.into(), OPEN_PORT, SYN),
            XDP_DROP,
        ),
    ];
    let verified = |name: &str, group, frame, expected| Case {
        name: format!("{name}, source verification on"),
        group,
        xdp: verifying_xdp,
        frame,
        expected,
        ingress: Some(route_back.lan),
    };
    let verifying_cases = vec![
        verified("TCP SYN", "benign", tcp(benign, OPEN_PORT, SYN), XDP_PASS),
        verified(
            "TCP SYN to an unserved port (its sender compared with the sketch's)",
            "sweep",
            tcp(benign, UNSERVED_PORT, SYN),
            XDP_PASS,
        ),
        verified("TCP ACK", "benign", tcp(benign, OPEN_PORT, ACK), XDP_PASS),
        verified("banned source, IPv4", "banned", banned_v4(), XDP_DROP),
    ];
    let all: Vec<Case<'_>> = floors
        .into_iter()
        .chain(cases)
        .chain(verifying_cases)
        .collect();
    let timings = measure(&all, config.repeat, config.rounds)?;
    let floor_of = |expected| if expected == XDP_PASS { 0 } else { 1 };
    let mut floor_rows = Vec::new();
    let mut rows = Vec::new();
    for (i, case) in all.iter().enumerate() {
        let f = floor_of(case.expected);
        let row = row(case, &timings[i], &all[f], &timings[f]);
        if case.group == "floor" {
            floor_rows.push(row);
        } else {
            rows.push(row);
        }
    }

    let (first_floors, first_rows) = first::packets(floor_pass, floor_drop, config, &route_back)?;
    floor_rows.extend(first_floors);
    rows.extend(first_rows);
    Ok(PacketCost {
        repeat: config.repeat,
        rounds: config.rounds,
        first_frames: config.first_frames,
        first_rounds: config.first_rounds,
        floors: floor_rows,
        rows,
    })
}

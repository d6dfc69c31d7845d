//! Part 5: a CrowdSec blocklist. A stub LAPI of this bench (loopback, in a lab namespace)
//! serves a startup pull of `decisions` decisions (addresses and ranges, IPv4 and IPv6) to a
//! real `scanguard attach`: how long until all are enforced, what the daemon spends on it,
//! what the kernel charges for the maps; then, through BPF_PROG_TEST_RUN, what a packet costs
//! with an empty decision set and with the full one.

mod stub_lapi;

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener},
    path::Path,
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use ipnet::IpNet;
use scanguard::{
    bpf::{clock::boot_ns, pins::Pins, program},
    crowdsec::{book::Plan, maps::Maps},
};
use scanguard_common::{classify::SYN, decision::Decision};
use scanguard_lab::{ScanLab, wait_until};
use serde::Serialize;

use self::stub_lapi::{StopOnDrop, answer, serve};
use crate::{
    attach::{self, Attach, RemoveOnDrop},
    object::{self, FLOOR_DROP, FLOOR_PASS},
    packet_cost::{self, BENIGN_V4, Case, OPEN_PORT, Row},
    process,
    scale::{MapMemory, open_maps},
    stats::{Summary, paired_ratios},
    test_run::{XDP_DROP, XDP_PASS},
};

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub decisions: u32,
    pub repeat: u32,
    pub rounds: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Decisions {
    pub decisions: u32,
    pub addresses: u32,
    pub ranges: u32,
    pub answer_bytes: usize,
    /// From the daemon's start until the maps hold every decision.
    pub enforced_seconds: f64,
    /// The daemon's CPU time from its start until then (program load and attach included).
    pub daemon_cpu_seconds: f64,
    pub daemon_peak_rss_kib: u64,
    /// The decision maps with every decision in them.
    pub memory: Vec<MapMemory>,
    pub memory_total: u64,
    /// Per-packet cost against the floor, empty and full decision sets.
    pub rows: Vec<Row>,
    /// Same case, full decision set ÷ empty one, paired round by round.
    pub full_vs_empty: Vec<(String, Summary)>,
}

/// The n-th decision: half single IPv4 addresses, a fifth IPv6 addresses, a fifth IPv4 /24s,
/// a tenth IPv6 /64s, all from ranges no test sends from.
pub fn target(n: u32) -> IpNet {
    let kind = n % 10;
    let index = n / 10;
    let net = match kind {
        0..5 => IpNet::from(IpAddr::from(Ipv4Addr::from(
            u32::from(Ipv4Addr::new(100, 64, 0, 0)) + n,
        ))),
        5 | 6 => IpNet::from(IpAddr::from(Ipv6Addr::from(
            u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0xd1, 0, 0, 0, 0, 0)) + u128::from(n),
        ))),
        7 | 8 => IpNet::new(
            Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + (n << 8)).into(),
            24,
        )
        .expect("a /24"),
        _ => IpNet::new(
            Ipv6Addr::from(
                u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0xd2, 0, 0, 0, 0, 0))
                    + (u128::from(index) << 64),
            )
            .into(),
            64,
        )
        .expect("a /64"),
    };
    net.trunc()
}

pub fn run(scanguard: &Path, config: Config) -> Result<Decisions> {
    let lab = ScanLab::build()?;
    let body = Arc::new(answer(config.decisions));
    let listener = {
        let _guard = lab.victim.enter()?;
        TcpListener::bind("127.0.0.1:0").context("bind the stub LAPI")?
    };
    let address = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = serve(listener, Arc::clone(&body), Arc::clone(&stop));
    let _stop = StopOnDrop(stop);
    let lapi = format!(
        "[crowdsec]\napi_url = \"http://{address}/\"\napi_key = \"bench\"\nupdate_frequency = \"1s\"\n"
    );
    let start = Instant::now();
    let daemon = Attach::start(scanguard, &lab.victim, &[&lab.victim.interface], &lapi)?;
    let pid = daemon.pid().context("the daemon is running")?;
    let pins = Pins::open(&daemon.pin_dir)?;
    let maps = Maps::open(&pins)?;
    let wanted = config.decisions;
    let enforced = wait_until(Duration::from_secs(120), Duration::from_millis(5), || {
        maps.counts()
            .is_ok_and(|counts| counts.addresses + counts.ranges == wanted)
    });
    let enforced_seconds = start.elapsed().as_secs_f64();
    if !enforced {
        bail!("the daemon did not enforce {wanted} decisions within 120 s");
    }
    let counts = maps.counts()?;
    let daemon_cpu_seconds = process::cpu_ticks(pid)? as f64 / process::clock_ticks();
    let daemon_peak_rss_kib = process::status_kib(pid, "VmHWM:")?;
    let memory: Vec<MapMemory> = open_maps()?
        .into_values()
        .filter(|map| ["DEC_ADDRS", "DEC_NETS", "DEC_FILTER"].contains(&map.name.as_str()))
        .collect();
    let memory_total = memory.iter().map(|map| map.bytes).sum();
    println!(
        "[bench] decisions: {wanted} enforced {enforced_seconds:.2} s after the daemon started \
         ({:.2} s of CPU, peak RSS {} MiB), maps take {:.1} MiB",
        daemon_cpu_seconds,
        daemon_peak_rss_kib / 1024,
        memory_total as f64 / f64::from(1 << 20)
    );
    drop(maps);
    drop(pins);
    drop(daemon);
    drop(server);
    let (rows, full_vs_empty) = cost(config)?;
    Ok(Decisions {
        decisions: wanted,
        addresses: counts.addresses,
        ranges: counts.ranges,
        answer_bytes: body.len(),
        enforced_seconds,
        daemon_cpu_seconds,
        daemon_peak_rss_kib,
        memory,
        memory_total,
        rows,
        full_vs_empty,
    })
}

/// The per-packet rows, and the ratios of full to empty decision sets by case.
type Costs = (Vec<Row>, Vec<(String, Summary)>);

/// Per-packet cost: benign and decided sources, the decision set empty and then full.
fn cost(config: Config) -> Result<Costs> {
    let (pin_dir, _) = attach::private_dirs("decisions");
    let _pins = RemoveOnDrop(pin_dir.clone());
    std::fs::create_dir_all(&pin_dir)?;
    let settings = packet_cost::settings(scanguard_common::ban::DEFAULT_BAN_CAPACITY);
    let ebpf = program::load(&settings, Some(&pin_dir))?;
    let xdp = crate::test_run::xdp(&ebpf, scanguard::bpf::object::PROGRAM_NAME)?;
    let floor = object::load(&[FLOOR_PASS, FLOOR_DROP])?;
    let floor_pass = crate::test_run::xdp(&floor, FLOOR_PASS)?;
    let floor_drop = crate::test_run::xdp(&floor, FLOOR_DROP)?;
    let frame = |src: IpAddr| packet_cost::tcp(src, OPEN_PORT, SYN);
    let case = |name: &str, xdp, src: IpAddr, expected| Case {
        name: name.to_string(),
        group: "decisions",
        xdp,
        frame: frame(src),
        expected,
        ingress: None,
    };
    let benign = BENIGN_V4.into();
    // The floors, then the cases, in each phase's rounds.
    let phase = |cases: Vec<Case<'_>>| -> Result<Vec<Vec<crate::test_run::Timing>>> {
        let mut all = vec![
            case("floor (pass)", floor_pass, benign, XDP_PASS),
            case("floor (drop)", floor_drop, benign, XDP_DROP),
        ];
        all.extend(cases);
        packet_cost::measure(&all, config.repeat, config.rounds)
    };
    let floors = [
        case("floor (pass)", floor_pass, benign, XDP_PASS),
        case("floor (drop)", floor_drop, benign, XDP_DROP),
    ];
    let empty = [case(
        "benign SYN, empty decision set",
        xdp,
        benign,
        XDP_PASS,
    )];
    let empty_timings = phase(vec![case(
        "benign SYN, empty decision set",
        xdp,
        benign,
        XDP_PASS,
    )])?;

    let pins = Pins::open(&pin_dir)?;
    let mut maps = Maps::open(&pins)?;
    let now = boot_ns();
    let decision = Decision {
        expires_at_ns: now + 3600 * 1_000_000_000,
        since_ns: now,
        dropped: 0,
        scenario: 0,
        origin: 0,
        _pad: [0; 5],
    };
    let plan = Plan {
        put: (0..config.decisions)
            .map(|n| (target(n), decision))
            .collect(),
        remove: Vec::new(),
    };
    maps.write(&plan, &[], plan.put.iter().map(|(net, _)| net))?;
    let full_cases = || {
        vec![
            case("benign SYN, full decision set", xdp, benign, XDP_PASS),
            case("decided address, full set", xdp, target(0).addr(), XDP_DROP),
            case("decided /24, full set", xdp, target(7).addr(), XDP_DROP),
        ]
    };
    let full = full_cases();
    let full_timings = phase(full_cases())?;

    let kernel = |timings: &[crate::test_run::Timing]| {
        timings.iter().map(|t| t.kernel_ns).collect::<Vec<_>>()
    };
    let rows = vec![
        packet_cost::row(&empty[0], &empty_timings[2], &floors[0], &empty_timings[0]),
        packet_cost::row(&full[0], &full_timings[2], &floors[0], &full_timings[0]),
        packet_cost::row(&full[1], &full_timings[3], &floors[1], &full_timings[1]),
        packet_cost::row(&full[2], &full_timings[4], &floors[1], &full_timings[1]),
    ];
    let full_vs_empty = vec![(
        "benign SYN".to_string(),
        Summary::of(&paired_ratios(
            &kernel(&full_timings[2]),
            &kernel(&empty_timings[2]),
        )),
    )];
    Ok((rows, full_vs_empty))
}

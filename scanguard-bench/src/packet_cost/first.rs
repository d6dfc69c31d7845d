//! First packets: the cost of a source the program has never seen.

use anyhow::{Context as _, Result};
use aya::programs::Xdp;
use scanguard::{
    bpf::{object::PROGRAM_NAME, program},
    config::settings::Settings,
};
use scanguard_common::classify::{ACK, SYN};

use super::{
    CLIENT_PORT, Config, OPEN_PORT, Row, UNSERVED_PORT, default_settings, from_target,
    load_scanguard, new_source_v4, new_source_v6, settings, tcp,
    verify::{self, RouteBack},
};
use crate::{
    interrupt,
    stats::{Summary, paired_ratios},
    test_run::{self, XDP_DROP, XDP_PASS, verdict_name},
};

/// The sources of a /28: few enough that each comes back within a tick, though every case
/// runs between two of its frames.
const SUBNET: u32 = 16;

/// First packets: each run carries a source the program has never seen, so the costs of
/// creating state (a ban, an event bucket, an event) are paid every time. One run per call, so
/// each figure includes the timer's own overhead; the floor is measured the same way.
pub fn packets(
    floor_pass: &Xdp,
    floor_drop: &Xdp,
    config: Config,
    route_back: &RouteBack,
) -> Result<(Vec<Row>, Vec<Row>)> {
    let total = config.first_frames * config.first_rounds;
    // Room for every ban, so no run pays for an LRU eviction.
    let capacity = u32::try_from(4 * total).unwrap_or(u32::MAX).max(65_536);
    let fresh = load_scanguard(&settings(capacity), 4096)?;
    // The same without a reader: the event output fails early, as when no daemon runs.
    let unread = program::load(&settings(capacity), None)?;
    // Events off (no rate at all): what is left is the ban and the event bucket.
    let quiet_settings = Settings {
        events_per_minute: 0,
        ..settings(capacity)
    };
    let quiet = load_scanguard(&quiet_settings, 64)?;
    // The default budgets: past the first hundred, a new source's probe is dropped without a
    // ban or an event, the path a spoofed flood takes.
    let capped = load_scanguard(
        &Settings {
            capacity,
            ..default_settings()
        },
        64,
    )?;
    // A connection accepted from every source beforehand: each ACK finds its flow in the map,
    // but not among the hits this CPU remembers (more flows than slots, each run once a
    // round), so it pays the map's lookup and remembers the flow.
    let mut flows = load_scanguard(
        &Settings {
            flow_capacity: capacity,
            ..settings(capacity)
        },
        64,
    )?;
    let accepted: Vec<Vec<u8>> = (0..u32::try_from(total)?)
        .map(|n| {
            from_target(new_source_v4(n))
                .tcp(OPEN_PORT, CLIENT_PORT, SYN | ACK)
                .build()
        })
        .collect();
    test_run::track_flows(&mut flows.ebpf, &accepted)?;
    // Every source of one /28 banned, its frames taken in turn: each finds its own verdict
    // cached on this CPU only if the sources do not share verdict slots.
    let mut subnet = load_scanguard(&settings(capacity), 64)?;
    for n in 0..SUBNET {
        test_run::ban(&mut subnet.ebpf, new_source_v4(n))?;
    }
    // Source verification on, runs coming in on the interface the route back names (every
    // source verified: a route lookup and a neighbour lookup before the ban), or on another
    // (every source forged: the route lookup, then a drop and a `spoofed` event).
    let verifying = verify::load_verifying(&settings(capacity), 4096)?;
    let forged = verify::load_verifying(&settings(capacity), 4096)?;
    let (verifying_xdp, forged_xdp) = (verifying.xdp()?, forged.xdp()?);
    let (lan, side) = (Some(route_back.lan), Some(route_back.side));
    let (xdp, unread_xdp, quiet_xdp, capped_xdp, flows_xdp, subnet_xdp) = (
        fresh.xdp()?,
        test_run::xdp(&unread, PROGRAM_NAME)?,
        quiet.xdp()?,
        capped.xdp()?,
        flows.xdp()?,
        subnet.xdp()?,
    );
    type Frames = Box<dyn Fn(u32) -> Vec<u8>>;
    // A NULL probe; every instance has its own ban map, so all can use the same sources.
    let probe_v4 = || -> Frames { Box::new(|n| tcp(new_source_v4(n), OPEN_PORT, 0)) };
    let cases: Vec<(&str, &Xdp, Frames, u32, Option<u32>)> = vec![
        (
            "floor: XDP_PASS, one run per call",
            floor_pass,
            Box::new(|n| tcp(new_source_v4(n), OPEN_PORT, SYN)),
            XDP_PASS,
            None,
        ),
        (
            "floor: XDP_DROP, one run per call",
            floor_drop,
            probe_v4(),
            XDP_DROP,
            None,
        ),
        (
            "first SYN from a new source",
            xdp,
            Box::new(|n| tcp(new_source_v4(n), OPEN_PORT, SYN)),
            XDP_PASS,
            None,
        ),
        (
            "first SYN from a new source to an unserved port (a new sweep sketch)",
            xdp,
            Box::new(|n| tcp(new_source_v4(n), UNSERVED_PORT, SYN)),
            XDP_PASS,
            None,
        ),
        (
            "ACK of a recorded flow, its first on this CPU in a tick (flow map lookup)",
            flows_xdp,
            Box::new(|n| tcp(new_source_v4(n), OPEN_PORT, ACK)),
            XDP_PASS,
            None,
        ),
        (
            "first probe from a new source: ban + event, IPv4",
            xdp,
            probe_v4(),
            XDP_DROP,
            None,
        ),
        (
            "first probe from a new source: ban + event, IPv6",
            xdp,
            Box::new(|n| tcp(new_source_v6(n), OPEN_PORT, 0)),
            XDP_DROP,
            None,
        ),
        (
            "first probe, no event reader",
            unread_xdp,
            probe_v4(),
            XDP_DROP,
            None,
        ),
        (
            "first probe, events off: ban only",
            quiet_xdp,
            probe_v4(),
            XDP_DROP,
            None,
        ),
        (
            "first probe, default ban budgets (past them: no ban, no event)",
            capped_xdp,
            probe_v4(),
            XDP_DROP,
            None,
        ),
        (
            "banned sources of one /28 in turn (each banned before)",
            subnet_xdp,
            Box::new(|n| tcp(new_source_v4(n % SUBNET), OPEN_PORT, SYN)),
            XDP_DROP,
            None,
        ),
        (
            "first SYN from a new source to an unserved port, source verified (route lookup, \
             a new sweep sketch)",
            verifying_xdp,
            Box::new(|n| tcp(new_source_v4(n), UNSERVED_PORT, SYN)),
            XDP_PASS,
            lan,
        ),
        (
            "first probe from a new source, source verified (route lookup): ban + event, IPv4",
            verifying_xdp,
            probe_v4(),
            XDP_DROP,
            lan,
        ),
        (
            "first probe from a new source, source verified (route lookup): ban + event, IPv6",
            verifying_xdp,
            Box::new(|n| tcp(new_source_v6(n), OPEN_PORT, 0)),
            XDP_DROP,
            lan,
        ),
        (
            "first probe from a new source, found forged (route lookup): drop + spoofed event",
            forged_xdp,
            probe_v4(),
            XDP_DROP,
            side,
        ),
    ];
    let mut samples = vec![Vec::new(); cases.len()];
    let mut medians = vec![Vec::new(); cases.len()];
    let mut verdicts = vec![None; cases.len()];
    for round in 0..config.first_rounds {
        let mut per_round = vec![Vec::with_capacity(config.first_frames); cases.len()];
        for j in 0..config.first_frames {
            if j % 1024 == 0 {
                interrupt::check()?;
            }
            let n = u32::try_from(round * config.first_frames + j)?;
            for (i, (name, xdp, frame, _, ingress)) in cases.iter().enumerate() {
                let timing = match ingress {
                    Some(ingress) => verify::time_on(xdp, &frame(n), 1, *ingress),
                    None => test_run::time(xdp, &frame(n), 1),
                }
                .with_context(|| format!("test run of {name}"))?;
                per_round[i].push(timing.kernel_ns);
                verdicts[i].get_or_insert(timing.verdict);
            }
        }
        for (i, values) in per_round.into_iter().enumerate() {
            medians[i].push(Summary::of(&values).median);
            samples[i].extend(values);
        }
    }
    let mut floor_rows = Vec::new();
    let mut rows = Vec::new();
    for (i, (name, _, _, expected, _)) in cases.iter().enumerate() {
        let f = if *expected == XDP_PASS { 0 } else { 1 };
        let row = Row {
            case: name.to_string(),
            group: if i < 2 { "floor" } else { "first packet" },
            verdict: verdict_name(verdicts[i].unwrap_or(0)),
            expected: verdict_name(*expected),
            ns: Summary::of(&samples[i]),
            wall_ns: None,
            floor: cases[f].0.to_string(),
            floor_ns: Summary::of(&samples[f]).median,
            ratio: Summary::of(&paired_ratios(&medians[i], &medians[f])).median,
            ratio_wall: None,
        };
        if i < 2 {
            floor_rows.push(row);
        } else {
            rows.push(row);
        }
    }
    Ok((floor_rows, rows))
}

//! Part 3: a ban map of a million entries. Kernel memory of the maps, `scanguard bans` and
//! `scanguard unban` run as a user would (the real binary on a private pin directory), and the
//! per-packet cost with the map full against the same program with the map nearly empty.

mod maps;

use std::{os::fd::AsFd as _, path::Path, time::Instant};

use anyhow::{Context as _, Result, bail};
use aya::{
    Ebpf,
    maps::{Map, MapData},
};
use scanguard::{
    bpf::{map_batch, object::PROGRAM_NAME, program},
    config::settings::Settings,
};
use scanguard_common::{
    addr::AddrKey,
    ban::{BANS_MAP, Ban},
    classify::SYN,
};
use serde::Serialize;

use maps::{BanMap, fill, filler, hash_map_data, is_banned};
pub use maps::{MapMemory, fill_with, open_maps};

use crate::{
    attach::{self, RemoveOnDrop},
    interrupt,
    object::{self, FLOOR_DROP, FLOOR_PASS},
    packet_cost::{self, BENIGN_V4, Case, OPEN_PORT, Row},
    stats::{Summary, paired_ratios},
    test_run::{self, XDP_DROP, XDP_PASS},
};

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub bans: u32,
    pub repeat: u32,
    pub rounds: usize,
    /// Distinct banned sources for the one-run-per-source comparison.
    pub spread: u32,
    pub listings: usize,
    pub unbans: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Scale {
    pub capacity: u32,
    pub inserted: u64,
    pub fill_seconds: f64,
    /// Bans `scanguard bans` listed (LRU eviction can keep a full map below its capacity).
    pub listed: usize,
    pub bans_seconds: Summary,
    pub bans_json_seconds: f64,
    /// Reading the pinned map in-process with aya's iterator (a BPF_MAP_GET_NEXT_KEY and a
    /// BPF_MAP_LOOKUP_ELEM per entry), without formatting...
    pub iterate_seconds: f64,
    /// ...and the way the CLI does, with BPF_MAP_LOOKUP_BATCH, 10,000 entries per call.
    pub batch_seconds: f64,
    pub batch_entries: usize,
    pub unban_seconds: Summary,
    pub memory: Vec<MapMemory>,
    pub memory_total: u64,
    /// The same program loaded with the default capacity, for comparison.
    pub memory_default_capacity: u64,
    /// Full map against nearly empty one, same program and capacity, same rounds.
    pub rows: Vec<Row>,
    pub full_vs_empty: Vec<(String, Summary)>,
}

pub fn run(scanguard: &Path, config: Config) -> Result<Scale> {
    let (pin_dir, run_dir) = attach::private_dirs("scale");
    let _pins = RemoveOnDrop(pin_dir.clone());
    let _run = RemoveOnDrop(run_dir.clone());
    std::fs::create_dir_all(&run_dir)?;
    // bpffs takes directories; the loader pins into it but does not create it.
    std::fs::create_dir_all(&pin_dir)
        .with_context(|| format!("create {} (is bpffs mounted?)", pin_dir.display()))?;

    let before = open_maps()?;
    let settings = packet_cost::settings(config.bans);
    let mut full = program::load(&settings, Some(&pin_dir))?;
    let start = Instant::now();
    let inserted = fill(&mut full, 0..config.bans)?;
    let fill_seconds = start.elapsed().as_secs_f64();
    let memory: Vec<MapMemory> = open_maps()?
        .into_iter()
        .filter(|(id, _)| !before.contains_key(id))
        .map(|(_, memory)| memory)
        .collect();
    let memory_total = memory.iter().map(|m| m.bytes).sum();
    let memory_default_capacity = {
        let before = open_maps()?;
        let _default = program::load(
            &packet_cost::settings(scanguard_common::ban::DEFAULT_BAN_CAPACITY),
            None,
        )?;
        open_maps()?
            .into_iter()
            .filter(|(id, _)| !before.contains_key(id))
            .map(|(_, memory)| memory.bytes)
            .sum()
    };
    println!(
        "[bench] scale: {inserted} bans inserted in {fill_seconds:.2} s, maps take {} MiB",
        memory_total / (1 << 20)
    );

    let cli = |args: &[&str]| attach::cli(scanguard, None, args, &pin_dir, &run_dir);
    let mut listing_times = Vec::new();
    let mut listed = 0;
    for _ in 0..config.listings {
        interrupt::check()?;
        let start = Instant::now();
        let output = cli(&["bans"])?;
        listing_times.push(start.elapsed().as_secs_f64());
        // One header line, then one line per ban.
        listed = output
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
            .saturating_sub(1);
    }
    let start = Instant::now();
    let json = cli(&["bans", "--json"])?;
    let bans_json_seconds = start.elapsed().as_secs_f64();
    drop(json);
    println!(
        "[bench] scale: `scanguard bans` listed {listed} in {:.2} s",
        Summary::of(&listing_times).median
    );

    let pinned = Map::from_map_data(MapData::from_pin(pin_dir.join(BANS_MAP))?)?;
    let start = Instant::now();
    let bans: BanMap<'_> = aya::maps::HashMap::try_from(&pinned)?;
    let iterated = bans.iter().filter(Result::is_ok).count();
    let iterate_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let batch_entries =
        map_batch::lookup_all::<AddrKey, Ban>(hash_map_data(&pinned)?.fd().as_fd(), 10_000)?.len();
    let batch_seconds = start.elapsed().as_secs_f64();
    println!(
        "[bench] scale: in-process, aya's iterator read {iterated} in {iterate_seconds:.2} s, batch lookups {batch_entries} in {batch_seconds:.2} s"
    );

    // The newest bans are the ones LRU eviction spared: unban from the very end, measure on the
    // ones just before.
    let layout = Layout::new(config)?;
    let missing = layout.sources().filter(|n| !is_banned(&pinned, *n)).count();
    if missing > 0 {
        bail!("{missing} of the newest bans were evicted; cannot measure on them");
    }
    let mut unban_times = Vec::new();
    for n in layout.unbanned.clone() {
        let address = filler(n).to_string();
        let start = Instant::now();
        cli(&["unban", &address])?;
        unban_times.push(start.elapsed().as_secs_f64());
    }

    let (rows, full_vs_empty) = cost(&full, &settings, config, &layout)?;
    Ok(Scale {
        capacity: config.bans,
        inserted,
        fill_seconds,
        listed,
        bans_seconds: Summary::of(&listing_times),
        bans_json_seconds,
        iterate_seconds,
        batch_seconds,
        batch_entries,
        unban_seconds: Summary::of(&unban_times),
        memory,
        memory_total,
        memory_default_capacity,
        rows,
        full_vs_empty,
    })
}

/// Which filler sources the measurements use: the newest ones.
struct Layout {
    /// Sources the cost cases send from, one run each; the steady case uses the last.
    spread: std::ops::Range<u32>,
    /// Sources `scanguard unban` lifts.
    unbanned: std::ops::Range<u32>,
}

impl Layout {
    fn new(config: Config) -> Result<Layout> {
        let unbans = u32::try_from(config.unbans)?;
        let unban_start = config
            .bans
            .checked_sub(unbans)
            .context("more unbans than bans")?;
        let spread_start = unban_start
            .checked_sub(config.spread)
            .context("spread larger than the map")?;
        Ok(Layout {
            spread: spread_start..unban_start,
            unbanned: unban_start..config.bans,
        })
    }

    fn sources(&self) -> impl Iterator<Item = u32> {
        self.spread.clone().chain(self.unbanned.clone())
    }

    fn banned(&self) -> u32 {
        self.spread.end - 1
    }
}

/// A named ratio, full map over nearly empty.
type Ratio = (String, Summary);

/// Full against nearly empty: steady cases (one source, a million runs per call) and one run
/// per source over `spread` distinct banned sources, which defeats the cache as a flood from
/// many sources would.
fn cost(
    full: &Ebpf,
    settings: &Settings,
    config: Config,
    layout: &Layout,
) -> Result<(Vec<Row>, Vec<Ratio>)> {
    let floor = object::load(&[FLOOR_PASS, FLOOR_DROP])?;
    let mut empty = program::load(settings, None)?;
    fill(&mut empty, layout.banned()..layout.banned() + 1)?;
    let full_xdp = test_run::xdp(full, PROGRAM_NAME)?;
    let banned = packet_cost::tcp(filler(layout.banned()), OPEN_PORT, SYN);
    let benign = packet_cost::tcp(BENIGN_V4.into(), OPEN_PORT, SYN);
    let case = |name: &str, xdp, frame: &Vec<u8>, expected| Case {
        name: name.to_string(),
        group: "scale",
        xdp,
        frame: frame.clone(),
        expected,
        ingress: None,
    };
    let rows_and_ratios = {
        let empty_xdp = test_run::xdp(&empty, PROGRAM_NAME)?;
        let cases = [
            case(
                "floor: XDP_PASS",
                test_run::xdp(&floor, FLOOR_PASS)?,
                &benign,
                XDP_PASS,
            ),
            case(
                "floor: XDP_DROP",
                test_run::xdp(&floor, FLOOR_DROP)?,
                &banned,
                XDP_DROP,
            ),
            case("benign SYN, 1 ban in the map", empty_xdp, &benign, XDP_PASS),
            case(
                &format!("benign SYN, {} bans", config.bans),
                full_xdp,
                &benign,
                XDP_PASS,
            ),
            case(
                "banned source, 1 ban in the map",
                empty_xdp,
                &banned,
                XDP_DROP,
            ),
            case(
                &format!("banned source, {} bans", config.bans),
                full_xdp,
                &banned,
                XDP_DROP,
            ),
        ];
        let timings = packet_cost::measure(&cases, config.repeat, config.rounds)?;
        let rows: Vec<Row> = cases
            .iter()
            .enumerate()
            .skip(2)
            .map(|(i, c)| {
                let f = if c.expected == XDP_PASS { 0 } else { 1 };
                packet_cost::row(c, &timings[i], &cases[f], &timings[f])
            })
            .collect();
        let kernel = |i: usize| timings[i].iter().map(|t| t.kernel_ns).collect::<Vec<_>>();
        let ratios = vec![
            (
                "benign SYN".to_string(),
                Summary::of(&paired_ratios(&kernel(3), &kernel(2))),
            ),
            (
                "banned source".to_string(),
                Summary::of(&paired_ratios(&kernel(5), &kernel(4))),
            ),
        ];
        (rows, ratios)
    };
    let (mut rows, mut ratios) = rows_and_ratios;

    // The nearly empty map now holds the same `spread` bans as the full one.
    fill(&mut empty, layout.spread.clone())?;
    let empty_xdp = test_run::xdp(&empty, PROGRAM_NAME)?;
    let mut spread = [Vec::new(), Vec::new()];
    for n in layout.spread.clone() {
        if n % 1024 == 0 {
            interrupt::check()?;
        }
        let frame = packet_cost::tcp(filler(n), OPEN_PORT, SYN);
        for (i, xdp) in [empty_xdp, full_xdp].into_iter().enumerate() {
            spread[i].push(test_run::time(xdp, &frame, 1)?.kernel_ns);
        }
    }
    let name = |bans: u32| {
        format!(
            "{} banned sources, one run each, {bans} bans",
            config.spread
        )
    };
    for (i, bans) in [config.spread, config.bans].into_iter().enumerate() {
        rows.push(Row {
            case: name(bans),
            group: "scale",
            verdict: "drop",
            expected: "drop",
            ns: Summary::of(&spread[i]),
            wall_ns: None,
            floor: name(config.spread),
            floor_ns: Summary::of(&spread[0]).median,
            ratio: Summary::of(&spread[i]).median / Summary::of(&spread[0]).median,
            ratio_wall: None,
        });
    }
    ratios.push((
        format!("{} banned sources, one run each", config.spread),
        Summary::of(&[Summary::of(&spread[1]).median / Summary::of(&spread[0]).median]),
    ));
    Ok((rows, ratios))
}

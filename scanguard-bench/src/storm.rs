//! Part 4: the daemon under a scan storm. The generator sends NULL probes, each frame from a
//! new source (100.64.0.0/10), at a paced rate to scanguard attached natively on the receiver:
//! every frame is a detection, a ban and an event. Measured: the daemon's memory and CPU, the
//! events it printed per second and the events the kernel could not hand it.

use std::{
    net::Ipv4Addr,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::Value;

use crate::{
    attach::Attach,
    full_map::{self, FullMap},
    generator::{Generator, Target},
    interrupt,
    process::{clock_ticks, cpu_ticks, status_kib},
    topology::{FloodLink, SENDER_CPU},
};

#[derive(Clone, Debug)]
pub struct Config {
    /// Detections per second and how long each level lasts.
    pub levels: Vec<(u32, Duration)>,
    /// The ban-map capacity the daemon then runs with, filled.
    pub full_map: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Level {
    pub target_per_second: u32,
    pub seconds: f64,
    pub sent_per_second: f64,
    /// Sources the program banned (`bans_created`) per second the generator sent: the bans
    /// follow the frames, and the level's wall time runs up to a polling interval longer.
    pub detections_per_second: f64,
    /// Events the kernel handed to the daemon's perf buffers (`events_sent`).
    pub events_sent: u64,
    /// Detection lines the daemon printed, over the level and a one-second drain after it.
    pub events_printed: u64,
    /// Lines printed per second while the level lasted: events handled.
    pub printed_per_second: f64,
    /// Lines printed in the drain: how far the daemon was behind when the level ended.
    pub backlog: u64,
    /// Events lost because the daemon's buffers were full (its warnings).
    pub events_lost: u64,
    /// CPU time of the daemon over the level and the drain, in percent of one CPU.
    pub daemon_cpu_percent: f64,
    pub daemon_rss_max_kib: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Storm {
    /// How the frames were sent (`generator::Mode::name`).
    pub generator: &'static str,
    pub levels: Vec<Level>,
    pub rss_idle_kib: u64,
    /// VmHWM: the most the daemon ever held resident.
    pub rss_peak_kib: u64,
    /// `scanguard stats --json` at the end: packets.events_lost, packets.events_sent.
    pub stats_events_lost: u64,
    pub stats_events_sent: u64,
    pub full_map: FullMap,
}

/// The defaults cap new bans at 100 a second and events at 200 a second across all sources
/// (the spoofed-flood defence), so a storm under them measures the caps. Lifted here, every
/// probe is a ban and an event, and the daemon has to keep up. Source verification is off: the
/// storm's sources have no route back on the link, so it would ban none of them
/// (docs/spoofing.md).
const UNCAPPED_CONFIG: &str = "verify_source = false
max_bans_per_second = 1000000
max_bans_per_subnet_per_minute = 0

[events]
per_second = 1000000
";

/// How long the daemon gets after a level to print what it has read.
const DRAIN: Duration = Duration::from_secs(1);

/// The storm's sources start here; each level takes fresh ones.
const SOURCE_BASE: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 0);

pub fn run(link: &FloodLink, scanguard: &Path, config: &Config) -> Result<Storm> {
    let attach = Attach::start(
        scanguard,
        &link.rx,
        &[&link.rx.interface, "--mode", "native"],
        UNCAPPED_CONFIG,
    )?;
    let pid = attach.pid().context("daemon pid")?;
    interrupt::sleep(Duration::from_secs(1))?;
    let rss_idle_kib = status_kib(pid, "VmRSS:")?;
    let mut offset = 0u32;
    let mut levels = Vec::new();
    let mut generator_mode = None;
    for &(rate, duration) in &config.levels {
        interrupt::check()?;
        // Twice what the level should send, so no source repeats even if it sends a little more.
        let sources =
            u32::try_from((2 * u64::from(rate) * duration.as_secs().max(1)).min(1 << 21))?;
        let base = Ipv4Addr::from(u32::from(SOURCE_BASE) + offset);
        offset += sources;
        let generator = Generator::numbered(link, sources, base)?;
        generator_mode = Some(generator.mode().name());
        let frame = link.frame_from(base.into(), 0);
        let level = run_level(link, &attach, pid, &generator, &frame, rate, duration)?;
        println!(
            "[bench] storm {rate}/s: {:.0} detections/s, {:.0} events printed/s, {} lost, daemon {:.0}% CPU, {} KiB RSS",
            level.detections_per_second,
            level.printed_per_second,
            level.events_lost,
            level.daemon_cpu_percent,
            level.daemon_rss_max_kib
        );
        levels.push(level);
    }
    // The daemon publishes its lost count with each ban sweep (every 5 s).
    interrupt::sleep(Duration::from_millis(5500))?;
    let stats = attach.stats()?;
    let packet = |name: &str| stats["packets"][name].as_u64().unwrap_or(0);
    let rss_peak_kib = status_kib(pid, "VmHWM:")?;
    // One daemon per interface: this one goes before the next comes.
    drop(attach);
    Ok(Storm {
        generator: generator_mode.unwrap_or("none"),
        levels,
        rss_idle_kib,
        rss_peak_kib,
        stats_events_lost: packet("events_lost"),
        stats_events_sent: packet("events_sent"),
        full_map: full_map::run(link, scanguard, config.full_map)?,
    })
}

fn run_level(
    link: &FloodLink,
    attach: &Attach,
    pid: u32,
    generator: &Generator,
    frame: &[u8],
    rate: u32,
    duration: Duration,
) -> Result<Level> {
    link.pin_receiver()?;
    let target = Target {
        netns: &link.tx.netns,
        ifindex: link.tx_ifindex,
        frame,
        cpu: SENDER_CPU,
    };
    let before = attach.stats()?;
    let (lines_before, lost_before, cpu_before) =
        (attach.lines(), attach.lost_warned(), cpu_ticks(pid)?);
    let start = Instant::now();
    let (sent, rss_max) = std::thread::scope(|scope| -> Result<_> {
        let sender = scope.spawn(|| generator.paced(&target, rate, duration));
        let mut rss_max = 0;
        while !sender.is_finished() {
            rss_max = rss_max.max(status_kib(pid, "VmRSS:")?);
            std::thread::sleep(Duration::from_millis(100));
        }
        let sent = sender
            .join()
            .map_err(|_| anyhow::anyhow!("generator panicked"))??;
        Ok((sent, rss_max))
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let printed_in_level = attach.lines() - lines_before;
    // Let the daemon print what it has read.
    interrupt::sleep(DRAIN)?;
    let with_drain = start.elapsed().as_secs_f64();
    let cpu_after = cpu_ticks(pid)?;
    let after = attach.stats()?;
    let delta = |name: &str| counter(&after, name).saturating_sub(counter(&before, name));
    let printed = attach.lines() - lines_before;
    Ok(Level {
        target_per_second: rate,
        seconds,
        sent_per_second: sent.rate(),
        detections_per_second: delta("bans_created") as f64 / sent.seconds,
        events_sent: delta("events_sent"),
        events_printed: printed,
        printed_per_second: printed_in_level as f64 / seconds,
        backlog: printed - printed_in_level,
        events_lost: attach.lost_warned() - lost_before,
        daemon_cpu_percent: 100.0 * (cpu_after - cpu_before) as f64 / clock_ticks() / with_drain,
        daemon_rss_max_kib: rss_max.max(status_kib(pid, "VmRSS:")?),
    })
}

fn counter(stats: &Value, name: &str) -> u64 {
    stats["packets"][name].as_u64().unwrap_or(0)
}

//! Part 4, continued: the daemon beside a full ban map. Half of the bans have ended, so its
//! sweeps delete them and clear their marks in the ban filter; measured: the daemon's memory
//! and CPU over two sweeps.

use std::{
    os::fd::AsFd as _,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use aya::maps::{IterableMap as _, MapData};
use scanguard::bpf::{
    bans::{self, BanMap},
    clock::boot_ns,
    pins::Pins,
};
use scanguard_common::{
    ban::Ban,
    config::{BanMode, NANOS_PER_SECOND},
};
use serde::Serialize;

use crate::{
    attach::Attach,
    interrupt,
    process::{clock_ticks, cpu_ticks, status_kib},
    scale::fill_with,
    topology::FloodLink,
};

#[derive(Clone, Debug, Serialize)]
pub struct FullMap {
    pub capacity: u32,
    /// Bans in the map once filled (LRU eviction can keep it below its capacity)...
    pub filled: u64,
    /// ...of which had ended: the sweeps delete these.
    pub ended: u64,
    /// Bans in the map after the sweeps, and how many of them had ended.
    pub left: u64,
    pub ended_left: u64,
    pub seconds: f64,
    /// VmHWM before the fill: the most the daemon held while starting.
    pub rss_peak_before_kib: u64,
    /// VmRSS sampled every 50 ms over the sweeps, and VmHWM after them.
    pub rss_max_kib: u64,
    pub rss_peak_kib: u64,
    pub daemon_cpu_percent: f64,
}

/// Two sweeps (one every 5 s) and a second to spare.
const WATCH: Duration = Duration::from_secs(11);
const SAMPLE: Duration = Duration::from_millis(50);

pub fn run(link: &FloodLink, scanguard: &Path, capacity: u32) -> Result<FullMap> {
    let attach = Attach::start(
        scanguard,
        &link.rx,
        &[&link.rx.interface, "--mode", "native"],
        &format!("capacity = {capacity}\n"),
    )?;
    let pid = attach.pid().context("daemon pid")?;
    let rss_peak_before_kib = status_kib(pid, "VmHWM:")?;
    let pins = Pins::open(&attach.pin_dir)?;
    let bans = pins.bans()?;
    let mut filter = pins.ban_filter()?;
    let now = boot_ns();
    // Even sources were banned at boot for a nanosecond; odd ones for an hour from now.
    fill_with(bans.map().fd().as_fd(), &mut filter, 0..capacity, |n| {
        if n % 2 == 0 {
            Ban::manual(0, 1)
        } else {
            Ban::manual(now, 3600 * NANOS_PER_SECOND)
        }
    })?;
    let (filled, ended) = count(&bans)?;
    println!("[bench] full map: {filled} bans, {ended} of them ended; watching two sweeps");
    let cpu_before = cpu_ticks(pid)?;
    let start = Instant::now();
    let mut rss_max_kib = 0;
    while start.elapsed() < WATCH {
        interrupt::check()?;
        rss_max_kib = rss_max_kib.max(status_kib(pid, "VmRSS:")?);
        std::thread::sleep(SAMPLE);
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_ticks(pid)? - cpu_before;
    let (left, ended_left) = count(&bans)?;
    Ok(FullMap {
        capacity,
        filled,
        ended,
        left,
        ended_left,
        seconds,
        rss_peak_before_kib,
        rss_max_kib,
        rss_peak_kib: status_kib(pid, "VmHWM:")?,
        daemon_cpu_percent: 100.0 * cpu as f64 / clock_ticks() / seconds,
    })
}

/// The bans in the map, and how many of them have ended.
fn count(bans: &BanMap<MapData>) -> Result<(u64, u64)> {
    let now = boot_ns();
    let (mut all, mut ended) = (0, 0);
    bans::for_each_batch(bans, |keys, values| {
        all += keys.len() as u64;
        ended += values
            .iter()
            .filter(|ban| ban.is_expired(now, BanMode::Fixed))
            .count() as u64;
        Ok(())
    })?;
    Ok((all, ended))
}

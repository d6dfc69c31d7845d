//! Reads the running daemon for a snapshot: the pinned maps (opened once, as the other read
//! commands do), its status file and the event feed. Also lifts a ban, as `unban` does, saved
//! bans included.

use std::{
    collections::HashMap,
    net::IpAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Result;
use aya::maps::{Array, IterableMap as _, MapData, PerCpuArray};
use ipnet::IpNet;
use scanguard_common::{
    ban::ORIGIN_MANUAL,
    ban_filter::CachedVerdict,
    config::Config,
    counters::{Counter, Counters, counter_slot, detection_slot},
    kind::Kind,
};

use super::{
    feed::{self, Feed},
    history::{self, History, Sample},
    services::Services,
    snapshot::{
        BanCount, BanReading, Daemon, EventStream, Hook, KindActivity, Packets, Rate, Snapshot,
        banned_sources, probed_ports,
    },
};
use crate::{
    bpf::{
        ban_filter,
        bans::{self, BanMap},
        clock, counters,
        pins::Pins,
    },
    daemon::{
        attachment::TC_MODE,
        saved_bans::store::{self, Lift},
        status_file::{self, DaemonStatus},
    },
};

/// Ports a snapshot ranks: more than any screen shows.
const RANKED_PORTS: usize = 100;

/// The maps a snapshot reads, opened once: opening a pin checks its layout against the
/// embedded object, which is not a thing to do every second.
struct Maps {
    pins: Pins,
    bans: BanMap<MapData>,
    counters: PerCpuArray<MapData, Counters>,
    verdicts: PerCpuArray<MapData, CachedVerdict>,
    config: Array<MapData, Config>,
    capacity: u32,
}

impl Maps {
    fn open(pin_dir: &Path) -> Result<Maps> {
        let pins = Pins::open(pin_dir)?;
        let bans = pins.bans()?;
        let capacity = bans.map().info()?.max_entries();
        Ok(Maps {
            counters: pins.counters()?,
            verdicts: pins.verdicts()?,
            config: pins.config_array()?,
            bans,
            capacity,
            pins,
        })
    }

    /// The counters summed over CPUs, as `stats` sums them.
    fn totals(&self) -> Result<Counters> {
        counters::totals(&self.counters)
    }

    /// Bans in force with their drops, as `bans` reads them: the drops the program has not
    /// yet added to the ban are in its per-CPU verdicts.
    fn bans(&self) -> Result<Vec<BanReading>> {
        let mode = self.config.get(&0, 0)?.ban_mode();
        let now = clock::boot_ns();
        let pending: HashMap<IpAddr, u64> = ban_filter::pending_drops(&self.verdicts)?
            .into_iter()
            .map(|(key, drops)| (key.address(), drops))
            .collect();
        Ok(bans::active(&self.bans, mode)?
            .into_iter()
            .map(|record| BanReading {
                address: record.address,
                reason: record.reason(),
                manual: record.ban.origin == ORIGIN_MANUAL,
                repeat: record.ban.repeat,
                dropped_packets: record.ban.dropped_packets
                    + pending.get(&record.address).copied().unwrap_or(0),
                expires_in: record.expires_in(mode, now),
            })
            .collect())
    }
}

pub struct Collector {
    pin_dir: PathBuf,
    run_dir: PathBuf,
    /// Where the saved bans are, which an unban changes too.
    state_dir: PathBuf,
    maps: Maps,
    feed: Feed,
    services: Services,
    started: Instant,
    history: History,
    /// Drops per banned source at the previous reading.
    drops: HashMap<IpAddr, u64>,
    /// Events received at the previous reading.
    received: u64,
}

impl Collector {
    /// Opens the pins and the event socket, with the one-line errors of `bans` and `events`.
    pub fn open(pin_dir: &Path, run_dir: &Path, state_dir: &Path) -> Result<Collector> {
        let maps = Maps::open(pin_dir)?;
        let feed = Feed::connect(run_dir)?;
        Ok(Collector {
            pin_dir: pin_dir.to_path_buf(),
            run_dir: run_dir.to_path_buf(),
            state_dir: state_dir.to_path_buf(),
            maps,
            feed,
            services: Services::load(),
            started: Instant::now(),
            history: History::default(),
            drops: HashMap::new(),
            received: 0,
        })
    }

    /// Reads everything once more; rates are over the time since the previous reading.
    pub fn sample(&mut self) -> Result<Snapshot> {
        if self.feed.reconnect() {
            // The daemon closed the socket: it dropped this viewer, or a new daemon is there,
            // with maps of its own.
            if let Ok(maps) = Maps::open(&self.pin_dir) {
                self.maps = maps;
            }
        }
        let at = self.started.elapsed();
        self.history.push(Sample {
            at,
            totals: self.maps.totals()?,
        });
        let elapsed = self.history.interval();
        let readings = self.maps.bans()?;
        let banned = banned_sources(readings, &self.drops, elapsed);
        self.drops = banned
            .iter()
            .map(|source| (source.address, source.dropped_packets))
            .collect();
        let status = status_file::read(&self.run_dir);
        // Under the reader's lock only what is quick: the lines are parsed after.
        let (events, latest, ports) = self.feed.with_seen(|seen| {
            (
                EventStream {
                    connected: seen.connected,
                    received: seen.received,
                    per_second: history::rate(self.received, seen.received, elapsed),
                    skipped: seen.skipped,
                    reconnects: seen.reconnects,
                    lost: status.as_ref().map_or(0, |status| status.events_lost),
                },
                seen.latest_lines(),
                probed_ports(&seen.ports, &self.services, RANKED_PORTS),
            )
        });
        let latest = feed::detections(&latest);
        self.received = events.received;
        Ok(Snapshot {
            interval_seconds: elapsed.as_secs_f64(),
            daemon: daemon(status.as_ref()),
            bans: BanCount {
                in_force: banned.len(),
                capacity: self.maps.capacity,
            },
            packets: self.packets(),
            detections: Kind::ALL
                .into_iter()
                .map(|kind| self.activity(kind))
                .collect(),
            banned,
            ports,
            events,
            latest,
        })
    }

    /// Lifts `address`'s ban as `scanguard unban` does: forgiven, removed, the program's
    /// cached verdicts ended, and gone from the saved bans. Returns whether it was banned.
    pub fn unban(&mut self, address: IpAddr) -> Result<bool> {
        let mut offenders = self.maps.pins.offenders()?;
        bans::forgive(&mut offenders, address)?;
        let unbanned = bans::unban(&mut self.maps.bans, address)?;
        if unbanned {
            self.maps.pins.ban_epoch()?.touch()?;
            store::forget(&self.state_dir, Lift::Inside(&[IpNet::from(address)]))?;
        }
        Ok(unbanned)
    }

    fn packets(&self) -> Packets {
        let count = |counters: &[Counter]| {
            let slots = || counters.iter().map(|&counter| counter_slot(counter));
            Rate {
                total: slots().map(|slot| self.history.totals()[slot]).sum(),
                per_second: slots().map(|slot| self.history.rate(slot)).sum(),
            }
        };
        Packets {
            seen: count(&[Counter::Seen]),
            passed: count(&[Counter::Passed]),
            dropped: count(&[Counter::DroppedBanned, Counter::DroppedProbe]),
        }
    }

    fn activity(&self, kind: Kind) -> KindActivity {
        let slot = detection_slot(kind);
        KindActivity {
            kind: kind.name(),
            total: self.history.totals()[slot],
            per_second: self.history.rate(slot),
            last_minute: self.history.increments(slot),
        }
    }
}

fn daemon(status: Option<&DaemonStatus>) -> Daemon {
    Daemon {
        running: status.is_some(),
        pid: status.map(|status| status.pid),
        uptime_seconds: status
            .and_then(|status| uptime(status.pid))
            .map(|up| up.as_secs()),
        interfaces: status
            .map(|status| {
                status
                    .interfaces
                    .iter()
                    .map(|interface| match interface.mode.as_str() {
                        TC_MODE => Hook {
                            interface: interface.name.clone(),
                            hook: "tc",
                            mode: "ingress".into(),
                        },
                        mode => Hook {
                            interface: interface.name.clone(),
                            hook: "xdp",
                            mode: mode.into(),
                        },
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// How long process `pid` has run, on the boot clock the program stamps bans with.
fn uptime(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks_per_second =
        u64::try_from(nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??).ok()?;
    let started_ns = start_ticks(&stat)?.checked_mul(1_000_000_000)? / ticks_per_second.max(1);
    Some(Duration::from_nanos(
        clock::boot_ns().saturating_sub(started_ns),
    ))
}

/// When a process started, in clock ticks after boot: field 22 of /proc/PID/stat (proc(5)).
/// Field 2, the command name, is in parentheses and may hold spaces and parentheses itself,
/// so fields are counted from the last `)`.
fn start_ticks(stat: &str) -> Option<u64> {
    let (_, fields) = stat.rsplit_once(')')?;
    fields.split_whitespace().nth(22 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_field_22_whatever_the_command_name() {
        let stat = "812 (scan (guard) x) S 1 812 812 0 -1 4194560 2500 0 0 0 12 30 0 0 20 0 \
                    9 0 123456 1060864000 3000 18446744073709551615";
        assert_eq!(start_ticks(stat), Some(123_456));
        assert_eq!(start_ticks("812 (scanguard) S 1"), None);
        assert_eq!(start_ticks("garbage"), None);
    }

    #[test]
    fn this_process_has_been_up_for_less_than_the_machine() {
        let up = uptime(std::process::id()).expect("our own /proc entry");
        assert!(up < Duration::from_nanos(clock::boot_ns()));
        assert!(up < Duration::from_secs(24 * 3600), "{up:?}");
    }
}

//! Enforcing and creating bans in the LRU ban map: a banned source's drops are counted on its
//! ban, and a new ban is marked in the ban filter and ends every cached verdict (`standing`).

use aya_ebpf::bindings::BPF_NOEXIST;
use scanguard_common::{
    addr::AddrKey,
    ban::Ban,
    ban_filter::{filter_spot, source_hash},
    config::{BanMode, Config},
    counters::Counter,
    hardening::{Offender, SubnetBans, Suspect, subnet_of},
    kind::Kind,
};

use crate::{
    counters::count,
    map_update::{update, update_global},
    maps::{self, BAN_BUDGET, BAN_FILTER, BANS, OFFENDERS, SUBNET_BANS, SUSPECTS},
    reserve,
};

/// include/uapi/asm-generic/errno-base.h; the bindings do not carry errno values.
const EEXIST: i32 = 17;

/// Returns the ban's reason byte if `src` is banned now, recording the dropped packet and
/// `carried` earlier drops. An expired ban is deleted on the spot (userspace sweeps the ones
/// never seen again).
#[inline(always)]
pub fn enforce(src: &AddrKey, carried: u64, now_ns: u64, mode: BanMode) -> Option<u8> {
    let ban = BANS.get_ptr_mut(src)?;
    // SAFETY: the pointer is a live map value; see `add_drops` for the lost-count race.
    let ban = unsafe { &mut *ban };
    if ban.is_expired(now_ns, mode) {
        if BANS.remove(src).is_ok() {
            count(Counter::BansExpired);
        }
        return None;
    }
    ban.last_seen_ns = now_ns;
    add_drops(ban, 1 + carried);
    Some(ban.reason)
}

/// Adds `drops` counted elsewhere (a CPU's cached verdict) to `src`'s ban, if it has one.
#[inline(always)]
pub fn hand_over(src: &AddrKey, drops: u64) {
    if drops == 0 {
        return;
    }
    if let Some(ban) = BANS.get_ptr_mut(src) {
        // SAFETY: a live map value; see `add_drops` for the lost-count race.
        add_drops(unsafe { &mut *ban }, drops);
    }
}

/// Two CPUs dropping packets of the same source at the same instant may lose one count: the
/// bpfel target offers no atomic fetch_add in stable core, and the counter is informational.
#[inline(always)]
fn add_drops(ban: &mut Ban, drops: u64) {
    ban.dropped_packets += drops;
}

/// What became of a probe whose kind's action is `ban`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Banned,
    /// Dropped, but the source has not sent `min_probes` consistent probes yet.
    Pending,
    /// Dropped, but the global or per-subnet budget of new bans is spent.
    Capped,
}

/// Bans `src` for a probe of `kind`, unless the hardening rules say it is too early or too
/// many bans are being created. `ttl` is read only for a kind that takes several probes.
#[inline(always)]
pub fn ban(
    src: AddrKey,
    ttl: impl FnOnce() -> u8,
    now_ns: u64,
    config: &Config,
    reason: Kind,
) -> Outcome {
    let min_probes = config.min_probes[reason.index()];
    if min_probes > 1 && !enough_probes(&src, ttl(), now_ns, config, min_probes) {
        count(Counter::ProbesPending);
        return Outcome::Pending;
    }
    if !take_ban_budget(now_ns, config) {
        if !reserve::take(&src, now_ns, config) {
            count(Counter::BansCapped);
            return Outcome::Capped;
        }
        count(Counter::BansReserved);
    }
    if config.subnet_bans_per_minute > 0 && !take_subnet_budget(&src, now_ns, config) {
        count(Counter::BansCappedSubnet);
        return Outcome::Capped;
    }
    let (duration_ns, repeat) = ban_length(&src, now_ns, config);
    let mut entry = Ban::detected(now_ns, duration_ns, reason);
    entry.repeat = repeat;
    // NOEXIST keeps the first reason when two CPUs ban the same source at once.
    match BANS.insert(&src, &entry, u64::from(BPF_NOEXIST)) {
        Ok(()) => count(Counter::BansCreated),
        Err(error) if error == -EEXIST => {}
        Err(_) => {
            count(Counter::BanInsertFailed);
            return Outcome::Banned;
        }
    }
    remember_ban(&src, now_ns, config);
    Outcome::Banned
}

/// Records a ban this CPU just created at `now_ns`: marked in the filter, and every cached
/// verdict ended, this CPU's "clear" for the source included.
#[inline(always)]
fn remember_ban(src: &AddrKey, now_ns: u64, config: &Config) {
    let (line, byte) = filter_spot(source_hash(src), config.ban_filter_mask);
    if let Some(line) = BAN_FILTER.get_ptr_mut(line) {
        // SAFETY: a live array value; a byte store is atomic, so no other mark is lost.
        unsafe { (*line)[byte] = 1 };
    }
    maps::set_ban_epoch(now_ns);
}

#[inline(always)]
fn enough_probes(src: &AddrKey, ttl: u8, now_ns: u64, config: &Config, min_probes: u8) -> bool {
    let ttl_check = config.ttl_check != 0;
    update(&SUSPECTS, src, Suspect::new(now_ns, ttl), |suspect| {
        suspect.count(now_ns, ttl, config.ban_ns, min_probes, ttl_check)
    })
}

#[inline(always)]
fn take_ban_budget(now_ns: u64, config: &Config) -> bool {
    update_global(&BAN_BUDGET, |bucket| {
        bucket.admit(now_ns, &config.ban_rate).is_some()
    })
    .unwrap_or(true)
}

#[inline(always)]
fn take_subnet_budget(src: &AddrKey, now_ns: u64, config: &Config) -> bool {
    update(
        &SUBNET_BANS,
        &subnet_of(src),
        SubnetBans::default(),
        |bans| bans.take(now_ns, config.subnet_bans_per_minute),
    )
}

/// The configured length, doubled for repeat offenders; remembers this ban for next time.
#[inline(always)]
fn ban_length(src: &AddrKey, now_ns: u64, config: &Config) -> (u64, u8) {
    if config.repeat_window_ns == 0 {
        return (config.ban_ns, 0);
    }
    let (duration_ns, repeat) = match OFFENDERS.get_ptr(src) {
        // SAFETY: a live map value, only read.
        Some(last) => unsafe { &*last }.next_ban(
            now_ns,
            config.ban_ns,
            config.repeat_window_ns,
            config.max_ban_ns,
        ),
        None => (config.ban_ns, 0),
    };
    let record = Offender {
        banned_at_ns: now_ns,
        duration_ns,
        repeat,
        _pad: [0; 7],
    };
    let _ = OFFENDERS.insert(src, &record, 0);
    (duration_ns, repeat)
}

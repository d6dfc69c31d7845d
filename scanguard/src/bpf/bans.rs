//! Reading and changing the ban map, from the daemon's own handle or from pins.

use std::{
    borrow::{Borrow, BorrowMut},
    net::IpAddr,
    os::fd::AsFd as _,
    time::Duration,
};

use anyhow::Result;
use aya::maps::{HashMap, IterableMap as _, MapData, MapError};
use ipnet::IpNet;
use log::info;
use scanguard_common::{
    addr::AddrKey,
    ban::{Ban, reason_name},
    config::BanMode,
    hardening::Offender,
};

use crate::bpf::{ban_filter::BanFilter, clock, map_batch};

pub type BanMap<T> = HashMap<T, AddrKey, Ban>;

/// Entries per BPF_MAP_LOOKUP_BATCH: a million bans in a hundred calls, 560 KB of buffers.
const BATCH: usize = 10_000;

#[derive(Clone, Debug)]
pub struct BanRecord {
    pub address: IpAddr,
    pub ban: Ban,
}

impl BanRecord {
    pub fn reason(&self) -> &'static str {
        reason_name(self.ban.reason)
    }

    pub fn expires_in(&self, mode: BanMode, now_ns: u64) -> Duration {
        Duration::from_nanos(self.ban.expires_at_ns(mode).saturating_sub(now_ns))
    }
}

/// Bans still in force, most recent first.
pub fn active<T: Borrow<MapData>>(map: &BanMap<T>, mode: BanMode) -> Result<Vec<BanRecord>> {
    let now = clock::boot_ns();
    let mut records: Vec<BanRecord> = entries(map)?
        .into_iter()
        .filter(|(_, ban)| !ban.is_expired(now, mode))
        .map(|(key, ban)| BanRecord {
            address: key.address(),
            ban,
        })
        .collect();
    records.sort_by_key(|record| std::cmp::Reverse(record.ban.banned_at_ns));
    Ok(records)
}

/// Every entry of a map keyed by address: aya's iterator would take two syscalls per entry.
pub fn entries<T: Borrow<MapData>, V: aya::Pod + bytemuck::Pod>(
    map: &HashMap<T, AddrKey, V>,
) -> Result<Vec<(AddrKey, V)>> {
    map_batch::lookup_all(map.map().fd().as_fd(), BATCH)
}

/// Returns whether the address was banned.
pub fn unban<T: BorrowMut<MapData>>(map: &mut BanMap<T>, address: IpAddr) -> Result<bool> {
    remove(map, address)
}

/// Forgets an address's ban history: after a manual unban its next ban is a first offence.
pub fn forgive<T: BorrowMut<MapData>>(
    offenders: &mut HashMap<T, AddrKey, Offender>,
    address: IpAddr,
) -> Result<bool> {
    remove(offenders, address)
}

/// The addresses inside `net` that a map keyed by address has an entry for.
pub fn addresses_in<T: Borrow<MapData>, V: aya::Pod + bytemuck::Pod>(
    map: &HashMap<T, AddrKey, V>,
    net: IpNet,
) -> Result<Vec<IpAddr>> {
    let mut inside = Vec::new();
    for_each_batch(map, |keys, _| {
        inside.extend(
            keys.iter()
                .map(AddrKey::address)
                .filter(|address| net.contains(address)),
        );
        Ok(())
    })?;
    Ok(inside)
}

/// Removes an address's entry from a map keyed by address; returns whether it had one.
fn remove<T: BorrowMut<MapData>, V: aya::Pod>(
    map: &mut HashMap<T, AddrKey, V>,
    address: IpAddr,
) -> Result<bool> {
    match map.remove(&AddrKey::from(address)) {
        Ok(()) => Ok(true),
        Err(MapError::KeyNotFound) => Ok(false),
        Err(MapError::SyscallError(error))
            if error.io_error.raw_os_error() == Some(libc::ENOENT) =>
        {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

/// Removes every entry of a map keyed by address; returns how many there were.
pub fn clear<T: BorrowMut<MapData>, V: aya::Pod + bytemuck::Pod>(
    map: &mut HashMap<T, AddrKey, V>,
) -> Result<usize> {
    let mut removed = 0;
    for (key, _) in entries(map)? {
        if remove(map, key.address())? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Bans `address` by hand, marked in the program's `filter` so its packets look the ban up.
pub fn ban<T: BorrowMut<MapData>>(
    map: &mut BanMap<T>,
    filter: &mut BanFilter,
    address: IpAddr,
    duration: Duration,
) -> Result<()> {
    let duration_ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    let entry = Ban::manual(clock::boot_ns(), duration_ns);
    let key = AddrKey::from(address);
    map.insert(key, entry, 0)?;
    filter.mark(&key)
}

/// Deletes expired bans the program will never see again, and clears the filter bytes of the
/// bans that ended once they are many; returns how many bans were deleted. Reads the map a
/// batch at a time: beside a batch it holds the expired keys and a bit per filter byte,
/// never the whole map, so the daemon's memory does not grow with the capacity.
pub fn sweep<T: BorrowMut<MapData>>(
    map: &mut BanMap<T>,
    filter: &mut BanFilter,
    mode: BanMode,
) -> Result<usize> {
    let now = clock::boot_ns();
    let mut expired = Vec::new();
    let mut needed = filter.needs();
    for_each_batch(map, |keys, bans| {
        for (key, ban) in keys.iter().zip(bans) {
            if ban.is_expired(now, mode) {
                expired.push(*key);
            } else {
                needed.add(key);
            }
        }
        Ok(())
    })?;
    for key in &expired {
        unban(map, key.address())?;
    }
    let cleared = filter.clear_stale(&needed);
    if cleared > 0 {
        mark_every_ban(map, filter)?;
        info!("ban filter: cleared {cleared} marks that no ban in force needs");
    }
    Ok(expired.len())
}

/// Marks every ban in the map in `filter`, a batch at a time.
pub fn mark_every_ban<T: Borrow<MapData>>(map: &BanMap<T>, filter: &mut BanFilter) -> Result<()> {
    for_each_batch(map, |keys, _| filter.mark_all(keys))
}

/// Hands the entries of a map keyed by address to `visit` a batch at a time.
pub fn for_each_batch<T: Borrow<MapData>, V: aya::Pod + bytemuck::Pod>(
    map: &HashMap<T, AddrKey, V>,
    visit: impl FnMut(&[AddrKey], &[V]) -> Result<()>,
) -> Result<()> {
    map_batch::for_each_chunk(map.map().fd().as_fd(), BATCH, visit)
}

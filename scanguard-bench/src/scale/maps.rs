//! The ban map from userspace: batched filling, lookups, and what the kernel charges for the
//! maps.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr},
    os::fd::{AsFd as _, BorrowedFd},
};

use anyhow::{Context as _, Result, bail};
use aya::{
    Ebpf,
    maps::{Map, MapData, MapInfo},
};
use scanguard::bpf::{ban_filter::BanFilter, clock::boot_ns, map_batch, program};
use scanguard_common::{
    addr::AddrKey,
    ban::{BANS_MAP, Ban},
    config::NANOS_PER_SECOND,
};
use serde::Serialize;

use crate::interrupt;

#[derive(Clone, Debug, Serialize)]
pub struct MapMemory {
    pub name: String,
    pub map_type: String,
    pub max_entries: u64,
    /// `memlock` in the map's fdinfo: what the kernel charges for it.
    pub bytes: u64,
}

pub type BanMap<'a> = aya::maps::HashMap<&'a MapData, AddrKey, Ban>;

/// The n-th filler source: 100.64.0.0/10 (RFC 6598) holds four million.
pub fn filler(n: u32) -> IpAddr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + n).into()
}

pub fn is_banned(map: &Map, n: u32) -> bool {
    BanMap::try_from(map).is_ok_and(|bans| bans.get(&AddrKey::from(filler(n)), 0).is_ok())
}

/// The data of a hash or LRU hash map, for raw syscalls on its descriptor.
pub fn hash_map_data(map: &Map) -> Result<&MapData> {
    match map {
        Map::LruHashMap(data) | Map::HashMap(data) => Ok(data),
        _ => bail!("not a hash map"),
    }
}

/// Bans the filler sources `range` in batches, as manual one-hour bans.
pub fn fill(ebpf: &mut Ebpf, range: std::ops::Range<u32>) -> Result<u64> {
    let map = hash_map_data(ebpf.map(BANS_MAP).context("no BANS map")?)?;
    let mut filter = program::ban_filter(ebpf)?;
    let ban = Ban::manual(boot_ns(), 3600 * NANOS_PER_SECOND);
    fill_with(map.fd().as_fd(), &mut filter, range, |_| ban)
}

/// Bans the filler sources `range` in batches, source `n` with `ban(n)`, each marked in the
/// program's `filter` as `scanguard ban` marks it.
pub fn fill_with(
    map: BorrowedFd<'_>,
    filter: &mut BanFilter,
    range: std::ops::Range<u32>,
    ban: impl Fn(u32) -> Ban,
) -> Result<u64> {
    const BATCH: u32 = 50_000;
    let mut inserted = 0u64;
    let mut next = range.start;
    while next < range.end {
        interrupt::check()?;
        let end = range.end.min(next + BATCH);
        let keys: Vec<AddrKey> = (next..end).map(|n| AddrKey::from(filler(n))).collect();
        let values: Vec<Ban> = (next..end).map(&ban).collect();
        inserted += u64::from(map_batch::update(map, &keys, &values)?);
        // As `scanguard ban` does: marked, so the program looks them up.
        filter.mark_all(&keys)?;
        next = end;
    }
    Ok(inserted)
}

/// Every BPF map this process holds a descriptor of, by id, from /proc/self/fdinfo.
pub fn open_maps() -> Result<BTreeMap<u32, MapMemory>> {
    let mut maps = BTreeMap::new();
    for entry in std::fs::read_dir("/proc/self/fdinfo").context("read /proc/self/fdinfo")? {
        let Ok(info) = std::fs::read_to_string(entry?.path()) else {
            continue;
        };
        let field = |name: &str| {
            info.lines()
                .find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok())
        };
        let (Some(id), Some(map_type), Some(bytes)) =
            (field("map_id:"), field("map_type:"), field("memlock:"))
        else {
            continue;
        };
        let id = u32::try_from(id)?;
        let name = MapInfo::from_id(id)
            .ok()
            .and_then(|info| info.name_as_str().map(str::to_string))
            .unwrap_or_default();
        maps.insert(
            id,
            MapMemory {
                name,
                map_type: map_type_name(map_type),
                max_entries: field("max_entries:").unwrap_or(0),
                bytes,
            },
        );
    }
    Ok(maps)
}

/// include/uapi/linux/bpf.h, `enum bpf_map_type`, for the types scanguard uses.
fn map_type_name(map_type: u64) -> String {
    match map_type {
        1 => "hash".into(),
        2 => "array".into(),
        4 => "perf_event_array".into(),
        6 => "percpu_array".into(),
        9 => "lru_hash".into(),
        11 => "lpm_trie".into(),
        27 => "ringbuf".into(),
        other => format!("type {other}"),
    }
}

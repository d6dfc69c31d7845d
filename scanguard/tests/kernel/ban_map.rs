//! The ban map read in batches (BPF_MAP_LOOKUP_BATCH) against the kernel's LRU hash: every
//! entry whatever the chunk, and `bans`, `sweep` (with the ban filter's clearing) and
//! `unban --all` on top. Needs root.

use std::{
    collections::BTreeSet,
    net::{IpAddr, Ipv4Addr},
    os::fd::AsFd as _,
};

use aya::maps::{Array, HashMap, IterableMap as _, MapData};
use scanguard::{
    bpf::{ban_filter::BanFilter, bans, clock::boot_ns, map_batch, program},
    config::settings::Settings,
};
use scanguard_common::{
    addr::AddrKey,
    ban::{BANS_MAP, Ban},
    ban_filter::{BAN_FILTER_MAP, FilterLine, filter_spot, source_hash},
    config::{BanMode, NANOS_PER_SECOND},
};

use crate::support::lab::require_root;

const BANS: u32 = 3_000;

fn source(n: u32) -> IpAddr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + n).into()
}

/// A ban from `n` seconds ago, for one minute.
fn ban(seconds_ago: u64) -> Ban {
    let start = boot_ns().saturating_sub(seconds_ago * NANOS_PER_SECOND);
    Ban::manual(start, 60 * NANOS_PER_SECOND)
}

/// A loaded program whose ban map holds `BANS` bans: the even sources expired, the odd ones not.
fn loaded() -> aya::Ebpf {
    require_root();
    let settings = Settings {
        capacity: 2 * BANS,
        ..Settings::default()
    };
    let mut ebpf = program::load(&settings, None).expect("loading scanguard");
    let mut map: bans::BanMap<_> = HashMap::try_from(ebpf.map_mut(BANS_MAP).unwrap()).unwrap();
    for n in 0..BANS {
        let age = if n % 2 == 0 { 120 } else { 0 };
        map.insert(AddrKey::from(source(n)), ban(age), 0).unwrap();
    }
    ebpf
}

#[test]
fn batches_read_what_the_iterator_reads_whatever_the_chunk() {
    let ebpf = loaded();
    let map: bans::BanMap<&MapData> = HashMap::try_from(ebpf.map(BANS_MAP).unwrap()).unwrap();
    let iterated: BTreeSet<AddrKey> = map.keys().map(Result::unwrap).collect();
    assert!(
        iterated.len() > BANS as usize / 2,
        "{} bans",
        iterated.len()
    );
    // A chunk of one meets buckets of two and more (ENOSPC) and has to grow.
    for chunk in [1, 7, 10_000] {
        let batched = map_batch::lookup_all::<AddrKey, Ban>(map.map().fd().as_fd(), chunk)
            .unwrap_or_else(|error| panic!("chunk {chunk}: {error:#}"));
        let keys: BTreeSet<AddrKey> = batched.iter().map(|(key, _)| *key).collect();
        assert_eq!(keys.len(), batched.len(), "chunk {chunk}: duplicates");
        assert_eq!(keys, iterated, "chunk {chunk}");
    }
}

#[test]
fn sweep_deletes_the_expired_bans_and_clear_the_rest() {
    let mut ebpf = loaded();
    let mut filter = program::ban_filter(&ebpf).unwrap();
    let mut map: bans::BanMap<_> = HashMap::try_from(ebpf.map_mut(BANS_MAP).unwrap()).unwrap();
    let count = |map: &bans::BanMap<_>| map.keys().count();
    let total = count(&map);
    let active = bans::active(&map, BanMode::Fixed).unwrap();
    assert!(
        active
            .windows(2)
            .all(|pair| pair[0].ban.banned_at_ns >= pair[1].ban.banned_at_ns),
        "most recent first"
    );
    let swept = bans::sweep(&mut map, &mut filter, BanMode::Fixed).unwrap();
    assert_eq!(swept + active.len(), total);
    assert_eq!(count(&map), active.len());
    assert_eq!(bans::clear(&mut map).unwrap(), active.len());
    assert_eq!(count(&map), 0);
}

/// A loaded program with `expired` bans that ended and `live` in force, all marked in its ban
/// filter as the program and `scanguard ban` mark them.
fn marked(expired: u32, live: u32) -> (aya::Ebpf, BanFilter, Vec<AddrKey>) {
    require_root();
    let settings = Settings {
        capacity: 2 * (expired + live),
        ..Settings::default()
    };
    let mut ebpf = program::load(&settings, None).expect("loading scanguard");
    let mut filter = program::ban_filter(&ebpf).expect("the ban filter");
    let mut map: bans::BanMap<_> = HashMap::try_from(ebpf.map_mut(BANS_MAP).unwrap()).unwrap();
    let mut live_keys = Vec::new();
    for n in 0..expired + live {
        let key = AddrKey::from(source(n));
        let age = if n < expired { 120 } else { 0 };
        map.insert(key, ban(age), 0).unwrap();
        filter.mark(&key).unwrap();
        if n >= expired {
            live_keys.push(key);
        }
    }
    (ebpf, filter, live_keys)
}

/// The filter bytes `keys` fall on.
fn spots(filter: &BanFilter, keys: &[AddrKey]) -> BTreeSet<(u32, usize)> {
    keys.iter()
        .map(|key| filter_spot(source_hash(key), filter.mask()))
        .collect()
}

/// The filter bytes set, as the program reads them from its map.
fn set_bytes(ebpf: &aya::Ebpf) -> BTreeSet<(u32, usize)> {
    let lines: Array<_, FilterLine> = Array::try_from(ebpf.map(BAN_FILTER_MAP).unwrap()).unwrap();
    let mut set = BTreeSet::new();
    for (line, bytes) in lines.iter().enumerate() {
        let line = u32::try_from(line).unwrap();
        set.extend(
            (bytes.unwrap().iter().enumerate())
                .filter(|(_, byte)| **byte != 0)
                .map(|(byte, _)| (line, byte)),
        );
    }
    set
}

#[test]
fn sweep_clears_the_marks_of_ended_bans_once_they_are_many() {
    // 2,800 ended bans leave more stale bytes than 1/32 of the 65,536-byte filter.
    let (mut ebpf, mut filter, live) = marked(2_800, 200);
    let mut map: bans::BanMap<_> = HashMap::try_from(ebpf.take_map(BANS_MAP).unwrap()).unwrap();
    let before = set_bytes(&ebpf).len();
    assert!(before > 2_700, "{before} marked");
    assert_eq!(
        bans::sweep(&mut map, &mut filter, BanMode::Fixed).unwrap(),
        2_800
    );
    assert_eq!(set_bytes(&ebpf), spots(&filter, &live));

    // A few more ended bans are not worth a pass over the filter: their marks stay.
    let few: Vec<AddrKey> = (10_000..10_100).map(|n| AddrKey::from(source(n))).collect();
    for key in &few {
        map.insert(*key, ban(120), 0).unwrap();
    }
    filter.mark_all(&few).unwrap();
    let before = set_bytes(&ebpf);
    assert_eq!(
        bans::sweep(&mut map, &mut filter, BanMode::Fixed).unwrap(),
        100
    );
    assert_eq!(set_bytes(&ebpf), before);
}

#[test]
fn a_ban_made_while_the_filter_is_cleared_is_marked_again() {
    let (mut ebpf, mut filter, live) = marked(2_800, 200);
    let mut map: bans::BanMap<_> = HashMap::try_from(ebpf.take_map(BANS_MAP).unwrap()).unwrap();
    // What a sweep found in force, the ended bans then deleted.
    let mut needed = filter.needs();
    for key in &live {
        needed.add(key);
    }
    for n in 0..2_800 {
        map.remove(&AddrKey::from(source(n))).unwrap();
    }
    // Banned after the sweep read the map: marked, but not among the bans the sweep knows.
    let newcomer = AddrKey::from(source(20_000));
    map.insert(newcomer, ban(0), 0).unwrap();
    filter.mark(&newcomer).unwrap();
    let cleared = filter.clear_stale(&needed);
    assert!(cleared > 2_048, "{cleared} cleared");
    bans::mark_every_ban(&map, &mut filter).unwrap();
    assert_eq!(
        set_bytes(&ebpf),
        spots(&filter, &[&live[..], &[newcomer]].concat())
    );
}

//! The ban map read in batches (BPF_MAP_LOOKUP_BATCH) against the kernel's LRU hash: every
//! entry whatever the chunk, and `bans`, `sweep` and `unban --all` on top. Needs root.

mod lab;

use std::{
    collections::BTreeSet,
    net::{IpAddr, Ipv4Addr},
    os::fd::AsFd as _,
};

use aya::maps::{HashMap, IterableMap as _, MapData};
use lab::require_root;
use scanguard::{bans, clock::boot_ns, map_batch, program, settings::Settings};
use scanguard_common::{
    ban::{AddrKey, BANS_MAP, Ban, ORIGIN_MANUAL},
    config::{BanMode, NANOS_PER_SECOND},
    kind::Kind,
};

const BANS: u32 = 3_000;

fn source(n: u32) -> IpAddr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + n).into()
}

/// A ban from `n` seconds ago, for one minute.
fn ban(seconds_ago: u64) -> Ban {
    let start = boot_ns().saturating_sub(seconds_ago * NANOS_PER_SECOND);
    Ban::new(start, 60 * NANOS_PER_SECOND, Kind::NullScan, ORIGIN_MANUAL)
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
    let swept = bans::sweep(&mut map, BanMode::Fixed).unwrap();
    assert_eq!(swept + active.len(), total);
    assert_eq!(count(&map), active.len());
    assert_eq!(bans::clear(&mut map).unwrap(), active.len());
    assert_eq!(count(&map), 0);
}

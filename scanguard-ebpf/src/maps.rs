//! The program's maps. Names are the `*_MAP` constants of scanguard-common, which the loader
//! uses to find, size, fill and pin them.

use aya_ebpf::{
    macros::map,
    maps::{Array, LpmTrie, LruHashMap, PerCpuArray, lpm_trie::Key},
};
use scanguard_common::{
    allow::ALLOW_CAPACITY,
    ban::{AddrKey, Ban, DEFAULT_BAN_CAPACITY},
    config::Config,
    counters::Counters,
    ports::PORT_COUNT,
};

#[map]
pub static CONFIG: Array<Config> = Array::with_max_entries(1, 0);

/// `ROLE_*` bits per destination port.
#[map]
pub static PORT_ROLES: Array<u8> = Array::with_max_entries(PORT_COUNT, 0);

/// Sources that are never banned nor dropped, IPv4 as IPv4-mapped prefixes (/96 + len).
#[map]
pub static ALLOW: LpmTrie<AddrKey, u8> = LpmTrie::with_max_entries(ALLOW_CAPACITY, 0);

/// Resized by the loader to the configured capacity.
#[map]
pub static BANS: LruHashMap<AddrKey, Ban> = LruHashMap::with_max_entries(DEFAULT_BAN_CAPACITY, 0);

#[map]
pub static COUNTERS: PerCpuArray<Counters> = PerCpuArray::with_max_entries(1, 0);

#[inline(always)]
pub fn port_roles(port: u16) -> u8 {
    PORT_ROLES.get(u32::from(port)).copied().unwrap_or(0)
}

/// The allow-list value of a source (`ALLOW_LISTED` or `ALLOW_LOCKOUT`), if it has one.
#[inline(always)]
pub fn allowance(addr: &AddrKey) -> Option<u8> {
    ALLOW.get(Key::new(128, *addr)).copied()
}

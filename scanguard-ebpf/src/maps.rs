//! The program's maps and global variables. Names are the `*_MAP` and `*_SECTION` constants of
//! scanguard-common, which the loader uses to find, size, fill and pin them.

use aya_ebpf::{
    macros::map,
    maps::{LpmTrie, LruHashMap, PerCpuArray, lpm_trie::Key},
};
use scanguard_common::{
    addr::AddrKey,
    allow::ALLOW_CAPACITY,
    ban::{Ban, DEFAULT_BAN_CAPACITY},
    config::Config,
    counters::Counters,
    ports::{PORT_COUNT, PortRoles},
};

// The config and the port roles are global variables, each in a section aya makes a one-entry
// array map of: the program reads them with a load, where a map costs a lookup per packet, and
// LLVM keeps no pointer to them in the few registers a helper call leaves. Never written by the
// program; the loader stores them before attaching. Exported, so LLVM cannot take their zero
// initial values for constants.

/// In `CONFIG_SECTION`.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".bss.config")]
static mut CONFIG: Config = Config::OFF;

/// `ROLE_*` bits per destination port, in `PORT_ROLES_SECTION`.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".bss.port_roles")]
static mut PORT_ROLES: PortRoles = [0; PORT_COUNT as usize];

/// Sources that are never banned nor dropped, IPv4 as IPv4-mapped prefixes (/96 + len).
#[map]
pub static ALLOW: LpmTrie<AddrKey, u8> = LpmTrie::with_max_entries(ALLOW_CAPACITY, 0);

/// Resized by the loader to the configured capacity.
#[map]
pub static BANS: LruHashMap<AddrKey, Ban> = LruHashMap::with_max_entries(DEFAULT_BAN_CAPACITY, 0);

#[map]
pub static COUNTERS: PerCpuArray<Counters> = PerCpuArray::with_max_entries(1, 0);

#[inline(always)]
pub fn config() -> &'static Config {
    // SAFETY: only the loader writes it, through the map's syscalls.
    unsafe { &*(&raw const CONFIG) }
}

#[inline(always)]
pub fn port_roles(port: u16) -> u8 {
    // SAFETY: as for the config; a u16 indexes within the 65,536 ports.
    unsafe { (*(&raw const PORT_ROLES))[usize::from(port)] }
}

/// The allow-list value of a source (`ALLOW_LISTED` or `ALLOW_LOCKOUT`), if it has one.
#[inline(always)]
pub fn allowance(addr: &AddrKey) -> Option<u8> {
    ALLOW.get(Key::new(128, *addr)).copied()
}

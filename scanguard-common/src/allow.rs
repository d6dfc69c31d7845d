//! The allow-list: sources that are never banned nor dropped.

pub const ALLOW_MAP: &str = "ALLOW";
pub const ALLOW_CAPACITY: u32 = 1024;

/// Prefix length of an IPv4 prefix in the IPv4-mapped key space of the allow-list trie.
pub const fn ipv4_mapped_prefix_len(ipv4_prefix_len: u8) -> u32 {
    96 + ipv4_prefix_len as u32
}

/// Allow-list values: what the kernel does for a source it would otherwise ban or drop.
/// Never banned nor dropped, silently: the operator's own allow-list.
pub const ALLOW_LISTED: u8 = 1;
/// Never banned, but reported as "would have banned": lock-out protection for the gateway, the
/// host's own addresses and the SSH client that started scanguard.
pub const ALLOW_LOCKOUT: u8 = 2;

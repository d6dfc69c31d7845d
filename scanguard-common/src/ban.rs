//! The ban map: who is banned, why, since when, and how much of their traffic was dropped.

use core::net::{IpAddr, Ipv6Addr};

use crate::{config::BanMode, kind::Kind, wire_struct};

pub const BANS_MAP: &str = "BANS";
/// Enough for a busy Internet-facing host; `capacity` in the config file changes it.
pub const DEFAULT_BAN_CAPACITY: u32 = 65_536;

/// Ban-map key: the source address as 16 bytes, IPv4 in its IPv4-mapped IPv6 form
/// (`::ffff:a.b.c.d`, RFC 4291 section 2.5.5.2), so one map and one lookup serve both families.
/// Held as two words in memory order: the XDP program copies and compares a key in two loads,
/// where a byte array costs it sixteen. The program passes keys by value: a reference into a
/// parsed frame, handed on to a map helper, kept the whole frame in stack memory (LLVM keeps
/// any struct whose address escapes there), which cost a benign packet 6 ns.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddrKey([u64; 2]);
wire_struct!(AddrKey, 16);

impl AddrKey {
    #[inline(always)]
    pub const fn from_words(words: [u64; 2]) -> AddrKey {
        AddrKey(words)
    }

    /// The key of an IPv4 address given in network byte order.
    #[inline(always)]
    pub const fn ipv4([a, b, c, d]: [u8; 4]) -> AddrKey {
        AddrKey([0, u64::from_ne_bytes([0, 0, 0xff, 0xff, a, b, c, d])])
    }

    #[inline(always)]
    pub const fn from_octets(octets: [u8; 16]) -> AddrKey {
        let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p] = octets;
        AddrKey([
            u64::from_ne_bytes([a, b, c, d, e, f, g, h]),
            u64::from_ne_bytes([i, j, k, l, m, n, o, p]),
        ])
    }

    #[inline(always)]
    pub const fn words(&self) -> [u64; 2] {
        self.0
    }

    #[inline(always)]
    pub const fn octets(&self) -> [u8; 16] {
        let [a, b, c, d, e, f, g, h] = self.0[0].to_ne_bytes();
        let [i, j, k, l, m, n, o, p] = self.0[1].to_ne_bytes();
        [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p]
    }

    #[inline(always)]
    pub const fn is_ipv4(&self) -> bool {
        self.0[0] == 0 && self.0[1] as u32 == u32::from_ne_bytes([0, 0, 0xff, 0xff])
    }

    /// The address, IPv4 for a mapped key.
    pub fn address(&self) -> IpAddr {
        Ipv6Addr::from(self.octets()).to_canonical()
    }
}

impl From<IpAddr> for AddrKey {
    fn from(address: IpAddr) -> AddrKey {
        match address {
            IpAddr::V4(v4) => AddrKey::ipv4(v4.octets()),
            IpAddr::V6(v6) => AddrKey::from_octets(v6.octets()),
        }
    }
}

/// Where a ban came from.
pub const ORIGIN_DETECTED: u8 = 0;
pub const ORIGIN_MANUAL: u8 = 1;

/// The reason of a ban made by hand (`scanguard ban`): a byte no `Kind` has.
pub const REASON_MANUAL: u8 = u8::MAX;

/// What `bans` and the event lines call a ban's reason.
pub fn reason_name(reason: u8) -> &'static str {
    match Kind::from_u8(reason) {
        Some(kind) => kind.name(),
        None if reason == REASON_MANUAL => "manual",
        None => "unknown",
    }
}

/// Ban-map value. Times are `bpf_ktime_get_boot_ns` (CLOCK_BOOTTIME) so a suspended laptop
/// does not stretch its bans.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ban {
    pub banned_at_ns: u64,
    /// The last packet dropped because of this ban (or the ban itself).
    pub last_seen_ns: u64,
    /// How long the ban lasts from its start (fixed) or from `last_seen_ns` (sliding).
    pub duration_ns: u64,
    pub dropped_packets: u64,
    /// The `Kind` that caused the ban, the first one seen, or `REASON_MANUAL`.
    pub reason: u8,
    /// `ORIGIN_DETECTED` or `ORIGIN_MANUAL`.
    pub origin: u8,
    /// How many times in a row this source was banned again soon after its last ban (0: first).
    pub repeat: u8,
    pub _pad: [u8; 5],
}
wire_struct!(Ban, 40);

impl Ban {
    /// A ban the program made for a probe of `kind`.
    pub const fn detected(now_ns: u64, duration_ns: u64, kind: Kind) -> Ban {
        Ban::new(now_ns, duration_ns, kind as u8, ORIGIN_DETECTED)
    }

    /// A ban made by hand.
    pub const fn manual(now_ns: u64, duration_ns: u64) -> Ban {
        Ban::new(now_ns, duration_ns, REASON_MANUAL, ORIGIN_MANUAL)
    }

    const fn new(now_ns: u64, duration_ns: u64, reason: u8, origin: u8) -> Ban {
        Ban {
            banned_at_ns: now_ns,
            last_seen_ns: now_ns,
            duration_ns,
            dropped_packets: 0,
            reason,
            origin,
            repeat: 0,
            _pad: [0; 5],
        }
    }

    #[inline(always)]
    pub const fn expires_at_ns(&self, mode: BanMode) -> u64 {
        let start = match mode {
            BanMode::Fixed => self.banned_at_ns,
            BanMode::Sliding => self.last_seen_ns,
        };
        start.saturating_add(self.duration_ns)
    }

    #[inline(always)]
    pub const fn is_expired(&self, now_ns: u64, mode: BanMode) -> bool {
        now_ns >= self.expires_at_ns(mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_keys_are_ipv4_mapped() {
        let address = core::net::Ipv4Addr::new(192, 0, 2, 7);
        let key = AddrKey::ipv4(address.octets());
        assert_eq!(key.octets(), address.to_ipv6_mapped().octets());
        assert!(key.is_ipv4());
        assert_eq!(key.address(), IpAddr::V4(address));
        assert_eq!(AddrKey::from(IpAddr::V4(address)), key);
    }

    #[test]
    fn ipv6_keys_are_the_address_octets() {
        let address: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let key = AddrKey::from(IpAddr::V6(address));
        assert_eq!(key.octets(), address.octets());
        assert_eq!(AddrKey::from_octets(address.octets()), key);
        assert!(!key.is_ipv4());
        assert_eq!(key.address(), IpAddr::V6(address));
    }

    #[test]
    fn fixed_bans_expire_from_their_start_and_sliding_from_the_last_drop() {
        let mut ban = Ban::detected(100, 50, Kind::NullScan);
        ban.last_seen_ns = 140;
        assert!(!ban.is_expired(149, BanMode::Fixed));
        assert!(ban.is_expired(150, BanMode::Fixed));
        assert!(!ban.is_expired(189, BanMode::Sliding));
        assert!(ban.is_expired(190, BanMode::Sliding));
    }

    #[test]
    fn an_endless_ban_does_not_wrap() {
        let ban = Ban::manual(u64::MAX - 1, u64::MAX);
        assert!(!ban.is_expired(u64::MAX - 1, BanMode::Fixed));
    }

    #[test]
    fn reasons_are_named_by_kind_and_manual_bans_by_their_own_byte() {
        assert!(Kind::from_u8(REASON_MANUAL).is_none());
        assert_eq!(reason_name(REASON_MANUAL), "manual");
        assert_eq!(reason_name(Ban::manual(0, 1).reason), "manual");
        for kind in Kind::ALL {
            assert_eq!(reason_name(Ban::detected(0, 1, kind).reason), kind.name());
        }
        assert_eq!(reason_name(200), "unknown");
    }
}

//! The ban map: who is banned, why, since when, and how much of their traffic was dropped.

use crate::{config::BanMode, kind::Kind, wire_struct};

pub const BANS_MAP: &str = "BANS";
/// Enough for a busy Internet-facing host; `capacity` in the config file changes it.
pub const DEFAULT_BAN_CAPACITY: u32 = 65_536;

/// Ban-map key: the source address as 16 bytes, IPv4 in its IPv4-mapped IPv6 form
/// (`::ffff:a.b.c.d`, RFC 4291 section 2.5.5.2), so one map and one lookup serve both families.
pub type AddrKey = [u8; 16];

/// Maps an IPv4 address (network order bytes) into the ban-map key space.
#[inline(always)]
pub const fn ipv4_key(addr: [u8; 4]) -> AddrKey {
    let mut key = [0u8; 16];
    key[10] = 0xff;
    key[11] = 0xff;
    key[12] = addr[0];
    key[13] = addr[1];
    key[14] = addr[2];
    key[15] = addr[3];
    key
}

/// Where a ban came from.
pub const ORIGIN_DETECTED: u8 = 0;
pub const ORIGIN_MANUAL: u8 = 1;

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
    /// The `Kind` that caused the ban, the first one seen.
    pub reason: u8,
    /// `ORIGIN_DETECTED` or `ORIGIN_MANUAL`.
    pub origin: u8,
    /// How many times in a row this source was banned again soon after its last ban (0: first).
    pub repeat: u8,
    pub _pad: [u8; 5],
}
wire_struct!(Ban, 40);

impl Ban {
    pub const fn new(now_ns: u64, duration_ns: u64, reason: Kind, origin: u8) -> Ban {
        Ban {
            banned_at_ns: now_ns,
            last_seen_ns: now_ns,
            duration_ns,
            dropped_packets: 0,
            reason: reason as u8,
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
        let key = ipv4_key([192, 0, 2, 7]);
        assert_eq!(
            key,
            core::net::Ipv4Addr::new(192, 0, 2, 7)
                .to_ipv6_mapped()
                .octets()
        );
    }

    #[test]
    fn fixed_bans_expire_from_their_start_and_sliding_from_the_last_drop() {
        let mut ban = Ban::new(100, 50, Kind::NullScan, ORIGIN_DETECTED);
        ban.last_seen_ns = 140;
        assert!(!ban.is_expired(149, BanMode::Fixed));
        assert!(ban.is_expired(150, BanMode::Fixed));
        assert!(!ban.is_expired(189, BanMode::Sliding));
        assert!(ban.is_expired(190, BanMode::Sliding));
    }

    #[test]
    fn an_endless_ban_does_not_wrap() {
        let ban = Ban::new(u64::MAX - 1, u64::MAX, Kind::FinScan, ORIGIN_MANUAL);
        assert!(!ban.is_expired(u64::MAX - 1, BanMode::Fixed));
    }
}

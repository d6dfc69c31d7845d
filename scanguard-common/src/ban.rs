//! The ban map: who is banned, why, since when, and how much of their traffic was dropped.

use crate::{config::BanMode, kind::Kind, wire_struct};

pub const BANS_MAP: &str = "BANS";
/// Enough for a busy Internet-facing host; `capacity` in the config file changes it.
pub const DEFAULT_BAN_CAPACITY: u32 = 65_536;

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

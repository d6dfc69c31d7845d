//! What keeps scanguard from being turned against its owner: a ban needs enough probes with a
//! consistent TTL, new bans per network are capped, and repeat offenders stay out longer.

use crate::{addr::AddrKey, wire_struct};

pub const OFFENDERS_MAP: &str = "OFFENDERS";
pub const HARDENING_CAPACITY: u32 = 65_536;
/// Repeats counted before the ban length stops doubling (2^16 times the base).
const MAX_DOUBLINGS: u8 = 16;

/// A source's probes towards `min_probes`, within one ban length of its first.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Suspect {
    pub first_ns: u64,
    pub probes: u32,
    /// The TTL of the first probe; later probes must match it when the TTL check is on.
    pub ttl: u8,
    pub _pad: [u8; 3],
}
wire_struct!(Suspect, 16);

impl Suspect {
    pub const fn new(now_ns: u64, ttl: u8) -> Suspect {
        Suspect {
            first_ns: now_ns,
            probes: 0,
            ttl,
            _pad: [0; 3],
        }
    }

    /// Counts a probe; returns whether the source has now sent `min_probes` of them.
    #[inline(always)]
    pub fn count(
        &mut self,
        now_ns: u64,
        ttl: u8,
        window_ns: u64,
        min_probes: u8,
        ttl_check: bool,
    ) -> bool {
        if now_ns.saturating_sub(self.first_ns) >= window_ns {
            *self = Suspect::new(now_ns, ttl);
        }
        // A probe with a different TTL came from elsewhere (a spoofed decoy): it does not count.
        if !ttl_check || ttl == self.ttl {
            self.probes += 1;
        }
        self.probes >= min_probes as u32
    }
}

/// The /24 (IPv4, in its mapped form) or /64 (IPv6) an address belongs to.
#[inline(always)]
pub fn subnet_of(addr: &AddrKey) -> AddrKey {
    let mut octets = addr.octets();
    if addr.is_ipv4() {
        octets[15] = 0;
    } else {
        let mut i = 8;
        while i < 16 {
            octets[i] = 0;
            i += 1;
        }
    }
    AddrKey::from_octets(octets)
}

/// New bans in one subnet in the current minute.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubnetBans {
    pub window_start_ns: u64,
    pub bans: u32,
    pub _pad: u32,
}
wire_struct!(SubnetBans, 16);

pub const MINUTE_NS: u64 = 60_000_000_000;

impl SubnetBans {
    /// Takes one ban from this minute's allowance; false when it is spent.
    #[inline(always)]
    pub fn take(&mut self, now_ns: u64, per_minute: u32) -> bool {
        if now_ns.saturating_sub(self.window_start_ns) >= MINUTE_NS {
            *self = SubnetBans {
                window_start_ns: now_ns,
                ..SubnetBans::default()
            };
        }
        if self.bans >= per_minute {
            return false;
        }
        self.bans += 1;
        true
    }
}

/// A source's last ban, to recognise a repeat offender.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offender {
    pub banned_at_ns: u64,
    pub duration_ns: u64,
    pub repeat: u8,
    pub _pad: [u8; 7],
}
wire_struct!(Offender, 24);

impl Offender {
    /// The length and repeat count of a new ban for a source last banned as `self` describes:
    /// doubled for each ban that started within `repeat_window_ns` of the previous one's end.
    #[inline(always)]
    pub fn next_ban(
        &self,
        now_ns: u64,
        base_ns: u64,
        repeat_window_ns: u64,
        max_ns: u64,
    ) -> (u64, u8) {
        let previous_end = self.banned_at_ns.saturating_add(self.duration_ns);
        if now_ns > previous_end.saturating_add(repeat_window_ns) {
            return (base_ns, 0);
        }
        let repeat = if self.repeat < MAX_DOUBLINGS {
            self.repeat + 1
        } else {
            MAX_DOUBLINGS
        };
        let doubled = base_ns.checked_shl(repeat as u32).unwrap_or(u64::MAX);
        let doubled = if doubled >> repeat == base_ns {
            doubled
        } else {
            u64::MAX
        };
        (if doubled < max_ns { doubled } else { max_ns }, repeat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn min_probes_counts_only_consistent_ttls() {
        let mut suspect = Suspect::new(0, 48);
        assert!(!suspect.count(1, 48, 60 * SECOND, 3, true));
        // Decoys from elsewhere carry other TTLs.
        assert!(!suspect.count(2, 63, 60 * SECOND, 3, true));
        assert!(!suspect.count(3, 64, 60 * SECOND, 3, true));
        assert!(!suspect.count(4, 48, 60 * SECOND, 3, true));
        assert!(suspect.count(5, 48, 60 * SECOND, 3, true));
        // Without the check every probe counts.
        let mut suspect = Suspect::new(0, 48);
        assert!(!suspect.count(1, 48, 60 * SECOND, 2, false));
        assert!(suspect.count(2, 63, 60 * SECOND, 2, false));
    }

    #[test]
    fn min_probes_restart_after_the_window() {
        let mut suspect = Suspect::new(0, 48);
        assert!(!suspect.count(1, 48, 10 * SECOND, 2, true));
        assert!(!suspect.count(11 * SECOND, 48, 10 * SECOND, 2, true));
        assert!(suspect.count(12 * SECOND, 48, 10 * SECOND, 2, true));
    }

    #[test]
    fn subnets_are_slash_24_and_slash_64() {
        assert_eq!(
            subnet_of(&AddrKey::ipv4([192, 0, 2, 77])),
            AddrKey::ipv4([192, 0, 2, 0])
        );
        let v6 = AddrKey::from_octets(
            core::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6).octets(),
        );
        let expected = AddrKey::from_octets(
            core::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, 0).octets(),
        );
        assert_eq!(subnet_of(&v6), expected);
    }

    #[test]
    fn subnet_bans_are_capped_per_minute() {
        let mut subnet = SubnetBans::default();
        assert!(subnet.take(1, 2));
        assert!(subnet.take(2, 2));
        assert!(!subnet.take(3, 2));
        assert!(subnet.take(MINUTE_NS + 4, 2));
    }

    #[test]
    fn repeat_offenders_are_banned_twice_as_long_up_to_the_maximum() {
        let base = 60 * SECOND;
        let max = 600 * SECOND;
        let window = 3600 * SECOND;
        let first = Offender {
            banned_at_ns: 0,
            duration_ns: base,
            repeat: 0,
            _pad: [0; 7],
        };
        // Back soon after the first ban ended: twice as long.
        assert_eq!(first.next_ban(2 * base, base, window, max), (2 * base, 1));
        let third = Offender { repeat: 3, ..first };
        assert_eq!(third.next_ban(2 * base, base, window, max), (max, 4));
        // Back long after: a first offence again.
        assert_eq!(
            first.next_ban(base + window + 1, base, window, max),
            (base, 0)
        );
        let many = Offender {
            repeat: 40,
            ..first
        };
        assert_eq!(many.next_ban(base, base, window, u64::MAX).0, base << 16);
    }
}

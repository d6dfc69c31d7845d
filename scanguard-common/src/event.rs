//! Detection events, sent through a perf event array and rate-limited per source.

use crate::{ban::AddrKey, wire_struct};

pub const EVENTS_MAP: &str = "EVENTS";
pub const EVENT_SCRATCH_MAP: &str = "EVENT_SCRATCH";
pub const EVENT_BUCKETS_MAP: &str = "EVENT_BUCKETS";
/// Sources whose event budget is tracked at once; the least recent is forgotten first.
pub const EVENT_BUCKETS_CAPACITY: u32 = 16_384;

/// A probe was detected and its kind's action taken.
pub const EVENT_DETECTION: u8 = 0;
/// A packet from a banned source was dropped; `kind` is the ban's reason.
pub const EVENT_BANNED_DROP: u8 = 1;

/// One detection, with the fields the iptables LOG target prints and a few more.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// `bpf_ktime_get_boot_ns` at detection.
    pub timestamp_ns: u64,
    /// Events from this source suppressed by the rate limit since its previous event.
    pub suppressed: u64,
    pub src: AddrKey,
    pub dst: AddrKey,
    pub ifindex: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub ether_type: u16,
    pub vlan_id: u16,
    pub ip_id: u16,
    pub ip_len: u16,
    pub window: u16,
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    /// `EVENT_DETECTION` or `EVENT_BANNED_DROP`.
    pub event_type: u8,
    /// A `Kind`.
    pub kind: u8,
    /// The `Action` taken.
    pub action: u8,
    pub protocol: u8,
    pub tcp_flags: u8,
    pub ttl: u8,
    pub tos: u8,
    /// 1 for IPv6.
    pub ipv6: u8,
    /// A `Fingerprint` of the SYN, `None` for everything else.
    pub fingerprint: u8,
    pub _pad: [u8; 9],
}
wire_struct!(Event, 96);

/// A per-source token bucket, like `-m limit --limit R/m --limit-burst B`: credit is kept in
/// nanoseconds, one event costs `interval_ns`, and at most `capacity_ns` (burst times interval,
/// computed by the loader: the BPF backend cannot emit a checked 64-bit multiply) accrues.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventBucket {
    pub credit_ns: u64,
    pub last_ns: u64,
    pub suppressed: u64,
}
wire_struct!(EventBucket, 24);

impl EventBucket {
    /// A source's first event finds a full bucket.
    #[inline(always)]
    pub const fn full(now_ns: u64, capacity_ns: u64) -> EventBucket {
        EventBucket {
            credit_ns: capacity_ns,
            last_ns: now_ns,
            suppressed: 0,
        }
    }

    /// Spends one event's credit if there is enough. On `Some(n)` the event goes out carrying
    /// the `n` events suppressed before it; on `None` it is suppressed and counted.
    #[inline(always)]
    pub fn admit(&mut self, now_ns: u64, interval_ns: u64, capacity_ns: u64) -> Option<u64> {
        let earned = now_ns.saturating_sub(self.last_ns);
        let credit = self.credit_ns.saturating_add(earned);
        self.credit_ns = if credit < capacity_ns {
            credit
        } else {
            capacity_ns
        };
        self.last_ns = now_ns;
        if interval_ns > 0 && self.credit_ns >= interval_ns {
            self.credit_ns -= interval_ns;
            let suppressed = self.suppressed;
            self.suppressed = 0;
            Some(suppressed)
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000_000_000;
    const INTERVAL: u64 = MINUTE / 3;

    #[test]
    fn a_burst_then_the_rate_like_iptables_limit() {
        let capacity = 5 * INTERVAL;
        let mut bucket = EventBucket::full(0, capacity);
        let sent = (0..100)
            .filter(|_| bucket.admit(0, INTERVAL, capacity).is_some())
            .count();
        assert_eq!(sent, 5);
        assert_eq!(bucket.suppressed, 95);
        // A minute later three more are earned; the first carries the suppressed count.
        assert_eq!(bucket.admit(MINUTE, INTERVAL, capacity), Some(95));
        assert_eq!(bucket.admit(MINUTE, INTERVAL, capacity), Some(0));
        assert_eq!(bucket.admit(MINUTE, INTERVAL, capacity), Some(0));
        assert_eq!(bucket.admit(MINUTE, INTERVAL, capacity), None);
    }

    #[test]
    fn credit_never_exceeds_the_burst() {
        let capacity = 2 * INTERVAL;
        let mut bucket = EventBucket::full(0, capacity);
        let sent = (0..10)
            .filter(|_| bucket.admit(100 * MINUTE, INTERVAL, capacity).is_some())
            .count();
        assert_eq!(sent, 2);
    }

    #[test]
    fn a_zero_burst_or_rate_sends_nothing() {
        let mut bucket = EventBucket::full(0, 0);
        assert_eq!(bucket.admit(MINUTE, INTERVAL, 0), None);
        let mut bucket = EventBucket::full(0, INTERVAL);
        assert_eq!(bucket.admit(MINUTE, 0, INTERVAL), None);
    }
}

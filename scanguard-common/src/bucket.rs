//! Token buckets, like `-m limit --limit R --limit-burst B`: the per-source and global event
//! limits and the global cap on new bans.

use crate::wire_struct;

/// A rate as the kernel uses it: one unit costs `interval_ns`, and at most `capacity_ns` (burst
/// times interval, computed by the loader: the BPF backend cannot emit a checked 64-bit
/// multiply) accrues. An interval of 0 admits nothing.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rate {
    pub interval_ns: u64,
    pub capacity_ns: u64,
}
wire_struct!(Rate, 16);

impl Rate {
    /// Nothing at all.
    pub const NONE: Rate = Rate {
        interval_ns: 0,
        capacity_ns: 0,
    };

    /// `per_period` units every `period_ns`, at most `burst` at once; 0 per period is none.
    pub const fn new(per_period: u32, period_ns: u64, burst: u32) -> Rate {
        let interval_ns = match per_period {
            0 => 0,
            rate => period_ns / rate as u64,
        };
        Rate {
            interval_ns,
            capacity_ns: interval_ns.saturating_mul(burst as u64),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenBucket {
    pub credit_ns: u64,
    pub last_ns: u64,
    /// Units refused since the last one admitted.
    pub refused: u64,
}
wire_struct!(TokenBucket, 24);

impl TokenBucket {
    /// A bucket starts full.
    #[inline(always)]
    pub const fn full(now_ns: u64, rate: &Rate) -> TokenBucket {
        TokenBucket {
            credit_ns: rate.capacity_ns,
            last_ns: now_ns,
            refused: 0,
        }
    }

    /// Spends one unit of credit if there is enough. On `Some(n)` the unit is admitted, `n`
    /// being the units refused before it; on `None` it is refused and counted.
    #[inline(always)]
    pub fn admit(&mut self, now_ns: u64, rate: &Rate) -> Option<u64> {
        let earned = now_ns.saturating_sub(self.last_ns);
        let credit = self.credit_ns.saturating_add(earned);
        self.credit_ns = if credit < rate.capacity_ns {
            credit
        } else {
            rate.capacity_ns
        };
        self.last_ns = now_ns;
        if rate.interval_ns > 0 && self.credit_ns >= rate.interval_ns {
            self.credit_ns -= rate.interval_ns;
            let refused = self.refused;
            self.refused = 0;
            Some(refused)
        } else {
            self.refused += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000_000_000;

    #[test]
    fn a_burst_then_the_rate_like_iptables_limit() {
        let rate = Rate::new(3, MINUTE, 5);
        let mut bucket = TokenBucket::full(0, &rate);
        let sent = (0..100)
            .filter(|_| bucket.admit(0, &rate).is_some())
            .count();
        assert_eq!(sent, 5);
        assert_eq!(bucket.refused, 95);
        // A minute later three more are earned; the first carries the refused count.
        assert_eq!(bucket.admit(MINUTE, &rate), Some(95));
        assert_eq!(bucket.admit(MINUTE, &rate), Some(0));
        assert_eq!(bucket.admit(MINUTE, &rate), Some(0));
        assert_eq!(bucket.admit(MINUTE, &rate), None);
    }

    #[test]
    fn credit_never_exceeds_the_burst() {
        let rate = Rate::new(3, MINUTE, 2);
        let mut bucket = TokenBucket::full(0, &rate);
        let sent = (0..10)
            .filter(|_| bucket.admit(100 * MINUTE, &rate).is_some())
            .count();
        assert_eq!(sent, 2);
    }

    #[test]
    fn a_zero_burst_or_rate_admits_nothing() {
        for rate in [Rate::new(3, MINUTE, 0), Rate::new(0, MINUTE, 5)] {
            let mut bucket = TokenBucket::full(0, &rate);
            assert_eq!(bucket.admit(MINUTE, &rate), None);
        }
    }
}

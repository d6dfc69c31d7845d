//! Port-sweep detection: per source, the distinct destination ports probed inside a time window,
//! kept as a 128-bit sketch (portsentry/psad style, in constant memory per source).
//!
//! Two windows use the same sketch: a short one (`port-sweep`) that catches a scan at full
//! speed on its first few probes, and a long one (`slow-sweep`) for a scan paced to slip
//! through the short one (nmap `-T1`, `--scan-delay`), as Zeek's 15 ports in 5 minutes.
//! Only unsolicited probes are recorded in either: connection requests and datagrams to ports
//! nothing serves, stateless probes outside any flow.

use crate::{source_check::Sender, wire_struct};

pub const SWEEPS_MAP: &str = "SWEEPS";
/// Sources tracked at once; the least recently seen is forgotten first.
pub const SWEEPS_CAPACITY: u32 = 65_536;
/// As "8 distinct ports in 5 seconds".
pub const DEFAULT_SWEEP_PORTS: u32 = 8;
pub const DEFAULT_SWEEP_SECONDS: u64 = 5;

pub const SLOW_SWEEPS_MAP: &str = "SLOW_SWEEPS";
/// Sources with a long-window sketch at once. Only a source's second unsolicited probe (its
/// short sketch still held) opens one, so sources that probe once, as a forged random-source
/// flood does, never take an entry from a slow scanner.
pub const SLOW_SWEEPS_CAPACITY: u32 = 65_536;
/// As "15 distinct ports in 5 minutes" (Zeek's scan policy): a monitor checking a handful of
/// ports, or clients of a service that stopped, stay well below; nmap `-T1` (a probe every
/// 15 seconds) crosses it within 4 minutes.
pub const DEFAULT_SLOW_SWEEP_PORTS: u32 = 15;
pub const DEFAULT_SLOW_SWEEP_SECONDS: u64 = 300;
/// The most ports a threshold may ask for: beyond it, hash collisions in the 128-bit sketch
/// make the count reach the threshold too late, or never.
pub const MAX_SWEEP_PORTS: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    pub window_start_ns: u64,
    /// One bit per hashed port probed in this window.
    pub ports: [u64; 2],
    /// Bits set, i.e. distinct ports (up to hash collisions, which only undercount).
    pub distinct: u32,
    pub _pad: u32,
    /// The link of the source's verified probe that opened the sketch (all zero without source
    /// verification): a record from another link is verified again before it counts.
    pub sender: Sender,
}
wire_struct!(Sweep, 48);

impl Sweep {
    /// Records a probe of `port`; returns the distinct ports in the current window.
    #[inline(always)]
    pub fn observe(&mut self, now_ns: u64, port: u16, window_ns: u64) -> u32 {
        // A start in the future was stamped by another clock (a sketch pinned by an older
        // program): start over rather than keep it open.
        if now_ns < self.window_start_ns || now_ns - self.window_start_ns >= window_ns {
            *self = Sweep {
                window_start_ns: now_ns,
                sender: self.sender,
                ..Sweep::default()
            };
        }
        let bit = port_bit(port);
        let (word, mask) = ((bit >> 6) as usize & 1, 1u64 << (bit & 63));
        if self.ports[word] & mask == 0 {
            self.ports[word] |= mask;
            self.distinct += 1;
        }
        self.distinct
    }
}

/// Fibonacci hashing of the port into 0..128, so neighbouring ports land far apart.
#[inline(always)]
const fn port_bit(port: u16) -> u32 {
    (port as u32).wrapping_mul(2_654_435_769) >> 25
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: u64 = 5_000_000_000;

    #[test]
    fn counts_distinct_ports_not_packets() {
        let mut sweep = Sweep::default();
        for _ in 0..200 {
            assert_eq!(sweep.observe(1, 443, WINDOW), 1);
        }
        assert_eq!(sweep.observe(2, 80, WINDOW), 2);
    }

    #[test]
    fn a_new_window_starts_over() {
        let mut sweep = Sweep::default();
        for port in 1..=7 {
            sweep.observe(1, port, WINDOW);
        }
        assert_eq!(sweep.observe(WINDOW + 1, 8, WINDOW), 1);
    }

    #[test]
    fn a_window_that_starts_in_the_future_starts_over() {
        let mut sweep = Sweep::default();
        for port in 1..=7 {
            sweep.observe(10 * WINDOW, port, WINDOW);
        }
        assert_eq!(sweep.observe(WINDOW, 8, WINDOW), 1);
    }

    #[test]
    fn a_long_sketch_opened_from_a_short_one_keeps_its_probes() {
        const LONG: u64 = 60 * WINDOW;
        let mut short = Sweep::default();
        short.observe(WINDOW, 1, WINDOW);
        let mut long = short;
        assert_eq!(
            long.observe(3 * WINDOW, 2, LONG),
            2,
            "the short sketch's probe counts"
        );
        assert_eq!(
            short.observe(3 * WINDOW, 2, WINDOW),
            1,
            "the short window ended"
        );
        assert_eq!(long.observe(WINDOW + LONG - 1, 3, LONG), 3, "just inside");
        assert_eq!(long.observe(WINDOW + LONG, 4, LONG), 1, "just outside");
    }

    #[test]
    fn the_sketch_saturates_at_its_bits() {
        let mut sweep = Sweep::default();
        let distinct = (0..=u16::MAX)
            .map(|port| sweep.observe(1, port, WINDOW))
            .last();
        assert_eq!(distinct, Some(128));
    }

    #[test]
    fn consecutive_ports_rarely_collide() {
        let mut sweep = Sweep::default();
        let distinct = (1..=20).map(|port| sweep.observe(1, port, WINDOW)).last();
        assert!(distinct >= Some(19), "{distinct:?}");
        assert!((0..=u16::MAX).all(|port| port_bit(port) < 128));
    }
}

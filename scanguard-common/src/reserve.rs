//! The reserve of the ban budget: bans for sources that come back.
//!
//! The global budget of new bans (`max_bans_per_second`) keeps a flood of spoofed sources from
//! churning the ban map. Probes found forged never reach it, but a flood from behind the
//! gateway cannot be verified (every frame carries the gateway's MAC) and spends it, and the
//! real scanner's first probe then finds it empty. A random-source flood rarely repeats an
//! address; a scanner sends many probes. So a source turned away by the spent budget is
//! remembered (in a bounded LRU map), and when it probes again within the window it draws on a
//! second budget of its own, `reserved_bans_per_second`, which the one-shot sources of a flood
//! never reach.

use crate::wire_struct;

/// Sources turned away by a spent budget (the `TURNED_AWAY` map, address → [`Turned`]). A flood of new sources evicts the oldest first: at 10,000 new sources a second, a scanner's
/// first probe is still remembered 1.6 s later, and its next comes within milliseconds.
pub const TURNED_AWAY_CAPACITY: u32 = 16_384;
/// The reserve, per second, all returning sources together (0: no reserve).
pub const DEFAULT_RESERVED_BANS_PER_SECOND: u32 = 20;

/// When a source was turned away by the spent budget.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Turned {
    pub at_ns: u64,
}
wire_struct!(Turned, 8);

impl Turned {
    /// Whether a probe at `now_ns` is the source coming back within `window_ns` (a ban's
    /// length: as long as a ban would have lasted): one that came back later starts over.
    #[inline(always)]
    pub const fn returning(&self, now_ns: u64, window_ns: u64) -> bool {
        now_ns >= self.at_ns && now_ns - self.at_ns < window_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn a_source_returns_within_the_window() {
        let turned = Turned { at_ns: 10 * SECOND };
        assert!(turned.returning(10 * SECOND + 1, 60 * SECOND));
        assert!(!turned.returning(70 * SECOND, 60 * SECOND));
        // Stamped by another clock: not a return.
        assert!(!turned.returning(SECOND, 60 * SECOND));
    }
}

//! The ban filter: one byte per hashed source, set when the source is banned, so the packets
//! of sources that were never banned skip the ban map's hash lookup (a helper call that costs
//! more than the rest of their path). A set byte only means "look in the ban map": collisions
//! and bans that ended cost a lookup, never a wrong verdict.
//!
//! Bytes rather than bits: storing a byte is atomic where a read-modify-write of a bit shared
//! with other sources is not, and a lost mark would be a ban that is never enforced.

use crate::{addr::AddrKey, wire_struct};

pub const BAN_FILTER_MAP: &str = "BAN_FILTER";
/// One u64 that whoever makes or lifts a ban changes: the program caches verdicts per CPU
/// until the next tick or the next change.
pub const BAN_EPOCH_MAP: &str = "BAN_EPOCH";
/// The section of the program's global ban epoch, which aya names its map after.
pub const BAN_EPOCH_SECTION: &str = ".bss.ban_epoch";
/// Bytes per array entry: one cache line, so a check costs one inlined array lookup.
pub const FILTER_LINE_BYTES: usize = 64;
pub type FilterLine = [u8; FILTER_LINE_BYTES];
/// Filter bytes per ban-map entry: at a full ban map about one byte in nine is set (1 - e^-1/8),
/// so about 89% of the sources never banned still skip the lookup.
pub const FILTER_BYTES_PER_BAN: u64 = 8;

pub const VERDICTS_MAP: &str = "VERDICTS";
/// Per CPU, a power of two (the hash picks the slot with a mask): 1,024 slots of 48 bytes fit
/// in L2 and keep apart the sources one CPU sees within a tick.
pub const VERDICT_SLOTS: u32 = 1_024;

/// What the ban map said of `src` during `jiffy` at `epoch`, cached by one CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachedVerdict {
    pub src: AddrKey,
    pub jiffy: u64,
    pub epoch: u64,
    /// Drops on this CPU since the ban map was last told: `scanguard bans` adds them.
    pub dropped: u64,
    /// 1: banned. A whole word, so the struct has no pad: the XDP program would zero a pad
    /// through a `memset` call each time it stores a verdict.
    pub banned: u64,
}
wire_struct!(CachedVerdict, 48);

/// Filter lines for a ban map of `capacity` entries: a power of two, so a mask picks the line.
pub fn filter_lines(capacity: u32) -> u32 {
    let lines = u64::from(capacity) * FILTER_BYTES_PER_BAN / FILTER_LINE_BYTES as u64;
    let lines = lines.clamp(1, 1 << 31) as u32;
    lines.next_power_of_two()
}

/// A source's 32-bit hash: the key folded to 32 bits, mixed by a multiply (Knuth's
/// golden-ratio constant), the high half folded down so every bit of the key reaches the low
/// bits the filter and the verdict cache index with. An IPv4 address keeps all its 32 bits
/// through the fold. A multiply carries bits only upwards, and an IPv4 address's last octet
/// is the fold's top byte, so the fold's halves are also mixed before it: without that, the
/// sources of one /24 shared two verdict slots.
#[inline(always)]
pub fn source_hash(key: &AddrKey) -> u32 {
    let [first, second] = key.words();
    let folded = first ^ second;
    let folded = folded as u32 ^ (folded >> 32) as u32;
    let hash = (folded ^ (folded >> 16)).wrapping_mul(0x9e37_79b1);
    hash ^ (hash >> 15)
}

/// Where a source's byte sits: (line, byte in line), with `mask` the line count minus one.
#[inline(always)]
pub const fn filter_spot(hash: u32, mask: u32) -> (u32, usize) {
    let line = (hash >> FILTER_LINE_BYTES.trailing_zeros()) & mask;
    (line, hash as usize % FILTER_LINE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::AddrKey;

    #[test]
    fn lines_are_powers_of_two_covering_eight_bytes_per_ban() {
        assert_eq!(filter_lines(0), 1);
        assert_eq!(filter_lines(8), 1);
        assert_eq!(filter_lines(65_536), 8_192);
        assert_eq!(filter_lines(1_000_000), 131_072);
        assert!(filter_lines(u32::MAX).is_power_of_two());
    }

    #[test]
    fn spots_stay_inside_the_filter() {
        for hash in [0, 1, 63, 64, u32::MAX, 0x8000_0000] {
            let (line, byte) = filter_spot(hash, 8_191);
            assert!(line <= 8_191 && byte < FILTER_LINE_BYTES);
        }
    }

    #[test]
    fn neighbouring_sources_spread_over_the_filter() {
        // A /16 of IPv4 sources into a filter of 8,192 lines: no spot may hold more than a few.
        let mask = filter_lines(65_536) - 1;
        let mut load = [0u8; 8_192 * FILTER_LINE_BYTES];
        for n in 0..65_536u32 {
            let [_, _, c, d] = n.to_be_bytes();
            let (line, byte) = filter_spot(source_hash(&AddrKey::ipv4([10, 7, c, d])), mask);
            let spot = &mut load[line as usize * FILTER_LINE_BYTES + byte];
            *spot = spot.saturating_add(1);
        }
        let used = load.iter().filter(|&&n| n > 0).count();
        // 65,536 keys into 524,288 spots: a uniform hash uses about 61,600 of them.
        assert!(used > 60_000, "only {used} spots used");
        assert!(load.iter().all(|&n| n <= 4));
    }

    #[test]
    fn the_sources_of_one_subnet_spread_over_the_verdict_slots_and_the_filter() {
        let subnet = |n: u32| {
            let [_, _, c, d] = n.to_be_bytes();
            AddrKey::ipv4([198, 18, c, d])
        };
        let mut slots = [false; VERDICT_SLOTS as usize];
        for n in 0..256 {
            slots[(source_hash(&subnet(n)) % VERDICT_SLOTS) as usize] = true;
        }
        let used = slots.iter().filter(|&&used| used).count();
        assert_eq!(used, 256, "a /24 over the verdict slots");
        // 3,000 neighbours into a filter of 65,536 bytes: a uniform hash uses about 2,930.
        let mut spots = [false; 1_024 * FILTER_LINE_BYTES];
        for n in 0..3_000 {
            let (line, byte) = filter_spot(source_hash(&subnet(n)), 1_023);
            spots[line as usize * FILTER_LINE_BYTES + byte] = true;
        }
        let used = spots.iter().filter(|&&used| used).count();
        assert!(used > 2_850, "only {used} spots used");
    }

    #[test]
    fn every_word_of_an_ipv6_key_matters() {
        let base = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        for i in 0..16 {
            let mut other = base;
            other[i] ^= 0x10;
            assert_ne!(
                source_hash(&AddrKey::from_octets(base)),
                source_hash(&AddrKey::from_octets(other)),
                "byte {i}"
            );
        }
    }
}

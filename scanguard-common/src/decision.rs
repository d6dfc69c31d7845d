//! Decisions of a CrowdSec Local API (LAPI): sources the daemon's bouncer streams in, which the
//! program drops until each decision's own end. They live in maps of their own that never
//! evict, apart from the LRU ban map, so a large community blocklist cannot push out local
//! bans, nor local bans the blocklist.
//!
//! Keys are those of the ban map (`AddrKey`, IPv4 as IPv4-mapped): single addresses in a hash
//! map, ranges in an LPM trie whose IPv4 prefixes are `96 + len` long.
//!
//! In front of both maps sits the decision filter, as the ban filter sits in front of the ban
//! map: one byte per hashed (prefix, prefix length) for each prefix length in use, so the
//! packet of a source no decision covers costs a few loads and multiplies per length, not a
//! hash lookup and a trie walk.

use crate::{
    addr::AddrKey,
    ban_filter::{filter_spot, source_hash},
    wire_struct,
};

/// Single addresses: `AddrKey` to `Decision`.
pub const DEC_ADDRS_MAP: &str = "DEC_ADDRS";
/// Ranges: LPM trie key (prefix length, `AddrKey`) to `Decision`.
pub const DEC_NETS_MAP: &str = "DEC_NETS";
/// Per CPU, one `DecisionStats`.
pub const DEC_STATS_MAP: &str = "DEC_STATS";
/// Origin names by origin id (`ORIGIN_SLOTS` labels), written by the daemon.
pub const DEC_ORIGINS_MAP: &str = "DEC_ORIGINS";
/// Scenario names by scenario id (`SCENARIO_SLOTS` labels), written by the daemon.
pub const DEC_SCENARIOS_MAP: &str = "DEC_SCENARIOS";
/// One `DecisionCounts`, written by the daemon.
pub const DEC_COUNTS_MAP: &str = "DEC_COUNTS";
/// Lines of `FilterLine`: the decision filter, written by the daemon; sized by the loader to
/// `ban_filter::filter_lines` of both capacities together.
pub const DEC_FILTER_MAP: &str = "DEC_FILTER";

/// Prefix lengths the filter tells apart (128 for single addresses). Blocklists use a few:
/// /32, /24 and /16 for IPv4, /128, /64 and /48 for IPv6. With more in use, the program asks
/// the maps for every source, as without the filter.
pub const PREFIX_SLOTS: usize = 8;

/// Defaults of `[crowdsec] address_capacity` and `range_capacity`. The maps allocate per
/// entry (BPF_F_NO_PREALLOC), so room that is not used costs no memory.
pub const DEFAULT_DECISION_ADDRESSES: u32 = 262_144;
pub const DEFAULT_DECISION_RANGES: u32 = 65_536;

/// Distinct origins with a drop counter of their own; id 0 counts every origin past them.
pub const ORIGIN_SLOTS: u32 = 32;
/// Distinct scenario names `bans` can show; id 0 stands for every scenario past them.
pub const SCENARIO_SLOTS: u32 = 1_024;
/// A name as stored: UTF-8, NUL-padded, cut at a character boundary when longer.
pub const LABEL_BYTES: usize = 64;
pub type Label = [u8; LABEL_BYTES];

/// The origin and scenario id that stand for "another one" when the tables are full.
pub const OTHER_LABEL: u16 = 0;

/// One decision in force. Times are `bpf_ktime_get_boot_ns`, as the ban map's.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The decision's end: the program treats it as absent from then on, and the daemon
    /// deletes it.
    pub expires_at_ns: u64,
    /// When this host first enforced it.
    pub since_ns: u64,
    /// Packets dropped because of it (two CPUs at once may lose a count).
    pub dropped: u64,
    /// Index into `DEC_SCENARIOS`.
    pub scenario: u16,
    /// Index into `DEC_ORIGINS` and the drop counters.
    pub origin: u8,
    pub _pad: [u8; 5],
}
wire_struct!(Decision, 32);

impl Decision {
    #[inline(always)]
    pub const fn is_expired(&self, now_ns: u64) -> bool {
        now_ns >= self.expires_at_ns
    }
}

/// How many decisions each map holds and which prefix lengths they use, kept by the daemon: the
/// program skips a map that is empty, so a host without decisions pays one inlined array lookup
/// per packet for the feature, and asks the filter once per prefix length in use.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecisionCounts {
    pub addresses: u32,
    pub ranges: u32,
    /// The decision filter's line count minus one.
    pub filter_mask: u32,
    /// Prefix lengths in use; past `PREFIX_SLOTS` the filter is not asked.
    pub prefixes_used: u32,
    /// The first `prefixes_used` (at most `PREFIX_SLOTS`), longest first.
    pub prefixes: [Prefix; PREFIX_SLOTS],
}
wire_struct!(DecisionCounts, 16 + 24 * PREFIX_SLOTS);

/// A prefix length of the 128-bit key, with its mask: the program masks with two ANDs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prefix {
    pub mask: AddrKey,
    pub len: u64,
}
wire_struct!(Prefix, 24);

impl Prefix {
    /// `len` bits of the key (IPv4 prefixes as `96 + len`), capped at 128.
    pub const fn new(len: u8) -> Prefix {
        let len = if len > 128 { 128 } else { len };
        let mut octets = [0u8; 16];
        let mut i = 0;
        while i < 16 {
            let bits = len as i32 - 8 * i as i32;
            octets[i] = if bits >= 8 {
                0xff
            } else if bits <= 0 {
                0
            } else {
                0xff << (8 - bits)
            };
            i += 1;
        }
        Prefix {
            mask: AddrKey::from_octets(octets),
            len: len as u64,
        }
    }
}

impl DecisionCounts {
    /// Whether the filter leaves `src` possibly covered by a decision: its byte is set for one
    /// of the prefix lengths in use, or more lengths are in use than the filter tells apart.
    #[inline(always)]
    pub fn maybe_decided(&self, src: &AddrKey, is_marked: impl Fn(u32, usize) -> bool) -> bool {
        if self.prefixes_used as usize > PREFIX_SLOTS {
            return true;
        }
        let mut i = 0;
        while i < PREFIX_SLOTS {
            if i >= self.prefixes_used as usize {
                return false;
            }
            let (line, byte) = decision_spot(src, &self.prefixes[i], self.filter_mask);
            if is_marked(line, byte) {
                return true;
            }
            i += 1;
        }
        false
    }
}

/// The filter spot of the prefix of `src` that `prefix` keeps: its hash, mixed with the length
/// so that 10.0.0.0/8 and 10.0.0.0/16 fall apart.
#[inline(always)]
pub fn decision_spot(src: &AddrKey, prefix: &Prefix, filter_mask: u32) -> (u32, usize) {
    let [a, b] = src.words();
    let [ma, mb] = prefix.mask.words();
    let hash = source_hash(&AddrKey::from_words([a & ma, b & mb]));
    let hash = hash ^ (prefix.len as u32).wrapping_mul(0x85eb_ca6b);
    filter_spot(hash, filter_mask)
}

/// The program's counters for decisions, per CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecisionStats {
    /// Packets dropped, per origin id.
    pub dropped: [u64; ORIGIN_SLOTS as usize],
    /// Packets of a source with a decision that the allow-list or lock-out protection let
    /// through.
    pub spared: u64,
}
wire_struct!(DecisionStats, 8 * ORIGIN_SLOTS as usize + 8);

/// `name` as a label, cut at a character boundary to fit.
pub fn label(name: &str) -> Label {
    let mut label = [0; LABEL_BYTES];
    let mut end = name.len().min(LABEL_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    label[..end].copy_from_slice(&name.as_bytes()[..end]);
    label
}

/// The name a label holds (empty for an unused slot).
pub fn label_name(label: &Label) -> &str {
    let end = label.iter().position(|&b| b == 0).unwrap_or(LABEL_BYTES);
    core::str::from_utf8(&label[..end]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_cut_at_a_character() {
        assert_eq!(
            label_name(&label("crowdsecurity/ssh-bf")),
            "crowdsecurity/ssh-bf"
        );
        assert_eq!(label_name(&[0; LABEL_BYTES]), "");
        let long = "é".repeat(40);
        let cut = label_name(&label(&long)).len();
        assert_eq!(cut, 64);
        let odd = "a".repeat(63) + "é";
        assert_eq!(label_name(&label(&odd)), "a".repeat(63));
    }

    #[test]
    fn prefixes_mask_the_leading_bits() {
        let all = AddrKey::from_octets([0xff; 16]);
        let masked = |len: u8| {
            let prefix = Prefix::new(len);
            let [a, b] = all.words();
            let [ma, mb] = prefix.mask.words();
            AddrKey::from_words([a & ma, b & mb]).octets()
        };
        assert_eq!(masked(0), [0; 16]);
        assert_eq!(masked(128), [0xff; 16]);
        let mut v4_24 = [0xff; 16];
        v4_24[15] = 0;
        assert_eq!(masked(120), v4_24);
        let mut v6_60 = [0u8; 16];
        v6_60[..7].fill(0xff);
        v6_60[7] = 0xf0;
        assert_eq!(masked(60), v6_60);
        assert_eq!(Prefix::new(200).len, 128);
    }

    #[test]
    fn the_filter_finds_a_source_under_each_prefix_in_use() {
        let mask = crate::ban_filter::filter_lines(1_000) - 1;
        let mut counts = DecisionCounts {
            filter_mask: mask,
            prefixes_used: 2,
            ..DecisionCounts::default()
        };
        counts.prefixes[0] = Prefix::new(128);
        counts.prefixes[1] = Prefix::new(120);
        let range = AddrKey::ipv4([192, 0, 2, 0]);
        let spot = decision_spot(&range, &counts.prefixes[1], mask);
        let marked = |line: u32, byte: usize| (line, byte) == spot;
        assert!(counts.maybe_decided(&AddrKey::ipv4([192, 0, 2, 77]), marked));
        assert!(!counts.maybe_decided(&AddrKey::ipv4([192, 0, 3, 77]), marked));
        counts.prefixes_used = PREFIX_SLOTS as u32 + 1;
        assert!(counts.maybe_decided(&AddrKey::ipv4([192, 0, 3, 77]), |_, _| false));
    }

    #[test]
    fn prefix_lengths_fall_apart_in_the_filter() {
        let mask = crate::ban_filter::filter_lines(100_000) - 1;
        let key = AddrKey::ipv4([10, 0, 0, 0]);
        assert_ne!(
            decision_spot(&key, &Prefix::new(104), mask),
            decision_spot(&key, &Prefix::new(112), mask)
        );
    }

    #[test]
    fn a_decision_ends_at_its_expiry() {
        let decision = Decision {
            expires_at_ns: 100,
            since_ns: 0,
            dropped: 0,
            scenario: 0,
            origin: 0,
            _pad: [0; 5],
        };
        assert!(!decision.is_expired(99));
        assert!(decision.is_expired(100));
    }
}

//! CrowdSec LAPI decisions (see `scanguard_common::decision`): the daemon's bouncer fills the
//! maps, the program drops the sources they hold until each decision's end. A host without
//! decisions pays one inlined array lookup per packet; with decisions, a source none covers
//! pays a filter byte per prefix length in use, and only the rest the maps' lookups.

use core::ptr;

use aya_ebpf::helpers::bpf_map_lookup_elem;
use aya_ebpf::maps::lpm_trie::Key;
use scanguard_common::{addr::AddrKey, decision::Decision};

use crate::{
    clock::Clock,
    maps::{self, DEC_ADDRS, DEC_COUNTS, DEC_FILTER, DEC_NETS, DEC_STATS},
};

/// Whether a decision in force covers `src`: its packet is dropped and counted for the
/// decision's origin. The allow-list and lock-out protection win over decisions, as over bans.
///
/// A function of its own in the object (a BPF-to-BPF call): the verifier then drops this
/// code's registers and stack at its return, instead of carrying each of its paths' states
/// through the rest of the program, which took the program past its 1M-instruction limit.
#[inline(never)]
pub fn banned(src: &AddrKey, clock: &mut Clock) -> bool {
    let src = *src;
    let Some(counts) = DEC_COUNTS.get(0) else {
        return false;
    };
    if counts.addresses == 0 && counts.ranges == 0 {
        return false;
    }
    // A missing filter line reads as "maybe": the maps decide.
    let marked = |line: u32, byte: usize| DEC_FILTER.get(line).is_none_or(|line| line[byte] != 0);
    if !counts.maybe_decided(&src, marked) {
        return false;
    }
    let mut found = None;
    if counts.addresses != 0 {
        found = DEC_ADDRS.get_ptr_mut(&src);
    }
    if counts.ranges != 0 && !in_force(found, clock) {
        found = range_of(src);
    }
    let Some(decision) = found.filter(|_| in_force(found, clock)) else {
        return false;
    };
    let spared = maps::allowance(&src).is_some();
    if let Some(stats) = DEC_STATS.get_ptr_mut(0) {
        // SAFETY: this CPU's entry, only touched by this CPU while the program runs.
        let stats = unsafe { &mut *stats };
        if spared {
            stats.spared += 1;
        } else {
            // SAFETY: a live map value; two CPUs at once may lose a count, as a ban's.
            let origin = usize::from(unsafe { (*decision).origin });
            if let Some(dropped) = stats.dropped.get_mut(origin) {
                *dropped += 1;
            }
        }
    }
    if spared {
        return false;
    }
    // SAFETY: as above.
    unsafe { (*decision).dropped += 1 };
    true
}

/// The range decision covering `src`, writable: aya-ebpf's `LpmTrie` hands out shared
/// references only, and the program counts drops in the value.
#[inline(always)]
fn range_of(src: AddrKey) -> Option<*mut Decision> {
    let key = Key::new(128, src);
    // SAFETY: `LpmTrie` is a transparent wrapper of the map definition the loader relocates
    // (an `UnsafeCell`), and the key is a trie key of the map's key type.
    let value = unsafe {
        bpf_map_lookup_elem(
            ptr::from_ref(&DEC_NETS).cast_mut().cast(),
            ptr::from_ref(&key).cast(),
        )
    };
    (!value.is_null()).then_some(value.cast())
}

/// Whether `found` is a decision that has not ended.
#[inline(always)]
fn in_force(found: Option<*mut Decision>, clock: &mut Clock) -> bool {
    // SAFETY: a live map value, only read.
    found.is_some_and(|decision| !unsafe { &*decision }.is_expired(clock.now_ns()))
}

//! Per-CPU counters: no atomics needed, each CPU owns its copy (as xdp-tools' xdp_stats).

use scanguard_common::{
    counters::{COUNTER_SLOTS, Counter, counter_slot, detection_slot},
    kind::Kind,
};

use crate::{maps::COUNTERS, verdict::Verdict};

#[inline(always)]
pub fn count(counter: Counter) {
    bump(counter_slot(counter));
}

#[inline(always)]
pub fn count_detection(kind: Kind) {
    bump(detection_slot(kind));
}

/// Counts a packet and its verdict: one lookup for what every packet counts.
#[inline(always)]
pub fn count_packet(verdict: Verdict) {
    let outcome = match verdict {
        Verdict::Pass => Counter::Passed,
        Verdict::DropBanned => Counter::DroppedBanned,
        Verdict::DropProbe => Counter::DroppedProbe,
    };
    if let Some(counters) = COUNTERS.get_ptr_mut(0) {
        // SAFETY: the per-CPU entry is only touched by this CPU while the program runs.
        let counters = unsafe { &mut *counters };
        counters[counter_slot(Counter::Seen)] += 1;
        counters[counter_slot(outcome)] += 1;
    }
}

#[inline(always)]
fn bump(slot: usize) {
    if slot >= COUNTER_SLOTS {
        return;
    }
    if let Some(counters) = COUNTERS.get_ptr_mut(0) {
        // SAFETY: the per-CPU entry is only touched by this CPU while the program runs.
        unsafe { (*counters)[slot] += 1 };
    }
}

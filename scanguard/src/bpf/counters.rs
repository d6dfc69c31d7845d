//! The program's counters as `stats`, `top` and the metrics read them: one slot per counter
//! and kind, kept per CPU so the program never contends for them, summed here.

use anyhow::Result;
use aya::maps::{MapData, PerCpuArray};
use scanguard_common::counters::{COUNTER_SLOTS, Counters};

/// Every slot summed over the CPUs.
pub fn totals(counters: &PerCpuArray<MapData, Counters>) -> Result<Counters> {
    let mut totals = [0u64; COUNTER_SLOTS];
    for cpu in counters.get(&0, 0)?.iter() {
        for (total, value) in totals.iter_mut().zip(cpu) {
            *total = total.wrapping_add(*value);
        }
    }
    Ok(totals)
}

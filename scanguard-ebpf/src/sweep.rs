//! Port-sweep sketches per source.

use crate::{maps::allowance, state::update};
use aya_ebpf::{macros::map, maps::LruHashMap};
use scanguard_common::{
    ban::AddrKey,
    config::Config,
    sweep::{SWEEPS_CAPACITY, Sweep},
};

#[map]
static SWEEPS: LruHashMap<AddrKey, Sweep> = LruHashMap::with_max_entries(SWEEPS_CAPACITY, 0);

/// Records a probe of `port` by `src`; returns whether the source crossed the threshold.
#[inline(always)]
pub fn is_sweep(src: AddrKey, port: u16, now_ns: u64, config: &Config) -> bool {
    // Allow-listed and lock-out protected sources never count toward a sweep.
    if config.sweep_ports == 0 || allowance(&src).is_some() {
        return false;
    }
    let distinct = update(&SWEEPS, &src, Sweep::default(), |sweep| {
        sweep.observe(now_ns, port, config.sweep_window_ns)
    });
    distinct >= config.sweep_ports
}

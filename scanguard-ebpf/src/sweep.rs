//! Port-sweep sketches per source.

use aya_ebpf::helpers::bpf_ktime_get_coarse_ns;
use scanguard_common::{addr::AddrKey, config::Config, sweep::Sweep};

use crate::{
    map_update::update,
    maps::{SWEEPS, allowance},
};

/// Records a probe of `port` by `src`; returns whether the source crossed the threshold.
#[inline(always)]
pub fn is_sweep(src: AddrKey, port: u16, config: &Config) -> bool {
    if config.sweep_ports == 0 {
        return false;
    }
    // The coarse clock (the time at the last tick) is exact enough for a window of seconds, and
    // a third of the cost of the boot clock (see the bench's reference programs).
    // SAFETY: the helper has no preconditions.
    let now_ns = unsafe { bpf_ktime_get_coarse_ns() };
    let distinct = update(&SWEEPS, &src, Sweep::default(), |sweep| {
        sweep.observe(now_ns, port, config.sweep_window_ns)
    });
    // Allow-listed and lock-out protected sources are never a sweep. Asked only at the
    // threshold: the allow-list is a trie lookup, which most probes are spared.
    distinct >= config.sweep_ports && allowance(&src).is_none()
}

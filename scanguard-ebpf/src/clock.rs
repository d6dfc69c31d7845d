//! The boot clock, read at most once per frame and only on the paths that need it: the helper
//! call costs more than the whole path of a benign packet (see the bench's reference programs).

use aya_ebpf::helpers::bpf_ktime_get_boot_ns;

pub struct Clock(Option<u64>);

impl Clock {
    pub const fn new() -> Clock {
        Clock(None)
    }

    #[inline(always)]
    pub fn now_ns(&mut self) -> u64 {
        // SAFETY: a BPF program runs to completion on one CPU; the helper has no preconditions.
        *self
            .0
            .get_or_insert_with(|| unsafe { bpf_ktime_get_boot_ns() })
    }
}

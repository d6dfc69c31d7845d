//! Port-sweep sketches per source.

use aya_ebpf::helpers::bpf_ktime_get_coarse_ns;
use scanguard_common::{
    config::Config,
    parse::Frame,
    source_check::{Origin, Sender},
    sweep::Sweep,
};

use crate::{
    maps::{SWEEPS, allowance},
    packet::Context,
    source_check::Claim,
};

/// Records a probe of the frame's destination port by its source; returns whether the source
/// crossed the threshold.
///
/// Nothing is recorded for a source the route back does not vouch for (see `source_check`):
/// forged records cannot fill a sketch for the source's own next probe to complete. The route
/// is asked when a sketch opens, and again only for a record that comes by another link than
/// the one that opened it.
#[inline(always)]
pub fn is_sweep<C: Context>(frame: &Frame, config: &Config, claim: &mut Claim<C>) -> bool {
    if config.sweep_ports == 0 {
        return false;
    }
    let src = frame.src;
    let port = frame.transport.dst_port;
    // The coarse clock (the time at the last tick) is exact enough for a window of seconds, and
    // a third of the cost of the boot clock (see the bench's reference programs).
    // SAFETY: the helper has no preconditions.
    let now_ns = unsafe { bpf_ktime_get_coarse_ns() };
    let distinct = match SWEEPS.get_ptr_mut(src) {
        Some(sweep) => {
            // SAFETY: a live map value. Two CPUs updating it at once may lose a record (see
            // `state`), never memory safety.
            let sweep = unsafe { &mut *sweep };
            if !claim.came_by(&sweep.sender, config) {
                if claim.check(frame, config).origin != Origin::Verified {
                    return false;
                }
                sweep.sender = claim.sender();
            }
            sweep.observe(now_ns, port, config.sweep_window_ns)
        }
        None => {
            if claim.check(frame, config).origin != Origin::Verified {
                return false;
            }
            let sender = match config.verify_source {
                0 => Sender::default(),
                _ => claim.sender(),
            };
            let mut sweep = Sweep {
                sender,
                ..Sweep::default()
            };
            let distinct = sweep.observe(now_ns, port, config.sweep_window_ns);
            // A full LRU map evicts its least recently used sketch; failing to store only
            // forgets this one.
            let _ = SWEEPS.insert(src, &sweep, 0);
            distinct
        }
    };
    // Allow-listed and lock-out protected sources are never a sweep. Asked only at the
    // threshold: the allow-list is a trie lookup, which most probes are spared.
    distinct >= config.sweep_ports && allowance(&src).is_none()
}

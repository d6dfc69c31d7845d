//! Port-sweep sketches per source: a short window in `SWEEPS`, a long one in `SLOW_SWEEPS`.

use aya_ebpf::helpers::bpf_ktime_get_coarse_ns;
use scanguard_common::{
    config::Config,
    kind::Kind,
    parse::Frame,
    source_check::{Origin, Sender},
    sweep::Sweep,
};

use crate::{
    maps::{SLOW_SWEEPS, SWEEPS, allowance},
    packet::Context,
    source_check::Claim,
};

/// Records a probe of the frame's destination port by its source; returns the sweep kind the
/// source crossed the threshold of, if any.
///
/// Nothing is recorded for a source the route back does not vouch for (see `source_check`):
/// forged records cannot fill a sketch for the source's own next probe to complete. The route
/// is asked when a short sketch opens, and again only for a record that comes by another link
/// than the one that opened a sketch; asked at most once, in one place, which keeps the
/// program within what the verifier explores.
///
/// Only a source's second unsolicited probe, its short sketch still held, opens a long sketch:
/// a forged random-source flood, one probe per source, never evicts a slow scanner's (see
/// `SLOW_SWEEPS_CAPACITY`). The long sketch opens as a copy of the short one, whose probes all
/// fell within the long window too, so none is lost.
#[inline(always)]
pub fn sweep_kind<C: Context>(
    frame: &Frame,
    config: &Config,
    claim: &mut Claim<C>,
) -> Option<Kind> {
    if config.sweep_ports == 0 && config.slow_sweep_ports == 0 {
        return None;
    }
    let src = frame.src;
    let port = frame.transport.dst_port;
    let short = SWEEPS.get_ptr_mut(&src);
    let slow = match config.slow_sweep_ports {
        0 => None,
        _ => SLOW_SWEEPS.get_ptr_mut(&src),
    };
    // SAFETY: live map values. Two CPUs updating one at once may lose a record (see `state`),
    // never memory safety.
    let (short, slow) = unsafe {
        (
            short.map(|sweep| &mut *sweep),
            slow.map(|sweep| &mut *sweep),
        )
    };
    // A record that came by another link than the sketch's opener is asked about.
    let strange = |sweep: &Option<&mut Sweep>| {
        sweep
            .as_ref()
            .is_some_and(|sweep| !claim.came_by(&sweep.sender, config))
    };
    let ask = short.is_none() || strange(&short) || strange(&slow);
    if ask && claim.check(frame, config).origin != Origin::Verified {
        return None;
    }
    let sender = match config.verify_source {
        0 => Sender::default(),
        _ => claim.sender(),
    };
    // The coarse clock (the time at the last tick) is exact enough for a window of seconds, and
    // a third of the cost of the boot clock (see the bench's reference programs).
    // SAFETY: the helper has no preconditions.
    let now_ns = unsafe { bpf_ktime_get_coarse_ns() };
    let slow_window_ns = config.slow_sweep_window_ns;
    // Before the short sketch records this probe, which may start it over.
    let slow_distinct = match (slow, &short) {
        (Some(slow), _) => {
            slow.sender = sender;
            slow.observe(now_ns, port, slow_window_ns)
        }
        (None, Some(short)) if config.slow_sweep_ports != 0 => {
            let mut slow = **short;
            slow.sender = sender;
            let distinct = slow.observe(now_ns, port, slow_window_ns);
            // A full LRU map evicts its least recently used sketch; failing to store only
            // forgets this one.
            let _ = SLOW_SWEEPS.insert(&src, &slow, 0);
            distinct
        }
        (None, _) => 0,
    };
    let distinct = match short {
        Some(short) => {
            short.sender = sender;
            short.observe(now_ns, port, config.sweep_window_ns)
        }
        None => {
            let mut short = Sweep {
                sender,
                ..Sweep::default()
            };
            let distinct = short.observe(now_ns, port, config.sweep_window_ns);
            let _ = SWEEPS.insert(&src, &short, 0);
            distinct
        }
    };
    let kind = if config.sweep_ports != 0 && distinct >= config.sweep_ports {
        Kind::PortSweep
    } else if config.slow_sweep_ports != 0 && slow_distinct >= config.slow_sweep_ports {
        Kind::SlowSweep
    } else {
        return None;
    };
    // Allow-listed and lock-out protected sources are never a sweep. Asked only at the
    // threshold: the allow-list is a trie lookup, which most probes are spared.
    allowance(&src).is_none().then_some(kind)
}

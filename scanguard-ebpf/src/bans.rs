//! Enforcing and creating bans in the LRU ban map.

use aya_ebpf::bindings::BPF_NOEXIST;
use scanguard_common::{
    ban::{AddrKey, Ban, ORIGIN_DETECTED},
    config::BanMode,
    counters::Counter,
    kind::Kind,
};

use crate::{counters::count, maps::BANS};

/// include/uapi/asm-generic/errno-base.h; the bindings do not carry errno values.
const EEXIST: i32 = 17;

/// Returns the ban's reason if `src` is banned now, recording the dropped packet. An expired
/// ban is deleted on the spot (userspace sweeps the ones never seen again).
#[inline(always)]
pub fn enforce(src: &AddrKey, now_ns: u64, mode: BanMode) -> Option<Kind> {
    let ban = BANS.get_ptr_mut(src)?;
    // SAFETY: the pointer is a live map value. Two CPUs dropping packets of the same source at
    // the same instant may lose one count: the bpfel target offers no atomic fetch_add in stable
    // core, and the counter is informational.
    let ban = unsafe { &mut *ban };
    if ban.is_expired(now_ns, mode) {
        if BANS.remove(src).is_ok() {
            count(Counter::BansExpired);
        }
        return None;
    }
    ban.last_seen_ns = now_ns;
    ban.dropped_packets += 1;
    // Manual bans carry a placeholder kind; an unknown byte is reported as a NULL scan too.
    Some(Kind::from_u8(ban.reason).unwrap_or(Kind::NullScan))
}

#[inline(always)]
pub fn ban(src: &AddrKey, now_ns: u64, duration_ns: u64, reason: Kind) {
    let entry = Ban::new(now_ns, duration_ns, reason, ORIGIN_DETECTED);
    // NOEXIST keeps the first reason when two CPUs ban the same source at once.
    match BANS.insert(src, &entry, u64::from(BPF_NOEXIST)) {
        Ok(()) => count(Counter::BansCreated),
        Err(error) if error == -EEXIST => {}
        Err(_) => count(Counter::BanInsertFailed),
    }
}

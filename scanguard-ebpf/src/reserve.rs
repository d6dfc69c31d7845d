//! The reserve of the ban budget, for sources that come back after the global budget turned
//! them away (see `scanguard_common::reserve`).

use aya_ebpf::{
    macros::map,
    maps::{Array, LruHashMap},
};
use scanguard_common::{
    ban::AddrKey,
    bucket::TokenBucket,
    config::Config,
    reserve::{TURNED_AWAY_CAPACITY, Turned},
};

use crate::state::update_global;

/// Sources the spent global budget turned away, and when; the oldest are evicted first.
#[map]
static TURNED_AWAY: LruHashMap<AddrKey, Turned> =
    LruHashMap::with_max_entries(TURNED_AWAY_CAPACITY, 0);

/// The reserve's token bucket; starts empty and fills at once (its clock starts at 0).
#[map]
static RESERVE_BUDGET: Array<TokenBucket> = Array::with_max_entries(1, 0);

/// Called when the global budget turned `src` away: a ban from the reserve if `src` was turned
/// away before, within a ban's length, and the reserve has one; otherwise `src` is remembered.
#[inline(always)]
pub fn take(src: &AddrKey, now_ns: u64, config: &Config) -> bool {
    if config.reserved_ban_rate.interval_ns == 0 {
        return false;
    }
    let returning = TURNED_AWAY
        .get_ptr(src)
        // SAFETY: a live map value, only read.
        .is_some_and(|turned| unsafe { &*turned }.returning(now_ns, config.ban_ns));
    if !returning {
        let _ = TURNED_AWAY.insert(src, &Turned { at_ns: now_ns }, 0);
        return false;
    }
    let granted = update_global(&RESERVE_BUDGET, |bucket| {
        bucket.admit(now_ns, &config.reserved_ban_rate).is_some()
    })
    .unwrap_or(false);
    if granted {
        let _ = TURNED_AWAY.remove(src);
    }
    granted
}

//! The reserve of the ban budget, for sources that come back after the global budget turned
//! them away (see `scanguard_common::reserve`).

use scanguard_common::{addr::AddrKey, config::Config, reserve::Turned};

use crate::{
    map_update::update_global,
    maps::{RESERVE_BUDGET, TURNED_AWAY},
};

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

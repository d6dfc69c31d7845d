//! Whether a frame's source is banned, for most packets at the cost of an inlined array lookup
//! or two: the ban filter rules out sources never banned, and a per-CPU verdict cache answers
//! again within the same jiffy (one scheduler tick) while no ban was made or lifted. Only the
//! rest pay the ban map's hash lookup and the boot clock, once per source, CPU and tick: an
//! expiry takes effect within a tick, and a ban's drop count and last-seen time are at most a
//! tick behind.

use aya_ebpf::helpers::bpf_jiffies64;
use scanguard_common::{
    addr::AddrKey,
    ban_filter::{CachedVerdict, VERDICT_SLOTS, filter_spot, source_hash},
    config::Config,
};

use crate::{
    bans,
    clock::Clock,
    maps::{self, BAN_FILTER, VERDICTS},
};

pub enum Standing {
    Clear,
    /// Banned, as this CPU found in the ban map earlier in this tick.
    Banned,
    /// Banned, found in the ban map just now: the first drop of this source in this tick. With
    /// the ban's reason byte.
    Confirmed(u8),
}

#[inline(always)]
pub fn standing(src: AddrKey, config: &Config, clock: &mut Clock) -> Standing {
    let hash = source_hash(&src);
    if !maybe_banned(hash, config.ban_filter_mask) {
        return Standing::Clear;
    }
    // SAFETY: the helper has no preconditions; the verifier inlines it into a load.
    let jiffy = unsafe { bpf_jiffies64() };
    let epoch = maps::ban_epoch();
    // Per CPU, so no entry is shared and none needs atomics.
    let Some(slot) = VERDICTS.get_ptr_mut(hash % VERDICT_SLOTS) else {
        return confirm(&src, 0, config, clock);
    };
    // SAFETY: this CPU's entry, only touched by this CPU while the program runs.
    let slot = unsafe { &mut *slot };
    if slot.src == src && slot.jiffy == jiffy && slot.epoch == epoch {
        if slot.banned == 0 {
            return Standing::Clear;
        }
        slot.dropped += 1;
        return Standing::Banned;
    }
    let carried = if slot.src == src {
        slot.dropped
    } else {
        // The drops this slot counted for its previous source go to that source's ban.
        bans::hand_over(&slot.src, slot.dropped);
        0
    };
    let standing = confirm(&src, carried, config, clock);
    *slot = CachedVerdict {
        src,
        jiffy,
        epoch,
        dropped: 0,
        banned: u64::from(!matches!(standing, Standing::Clear)),
    };
    standing
}

/// A missing filter line reads as "maybe": the ban map decides.
#[inline(always)]
fn maybe_banned(hash: u32, mask: u32) -> bool {
    let (line, byte) = filter_spot(hash, mask);
    BAN_FILTER.get(line).is_none_or(|line| line[byte] != 0)
}

#[inline(always)]
fn confirm(src: &AddrKey, carried: u64, config: &Config, clock: &mut Clock) -> Standing {
    match bans::enforce(src, carried, clock.now_ns(), config.ban_mode()) {
        Some(reason) => Standing::Confirmed(reason),
        None => Standing::Clear,
    }
}

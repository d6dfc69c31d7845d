//! Read-modify-write helpers for map values: change a source's entry in an LRU hash map in
//! place (or store a fresh one), or the single entry of a global array, through a closure.
//!
//! Two CPUs updating one entry at once may lose an update: this state is counters, windows and
//! token credit, where that costs a count, never memory safety (the value stays in the map).

use aya_ebpf::maps::{Array, LruHashMap};

/// Applies `change` to `key`'s value, or to `fresh` which is then stored (a full LRU map evicts
/// its least recently used entry; failing to store only forgets this one).
#[inline(always)]
pub fn update<K, V: Copy, R>(
    map: &LruHashMap<K, V>,
    key: &K,
    fresh: V,
    change: impl FnOnce(&mut V) -> R,
) -> R {
    match map.get_ptr_mut(key) {
        // SAFETY: a live value of this map; see the module comment for concurrency.
        Some(value) => change(unsafe { &mut *value }),
        None => {
            let mut value = fresh;
            let result = change(&mut value);
            let _ = map.insert(key, &value, 0);
            result
        }
    }
}

/// Applies `change` to the single entry of a global array, `None` if the lookup fails.
#[inline(always)]
pub fn update_global<V, R>(array: &Array<V>, change: impl FnOnce(&mut V) -> R) -> Option<R> {
    // SAFETY: a live value of this map; see the module comment for concurrency.
    array
        .get_ptr_mut(0)
        .map(|value| change(unsafe { &mut *value }))
}

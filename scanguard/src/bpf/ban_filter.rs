//! Userspace's side of the ban filter (see `scanguard_common::ban_filter`): bans made here are
//! marked through a shared memory mapping of the filter map, one byte store each, which cannot
//! undo a mark the program makes in the same line at the same moment (a map update, which
//! copies the whole line, could). Every ban made or lifted here also changes the ban epoch, so
//! the program's cached verdicts end at once.

use std::{
    borrow::Borrow,
    collections::HashMap,
    num::NonZeroUsize,
    os::fd::AsFd,
    ptr::NonNull,
    sync::atomic::{AtomicU8, Ordering},
};

use anyhow::{Context as _, Result, bail};
use aya::maps::{Array, MapData, PerCpuArray};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};
use scanguard_common::{
    addr::AddrKey,
    ban_filter::{CachedVerdict, FILTER_LINE_BYTES, filter_spot, source_hash},
};

use crate::bpf::clock;

/// Stale bytes (set, though no ban in force needs them) are cleared once they are this share of
/// the filter: 1/32, about 3% of the sources never banned paying a needless ban-map lookup.
const STALE_SHARE: usize = 32;

pub struct BanFilter {
    bytes: NonNull<AtomicU8>,
    len: usize,
    mask: u32,
    epoch: BanEpoch,
}

/// The ban epoch: a global variable of the program, written through its one-entry map.
pub struct BanEpoch(Array<MapData, u64>);

impl BanEpoch {
    pub fn new(map: MapData) -> Result<BanEpoch> {
        Ok(BanEpoch(Array::try_from(aya::maps::Map::Array(map))?))
    }

    /// Ends the program's cached verdicts, after a ban was made or lifted here: one map update.
    /// The boot clock is a value no earlier change wrote.
    pub fn touch(&mut self) -> Result<()> {
        self.0
            .set(0, clock::boot_ns(), 0)
            .context("cannot update the ban epoch")
    }
}

impl BanFilter {
    /// Maps the filter map `map` (created with BPF_F_MMAPABLE) into memory, beside the ban
    /// `epoch`.
    pub fn map(map: &MapData, epoch: BanEpoch) -> Result<BanFilter> {
        let mask = mask_of(map)?;
        let len = (mask as usize + 1) * FILTER_LINE_BYTES;
        let length = NonZeroUsize::new(len).context("the ban filter is empty")?;
        // SAFETY: a fresh shared mapping of the map's own memory, unmapped on drop; the kernel
        // keeps the map alive while it is mapped.
        let bytes = unsafe {
            mmap(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                map.fd().as_fd(),
                0,
            )
        }
        .context("cannot map the ban filter into memory")?;
        Ok(BanFilter {
            bytes: bytes.cast(),
            len,
            mask,
            epoch,
        })
    }

    /// What the program needs in its config to find a source's byte.
    pub const fn mask(&self) -> u32 {
        self.mask
    }

    /// Marks `key`'s byte: its packets look in the ban map from now on.
    pub fn mark(&mut self, key: &AddrKey) -> Result<()> {
        self.mark_all([key])
    }

    /// Marks every key's byte, then ends the cached verdicts once.
    pub fn mark_all<'a>(&mut self, keys: impl IntoIterator<Item = &'a AddrKey>) -> Result<()> {
        for key in keys {
            self.byte(self.index(key)).store(1, Ordering::Relaxed);
        }
        self.touch()
    }

    /// An empty record of the bytes bans need, to fill with the bans in force.
    pub fn needs(&self) -> Needed {
        Needed {
            bits: vec![0; self.len.div_ceil(64)],
            mask: self.mask,
        }
    }

    /// Clears the bytes no ban in force needs (the bans in force are `needed`'s), once they are
    /// enough to cost; returns how many it cleared. Bans made since `needed` was filled may
    /// lose their mark: after a clearing, the caller marks every ban in the map anew, and
    /// until then such a ban's source passes.
    pub fn clear_stale(&mut self, needed: &Needed) -> usize {
        let is_stale = |index: usize| self.is_set(index) && !needed.has(index);
        let stale = (0..self.len).filter(|&index| is_stale(index)).count();
        if stale * STALE_SHARE < self.len {
            return 0;
        }
        for index in 0..self.len {
            if is_stale(index) {
                self.byte(index).store(0, Ordering::Relaxed);
            }
        }
        stale
    }

    fn index(&self, key: &AddrKey) -> usize {
        byte_index(key, self.mask)
    }

    fn is_set(&self, index: usize) -> bool {
        self.byte(index).load(Ordering::Relaxed) != 0
    }

    fn byte(&self, index: usize) -> &AtomicU8 {
        assert!(index < self.len, "filter byte {index} of {}", self.len);
        // SAFETY: inside the mapping, which lives as long as `self`; the program and other
        // processes change its bytes only by one-byte stores.
        unsafe { self.bytes.add(index).as_ref() }
    }

    /// Ends the program's cached verdicts (see [`BanEpoch::touch`]).
    pub fn touch(&mut self) -> Result<()> {
        self.epoch.touch()
    }
}

/// The filter bytes some bans need, one bit each.
pub struct Needed {
    bits: Vec<u64>,
    mask: u32,
}

impl Needed {
    pub fn add(&mut self, key: &AddrKey) {
        let index = byte_index(key, self.mask);
        self.bits[index / 64] |= 1 << (index % 64);
    }

    fn has(&self, index: usize) -> bool {
        self.bits[index / 64] & 1 << (index % 64) != 0
    }
}

/// Where `key`'s byte is in a filter whose lines `mask` indexes: always inside it.
fn byte_index(key: &AddrKey, mask: u32) -> usize {
    let (line, byte) = filter_spot(source_hash(key), mask);
    line as usize * FILTER_LINE_BYTES + byte
}

impl Drop for BanFilter {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, with its length.
        let _ = unsafe { munmap(self.bytes.cast(), self.len) };
    }
}

/// What the program needs in its config to find a source's byte in the filter map `map`, whose
/// lines are a power of two.
pub fn mask_of(map: &MapData) -> Result<u32> {
    let lines = map.info()?.max_entries();
    if !lines.is_power_of_two() {
        bail!("the ban filter has {lines} lines, not a power of two");
    }
    Ok(lines - 1)
}

/// Drops the program counted in its per-CPU verdicts and has not yet added to the bans (it
/// does at the source's next packet in a later tick), per source.
pub fn pending_drops<T: Borrow<MapData>>(
    verdicts: &PerCpuArray<T, CachedVerdict>,
) -> Result<HashMap<AddrKey, u64>> {
    let mut pending = HashMap::new();
    for verdict in banned_verdicts(verdicts)? {
        if verdict.dropped > 0 {
            *pending.entry(verdict.src).or_default() += verdict.dropped;
        }
    }
    Ok(pending)
}

/// The "banned" verdicts cached on every CPU.
pub fn banned_verdicts<T: Borrow<MapData>>(
    verdicts: &PerCpuArray<T, CachedVerdict>,
) -> Result<Vec<CachedVerdict>> {
    let mut banned = Vec::new();
    for slot in 0..verdicts.len() {
        let per_cpu = verdicts.get(&slot, 0)?;
        banned.extend(per_cpu.iter().filter(|verdict| verdict.banned != 0));
    }
    Ok(banned)
}

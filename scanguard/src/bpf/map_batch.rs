//! BPF_MAP_UPDATE_BATCH, BPF_MAP_DELETE_BATCH and BPF_MAP_LOOKUP_BATCH (Linux 5.6), which
//! aya 0.14 does not wrap: its iterator takes two syscalls per entry, seconds for a million
//! bans.

use std::os::fd::{AsRawFd as _, BorrowedFd};

use anyhow::{Context as _, Result, bail};
use bytemuck::Pod;

use crate::bpf::sys::bpf;

/// include/uapi/linux/bpf.h, `enum bpf_cmd`.
const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
const BPF_MAP_UPDATE_BATCH: libc::c_long = 26;
const BPF_MAP_DELETE_BATCH: libc::c_long = 27;

/// How many times a walk may double its chunk for a bucket that does not fit: hash buckets
/// hold a handful of entries, so this only stops a runaway allocation.
const MAX_GROWTH: u32 = 20;

/// The `batch` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// Inserts or replaces `keys[i] -> values[i]`; returns how many the kernel processed.
pub fn update<K: Pod, V: Pod>(map: BorrowedFd<'_>, keys: &[K], values: &[V]) -> Result<u32> {
    if keys.len() != values.len() {
        bail!("{} keys but {} values", keys.len(), values.len());
    }
    let mut attr = BatchAttr {
        keys: keys.as_ptr() as u64,
        values: values.as_ptr() as u64,
        count: u32::try_from(keys.len())?,
        map_fd: u32::try_from(map.as_raw_fd())?,
        ..BatchAttr::default()
    };
    // SAFETY: `batch` is the command's member; `keys` and `values` hold `count` elements each.
    unsafe { bpf(BPF_MAP_UPDATE_BATCH, &mut attr) }
        .context("BPF_MAP_UPDATE_BATCH (needs Linux 5.6)")?;
    Ok(attr.count)
}

/// Deletes `keys`; returns how many the kernel deleted. The kernel stops at the first key
/// it cannot delete (ENOENT for one not in the map): the error comes with that count.
pub fn delete<K: Pod>(map: BorrowedFd<'_>, keys: &[K]) -> Result<u32, (u32, std::io::Error)> {
    let mut attr = BatchAttr {
        keys: keys.as_ptr() as u64,
        count: u32::try_from(keys.len()).unwrap_or(u32::MAX),
        map_fd: u32::try_from(map.as_raw_fd()).unwrap_or(u32::MAX),
        ..BatchAttr::default()
    };
    // SAFETY: `batch` is the command's member; `keys` holds `count` elements.
    match unsafe { bpf(BPF_MAP_DELETE_BATCH, &mut attr) } {
        Ok(_) => Ok(attr.count),
        Err(error) => Err((attr.count, error)),
    }
}

/// Every entry of a hash or LRU hash map, read `chunk` entries per BPF_MAP_LOOKUP_BATCH.
/// Entries the program adds or deletes meanwhile may or may not be in the result.
pub fn lookup_all<K: Pod, V: Pod>(map: BorrowedFd<'_>, chunk: usize) -> Result<Vec<(K, V)>> {
    let mut entries = Vec::new();
    for_each_chunk(map, chunk, |keys: &[K], values: &[V]| {
        entries.extend(keys.iter().copied().zip(values.iter().copied()));
        Ok(())
    })?;
    Ok(entries)
}

/// Hands the entries of a hash or LRU hash map to `visit` one BPF_MAP_LOOKUP_BATCH at a time,
/// `chunk` entries or a bucket that does not fit in fewer: a walk whose memory does not grow
/// with the map. Entries the program adds or deletes meanwhile may or may not be visited.
pub fn for_each_chunk<K: Pod, V: Pod>(
    map: BorrowedFd<'_>,
    chunk: usize,
    visit: impl FnMut(&[K], &[V]) -> Result<()>,
) -> Result<()> {
    walk(
        chunk,
        |token, keys, values| lookup(map, token, keys, values),
        visit,
    )
}

/// What one BPF_MAP_LOOKUP_BATCH on a hash map did (kernel/bpf/hashtab.c).
enum Step {
    /// `count` entries read; the walk goes on from bucket `next`.
    More { count: usize, next: u32 },
    /// ENOENT: the walk is over, and the `count` entries read on the way are valid.
    Done { count: usize },
    /// ENOSPC: the next bucket holds more entries than the buffers; nothing was read.
    TooSmall,
}

/// Reads whole buckets from `token` (the start when `None`) into `keys` and `values`.
fn lookup<K: Pod, V: Pod>(
    map: BorrowedFd<'_>,
    token: Option<u32>,
    keys: &mut [K],
    values: &mut [V],
) -> Result<Step> {
    let mut next = 0u32;
    let mut attr = BatchAttr {
        in_batch: token
            .as_ref()
            .map_or(0, |token| std::ptr::from_ref(token) as u64),
        out_batch: (&raw mut next) as u64,
        keys: keys.as_mut_ptr() as u64,
        values: values.as_mut_ptr() as u64,
        count: u32::try_from(keys.len().min(values.len()))?,
        map_fd: u32::try_from(map.as_raw_fd())?,
        ..BatchAttr::default()
    };
    // SAFETY: `batch` is the command's member; `keys` and `values` hold `count` elements each,
    // and the tokens are 4-byte buckets, as the hash map batch operations expect.
    let result = unsafe { bpf(BPF_MAP_LOOKUP_BATCH, &mut attr) };
    let count = usize::try_from(attr.count)?;
    match result {
        Ok(_) => Ok(Step::More { count, next }),
        Err(error) => match error.raw_os_error() {
            Some(libc::ENOENT) => Ok(Step::Done { count }),
            Some(libc::ENOSPC) => Ok(Step::TooSmall),
            _ => Err(error).context("BPF_MAP_LOOKUP_BATCH (needs Linux 5.6 and a hash map)"),
        },
    }
}

/// The walk over a hash map's buckets, apart from the syscall so that it can be tested.
/// Bounded: every call either moves to a later bucket, ends the walk, or grows the chunk.
fn walk<K: Pod, V: Pod>(
    mut chunk: usize,
    mut lookup: impl FnMut(Option<u32>, &mut [K], &mut [V]) -> Result<Step>,
    mut visit: impl FnMut(&[K], &[V]) -> Result<()>,
) -> Result<()> {
    if chunk == 0 {
        bail!("a batch lookup needs room for at least one entry");
    }
    let mut keys = vec![K::zeroed(); chunk];
    let mut values = vec![V::zeroed(); chunk];
    let mut token = None;
    let mut growth = 0;
    loop {
        match lookup(token, &mut keys, &mut values)? {
            Step::More { count, next } => {
                if let Some(token) = token.filter(|token| next <= *token) {
                    bail!("BPF_MAP_LOOKUP_BATCH did not move past bucket {token} (next: {next})");
                }
                visit(read(&keys, count), read(&values, count))?;
                token = Some(next);
            }
            Step::Done { count } => {
                return visit(read(&keys, count), read(&values, count));
            }
            Step::TooSmall => {
                growth += 1;
                if growth > MAX_GROWTH {
                    bail!("a hash bucket holds more than {chunk} entries; is this a hash map?");
                }
                chunk *= 2;
                keys.resize(chunk, K::zeroed());
                values.resize(chunk, V::zeroed());
            }
        }
    }
}

/// The `count` elements a call filled (never more than the buffer holds).
fn read<T>(buffer: &[T], count: usize) -> &[T] {
    &buffer[..count.min(buffer.len())]
}

#[cfg(test)]
#[path = "map_batch_tests.rs"]
mod tests;

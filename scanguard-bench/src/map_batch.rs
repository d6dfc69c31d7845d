//! BPF_MAP_UPDATE_BATCH (Linux 5.6), which aya 0.14 does not wrap: filling a million-entry
//! ban map one syscall per entry would take longer than the measurement it prepares.

use std::os::fd::{AsRawFd as _, BorrowedFd};

use anyhow::{Result, bail};
use bytemuck::Pod;

/// include/uapi/linux/bpf.h, `enum bpf_cmd`.
const BPF_MAP_UPDATE_BATCH: libc::c_long = 26;

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
    // SAFETY: attr points at valid key and value arrays of `count` elements each, which the
    // kernel only reads; it writes back `count`.
    let result = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_UPDATE_BATCH,
            &raw mut attr,
            std::mem::size_of::<BatchAttr>(),
        )
    };
    if result < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(attr.count)
}

const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;

/// Reads every entry with BPF_MAP_LOOKUP_BATCH, `chunk` at a time; returns how many there were.
/// For hash maps the kernel's batch token is a bucket index (kernel/bpf/hashtab.c).
pub fn count_all<K: Pod, V: Pod>(map: BorrowedFd<'_>, chunk: usize) -> Result<u64> {
    let mut keys = vec![K::zeroed(); chunk];
    let mut values = vec![V::zeroed(); chunk];
    let (mut token_in, mut token_out) = (0u32, 0u32);
    let mut total = 0u64;
    // A million entries in chunks of `chunk`, with a generous bound on the number of calls.
    for call in 0..(1usize << 24) {
        let mut attr = BatchAttr {
            in_batch: if call == 0 {
                0
            } else {
                (&raw mut token_in) as u64
            },
            out_batch: (&raw mut token_out) as u64,
            keys: keys.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            count: u32::try_from(chunk)?,
            map_fd: u32::try_from(map.as_raw_fd())?,
            ..BatchAttr::default()
        };
        // SAFETY: the key and value buffers hold `count` elements each, the tokens 4 bytes.
        let result = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_MAP_LOOKUP_BATCH,
                &raw mut attr,
                std::mem::size_of::<BatchAttr>(),
            )
        };
        total += u64::from(attr.count);
        if result < 0 {
            let error = std::io::Error::last_os_error();
            // ENOENT: the walk is over (the last chunk's entries were still returned).
            if error.raw_os_error() == Some(libc::ENOENT) {
                return Ok(total);
            }
            return Err(error.into());
        }
        token_in = token_out;
    }
    bail!("BPF_MAP_LOOKUP_BATCH did not finish")
}

//! The bpf(2) commands aya 0.14 does not expose: batched map reads and writes (see
//! `map_batch`), opening a pinned object as a plain descriptor, and switching a link's program.

use std::{
    ffi::CString,
    os::{
        fd::{AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd, RawFd},
        unix::ffi::OsStrExt as _,
    },
    path::Path,
};

use anyhow::{Context as _, Result};

/// include/uapi/linux/bpf.h, `enum bpf_cmd`.
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_LINK_UPDATE: libc::c_long = 29;

/// Runs the bpf(2) `command` with `attr`; returns what the call returned.
///
/// # Safety
/// `attr` is the member of `union bpf_attr` that `command` reads, and every pointer in it
/// points at memory of the size and kind the command expects.
pub unsafe fn bpf<A>(command: libc::c_long, attr: &mut A) -> std::io::Result<libc::c_long> {
    // SAFETY: as the caller promised; the kernel reads and writes at most size_of::<A>() bytes.
    let result = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command,
            std::ptr::from_mut(attr),
            std::mem::size_of::<A>(),
        )
    };
    if result < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(result)
}

/// The `obj` member of `union bpf_attr` (BPF_OBJ_GET).
#[repr(C)]
#[derive(Default)]
struct ObjAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

/// The `link_update` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct LinkUpdateAttr {
    link_fd: u32,
    new_prog_fd: u32,
    flags: u32,
    old_prog_fd: u32,
}

/// Opens the BPF object pinned at `path`.
pub fn open_pinned(path: &Path) -> Result<OwnedFd> {
    let pathname = CString::new(path.as_os_str().as_bytes())?;
    let mut attr = ObjAttr {
        pathname: pathname.as_ptr() as u64,
        ..ObjAttr::default()
    };
    // SAFETY: `obj` is BPF_OBJ_GET's member; `pathname` is a NUL-terminated path that outlives
    // the call.
    let fd = unsafe { bpf(BPF_OBJ_GET, &mut attr) }
        .with_context(|| format!("cannot open the pinned object {}", path.display()))?;
    // SAFETY: a new descriptor the kernel just returned, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(RawFd::try_from(fd)?) })
}

/// Makes `link` run `program` from now on (Linux 5.7).
pub fn link_update(link: BorrowedFd<'_>, program: BorrowedFd<'_>) -> Result<()> {
    let mut attr = LinkUpdateAttr {
        link_fd: u32::try_from(link.as_raw_fd())?,
        new_prog_fd: u32::try_from(program.as_raw_fd())?,
        ..LinkUpdateAttr::default()
    };
    // SAFETY: `link_update` is BPF_LINK_UPDATE's member; it holds no pointers.
    unsafe { bpf(BPF_LINK_UPDATE, &mut attr) }.context("BPF_LINK_UPDATE (needs Linux 5.7)")?;
    Ok(())
}

//! An AF_PACKET socket that writes whole frames out of one interface, past its qdisc
//! (PACKET_QDISC_BYPASS), many to a system call: the relay generator's feed.

use std::{
    io,
    mem::{size_of, zeroed},
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    ptr,
};

use anyhow::{Context as _, Result};

/// Frames per `sendmmsg` call.
const BATCH: usize = 256;

pub struct PacketSocket {
    fd: OwnedFd,
    address: libc::sockaddr_ll,
}

impl PacketSocket {
    /// A socket on `ifindex` of the calling thread's network namespace.
    pub fn open(ifindex: u32) -> Result<PacketSocket> {
        // SAFETY: plain system call; the descriptor is owned below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error()).context("cannot open an AF_PACKET socket");
        }
        // SAFETY: a descriptor just opened and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let bypass: libc::c_int = 1;
        // SAFETY: the option value is a c_int of the size passed.
        let set = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                ptr::from_ref(&bypass).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if set != 0 {
            return Err(io::Error::last_os_error()).context("cannot set PACKET_QDISC_BYPASS");
        }
        // SAFETY: sockaddr_ll is plain data, valid when zeroed.
        let mut address: libc::sockaddr_ll = unsafe { zeroed() };
        address.sll_family = libc::AF_PACKET as u16;
        address.sll_ifindex = i32::try_from(ifindex)?;
        address.sll_halen = 6;
        Ok(PacketSocket { fd, address })
    }

    /// Writes `frame` `count` times; returns how many the interface took. A write it refuses
    /// (ENOBUFS: the veth's ring is full) is skipped, so the call always ends.
    pub fn send(&self, frame: &[u8], count: u64) -> Result<u64> {
        let mut iov = libc::iovec {
            iov_base: frame.as_ptr().cast_mut().cast(),
            iov_len: frame.len(),
        };
        // SAFETY: mmsghdr is plain data, valid when zeroed; its pointers are set next.
        let mut header: libc::mmsghdr = unsafe { zeroed() };
        header.msg_hdr.msg_name = ptr::from_ref(&self.address).cast_mut().cast();
        header.msg_hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        header.msg_hdr.msg_iov = &raw mut iov;
        header.msg_hdr.msg_iovlen = 1;
        let mut headers = [header; BATCH];
        let (mut sent, mut left) = (0u64, count);
        while left > 0 {
            let batch = left.min(BATCH as u64);
            // SAFETY: `headers` holds `batch` valid entries, each pointing at `iov`, `frame`
            // and `self.address`, which outlive the call.
            let result = unsafe {
                libc::sendmmsg(self.fd.as_raw_fd(), headers.as_mut_ptr(), batch as u32, 0)
            };
            match u64::try_from(result) {
                Ok(taken) => {
                    sent += taken;
                    left -= taken.max(1);
                }
                Err(_) => {
                    let error = io::Error::last_os_error();
                    if error.raw_os_error() != Some(libc::ENOBUFS) {
                        return Err(error).context("cannot send on the AF_PACKET socket");
                    }
                    left -= 1;
                }
            }
        }
        Ok(sent)
    }
}

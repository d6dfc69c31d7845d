//! Bounds-checked reads of packet memory, the only way the programs touch a frame.

use core::mem::size_of;

use aya_ebpf::programs::{TcContext, XdpContext};
use scanguard_common::parse::Packet;

/// A program context that exposes its frame as `[data, data_end)`.
pub trait Frame {
    fn data(&self) -> usize;
    fn data_end(&self) -> usize;
}

impl Frame for XdpContext {
    #[inline(always)]
    fn data(&self) -> usize {
        XdpContext::data(self)
    }

    #[inline(always)]
    fn data_end(&self) -> usize {
        XdpContext::data_end(self)
    }
}

impl Frame for TcContext {
    #[inline(always)]
    fn data(&self) -> usize {
        TcContext::data(self)
    }

    #[inline(always)]
    fn data_end(&self) -> usize {
        TcContext::data_end(self)
    }
}

pub struct PacketOf<'a, C: Frame>(pub &'a C);

impl<C: Frame> Packet for PacketOf<'_, C> {
    #[inline(always)]
    fn read<T: Copy>(&self, offset: usize) -> Option<T> {
        let start = self.0.data();
        let end = self.0.data_end();
        // The verifier needs this exact comparison against data_end before any access.
        if start + offset + size_of::<T>() > end {
            return None;
        }
        // SAFETY: the range [start+offset, start+offset+size_of::<T>()) is inside the frame,
        // and T is a plain header type valid for any bytes.
        Some(unsafe { ((start + offset) as *const T).read_unaligned() })
    }
}

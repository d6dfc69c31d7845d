//! Bounds-checked reads of packet memory, the only way the program touches the frame.

use core::mem::size_of;

use aya_ebpf::programs::XdpContext;
use scanguard_common::parse::Packet;

pub struct XdpPacket<'a>(pub &'a XdpContext);

impl Packet for XdpPacket<'_> {
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

//! Bounds-checked reads of packet memory, the only way the programs touch a frame: a program
//! context ([`Context`]) seen as the parser's [`Packet`] ([`PacketOf`]).

use core::{
    arch::asm,
    ffi::c_void,
    mem::{MaybeUninit, size_of},
};

use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_skb_load_bytes, bpf_xdp_load_bytes},
    programs::{TcContext, XdpContext},
};
use scanguard_common::parse::{Packet, Span, Word};

/// A program context (XDP or TC) that exposes its frame as `[data, data_end)`.
pub trait Context: EbpfContext {
    fn data(&self) -> usize;
    fn data_end(&self) -> usize;
    /// The interface the frame came in on.
    fn ingress_ifindex(&self) -> u32;
    /// Fills `to` from `offset` through the context's load-bytes helper; false past the end,
    /// `to` then left as it was.
    fn load_bytes<const N: usize>(&self, offset: usize, to: &mut MaybeUninit<[u8; N]>) -> bool;
}

impl Context for XdpContext {
    #[inline(always)]
    fn data(&self) -> usize {
        XdpContext::data(self)
    }

    #[inline(always)]
    fn data_end(&self) -> usize {
        XdpContext::data_end(self)
    }

    #[inline(always)]
    fn ingress_ifindex(&self) -> u32 {
        XdpContext::ingress_ifindex(self) as u32
    }

    #[inline(always)]
    fn load_bytes<const N: usize>(&self, offset: usize, to: &mut MaybeUninit<[u8; N]>) -> bool {
        let to = to.as_mut_ptr().cast::<c_void>();
        // SAFETY: `to` holds N bytes; the helper checks the frame's bounds itself.
        unsafe { bpf_xdp_load_bytes(self.ctx, offset as u32, to, N as u32) == 0 }
    }
}

impl Context for TcContext {
    #[inline(always)]
    fn data(&self) -> usize {
        TcContext::data(self)
    }

    #[inline(always)]
    fn data_end(&self) -> usize {
        TcContext::data_end(self)
    }

    #[inline(always)]
    fn ingress_ifindex(&self) -> u32 {
        // SAFETY: the context's `__sk_buff`, valid while the program runs.
        unsafe { (*self.skb.skb).ingress_ifindex }
    }

    #[inline(always)]
    fn load_bytes<const N: usize>(&self, offset: usize, to: &mut MaybeUninit<[u8; N]>) -> bool {
        let to = to.as_mut_ptr().cast::<c_void>();
        // SAFETY: `to` holds N bytes; the helper checks the packet's bounds itself.
        unsafe { bpf_skb_load_bytes(self.skb.skb.cast(), offset as u32, to, N as u32) == 0 }
    }
}

/// The frame of a program context, read field by field as `scanguard_common::parse` reads it.
pub struct PacketOf<'a, C: Context>(pub &'a C);

impl<C: Context> Packet for PacketOf<'_, C> {
    #[inline(always)]
    fn span(&self, offset: usize, len: usize) -> Option<Span> {
        let start = self.0.data() + offset;
        // The verifier needs this exact comparison against data_end before any access.
        if start + len > self.0.data_end() {
            return None;
        }
        // SAFETY: the frame holds `len` bytes from `start`, checked just above.
        Some(unsafe { Span::new(start) })
    }

    /// One load of the field's width, at an immediate offset from the checked pointer: Rust
    /// cannot know a field is aligned, and LLVM's BPF backend splits an unaligned access into
    /// one load per byte. The verifier allows unaligned packet loads where the CPU handles them
    /// (CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS); elsewhere NET_IP_ALIGN aligns the IP header,
    /// and every field read here then sits at its natural alignment.
    #[inline(always)]
    fn load<W: Word, const AT: usize>(&self, span: Span) -> W {
        macro_rules! load {
            ($width:literal) => {{
                let value: u64;
                // SAFETY: `span` was checked to hold AT + size_of::<W>() bytes, and the asm
                // only reads them.
                unsafe {
                    asm!(
                        concat!("{v} = *(", $width, " *)({p} + {at})"),
                        v = lateout(reg) value,
                        p = in(reg) span.start(),
                        at = const AT,
                        options(pure, readonly, nostack, preserves_flags),
                    )
                };
                value
            }};
        }
        let value = match size_of::<W>() {
            1 => load!("u8"),
            2 => load!("u16"),
            4 => load!("u32"),
            _ => load!("u64"),
        };
        W::truncate(value)
    }

    #[inline(always)]
    fn copy<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        // Uninitialised: zeroing a buffer the helper fills would cost a `memset` call.
        let mut bytes = MaybeUninit::uninit();
        if !self.0.load_bytes(offset, &mut bytes) {
            return None;
        }
        // SAFETY: the helper succeeded, so it wrote all N bytes.
        Some(unsafe { bytes.assume_init() })
    }
}

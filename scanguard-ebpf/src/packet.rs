//! Bounds-checked reads of packet memory, the only way the programs touch a frame.

use core::{arch::asm, mem::size_of};

use aya_ebpf::programs::{TcContext, XdpContext};
use scanguard_common::parse::{Packet, Span, Word};

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

impl<C: Frame> PacketOf<'_, C> {
    /// The `T` at `offset`, copied byte by byte: for the cold paths that want raw bytes.
    #[inline(always)]
    pub fn read<T: Copy>(&self, offset: usize) -> Option<T> {
        let span = self.span(offset, size_of::<T>())?;
        // SAFETY: `span` checked that the frame holds size_of::<T>() bytes there, and T is
        // valid for any bytes.
        Some(unsafe { (span.start() as *const T).read_unaligned() })
    }
}

impl<C: Frame> Packet for PacketOf<'_, C> {
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
}

//! What the XDP program does with a frame: pass it, or drop it and say why.

use scanguard_common::counters::Counter;

/// The program's verdict on one frame: the entry point turns it into the XDP action, and
/// `counters::count_packet` counts it under its own counter. Each verdict's value is its
/// counter's, so counting it maps nothing: with other values LLVM kept the mapping, and the
/// program grew by 58 instructions.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Verdict {
    Pass = Counter::Passed as u32,
    /// The source is banned.
    DropBanned = Counter::DroppedBanned as u32,
    /// A probe whose kind's action is `drop` or `ban`.
    DropProbe = Counter::DroppedProbe as u32,
}

//! Types and pure logic shared by the scanguard XDP program and its loader.
//!
//! Everything here is plain data and plain functions so the decisions the kernel makes can be
//! unit-tested on the host. Wire structs are `#[repr(C)]` with explicit padding; under the `user`
//! feature they also implement `aya::Pod` and `bytemuck::Pod` (which refuses hidden padding).
#![no_std]

pub mod action;
pub mod addr;
pub mod allow;
pub mod ban;
pub mod ban_filter;
pub mod bucket;
pub mod classify;
pub mod config;
pub mod counters;
pub mod decision;
pub mod event;
pub mod fingerprint;
pub mod flow;
pub mod hardening;
pub mod kind;
pub mod parse;
pub mod ports;
pub mod reserve;
pub mod settled;
pub mod source_check;
pub mod sweep;

/// Implements `aya::Pod` and `bytemuck::{Pod, Zeroable}` for wire structs under `user`.
macro_rules! wire_struct {
    ($t:ty, $size:expr) => {
        const _: () = assert!(core::mem::size_of::<$t>() == $size);
        #[cfg(feature = "user")]
        unsafe impl aya::Pod for $t {}
        #[cfg(feature = "user")]
        unsafe impl bytemuck::Zeroable for $t {}
        #[cfg(feature = "user")]
        unsafe impl bytemuck::Pod for $t {}
    };
}
pub(crate) use wire_struct;

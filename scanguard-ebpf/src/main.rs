//! The scanguard programs: drop everything from banned sources, classify the rest, ban scanners,
//! at XDP (`scanguard`) or, where XDP costs more than it saves, at TC ingress
//! (`scanguard_tc`); both run `inspect`.
//!
//! A frame's path, module by module:
//! - `packet`: the frame's bytes behind one bounds check ([`PacketOf`] a program context), which
//!   `scanguard_common::parse` reads into a [`Frame`] of the headers a verdict needs;
//! - `standing`: whether its source is banned (the ban filter, a per-CPU cache, then `bans`);
//! - `decisions`: whether a CrowdSec LAPI decision covers it (the decision filter, then its maps);
//! - `detect`: what a frame from a source that is not banned is, if anything (with `flows` and
//!   `sweep`);
//! - `bans`: enforcing bans, and making new ones within the hardening rules;
//! - `events`: rate-limited detection events for the daemon;
//! - `counters`: per-CPU counters, each [`Verdict`] under its own.
//!
//! Beside the path: `maps` holds every map and global variable, `map_update` changes their
//! values in place, `clock` reads the boot clock at most once, and `egress` is the TC program
//! that records this host's flows.
#![no_std]
#![no_main]
#![feature(asm_experimental_arch)]

mod bans;
mod clock;
mod counters;
mod decisions;
mod detect;
mod egress;
mod events;
mod flows;
mod inspect;
mod map_update;
mod maps;
mod packet;
mod reserve;
mod source_check;
mod standing;
mod sweep;
mod verdict;

use aya_ebpf::{
    bindings::{
        tcx_action_base::{TCX_DROP, TCX_NEXT},
        xdp_action,
    },
    macros::{classifier, xdp},
    programs::{TcContext, XdpContext},
};

use crate::{counters::count_packet, inspect::inspect, verdict::Verdict};

#[xdp]
pub fn scanguard(ctx: XdpContext) -> u32 {
    let verdict = inspect(&ctx, maps::config());
    count_packet(verdict);
    match verdict {
        Verdict::Pass => xdp_action::XDP_PASS,
        Verdict::DropBanned | Verdict::DropProbe => xdp_action::XDP_DROP,
    }
}

/// The same checks at TC ingress, for interfaces where native XDP costs more than it saves: on
/// a veth it turns off the peer's segmentation offload, so every container write is cut into
/// MTU-sized frames (see docs/containers.md).
#[classifier]
pub fn scanguard_tc(ctx: TcContext) -> i32 {
    let verdict = inspect(&ctx, maps::config());
    count_packet(verdict);
    match verdict {
        // Next, not OK: programs after this one on the interface still see the frame.
        Verdict::Pass => TCX_NEXT,
        Verdict::DropBanned | Verdict::DropProbe => TCX_DROP,
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

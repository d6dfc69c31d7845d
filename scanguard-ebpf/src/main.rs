//! The scanguard XDP program: drop everything from banned sources, classify the rest, ban scanners.
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
mod map_update;
mod maps;
mod packet;
mod reserve;
mod source_check;
mod standing;
mod sweep;
mod verdict;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
use aya_log_ebpf::debug;
use scanguard_common::{
    action::Action,
    allow::{ALLOW_LISTED, ALLOW_LOCKOUT},
    config::Config,
    counters::Counter,
    event::{ACTION_WOULD_BAN, EVENT_BANNED_DROP, EVENT_DETECTION},
    fingerprint::Fingerprint,
    parse::{Frame, Header, ParseError, parse_network},
    source_check::Origin,
};

use crate::{
    bans::Outcome,
    clock::Clock,
    counters::{count, count_detection, count_packet},
    detect::detect,
    events::Report,
    packet::PacketOf,
    source_check::Claim,
    standing::{Standing, standing},
    verdict::Verdict,
};

#[xdp]
pub fn scanguard(ctx: XdpContext) -> u32 {
    let verdict = inspect(&ctx, maps::config());
    count_packet(verdict);
    match verdict {
        Verdict::Pass => xdp_action::XDP_PASS,
        Verdict::DropBanned | Verdict::DropProbe => xdp_action::XDP_DROP,
    }
}

/// What becomes of a frame.
#[inline(always)]
fn inspect(ctx: &XdpContext, config: &Config) -> Verdict {
    let packet = PacketOf(ctx);
    let network = match parse_network(&packet) {
        Ok(network) => network,
        Err(ParseError::NotIp) => return Verdict::Pass,
        Err(ParseError::Malformed) => {
            count(Counter::ParseFailed);
            return Verdict::Pass;
        }
    };
    let mut clock = Clock::new();
    match standing(network.frame.src, config, &mut clock) {
        Standing::Clear if decisions::banned(network.frame.src, &mut clock) => Verdict::DropBanned,
        Standing::Clear => judge(ctx, &network.finish(&packet), &mut clock, config),
        // Only a tick's first drop is offered to the event rate limit: its bucket lookup is a
        // helper call, which the drops after it are spared.
        Standing::Banned => Verdict::DropBanned,
        Standing::Confirmed(reason) => {
            let frame = network.finish(&packet);
            let report = Report {
                event_type: EVENT_BANNED_DROP,
                kind: reason,
                action: Action::Drop as u8,
                fingerprint: Fingerprint::None,
                ask_ifindex: 0,
            };
            events::report(ctx, &frame, clock.now_ns(), config, report);
            Verdict::DropBanned
        }
    }
}

/// Decides what to do with a frame from a source that is not banned.
#[inline(always)]
fn judge(ctx: &XdpContext, frame: &Frame, clock: &mut Clock, config: &Config) -> Verdict {
    if frame.transport.header == Header::Unparseable {
        count(Counter::ParseFailed);
        return Verdict::Pass;
    }
    let packet = PacketOf(ctx);
    let mut claim = Claim::new(ctx);
    let Some(detection) = detect(frame, &packet, config, &mut claim) else {
        return Verdict::Pass;
    };
    let kind = detection.kind;
    let action = config.action(kind);
    if action == Action::Ignore {
        return Verdict::Pass;
    }
    count_detection(kind);
    let allowance = maps::allowance(&frame.src);
    if allowance == Some(ALLOW_LISTED) {
        return Verdict::Pass;
    }
    let (verdict, taken) = match action {
        Action::Ignore | Action::Log => (Verdict::Pass, action as u8),
        Action::Ban if allowance == Some(ALLOW_LOCKOUT) => {
            count(Counter::BansSpared);
            (Verdict::Pass, ACTION_WOULD_BAN)
        }
        Action::Drop => (Verdict::DropProbe, Action::Drop as u8),
        Action::Ban => {
            // Before anything is recorded for the source: only a source the route back
            // vouches for is counted toward a ban (see `source_check`).
            let checked = claim.check(frame, config);
            if checked.origin != Origin::Verified {
                let now_ns = clock.now_ns();
                let fingerprint = detection.fingerprint;
                source_check::refuse(ctx, frame, now_ns, config, kind, fingerprint, checked);
                return Verdict::DropProbe;
            }
            let ttl = || frame.details(&packet).ttl;
            match bans::ban(frame.src, ttl, clock.now_ns(), config, kind) {
                Outcome::Banned => (Verdict::DropProbe, Action::Ban as u8),
                Outcome::Pending | Outcome::Capped => (Verdict::DropProbe, Action::Drop as u8),
            }
        }
    };
    if detection.report {
        debug!(
            ctx,
            "{} to port {} (flags {:x}): action {}",
            kind.name(),
            frame.transport.dst_port,
            frame.transport.tcp_flags,
            taken
        );
        let report = Report {
            event_type: EVENT_DETECTION,
            kind: kind as u8,
            action: taken,
            fingerprint: detection.fingerprint,
            ask_ifindex: 0,
        };
        events::report(ctx, frame, clock.now_ns(), config, report);
    }
    verdict
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

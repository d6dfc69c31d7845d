//! The scanguard XDP program: drop everything from banned sources, classify the rest, ban scanners.
#![no_std]
#![no_main]
#![feature(asm_experimental_arch)]

mod bans;
mod clock;
mod counters;
mod detect;
mod egress;
mod events;
mod flows;
mod maps;
mod packet;
mod standing;
mod state;
mod sweep;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
use aya_log_ebpf::debug;
use scanguard_common::{
    action::Action,
    allow::{ALLOW_LISTED, ALLOW_LOCKOUT},
    config::Config,
    counters::Counter,
    event::{ACTION_WOULD_BAN, EVENT_BANNED_DROP, EVENT_DETECTION},
    fingerprint::Fingerprint,
    parse::{Frame, Header, ParseError, parse},
};

use crate::{
    bans::Outcome,
    clock::Clock,
    counters::{count, count_detection, count_packet},
    detect::detect,
    events::Report,
    maps::CONFIG,
    packet::PacketOf,
    standing::{Standing, standing},
};

#[xdp]
pub fn scanguard(ctx: XdpContext) -> u32 {
    let verdict = match CONFIG.get(0) {
        Some(config) => inspect(&ctx, config),
        // The loader writes the config before attaching; without it, stay out of the way.
        None => xdp_action::XDP_PASS,
    };
    count_packet(verdict == xdp_action::XDP_PASS);
    verdict
}

#[inline(always)]
fn inspect(ctx: &XdpContext, config: &Config) -> u32 {
    let frame = match parse(&PacketOf(ctx)) {
        Ok(frame) => frame,
        Err(ParseError::NotIp) => return xdp_action::XDP_PASS,
        Err(ParseError::Malformed) => {
            count(Counter::ParseFailed);
            return xdp_action::XDP_PASS;
        }
    };
    let mut clock = Clock::new();
    match standing(&frame.src, config, &mut clock) {
        Standing::Clear => judge(ctx, &frame, &mut clock, config),
        // Only a tick's first drop is offered to the event rate limit: its bucket lookup is a
        // helper call, which the drops after it are spared.
        Standing::Banned => {
            count(Counter::DroppedBanned);
            xdp_action::XDP_DROP
        }
        Standing::Confirmed(reason) => {
            count(Counter::DroppedBanned);
            let report = Report {
                event_type: EVENT_BANNED_DROP,
                kind: reason,
                action: Action::Drop as u8,
                fingerprint: Fingerprint::None,
            };
            events::report(ctx, &frame, clock.now_ns(), config, report);
            xdp_action::XDP_DROP
        }
    }
}

/// Decides what to do with a frame from a source that is not banned.
#[inline(always)]
fn judge(ctx: &XdpContext, frame: &Frame, clock: &mut Clock, config: &Config) -> u32 {
    if frame.transport.header == Header::Unparseable {
        count(Counter::ParseFailed);
        return xdp_action::XDP_PASS;
    }
    let Some(detection) = detect(frame, clock, config) else {
        return xdp_action::XDP_PASS;
    };
    let kind = detection.kind;
    let action = config.action(kind);
    if action == Action::Ignore {
        return xdp_action::XDP_PASS;
    }
    count_detection(kind);
    let allowance = maps::allowance(&frame.src);
    if allowance == Some(ALLOW_LISTED) {
        return xdp_action::XDP_PASS;
    }
    let (verdict, taken) = match action {
        Action::Ignore | Action::Log => (xdp_action::XDP_PASS, action as u8),
        Action::Ban if allowance == Some(ALLOW_LOCKOUT) => {
            count(Counter::BansSpared);
            (xdp_action::XDP_PASS, ACTION_WOULD_BAN)
        }
        Action::Drop => {
            count(Counter::DroppedProbe);
            (xdp_action::XDP_DROP, Action::Drop as u8)
        }
        Action::Ban => {
            count(Counter::DroppedProbe);
            match bans::ban(&frame.src, frame.ttl, clock.now_ns(), config, kind) {
                Outcome::Banned => (xdp_action::XDP_DROP, Action::Ban as u8),
                Outcome::Pending | Outcome::Capped => (xdp_action::XDP_DROP, Action::Drop as u8),
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
            kind,
            action: taken,
            fingerprint: detection.fingerprint,
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

//! The scanguard XDP program: drop everything from banned sources, classify the rest, ban scanners.
#![no_std]
#![no_main]

mod bans;
mod counters;
mod detect;
mod egress;
mod events;
mod flows;
mod maps;
mod packet;
mod state;
mod sweep;

use aya_ebpf::{
    bindings::xdp_action, helpers::bpf_ktime_get_boot_ns, macros::xdp, programs::XdpContext,
};
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
    counters::{count, count_detection},
    detect::detect,
    events::Report,
    maps::CONFIG,
    packet::PacketOf,
};

#[xdp]
pub fn scanguard(ctx: XdpContext) -> u32 {
    count(Counter::Seen);
    let verdict = match CONFIG.get(0) {
        Some(config) => inspect(&ctx, config),
        // The loader writes the config before attaching; without it, stay out of the way.
        None => xdp_action::XDP_PASS,
    };
    if verdict == xdp_action::XDP_PASS {
        count(Counter::Passed);
    }
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
    // SAFETY: a BPF program runs to completion on one CPU; the helper has no preconditions.
    let now_ns = unsafe { bpf_ktime_get_boot_ns() };
    if let Some(reason) = bans::enforce(&frame.src, now_ns, config.ban_mode()) {
        count(Counter::DroppedBanned);
        let report = Report {
            event_type: EVENT_BANNED_DROP,
            kind: reason,
            action: Action::Drop as u8,
            fingerprint: Fingerprint::None,
        };
        events::report(ctx, &frame, now_ns, config, report);
        return xdp_action::XDP_DROP;
    }
    judge(ctx, &frame, now_ns, config)
}

/// Decides what to do with a frame from a source that is not banned.
#[inline(always)]
fn judge(ctx: &XdpContext, frame: &Frame, now_ns: u64, config: &Config) -> u32 {
    if frame.transport.header == Header::Unparseable {
        count(Counter::ParseFailed);
        return xdp_action::XDP_PASS;
    }
    let Some(detection) = detect(frame, now_ns, config) else {
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
            match bans::ban(&frame.src, frame.ttl, now_ns, config, kind) {
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
        events::report(ctx, frame, now_ns, config, report);
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

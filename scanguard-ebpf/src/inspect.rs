//! What becomes of a frame, whichever hook it came by: drop it if its source is banned, else
//! classify it, and act on what it is within the hardening rules.

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
    bans::{self, Outcome},
    clock::Clock,
    counters::{count, count_detection},
    decisions,
    detect::detect,
    events::{self, Report},
    maps,
    packet::{Context, PacketOf},
    source_check::{self, Claim},
    standing::{Standing, standing},
    verdict::Verdict,
};

/// What becomes of a frame.
#[inline(always)]
pub fn inspect<C: Context>(ctx: &C, config: &Config) -> Verdict {
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
        Standing::Clear if decisions::banned(&network.frame.src, &mut clock) => Verdict::DropBanned,
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
fn judge<C: Context>(ctx: &C, frame: &Frame, clock: &mut Clock, config: &Config) -> Verdict {
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

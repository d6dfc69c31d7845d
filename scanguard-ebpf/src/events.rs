//! Detection events through the perf event array, rate-limited per source by a token bucket
//! (the `-m limit` on the LOG targets of the classic iptables rules).

use aya_ebpf::maps::Array;
use scanguard_common::{
    addr::AddrKey,
    bucket::TokenBucket,
    config::Config,
    counters::Counter,
    event::{EVENT_SPOOFED, EVENT_UNVERIFIED},
    fingerprint::Fingerprint,
    parse::{Frame, Packet},
};

use crate::{
    counters::count,
    map_update::{update, update_global},
    maps::{EVENT_BUCKETS, EVENT_SCRATCH, EVENTS, GLOBAL_EVENTS, REFUSED_EVENTS},
    packet::{Context, PacketOf},
};

pub struct Report {
    pub event_type: u8,
    /// A `Kind`, or for a banned source the ban's reason byte.
    pub kind: u8,
    /// An `Action`, or `ACTION_WOULD_BAN`.
    pub action: u8,
    pub fingerprint: Fingerprint,
    /// See `Event::ask_ifindex`.
    pub ask_ifindex: u32,
}

#[inline(always)]
pub fn report<C: Context>(ctx: &C, frame: &Frame, now_ns: u64, config: &Config, report: Report) {
    let Some(suppressed) = admit(frame.src, now_ns, config) else {
        count(Counter::EventsSuppressed);
        return;
    };
    let global = match report.event_type {
        EVENT_SPOOFED | EVENT_UNVERIFIED => &REFUSED_EVENTS,
        _ => &GLOBAL_EVENTS,
    };
    if !admit_global(global, now_ns, config) {
        count(Counter::EventsSuppressed);
        return;
    }
    // Built in a map: an event is too big for the stack next to a parsed frame.
    let Some(event) = EVENT_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: the per-CPU scratch entry is only used by this CPU while the program runs.
    let event = unsafe { &mut *event };
    let packet = PacketOf(ctx);
    // Read only for an event that is sent: the rate limit spares the copies.
    let details = frame.details(&packet);
    let transport = &frame.transport;
    event.timestamp_ns = now_ns;
    event.suppressed = suppressed;
    event.src = frame.src;
    event.dst = details.dst;
    event.ifindex = ctx.ingress_ifindex();
    event.src_port = transport.src_port;
    event.dst_port = transport.dst_port;
    event.ether_type = details.ether_type;
    event.vlan_id = details.vlan_id;
    event.ip_id = details.ip_id;
    event.ip_len = details.ip_len;
    event.window = details.window;
    if let Some(macs) = packet.copy::<12>(0) {
        event.eth_dst.copy_from_slice(&macs[..6]);
        event.eth_src.copy_from_slice(&macs[6..]);
    }
    event.event_type = report.event_type;
    event.kind = report.kind;
    event.action = report.action;
    event.protocol = transport.protocol;
    event.tcp_flags = transport.tcp_flags;
    event.ttl = details.ttl;
    event.tos = details.tos;
    event.ipv6 = u8::from(frame.ipv6);
    event.fingerprint = report.fingerprint as u8;
    event.ask_ifindex = report.ask_ifindex;
    EVENTS.output(ctx, &*event, 0);
    count(Counter::EventsSent);
}

/// Returns the count of suppressed events to carry, or `None` when this one is suppressed.
#[inline(always)]
fn admit(src: AddrKey, now_ns: u64, config: &Config) -> Option<u64> {
    let rate = &config.event_rate;
    update(
        &EVENT_BUCKETS,
        &src,
        TokenBucket::full(now_ns, rate),
        |bucket| bucket.admit(now_ns, rate),
    )
}

#[inline(always)]
fn admit_global(global: &Array<TokenBucket>, now_ns: u64, config: &Config) -> bool {
    update_global(global, |bucket| {
        bucket.admit(now_ns, &config.global_event_rate).is_some()
    })
    .unwrap_or(true)
}

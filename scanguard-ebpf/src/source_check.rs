//! Whether a probe's claimed source sent it: the route back to the source (bpf_fib_lookup)
//! must leave by the interface the frame came in on (or the bridge that interface is a port
//! of), towards the MAC the frame came from. Asked only on the way to a ban or a sweep sketch,
//! at most once per frame; see `scanguard_common::source_check` for the verdicts and
//! docs/spoofing.md for what it protects.

use core::mem::size_of;

use aya_ebpf::{
    bindings::{
        bpf_fib_lookup, bpf_fib_lookup__bindgen_ty_1, bpf_fib_lookup__bindgen_ty_2,
        bpf_fib_lookup__bindgen_ty_3, bpf_fib_lookup__bindgen_ty_4, bpf_fib_lookup__bindgen_ty_5,
    },
    helpers::{bpf_fib_lookup as fib_lookup, bpf_ktime_get_boot_ns},
};
use network_types::eth::EthHdr;
use scanguard_common::{
    action::Action,
    config::Config,
    counters::Counter,
    event::{EVENT_SPOOFED, EVENT_UNVERIFIED},
    fingerprint::Fingerprint,
    kind::Kind,
    parse::{Frame, Packet},
    source_check::{
        AF_INET, AF_INET6, Checked, LOOKUP_IFINDEX, Origin, RouteBack, Sender, fib_words, judge,
        mac_word, next_hop_key, settled,
    },
};

use crate::{
    counters::count,
    events,
    maps::{BRIDGE_PORTS, NEIGHBOURS},
    packet::{Context, PacketOf},
};

/// Where the source MAC sits in the Ethernet header.
const SOURCE_MAC_AT: usize = 6;

/// A frame's claim to its source address, checked when something is about to be recorded for
/// that source, and then remembered for the rest of the frame.
pub struct Claim<'a, C: Context> {
    ctx: &'a C,
    checked: Option<Checked>,
}

impl<'a, C: Context> Claim<'a, C> {
    #[inline(always)]
    pub const fn new(ctx: &'a C) -> Claim<'a, C> {
        Claim { ctx, checked: None }
    }

    /// The link the frame came in by. Two loads within the Ethernet header the parse checked,
    /// cheap enough for every record in a sweep sketch.
    #[inline(always)]
    pub fn sender(&self) -> Sender {
        let packet = PacketOf(self.ctx);
        let mac = match packet.span(0, EthHdr::LEN) {
            // The six bytes in memory order, as `mac_word` lays them out (bpfel).
            Some(eth) => {
                let low: u32 = packet.load::<_, SOURCE_MAC_AT>(eth);
                let high: u16 = packet.load::<_, { SOURCE_MAC_AT + 4 }>(eth);
                u64::from(low) | u64::from(high) << 32
            }
            None => 0,
        };
        Sender {
            mac,
            ifindex: self.ctx.ingress_ifindex(),
            _pad: 0,
        }
    }

    /// Whether this frame came by the link a sweep sketch recorded for its source: always,
    /// without source verification, whose sketches record none.
    #[inline(always)]
    pub fn came_by(&self, sender: &Sender, config: &Config) -> bool {
        config.verify_source == 0 || self.sender() == *sender
    }

    /// What the route back says about the frame's source; verified when verification is off.
    #[inline(always)]
    pub fn check(&mut self, frame: &Frame, config: &Config) -> Checked {
        if config.verify_source == 0 {
            return Checked::VERIFIED;
        }
        if let Some(checked) = self.checked {
            return checked;
        }
        let checked = look_up(self.ctx, frame, &self.sender());
        self.checked = Some(checked);
        checked
    }
}

/// Asks the FIB for the route from this host back to the claimed source, as a packet this host
/// sent would take (an input lookup from loopback, see `LOOKUP_IFINDEX`).
#[inline(always)]
fn look_up<C: Context>(ctx: &C, frame: &Frame, sender: &Sender) -> Checked {
    // The route to a tagged frame's source names the VLAN device, which the program cannot
    // map a tag on the ingress device to: such a probe is dropped, its source never banned.
    if frame.ip_offset != EthHdr::LEN {
        return Checked::UNVERIFIED;
    }
    let claimed = fib_words(&frame.src);
    let local = fib_words(&frame.dst(&PacketOf(ctx)));
    let (family, src, dst) = if frame.ipv6 {
        (AF_INET6, local, claimed)
    } else {
        // IPv4 addresses sit in the first word of the unions.
        (AF_INET, [local[3], 0, 0, 0], [claimed[3], 0, 0, 0])
    };
    let transport = &frame.transport;
    let mut params = bpf_fib_lookup {
        family,
        l4_protocol: transport.protocol,
        // The way back: the ports swap.
        sport: transport.dst_port.to_be(),
        dport: transport.src_port.to_be(),
        // 0: no MTU check (`check_mtu` compares the route's MTU with it).
        __bindgen_anon_1: bpf_fib_lookup__bindgen_ty_1 { tot_len: 0 },
        ifindex: LOOKUP_IFINDEX,
        __bindgen_anon_2: bpf_fib_lookup__bindgen_ty_2 { flowinfo: 0 },
        __bindgen_anon_3: bpf_fib_lookup__bindgen_ty_3 { ipv6_src: src },
        __bindgen_anon_4: bpf_fib_lookup__bindgen_ty_4 { ipv6_dst: dst },
        __bindgen_anon_5: bpf_fib_lookup__bindgen_ty_5 { tbid: 0 },
        smac: [0; 6],
        dmac: [0; 6],
    };
    // SAFETY: `params` is a whole bpf_fib_lookup the helper may read and write; flags 0.
    let status = unsafe {
        fib_lookup(
            ctx.as_ptr(),
            &mut params,
            size_of::<bpf_fib_lookup>() as i32,
            0,
        )
    };
    // SAFETY: plain words, whichever member the kernel wrote. It replaces the destination with
    // the gateway when the route has one, and turns the family to AF_INET6 for an IPv4 route
    // via an IPv6 gateway.
    let next_hop = unsafe { params.__bindgen_anon_4.ipv6_dst };
    let on_link = params.family == family
        && if frame.ipv6 {
            next_hop == claimed
        } else {
            next_hop[0] == claimed[3]
        };
    let route = RouteBack {
        status,
        ifindex: params.ifindex,
        dmac: mac_word(params.dmac),
        on_link,
    };
    // Only a route that leaves by another interface asks whether this one is its port.
    let master = match route.ifindex == sender.ifindex {
        true => 0,
        // SAFETY: a live map value, only read.
        false => BRIDGE_PORTS
            .get_ptr(sender.ifindex)
            .map_or(0, |master| unsafe { *master }),
    };
    let checked = judge(&route, sender, master);
    if checked != Checked::VERIFIED {
        return checked;
    }
    // The entry the route's next hop was found in may have just been overwritten by the
    // sender itself (see `NEIGHBOURS_MAP`).
    let Some(seen) = NEIGHBOURS.get_ptr(next_hop_key(params.family, next_hop)) else {
        // A neighbour the daemon has not seen yet: one that resolved this host a moment ago.
        return Checked::VERIFIED;
    };
    // SAFETY: the helper has no preconditions.
    let now_ns = unsafe { bpf_ktime_get_boot_ns() };
    // SAFETY: a live map value, only read.
    match settled(Some(unsafe { &*seen }), route.dmac, now_ns) {
        true => Checked::VERIFIED,
        false => Checked::UNVERIFIED,
    }
}

/// A probe whose source the route back does not vouch for: dropped, counted, reported (rate
/// limited, with the frame's own source MAC), and nothing recorded for the claimed source.
#[inline(always)]
pub fn refuse<C: Context>(
    ctx: &C,
    frame: &Frame,
    now_ns: u64,
    config: &Config,
    kind: Kind,
    fingerprint: Fingerprint,
    checked: Checked,
) {
    let event_type = match checked.origin {
        Origin::Forged => {
            count(Counter::Spoofed);
            EVENT_SPOOFED
        }
        Origin::Verified | Origin::Unverified => {
            count(Counter::Unverified);
            EVENT_UNVERIFIED
        }
    };
    let report = events::Report {
        event_type,
        kind: kind as u8,
        action: Action::Drop as u8,
        fingerprint,
        ask_ifindex: checked.ask_ifindex,
    };
    events::report(ctx, frame, now_ns, config, report);
}

//! What a frame from a source that is not banned is, if anything: the flag classifier of
//! scanguard-common plus what needs kernel state (flows, sweeps, default-deny), and SCTP's
//! association requests.

use scanguard_common::{
    addr::AddrKey,
    classify::{classify_stateless, classify_tcp, is_connection_request},
    config::Config,
    fingerprint::Fingerprint,
    kind::Kind,
    parse::{
        Fragment, Frame, Header, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, Packet, SCTP_COOKIE_ECHO,
        SCTP_INIT,
    },
    ports::{ROLE_OPEN, ROLE_PROTECTED, ROLE_WATCHED_UDP, SERVED},
};

use crate::{
    flows,
    maps::{DENIED_PROBES, DeniedProbe, port_roles},
    packet::Context,
    source_check::Claim,
    sweep::sweep_kind,
};

pub struct Detection {
    pub kind: Kind,
    pub fingerprint: Fingerprint,
    /// False for repeats that are acted on but not reported.
    pub report: bool,
}

impl Detection {
    #[inline(always)]
    const fn of(kind: Kind) -> Detection {
        Detection {
            kind,
            fingerprint: Fingerprint::None,
            report: true,
        }
    }
}

#[inline(always)]
pub fn detect<P: Packet, C: Context>(
    frame: &Frame,
    packet: &P,
    config: &Config,
    claim: &mut Claim<C>,
) -> Option<Detection> {
    let transport = &frame.transport;
    if transport.protocol == IPPROTO_TCP && is_tiny_fragment(frame) {
        return Some(Detection::of(Kind::TinyFragment));
    }
    if transport.header != Header::Parsed {
        return None;
    }
    match transport.protocol {
        IPPROTO_TCP => detect_tcp(frame, packet, config, claim),
        IPPROTO_UDP => detect_udp(frame, config, claim),
        IPPROTO_SCTP => detect_sctp(frame, config, claim),
        _ => None,
    }
}

/// RFC 1858: a first fragment that stops before the TCP flags, or a later fragment at offset 1
/// (8 bytes) that would overwrite them.
#[inline(always)]
fn is_tiny_fragment(frame: &Frame) -> bool {
    match frame.fragment {
        Fragment::First => frame.transport.header == Header::Missing,
        Fragment::Later => frame.fragment_offset == 1,
        Fragment::No => false,
    }
}

#[inline(always)]
fn detect_tcp<P: Packet, C: Context>(
    frame: &Frame,
    packet: &P,
    config: &Config,
    claim: &mut Claim<C>,
) -> Option<Detection> {
    let transport = &frame.transport;
    let flags = transport.tcp_flags;
    let roles = port_roles(transport.dst_port);
    if config.settles(roles, flags) || roles & ROLE_PROTECTED != 0 {
        return None;
    }
    // A stateless probe's flags are no probe on their own: an established connection's bare
    // ACKs are spared the classifier.
    let stateless = classify_stateless(flags);
    if stateless.is_none()
        && let Some(kind) = classify_tcp(flags, roles)
    {
        return Some(Detection::of(kind));
    }
    let flows_tracked = config.flows_tracked != 0;
    let stateless = stateless.filter(|_| flows_tracked);
    let deny = flows_tracked && config.default_deny != 0 && roles & ROLE_OPEN == 0;
    // Only these need the flow table: an established connection's ACKs skip it otherwise.
    let in_flow = (stateless.is_some() || deny) && flows::contains_inbound(frame);
    if deny && !in_flow {
        return Some(Detection {
            report: first_denied(&frame.src, transport.dst_port),
            ..Detection::of(Kind::Denied)
        });
    }
    if let Some(kind) = stateless {
        if in_flow {
            return None;
        }
        return Some(Detection::of(sweep_or(kind, frame, config, claim)));
    }
    if !is_connection_request(flags) {
        return None;
    }
    // Clients of a served port are no sweep: sparing them the sweep map and the clock is what
    // keeps a benign SYN cheap.
    let sweep = match roles & SERVED {
        0 => sweep_kind(frame, config, claim),
        _ => None,
    };
    // The fingerprint only matters to a detection, so a benign SYN does not read its fields.
    if sweep.is_none() && config.fingerprint_mask == 0 {
        return None;
    }
    let details = frame.details(packet);
    let fingerprint = Fingerprint::of_syn(
        details.window,
        details.tcp_options,
        details.ttl,
        details.ip_id,
    );
    if let Some(kind) = sweep {
        return Some(Detection {
            fingerprint,
            ..Detection::of(kind)
        });
    }
    (config.fingerprint_mask & fingerprint.bit() != 0 && fingerprint != Fingerprint::None)
        .then_some(Detection {
            fingerprint,
            ..Detection::of(Kind::Fingerprint)
        })
}

#[inline(always)]
fn detect_udp<C: Context>(
    frame: &Frame,
    config: &Config,
    claim: &mut Claim<C>,
) -> Option<Detection> {
    let transport = &frame.transport;
    let roles = port_roles(transport.dst_port);
    // Scanners probe one host at a time: broadcast and multicast (mDNS, SSDP, DHCP, NetBIOS)
    // are a LAN's normal chatter.
    if roles & ROLE_PROTECTED != 0 || frame.link_multicast {
        return None;
    }
    // A served port's datagrams are its clients', unless the port is watched too.
    if roles & ROLE_WATCHED_UDP == 0 && roles & SERVED != 0 {
        return None;
    }
    // Without the flows, replies to this host's own queries would look like a sweep.
    if config.flows_tracked != 0 {
        if flows::contains_inbound(frame) {
            return None;
        }
        if let Some(kind) = sweep_kind(frame, config, claim) {
            return Some(Detection::of(kind));
        }
    }
    (roles & ROLE_WATCHED_UDP != 0).then_some(Detection::of(Kind::UdpProbe))
}

/// An SCTP INIT or COOKIE ECHO to a port no service listens on. No flow is needed: with no
/// socket on the port there is no association for either to belong to. An INIT counts toward
/// sweeps (a client may try a port nothing serves, once); a COOKIE ECHO answers an INIT ACK
/// this host never sent, and is a probe on its own (nmap `-sZ`).
#[inline(always)]
fn detect_sctp<C: Context>(
    frame: &Frame,
    config: &Config,
    claim: &mut Claim<C>,
) -> Option<Detection> {
    let roles = port_roles(frame.transport.dst_port);
    if roles & (ROLE_PROTECTED | SERVED) != 0 || frame.link_multicast {
        return None;
    }
    let probe = match frame.transport.sctp_chunk {
        SCTP_INIT => None,
        SCTP_COOKIE_ECHO => Some(Kind::SctpProbe),
        _ => return None,
    };
    sweep_kind(frame, config, claim)
        .or(probe)
        .map(Detection::of)
}

/// A probe that also completes a sweep is reported as the sweep.
#[inline(always)]
fn sweep_or<C: Context>(kind: Kind, frame: &Frame, config: &Config, claim: &mut Claim<C>) -> Kind {
    sweep_kind(frame, config, claim).unwrap_or(kind)
}

/// Default-deny sensor mode reports a source's first probe of each port, not every packet.
#[inline(always)]
fn first_denied(src: &AddrKey, port: u16) -> bool {
    let key = DeniedProbe {
        src: *src,
        port,
        _pad: [0; 6],
    };
    if DENIED_PROBES.get_ptr(&key).is_some() {
        return false;
    }
    let _ = DENIED_PROBES.insert(&key, &1, 0);
    true
}

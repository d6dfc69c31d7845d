//! The fields of a frame that only an event, a ban's record or a scanner fingerprint needs,
//! read when one is made, at the offsets of `offsets`.

use network_types::ip::Ipv6Hdr;

use super::{
    ETH_P_8021AD, ETH_P_8021Q, Frame, Packet,
    offsets::{
        ETHER_TYPE_AT, ETHER_TYPE_LEN, IPV4_DST_AT, IPV6_DST_AT, TCP_DATA_OFFSET_AT, TCP_OPTIONS_AT,
    },
};
use crate::{addr::AddrKey, classify::SYN, fingerprint::TcpOptions};

const VLAN_ID_MASK: u16 = 0x0fff;

/// A frame's fields beyond what its verdict needs. One the frame no longer holds reads 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Details {
    /// The innermost ethertype, host byte order.
    pub ether_type: u16,
    /// The outermost VLAN id, 0 when untagged.
    pub vlan_id: u16,
    /// The destination address in ban-map key form (IPv4-mapped for IPv4).
    pub dst: AddrKey,
    /// TTL or hop limit.
    pub ttl: u8,
    /// TOS or traffic class.
    pub tos: u8,
    /// IPv4 identification (0 for IPv6).
    pub ip_id: u16,
    /// IPv4 total length or IPv6 payload length plus header.
    pub ip_len: u16,
    /// TCP window, 0 for other protocols.
    pub window: u16,
    /// What a SYN's TCP options amount to (for scanner fingerprints); `None` for other segments.
    pub tcp_options: TcpOptions,
}

impl Frame {
    /// The details of the frame in `packet`, the one this was parsed from. Read by copies at
    /// the offsets the parse kept (see [`Packet::copy`]), never through a checked span.
    #[inline(always)]
    pub fn details<P: Packet + ?Sized>(&self, packet: &P) -> Details {
        let mut details = Details::default();
        read_link(packet, self.ip_offset, &mut details);
        if self.ipv6 {
            read_ipv6(packet, self.ip_offset, &mut details);
        } else {
            read_ipv4(packet, self.ip_offset, &mut details);
        }
        if let Some(flags) = self.transport.tcp() {
            read_tcp(packet, self.transport_offset, flags, &mut details);
        }
        details.dst = self.dst(packet);
        details
    }

    /// The destination address alone (in ban-map key form), for recording an outbound flow.
    #[inline(always)]
    pub fn dst<P: Packet + ?Sized>(&self, packet: &P) -> AddrKey {
        if self.ipv6 {
            let dst = packet.copy::<16>(self.ip_offset + IPV6_DST_AT);
            dst.map(AddrKey::from_octets)
        } else {
            let dst = packet.copy::<4>(self.ip_offset + IPV4_DST_AT);
            dst.map(AddrKey::ipv4)
        }
        .unwrap_or_default()
    }
}

/// The Ethernet type field and the first tag's control field after it, if the frame is
/// tagged; then the innermost ethertype sits just before the IP header.
#[inline(always)]
fn read_link<P: Packet + ?Sized>(packet: &P, ip_offset: usize, details: &mut Details) {
    let Some([outer_0, outer_1, tag_0, tag_1]) = packet.copy::<4>(ETHER_TYPE_AT) else {
        return;
    };
    let outer = u16::from_ne_bytes([outer_0, outer_1]);
    let inner = if outer == ETH_P_8021Q || outer == ETH_P_8021AD {
        details.vlan_id = u16::from_be_bytes([tag_0, tag_1]) & VLAN_ID_MASK;
        packet.copy::<ETHER_TYPE_LEN>(ip_offset - ETHER_TYPE_LEN)
    } else {
        Some([outer_0, outer_1])
    };
    details.ether_type = inner.map_or(0, u16::from_be_bytes);
}

/// Version and header length, TOS, total length, identification, fragment field, TTL.
#[inline(always)]
fn read_ipv4<P: Packet + ?Sized>(packet: &P, offset: usize, details: &mut Details) {
    let Some([_, tos, len_0, len_1, id_0, id_1, _, _, ttl]) = packet.copy::<9>(offset) else {
        return;
    };
    details.tos = tos;
    details.ip_len = u16::from_be_bytes([len_0, len_1]);
    details.ip_id = u16::from_be_bytes([id_0, id_1]);
    details.ttl = ttl;
}

/// Version, traffic class and flow label, payload length, next header, hop limit.
#[inline(always)]
fn read_ipv6<P: Packet + ?Sized>(packet: &P, offset: usize, details: &mut Details) {
    let Some([class_0, class_1, _, _, len_0, len_1, _, hops]) = packet.copy::<8>(offset) else {
        return;
    };
    // The traffic class is the 8 bits after the 4-bit version.
    details.tos = (u16::from_be_bytes([class_0, class_1]) >> 4) as u8;
    let payload_len = u16::from_be_bytes([len_0, len_1]);
    details.ip_len = payload_len.saturating_add(Ipv6Hdr::LEN as u16);
    details.ttl = hops;
}

/// Data offset, flags and window; the options of a SYN only, as only a SYN is fingerprinted.
#[inline(always)]
fn read_tcp<P: Packet + ?Sized>(packet: &P, offset: usize, flags: u8, details: &mut Details) {
    let Some([data_offset, _, window_0, window_1]) = packet.copy::<4>(offset + TCP_DATA_OFFSET_AT)
    else {
        return;
    };
    details.window = u16::from_be_bytes([window_0, window_1]);
    if flags & SYN != 0 {
        details.tcp_options = tcp_options(packet, offset, data_offset >> 4);
    }
}

/// Options of a TCP header with `data_offset` 32-bit words: none, exactly MSS 1460 (kind 2,
/// length 4, RFC 9293 section 3.2), or anything else.
#[inline(always)]
fn tcp_options<P: Packet + ?Sized>(packet: &P, offset: usize, data_offset: u8) -> TcpOptions {
    const MSS_1460: [u8; 4] = [2, 4, 0x05, 0xb4];
    match data_offset {
        5 => TcpOptions::None,
        6 if packet.copy::<4>(offset + TCP_OPTIONS_AT) == Some(MSS_1460) => TcpOptions::Mss1460Only,
        _ => TcpOptions::Other,
    }
}

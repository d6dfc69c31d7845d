//! Frame parsing, generic over where the bytes live so the same code runs in the XDP program
//! (over packet memory, every read bounds-checked against `data_end`) and in host unit tests
//! (over a byte slice).
//!
//! Layout follows xdp-tools' `parsing_helpers.h`: a cursor offset, one small step per header,
//! each step checks bounds before it reads. Anything truncated or unknown fails open: the
//! caller passes the frame.

use network_types::{
    eth::EthHdr,
    ip::{Ipv4Hdr, Ipv6Hdr},
    tcp::TCP_HDR_LEN as TCP_HEADER_LEN,
    udp::UdpHdr,
    vlan::VlanHdr,
};

use crate::{
    ban::{AddrKey, ipv4_key},
    classify::SYN,
    fingerprint::TcpOptions,
};

/// Read access to a frame's bytes.
pub trait Packet {
    /// The `T` at `offset`, or `None` when the frame ends before it does.
    fn read<T: Copy>(&self, offset: usize) -> Option<T>;
}

impl Packet for [u8] {
    fn read<T: Copy>(&self, offset: usize) -> Option<T> {
        let bytes = self.get(offset..offset.checked_add(core::mem::size_of::<T>())?)?;
        // SAFETY: `bytes` holds exactly size_of::<T>() bytes and every T read here is a plain
        // header struct valid for any bit pattern; the read is unaligned.
        Some(unsafe { bytes.as_ptr().cast::<T>().read_unaligned() })
    }
}

// Ethertypes and protocol numbers as they sit in the frame (network byte order for u16).
const ETH_P_IP: u16 = 0x0800u16.to_be();
const ETH_P_IPV6: u16 = 0x86DDu16.to_be();
const ETH_P_8021Q: u16 = 0x8100u16.to_be();
const ETH_P_8021AD: u16 = 0x88A8u16.to_be();
const IPPROTO_HOPOPTS: u8 = 0;
const IPPROTO_ROUTING: u8 = 43;
const IPPROTO_FRAGMENT: u8 = 44;
const IPPROTO_DSTOPTS: u8 = 60;

/// 802.1ad service tag plus 802.1Q customer tag.
const MAX_VLAN_TAGS: usize = 2;
/// IPv6 extension headers skipped before giving up; RFC 8200 section 4.1 recommends each
/// appear at most once (twice for destination options), so eight covers every legal chain.
const MAX_IPV6_EXT_HEADERS: usize = 8;
const IPV4_MORE_FRAGMENTS: u16 = 0x2000;
const IPV4_OFFSET_MASK: u16 = 0x1fff;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not IPv4 or IPv6 (ARP, LLDP, ...): none of scanguard's business.
    NotIp,
    /// Too short or inconsistent to parse.
    Malformed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fragment {
    /// A whole datagram.
    No,
    /// The fragment at offset zero: it carries the transport header, or should.
    First,
    /// A fragment at a later offset: no transport header.
    Later,
}

/// How much of the transport header the frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// The header is there; for protocols other than TCP and UDP nothing of it is read.
    Parsed,
    /// A fragment without the whole transport header.
    Missing,
    /// A TCP or UDP header cut short in an unfragmented datagram, or an IPv6 extension chain
    /// too long to follow.
    Unparseable,
}

/// The transport header's fields scanguard uses. A plain struct rather than an enum with
/// payloads: LLVM merges enum payload registers across paths in ways the verifier rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transport {
    /// IP protocol number (TCP 6, UDP 17, ...).
    pub protocol: u8,
    pub header: Header,
    pub src_port: u16,
    pub dst_port: u16,
    /// TCP flags byte, 0 for other protocols.
    pub tcp_flags: u8,
    /// TCP window, 0 for other protocols.
    pub window: u16,
    /// What the TCP options amount to (for scanner fingerprints).
    pub tcp_options: TcpOptions,
}

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

impl Transport {
    const fn without_header(protocol: u8, header: Header) -> Transport {
        Transport {
            protocol,
            header,
            src_port: 0,
            dst_port: 0,
            tcp_flags: 0,
            window: 0,
            tcp_options: TcpOptions::None,
        }
    }

    /// The TCP flags, when this is a TCP segment with its header.
    #[inline(always)]
    pub const fn tcp(&self) -> Option<u8> {
        match (self.protocol, self.header) {
            (IPPROTO_TCP, Header::Parsed) => Some(self.tcp_flags),
            _ => None,
        }
    }
}

/// What scanguard needs to know about one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The destination MAC is a group address: broadcast or multicast. The MACs themselves
    /// are read from the frame only for an event.
    pub link_multicast: bool,
    /// The innermost ethertype, host byte order.
    pub ether_type: u16,
    /// The outermost VLAN id, 0 when untagged.
    pub vlan_id: u16,
    pub ipv6: bool,
    /// Addresses in ban-map key form (IPv4-mapped for IPv4).
    pub src: AddrKey,
    pub dst: AddrKey,
    /// TTL or hop limit.
    pub ttl: u8,
    /// TOS or traffic class.
    pub tos: u8,
    /// IPv4 identification (0 for IPv6).
    pub ip_id: u16,
    /// IPv4 total length or IPv6 payload length plus header.
    pub ip_len: u16,
    pub fragment: Fragment,
    /// Fragment offset in 8-byte units (0 for whole datagrams and first fragments).
    pub fragment_offset: u16,
    pub transport: Transport,
}

#[inline(always)]
pub fn parse<P: Packet + ?Sized>(packet: &P) -> Result<Frame, ParseError> {
    let eth: EthHdr = packet.read(0).ok_or(ParseError::Malformed)?;
    let mut offset = EthHdr::LEN;
    let mut ether_type = eth.ether_type;
    let mut vlan_id = 0;
    for tag in 0..MAX_VLAN_TAGS {
        if ether_type != ETH_P_8021Q && ether_type != ETH_P_8021AD {
            break;
        }
        let vlan: VlanHdr = packet.read(offset).ok_or(ParseError::Malformed)?;
        if tag == 0 {
            vlan_id = vlan.vid();
        }
        ether_type = vlan.ether_type;
        offset += VlanHdr::LEN;
    }
    let mut frame = Frame {
        link_multicast: eth.dst_addr[0] & 1 != 0,
        ether_type: u16::from_be(ether_type),
        vlan_id,
        ipv6: false,
        src: [0; 16],
        dst: [0; 16],
        ttl: 0,
        tos: 0,
        ip_id: 0,
        ip_len: 0,
        fragment: Fragment::No,
        fragment_offset: 0,
        transport: Transport::without_header(0, Header::Missing),
    };
    let (protocol, transport_offset) = match ether_type {
        ETH_P_IP => parse_ipv4(packet, offset, &mut frame)?,
        ETH_P_IPV6 => parse_ipv6(packet, offset, &mut frame)?,
        _ => return Err(ParseError::NotIp),
    };
    frame.transport = match (frame.fragment, transport_offset) {
        (Fragment::Later, _) => Transport::without_header(protocol, Header::Missing),
        (_, None) => Transport::without_header(protocol, Header::Unparseable),
        (_, Some(offset)) => parse_transport(packet, protocol, offset, frame.fragment),
    };
    Ok(frame)
}

/// Returns the transport protocol and the offset of its header, `None` when it cannot be found.
#[inline(always)]
fn parse_ipv4<P: Packet + ?Sized>(
    packet: &P,
    offset: usize,
    frame: &mut Frame,
) -> Result<(u8, Option<usize>), ParseError> {
    let ip: Ipv4Hdr = packet.read(offset).ok_or(ParseError::Malformed)?;
    // network-types' `ihl()` is already in bytes (IHL words times four).
    let header_len = usize::from(ip.ihl());
    if ip.version() != 4 || header_len < Ipv4Hdr::LEN {
        return Err(ParseError::Malformed);
    }
    let frags = u16::from_be_bytes(ip.frags);
    frame.fragment_offset = frags & IPV4_OFFSET_MASK;
    frame.fragment = if frags & IPV4_OFFSET_MASK != 0 {
        Fragment::Later
    } else if frags & IPV4_MORE_FRAGMENTS != 0 {
        Fragment::First
    } else {
        Fragment::No
    };
    frame.src = ipv4_key(ip.src_addr);
    frame.dst = ipv4_key(ip.dst_addr);
    frame.ttl = ip.ttl;
    frame.tos = ip.tos;
    frame.ip_id = u16::from_be_bytes(ip.id);
    frame.ip_len = u16::from_be_bytes(ip.tot_len);
    Ok((ip.proto, Some(offset + header_len)))
}

#[inline(always)]
fn parse_ipv6<P: Packet + ?Sized>(
    packet: &P,
    offset: usize,
    frame: &mut Frame,
) -> Result<(u8, Option<usize>), ParseError> {
    let ip: Ipv6Hdr = packet.read(offset).ok_or(ParseError::Malformed)?;
    if ip.vcf[0] >> 4 != 6 {
        return Err(ParseError::Malformed);
    }
    frame.ipv6 = true;
    frame.src = ip.src_addr;
    frame.dst = ip.dst_addr;
    frame.ttl = ip.hop_limit;
    frame.tos = (ip.vcf[0] << 4) | (ip.vcf[1] >> 4);
    frame.ip_len = u16::from_be_bytes(ip.payload_len).saturating_add(Ipv6Hdr::LEN as u16);
    let mut next = ip.next_hdr;
    let mut offset = offset + Ipv6Hdr::LEN;
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        match next {
            IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS => {
                // RFC 8200 section 4.3: next header, then length in 8-octet units beyond the first 8.
                let [next_header, len]: [u8; 2] =
                    packet.read(offset).ok_or(ParseError::Malformed)?;
                next = next_header;
                offset += (usize::from(len) + 1) * 8;
            }
            IPPROTO_FRAGMENT => {
                // RFC 8200 section 4.5: next header, reserved, offset (13 bits) + M flag, id.
                let [next_header, _, offset_hi, offset_lo]: [u8; 4] =
                    packet.read(offset).ok_or(ParseError::Malformed)?;
                let offset_and_flags = u16::from_be_bytes([offset_hi, offset_lo]);
                frame.fragment_offset = offset_and_flags >> 3;
                frame.fragment = if offset_and_flags >> 3 != 0 {
                    Fragment::Later
                } else if offset_and_flags & 1 != 0 {
                    Fragment::First
                } else {
                    Fragment::No
                };
                next = next_header;
                offset += 8;
            }
            _ => return Ok((next, Some(offset))),
        }
    }
    match next {
        // Still inside the extension chain: a transport header that cannot be reached.
        IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS | IPPROTO_FRAGMENT => Ok((next, None)),
        // The last header skipped was the last of the chain.
        _ => Ok((next, Some(offset))),
    }
}

#[inline(always)]
fn parse_transport<P: Packet + ?Sized>(
    packet: &P,
    protocol: u8,
    offset: usize,
    fragment: Fragment,
) -> Transport {
    let cut_short = match fragment {
        Fragment::First => Header::Missing,
        Fragment::No | Fragment::Later => Header::Unparseable,
    };
    let mut transport = Transport::without_header(protocol, Header::Parsed);
    match protocol {
        // Read as bytes: network-types keeps the flags in a private bitfield. Offsets are from
        // RFC 9293 section 3.1.
        IPPROTO_TCP => match packet.read::<[u8; TCP_HEADER_LEN]>(offset) {
            Some(tcp) => {
                transport.src_port = u16::from_be_bytes([tcp[0], tcp[1]]);
                transport.dst_port = u16::from_be_bytes([tcp[2], tcp[3]]);
                transport.tcp_flags = tcp[13];
                transport.window = u16::from_be_bytes([tcp[14], tcp[15]]);
                // Only a SYN is fingerprinted: other segments skip the options.
                if tcp[13] & SYN != 0 {
                    transport.tcp_options = tcp_options(packet, offset, tcp[12] >> 4);
                }
            }
            None => transport.header = cut_short,
        },
        IPPROTO_UDP => match packet.read::<UdpHdr>(offset) {
            Some(udp) => {
                transport.src_port = u16::from_be_bytes(udp.src);
                transport.dst_port = u16::from_be_bytes(udp.dst);
            }
            None => transport.header = cut_short,
        },
        _ => {}
    }
    transport
}

/// Options of a TCP header with `data_offset` 32-bit words: none, exactly MSS 1460 (kind 2,
/// length 4, RFC 9293 section 3.2), or anything else.
#[inline(always)]
fn tcp_options<P: Packet + ?Sized>(packet: &P, offset: usize, data_offset: u8) -> TcpOptions {
    const MSS_1460: [u8; 4] = [2, 4, 0x05, 0xb4];
    match data_offset {
        5 => TcpOptions::None,
        6 => match packet.read::<[u8; 4]>(offset + TCP_HEADER_LEN) {
            Some(MSS_1460) => TcpOptions::Mss1460Only,
            _ => TcpOptions::Other,
        },
        _ => TcpOptions::Other,
    }
}

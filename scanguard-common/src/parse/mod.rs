//! Frame parsing, generic over where the bytes live so the same code runs in the XDP program
//! (over packet memory, every header bounds-checked against `data_end` before its fields are
//! loaded) and in host unit tests (over a byte slice).
//!
//! Layout follows xdp-tools' `parsing_helpers.h`: a cursor offset, one small step per header,
//! each step checks bounds before it reads. Anything truncated or unknown fails open: the
//! caller passes the frame.
//!
//! Every packet is parsed for what its verdict needs ([`Frame`]); the fields only an event, a
//! ban's record or a fingerprint needs ([`Details`]) are read again when one is made. Holding
//! them from the start kept a dozen values alive across the whole program, which cost a
//! benign packet more in register spills than the rest of its parse.

mod details;
mod offsets;

pub use details::Details;

use network_types::{
    eth::EthHdr,
    ip::{Ipv4Hdr, Ipv6Hdr},
    tcp::TCP_HDR_LEN as TCP_HEADER_LEN,
    udp::UdpHdr,
    vlan::VlanHdr,
};

use self::offsets::{
    ETH_DST_AT, ETHER_TYPE_AT, EXT_FRAGMENT_AT, EXT_LEN_AT, EXT_NEXT_HEADER_AT, IPV4_FRAGMENT_AT,
    IPV4_PROTOCOL_AT, IPV4_SRC_AT, IPV4_VERSION_IHL_AT, IPV6_NEXT_HEADER_AT, IPV6_SRC_AT,
    IPV6_VERSION_AT, SCTP_CHUNK_TYPE_AT, SCTP_DST_PORT_AT, SCTP_HEADER_LEN, SCTP_SRC_PORT_AT,
    TCP_DST_PORT_AT, TCP_FLAGS_AT, TCP_SRC_PORT_AT, UDP_DST_PORT_AT, UDP_SRC_PORT_AT,
    VLAN_ETHER_TYPE_AT,
};
use crate::addr::AddrKey;

/// A stretch of the frame checked against its end once, so the fields inside it are read
/// without further checks. What it holds is the packet's business: an address in the XDP
/// program, an offset in host tests.
#[derive(Clone, Copy)]
pub struct Span(usize);

impl Span {
    /// # Safety
    /// The frame holds the span's bytes from `start` on: `Packet::load` may read them unchecked.
    pub const unsafe fn new(start: usize) -> Span {
        Span(start)
    }

    pub const fn start(self) -> usize {
        self.0
    }
}

/// Read access to a frame's bytes, one field at a time: a field is one load of its own width
/// (byte-wise copies of whole headers cost the kernel program more than all its other work).
pub trait Packet {
    /// The `len` bytes at `offset`, or `None` when the frame ends before they do.
    fn span(&self, offset: usize, len: usize) -> Option<Span>;
    /// The `W` at `AT` bytes into `span`, as it sits in memory (network order for multi-byte
    /// fields). `AT + size_of::<W>()` is at most the span's length: the verifier refuses a
    /// program that loads past the bytes it checked, and the slice reads zero there.
    fn load<W: Word, const AT: usize>(&self, span: Span) -> W;
    /// The `N` bytes at `offset` copied out, or `None` when the frame ends before they do. For
    /// cold paths reading at an offset kept from the parse: the kernel checks the bounds, so the
    /// verifier does not track the offset's value, and the states it keeps for the rest of the
    /// program are not split by header layout.
    fn copy<const N: usize>(&self, offset: usize) -> Option<[u8; N]>;
}

/// The widths a field is loaded in.
pub trait Word: Copy + Default {
    /// The low `size_of::<Self>()` bytes of a loaded value.
    fn truncate(value: u64) -> Self;
}

macro_rules! words {
    ($($word:ty),*) => {$(
        impl Word for $word {
            #[inline(always)]
            fn truncate(value: u64) -> Self {
                value as $word
            }
        }
    )*};
}
words!(u8, u16, u32, u64);

impl Packet for [u8] {
    fn span(&self, offset: usize, len: usize) -> Option<Span> {
        (offset.checked_add(len)? <= self.len()).then_some(Span(offset))
    }

    fn load<W: Word, const AT: usize>(&self, span: Span) -> W {
        let start = span.0 + AT;
        match self.get(start..start + core::mem::size_of::<W>()) {
            // SAFETY: `bytes` holds exactly size_of::<W>() bytes and a W is valid for any bit
            // pattern; the read is unaligned.
            Some(bytes) => unsafe { bytes.as_ptr().cast::<W>().read_unaligned() },
            // Only a caller reading past its span gets here.
            None => W::default(),
        }
    }

    fn copy<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        self.get(offset..offset.checked_add(N)?)?.try_into().ok()
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
    /// The header is there; for protocols other than TCP, UDP and SCTP nothing of it is read.
    Parsed,
    /// A fragment without the whole transport header.
    Missing,
    /// A TCP, UDP or SCTP header cut short in an unfragmented datagram, or an IPv6 extension chain
    /// too long to follow.
    Unparseable,
}

/// The transport header's fields a verdict needs. A plain struct rather than an enum with
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
    /// The type of an SCTP packet's first chunk (`SCTP_INIT`, ...), 0 for other protocols.
    pub sctp_chunk: u8,
}

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_SCTP: u8 = 132;
/// SCTP chunk types that open an association (RFC 9260 section 3.2): the initiator's INIT, and
/// its COOKIE ECHO answering the INIT ACK.
pub const SCTP_INIT: u8 = 1;
pub const SCTP_COOKIE_ECHO: u8 = 10;

impl Transport {
    const fn without_header(protocol: u8, header: Header) -> Transport {
        Transport {
            protocol,
            header,
            src_port: 0,
            dst_port: 0,
            tcp_flags: 0,
            sctp_chunk: 0,
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

/// What a verdict needs to know about one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The destination MAC is a group address: broadcast or multicast.
    pub link_multicast: bool,
    pub ipv6: bool,
    /// The source address in ban-map key form (IPv4-mapped for IPv4).
    pub src: AddrKey,
    pub fragment: Fragment,
    /// Fragment offset in 8-byte units (0 for whole datagrams and first fragments).
    pub fragment_offset: u16,
    pub transport: Transport,
    /// Where the IP header starts: 14 bytes of Ethernet plus 4 per VLAN tag.
    pub ip_offset: usize,
    /// Where the transport header starts (0 past an IPv6 extension chain too long to follow);
    /// a header is there when `transport.header` is `Parsed`.
    pub transport_offset: usize,
}

/// A frame parsed up to its network header: enough to look its source up. `finish` reads the
/// transport header, which the frames of a banned source are spared.
pub struct Network {
    /// The frame, its `transport` not read yet.
    pub frame: Frame,
    protocol: u8,
    transport_offset: Option<usize>,
}

impl Network {
    #[inline(always)]
    pub fn finish<P: Packet + ?Sized>(self, packet: &P) -> Frame {
        let mut frame = self.frame;
        frame.transport_offset = self.transport_offset.unwrap_or(0);
        frame.transport = match (frame.fragment, self.transport_offset) {
            (Fragment::Later, _) => Transport::without_header(self.protocol, Header::Missing),
            (_, None) => Transport::without_header(self.protocol, Header::Unparseable),
            (_, Some(offset)) => parse_transport(packet, self.protocol, offset, frame.fragment),
        };
        frame
    }
}

#[inline(always)]
pub fn parse<P: Packet + ?Sized>(packet: &P) -> Result<Frame, ParseError> {
    Ok(parse_network(packet)?.finish(packet))
}

#[inline(always)]
pub fn parse_network<P: Packet + ?Sized>(packet: &P) -> Result<Network, ParseError> {
    let eth = packet.span(0, EthHdr::LEN).ok_or(ParseError::Malformed)?;
    let mut offset = EthHdr::LEN;
    let mut ether_type: u16 = packet.load::<_, ETHER_TYPE_AT>(eth);
    for _ in 0..MAX_VLAN_TAGS {
        if ether_type != ETH_P_8021Q && ether_type != ETH_P_8021AD {
            break;
        }
        let vlan = packet
            .span(offset, VlanHdr::LEN)
            .ok_or(ParseError::Malformed)?;
        ether_type = packet.load::<_, VLAN_ETHER_TYPE_AT>(vlan);
        offset += VlanHdr::LEN;
    }
    let mut frame = Frame {
        link_multicast: packet.load::<u8, ETH_DST_AT>(eth) & 1 != 0,
        ipv6: false,
        src: AddrKey::default(),
        fragment: Fragment::No,
        fragment_offset: 0,
        transport: Transport::without_header(0, Header::Missing),
        ip_offset: offset,
        transport_offset: 0,
    };
    let (protocol, transport_offset) = match ether_type {
        ETH_P_IP => parse_ipv4(packet, offset, &mut frame)?,
        ETH_P_IPV6 => parse_ipv6(packet, offset, &mut frame)?,
        _ => return Err(ParseError::NotIp),
    };
    Ok(Network {
        frame,
        protocol,
        transport_offset,
    })
}

/// Returns the transport protocol and the offset of its header, `None` when it cannot be found.
#[inline(always)]
fn parse_ipv4<P: Packet + ?Sized>(
    packet: &P,
    offset: usize,
    frame: &mut Frame,
) -> Result<(u8, Option<usize>), ParseError> {
    let ip = packet
        .span(offset, Ipv4Hdr::LEN)
        .ok_or(ParseError::Malformed)?;
    let version_ihl: u8 = packet.load::<_, IPV4_VERSION_IHL_AT>(ip);
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || header_len < Ipv4Hdr::LEN {
        return Err(ParseError::Malformed);
    }
    let frags = u16::from_be(packet.load::<_, IPV4_FRAGMENT_AT>(ip));
    frame.fragment_offset = frags & IPV4_OFFSET_MASK;
    frame.fragment = if frags & IPV4_OFFSET_MASK != 0 {
        Fragment::Later
    } else if frags & IPV4_MORE_FRAGMENTS != 0 {
        Fragment::First
    } else {
        Fragment::No
    };
    frame.src = AddrKey::ipv4(packet.load::<u32, IPV4_SRC_AT>(ip).to_ne_bytes());
    Ok((
        packet.load::<_, IPV4_PROTOCOL_AT>(ip),
        Some(offset + header_len),
    ))
}

#[inline(always)]
fn parse_ipv6<P: Packet + ?Sized>(
    packet: &P,
    offset: usize,
    frame: &mut Frame,
) -> Result<(u8, Option<usize>), ParseError> {
    let ip = packet
        .span(offset, Ipv6Hdr::LEN)
        .ok_or(ParseError::Malformed)?;
    let version: u8 = packet.load::<_, IPV6_VERSION_AT>(ip);
    if version >> 4 != 6 {
        return Err(ParseError::Malformed);
    }
    frame.ipv6 = true;
    frame.src = AddrKey::from_words([
        packet.load::<_, IPV6_SRC_AT>(ip),
        packet.load::<_, { IPV6_SRC_AT + 8 }>(ip),
    ]);
    let mut next: u8 = packet.load::<_, IPV6_NEXT_HEADER_AT>(ip);
    let mut offset = offset + Ipv6Hdr::LEN;
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        match next {
            IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS => {
                let ext = packet.span(offset, 2).ok_or(ParseError::Malformed)?;
                next = packet.load::<_, EXT_NEXT_HEADER_AT>(ext);
                offset += (usize::from(packet.load::<u8, EXT_LEN_AT>(ext)) + 1) * 8;
            }
            IPPROTO_FRAGMENT => {
                // RFC 8200 section 4.5: 8 bytes, the fragment offset within the first 4.
                let ext = packet.span(offset, 4).ok_or(ParseError::Malformed)?;
                let offset_and_flags = u16::from_be(packet.load::<_, EXT_FRAGMENT_AT>(ext));
                frame.fragment_offset = offset_and_flags >> 3;
                frame.fragment = if offset_and_flags >> 3 != 0 {
                    Fragment::Later
                } else if offset_and_flags & 1 != 0 {
                    Fragment::First
                } else {
                    Fragment::No
                };
                next = packet.load::<_, EXT_NEXT_HEADER_AT>(ext);
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
        IPPROTO_TCP => match packet.span(offset, TCP_HEADER_LEN) {
            Some(tcp) => {
                transport.src_port = u16::from_be(packet.load::<_, TCP_SRC_PORT_AT>(tcp));
                transport.dst_port = u16::from_be(packet.load::<_, TCP_DST_PORT_AT>(tcp));
                transport.tcp_flags = packet.load::<_, TCP_FLAGS_AT>(tcp);
            }
            None => transport.header = cut_short,
        },
        IPPROTO_UDP => match packet.span(offset, UdpHdr::LEN) {
            Some(udp) => {
                transport.src_port = u16::from_be(packet.load::<_, UDP_SRC_PORT_AT>(udp));
                transport.dst_port = u16::from_be(packet.load::<_, UDP_DST_PORT_AT>(udp));
            }
            None => transport.header = cut_short,
        },
        IPPROTO_SCTP => match packet.span(offset, SCTP_HEADER_LEN) {
            Some(sctp) => {
                transport.src_port = u16::from_be(packet.load::<_, SCTP_SRC_PORT_AT>(sctp));
                transport.dst_port = u16::from_be(packet.load::<_, SCTP_DST_PORT_AT>(sctp));
                transport.sctp_chunk = packet.load::<_, SCTP_CHUNK_TYPE_AT>(sctp);
            }
            None => transport.header = cut_short,
        },
        _ => {}
    }
    transport
}

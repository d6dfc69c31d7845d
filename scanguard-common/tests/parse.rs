//! The parser over synthetic frames: every field of `Frame` and its `Details` for each
//! supported layout, and the verdict for each way a frame can be cut short or inconsistent.

use std::net::{Ipv4Addr, Ipv6Addr};

use scanguard_common::{
    addr::AddrKey,
    classify::{ACK, FIN, PSH, SYN, URG},
    fingerprint::TcpOptions,
    parse::{
        Details, Fragment, Frame, Header, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, ParseError,
        SCTP_COOKIE_ECHO, SCTP_INIT, Transport, parse,
    },
};
use scanguard_lab::frames::{
    ETHERNET_LEN, FrameBuilder, IP_ID, IPV4_LEN, IPV6_LEN, Ipv6Ext, SCTP_LEN, TCP_LEN, TOS, TTL,
    UDP_LEN, VLAN_TAG_LEN, arp_request, truncated,
};

const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const SRC6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const DST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 2);
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const IPPROTO_ICMP: u8 = 1;
/// Ports and window chosen with different bytes so a swapped or misplaced read shows.
const SRC_PORT: u16 = 40_123;
const DST_PORT: u16 = 2_323;
const WINDOW: u16 = 0x1f2e;

/// What a frame parses to, and the details read from it afterwards.
#[derive(Debug, PartialEq)]
struct Parsed {
    frame: Frame,
    details: Details,
}

impl Parsed {
    /// The same frame behind `tags` VLAN tags, the outer one `vlan_id`.
    fn tagged(mut self, vlan_id: u16, tags: usize) -> Parsed {
        self.frame.ip_offset += tags * VLAN_TAG_LEN;
        self.frame.transport_offset += tags * VLAN_TAG_LEN;
        self.details.vlan_id = vlan_id;
        self
    }

    /// The same frame with `len` more bytes of IP header (options or extension headers).
    fn longer_ip_header(mut self, len: usize) -> Parsed {
        self.frame.transport_offset += len;
        self
    }

    fn fragment(mut self, fragment: Fragment, offset: u16) -> Parsed {
        self.frame.fragment = fragment;
        self.frame.fragment_offset = offset;
        self
    }
}

fn parsed(bytes: &[u8]) -> Parsed {
    let frame = parse(bytes).unwrap_or_else(|error| panic!("{error:?} for {bytes:02x?}"));
    Parsed {
        frame,
        details: frame.details(bytes),
    }
}

fn tcp(flags: u8) -> Transport {
    Transport {
        protocol: IPPROTO_TCP,
        header: Header::Parsed,
        src_port: SRC_PORT,
        dst_port: DST_PORT,
        tcp_flags: flags,
        sctp_chunk: 0,
    }
}

fn udp() -> Transport {
    Transport {
        protocol: IPPROTO_UDP,
        header: Header::Parsed,
        src_port: SRC_PORT,
        dst_port: DST_PORT,
        tcp_flags: 0,
        sctp_chunk: 0,
    }
}

fn no_header(protocol: u8, header: Header) -> Transport {
    Transport {
        protocol,
        header,
        src_port: 0,
        dst_port: 0,
        tcp_flags: 0,
        sctp_chunk: 0,
    }
}

/// What an untagged, unfragmented IPv4 frame from SRC4 to DST4 parses to.
fn ipv4_frame(ip_payload_len: usize, transport: Transport) -> Parsed {
    Parsed {
        frame: Frame {
            link_multicast: false,
            ipv6: false,
            src: AddrKey::ipv4(SRC4.octets()),
            fragment: Fragment::No,
            fragment_offset: 0,
            transport,
            ip_offset: ETHERNET_LEN,
            transport_offset: ETHERNET_LEN + IPV4_LEN,
        },
        details: Details {
            ether_type: ETH_P_IP,
            vlan_id: 0,
            dst: AddrKey::ipv4(DST4.octets()),
            ttl: TTL,
            tos: TOS,
            ip_id: IP_ID,
            ip_len: (IPV4_LEN + ip_payload_len) as u16,
            // The builder's TCP segments carry no options.
            window: transport.tcp().map_or(0, |_| WINDOW),
            tcp_options: TcpOptions::None,
        },
    }
}

/// What an untagged, unfragmented IPv6 frame from SRC6 to DST6 parses to.
fn ipv6_frame(ip_payload_len: usize, transport: Transport) -> Parsed {
    let v4 = ipv4_frame(0, transport);
    Parsed {
        frame: Frame {
            ipv6: true,
            src: AddrKey::from_octets(SRC6.octets()),
            transport_offset: ETHERNET_LEN + IPV6_LEN,
            ..v4.frame
        },
        details: Details {
            ether_type: ETH_P_IPV6,
            dst: AddrKey::from_octets(DST6.octets()),
            ip_id: 0,
            ip_len: (IPV6_LEN + ip_payload_len) as u16,
            ..v4.details
        },
    }
}

fn tcp4(flags: u8) -> FrameBuilder {
    FrameBuilder::new(SRC4, DST4)
        .tcp(SRC_PORT, DST_PORT, flags)
        .window(WINDOW)
}

fn tcp6(flags: u8) -> FrameBuilder {
    FrameBuilder::new(SRC6, DST6)
        .tcp(SRC_PORT, DST_PORT, flags)
        .window(WINDOW)
}

#[test]
fn ipv4_tcp_fills_every_field() {
    let flags = FIN | PSH | URG;
    assert_eq!(
        parsed(&tcp4(flags).build()),
        ipv4_frame(TCP_LEN, tcp(flags))
    );
}

#[test]
fn ipv6_tcp_fills_every_field() {
    let flags = SYN | ACK;
    assert_eq!(
        parsed(&tcp6(flags).build()),
        ipv6_frame(TCP_LEN, tcp(flags))
    );
}

#[test]
fn the_options_of_a_syn_are_read_and_those_of_other_segments_are_not() {
    const MSS_1460: [u8; 4] = [2, 4, 0x05, 0xb4];
    let options = |builder: FrameBuilder| parsed(&builder.build()).details.tcp_options;
    assert_eq!(
        options(tcp4(SYN).tcp_options(&MSS_1460)),
        TcpOptions::Mss1460Only
    );
    assert_eq!(
        options(tcp6(SYN).tcp_options(&MSS_1460)),
        TcpOptions::Mss1460Only
    );
    assert_eq!(
        options(tcp4(SYN).tcp_options(&[1, 1, 1, 1])),
        TcpOptions::Other
    );
    assert_eq!(options(tcp4(SYN).tcp_options(&[1; 8])), TcpOptions::Other);
    assert_eq!(options(tcp4(SYN)), TcpOptions::None);
    assert_eq!(options(tcp4(ACK).tcp_options(&MSS_1460)), TcpOptions::None);
}

#[test]
fn udp_has_ports_and_no_tcp_fields() {
    let v4 = FrameBuilder::new(SRC4, DST4)
        .udp(SRC_PORT, DST_PORT)
        .build();
    assert_eq!(parsed(&v4), ipv4_frame(UDP_LEN, udp()));
    let v6 = FrameBuilder::new(SRC6, DST6)
        .udp(SRC_PORT, DST_PORT)
        .build();
    assert_eq!(parsed(&v6), ipv6_frame(UDP_LEN, udp()));
}

#[test]
fn sctp_has_ports_and_its_first_chunk_type() {
    for chunk in [SCTP_INIT, SCTP_COOKIE_ECHO, 0] {
        let sctp = Transport {
            protocol: IPPROTO_SCTP,
            sctp_chunk: chunk,
            ..udp()
        };
        let v4 = FrameBuilder::new(SRC4, DST4)
            .sctp(SRC_PORT, DST_PORT, chunk)
            .build();
        assert_eq!(parsed(&v4), ipv4_frame(SCTP_LEN, sctp));
        let v6 = FrameBuilder::new(SRC6, DST6)
            .sctp(SRC_PORT, DST_PORT, chunk)
            .build();
        assert_eq!(parsed(&v6), ipv6_frame(SCTP_LEN, sctp));
    }
}

#[test]
fn icmp_is_parsed_without_reading_its_header() {
    let frame = FrameBuilder::new(SRC4, DST4).icmp_echo().build();
    assert_eq!(
        parsed(&frame),
        ipv4_frame(8, no_header(IPPROTO_ICMP, Header::Parsed))
    );
}

#[test]
fn a_single_vlan_tag_gives_its_id_and_the_inner_ethertype() {
    let frame = tcp4(SYN).vlan(100).build();
    assert_eq!(parsed(&frame), ipv4_frame(TCP_LEN, tcp(SYN)).tagged(100, 1));
}

#[test]
fn double_tagging_gives_the_outer_id_and_the_inner_ethertype() {
    let frame = tcp6(FIN).vlan(4000).vlan(7).build();
    assert_eq!(
        parsed(&frame),
        ipv6_frame(TCP_LEN, tcp(FIN)).tagged(4000, 2)
    );
}

#[test]
fn a_third_vlan_tag_is_not_followed() {
    let frame = tcp4(0).vlan(1).vlan(2).vlan(3).build();
    assert_eq!(parse(frame.as_slice()), Err(ParseError::NotIp));
}

#[test]
fn ipv4_options_move_the_transport_header() {
    // NOP, NOP, NOP, end of options (RFC 791), then the largest header IHL allows.
    for options in [&[1, 1, 1, 0][..], &[1; 40][..]] {
        let frame = tcp4(0).ipv4_options(options).build();
        assert_eq!(
            parsed(&frame),
            ipv4_frame(options.len() + TCP_LEN, tcp(0)).longer_ip_header(options.len()),
            "{} bytes of options",
            options.len()
        );
    }
}

/// Length of the extension headers the frame builder writes.
fn ext_len(ext: Ipv6Ext) -> usize {
    match ext {
        Ipv6Ext::HopByHop | Ipv6Ext::DestinationOptions => 16,
        Ipv6Ext::Routing | Ipv6Ext::Fragment(_) => 8,
    }
}

/// An unfragmented IPv6 TCP segment behind `exts`, and what it parses to.
fn ipv6_with(exts: &[Ipv6Ext]) -> (Vec<u8>, Parsed) {
    let frame = exts
        .iter()
        .fold(tcp6(0), |builder, ext| builder.ipv6_ext(*ext))
        .build();
    let exts_len: usize = exts.iter().copied().map(ext_len).sum();
    let expected = ipv6_frame(exts_len + TCP_LEN, tcp(0)).longer_ip_header(exts_len);
    (frame, expected)
}

/// A fragment header for a whole datagram (RFC 8200 section 4.5: an "atomic fragment").
const ATOMIC_FRAGMENT: Ipv6Ext = Ipv6Ext::Fragment(scanguard_lab::frames::Fragment {
    offset: 0,
    more: false,
});

#[test]
fn each_ipv6_extension_header_is_skipped() {
    for ext in [
        Ipv6Ext::HopByHop,
        Ipv6Ext::Routing,
        Ipv6Ext::DestinationOptions,
        ATOMIC_FRAGMENT,
    ] {
        let (frame, expected) = ipv6_with(&[ext]);
        assert_eq!(parsed(&frame), expected, "{ext:?}");
    }
}

#[test]
fn a_chain_of_extension_headers_is_followed() {
    // The order RFC 8200 section 4.1 recommends, destination options twice.
    let chain = [
        Ipv6Ext::HopByHop,
        Ipv6Ext::DestinationOptions,
        Ipv6Ext::Routing,
        ATOMIC_FRAGMENT,
        Ipv6Ext::DestinationOptions,
    ];
    let (frame, expected) = ipv6_with(&chain);
    assert_eq!(parsed(&frame), expected);
}

#[test]
fn eight_extension_headers_are_followed_and_nine_are_too_many() {
    let (eight, expected) = ipv6_with(&[Ipv6Ext::DestinationOptions; 8]);
    assert_eq!(parsed(&eight), expected);

    let (nine, _) = ipv6_with(&[Ipv6Ext::DestinationOptions; 9]);
    let frame = parsed(&nine).frame;
    assert_eq!(frame.transport.header, Header::Unparseable);
    assert_eq!(frame.transport.tcp(), None);
}

#[test]
fn a_first_fragment_too_short_for_the_tcp_header_misses_it() {
    // Eight bytes: the ports, not the flags (RFC 1858 "tiny fragment").
    let v4 = tcp4(0).fragment(0, true).carrying(8).build();
    assert_eq!(
        parsed(&v4),
        ipv4_frame(8, no_header(IPPROTO_TCP, Header::Missing)).fragment(Fragment::First, 0)
    );
    let v6 = tcp6(0).fragment(0, true).carrying(8).build();
    assert_eq!(
        parsed(&v6),
        ipv6_frame(8 + 8, no_header(IPPROTO_TCP, Header::Missing))
            .longer_ip_header(8)
            .fragment(Fragment::First, 0)
    );
}

#[test]
fn a_first_fragment_with_the_whole_tcp_header_is_parsed() {
    let frame = tcp4(FIN).fragment(0, true).build();
    assert_eq!(
        parsed(&frame),
        ipv4_frame(TCP_LEN, tcp(FIN)).fragment(Fragment::First, 0)
    );
}

#[test]
fn a_later_fragment_has_no_transport_header() {
    // The bytes at the transport offset look like a NULL probe; they are the middle of a datagram.
    let v4 = tcp4(0).fragment(185, false).build();
    assert_eq!(
        parsed(&v4),
        ipv4_frame(TCP_LEN, no_header(IPPROTO_TCP, Header::Missing)).fragment(Fragment::Later, 185)
    );
    let v6 = tcp6(0).fragment(185, true).build();
    assert_eq!(
        parsed(&v6),
        ipv6_frame(8 + TCP_LEN, no_header(IPPROTO_TCP, Header::Missing))
            .longer_ip_header(8)
            .fragment(Fragment::Later, 185)
    );
}

#[test]
fn frames_cut_before_the_transport_header_are_malformed() {
    let v4 = tcp4(0).build();
    let v6 = tcp6(0).build();
    let tagged = tcp4(0).vlan(5).build();
    let with_ext = tcp6(0).ipv6_ext(Ipv6Ext::HopByHop).build();
    let cuts = [
        ("empty", truncated(&v4, 0)),
        ("ethernet", truncated(&v4, ETHERNET_LEN - 1)),
        (
            "vlan tag",
            truncated(&tagged, ETHERNET_LEN + VLAN_TAG_LEN - 1),
        ),
        ("ipv4 header", truncated(&v4, ETHERNET_LEN + IPV4_LEN - 1)),
        ("ipv6 header", truncated(&v6, ETHERNET_LEN + IPV6_LEN - 1)),
        (
            "ipv6 extension",
            truncated(&with_ext, ETHERNET_LEN + IPV6_LEN + 1),
        ),
    ];
    for (what, frame) in cuts {
        assert_eq!(
            parse(frame.as_slice()),
            Err(ParseError::Malformed),
            "cut in the {what}"
        );
    }
}

#[test]
fn a_transport_header_cut_short_in_a_whole_datagram_is_unparseable() {
    let cuts = [
        truncated(&tcp4(0).build(), ETHERNET_LEN + IPV4_LEN + TCP_LEN - 1),
        truncated(&tcp6(0).build(), ETHERNET_LEN + IPV6_LEN + 14),
        truncated(
            &FrameBuilder::new(SRC4, DST4).udp(1, 2).build(),
            ETHERNET_LEN + IPV4_LEN + UDP_LEN - 1,
        ),
        // The common header without a chunk header.
        truncated(
            &FrameBuilder::new(SRC4, DST4).sctp(1, 2, SCTP_INIT).build(),
            ETHERNET_LEN + IPV4_LEN + 12,
        ),
        // IHL promises 40 bytes of options the frame does not have.
        truncated(
            &tcp4(0).ipv4_options(&[1; 40]).build(),
            ETHERNET_LEN + IPV4_LEN + 20,
        ),
    ];
    for frame in cuts {
        let transport = parsed(&frame).frame.transport;
        assert_eq!(transport.header, Header::Unparseable, "{frame:02x?}");
        assert_eq!(transport.tcp(), None);
    }
}

#[test]
fn arp_is_not_ip() {
    assert_eq!(
        parse(arp_request(SRC4, DST4).as_slice()),
        Err(ParseError::NotIp)
    );
}

#[test]
fn an_ipv4_header_shorter_than_twenty_bytes_is_malformed() {
    for ihl in 0..5 {
        let mut frame = tcp4(0).build();
        frame[ETHERNET_LEN] = 0x40 | ihl;
        assert_eq!(
            parse(frame.as_slice()),
            Err(ParseError::Malformed),
            "IHL {ihl}"
        );
    }
}

#[test]
fn an_ip_version_that_contradicts_the_ethertype_is_malformed() {
    let mut v4 = tcp4(0).build();
    v4[ETHERNET_LEN] = 0x65;
    assert_eq!(parse(v4.as_slice()), Err(ParseError::Malformed));
    let mut v6 = tcp6(0).build();
    v6[ETHERNET_LEN] = 0x40 | (v6[ETHERNET_LEN] & 0x0f);
    assert_eq!(parse(v6.as_slice()), Err(ParseError::Malformed));
}

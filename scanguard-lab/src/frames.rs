//! Crafted Ethernet frames for scanguard's parser and kernel tests.
//!
//! A [`FrameBuilder`] describes a frame from the outside in (VLAN tags, IP header with options or
//! extension headers, fragmentation, transport header) and serializes it with etherparse,
//! checksums included. Fields the parser reads but tests rarely vary (TTL, TOS, IP id, VLAN
//! priority) get fixed, distinctive values so a parser that reads the wrong bytes is caught.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, Ethernet2Header, IcmpEchoHeader,
    Icmpv4Header, Icmpv4Type, Icmpv6Header, Icmpv6Type, IpDscp, IpEcn, IpFragOffset, IpNumber,
    Ipv4Header, Ipv6FlowLabel, Ipv6FragmentHeader, Ipv6Header, Ipv6RawExtHeader, SingleVlanHeader,
    TcpHeader, UdpHeader, VlanId, VlanPcp,
};

pub const SOURCE_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
pub const DESTINATION_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x02];
/// TTL (IPv4) or hop limit (IPv6) of every crafted datagram.
pub const TTL: u8 = 57;
/// TOS (IPv4) or traffic class (IPv6): DSCP EF (46) with ECN ECT(1).
pub const TOS: u8 = (46 << 2) | 1;
/// Identification of every crafted IPv4 datagram (and of every IPv6 fragment header).
pub const IP_ID: u16 = 0x1234;
/// Flow label of every crafted IPv6 datagram; it shares bytes with the traffic class.
pub const FLOW_LABEL: u32 = 0xabcde;
/// Priority of every VLAN tag, so a parser that forgets to mask it reads the wrong VLAN id.
pub const VLAN_PRIORITY: u8 = 5;
/// nmap's window for its raw probes.
pub const DEFAULT_WINDOW: u16 = 1024;

pub const ETHERNET_LEN: usize = 14;
pub const VLAN_TAG_LEN: usize = 4;
pub const IPV4_LEN: usize = 20;
pub const IPV6_LEN: usize = 40;
pub const TCP_LEN: usize = 20;
pub const UDP_LEN: usize = 8;
/// SCTP's common header and one INIT-sized chunk (RFC 9260 sections 3.1 and 3.3.2).
pub const SCTP_LEN: usize = 12 + SCTP_CHUNK_LEN;
const SCTP_CHUNK_LEN: usize = 20;
/// The TCP options of a SYN carrying MSS 1460 alone, as nmap and masscan send it.
pub const MSS_1460: [u8; 4] = [2, 4, 0x05, 0xb4];

const SEQUENCE: u32 = 0x0102_0304;

/// The transport header a datagram carries (without payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `flags` is the raw flags byte (RFC 9293 section 3.1 and RFC 3168 for ECE and CWR).
    Tcp {
        src_port: u16,
        dst_port: u16,
        flags: u8,
        window: u16,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    /// One chunk of `chunk` type, as long as an INIT without parameters (RFC 9260 section
    /// 3.3.2), its value zero; no checksum (CRC32c), which nothing here verifies.
    Sctp {
        src_port: u16,
        dst_port: u16,
        chunk: u8,
    },
    /// An echo request: ICMP for IPv4, ICMPv6 for IPv6.
    IcmpEcho,
}

/// Fragmentation fields: the offset in 8-octet units and the more-fragments flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment {
    pub offset: u16,
    pub more: bool,
}

/// An IPv6 extension header (RFC 8200 section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv6Ext {
    /// 16 bytes, longer than the minimum, so a parser that ignores the length field loses its place.
    HopByHop,
    /// 8 bytes with segments left 0, which nodes ignore (RFC 8200 section 4.4).
    Routing,
    /// 16 bytes, as `HopByHop`.
    DestinationOptions,
    Fragment(Fragment),
}

/// Addresses of one family; mixing families is a bug in the test.
#[derive(Clone, Copy, Debug)]
enum Addresses {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

#[derive(Clone, Debug)]
pub struct FrameBuilder {
    addresses: Addresses,
    /// Outermost first.
    vlan_ids: Vec<u16>,
    ipv4_options: Vec<u8>,
    ipv4_fragment: Option<Fragment>,
    ipv6_exts: Vec<Ipv6Ext>,
    transport: Transport,
    /// How many bytes of the transport header the datagram carries, all when `None`.
    carried: Option<usize>,
    /// Raw TCP options, a multiple of 4 bytes.
    tcp_options: Vec<u8>,
    ttl: u8,
    ip_id: u16,
}

impl FrameBuilder {
    /// An untagged, unfragmented datagram carrying an ICMP echo request until told otherwise.
    /// Panics when `src` and `dst` are of different families.
    pub fn new(src: impl Into<IpAddr>, dst: impl Into<IpAddr>) -> FrameBuilder {
        let addresses = match (src.into(), dst.into()) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => Addresses::V4(src, dst),
            (IpAddr::V6(src), IpAddr::V6(dst)) => Addresses::V6(src, dst),
            (src, dst) => panic!("{src} and {dst} are of different families"),
        };
        FrameBuilder {
            addresses,
            vlan_ids: Vec::new(),
            ipv4_options: Vec::new(),
            ipv4_fragment: None,
            ipv6_exts: Vec::new(),
            transport: Transport::IcmpEcho,
            carried: None,
            tcp_options: Vec::new(),
            ttl: TTL,
            ip_id: IP_ID,
        }
    }

    /// Raw TCP options (a multiple of 4 bytes, at most 40), e.g. [`MSS_1460`].
    pub fn tcp_options(mut self, options: &[u8]) -> FrameBuilder {
        self.tcp_options = options.to_vec();
        self
    }

    /// TTL or hop limit.
    pub fn ttl(mut self, ttl: u8) -> FrameBuilder {
        self.ttl = ttl;
        self
    }

    /// IPv4 identification.
    pub fn ip_id(mut self, ip_id: u16) -> FrameBuilder {
        self.ip_id = ip_id;
        self
    }

    /// A TCP segment with `flags` and the default window.
    pub fn tcp(mut self, src_port: u16, dst_port: u16, flags: u8) -> FrameBuilder {
        self.transport = Transport::Tcp {
            src_port,
            dst_port,
            flags,
            window: DEFAULT_WINDOW,
        };
        self
    }

    /// Sets the window of the TCP segment.
    pub fn window(mut self, window: u16) -> FrameBuilder {
        match &mut self.transport {
            Transport::Tcp { window: w, .. } => *w = window,
            other => panic!("a window needs TCP, not {other:?}"),
        }
        self
    }

    pub fn udp(mut self, src_port: u16, dst_port: u16) -> FrameBuilder {
        self.transport = Transport::Udp { src_port, dst_port };
        self
    }

    /// An SCTP packet whose one chunk is of `chunk` type (`SCTP_INIT`, `SCTP_COOKIE_ECHO`).
    pub fn sctp(mut self, src_port: u16, dst_port: u16, chunk: u8) -> FrameBuilder {
        self.transport = Transport::Sctp {
            src_port,
            dst_port,
            chunk,
        };
        self
    }

    pub fn icmp_echo(mut self) -> FrameBuilder {
        self.transport = Transport::IcmpEcho;
        self
    }

    /// Adds a VLAN tag inside the ones already there. The innermost tag is an 802.1Q customer
    /// tag, every outer one an 802.1ad service tag (QinQ).
    pub fn vlan(mut self, id: u16) -> FrameBuilder {
        self.vlan_ids.push(id);
        self
    }

    /// IPv4 options: a multiple of 4 bytes, at most 40 (RFC 791: IHL counts 32-bit words).
    pub fn ipv4_options(mut self, options: &[u8]) -> FrameBuilder {
        assert!(
            matches!(self.addresses, Addresses::V4(..)),
            "options need IPv4"
        );
        self.ipv4_options = options.to_vec();
        self
    }

    /// Appends an IPv6 extension header to the chain.
    pub fn ipv6_ext(mut self, ext: Ipv6Ext) -> FrameBuilder {
        assert!(
            matches!(self.addresses, Addresses::V6(..)),
            "extension headers need IPv6"
        );
        self.ipv6_exts.push(ext);
        self
    }

    /// Makes the datagram a fragment: the IPv4 header's fields, or for IPv6 a fragment header
    /// appended to the extension chain.
    pub fn fragment(self, offset: u16, more: bool) -> FrameBuilder {
        let fragment = Fragment { offset, more };
        match self.addresses {
            Addresses::V4(..) => FrameBuilder {
                ipv4_fragment: Some(fragment),
                ..self
            },
            Addresses::V6(..) => self.ipv6_ext(Ipv6Ext::Fragment(fragment)),
        }
    }

    /// Carries only the first `bytes` of the transport header, with IP lengths that agree: what
    /// a first fragment cut before the end of the header holds.
    pub fn carrying(mut self, bytes: usize) -> FrameBuilder {
        self.carried = Some(bytes);
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let transport = self.transport_header();
        let carried = &transport[..self.carried.unwrap_or(transport.len()).min(transport.len())];
        let (ether_type, ip) = match self.addresses {
            Addresses::V4(src, dst) => (EtherType::IPV4, self.ipv4_header(src, dst, carried.len())),
            Addresses::V6(src, dst) => (EtherType::IPV6, self.ipv6_header(src, dst, carried.len())),
        };
        let mut frame = link_header(&self.vlan_ids, ether_type);
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(carried);
        frame
    }

    fn protocol(&self) -> IpNumber {
        match (self.transport, self.addresses) {
            (Transport::Tcp { .. }, _) => IpNumber::TCP,
            (Transport::Udp { .. }, _) => IpNumber::UDP,
            (Transport::Sctp { .. }, _) => IpNumber::SCTP,
            (Transport::IcmpEcho, Addresses::V4(..)) => IpNumber::ICMP,
            (Transport::IcmpEcho, Addresses::V6(..)) => IpNumber::IPV6_ICMP,
        }
    }

    fn transport_header(&self) -> Vec<u8> {
        const FITS: &str = "an empty payload fits";
        let echo = IcmpEchoHeader { id: IP_ID, seq: 1 };
        match (self.transport, self.addresses) {
            (
                Transport::Tcp {
                    src_port,
                    dst_port,
                    flags,
                    window,
                },
                addresses,
            ) => {
                let mut tcp = TcpHeader::new(src_port, dst_port, SEQUENCE, window);
                set_tcp_flags(&mut tcp, flags);
                tcp.set_options_raw(&self.tcp_options)
                    .expect("TCP options are a multiple of 4 bytes, at most 40");
                tcp.checksum = match addresses {
                    Addresses::V4(src, dst) => {
                        tcp.calc_checksum_ipv4_raw(src.octets(), dst.octets(), &[])
                    }
                    Addresses::V6(src, dst) => {
                        tcp.calc_checksum_ipv6_raw(src.octets(), dst.octets(), &[])
                    }
                }
                .expect(FITS);
                tcp.to_bytes().to_vec()
            }
            (Transport::Udp { src_port, dst_port }, addresses) => {
                let mut udp = UdpHeader {
                    source_port: src_port,
                    destination_port: dst_port,
                    length: UDP_LEN as u16,
                    checksum: 0,
                };
                udp.checksum = match addresses {
                    Addresses::V4(src, dst) => {
                        udp.calc_checksum_ipv4_raw(src.octets(), dst.octets(), &[])
                    }
                    Addresses::V6(src, dst) => {
                        udp.calc_checksum_ipv6_raw(src.octets(), dst.octets(), &[])
                    }
                }
                .expect(FITS);
                udp.to_bytes().to_vec()
            }
            (
                Transport::Sctp {
                    src_port,
                    dst_port,
                    chunk,
                },
                _,
            ) => {
                let mut sctp = vec![0; SCTP_LEN];
                sctp[0..2].copy_from_slice(&src_port.to_be_bytes());
                sctp[2..4].copy_from_slice(&dst_port.to_be_bytes());
                sctp[12] = chunk;
                sctp[14..16].copy_from_slice(&(SCTP_CHUNK_LEN as u16).to_be_bytes());
                sctp
            }
            (Transport::IcmpEcho, Addresses::V4(..)) => {
                Icmpv4Header::with_checksum(Icmpv4Type::EchoRequest(echo), &[])
                    .to_bytes()
                    .to_vec()
            }
            (Transport::IcmpEcho, Addresses::V6(src, dst)) => Icmpv6Header::with_checksum(
                Icmpv6Type::EchoRequest(echo),
                src.octets(),
                dst.octets(),
                &[],
            )
            .expect(FITS)
            .to_bytes()
            .to_vec(),
        }
    }

    fn ipv4_header(&self, src: Ipv4Addr, dst: Ipv4Addr, payload_len: usize) -> Vec<u8> {
        let mut ip = Ipv4Header::new(0, self.ttl, self.protocol(), src.octets(), dst.octets())
            .expect("an empty payload fits");
        ip.identification = self.ip_id;
        ip.dscp = IpDscp::try_new(TOS >> 2).expect("6 bits");
        ip.ecn = IpEcn::try_new(TOS & 0b11).expect("2 bits");
        ip.options = self
            .ipv4_options
            .as_slice()
            .try_into()
            .expect("IPv4 options are a multiple of 4 bytes, at most 40");
        if let Some(fragment) = self.ipv4_fragment {
            ip.dont_fragment = false;
            ip.more_fragments = fragment.more;
            ip.fragment_offset = fragment_offset(fragment);
        }
        ip.set_payload_len(payload_len)
            .expect("a test frame is small");
        ip.header_checksum = ip.calc_header_checksum();
        ip.to_bytes().to_vec()
    }

    fn ipv6_header(&self, src: Ipv6Addr, dst: Ipv6Addr, payload_len: usize) -> Vec<u8> {
        let protocol = self.protocol();
        let mut chain = Vec::new();
        for (i, ext) in self.ipv6_exts.iter().enumerate() {
            let next = self
                .ipv6_exts
                .get(i + 1)
                .map_or(protocol, |next| next.number());
            chain.extend_from_slice(&ext.to_bytes(next));
        }
        let ip = Ipv6Header {
            traffic_class: TOS,
            flow_label: Ipv6FlowLabel::try_new(FLOW_LABEL).expect("20 bits"),
            payload_length: u16::try_from(chain.len() + payload_len)
                .expect("a test frame is small"),
            next_header: self
                .ipv6_exts
                .first()
                .map_or(protocol, |first| first.number()),
            hop_limit: self.ttl,
            source: src.octets(),
            destination: dst.octets(),
        };
        let mut bytes = ip.to_bytes().to_vec();
        bytes.extend_from_slice(&chain);
        bytes
    }
}

impl Ipv6Ext {
    fn number(self) -> IpNumber {
        match self {
            Ipv6Ext::HopByHop => IpNumber::IPV6_HEADER_HOP_BY_HOP,
            Ipv6Ext::Routing => IpNumber::IPV6_ROUTE_HEADER,
            Ipv6Ext::DestinationOptions => IpNumber::IPV6_DESTINATION_OPTIONS,
            Ipv6Ext::Fragment(_) => IpNumber::IPV6_FRAGMENTATION_HEADER,
        }
    }

    fn to_bytes(self, next: IpNumber) -> Vec<u8> {
        // RFC 8200 section 4.2: a PadN option (type 1) of 12 bytes fills the header to 16.
        const PADDING_OPTION: [u8; 14] = [1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        // Routing type, segments left 0, then 4 type-specific bytes.
        const IGNORED_ROUTING: [u8; 6] = [0; 6];
        let raw = |payload: &[u8]| {
            Ipv6RawExtHeader::new_raw(next, payload)
                .expect("a valid extension payload")
                .to_bytes()
                .to_vec()
        };
        match self {
            Ipv6Ext::HopByHop | Ipv6Ext::DestinationOptions => raw(&PADDING_OPTION),
            Ipv6Ext::Routing => raw(&IGNORED_ROUTING),
            Ipv6Ext::Fragment(fragment) => Ipv6FragmentHeader::new(
                next,
                fragment_offset(fragment),
                fragment.more,
                u32::from(IP_ID),
            )
            .to_bytes()
            .to_vec(),
        }
    }
}

/// An ARP request from `sender` asking for `target`: Ethernet, but not IP.
pub fn arp_request(sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let arp = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        ArpOperation::REQUEST,
        &SOURCE_MAC,
        &sender.octets(),
        &[0; 6],
        &target.octets(),
    )
    .expect("Ethernet and IPv4 address lengths");
    let mut frame = link_header(&[], EtherType::ARP);
    frame.extend_from_slice(&arp.to_bytes());
    frame
}

/// The first `len` bytes of `frame`, as a frame cut short in flight.
pub fn truncated(frame: &[u8], len: usize) -> Vec<u8> {
    assert!(
        len <= frame.len(),
        "cannot cut {} bytes to {len}",
        frame.len()
    );
    frame[..len].to_vec()
}

/// The Ethernet header and VLAN tags (outermost first) in front of a `payload_type` payload.
fn link_header(vlan_ids: &[u16], payload_type: EtherType) -> Vec<u8> {
    // IEEE 802.1ad: service tags (0x88a8) outside, the customer tag (0x8100) innermost.
    let mut types: Vec<EtherType> = vlan_ids
        .iter()
        .skip(1)
        .map(|_| EtherType::PROVIDER_BRIDGING)
        .collect();
    if !vlan_ids.is_empty() {
        types.push(EtherType::VLAN_TAGGED_FRAME);
    }
    types.push(payload_type);
    let ethernet = Ethernet2Header {
        source: SOURCE_MAC,
        destination: DESTINATION_MAC,
        ether_type: types[0],
    };
    let mut bytes = ethernet.to_bytes().to_vec();
    for (id, inner_type) in vlan_ids.iter().zip(&types[1..]) {
        let tag = SingleVlanHeader {
            pcp: VlanPcp::try_new(VLAN_PRIORITY).expect("3 bits"),
            drop_eligible_indicator: false,
            vlan_id: VlanId::try_new(*id).expect("a 12-bit VLAN id"),
            ether_type: *inner_type,
        };
        bytes.extend_from_slice(&tag.to_bytes());
    }
    bytes
}

/// Sets the TCP header's flag fields from a raw flags byte (RFC 9293 section 3.1 bit order).
fn set_tcp_flags(tcp: &mut TcpHeader, flags: u8) {
    let has = |bit: u8| flags & bit != 0;
    tcp.fin = has(0x01);
    tcp.syn = has(0x02);
    tcp.rst = has(0x04);
    tcp.psh = has(0x08);
    tcp.ack = has(0x10);
    tcp.urg = has(0x20);
    tcp.ece = has(0x40);
    tcp.cwr = has(0x80);
}

fn fragment_offset(fragment: Fragment) -> IpFragOffset {
    IpFragOffset::try_new(fragment.offset).expect("a 13-bit fragment offset")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

    #[test]
    fn etherparse_reads_back_a_tagged_tcp_segment_with_its_flags() {
        let frame = FrameBuilder::new(SRC, DST)
            .vlan(10)
            .vlan(20)
            .tcp(40000, 23, 0x29)
            .window(4321)
            .build();
        let headers = etherparse::PacketHeaders::from_ethernet_slice(&frame).expect("parses");
        let Some(etherparse::TransportHeader::Tcp(tcp)) = headers.transport else {
            panic!("no TCP header in {headers:?}");
        };
        assert_eq!((tcp.source_port, tcp.destination_port), (40000, 23));
        assert!(tcp.fin && tcp.psh && tcp.urg && !tcp.syn && !tcp.ack);
        assert_eq!(tcp.window_size, 4321);
        assert_eq!(
            frame.len(),
            ETHERNET_LEN + 2 * VLAN_TAG_LEN + IPV4_LEN + TCP_LEN
        );
        assert_eq!(frame[12..14], [0x88, 0xa8]);
        assert_eq!(frame[16..18], [0x81, 0x00]);
    }

    #[test]
    fn a_first_fragment_carries_what_it_is_told_and_says_so() {
        let frame = FrameBuilder::new(SRC, DST)
            .tcp(1, 2, 0)
            .fragment(0, true)
            .carrying(8)
            .build();
        assert_eq!(frame.len(), ETHERNET_LEN + IPV4_LEN + 8);
        let ip = Ipv4Header::from_slice(&frame[ETHERNET_LEN..])
            .expect("parses")
            .0;
        assert!(ip.more_fragments);
        assert_eq!(usize::from(ip.total_len), IPV4_LEN + 8);
    }

    #[test]
    fn etherparse_follows_an_ipv6_extension_chain_to_udp() {
        let frame = FrameBuilder::new(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST)
            .udp(53, 5353)
            .ipv6_ext(Ipv6Ext::HopByHop)
            .ipv6_ext(Ipv6Ext::Routing)
            .ipv6_ext(Ipv6Ext::DestinationOptions)
            .build();
        let headers = etherparse::PacketHeaders::from_ethernet_slice(&frame).expect("parses");
        let Some(etherparse::TransportHeader::Udp(udp)) = headers.transport else {
            panic!("no UDP header in {headers:?}");
        };
        assert_eq!((udp.source_port, udp.destination_port), (53, 5353));
        assert_eq!(frame.len(), ETHERNET_LEN + IPV6_LEN + 16 + 8 + 16 + UDP_LEN);
    }
}

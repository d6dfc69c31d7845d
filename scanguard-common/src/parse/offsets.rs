//! Where each field the parse reads sits, in bytes from the start of its header: one table for
//! the verdict's parse and for the details read when an event or a ban needs them.

// Ethernet (IEEE 802.3 section 3.1.1): destination address, source address, type.
/// The destination address's first byte, whose low bit marks a group (broadcast or multicast)
/// address.
pub(super) const ETH_DST_AT: usize = 0;
pub(super) const ETHER_TYPE_AT: usize = 12;
pub(super) const ETHER_TYPE_LEN: usize = 2;

/// The ethertype inside an IEEE 802.1Q tag, after the tag control field (priority, DEI and the
/// 12-bit VLAN id).
pub(super) const VLAN_ETHER_TYPE_AT: usize = 2;

// IPv4, RFC 791 section 3.1.
/// Version (high 4 bits) and header length in 32-bit words (low 4 bits).
pub(super) const IPV4_VERSION_IHL_AT: usize = 0;
/// Flags (3 bits) and fragment offset (13 bits).
pub(super) const IPV4_FRAGMENT_AT: usize = 6;
pub(super) const IPV4_PROTOCOL_AT: usize = 9;
pub(super) const IPV4_SRC_AT: usize = 12;
pub(super) const IPV4_DST_AT: usize = 16;

// IPv6, RFC 8200 section 3.
/// Version (high 4 bits), then the traffic class and flow label.
pub(super) const IPV6_VERSION_AT: usize = 0;
pub(super) const IPV6_NEXT_HEADER_AT: usize = 6;
pub(super) const IPV6_SRC_AT: usize = 8;
pub(super) const IPV6_DST_AT: usize = 24;

// IPv6 extension headers, RFC 8200 sections 4.3 to 4.6.
pub(super) const EXT_NEXT_HEADER_AT: usize = 0;
/// Hop-by-hop, routing and destination options: length in 8-octet units beyond the first 8.
pub(super) const EXT_LEN_AT: usize = 1;
/// Fragment header (section 4.5): fragment offset (13 bits), reserved, M flag.
pub(super) const EXT_FRAGMENT_AT: usize = 2;

// TCP, RFC 9293 section 3.1.
pub(super) const TCP_SRC_PORT_AT: usize = 0;
pub(super) const TCP_DST_PORT_AT: usize = 2;
/// Data offset (high 4 bits: the header length in 32-bit words).
pub(super) const TCP_DATA_OFFSET_AT: usize = 12;
pub(super) const TCP_FLAGS_AT: usize = 13;
pub(super) const TCP_OPTIONS_AT: usize = 20;

// UDP, RFC 768.
pub(super) const UDP_SRC_PORT_AT: usize = 0;
pub(super) const UDP_DST_PORT_AT: usize = 2;

// SCTP, RFC 9260 section 3: the common header (ports, verification tag, checksum), then the
// first chunk's type, flags and length.
pub(super) const SCTP_SRC_PORT_AT: usize = 0;
pub(super) const SCTP_DST_PORT_AT: usize = 2;
pub(super) const SCTP_CHUNK_TYPE_AT: usize = 12;
/// The common header and one chunk header: a packet without a chunk carries nothing to judge.
pub(super) const SCTP_HEADER_LEN: usize = 16;

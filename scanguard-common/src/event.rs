//! Detection events, sent through a perf event array and rate-limited per source.

use crate::{addr::AddrKey, wire_struct};

pub const EVENTS_MAP: &str = "EVENTS";
/// Sources whose event budget is tracked at once; the least recent is forgotten first.
pub const EVENT_BUCKETS_CAPACITY: u32 = 16_384;

/// A probe was detected and its kind's action taken.
pub const EVENT_DETECTION: u8 = 0;
/// A packet from a banned source was dropped; `kind` is the ban's reason.
pub const EVENT_BANNED_DROP: u8 = 1;
/// A probe dropped and its claimed source spared: the route back names another sender.
pub const EVENT_SPOOFED: u8 = 2;
/// A probe dropped and its claimed source spared: the route back cannot vouch for it.
pub const EVENT_UNVERIFIED: u8 = 3;

/// `Event::action` of a ban spared by lock-out protection: the source would have been banned.
pub const ACTION_WOULD_BAN: u8 = 4;

/// One detection, with the fields the iptables LOG target prints and a few more.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// `bpf_ktime_get_boot_ns` at detection.
    pub timestamp_ns: u64,
    /// Events from this source suppressed by the rate limit since its previous event.
    pub suppressed: u64,
    pub src: AddrKey,
    pub dst: AddrKey,
    pub ifindex: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub ether_type: u16,
    pub vlan_id: u16,
    pub ip_id: u16,
    pub ip_len: u16,
    pub window: u16,
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    /// `EVENT_DETECTION`, `EVENT_BANNED_DROP`, `EVENT_SPOOFED` or `EVENT_UNVERIFIED`.
    pub event_type: u8,
    /// A `Kind`.
    pub kind: u8,
    /// The `Action` taken.
    pub action: u8,
    pub protocol: u8,
    pub tcp_flags: u8,
    pub ttl: u8,
    pub tos: u8,
    /// 1 for IPv6.
    pub ipv6: u8,
    /// A `Fingerprint` of the SYN, `None` for everything else.
    pub fingerprint: u8,
    pub _pad: u8,
    /// `EVENT_UNVERIFIED` for an on-link source without a neighbour entry: the device the
    /// route to it leaves by, where the daemon may ask who holds the address. 0 otherwise.
    pub ask_ifindex: u32,
    pub _pad_end: [u8; 4],
}
wire_struct!(Event, 96);

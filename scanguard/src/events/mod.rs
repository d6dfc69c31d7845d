//! Detection events: decoded from the kernel's wire struct into a view with stable field names,
//! rendered as iptables-style log lines or JSON, read from the perf buffers and fanned out to
//! viewers.

pub mod fanout;
pub mod output;
pub mod reader;
pub mod render;

use std::net::IpAddr;

use scanguard_common::{
    action::Action,
    ban::reason_name,
    event::{ACTION_WOULD_BAN, EVENT_BANNED_DROP, EVENT_SPOOFED, EVENT_UNVERIFIED, Event},
    fingerprint::Fingerprint,
    parse::{IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP},
    ports::well_known_name,
};
use serde::{Deserialize, Serialize};

use crate::bpf::clock;

/// One detection as users see it. The field names are the documented JSON schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    /// RFC 3339 wall-clock time.
    pub time: String,
    /// `detection`, `banned` for a packet dropped because its source is banned, `spoofed` or
    /// `unverified` for a probe dropped without a ban because the route back to its claimed
    /// source names another sender (`src_mac` is the real one) or cannot vouch for it.
    pub event: String,
    /// The scan kind (for `banned`: the ban's reason).
    pub kind: String,
    /// `ban`, `drop`, `log`, or `would-ban` where lock-out protection spared the source.
    pub action: String,
    pub interface: String,
    pub ifindex: u32,
    pub src_mac: String,
    pub dst_mac: String,
    pub ethertype: u16,
    pub vlan_id: Option<u16>,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// `TCP`, `UDP` or the IP protocol number.
    pub protocol: String,
    pub src_port: u16,
    pub dst_port: u16,
    /// TCP flags as `SYN,FIN`..., `NONE` for none, empty for other protocols.
    pub tcp_flags: String,
    pub window: u16,
    /// TTL or hop limit.
    pub ttl: u8,
    /// TOS or traffic class.
    pub tos: u8,
    pub ip_id: u16,
    /// IP total length.
    pub length: u16,
    /// Events from this source suppressed by the rate limit since its previous event.
    pub suppressed: u64,
    /// The destination port's service name, from the trap ports or the well-known names.
    pub service: Option<String>,
    /// The scanner a SYN looks like (`nmap`, `masscan`, `zmap`, `raw-ip-id`), if any.
    pub fingerprint: Option<String>,
    /// For `unverified`: the device the program asks the daemon to resolve `src` on (0: none).
    #[serde(skip)]
    pub ask_ifindex: u32,
}

/// Names of destination ports for events: the configured trap ports, then well-known names.
pub type PortNames = std::collections::BTreeMap<u16, String>;

impl Detection {
    pub fn from_event(event: &Event, interface: String, port_names: &PortNames) -> Detection {
        let protocol = match event.protocol {
            IPPROTO_TCP => "TCP".to_string(),
            IPPROTO_UDP => "UDP".to_string(),
            IPPROTO_SCTP => "SCTP".to_string(),
            other => other.to_string(),
        };
        let tcp_flags = if event.protocol == IPPROTO_TCP {
            render::tcp_flags(event.tcp_flags)
        } else {
            String::new()
        };
        Detection {
            time: humantime::format_rfc3339_millis(clock::wall_time(event.timestamp_ns))
                .to_string(),
            event: match event.event_type {
                EVENT_BANNED_DROP => "banned",
                EVENT_SPOOFED => "spoofed",
                EVENT_UNVERIFIED => "unverified",
                _ => "detection",
            }
            .to_string(),
            kind: reason_name(event.kind).to_string(),
            action: match event.action {
                ACTION_WOULD_BAN => "would-ban",
                action => Action::from_u8(action).name(),
            }
            .to_string(),
            interface,
            ifindex: event.ifindex,
            src_mac: render::mac(&event.eth_src),
            dst_mac: render::mac(&event.eth_dst),
            ethertype: event.ether_type,
            vlan_id: (event.vlan_id != 0).then_some(event.vlan_id),
            src: event.src.address(),
            dst: event.dst.address(),
            protocol,
            src_port: event.src_port,
            dst_port: event.dst_port,
            tcp_flags,
            window: event.window,
            ttl: event.ttl,
            tos: event.tos,
            ip_id: event.ip_id,
            length: event.ip_len,
            suppressed: event.suppressed,
            service: port_names
                .get(&event.dst_port)
                .cloned()
                .or_else(|| well_known_name(event.dst_port).map(str::to_string)),
            fingerprint: match Fingerprint::from_u8(event.fingerprint) {
                Fingerprint::None => None,
                fingerprint => Some(fingerprint.name().to_string()),
            },
            ask_ifindex: event.ask_ifindex,
        }
    }
}

//! Connections this host takes part in, recorded on egress by the TC program and from the
//! socket table at attach, so stateless probes (bare ACK, FIN+ACK, unsolicited UDP) can be told
//! from traffic of real connections without the conntrack kfuncs (aya cannot call kfuncs yet).

use crate::{ban::AddrKey, wire_struct};

pub const FLOWS_MAP: &str = "FLOWS";
pub const DEFAULT_FLOW_CAPACITY: u32 = 65_536;

/// A flow as seen from this host: the peer's address and port and the local port.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub peer: AddrKey,
    pub peer_port: u16,
    pub local_port: u16,
    pub protocol: u8,
    pub _pad: [u8; 3],
}
wire_struct!(FlowKey, 24);

impl FlowKey {
    #[inline(always)]
    pub const fn new(peer: AddrKey, peer_port: u16, local_port: u16, protocol: u8) -> FlowKey {
        FlowKey {
            peer,
            peer_port,
            local_port,
            protocol,
            _pad: [0; 3],
        }
    }
}

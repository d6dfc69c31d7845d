//! Connections this host takes part in, recorded on egress by the TC program and from the
//! socket table at attach, so stateless probes (bare ACK, FIN+ACK, unsolicited UDP) can be told
//! from traffic of real connections without the conntrack kfuncs (aya cannot call kfuncs yet).

use crate::{
    addr::AddrKey,
    ban_filter::{VERDICT_SLOTS, source_hash},
    wire_struct,
};

pub const FLOWS_MAP: &str = "FLOWS";
pub const DEFAULT_FLOW_CAPACITY: u32 = 65_536;

/// A flow as seen from this host: the peer's address and port and the local port.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub peer: AddrKey,
    pub peer_port: u16,
    pub local_port: u16,
    /// The IP protocol number, widened so the key ends on a whole word: the XDP program would
    /// zero a three-byte pad through a `memset` call on every packet it checks.
    pub protocol: u32,
}
wire_struct!(FlowKey, 24);

impl FlowKey {
    #[inline(always)]
    pub const fn new(peer: AddrKey, peer_port: u16, local_port: u16, protocol: u8) -> FlowKey {
        FlowKey {
            peer,
            peer_port,
            local_port,
            protocol: protocol as u32,
        }
    }
}

/// A flow one CPU found in the flow map during `jiffy` (one scheduler tick): the packets of a
/// busy flow after its first in a tick are let through without the map's hash lookup.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowHit {
    pub key: FlowKey,
    pub jiffy: u64,
}
wire_struct!(FlowHit, 32);

/// Per CPU, as many as the ban verdicts: the flows one CPU serves within a tick.
pub const FLOW_HIT_SLOTS: u32 = VERDICT_SLOTS;

/// A flow's slot among `FLOW_HIT_SLOTS`: its peer's hash with both ports mixed in, so the
/// connections of one peer spread too.
#[inline(always)]
pub fn flow_slot(key: &FlowKey) -> u32 {
    let ports = (u32::from(key.peer_port) << 16) | u32::from(key.local_port);
    let hash = (source_hash(&key.peer) ^ ports).wrapping_mul(0x9e37_79b1);
    (hash ^ (hash >> 16)) % FLOW_HIT_SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connections_of_one_peer_spread_over_the_slots() {
        let peer = AddrKey::ipv4([192, 0, 2, 10]);
        let mut used = [false; FLOW_HIT_SLOTS as usize];
        for port in 40_000..40_000 + FLOW_HIT_SLOTS as u16 {
            used[flow_slot(&FlowKey::new(peer, port, 443, 6)) as usize] = true;
        }
        // As many flows as slots: a uniform hash fills about 63% of them.
        let filled = used.iter().filter(|&&used| used).count();
        assert!(filled > 550, "only {filled} of {FLOW_HIT_SLOTS} slots used");
    }

    #[test]
    fn every_field_of_the_key_moves_the_slot() {
        let key = FlowKey::new(AddrKey::ipv4([192, 0, 2, 10]), 40_000, 443, 6);
        let others = [
            FlowKey::new(AddrKey::ipv4([192, 0, 2, 11]), 40_000, 443, 6),
            FlowKey::new(key.peer, 40_001, 443, 6),
            FlowKey::new(key.peer, 40_000, 444, 6),
        ];
        for other in others {
            assert_ne!(flow_slot(&key), flow_slot(&other), "{other:?}");
        }
    }
}

//! The flows this host takes part in: written by the TC egress program (and by the loader from
//! the socket table), read by the XDP program to tell stateless probes from real traffic.

use aya_ebpf::{macros::map, maps::LruHashMap};
use scanguard_common::{
    ban::AddrKey,
    flow::{DEFAULT_FLOW_CAPACITY, FlowKey},
    parse::Frame,
};

/// Resized by the loader; the value is when the flow was first recorded.
#[map]
static FLOWS: LruHashMap<FlowKey, u64> = LruHashMap::with_max_entries(DEFAULT_FLOW_CAPACITY, 0);

/// Whether an inbound frame belongs to a recorded flow (peer = its source).
#[inline(always)]
pub fn contains_inbound(frame: &Frame) -> bool {
    let transport = &frame.transport;
    let key = FlowKey::new(
        frame.src,
        transport.src_port,
        transport.dst_port,
        transport.protocol,
    );
    FLOWS.get_ptr(&key).is_some()
}

/// Records the flow of an outbound frame to `dst`.
#[inline(always)]
pub fn record_outbound(frame: &Frame, dst: AddrKey, now_ns: u64) {
    let transport = &frame.transport;
    let key = FlowKey::new(
        dst,
        transport.dst_port,
        transport.src_port,
        transport.protocol,
    );
    // Look before writing: an update takes the bucket lock, and a busy UDP flow sends often.
    if FLOWS.get_ptr(&key).is_none() {
        // A full map evicts its least recently used flow; failing here only forgets one.
        let _ = FLOWS.insert(&key, &now_ns, 0);
    }
}

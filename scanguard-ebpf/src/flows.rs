//! The flows this host takes part in: written by the TC egress program (and by the loader from
//! the socket table), read by the XDP program to tell stateless probes from real traffic.

use aya_ebpf::helpers::bpf_jiffies64;
use scanguard_common::{
    addr::AddrKey,
    flow::{FlowHit, FlowKey, flow_slot},
    parse::Frame,
};

use crate::maps::{FLOW_HITS, FLOWS};

/// Whether an inbound frame belongs to a recorded flow (peer = its source). A flow found once
/// is taken as found for the rest of the tick on this CPU: a flow the LRU map evicts is
/// forgotten within a tick, and the lookup once a tick keeps a busy flow recent in the map.
/// A miss is never remembered, so a flow recorded a moment ago counts at once.
#[inline(always)]
pub fn contains_inbound(frame: &Frame) -> bool {
    let transport = &frame.transport;
    // Built where it is used: a key kept on the stack from the start costs every hit its stores.
    let key = || {
        FlowKey::new(
            frame.src,
            transport.src_port,
            transport.dst_port,
            transport.protocol,
        )
    };
    // SAFETY: the helper has no preconditions; the verifier inlines it into a load.
    let jiffy = unsafe { bpf_jiffies64() };
    // Per CPU, so no entry is shared and none needs atomics.
    let slot = FLOW_HITS.get_ptr_mut(flow_slot(&key()));
    if let Some(slot) = slot {
        // SAFETY: this CPU's entry, only touched by this CPU while the program runs.
        let hit = unsafe { &*slot };
        if hit.jiffy == jiffy && hit.key == key() {
            return true;
        }
    }
    let key = key();
    if FLOWS.get_ptr(&key).is_none() {
        return false;
    }
    if let Some(slot) = slot {
        // SAFETY: as above.
        unsafe { remember(&mut *slot, &key, jiffy) };
    }
    true
}

/// Stores a hit field by field: a whole-struct copy from the key on the stack compiles to a
/// call to the byte-loop `memmove` subprogram.
#[inline(always)]
fn remember(hit: &mut FlowHit, key: &FlowKey, jiffy: u64) {
    hit.key.peer = key.peer;
    hit.key.peer_port = key.peer_port;
    hit.key.local_port = key.local_port;
    hit.key.protocol = key.protocol;
    hit.jiffy = jiffy;
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

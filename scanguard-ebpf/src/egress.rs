//! The TC egress program: records the flows this host takes part in, for the XDP program's
//! stateless-probe and default-deny checks. It never drops anything.

use aya_ebpf::{
    bindings::TC_ACT_OK, helpers::bpf_ktime_get_boot_ns, macros::classifier, programs::TcContext,
};
use scanguard_common::{
    classify::SYN,
    parse::{Header, IPPROTO_TCP, IPPROTO_UDP, parse},
};

use crate::{flows, packet::PacketOf};

#[classifier]
pub fn scanguard_egress(ctx: TcContext) -> i32 {
    let packet = PacketOf(&ctx);
    if let Ok(frame) = parse(&packet) {
        let transport = &frame.transport;
        // A connection starts with our SYN (we connect) or SYN+ACK (we accept); a UDP flow
        // with any datagram we send.
        let starts_flow = match (transport.protocol, transport.header) {
            (IPPROTO_TCP, Header::Parsed) => transport.tcp_flags & SYN != 0,
            (IPPROTO_UDP, Header::Parsed) => true,
            _ => false,
        };
        if starts_flow {
            // SAFETY: the helper has no preconditions.
            let now_ns = unsafe { bpf_ktime_get_boot_ns() };
            flows::record_outbound(&frame, frame.dst(&packet), now_ns);
        }
    }
    TC_ACT_OK
}

//! This host as the kernel and Docker describe it: its interfaces and their kinds, the XDP
//! and TC ingress programs on them, default routes and the notifications that they changed,
//! sockets and the ports they serve (SCTP's too), the addresses lock-out protection covers, and
//! Docker's names.

pub mod default_routes;
pub mod docker;
pub mod iface_kind;
pub mod interfaces;
pub mod links;
pub mod lockout;
pub mod netlink_events;
pub mod network_changes;
pub mod sctp;
pub mod served;
pub mod sockets;
pub mod tcx;
pub mod xdp;

//! What the daemon reads of its host, in a network namespace of each test's own: the netlink
//! notifications it follows the host by, and the sockets sock_diag reports. Needs root.

#[path = "../support/mod.rs"]
mod support;

mod events;
mod sockets;

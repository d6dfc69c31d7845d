//! The ports local services listen on (TCP listeners and bound, unconnected UDP sockets of
//! this network namespace, at attach, at each reload and each sweep): their clients'
//! connection requests and datagrams do not count toward port sweeps, and cost the program no
//! sweep lookup.

use std::collections::BTreeSet;

use crate::host::sockets::Socket;

/// The ports of every serving socket.
pub fn ports(sockets: &[Socket]) -> BTreeSet<u16> {
    sockets
        .iter()
        .filter(|socket| socket.serves())
        .map(|socket| socket.local.port())
        .filter(|&port| port != 0)
        .collect()
}

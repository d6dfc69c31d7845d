//! Marking the ports local services listen on (TCP listeners and bound, unconnected UDP
//! sockets of this network namespace at attach): their clients' connection requests and
//! datagrams do not count toward port sweeps, and cost the program no sweep lookup.

use std::collections::BTreeSet;

use anyhow::Result;
use aya::Ebpf;
use scanguard_common::ports::ROLE_SERVED;

use crate::{program, sockets::Socket};

/// Adds `ROLE_SERVED` to the port of every serving socket; returns those ports.
pub fn mark(ebpf: &mut Ebpf, sockets: &[Socket]) -> Result<BTreeSet<u16>> {
    let ports: BTreeSet<u16> = sockets
        .iter()
        .filter(|socket| socket.serves())
        .map(|socket| socket.local.port())
        .filter(|&port| port != 0)
        .collect();
    let mut roles = program::port_roles_map(ebpf)?;
    let mut table = roles.get(&0, 0)?;
    for &port in &ports {
        table[usize::from(port)] |= ROLE_SERVED;
    }
    roles.set(0, table, 0)?;
    Ok(ports)
}

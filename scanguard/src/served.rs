//! Marking the ports local services listen on (TCP listeners and bound, unconnected UDP
//! sockets of this network namespace at attach): their clients' connection requests and
//! datagrams do not count toward port sweeps, and cost the program no sweep lookup.

use std::collections::BTreeSet;

use anyhow::{Context as _, Result};
use aya::{
    Ebpf,
    maps::{Array, MapData},
};
use scanguard_common::ports::{PORT_ROLES_SECTION, PortRoles, ROLE_SERVED};

use crate::sockets::Socket;

/// Adds `ROLE_SERVED` to the port of every serving socket; returns those ports.
pub fn mark(ebpf: &mut Ebpf, sockets: &[Socket]) -> Result<BTreeSet<u16>> {
    let ports: BTreeSet<u16> = sockets
        .iter()
        .filter(|socket| socket.serves())
        .map(|socket| socket.local.port())
        .filter(|&port| port != 0)
        .collect();
    let map = ebpf
        .map_mut(PORT_ROLES_SECTION)
        .context("the embedded object has no port-role map")?;
    let mut roles: Array<&mut MapData, PortRoles> = Array::try_from(map)?;
    let mut table = roles.get(&0, 0)?;
    for &port in &ports {
        table[usize::from(port)] |= ROLE_SERVED;
    }
    roles.set(0, table, 0)?;
    Ok(ports)
}

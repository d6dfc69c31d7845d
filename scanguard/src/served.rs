//! Marking the ports local services listen on (TCP listeners and bound, unconnected UDP
//! sockets of this network namespace at attach): their clients' connection requests and
//! datagrams do not count toward port sweeps, and cost the program no sweep lookup.

use std::{collections::BTreeSet, net::SocketAddr};

use anyhow::{Context as _, Result};
use aya::{
    Ebpf,
    maps::{Array, MapData},
};
use procfs::net::TcpState;
use scanguard_common::ports::{PORT_ROLES_MAP, ROLE_SERVED};

/// Adds `ROLE_SERVED` to every port with a listening socket; returns those ports.
pub fn mark(ebpf: &mut Ebpf) -> Result<BTreeSet<u16>> {
    let ports = listening_ports();
    let map = ebpf
        .map_mut(PORT_ROLES_MAP)
        .context("the embedded object has no port-role map")?;
    let mut roles: Array<&mut MapData, u8> = Array::try_from(map)?;
    for &port in &ports {
        let index = u32::from(port);
        let current = roles.get(&index, 0)?;
        roles.set(index, current | ROLE_SERVED, 0)?;
    }
    Ok(ports)
}

fn listening_ports() -> BTreeSet<u16> {
    let tcp = procfs::net::tcp()
        .into_iter()
        .chain(procfs::net::tcp6())
        .flatten()
        .filter(|entry| entry.state == TcpState::Listen)
        .map(|entry| entry.local_address);
    let udp = procfs::net::udp()
        .into_iter()
        .chain(procfs::net::udp6())
        .flatten()
        .filter(|entry| is_unconnected(entry.remote_address))
        .map(|entry| entry.local_address);
    tcp.chain(udp)
        .map(|local| local.port())
        .filter(|&port| port != 0)
        .collect()
}

/// A UDP socket with no peer receives from anyone: a service.
fn is_unconnected(remote: SocketAddr) -> bool {
    remote.port() == 0 && remote.ip().is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sockets_without_a_peer_serve_udp() {
        assert!(is_unconnected("0.0.0.0:0".parse().unwrap()));
        assert!(is_unconnected("[::]:0".parse().unwrap()));
        assert!(!is_unconnected("192.0.2.53:53".parse().unwrap()));
    }
}

//! Seeding the flow table from the kernel's socket tables at attach, so connections older than
//! scanguard are not mistaken for stateless probes.

use std::net::SocketAddr;

use anyhow::{Context as _, Result};
use aya::{
    Ebpf,
    maps::{HashMap, MapData},
};
use scanguard_common::{
    ban::AddrKey,
    flow::{FLOWS_MAP, FlowKey},
    parse::{IPPROTO_TCP, IPPROTO_UDP},
};

use crate::clock;

/// Records every connected TCP and UDP socket of this network namespace; returns how many.
pub fn seed(ebpf: &mut Ebpf) -> Result<usize> {
    let map = ebpf
        .map_mut(FLOWS_MAP)
        .context("the embedded object has no flow map")?;
    let mut flows: HashMap<&mut MapData, FlowKey, u64> = HashMap::try_from(map)?;
    let tcp = procfs::net::tcp()
        .into_iter()
        .chain(procfs::net::tcp6())
        .flatten()
        .map(|entry| (entry.local_address, entry.remote_address, IPPROTO_TCP));
    let udp = procfs::net::udp()
        .into_iter()
        .chain(procfs::net::udp6())
        .flatten()
        .map(|entry| (entry.local_address, entry.remote_address, IPPROTO_UDP));
    let now = clock::boot_ns();
    let mut seeded = 0;
    for (local, remote, protocol) in tcp.chain(udp) {
        if let Some(key) = flow_key(local, remote, protocol) {
            flows.insert(key, now, 0)?;
            seeded += 1;
        }
    }
    Ok(seeded)
}

/// Listening and unconnected sockets have no peer and no flow.
fn flow_key(local: SocketAddr, remote: SocketAddr, protocol: u8) -> Option<FlowKey> {
    (remote.port() != 0 && !remote.ip().is_unspecified()).then(|| {
        FlowKey::new(
            AddrKey::from(remote.ip()),
            remote.port(),
            local.port(),
            protocol,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connected_sockets_are_flows() {
        let local: SocketAddr = "10.0.0.1:22".parse().unwrap();
        assert_eq!(
            flow_key(local, "0.0.0.0:0".parse().unwrap(), IPPROTO_TCP),
            None
        );
        let key = flow_key(local, "192.0.2.7:51000".parse().unwrap(), IPPROTO_TCP).unwrap();
        assert_eq!(
            (key.peer_port, key.local_port, key.protocol),
            (51000, 22, IPPROTO_TCP)
        );
        assert_eq!(key.peer, AddrKey::ipv4([192, 0, 2, 7]));
    }
}

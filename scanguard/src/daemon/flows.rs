//! Seeding the flow table from the kernel's sockets at attach, so connections older than
//! scanguard are not mistaken for stateless probes.

use anyhow::{Context as _, Result};
use aya::{
    Ebpf,
    maps::{HashMap, MapData},
};
use scanguard_common::{
    addr::AddrKey,
    flow::{FLOWS_MAP, FlowKey},
};

use crate::{
    bpf::clock,
    host::sockets::{self, Scope, Socket},
};

/// Records every connected socket as the kernel reports it; returns how many.
pub fn seed(ebpf: &mut Ebpf) -> Result<usize> {
    let map = ebpf
        .map_mut(FLOWS_MAP)
        .context("the embedded object has no flow map")?;
    let mut flows: HashMap<&mut MapData, FlowKey, u64> = HashMap::try_from(map)?;
    let now = clock::boot_ns();
    let mut seeded = 0;
    sockets::for_each(Scope::Connected, |socket| {
        if let Some(key) = flow_key(&socket) {
            flows.insert(key, now, 0)?;
            seeded += 1;
        }
        Ok(())
    })?;
    Ok(seeded)
}

/// Listening and unconnected sockets have no peer and no flow.
fn flow_key(socket: &Socket) -> Option<FlowKey> {
    socket.has_peer().then(|| {
        FlowKey::new(
            AddrKey::from(socket.remote.ip()),
            socket.remote.port(),
            socket.local.port(),
            socket.protocol,
        )
    })
}

#[cfg(test)]
mod tests {
    use scanguard_common::parse::IPPROTO_TCP;

    use super::*;

    #[test]
    fn only_connected_sockets_are_flows() {
        let socket = |remote: &str| Socket {
            local: "10.0.0.1:22".parse().unwrap(),
            remote: remote.parse().unwrap(),
            protocol: IPPROTO_TCP,
            tcp_listening: false,
        };
        assert_eq!(flow_key(&socket("0.0.0.0:0")), None);
        let key = flow_key(&socket("192.0.2.7:51000")).unwrap();
        assert_eq!(
            (key.peer_port, key.local_port, key.protocol),
            (51000, 22, u32::from(IPPROTO_TCP))
        );
        assert_eq!(key.peer, AddrKey::ipv4([192, 0, 2, 7]));
    }
}

//! The kernel's TCP and UDP socket tables of this network namespace, read once at attach for
//! the flow table (connected sockets) and the served ports (listening ones).

use std::net::SocketAddr;

use procfs::net::TcpState;
use scanguard_common::parse::{IPPROTO_TCP, IPPROTO_UDP};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Socket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// `IPPROTO_TCP` or `IPPROTO_UDP`.
    pub protocol: u8,
    pub tcp_listening: bool,
}

impl Socket {
    /// A connected socket: it has a peer, so its traffic is a flow.
    pub fn has_peer(&self) -> bool {
        self.remote.port() != 0 && !self.remote.ip().is_unspecified()
    }

    /// A TCP listener, or a UDP socket with no peer (it receives from anyone): a service.
    pub fn serves(&self) -> bool {
        match self.protocol {
            IPPROTO_TCP => self.tcp_listening,
            _ => !self.has_peer(),
        }
    }
}

/// Every TCP and UDP socket, IPv4 and IPv6; a table that cannot be read counts as empty.
pub fn read() -> Vec<Socket> {
    let tcp = procfs::net::tcp()
        .into_iter()
        .chain(procfs::net::tcp6())
        .flatten()
        .map(|entry| Socket {
            local: entry.local_address,
            remote: entry.remote_address,
            protocol: IPPROTO_TCP,
            tcp_listening: entry.state == TcpState::Listen,
        });
    let udp = procfs::net::udp()
        .into_iter()
        .chain(procfs::net::udp6())
        .flatten()
        .map(|entry| Socket {
            local: entry.local_address,
            remote: entry.remote_address,
            protocol: IPPROTO_UDP,
            tcp_listening: false,
        });
    tcp.chain(udp).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(remote: &str, protocol: u8, tcp_listening: bool) -> Socket {
        Socket {
            local: "10.0.0.1:53".parse().unwrap(),
            remote: remote.parse().unwrap(),
            protocol,
            tcp_listening,
        }
    }

    #[test]
    fn only_udp_sockets_without_a_peer_serve() {
        assert!(socket("0.0.0.0:0", IPPROTO_UDP, false).serves());
        assert!(socket("[::]:0", IPPROTO_UDP, false).serves());
        assert!(!socket("192.0.2.53:53", IPPROTO_UDP, false).serves());
    }

    #[test]
    fn only_listening_tcp_sockets_serve() {
        assert!(socket("0.0.0.0:0", IPPROTO_TCP, true).serves());
        assert!(!socket("0.0.0.0:0", IPPROTO_TCP, false).serves());
        assert!(!socket("192.0.2.7:51000", IPPROTO_TCP, false).serves());
    }

    #[test]
    fn connected_sockets_have_a_peer() {
        assert!(socket("192.0.2.7:51000", IPPROTO_TCP, false).has_peer());
        assert!(!socket("0.0.0.0:0", IPPROTO_TCP, true).has_peer());
        assert!(!socket("[::]:0", IPPROTO_UDP, false).has_peer());
    }
}

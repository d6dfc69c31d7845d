//! The TCP and UDP sockets of this network namespace, asked of the kernel through sock_diag
//! (netlink, as `ss` does): the connected ones once at attach, for the flow table, and the
//! serving ones at attach and each sweep, which the kernel finds without walking the
//! connections a busy server has by the hundred thousand (as /proc/net/tcp would have it do).

use std::net::SocketAddr;

use anyhow::{Context as _, Result, bail};
use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::{
    AF_INET, AF_INET6, SockDiagMessage, TCP_LISTEN,
    inet::{ExtensionFlags, InetRequest, SocketId, StateFlags},
};
use netlink_sys::{Socket as Netlink, SocketAddr as NetlinkAddr, protocols::NETLINK_SOCK_DIAG};
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

/// Which sockets to ask for.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    /// Those that may serve: TCP listeners and unconnected UDP sockets.
    Serving,
    /// Those that may have a peer: every TCP socket but the listeners, connected UDP sockets.
    Connected,
}

impl Scope {
    /// An unconnected UDP socket is in the close state, a connected one established.
    fn states(self, protocol: u8) -> StateFlags {
        match (self, protocol) {
            (Scope::Serving, IPPROTO_TCP) => StateFlags::LISTEN,
            (Scope::Serving, _) => StateFlags::CLOSE,
            (Scope::Connected, IPPROTO_TCP) => StateFlags::all() - StateFlags::LISTEN,
            (Scope::Connected, _) => StateFlags::ESTABLISHED,
        }
    }
}

/// The TCP and UDP sockets in `scope`, IPv4 and IPv6.
pub fn read(scope: Scope) -> Result<Vec<Socket>> {
    let mut sockets = Vec::new();
    for_each(scope, |socket| {
        sockets.push(socket);
        Ok(())
    })?;
    Ok(sockets)
}

/// Calls `visit` with each TCP and UDP socket in `scope` as the kernel reports it, so that
/// a host's hundred thousand connections are never held at once.
pub fn for_each(scope: Scope, mut visit: impl FnMut(Socket) -> Result<()>) -> Result<()> {
    let mut netlink = Netlink::new(NETLINK_SOCK_DIAG).context("opening a sock_diag socket")?;
    netlink.bind_auto()?;
    netlink.connect(&NetlinkAddr::new(0, 0))?;
    // Larger than any dump batch: the kernel sizes them to the reader's buffer, up to 32 KiB.
    let mut received = Vec::with_capacity(64 * 1024);
    for protocol in [IPPROTO_TCP, IPPROTO_UDP] {
        for family in [AF_INET, AF_INET6] {
            dump(
                &netlink,
                &mut received,
                family,
                protocol,
                scope.states(protocol),
                &mut visit,
            )?;
        }
    }
    Ok(())
}

/// Visits the sockets of one family and protocol in `states`, receiving into `received`; an
/// error of `visit` ends it as it is.
fn dump(
    netlink: &Netlink,
    received: &mut Vec<u8>,
    family: u8,
    protocol: u8,
    states: StateFlags,
    visit: &mut impl FnMut(Socket) -> Result<()>,
) -> Result<()> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let request = InetRequest {
        family,
        protocol,
        extensions: ExtensionFlags::empty(),
        states,
        socket_id: match family {
            AF_INET => SocketId::new_v4(),
            _ => SocketId::new_v6(),
        },
    };
    let mut message = NetlinkMessage::new(header, SockDiagMessage::InetRequest(request).into());
    message.finalize();
    let mut request = vec![0; message.buffer_len()];
    message.serialize(&mut request);
    let unreadable = || {
        let name = if protocol == IPPROTO_TCP {
            "TCP"
        } else {
            "UDP"
        };
        format!(
            "cannot read this host's {name} sockets through sock_diag (a kernel without the \
             inet_diag and udp_diag modules cannot answer)"
        )
    };
    netlink.send(&request, 0).with_context(unreadable)?;
    loop {
        received.clear();
        let size = netlink.recv(received, 0).with_context(unreadable)?;
        let mut offset = 0;
        while offset < size {
            let reply = NetlinkMessage::<SockDiagMessage>::deserialize(&received[offset..size])
                .with_context(unreadable)?;
            match reply.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                    let id = &response.header.socket_id;
                    visit(Socket {
                        local: SocketAddr::new(id.source_address, id.source_port),
                        remote: SocketAddr::new(id.destination_address, id.destination_port),
                        protocol,
                        tcp_listening: protocol == IPPROTO_TCP
                            && response.header.state == TCP_LISTEN,
                    })?;
                }
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::Error(error) => {
                    return Err(anyhow::Error::from(error.to_io()).context(unreadable()));
                }
                _ => {}
            }
            let length = reply.header.length as usize;
            if length == 0 {
                bail!("a sock_diag reply of length 0");
            }
            offset += length;
        }
    }
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

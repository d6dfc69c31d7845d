//! The host's sockets as sock_diag reports them, read in a network namespace of the test's own
//! (its loopback only): the serving ones in `Scope::Serving`, the connected ones in
//! `Scope::Connected`, and neither in the other. Needs root.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};

use aya::test_helpers::NetNsGuard;
use scanguard::host::sockets::{self, Scope, Socket};
use scanguard_common::parse::{IPPROTO_TCP, IPPROTO_UDP};

use crate::support::lab::require_root;

/// One socket of each kind on `loopback`, and what each should read as.
struct Sockets {
    _open: (TcpListener, TcpStream, TcpStream, UdpSocket, UdpSocket),
    listener: Socket,
    client: Socket,
    accepted: Socket,
    unconnected: Socket,
    connected: Socket,
}

fn open(loopback: &str) -> Sockets {
    let any = SocketAddr::new(loopback.parse().unwrap(), 0);
    let listener = TcpListener::bind(any).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let unconnected = UdpSocket::bind(any).unwrap();
    let connected = UdpSocket::bind(any).unwrap();
    connected
        .connect(unconnected.local_addr().unwrap())
        .unwrap();
    let socket = |local, remote, protocol, tcp_listening| Socket {
        local,
        remote,
        protocol,
        tcp_listening,
    };
    // As the kernel reports the peer of a socket without one.
    let unspecified = match any.is_ipv4() {
        true => "0.0.0.0:0",
        false => "[::]:0",
    };
    let unspecified: SocketAddr = unspecified.parse().unwrap();
    Sockets {
        listener: socket(
            listener.local_addr().unwrap(),
            unspecified,
            IPPROTO_TCP,
            true,
        ),
        client: socket(
            client.local_addr().unwrap(),
            client.peer_addr().unwrap(),
            IPPROTO_TCP,
            false,
        ),
        accepted: socket(
            accepted.local_addr().unwrap(),
            accepted.peer_addr().unwrap(),
            IPPROTO_TCP,
            false,
        ),
        unconnected: socket(
            unconnected.local_addr().unwrap(),
            unspecified,
            IPPROTO_UDP,
            false,
        ),
        connected: socket(
            connected.local_addr().unwrap(),
            connected.peer_addr().unwrap(),
            IPPROTO_UDP,
            false,
        ),
        _open: (listener, client, accepted, unconnected, connected),
    }
}

#[test]
fn sock_diag_reads_the_serving_and_the_connected_sockets_apart() {
    require_root();
    let _netns = NetNsGuard::new().expect("a network namespace of the test's own");
    for loopback in ["127.0.0.1", "::1"] {
        let open = open(loopback);
        let serving = [open.listener, open.unconnected];
        let connected = [open.client, open.accepted, open.connected];
        for (scope, wanted, unwanted) in [
            (Scope::Serving, &serving[..], &connected[..]),
            (Scope::Connected, &connected[..], &serving[..]),
        ] {
            let read = sockets::read(scope).unwrap();
            for socket in wanted {
                assert!(
                    read.contains(socket),
                    "{scope:?}: {socket:?} missing from {read:?}"
                );
            }
            for socket in unwanted {
                assert!(!read.contains(socket), "{scope:?}: {socket:?} read");
            }
        }
        let read = sockets::read(Scope::Serving).unwrap();
        assert!(read.iter().all(Socket::serves), "{read:?}");
        let read = sockets::read(Scope::Connected).unwrap();
        assert!(read.iter().all(Socket::has_peer), "{read:?}");
    }
}

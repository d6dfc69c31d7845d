//! New connections per second: short TCP connections, each a request and a reply as an
//! HTTP/1.0 GET makes them, from client threads in one namespace to a server in another. A scan
//! blocker's work is per packet, and these are mostly handshake packets.
//!
//! No socket is left in TIME_WAIT, on either side: the server closes first, once it has sent
//! its reply, as an HTTP/1.0 server does, and the client, having read to the end, closes with a
//! reset (SO_LINGER 0). A client that sent its FIN first would keep each port in TIME_WAIT for
//! a minute; `connect` prefers even ports, so once half the range is taken every connect
//! searches the whole range, and the rate falls from thousands to hundreds a second within a
//! few seconds, whatever the path.

use std::{
    io::{Read as _, Write as _},
    net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow};
use scanguard_lab::Netns;
use serde::Serialize;
use socket2::{Domain, SockRef, Socket, Type};

const PORT: u16 = 8080;
const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
const REPLY: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
/// Client threads, each with a connection of its own: one can be in its handshake while the
/// server answers the other, on a machine with as few as two CPUs.
const CLIENTS: usize = 2;
/// Deep enough that the accept queue never overflows (the kernel caps it at somaxconn).
const BACKLOG: i32 = 4096;
/// Covers one lost SYN (retransmitted after a second) without waiting on a dead path for long.
const PATIENCE: Duration = Duration::from_secs(3);

/// A server answering every connection once and closing it, on its own thread inside `netns`.
pub struct Server {
    stop: Arc<AtomicBool>,
    /// The listening socket, shut down on drop to end the accept loop's wait: a connection
    /// could not wake it once the namespace is gone (a container that ended).
    listener: TcpListener,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(netns: &Netns, address: Ipv4Addr) -> Result<Server> {
        let address = SocketAddr::from((address, PORT));
        let listener = {
            let _inside = netns.enter()?;
            listen(address).with_context(|| format!("listen on {address}"))?
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let accepting = listener.try_clone().context("clone the listening socket")?;
        let thread = thread::spawn(move || {
            for stream in accepting.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    answer(stream);
                }
            }
        });
        Ok(Server {
            stop,
            listener,
            thread: Some(thread),
        })
    }
}

fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Reads the whole request (so closing sends a FIN, not a reset for unread data), replies,
/// closes.
fn answer(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let mut request = [0; 64];
    let mut read = 0;
    while read < REQUEST.len() {
        match stream.read(&mut request[read..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => read += n,
        }
    }
    let _ = stream.write_all(REPLY);
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Fails the blocked accept (EINVAL), so the loop sees the flag.
        let _ = SockRef::from(&self.listener).shutdown(Shutdown::Both);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One connection run: the connections completed in each whole second, all clients together.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ConnectionRun {
    pub per_second: Vec<u64>,
    /// Connections that failed (refused, timed out or a wrong reply); the run goes on.
    pub failed: u64,
}

impl ConnectionRun {
    /// Completed connections per second over the whole run.
    pub fn rate(&self) -> f64 {
        if self.per_second.is_empty() {
            return 0.0;
        }
        self.per_second.iter().sum::<u64>() as f64 / self.per_second.len() as f64
    }

    /// Adds another client's counts, second by second.
    fn merge(mut self, other: ConnectionRun) -> ConnectionRun {
        for (total, count) in self.per_second.iter_mut().zip(other.per_second) {
            *total += count;
        }
        self.failed += other.failed;
        self
    }
}

/// Connections completed to the server at `server` from `client` over `seconds`.
pub fn measure(client: &Netns, server: Ipv4Addr, seconds: u32) -> Result<ConnectionRun> {
    let address = SocketAddr::from((server, PORT));
    let start = Instant::now();
    let runs = thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| scope.spawn(|| one_client(client, address, start, seconds)))
            .collect();
        clients
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .map_err(|_| anyhow!("a connection client panicked"))?
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let empty = ConnectionRun {
        per_second: vec![0; seconds as usize],
        failed: 0,
    };
    Ok(runs.into_iter().fold(empty, ConnectionRun::merge))
}

fn one_client(
    client: &Netns,
    address: SocketAddr,
    start: Instant,
    seconds: u32,
) -> Result<ConnectionRun> {
    let _inside = client.enter()?;
    let mut run = ConnectionRun {
        per_second: vec![0; seconds as usize],
        failed: 0,
    };
    let deadline = start + Duration::from_secs(seconds.into());
    while Instant::now() < deadline {
        match one_connection(address) {
            Ok(true) => {
                // A connection finishing after the deadline counts for no second.
                if let Some(count) = run.per_second.get_mut(start.elapsed().as_secs() as usize) {
                    *count += 1;
                }
            }
            Ok(false) | Err(_) => run.failed += 1,
        }
    }
    Ok(run)
}

/// One request and its reply; `Ok(false)` for a wrong reply.
fn one_connection(address: SocketAddr) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect_timeout(&address, PATIENCE)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.write_all(REQUEST)?;
    let mut reply = Vec::with_capacity(REPLY.len());
    stream.read_to_end(&mut reply)?;
    // The server's FIN is in: a reset now ends the connection with no TIME_WAIT here.
    SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
    Ok(reply == REPLY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_the_mean_over_whole_seconds() {
        let run = ConnectionRun {
            per_second: vec![1000, 1200, 800],
            failed: 0,
        };
        assert_eq!(run.rate(), 1000.0);
        assert_eq!(ConnectionRun::default().rate(), 0.0);
    }

    #[test]
    fn clients_merge_second_by_second() {
        let a = ConnectionRun {
            per_second: vec![1, 2, 3],
            failed: 1,
        };
        let b = ConnectionRun {
            per_second: vec![10, 20, 30],
            failed: 2,
        };
        assert_eq!(
            a.merge(b),
            ConnectionRun {
                per_second: vec![11, 22, 33],
                failed: 3
            }
        );
    }
}

//! New connections per second: short TCP connections, each a request and a reply, as an
//! HTTP/1.0 GET makes them, from a client namespace to a server namespace. A scan blocker's
//! work is per packet, and these are mostly handshake packets. The client ends each connection
//! with a reset once it has the reply: a run opens tens of thousands, and TIME_WAIT would
//! soon leave it no ports, measuring the port range instead of the path.

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

use anyhow::{Context as _, Result};
use scanguard_lab::Netns;
use socket2::SockRef;

const PORT: u16 = 8080;
const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
const REPLY: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
/// However fast the path, a run ends here.
const MAX_CONNECTIONS: u64 = 2_000_000;

/// A server answering every connection once and closing it, on its own thread inside `netns`.
pub struct Server {
    stop: Arc<AtomicBool>,
    address: SocketAddr,
    thread: Option<thread::JoinHandle<()>>,
    netns: Netns,
}

impl Server {
    pub fn start(netns: &Netns, address: Ipv4Addr) -> Result<Server> {
        let address = SocketAddr::from((address, PORT));
        let listener = {
            let _inside = netns.enter()?;
            TcpListener::bind(address).with_context(|| format!("bind {address}"))?
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut request = [0; 64];
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                if stream.read(&mut request).is_ok() {
                    let _ = stream.write_all(REPLY);
                }
            }
        });
        Ok(Server {
            stop,
            address,
            thread: Some(thread),
            netns: netns.clone(),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // One more connection wakes the accept loop up to see the flag.
        if let Ok(_inside) = self.netns.enter() {
            let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Connections per second one client completes to `server` from `client` over `duration`.
pub fn per_second(client: &Netns, server: Ipv4Addr, duration: Duration) -> Result<f64> {
    let _inside = client.enter()?;
    let address = SocketAddr::from((server, PORT));
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < duration && done < MAX_CONNECTIONS {
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))
            .with_context(|| format!("connect to {address}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(REQUEST)?;
        stream.shutdown(Shutdown::Write)?;
        let mut reply = Vec::with_capacity(REPLY.len());
        stream.read_to_end(&mut reply)?;
        SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
        if reply == REPLY {
            done += 1;
        }
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

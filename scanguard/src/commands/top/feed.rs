//! The daemon's event socket, drained by a thread of its own so that drawing never waits for
//! it and it never waits for drawing: the daemon drops a viewer 4,096 events behind, so the
//! reader only parses, tallies and keeps the latest few; what it lets go is counted.

use std::{
    collections::{HashMap, VecDeque},
    io::{BufRead as _, BufReader},
    net::Shutdown,
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    thread,
};

use anyhow::{Result, anyhow};

use crate::{config::paths::EVENTS_SOCKET, events::Detection};

/// Detections kept for the latest-detections pane; older ones are let go, counted.
pub const KEPT: usize = 256;
/// Bytes read from the socket at once: a few thousand events of a storm per system call.
const READ_BUFFER: usize = 1 << 20;
/// Ports tallied at most: every TCP and UDP port, so the tally is bounded whatever comes.
const PORT_KEYS: usize = 2 * 65_536;

/// The transport of a probed port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp,
    Udp,
    Sctp,
}

impl Transport {
    pub fn parse(protocol: &str) -> Option<Transport> {
        match protocol {
            "TCP" => Some(Transport::Tcp),
            "UDP" => Some(Transport::Udp),
            "SCTP" => Some(Transport::Sctp),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Sctp => "sctp",
        }
    }
}

/// Probes of one port seen on the socket, and the service name the daemon gave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortTally {
    pub probes: u64,
    pub service: Option<String>,
}

/// What the reader has seen since the view started.
#[derive(Debug, Default)]
pub struct Seen {
    /// The latest event lines, oldest first, at most [`KEPT`]: kept as they came and parsed
    /// only when a snapshot takes them, so a line a storm pushes out was never parsed.
    latest: VecDeque<String>,
    /// Lines received (detections and drops of banned sources).
    pub received: u64,
    /// Received but let go before they were kept: pushed out of `latest` by newer ones, or
    /// unreadable.
    pub skipped: u64,
    pub ports: HashMap<(Transport, u16), PortTally>,
    /// Whether the socket is open; the daemon closes it when it stops or drops this viewer.
    pub connected: bool,
    /// Times the socket was opened again after it closed.
    pub reconnects: u64,
}

/// The tallied fields of an event line: its transport, destination port and service name.
/// Found by key rather than parsed: a parse costs several times the rest of the reader's work
/// a line, and the reader must keep up with a storm. The daemon writes each event as one flat,
/// compact JSON object (serde_json's), and in JSON an unescaped `"` only delimits strings, so
/// `"key":` is found only where that key is.
fn probe(line: &str) -> Option<(Option<Transport>, u16, Option<&str>)> {
    let protocol = field(line, "\"protocol\":")?;
    let port = field(line, "\"dst_port\":")?.parse().ok()?;
    let service = field(line, "\"service\":")?;
    Some((
        text(protocol).and_then(Transport::parse),
        port,
        text(service),
    ))
}

/// A JSON string value without its quotes; `None` for anything else (`null`).
fn text(value: &str) -> Option<&str> {
    value.strip_prefix('"')?.strip_suffix('"')
}

/// The value of `key` (given with its quotes and colon) in a flat JSON object: a string with
/// its quotes, a number, or `null`.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = match rest.strip_prefix('"') {
        // A string value: the tallied ones (names, TCP, UDP) hold no escaped quote.
        Some(string) => string.find('"')? + 2,
        None => rest.find([',', '}'])?,
    };
    Some(&rest[..end])
}

impl Seen {
    /// Takes one event line in.
    pub fn take(&mut self, line: &str) {
        self.received += 1;
        let Some((transport, port, service)) = probe(line) else {
            self.skipped += 1;
            return;
        };
        if let Some(transport) = transport {
            let key = (transport, port);
            if self.ports.len() < PORT_KEYS || self.ports.contains_key(&key) {
                let tally = self.ports.entry(key).or_default();
                tally.probes += 1;
                if tally.service.is_none() {
                    tally.service = service.map(str::to_string);
                }
            }
        }
        // The line pushed out lends its buffer to the new one: no allocation in a storm.
        let mut kept = if self.latest.len() == KEPT {
            self.skipped += 1;
            self.latest.pop_front().unwrap_or_default()
        } else {
            String::new()
        };
        kept.clear();
        kept.push_str(line);
        self.latest.push_back(kept);
    }

    /// The latest lines, to be parsed outside the reader's lock.
    pub fn latest_lines(&self) -> Vec<String> {
        self.latest.iter().cloned().collect()
    }
}

/// Event lines as detections; a line of another daemon version that does not parse is left
/// out (the tallies counted it).
pub fn detections(lines: &[String]) -> Vec<Detection> {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// A connection to the daemon's event socket and its reader thread.
pub struct Feed {
    path: PathBuf,
    seen: Arc<Mutex<Seen>>,
    /// A handle on the open socket, to end the reader by shutting it down.
    stream: Option<UnixStream>,
}

impl Feed {
    /// Connects to the event socket in `run_dir`; the one-line error `scanguard events` gives
    /// without a daemon.
    pub fn connect(run_dir: &Path) -> Result<Feed> {
        let mut feed = Feed {
            path: run_dir.join(EVENTS_SOCKET),
            seen: Arc::default(),
            stream: None,
        };
        feed.open().map_err(|_| {
            anyhow!(
                "no running scanguard daemon (no event socket at {}): start one with `scanguard attach`",
                feed.path.display()
            )
        })?;
        Ok(feed)
    }

    /// Opens the socket again if the daemon closed it: returns whether it did now.
    pub fn reconnect(&mut self) -> bool {
        if self.lock().connected || self.open().is_err() {
            return false;
        }
        self.lock().reconnects += 1;
        true
    }

    fn open(&mut self) -> std::io::Result<()> {
        let stream = UnixStream::connect(&self.path)?;
        let reader = stream.try_clone()?;
        if let Some(old) = self.stream.replace(stream) {
            let _ = old.shutdown(Shutdown::Both);
        }
        self.lock().connected = true;
        let seen = Arc::clone(&self.seen);
        thread::Builder::new()
            .name("top-events".into())
            .spawn(move || read(reader, &seen))?;
        Ok(())
    }

    /// Runs `look` over what was seen so far, under the lock the reader takes per line.
    pub fn with_seen<T>(&self, look: impl FnOnce(&Seen) -> T) -> T {
        look(&self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(stream) = &self.stream {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Reads lines until the socket closes. The line buffer is reused, so a storm allocates only
/// the detections it keeps.
fn read(stream: UnixStream, seen: &Mutex<Seen>) {
    let mut reader = BufReader::with_capacity(READ_BUFFER, stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(line.trim_end()),
        }
    }
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .connected = false;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(src: &str, protocol: &str, port: u16, service: Option<&str>) -> String {
        serde_json::json!({
            "time": "2026-11-21T14:00:00.000Z", "event": "detection", "kind": "null-scan",
            "action": "ban", "interface": "eth0", "ifindex": 2,
            "src_mac": "02:00:00:00:00:02", "dst_mac": "02:00:00:00:00:01",
            "ethertype": 2048, "vlan_id": null, "src": src, "dst": "192.0.2.1",
            "protocol": protocol, "src_port": 40000, "dst_port": port, "tcp_flags": "NONE",
            "window": 1024, "ttl": 50, "tos": 0, "ip_id": 1, "length": 40, "suppressed": 0,
            "service": service, "fingerprint": null
        })
        .to_string()
    }

    #[test]
    fn the_latest_are_kept_and_older_ones_counted_as_skipped() {
        let mut seen = Seen::default();
        let total = KEPT + 10;
        for n in 0..total {
            seen.take(&line(&format!("198.51.100.{}", n % 250), "TCP", 23, None));
        }
        assert_eq!(seen.received, total as u64);
        assert_eq!(seen.skipped, 10);
        let latest = detections(&seen.latest_lines());
        assert_eq!(latest.len(), KEPT);
        assert_eq!(
            latest.last().map(|d| d.src.to_string()),
            Some(format!("198.51.100.{}", (total - 1) % 250)),
            "the newest is last"
        );
        assert_eq!(
            latest.first().map(|d| d.src.to_string()),
            Some("198.51.100.10".to_string()),
            "the oldest kept"
        );
    }

    #[test]
    fn the_tallied_fields_are_found_in_the_daemons_lines() {
        let tcp = line("198.51.100.7", "TCP", 23, Some("telnet"));
        assert_eq!(
            probe(&tcp),
            Some((Some(Transport::Tcp), 23, Some("telnet")))
        );
        let udp = line("198.51.100.7", "UDP", 161, None);
        assert_eq!(probe(&udp), Some((Some(Transport::Udp), 161, None)));
        let icmp = line("198.51.100.7", "1", 0, None);
        assert_eq!(probe(&icmp), Some((None, 0, None)));
        // Exactly as the daemon writes one, keys in its order, last key last.
        let written = serde_json::to_string(&detections(&[tcp])[0]).unwrap();
        assert_eq!(
            probe(&written),
            Some((Some(Transport::Tcp), 23, Some("telnet")))
        );
        assert_eq!(
            probe(r#"{"protocol":"TCP","service":null,"dst_port":8080}"#),
            Some((Some(Transport::Tcp), 8080, None)),
            "a number last"
        );
        for broken in [
            "",
            "not json",
            r#"{"protocol":"TCP","dst_port":99999,"service":null}"#,
            r#"{"protocol":"TCP","dst_port":80}"#,
            r#"{"protocol":"TCP,"service":null,"dst_port":8"#,
        ] {
            assert_eq!(probe(broken), None, "{broken}");
        }
    }

    #[test]
    fn ports_are_tallied_per_transport_with_the_daemons_name() {
        let mut seen = Seen::default();
        seen.take(&line("198.51.100.7", "TCP", 23, None));
        seen.take(&line("198.51.100.7", "TCP", 23, Some("telnet")));
        seen.take(&line("198.51.100.7", "UDP", 23, None));
        seen.take(&line("198.51.100.7", "1", 0, None));
        seen.take("not json");
        assert_eq!(
            seen.ports.get(&(Transport::Tcp, 23)),
            Some(&PortTally {
                probes: 2,
                service: Some("telnet".into())
            })
        );
        assert_eq!(seen.ports[&(Transport::Udp, 23)].probes, 1);
        assert_eq!(seen.ports.len(), 2, "ICMP has no port");
        assert_eq!(seen.received, 5);
        assert_eq!(seen.skipped, 1, "the unreadable line");
        assert_eq!(detections(&seen.latest_lines()).len(), 4);
    }
}

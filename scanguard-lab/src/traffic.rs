//! Traffic for demos and tests: a TCP service, a client that talks to it, nmap.

use std::{
    io::{Read as _, Write as _},
    net::{IpAddr, SocketAddr, TcpListener, TcpStream},
    process::Command,
    thread,
    time::Duration,
};

use crate::{Host, Netns};

/// A connection attempt to a banned source's target gives up after this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);

/// A TCP service in `host`'s namespace: it greets every connection, then echoes what it reads
/// until the peer closes. It lives as long as the process.
pub fn serve(host: &Host, port: u16) {
    let guard = host.enter().expect("enter the host's namespace");
    let listener = TcpListener::bind(("::", port)).expect("bind service");
    drop(guard);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || echo(stream));
        }
    });
}

fn echo(mut stream: TcpStream) {
    if stream.write_all(b"hello\n").is_err() {
        return;
    }
    let mut buffer = [0u8; 1024];
    while let Ok(read @ 1..) = stream.read(&mut buffer) {
        if stream.write_all(&buffer[..read]).is_err() {
            return;
        }
    }
}

/// Connects from `host` to `to:port` and reads the greeting; the connection stays open.
pub fn connect(host: &Host, to: IpAddr, port: u16) -> std::io::Result<TcpStream> {
    let _guard = host.enter().expect("enter the host's namespace");
    let mut stream = TcpStream::connect_timeout(&SocketAddr::new(to, port), CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(CONNECT_TIMEOUT))?;
    let mut greeting = [0u8; 6];
    stream.read_exact(&mut greeting)?;
    assert_eq!(&greeting, b"hello\n");
    Ok(stream)
}

/// A request and its echoed response over an open connection.
pub fn exchange(stream: &mut TcpStream, request: &[u8]) -> std::io::Result<()> {
    stream.write_all(request)?;
    let mut response = vec![0u8; request.len()];
    stream.read_exact(&mut response)?;
    assert_eq!(response, request);
    Ok(())
}

/// Connects from `host` to `to:port`, reads the greeting and closes (FIN/ACK teardown).
pub fn talk(host: &Host, to: IpAddr, port: u16) -> std::io::Result<()> {
    connect(host, to, port).map(drop)
}

/// The state nmap reports for one TCP port, e.g. "closed", "filtered", "open|filtered". `from`
/// is a lab host or any network namespace, such as a container's.
pub fn nmap_port_state(from: &impl AsRef<Netns>, scan: &str, to: IpAddr, port: u16) -> String {
    let mut command = from.as_ref().command("nmap");
    command.args([
        scan,
        "-n",
        "-Pn",
        "--max-retries",
        "1",
        "--host-timeout",
        "30s",
        "-p",
    ]);
    command.arg(port.to_string());
    if to.is_ipv6() {
        command.arg("-6");
    }
    let output = command.arg(to.to_string()).output().expect("run nmap");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find(|line| line.starts_with(&format!("{port}/tcp")))
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("nmap {scan} printed no state for port {port}: {stdout}"))
        .to_string()
}

/// Whether a TCP connection from namespace `from` to `to:port` is accepted by a listener the
/// call opens in namespace `server` for as long as it takes (at most [`CONNECT_TIMEOUT`]
/// to connect, as long again to accept). Nothing is left listening afterwards.
pub fn tcp_connects(from: &Netns, server: &Netns, to: IpAddr, port: u16) -> bool {
    let listener = {
        let _inside = server.enter().expect("enter the server's namespace");
        TcpListener::bind(SocketAddr::new(to, port)).expect("listen in the server's namespace")
    };
    let connected = {
        let _inside = from.enter().expect("enter the client's namespace");
        TcpStream::connect_timeout(&SocketAddr::new(to, port), CONNECT_TIMEOUT)
    };
    let Ok(_client) = connected else {
        return false;
    };
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    crate::wait_until(CONNECT_TIMEOUT, Duration::from_millis(10), || {
        listener.accept().is_ok()
    })
}

/// Sends exactly `count` packets with hping3 from `from` to `to` (`args` shape them), as fast
/// as `-i` allows; hping3 exits 1 when nothing answers, which a flood expects.
pub fn hping3(from: &Host, args: &[&str], count: u32, to: IpAddr) {
    let status = from
        .command("hping3")
        .arg("-q")
        .args(args)
        .arg("-c")
        .arg(count.to_string())
        .arg(to.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run hping3");
    assert!(
        status.success() || status.code() == Some(1),
        "hping3 {args:?}: {status}"
    );
}

/// nmap from `from` with `args` against `to`, as the lab tests run it: no DNS, no ping,
/// aggressive timing, one retry, bounded in time.
pub fn nmap_command(from: &Host, args: &[&str], to: IpAddr) -> Command {
    let mut command = from.command("nmap");
    command.args([
        "-n",
        "-Pn",
        "-T4",
        "--max-retries",
        "1",
        "--host-timeout",
        "90s",
    ]);
    command.args(args);
    if to.is_ipv6() {
        command.arg("-6");
    }
    command.arg(to.to_string());
    command
}

/// Runs nmap from `from` with `args` against `to` and counts the ports whose probes got an
/// answer (open, closed or unfiltered): the probes that got through.
pub fn nmap_answered_ports(from: &Host, args: &[&str], to: IpAddr) -> usize {
    let grepable_args: Vec<&str> = ["-oG", "-"].iter().chain(args).copied().collect();
    let output = nmap_command(from, &grepable_args, to)
        .output()
        .expect("run nmap");
    let grepable = String::from_utf8_lossy(&output.stdout);
    answered_ports(&grepable)
        .unwrap_or_else(|| panic!("nmap {args:?} printed no port report: {grepable}"))
}

const ANSWERED: [&str; 3] = ["open", "closed", "unfiltered"];

/// Counts answered ports in nmap's grepable output: the listed ones and an answered
/// "Ignored State".
fn answered_ports(grepable: &str) -> Option<usize> {
    let line = grepable.lines().find(|line| line.contains("Ports: "))?;
    let ports = line.split("Ports: ").nth(1)?.split('\t').next()?;
    let listed = ports
        .split(", ")
        .filter(|port| {
            port.split('/')
                .nth(1)
                .is_some_and(|state| ANSWERED.contains(&state))
        })
        .count();
    let ignored = line
        .split("Ignored State: ")
        .nth(1)
        .and_then(|rest| {
            let (state, count) = rest.split_once(" (")?;
            let count: usize = count.split(')').next()?.parse().ok()?;
            ANSWERED.contains(&state).then_some(count)
        })
        .unwrap_or(0);
    Some(listed + ignored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grepable_reports_are_counted() {
        let report = "Host: 10.77.0.1 ()\tPorts: 1000/closed/tcp//cadlock2///, 1001/closed/tcp//webpush///, 22/open/tcp//ssh///\tIgnored State: filtered (97)\n";
        assert_eq!(answered_ports(report), Some(3));
        let all_closed =
            "Host: 10.77.0.1 ()\tPorts: 80/open/tcp//http///\tIgnored State: closed (99)\n";
        assert_eq!(answered_ports(all_closed), Some(100));
        assert_eq!(answered_ports("# Nmap done"), None);
    }
}

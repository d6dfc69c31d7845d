//! Traffic for demos and tests: a TCP service, a client that talks to it, nmap.

use std::{
    io::{Read as _, Write as _},
    net::{IpAddr, SocketAddr, TcpListener, TcpStream},
    thread,
    time::Duration,
};

use crate::Host;

/// A connection attempt to a banned source's target gives up after this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);

/// A TCP service in `host`'s namespace answering every connection with a greeting; it lives
/// as long as the test process.
pub fn serve(host: &Host, port: u16) {
    let guard = host.enter().expect("enter the host's namespace");
    let listener = TcpListener::bind(("::", port)).expect("bind service");
    drop(guard);
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"hello\n");
        }
    });
}

/// Connects from `host` to `to:port`, reads the greeting and closes (FIN/ACK teardown).
pub fn talk(host: &Host, to: IpAddr, port: u16) -> std::io::Result<()> {
    let _guard = host.enter().expect("enter the host's namespace");
    let mut stream = TcpStream::connect_timeout(&SocketAddr::new(to, port), CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(CONNECT_TIMEOUT))?;
    let mut greeting = [0u8; 6];
    stream.read_exact(&mut greeting)?;
    assert_eq!(&greeting, b"hello\n");
    Ok(())
}

/// The state nmap reports for one TCP port, e.g. "closed", "filtered", "open|filtered".
pub fn nmap_port_state(from: &Host, scan: &str, to: IpAddr, port: u16) -> String {
    let mut command = from.command("nmap");
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

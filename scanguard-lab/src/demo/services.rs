//! The demo's services: real listening TCP sockets that greet every connection with a banner.

use std::{
    io::Write as _,
    net::{Ipv6Addr, TcpListener},
    thread,
};

use super::{DemoResult, HONEYPOT_PORT, MANAGEMENT_PORT, WEB_PORT, failed};
use crate::Host;

/// The victim's honeypot, web and management services, and the web container's.
pub(super) fn serve_all(victim: &Host, web: &Host) -> DemoResult<()> {
    serve(victim, HONEYPOT_PORT, "SSH-2.0-OpenSSH_7.4 honeypot")?;
    serve(victim, WEB_PORT, "HTTP/1.0 200 OK victim")?;
    serve(victim, MANAGEMENT_PORT, "SSH-2.0-OpenSSH_9.2 management")?;
    serve(web, WEB_PORT, "HTTP/1.0 200 OK web container")?;
    Ok(())
}

/// Listens on `port` (IPv4 and IPv6) in `host`'s namespace and answers each connection with
/// `banner`, from a thread that lives as long as this process.
fn serve(host: &Host, port: u16, banner: &'static str) -> DemoResult<()> {
    let guard = host.enter()?;
    let listener = TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)).map_err(|error| {
        failed(format!(
            "cannot listen on port {port} in {}: {error}",
            host.netns.name()
        ))
    })?;
    drop(guard);
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(format!("{banner}\r\n").as_bytes());
        }
    });
    Ok(())
}

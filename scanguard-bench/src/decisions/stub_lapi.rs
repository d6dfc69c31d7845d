//! A stub of the LAPI's bouncer API on loopback: the startup pull answers a whole blocklist,
//! every delta answers nothing new.

use std::{
    io::{BufRead as _, BufReader, Write as _},
    net::{TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use anyhow::Result;
use scanguard::crowdsec::book::is_address;

use super::target;

/// The startup answer, as the LAPI writes it.
pub fn answer(decisions: u32) -> String {
    let items: Vec<String> = (0..decisions)
        .map(|n| {
            let net = target(n);
            let (scope, value) = match is_address(&net) {
                true => ("Ip", net.addr().to_string()),
                false => ("Range", net.to_string()),
            };
            format!(
                r#"{{"duration":"3h59m58.123456789s","id":{},"origin":"CAPI","scenario":"crowdsecurity/ssh-bf","scope":"{scope}","type":"ban","value":"{value}"}}"#,
                n + 1
            )
        })
        .collect();
    format!(r#"{{"deleted":null,"new":[{}]}}"#, items.join(","))
}

/// Serves the startup answer to `startup=true` pulls and an empty delta to the others, one
/// connection at a time, until `stop`.
pub fn serve(
    listener: TcpListener,
    body: Arc<String>,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = answer_one(stream, &body, &stop);
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    })
}

fn answer_one(stream: TcpStream, body: &str, stop: &AtomicBool) -> Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    // One connection carries the daemon's pulls (keep-alive) until it closes or we stop.
    while !stop.load(Ordering::Relaxed) {
        let mut request = String::new();
        if reader.read_line(&mut request)? == 0 {
            return Ok(());
        }
        let mut header = String::new();
        while reader.read_line(&mut header)? > 2 {
            header.clear();
        }
        let reply = match request.contains("startup=true") {
            true => body,
            false => r#"{"deleted":null,"new":null}"#,
        };
        write!(
            writer,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            reply.len()
        )?;
        writer.write_all(reply.as_bytes())?;
    }
    Ok(())
}

pub struct StopOnDrop(pub Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

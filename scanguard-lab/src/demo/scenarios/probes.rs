//! The probes: nmap and a TCP connection, from one lab host to another.

use std::{
    io::{ErrorKind, Read as _},
    net::{SocketAddr, TcpStream},
    process::Stdio,
    thread,
    time::{Duration, Instant},
};

use super::{CONNECTED, Outcome, REFUSED, Scenario, TIMED_OUT};
use crate::demo::{CONNECT_TIMEOUT, DemoError, DemoLab, DemoResult, failed, interrupt};

/// Runs nmap from `scenario.from` against `scenario.to`, `extra` after `flag`; returns the
/// port's state and the command line. Killed on Ctrl-C, and after a minute whatever happens.
pub(super) fn nmap(
    lab: &DemoLab,
    scenario: &Scenario,
    flag: &str,
    extra: &[String],
) -> DemoResult<(Outcome, String)> {
    let to = scenario.to.address(lab).to_string();
    let port = scenario.port.to_string();
    let mut args = vec![flag];
    args.extend(extra.iter().map(String::as_str));
    args.extend([
        "-n",
        "-Pn",
        "--reason",
        "--max-retries",
        "1",
        "-p",
        &port,
        &to,
    ]);
    let command_line = format!("nmap {}", args.join(" "));
    let mut child = scenario
        .from
        .host(lab)
        .command("nmap")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| failed(format!("cannot run nmap: {error}")))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            break status;
        }
        if interrupt::interrupted() || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(if interrupt::interrupted() {
                DemoError::Interrupted
            } else {
                failed(format!("`{command_line}` took over a minute"))
            });
        }
        thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        let _ = pipe.read_to_string(&mut stdout);
    }
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    interrupt::check()?;
    // PORT STATE SERVICE REASON, e.g. `81/tcp closed hosts2-ns reset ttl 64`.
    let line = stdout
        .lines()
        .find(|line| line.starts_with(&format!("{port}/tcp ")))
        .ok_or_else(|| {
            failed(format!(
                "`{command_line}` ({status}) reported no state for port {port}: {} {}",
                stdout.trim(),
                stderr.trim()
            ))
        })?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let outcome = Outcome {
        verdict: fields.get(1).copied().unwrap_or_default().to_string(),
        detail: fields.get(3..).unwrap_or_default().join(" "),
    };
    Ok((outcome, command_line))
}

pub(super) fn connect_command(lab: &DemoLab, scenario: &Scenario) -> String {
    format!("connect to {}:{}", scenario.to.address(lab), scenario.port)
}

/// A TCP connection from `scenario.from` that reads the service's banner.
pub(super) fn connect(lab: &DemoLab, scenario: &Scenario) -> DemoResult<Outcome> {
    let to = SocketAddr::new(scenario.to.address(lab), scenario.port);
    let _inside = scenario.from.host(lab).enter()?;
    let outcome = |verdict: &str, detail: String| Outcome {
        verdict: verdict.to_string(),
        detail,
    };
    let mut stream = match TcpStream::connect_timeout(&to, CONNECT_TIMEOUT) {
        Ok(stream) => stream,
        Err(error) if matches!(error.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            return Ok(outcome(TIMED_OUT, String::new()));
        }
        Err(error) if error.kind() == ErrorKind::ConnectionRefused => {
            return Ok(outcome(REFUSED, String::new()));
        }
        Err(error) => return Ok(outcome("failed", error.to_string())),
    };
    let _ = stream.set_read_timeout(Some(CONNECT_TIMEOUT));
    let mut banner = [0u8; 128];
    Ok(match stream.read(&mut banner) {
        Ok(read) if read > 0 => outcome(
            CONNECTED,
            String::from_utf8_lossy(&banner[..read]).trim().to_string(),
        ),
        Ok(_) => outcome("closed by the server", String::new()),
        Err(error) => outcome("no banner", error.to_string()),
    })
}

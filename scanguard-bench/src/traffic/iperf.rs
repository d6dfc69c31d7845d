//! TCP throughput with iperf3 (Debian's package): a server in one lab namespace, a client in
//! another, each run bounded by its duration.

use std::{
    net::Ipv4Addr,
    process::{Child, Stdio},
    thread,
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use scanguard_lab::{Netns, run_checked, run_checked_within, wait_until};
use serde_json::Value;

/// The port the server listens on (iperf3's own default).
const PORT: &str = "5201";
/// A server that is gone fails the client fast instead of leaving it waiting.
const CONNECT_TIMEOUT_MS: &str = "3000";
/// Beyond a run's seconds: connecting, and the server's summary. A client still running then
/// is killed (a path that stopped carrying traffic).
const GRACE: Duration = Duration::from_secs(15);

/// An iperf3 server in a lab namespace; dropping it stops it.
pub struct Server(Child);

impl Server {
    pub fn start(netns: &Netns, address: Ipv4Addr) -> Result<Server> {
        let child = netns
            .command("iperf3")
            .args(["--server", "--bind", &address.to_string(), "--port", PORT])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start iperf3 (cargo xtask setup installs it)")?;
        let server = Server(child);
        let listening = wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
            run_checked(
                netns
                    .command("ss")
                    .args(["-ltnH", &format!("sport = :{PORT}")]),
            )
            .is_ok_and(|output| !output.stdout.is_empty())
        });
        if !listening {
            bail!("iperf3 did not listen in {}", netns.name());
        }
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Gbit/s the receiver got over `seconds` of one TCP stream from `client` to the server at
/// `address`, or from the server to `client` when `reverse`.
pub fn gbits(client: &Netns, address: Ipv4Addr, seconds: u32, reverse: bool) -> Result<f64> {
    let mut command = client.command("iperf3");
    command.args([
        "--client",
        &address.to_string(),
        "--port",
        PORT,
        "--time",
        &seconds.to_string(),
        "--json",
        "--connect-timeout",
        CONNECT_TIMEOUT_MS,
    ]);
    if reverse {
        command.arg("--reverse");
    }
    // A server still finishing the previous test refuses the next one for a moment.
    let mut last_error = None;
    for _ in 0..5 {
        match run_checked_within(&mut command, Duration::from_secs(seconds.into()) + GRACE) {
            Ok(output) => {
                let report: Value =
                    serde_json::from_slice(&output.stdout).context("iperf3 --json output")?;
                return report["end"]["sum_received"]["bits_per_second"]
                    .as_f64()
                    .map(|bits| bits / 1e9)
                    .context("no end.sum_received.bits_per_second in iperf3's report");
            }
            Err(error) => last_error = Some(error),
        }
        thread::sleep(Duration::from_millis(200));
    }
    match last_error {
        Some(error) => Err(anyhow::Error::new(error).context("iperf3 client")),
        None => bail!("iperf3 client never ran"),
    }
}

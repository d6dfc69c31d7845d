//! xdp-filter from xdp-tools, the reference XDP filter, set up in the receiver's namespace.

use std::{
    io::{BufRead as _, BufReader, Lines, Write as _},
    net::Ipv4Addr,
    process::{Child, ChildStdin, ChildStdout, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use scanguard_lab::Host;

/// xdp-filter pins its state under the global /sys/fs/bpf/xdp-filter, whatever LIBXDP_BPFFS
/// says. So it runs in a private mount namespace with a bpffs of its own: nothing it pins is
/// visible outside or outlives the session, and it cannot touch an xdp-filter the machine may
/// run. One shell keeps that namespace alive and answers `status` requests until told to quit.
pub struct XdpFilterSession {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    interface: String,
}

const XDP_FILTER_SCRIPT: &str = r#"set -e
mount -t bpf bpf /sys/fs/bpf
xdp-filter load --mode native --features ipv4,ipv6 "$1"
xdp-filter ip "$2" --mode src
echo READY
while read -r request; do
  [ "$request" = status ] || break
  xdp-filter status
  echo END
done
xdp-filter unload "$1"
"#;

impl XdpFilterSession {
    pub fn start(rx: &Host, banned: Ipv4Addr) -> Result<XdpFilterSession> {
        let mut child = rx
            .command("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                XDP_FILTER_SCRIPT,
                "xdp-filter-session",
            ])
            .arg(&rx.interface)
            .arg(banned.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawn xdp-filter")?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().context("piped stdout")?).lines();
        let mut session = XdpFilterSession {
            child,
            stdin,
            stdout,
            interface: rx.interface.clone(),
        };
        match session.read_until("READY") {
            Ok(_) => Ok(session),
            Err(_) => {
                let mut stderr = String::new();
                if let Some(mut pipe) = session.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                bail!(
                    "xdp-filter did not load: {}",
                    stderr.trim().replace('\n', " | ")
                )
            }
        }
    }

    fn read_until(&mut self, marker: &str) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        for line in self.stdout.by_ref() {
            let line = line?;
            if line.trim() == marker {
                return Ok(lines);
            }
            lines.push(line);
        }
        bail!("xdp-filter session ended before {marker}")
    }

    /// XDP_DROP from `xdp-filter status`: "  XDP_DROP   <n> pkts ...".
    pub fn dropped(&mut self) -> Result<u64> {
        let stdin = self.stdin.as_mut().context("session closed")?;
        writeln!(stdin, "status")?;
        let lines = self.read_until("END")?;
        lines
            .iter()
            .find_map(|line| {
                let mut fields = line.split_whitespace();
                (fields.next()? == "XDP_DROP").then(|| fields.next()?.parse::<u64>().ok())?
            })
            .with_context(|| {
                format!(
                    "no XDP_DROP line in xdp-filter status on {}",
                    self.interface
                )
            })
    }
}

impl Drop for XdpFilterSession {
    fn drop(&mut self) {
        // Closing stdin ends the loop: the script unloads and exits.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

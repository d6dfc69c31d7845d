//! Setup step: the Debian packages the kernel tests, the lab and the benchmark run (iproute2,
//! nmap, hping3, bpftool, xdp-tools, iptables...). The Docker engine and CrowdSec, whose
//! services must not start, are steps of their own.

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::{Done, log};

/// What the kernel tests and the lab drive: namespaces and links (iproute2,
/// nsenter from util-linux), reachability (ping), scans (nmap, hping3),
/// capture, BPF and XDP inspection, firewalls to compare with, real TCP throughput (iperf3)
/// and a terminal multiplexer that `scanguard top`'s tests type into. Then what
/// `cargo xtask package` and its tests need: the arm64 cross linker and libc,
/// qemu to run the arm64 binary, `file`, and systemd-analyze with man (it
/// checks the unit's `man:` link), which Debian ships in `systemd` itself: on a
/// host where systemd does not run, installing it only adds its files.
const PACKAGES: &[&str] = &[
    "iproute2",
    "util-linux",
    "iputils-ping",
    "nmap",
    "hping3",
    "tcpdump",
    "bpftool",
    "xdp-tools",
    "iptables",
    "nftables",
    "iperf3",
    "tmux",
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",
    "qemu-user-static",
    "file",
    "systemd",
    "man-db",
];

pub fn ensure() -> Result<Done> {
    install(PACKAGES)
}

/// Installs those of `packages` that are missing, with apt-get.
pub(super) fn install(packages: &[&'static str]) -> Result<Done> {
    let missing = missing(packages)?;
    if missing.is_empty() {
        return Ok(Done::AlreadyInstalled);
    }
    let by_hand = format!("apt-get install {}", missing.join(" "));
    if !scanguard_lab::is_root() {
        bail!(
            "missing {}; rerun as root or install them by hand: {by_hand}",
            missing.join(", ")
        );
    }
    let install = || -> Result<()> {
        log::run(Command::new("apt-get").arg("update"))?;
        log::run(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    install().with_context(|| format!("apt-get failed; install them by hand: {by_hand}"))?;
    Ok(Done::Installed(missing.join(", ")))
}

/// Which of `packages` dpkg does not have installed.
pub(super) fn missing(packages: &[&'static str]) -> Result<Vec<&'static str>> {
    let mut missing = Vec::new();
    for package in packages {
        let query = Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", package])
            .output()
            .with_context(|| {
                format!(
                    "no dpkg-query here (not Debian-based?); install by hand: {}",
                    packages.join(" ")
                )
            })?;
        // dpkg-query fails for packages it has never heard of: also missing.
        if !(query.status.success() && query.stdout == b"install ok installed") {
            missing.push(*package);
        }
    }
    Ok(missing)
}

//! Setup step: Debian's Docker engine (`docker.io`: dockerd 20.10 with containerd, runc, tini
//! and the `docker` CLI) and `busybox-static`, for the lab tests against a real engine. Each
//! of those tests runs a dockerd of its own from a private directory (see
//! `scanguard_lab::DockerEngine`) and builds its image offline from the static busybox, so no
//! registry is needed. The package's service is kept from starting (see [`NoServiceStarts`]):
//! a system engine would hold the default socket, and with it the tests would use that engine
//! rather than one they can stop and compare the host with.

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::{Done, debian_packages, log, no_service_starts::NoServiceStarts};

const PACKAGES: &[&str] = &["docker.io", "busybox-static"];

pub fn ensure() -> Result<Done> {
    let missing = debian_packages::missing(PACKAGES)?;
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
    let _no_service_starts = NoServiceStarts::install()?;
    log::run(Command::new("apt-get").arg("update"))?;
    log::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .with_context(|| format!("apt-get failed; install them by hand: {by_hand}"))?;
    Ok(Done::Installed(missing.join(", ")))
}

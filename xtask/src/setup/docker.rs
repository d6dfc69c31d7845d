//! Setup step: Debian's Docker engine (`docker.io`: dockerd 20.10 with containerd, runc, tini
//! and the `docker` CLI) and `busybox-static`, for the lab tests against a real engine. Each
//! of those tests runs a dockerd of its own from a private directory (see
//! `scanguard_lab::DockerEngine`) and builds its image offline from the static busybox, so no
//! registry is needed. The package's service is kept from starting (see [`NoServiceStarts`]):
//! a system engine would hold the default socket, and with it the tests would use that engine
//! rather than one they can stop and compare the host with.

use anyhow::Result;

use super::{Done, debian_packages, no_service_starts::NoServiceStarts};

const PACKAGES: &[&str] = &["docker.io", "busybox-static"];

pub fn ensure() -> Result<Done> {
    if debian_packages::missing(PACKAGES)?.is_empty() {
        return Ok(Done::AlreadyInstalled);
    }
    let _no_service_starts = scanguard_lab::is_root()
        .then(NoServiceStarts::install)
        .transpose()?;
    debian_packages::install(PACKAGES)
}

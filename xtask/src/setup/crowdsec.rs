//! Debian's `crowdsec`, whose Local API the CrowdSec tests run a throwaway instance of.
//!
//! Two things keep the install offline and out of the way: its postinst registers with the
//! Central API unless `/etc/crowdsec/online_api_credentials.yaml` exists, and dies when it
//! cannot, so a one-line file goes there first; and no service may start (the system LAPI
//! would hold port 8080), so a `policy-rc.d` that refuses every start is in place while apt
//! runs, unless the host has one already.

use std::{os::unix::fs::PermissionsExt as _, path::Path, process::Command};

use anyhow::{Context, Result, bail};

use super::{Done, log};

const PACKAGE: &str = "crowdsec";
const ONLINE_CREDENTIALS: &str = "/etc/crowdsec/online_api_credentials.yaml";
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

pub fn ensure() -> Result<Done> {
    if installed()? {
        return Ok(Done::AlreadyInstalled);
    }
    if !scanguard_lab::is_root() {
        bail!("missing {PACKAGE}; rerun as root");
    }
    let credentials = Path::new(ONLINE_CREDENTIALS);
    if !credentials.exists() {
        std::fs::create_dir_all("/etc/crowdsec")?;
        std::fs::write(
            credentials,
            "# no Central API: scanguard's tests run the Local API offline\n",
        )
        .with_context(|| format!("cannot write {ONLINE_CREDENTIALS}"))?;
    }
    let _no_service_starts = NoServiceStarts::install()?;
    log::run(Command::new("apt-get").arg("update"))?;
    log::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", PACKAGE])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("apt-get failed; install it by hand as above: apt-get install crowdsec")?;
    Ok(Done::Installed(PACKAGE.to_string()))
}

fn installed() -> Result<bool> {
    let query = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", PACKAGE])
        .output()
        .context("no dpkg-query here (not Debian-based?); install crowdsec by hand")?;
    Ok(query.status.success() && query.stdout == b"install ok installed")
}

/// A `policy-rc.d` that refuses every service start, removed on drop; nothing if the host
/// has one of its own.
struct NoServiceStarts(bool);

impl NoServiceStarts {
    fn install() -> Result<NoServiceStarts> {
        let path = Path::new(POLICY_RC_D);
        if path.exists() {
            return Ok(NoServiceStarts(false));
        }
        // invoke-rc.d's exit code 101: "action forbidden by policy".
        std::fs::write(path, "#!/bin/sh\nexit 101\n")?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
        Ok(NoServiceStarts(true))
    }
}

impl Drop for NoServiceStarts {
    fn drop(&mut self) {
        if self.0 {
            let _ = std::fs::remove_file(POLICY_RC_D);
        }
    }
}

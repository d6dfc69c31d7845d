//! Debian's `crowdsec`, whose Local API the CrowdSec tests run a throwaway instance of.
//!
//! Two things keep the install offline and out of the way: its postinst registers with the
//! Central API unless `/etc/crowdsec/online_api_credentials.yaml` exists, and dies when it
//! cannot, so a one-line file goes there first; and no service may start (the system LAPI
//! would hold port 8080), see [`NoServiceStarts`].

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{Done, debian_packages, no_service_starts::NoServiceStarts};

const PACKAGE: &str = "crowdsec";
const ONLINE_CREDENTIALS: &str = "/etc/crowdsec/online_api_credentials.yaml";

pub fn ensure() -> Result<Done> {
    if debian_packages::missing(&[PACKAGE])?.is_empty() {
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
    debian_packages::install(&[PACKAGE])
}

use std::process::Command;

use anyhow::{Result, bail};

use super::{Done, log};
use crate::process::cargo;

/// `cargo xtask package` builds the Debian packages with this cargo-deb.
pub const VERSION: &str = "3.8.0";

pub(super) fn ensure() -> Result<Done> {
    if installed_version().as_deref() == Some(VERSION) {
        return Ok(Done::AlreadyInstalled);
    }
    log::run(cargo().args([
        "install",
        "cargo-deb",
        "--version",
        VERSION,
        "--locked",
        "--force",
    ]))?;
    match installed_version() {
        Some(version) if version == VERSION => Ok(Done::Installed(format!("cargo-deb {VERSION}"))),
        other => bail!(
            "installed, but `cargo deb --version` reports {other:?}; put ~/.cargo/bin on PATH"
        ),
    }
}

/// `3.8.0` from `cargo-deb 3.8.0`, or `None` if cargo-deb does not run.
pub fn installed_version() -> Option<String> {
    let output = Command::new("cargo-deb").arg("--version").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    text.split_whitespace().nth(1).map(str::to_owned)
}

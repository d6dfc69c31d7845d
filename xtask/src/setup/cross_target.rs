use std::process::Command;

use anyhow::{Context, Result};

use super::{Done, log};
use crate::{package::ARM64_TARGET, process::stdout};

/// The arm64 package's userspace is cross-built with the stable toolchain's std for aarch64
/// (its linker is Debian's gcc-aarch64-linux-gnu, a Debian test tool).
pub fn ensure() -> Result<Done> {
    let installed = stdout(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("could not ask rustup; install rustup and put ~/.cargo/bin on PATH")?;
    if installed.lines().any(|line| line.trim() == ARM64_TARGET) {
        return Ok(Done::AlreadyInstalled);
    }
    log::run(Command::new("rustup").args(["target", "add", ARM64_TARGET]))?;
    Ok(Done::Installed(ARM64_TARGET.into()))
}

//! Setup step: the nightly toolchain with rust-src, which building the eBPF crate needs.

use std::process::Command;

use anyhow::{Context, Result};

use super::{Done, log};

/// aya-build compiles the eBPF crate with nightly's `-Z build-std`, which needs rust-src.
pub fn ensure() -> Result<Done> {
    let query = rustup()
        .args(["component", "list", "--installed", "--toolchain", "nightly"])
        .output()
        .context("could not run rustup; install rustup and put ~/.cargo/bin on PATH")?;
    // rustup fails the query when the toolchain is not installed.
    if !query.status.success() {
        log::run(rustup().args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
            "--component",
            "rust-src",
        ]))?;
        return Ok(Done::Installed("nightly with rust-src".into()));
    }
    let components = String::from_utf8_lossy(&query.stdout);
    if components.lines().any(|line| line.trim() == "rust-src") {
        return Ok(Done::AlreadyInstalled);
    }
    log::run(rustup().args(["component", "add", "rust-src", "--toolchain", "nightly"]))?;
    Ok(Done::Installed("rust-src".into()))
}

fn rustup() -> Command {
    let mut command = Command::new("rustup");
    // Asking about a missing toolchain must not install it behind our back.
    command.env("RUSTUP_AUTO_INSTALL", "0");
    command
}

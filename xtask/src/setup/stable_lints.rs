//! Setup step: clippy and rustfmt on the stable toolchain, for the end of `cargo xtask test`.

use std::process::Command;

use anyhow::{Context, Result};

use super::{Done, log};
use crate::process::stdout;

/// `cargo xtask test` ends with clippy and rustfmt, which minimal toolchains lack.
pub fn ensure() -> Result<Done> {
    let installed = stdout(Command::new("rustup").args(["component", "list", "--installed"]))
        .context(
            "could not ask rustup; make sure rustup is installed and ~/.cargo/bin is on PATH",
        )?;
    let missing: Vec<_> = ["clippy", "rustfmt"]
        .into_iter()
        .filter(|component| !installed.lines().any(|line| is_component(line, component)))
        .collect();
    if missing.is_empty() {
        return Ok(Done::AlreadyInstalled);
    }
    log::run(
        Command::new("rustup")
            .args(["component", "add"])
            .args(&missing),
    )?;
    Ok(Done::Installed(missing.join(", ")))
}

/// rustup lists installed components with their target, e.g. `clippy-x86_64-unknown-linux-gnu`.
fn is_component(line: &str, component: &str) -> bool {
    line.trim()
        .strip_prefix(component)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_components_with_or_without_target() {
        assert!(is_component("clippy-x86_64-unknown-linux-gnu", "clippy"));
        assert!(is_component("rustfmt", "rustfmt"));
        assert!(!is_component("rustfmtx", "rustfmt"));
        assert!(!is_component("cargo-x86_64-unknown-linux-gnu", "clippy"));
    }
}

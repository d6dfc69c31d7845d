//! Setup step: bpf-linker, built against nightly's own libLLVM.

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::{Done, llvm_prefix, log};
use crate::process::cargo;

/// The eBPF crate's object is linked by bpf-linker 0.13, built here against
/// nightly's own libLLVM so no system LLVM is needed.
pub fn ensure() -> Result<Done> {
    if installed_version().as_deref().is_some_and(is_wanted) {
        return Ok(Done::AlreadyInstalled);
    }
    let prefix = llvm_prefix::prepare().context("could not find nightly's libLLVM")?;
    // --force: a bpf-linker whose libLLVM vanished with a nightly update still
    // counts as installed for cargo.
    log::run(
        cargo()
            .args(["install", "bpf-linker", "--version", "~0.13", "--force"])
            .args([
                "--no-default-features",
                "--features",
                &format!("llvm-{}", prefix.major),
            ])
            .env("LLVM_PREFIX", &prefix.dir),
    )?;
    match installed_version() {
        Some(version) if is_wanted(&version) => Ok(Done::Installed(version)),
        other => bail!(
            "installed, but `bpf-linker --version` reports {other:?}; put ~/.cargo/bin on PATH"
        ),
    }
}

/// The version `bpf-linker --version` reports, or `None` if it does not run,
/// e.g. because it is missing or its libLLVM is gone.
fn installed_version() -> Option<String> {
    let output = Command::new("bpf-linker").arg("--version").output().ok()?;
    if !output.status.success() {
        return None;
    }
    // `bpf-linker 0.13.0`
    let text = String::from_utf8(output.stdout).ok()?;
    text.split_whitespace().nth(1).map(str::to_owned)
}

fn is_wanted(version: &str) -> bool {
    version.starts_with("0.13.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_0_13_releases_are_wanted() {
        assert!(is_wanted("0.13.0"));
        assert!(is_wanted("0.13.7"));
        assert!(!is_wanted("0.12.2"));
        assert!(!is_wanted("0.130.0"));
    }
}

//! `cargo xtask setup`: idempotent, one line per step, skips what is there.

mod bpf_linker;
mod crowdsec;
mod debian_packages;
mod llvm_prefix;
mod nightly;
mod stable_lints;

use std::fmt;

use anyhow::{Context, Result};

pub fn execute() -> Result<()> {
    step("nightly toolchain with rust-src", nightly::ensure)?;
    step("clippy and rustfmt", stable_lints::ensure)?;
    step("bpf-linker 0.13", bpf_linker::ensure)?;
    step("Debian test tools", debian_packages::ensure)?;
    step("CrowdSec Local API", crowdsec::ensure)?;
    Ok(())
}

/// What a step found or did.
enum Done {
    AlreadyInstalled,
    Installed(String),
}

impl fmt::Display for Done {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyInstalled => f.write_str("already installed"),
            Self::Installed(what) => write!(f, "installed {what}"),
        }
    }
}

fn step(name: &str, ensure: fn() -> Result<Done>) -> Result<()> {
    let done = ensure().with_context(|| format!("setup step `{name}` failed"))?;
    println!("[setup] {name} ... ok ({done})");
    Ok(())
}

/// A line for work that takes a while, so the output in between makes sense.
fn progress(message: &str) {
    println!("[setup] {message}");
}

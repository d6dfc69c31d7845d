//! `cargo xtask setup`: idempotent, one line per step with its result and time, skips what is
//! there; what the installers print goes to `target/setup.log`.

mod bpf_linker;
pub mod cargo_deb;
mod cross_target;
mod crowdsec;
mod debian_packages;
mod docker;
mod llvm_prefix;
mod log;
mod nightly;
mod no_service_starts;
mod stable_lints;

use std::{fmt, time::Instant};

use anyhow::{Context, Result};

pub fn execute() -> Result<()> {
    step("nightly toolchain with rust-src", nightly::ensure)?;
    step("clippy and rustfmt", stable_lints::ensure)?;
    step("bpf-linker 0.13", bpf_linker::ensure)?;
    step("Debian test and packaging tools", debian_packages::ensure)?;
    step("Docker engine and busybox-static", docker::ensure)?;
    step("CrowdSec Local API", crowdsec::ensure)?;
    step("aarch64 Rust target", cross_target::ensure)?;
    step(
        &format!("cargo-deb {}", cargo_deb::VERSION),
        cargo_deb::ensure,
    )?;
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
    let started = Instant::now();
    let result = ensure();
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(done) => {
            println!("[setup] {name} ... ok ({done}) {seconds:.1} s");
            Ok(())
        }
        Err(error) => {
            println!("[setup] {name} ... FAILED {seconds:.1} s");
            Err(error).with_context(|| format!("setup step `{name}` failed"))
        }
    }
}

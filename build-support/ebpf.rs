//! Shared by the build scripts that embed an eBPF object (`scanguard`, `scanguard-bench`):
//! checks that the eBPF toolchain is there, so a missing piece is one line pointing at
//! `cargo xtask setup` rather than a wall of nested cargo output, then builds with aya-build.

use std::process::Command;

use anyhow::{Context as _, anyhow};
use aya_build::Toolchain;

const SETUP_HINT: &str = "run `cargo xtask setup` to install it";

/// Builds the binaries of the eBPF crate `package` (a sibling of the calling crate) into
/// `OUT_DIR`.
pub fn build(package: &str) -> anyhow::Result<()> {
    if let Err(missing) = check_toolchain() {
        // `cargo::error` (cargo 1.84+) fails the build with exactly this line.
        println!("cargo::error={missing}; {SETUP_HINT}");
        return Ok(());
    }
    let metadata = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata")?;
    let ebpf = metadata
        .packages
        .into_iter()
        .find(|found| found.name.as_str() == package)
        .ok_or_else(|| anyhow!("{package} package not found"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("no parent for {}", ebpf.manifest_path))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: package,
            root_dir: root_dir.as_str(),
            ..Default::default()
        }],
        Toolchain::default(),
    )
}

/// The pieces aya-build needs: a nightly toolchain with rust-src (for `-Z build-std=core`) and a
/// working bpf-linker on PATH.
fn check_toolchain() -> Result<(), String> {
    let sysroot = run("rustup", &["run", "nightly", "rustc", "--print", "sysroot"])
        .ok_or("the nightly Rust toolchain is missing")?;
    let rust_src = std::path::Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library/core");
    if !rust_src.exists() {
        return Err("the nightly rust-src component is missing".into());
    }
    run("bpf-linker", &["--version"]).ok_or("bpf-linker is missing or cannot start")?;
    Ok(())
}

fn run(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

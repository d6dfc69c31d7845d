//! `cargo xtask bench`: builds scanguard and its benchmark in release mode, then becomes the
//! benchmark (exec), so Ctrl-C reaches the one process that knows what to clean up. The report
//! lands in target/bench: bench.md (also printed), bench.json and bench.png.

use std::{
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result, bail};

use crate::{
    lab_clean,
    process::{cargo, run, stdout},
    setup,
};

/// `args` go to the benchmark: `--quick`, `--only <part>`, `--traffic-repetitions <n>`,
/// `--traffic-seconds <s>`, `--traffic-path <veth|bridge|docker>`.
pub fn execute(args: &[String]) -> Result<()> {
    setup::execute()?;
    if !scanguard_lab::is_root() {
        bail!("the benchmark loads XDP programs and builds network namespaces: run it as root");
    }
    lab_clean::execute()?;
    println!("[bench] building scanguard and scanguard-bench (release)");
    run(cargo().args([
        "build",
        "--release",
        "--package",
        "scanguard",
        "--package",
        "scanguard-bench",
    ]))?;
    let release = target_dir().join("release");
    let label = stdout(Command::new("git").args(["describe", "--always", "--dirty"]))
        .map(|describe| describe.trim().to_string())
        .unwrap_or_else(|_| "(not a git checkout)".to_string());
    let error = Command::new(release.join("scanguard-bench"))
        .arg("--scanguard")
        .arg(release.join("scanguard"))
        .arg("--out")
        .arg(target_dir().join("bench"))
        .arg("--label")
        .arg(label)
        .args(args)
        .exec();
    Err(error).context("could not start scanguard-bench")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
            xtask.parent().unwrap_or(xtask).join("target")
        })
}

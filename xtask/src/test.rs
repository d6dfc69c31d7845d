//! `cargo xtask test`: every test of the workspace in release, then clippy and rustfmt, with
//! lab namespaces cleaned up before and after.

use anyhow::{Context, Result};

use crate::{
    lab_clean, package,
    process::{cargo, run},
    setup,
};

/// Every test, then the lints: the README's one command for a full check.
pub fn execute() -> Result<()> {
    setup::execute()?;
    if !scanguard_lab::is_root() {
        eprintln!(
            "[test] !!! NOT ROOT: the kernel tests create network namespaces and load XDP \
             programs, so they WILL FAIL; run `cargo xtask test` as root !!!"
        );
    }
    lab_clean::execute()?;
    // scanguard's package tests install and run what this builds.
    println!("[test] building the packages");
    package::execute()?;
    let tests = run(cargo().args([
        "test",
        "--workspace",
        "--exclude",
        "scanguard-ebpf",
        "--exclude",
        "scanguard-bench-ebpf",
        "--release",
    ]));
    // Clean up after a failed run too; report the test failure first.
    let cleaned = lab_clean::execute();
    tests.context("tests failed; see the output above")?;
    cleaned?;
    println!("[test] running clippy");
    run(cargo().args([
        "clippy",
        // The release profile of the tests above: build scripts (the eBPF object) and
        // dependencies are not built a second time for another profile.
        "--release",
        "--workspace",
        "--exclude",
        "scanguard-ebpf",
        "--exclude",
        "scanguard-bench-ebpf",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
    .context("clippy found problems")?;
    println!("[test] checking formatting");
    run(cargo().args(["fmt", "--all", "--check"]))
        .context("code is not formatted; run `cargo fmt --all`")?;
    println!("[test] all tests and lints passed");
    Ok(())
}

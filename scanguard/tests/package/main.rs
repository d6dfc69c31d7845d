//! The Debian packages `cargo xtask package` builds into target/package (`cargo xtask test`
//! builds them before the tests): the amd64 one installs on this machine, works from the PATH
//! with its own configuration and unit, and purges without a trace; the arm64 one holds an
//! aarch64 binary that runs under qemu, with the same eBPF object inside; the packaged
//! configuration and maintainer scripts do what they say.

#[path = "../support/mod.rs"]
mod support;

mod arm64;
mod contents;
mod install;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, UNIX_EPOCH},
};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("scanguard lives in the workspace")
}

/// `target/package/scanguard_<version>_<arch>.deb`.
fn package(arch: &str) -> PathBuf {
    let deb = workspace().join(format!(
        "target/package/scanguard_{}_{arch}.deb",
        env!("CARGO_PKG_VERSION")
    ));
    assert!(
        deb.exists(),
        "{} is missing: build the packages with `cargo xtask package` (`cargo xtask test` does)",
        deb.display()
    );
    deb
}

#[track_caller]
fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[track_caller]
fn stdout(command: &mut Command) -> String {
    String::from_utf8_lossy(&run(command).stdout).into_owned()
}

/// A private directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let stamp = UNIX_EPOCH.elapsed().unwrap_or(Duration::ZERO).as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "scanguard-package-{name}-{}-{stamp}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// `deb` unpacked here: its files, or with `control` its maintainer scripts.
    fn unpacked(name: &str, deb: &Path, control: bool) -> TempDir {
        let dir = TempDir::new(name);
        let flag = if control { "--control" } else { "--extract" };
        run(Command::new("dpkg-deb").arg(flag).arg(deb).arg(&dir.0));
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

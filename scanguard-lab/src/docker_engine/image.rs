//! The test image's root file system: one static busybox (Debian's busybox-static) and a few
//! applet links, as a tarball for `docker import`, so no registry is needed.

use std::{
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use crate::{LabError, Result, run_checked_within};

/// One static binary, so the image needs nothing else.
pub(super) const BUSYBOX: &str = "/bin/busybox";
/// Applets linked to busybox, for a shell in a container by hand.
const APPLETS: &[&str] = &["sh", "sleep"];
/// tar of a 2 MB tree.
const TAR_TIMEOUT: Duration = Duration::from_secs(60);

/// `<stem>.tar`, removed on drop.
pub(super) struct Tarball(PathBuf);

impl Tarball {
    /// Builds the tree in the directory `stem`, packs it into `<stem>.tar` and removes the tree.
    pub(super) fn build(stem: &Path) -> Result<Tarball> {
        if !Path::new(BUSYBOX).exists() {
            return Err(LabError::Engine(format!(
                "no {BUSYBOX} for the test image: install busybox-static (`cargo xtask setup`)"
            )));
        }
        let tarball = Tarball(stem.with_extension("tar"));
        let packed = fill(stem).and_then(|()| {
            run_checked_within(
                Command::new("tar")
                    .arg("-C")
                    .arg(stem)
                    .arg("-cf")
                    .arg(&tarball.0)
                    .arg("."),
                TAR_TIMEOUT,
            )
        });
        let _ = std::fs::remove_dir_all(stem);
        packed.map(|_| tarball)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tarball {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `root/bin/busybox` and its applet links.
fn fill(root: &Path) -> Result<()> {
    let bin = root.join("bin");
    let io = |what: String| move |source| LabError::Io { what, source };
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(&bin).map_err(io(format!("create {}", bin.display())))?;
    std::fs::copy(BUSYBOX, bin.join("busybox")).map_err(io(format!("copy {BUSYBOX}")))?;
    for applet in APPLETS {
        let link = bin.join(applet);
        symlink("busybox", &link).map_err(io(format!("link {}", link.display())))?;
    }
    Ok(())
}

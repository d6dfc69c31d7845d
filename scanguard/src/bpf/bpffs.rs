//! bpffs: pins need it, and many hosts (this one included) do not mount it by default.

use std::path::Path;

use anyhow::{Context as _, Result};
use nix::{
    mount::{MsFlags, mount},
    sys::statfs::{BPF_FS_MAGIC, statfs},
};

/// Makes sure `pin_dir` exists on a bpffs, mounting one on its parent if needed (as bpfman and
/// systemd do for /sys/fs/bpf).
pub fn ensure_pin_dir(pin_dir: &Path) -> Result<()> {
    let mount_point = pin_dir
        .parent()
        .with_context(|| format!("pin directory {} has no parent", pin_dir.display()))?;
    std::fs::create_dir_all(mount_point)
        .with_context(|| format!("cannot create {}", mount_point.display()))?;
    if !is_bpffs(mount_point) {
        mount(
            Some("bpffs"),
            mount_point,
            Some("bpf"),
            MsFlags::empty(),
            None::<&str>,
        )
        .with_context(|| format!("cannot mount bpffs on {}", mount_point.display()))?;
    }
    std::fs::create_dir_all(pin_dir)
        .with_context(|| format!("cannot create pin directory {}", pin_dir.display()))
}

pub fn is_bpffs(path: &Path) -> bool {
    statfs(path).is_ok_and(|fs| fs.filesystem_type() == BPF_FS_MAGIC)
}

//! The running daemon's lock and status file, so one `attach` runs at a time and other
//! commands can say what it is doing.

use std::{
    fs::File,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result, bail};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::paths::{LOCK_FILE, STATUS_FILE};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub persist: bool,
    pub pin_dir: PathBuf,
    pub interfaces: Vec<AttachedInterface>,
    /// Detection events the kernel could not deliver because the reader fell behind.
    #[serde(default)]
    pub events_lost: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttachedInterface {
    pub name: String,
    pub ifindex: u32,
    pub mode: String,
}

/// Held while `attach` runs; released by the kernel even on SIGKILL.
pub struct DaemonLock {
    _lock: Flock<File>,
    run_dir: PathBuf,
}

impl DaemonLock {
    pub fn acquire(run_dir: &Path) -> Result<DaemonLock> {
        std::fs::create_dir_all(run_dir)
            .with_context(|| format!("cannot create {}", run_dir.display()))?;
        let path = run_dir.join(LOCK_FILE);
        let file =
            File::create(&path).with_context(|| format!("cannot open {}", path.display()))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => {
                // Whoever wrote a status file before is gone: the lock says so.
                let _ = std::fs::remove_file(run_dir.join(STATUS_FILE));
                Ok(DaemonLock {
                    _lock: lock,
                    run_dir: run_dir.to_path_buf(),
                })
            }
            Err(_) => {
                let pid =
                    read(run_dir).map_or("unknown".to_string(), |status| status.pid.to_string());
                bail!(
                    "another `scanguard attach` is already running (pid {pid}); stop it first or use `scanguard status`"
                )
            }
        }
    }

    pub fn publish(&self, status: &DaemonStatus) -> Result<()> {
        let path = self.run_dir.join(STATUS_FILE);
        let json = serde_json::to_vec_pretty(status)?;
        std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))
    }
}

impl Drop for DaemonLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.run_dir.join(STATUS_FILE));
    }
}

/// The status of a daemon that is alive now.
pub fn read(run_dir: &Path) -> Option<DaemonStatus> {
    let text = std::fs::read(run_dir.join(STATUS_FILE)).ok()?;
    let status: DaemonStatus = serde_json::from_slice(&text).ok()?;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(status.pid).ok()?);
    nix::sys::signal::kill(pid, None).ok()?;
    Some(status)
}

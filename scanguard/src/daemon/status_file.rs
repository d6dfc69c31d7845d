//! The running daemon's lock and status file, so one `attach` runs at a time and other
//! commands can say what it is doing.

use std::{
    fs::File,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
};

use anyhow::{Context as _, Result, bail};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::config::paths::{LOCK_FILE, STATUS_FILE};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub persist: bool,
    pub pin_dir: PathBuf,
    pub interfaces: Vec<AttachedInterface>,
    /// Detection events the kernel could not deliver because the reader fell behind.
    #[serde(default)]
    pub events_lost: u64,
    /// Bridges whose ports are attached and followed.
    #[serde(default)]
    pub bridges: Vec<FollowedBridge>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowedBridge {
    pub name: String,
    pub ifindex: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedInterface {
    pub name: String,
    pub ifindex: u32,
    pub mode: String,
    /// physical, wireless, bridge, veth, ... (see `scanguard ifaces`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The bridge this interface was attached to as a port of (followed while attached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_of: Option<String>,
    /// Why generic (skb) mode is in use after `--mode auto` tried native XDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic_fallback: Option<String>,
    /// Why `--mode auto` chose TC ingress (mode `tc`) over XDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_reason: Option<String>,
}

/// Held while `attach` runs; released by the kernel even on SIGKILL.
pub struct DaemonLock {
    _lock: Flock<File>,
    status_file: StatusFile,
}

/// Where the daemon publishes its status. Tasks other than the one holding the lock update
/// it too (the bridge-port follower), so the status in force is kept here and each update
/// changes its own fields of it. Once the lock is released nothing is published any more, so a
/// late update cannot bring the file of a stopped daemon back.
#[derive(Clone)]
pub struct StatusFile {
    path: PathBuf,
    shared: Arc<Mutex<Published>>,
}

enum Published {
    /// The status last published, if any yet.
    Open(Option<DaemonStatus>),
    /// The lock is released.
    Closed,
}

impl StatusFile {
    /// Publishes `status` as the whole status.
    pub fn publish(&self, status: &DaemonStatus) -> Result<()> {
        self.update_with(|current| *current = Some(status.clone()))
    }

    /// Changes fields of the status last published and publishes the result.
    pub fn update(&self, change: impl FnOnce(&mut DaemonStatus)) -> Result<()> {
        self.update_with(|current| {
            if let Some(status) = current {
                change(status);
            }
        })
    }

    fn update_with(&self, change: impl FnOnce(&mut Option<DaemonStatus>)) -> Result<()> {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let Published::Open(current) = &mut *shared else {
            return Ok(());
        };
        change(current);
        let Some(status) = current else {
            return Ok(());
        };
        // Written whole, then renamed, so readers never see half of it.
        let json = serde_json::to_vec_pretty(status)?;
        let partial = self.path.with_extension("json.partial");
        std::fs::write(&partial, json)
            .and_then(|()| std::fs::rename(&partial, &self.path))
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    fn close(&self) {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        *shared = Published::Closed;
        let _ = std::fs::remove_file(&self.path);
    }
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
                    status_file: StatusFile {
                        path: run_dir.join(STATUS_FILE),
                        shared: Arc::new(Mutex::new(Published::Open(None))),
                    },
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
        self.status_file.publish(status)
    }

    /// See [`StatusFile::update`].
    pub fn update(&self, change: impl FnOnce(&mut DaemonStatus)) -> Result<()> {
        self.status_file.update(change)
    }

    pub fn status_file(&self) -> StatusFile {
        self.status_file.clone()
    }
}

impl Drop for DaemonLock {
    fn drop(&mut self) {
        self.status_file.close();
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

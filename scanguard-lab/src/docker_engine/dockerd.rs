//! A `dockerd` of the fixture's own: every file under one private directory (data root, exec
//! root, pid file, API socket, log, and the host state captured before it started), its
//! iptables management left on. Stopping it puts the host back as it was.

use std::{
    fs::File,
    io::{Read as _, Write as _},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use nix::{
    errno::Errno,
    mount::{MntFlags, umount2},
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use super::host_state::HostState;
use crate::{LabError, Result, wait_until};

/// Every private directory is `<temp dir>/scanguard-dockerd-<creator pid>-<counter>`, so
/// `cargo xtask lab-clean` can tell a killed run's from a live one's.
pub(super) const DIR_PREFIX: &str = "scanguard-dockerd-";
/// dockerd answers within a second here; a slow CI machine gets more.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// dockerd stops the containers still running (none, normally) for at most
/// `--shutdown-timeout`, then exits.
const SHUTDOWN_SECONDS: u32 = 5;
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);
/// Lines of dockerd's log quoted when it does not come up.
const LOG_TAIL: usize = 5;
const LOG_FILE: &str = "dockerd.log";
const PID_FILE: &str = "dockerd.pid";
const SOCKET: &str = "docker.sock";

pub(super) struct OwnDockerd {
    dir: PathBuf,
    child: Option<Child>,
    before: HostState,
}

impl OwnDockerd {
    /// Captures the host's state, starts dockerd and waits for its `_ping`.
    pub(super) fn start() -> Result<OwnDockerd> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "{DIR_PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|source| LabError::Io {
            what: format!("create {}", dir.display()),
            source,
        })?;
        let before = HostState::capture()?;
        before.save(&dir)?;
        let log = File::create(dir.join(LOG_FILE)).map_err(|source| LabError::Io {
            what: format!("create {}", dir.join(LOG_FILE).display()),
            source,
        })?;
        let mut command = Command::new("dockerd");
        command
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join(PID_FILE))
            .arg("-H")
            .arg(format!("unix://{}", dir.join(SOCKET).display()))
            // No default network, so no docker0 to clean up; the tests make networks of
            // their own.
            .arg("--bridge=none")
            .arg(format!("--shutdown-timeout={SHUTDOWN_SECONDS}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|source| LabError::Io {
                what: "duplicate the log file".to_string(),
                source,
            })?)
            .stderr(log);
        let spawned = command.spawn();
        let mut dockerd = OwnDockerd {
            dir,
            child: None,
            before,
        };
        dockerd.child = Some(spawned.map_err(|source| LabError::Spawn {
            command: "dockerd".to_string(),
            source,
        })?);
        let socket = dockerd.dir.join(SOCKET);
        let up = wait_until(START_TIMEOUT, POLL, || {
            answers(&socket) || !dockerd.is_running()
        });
        if !(up && dockerd.is_running()) {
            let tail = dockerd.log_tail();
            // Drop stops whatever did start and puts the host back.
            drop(dockerd);
            return Err(LabError::Engine(format!(
                "dockerd did not answer on its socket within {START_TIMEOUT:?}; its log ends: {tail}"
            )));
        }
        Ok(dockerd)
    }

    /// `unix://<private socket>`.
    pub(super) fn address(&self) -> String {
        format!("unix://{}", self.dir.join(SOCKET).display())
    }

    /// Where it keeps its files, for the names of the bridges it makes.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops it and puts the host back, then says what still differs from before it started:
    /// nothing, one line each otherwise.
    pub(super) fn stop(mut self) -> Result<Vec<String>> {
        self.shut_down()?;
        Ok(self.before.differences(&HostState::capture()?))
    }

    fn shut_down(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let result = tear_down(&self.dir, Some(child.id()));
        // Reaps it: it has exited (or been killed) by now.
        let _ = child.wait();
        result
    }

    fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| child.try_wait().ok().flatten().is_none())
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join(LOG_FILE)).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL)..].join(" | ")
    }
}

impl Drop for OwnDockerd {
    fn drop(&mut self) {
        if let Err(error) = self.shut_down() {
            eprintln!(
                "stopping the test's dockerd in {}: {error}",
                self.dir.display()
            );
        }
    }
}

/// Whether an engine answers `GET /_ping` on the unix socket `socket`.
pub(super) fn answers(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(1));
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return false;
    }
    let mut answer = String::new();
    stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .and_then(|()| stream.read_to_string(&mut answer))
        .is_ok()
        && answer.starts_with("HTTP/1.")
        && answer.split_whitespace().nth(1) == Some("200")
}

/// Stops the dockerd of private directory `dir` (`pid`, else the one its pid file names) and
/// whatever else runs from there (its containerd, container shims), unmounts what it left
/// mounted under `dir`, puts the host back as captured in `dir`, and removes `dir`.
pub(super) fn tear_down(dir: &Path, pid: Option<u32>) -> Result<()> {
    let pid = pid.or_else(|| {
        std::fs::read_to_string(dir.join(PID_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    if let Some(pid) = pid {
        end(&[pid], Signal::SIGTERM, STOP_TIMEOUT);
    }
    let rest = processes_naming(dir);
    end(&rest, Signal::SIGTERM, KILL_TIMEOUT);
    unmount_under(dir)?;
    HostState::load(dir)?.restore(dir)?;
    std::fs::remove_dir_all(dir).map_err(|source| LabError::Io {
        what: format!("remove {}", dir.display()),
        source,
    })
}

/// Sends `signal` to `pids` and waits up to `timeout` for them to end, then kills the rest.
fn end(pids: &[u32], signal: Signal, timeout: Duration) {
    let signal_all = |signal| {
        for pid in pids {
            let _ = kill(Pid::from_raw(*pid as i32), signal);
        }
    };
    signal_all(signal);
    let ended = wait_until(timeout, POLL, || !pids.iter().any(|pid| is_alive(*pid)));
    if !ended {
        signal_all(Signal::SIGKILL);
        wait_until(KILL_TIMEOUT, POLL, || {
            !pids.iter().any(|pid| is_alive(*pid))
        });
    }
}

/// Alive and not a zombie waiting to be reaped.
fn is_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the last ')'.
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .is_some_and(|state| state != 'Z' && state != 'X')
}

/// Processes whose command line names `dir`: dockerd, its containerd, the container shims.
fn processes_naming(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                String::from_utf8_lossy(&cmdline)
                    .split('\0')
                    .any(|arg| arg.contains(&needle))
            })
        })
        .collect()
}

/// Detaches every mount under `dir`, deepest first (overlays of containers, the network
/// namespace files, the data root's bind mount).
fn unmount_under(dir: &Path) -> Result<()> {
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|source| LabError::Io {
            what: "read /proc/self/mountinfo".to_string(),
            source,
        })?;
    let mut points: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|point| point.starts_with(dir))
        .collect();
    points.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    for point in points {
        match umount2(&point, MntFlags::MNT_DETACH) {
            // Gone with a mount above it (propagation), or by the time we got here.
            Ok(()) | Err(Errno::EINVAL | Errno::ENOENT) => {}
            Err(source) => {
                return Err(LabError::Sys {
                    what: format!("unmount {}", point.display()),
                    source,
                });
            }
        }
    }
    Ok(())
}

//! `scanguard attach` for the demo, and the CLI run against it. Unlike [`crate::daemon::Daemon`]
//! it returns errors instead of panicking (a demo reports and tears down) and writes its output
//! to a log file rather than a pipe, so it can outlive the process that started it.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{Read as _, Seek as _, SeekFrom},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde_json::Value;

use super::{DemoResult, failed};
use crate::{Netns, wait_until};

/// The `scanguard` binary and the pin and run directories of one daemon.
#[derive(Debug, Clone)]
pub struct Scanguard {
    pub binary: PathBuf,
    pub pin_dir: PathBuf,
    pub run_dir: PathBuf,
}

/// One entry of `scanguard bans --json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub address: String,
    pub reason: String,
    pub expires_in_seconds: u64,
    pub dropped_packets: u64,
}

impl Scanguard {
    /// `--pin-dir <dir> --run-dir <dir> --state-dir <dir>`: the saved bans in the run
    /// directory, so the demo neither restores nor leaves any in the system's.
    pub fn dir_flags(&self) -> [String; 6] {
        [
            "--pin-dir".into(),
            self.pin_dir.display().to_string(),
            "--run-dir".into(),
            self.run_dir.display().to_string(),
            "--state-dir".into(),
            self.run_dir.join("state").display().to_string(),
        ]
    }

    /// `scanguard <args>` against this daemon, as a person would type it.
    pub fn command_line(&self, args: &str) -> String {
        format!(
            "{} {args} {}",
            self.binary.display(),
            self.dir_flags().join(" ")
        )
    }

    /// Runs `scanguard <args>` against this daemon and returns its stdout.
    pub fn run(&self, args: &[&str]) -> DemoResult<String> {
        let output = Command::new(&self.binary)
            .args(args)
            .args(self.dir_flags())
            .stdin(Stdio::null())
            .output()
            .map_err(|error| failed(format!("cannot run {}: {error}", self.binary.display())))?;
        if !output.status.success() {
            return Err(failed(format!(
                "scanguard {} failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn json(&self, args: &[&str]) -> DemoResult<Value> {
        let mut args = args.to_vec();
        args.push("--json");
        let stdout = self.run(&args)?;
        serde_json::from_str(&stdout).map_err(|error| {
            failed(format!(
                "scanguard {} printed no JSON ({error}): {stdout}",
                args.join(" ")
            ))
        })
    }

    /// The active bans.
    pub fn bans(&self) -> DemoResult<Vec<Ban>> {
        let bans = self.json(&["bans"])?;
        Ok(bans
            .as_array()
            .into_iter()
            .flatten()
            .map(|ban| Ban {
                address: ban["address"].as_str().unwrap_or_default().to_string(),
                reason: ban["reason"].as_str().unwrap_or_default().to_string(),
                expires_in_seconds: ban["expires_in_seconds"].as_u64().unwrap_or_default(),
                dropped_packets: ban["dropped_packets"].as_u64().unwrap_or_default(),
            })
            .collect())
    }

    /// Detections so far, per kind (`scanguard stats`).
    pub fn detections(&self) -> DemoResult<BTreeMap<String, u64>> {
        let stats = self.json(&["stats"])?;
        Ok(stats["detections"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(kind, count)| (kind.clone(), count.as_u64().unwrap_or_default()))
            .collect())
    }
}

/// A `scanguard attach` process in a lab namespace; stopped (SIGTERM) when dropped.
#[derive(Debug)]
pub struct LabDaemon {
    pub scanguard: Scanguard,
    /// Where its stdout (the detections) and stderr (its log) go.
    pub log: PathBuf,
    child: Option<Child>,
}

/// How long `attach` may take to load and attach the program.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long it may take to detach and remove its pins after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

impl LabDaemon {
    /// Starts `scanguard attach <interfaces> --config <config>` in `netns` and waits until it
    /// has attached. It gets SIGTERM if the thread that started it ends, so a crashed caller
    /// leaves no daemon behind.
    pub fn start(
        scanguard: Scanguard,
        netns: &Netns,
        interfaces: &[&str],
        config: &Path,
        log: &Path,
    ) -> DemoResult<LabDaemon> {
        let io_error = |what: &str, error: std::io::Error| failed(format!("{what}: {error}"));
        std::fs::create_dir_all(&scanguard.run_dir)
            .map_err(|error| io_error("create the run directory", error))?;
        let status_file = scanguard.run_dir.join("status.json");
        let _ = std::fs::remove_file(&status_file);
        let stdout = File::create(log).map_err(|error| io_error("create the daemon log", error))?;
        let stderr = stdout
            .try_clone()
            .map_err(|error| io_error("share the daemon log", error))?;
        // nsenter --net, not `ip netns exec`: the latter's private mount namespace would hide
        // the bpffs pins from everyone else.
        let child = Command::new("setpriv")
            .args(["--pdeathsig", "TERM", "nsenter"])
            .arg(format!("--net={}", netns.path().display()))
            .arg("--")
            .arg(&scanguard.binary)
            .arg("attach")
            .args(interfaces)
            .arg("--config")
            .arg(config)
            .args(scanguard.dir_flags())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|error| io_error("cannot start scanguard attach", error))?;
        let mut daemon = LabDaemon {
            scanguard,
            log: log.to_path_buf(),
            child: Some(child),
        };
        let pid = daemon.pid();
        let attached = wait_until(START_TIMEOUT, Duration::from_millis(50), || {
            status_pid(&status_file) == Some(pid) || daemon.has_exited()
        });
        if !attached || daemon.has_exited() {
            daemon.stop();
            let log = std::fs::read_to_string(&daemon.log).unwrap_or_default();
            return Err(failed(format!(
                "scanguard attach {} did not come up: {}",
                interfaces.join(" "),
                log.trim()
            )));
        }
        Ok(daemon)
    }

    /// The daemon's pid (nsenter execs it, so it is the child's).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|child| child.try_wait().ok().flatten().is_some())
    }

    /// SIGTERM, so it detaches and removes its pins; SIGKILL if it takes too long.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LabDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The pid in the daemon's status file, once it has written it.
fn status_pid(path: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    let status: Value = serde_json::from_str(&text).ok()?;
    status["pid"]
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
}

/// Follows a log file: each call returns the complete lines written since the last one.
#[derive(Debug)]
pub struct LogTail {
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl LogTail {
    pub fn new(path: impl Into<PathBuf>) -> LogTail {
        LogTail {
            path: path.into(),
            offset: 0,
            partial: String::new(),
        }
    }

    pub fn read_new(&mut self) -> Vec<String> {
        let Ok(mut file) = File::open(&self.path) else {
            return Vec::new();
        };
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err() || file.read_to_end(&mut bytes).is_err()
        {
            return Vec::new();
        }
        self.offset += bytes.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&bytes));
        let Some(end) = self.partial.rfind('\n') else {
            return Vec::new();
        };
        let complete: String = self.partial.drain(..=end).collect();
        complete.lines().map(str::to_string).collect()
    }
}

/// Whether process `pid` exists (and is not a zombie) and its command line contains `needle`.
pub fn process_is(pid: u32, needle: &str) -> bool {
    let proc = Path::new("/proc").join(pid.to_string());
    let zombie = std::fs::read_to_string(proc.join("stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the parenthesised command name, which may contain spaces.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
        })
        .is_none_or(|state| state == 'Z');
    !zombie
        && std::fs::read(proc.join("cmdline")).is_ok_and(|cmdline| {
            cmdline
                .split(|byte| *byte == 0)
                .any(|arg| String::from_utf8_lossy(arg).contains(needle))
        })
}

/// Sends SIGTERM to `pid` (which must match `needle`, see [`process_is`]) and waits up to
/// `timeout` for it to go; then SIGKILL. Returns whether it went on SIGTERM.
pub fn stop_process(pid: u32, needle: &str, timeout: Duration) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return true;
    };
    if !process_is(pid, needle) {
        return true;
    }
    let _ = kill(Pid::from_raw(raw), Signal::SIGTERM);
    if wait_until(timeout, Duration::from_millis(50), || {
        !process_is(pid, needle)
    }) {
        return true;
    }
    let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        !process_is(pid, needle)
    });
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn log_tail_returns_complete_lines_once() {
        let path = std::env::temp_dir().join(format!("logtail-{}", std::process::id()));
        let mut file = File::create(&path).unwrap();
        let mut tail = LogTail::new(&path);
        assert!(tail.read_new().is_empty());
        write!(file, "one\ntw").unwrap();
        assert_eq!(tail.read_new(), ["one"]);
        writeln!(file, "o\nthree").unwrap();
        assert_eq!(tail.read_new(), ["two", "three"]);
        assert!(tail.read_new().is_empty());
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn process_is_matches_this_process_and_not_a_stranger() {
        let me = std::process::id();
        let name = std::env::current_exe().unwrap();
        let name = name.file_name().unwrap().to_string_lossy();
        assert!(process_is(me, &name));
        assert!(!process_is(me, "no-such-program-name"));
    }
}

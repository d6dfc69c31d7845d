//! `scanguard attach` in a lab namespace, with private pin and run directories, its detections
//! counted rather than echoed (a storm prints tens of thousands of lines), and the CLI run
//! against it. SIGTERM on drop; the pin and run directories are removed whatever happened.

use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use nix::{sys::signal::Signal, unistd::Pid};
use scanguard_lab::{Host, Netns, wait_until};
use serde_json::Value;

pub struct Attach {
    binary: PathBuf,
    child: Option<Child>,
    netns_path: PathBuf,
    pub pin_dir: PathBuf,
    pub run_dir: PathBuf,
    lines: Arc<AtomicU64>,
    lost: Arc<AtomicU64>,
}

/// A pin directory and a run directory of our own, removed on drop.
pub fn private_dirs(what: &str) -> (PathBuf, PathBuf) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let id = format!(
        "scanguard-bench-{}-{what}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    (
        Path::new("/sys/fs/bpf").join(&id),
        std::env::temp_dir().join(id),
    )
}

/// Removes the pin and run directories of benchmark runs that were killed before they could
/// clean up (their pid is gone); returns how many it removed.
pub fn remove_stale_dirs() -> usize {
    let mut removed = 0;
    for parent in [Path::new("/sys/fs/bpf").to_path_buf(), std::env::temp_dir()] {
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|name| name.strip_prefix("scanguard-bench-"))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if !Path::new("/proc").join(pid.to_string()).exists()
                && std::fs::remove_dir_all(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// Removes a directory tree on drop (pins and run files).
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Attach {
    /// Starts `<binary> attach <args> --json` in `host`'s namespace with the configuration
    /// file `config` (empty: the defaults; never the system-wide file), and waits until it is
    /// up.
    pub fn start(binary: &Path, host: &Host, args: &[&str], config: &str) -> Result<Attach> {
        Attach::start_in(binary, &host.netns, args, config, &[])
    }

    /// [`Attach::start`] in any namespace (a process's too), with `env` added to the daemon's
    /// environment (e.g. `DOCKER_HOST`).
    pub fn start_in(
        binary: &Path,
        netns: &Netns,
        args: &[&str],
        config: &str,
        env: &[(&str, &str)],
    ) -> Result<Attach> {
        let (pin_dir, run_dir) = private_dirs("attach");
        std::fs::create_dir_all(&run_dir)?;
        let config_path = run_dir.join("bench.toml");
        std::fs::write(&config_path, config)?;
        let mut child = netns
            .command(binary)
            .envs(env.iter().copied())
            .arg("attach")
            .args(args)
            .arg("--json")
            .arg("--config")
            .arg(&config_path)
            .args(dir_flags(&pin_dir, &run_dir))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawn scanguard attach")?;
        let lines = Arc::new(AtomicU64::new(0));
        let lost = Arc::new(AtomicU64::new(0));
        let stdout = child.stdout.take().context("piped stdout")?;
        let stderr = child.stderr.take().context("piped stderr")?;
        let counted = Arc::clone(&lines);
        thread::spawn(move || {
            for _ in BufReader::new(stdout).lines().map_while(Result::ok) {
                counted.fetch_add(1, Ordering::Relaxed);
            }
        });
        let lost_count = Arc::clone(&lost);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // The daemon's warning: "lost N detection events: the reader fell behind".
                if let Some(count) = line
                    .split("lost ")
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next())
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    lost_count.fetch_add(count, Ordering::Relaxed);
                } else if !line.contains(" INFO ") {
                    eprintln!("[bench] scanguard attach: {line}");
                }
            }
        });
        let mut attach = Attach {
            binary: binary.to_path_buf(),
            child: Some(child),
            netns_path: netns.path().to_path_buf(),
            pin_dir,
            run_dir,
            lines,
            lost,
        };
        let ready = wait_until(Duration::from_secs(15), Duration::from_millis(20), || {
            attach.run_dir.join("status.json").exists() || attach.has_exited()
        });
        if !ready || attach.has_exited() {
            bail!("scanguard attach {args:?} did not come up (its messages are above)");
        }
        Ok(attach)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Detection lines printed so far.
    pub fn lines(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }

    /// Events the daemon reported lost so far, from its warnings.
    pub fn lost_warned(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|child| child.try_wait().ok().flatten().is_some())
    }

    /// Runs `scanguard <args>` against this daemon.
    pub fn cli(&self, args: &[&str]) -> Result<Output> {
        cli(
            &self.binary,
            Some(&self.netns_path),
            args,
            &self.pin_dir,
            &self.run_dir,
        )
    }

    /// `scanguard stats --json`.
    pub fn stats(&self) -> Result<Value> {
        let output = self.cli(&["stats", "--json"])?;
        serde_json::from_slice(&output.stdout).context("stats --json output")
    }

    /// One packet counter of `stats --json`.
    pub fn counter(&self, name: &str) -> Result<u64> {
        self.stats()?["packets"][name]
            .as_u64()
            .with_context(|| format!("no counter {name} in stats --json"))
    }
}

impl Drop for Attach {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
            let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.pin_dir);
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// The saved bans go to the private run directory, never the system's.
fn dir_flags(pin_dir: &Path, run_dir: &Path) -> [String; 6] {
    [
        "--pin-dir".into(),
        pin_dir.display().to_string(),
        "--run-dir".into(),
        run_dir.display().to_string(),
        "--state-dir".into(),
        run_dir.join("state").display().to_string(),
    ]
}

/// Runs `scanguard <args>` with the given directories, inside `netns` if given; fails,
/// quoting stderr, unless it succeeds.
pub fn cli(
    binary: &Path,
    netns: Option<&Path>,
    args: &[&str],
    pin_dir: &Path,
    run_dir: &Path,
) -> Result<Output> {
    let mut command = match netns {
        Some(netns) => {
            let mut command = Command::new("nsenter");
            command
                .arg(format!("--net={}", netns.display()))
                .arg("--")
                .arg(binary);
            command
        }
        None => Command::new(binary),
    };
    let output = command
        .args(args)
        .args(dir_flags(pin_dir, run_dir))
        .output()
        .context("run scanguard")?;
    if !output.status.success() {
        bail!(
            "scanguard {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

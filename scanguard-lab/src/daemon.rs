//! A `scanguard attach` daemon run inside a lab namespace with private pin and run
//! directories, and the CLI run against it. Panics with context: made for tests and demos.

use std::{
    fs::File,
    io::{BufRead as _, BufReader},
    net::IpAddr,
    path::{Path, PathBuf},
    process::{Child, ExitStatus, Output, Stdio},
    sync::{
        Arc, Mutex, Once,
        atomic::{AtomicU32, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use nix::{
    mount::{MsFlags, mount},
    sys::{
        signal::Signal,
        statfs::{BPF_FS_MAGIC, statfs},
    },
    unistd::Pid,
};

use crate::{Host, Netns, wait_until};

const BPFFS: &str = "/sys/fs/bpf";

/// Mount bpffs once per process, before daemons started in parallel race to do it.
fn ensure_bpffs() {
    static MOUNT: Once = Once::new();
    MOUNT.call_once(|| {
        let mounted = statfs(BPFFS).is_ok_and(|fs| fs.filesystem_type() == BPF_FS_MAGIC);
        if !mounted {
            std::fs::create_dir_all(BPFFS).expect("create /sys/fs/bpf");
            mount(
                Some("bpffs"),
                BPFFS,
                Some("bpf"),
                MsFlags::empty(),
                None::<&str>,
            )
            .expect("mount bpffs on /sys/fs/bpf");
        }
    });
}

/// A `scanguard attach` process in a lab host's network namespace; SIGTERM on drop.
pub struct Daemon {
    binary: PathBuf,
    child: Option<Child>,
    /// Everything the daemon printed on stdout (its detections), line by line.
    printed: Arc<Mutex<Vec<String>>>,
    host_ns: PathBuf,
    /// Where its stderr goes, if not to the test's.
    log: Option<PathBuf>,
    pub pin_dir: PathBuf,
    pub run_dir: PathBuf,
    /// Its saved bans: private, so no test restores another's.
    pub state_dir: PathBuf,
}

impl Daemon {
    /// Starts `<binary> attach <args>` in `host`'s namespace and waits until it is attached.
    pub fn start(binary: impl AsRef<Path>, host: &Host, args: &[&str]) -> Daemon {
        Daemon::start_with(binary.as_ref(), &host.netns, args, Dirs::unique(), None)
    }

    /// Starts `<binary> attach <args>` in any lab namespace, e.g. the one holding a bridge,
    /// and waits until it is attached. Its log is kept for [`Daemon::log`] and printed
    /// when the daemon is dropped.
    pub fn start_in(binary: impl AsRef<Path>, netns: &Netns, args: &[&str]) -> Daemon {
        Daemon::start_in_env(binary, netns, args, &[])
    }

    /// [`Daemon::start_in`] with extra environment variables, e.g. `DOCKER_HOST`.
    pub fn start_in_env(
        binary: impl AsRef<Path>,
        netns: &Netns,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        let dirs = Dirs::unique();
        let log = dirs.run_dir.with_extension("log");
        Daemon::start_with(binary.as_ref(), netns, args, dirs, Some((log, env)))
    }

    /// [`Daemon::start_in_env`] in the root network namespace, where a real Docker engine's
    /// bridges and veths are: the one this process started in (its main thread's; test
    /// threads may visit lab namespaces). It gets unique pin, run and state directories all
    /// the same, and attaches only what `args` name.
    pub fn start_in_root_env(
        binary: impl AsRef<Path>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        let root = Netns::of_process(std::process::id(), "root");
        Daemon::start_in_env(binary, &root, args, env)
    }

    /// Starts on the pin and run directories of an earlier daemon (to adopt its state).
    pub fn restart(&self, host: &Host, args: &[&str]) -> Daemon {
        Daemon::start_with(&self.binary, &host.netns, args, self.dirs(), None)
    }

    /// With `logged`, stderr goes to a log file and the environment gets the variables.
    fn start_with(
        binary: &Path,
        netns: &Netns,
        args: &[&str],
        dirs: Dirs,
        logged: Option<(PathBuf, &[(&str, &str)])>,
    ) -> Daemon {
        ensure_bpffs();
        // A killed predecessor's status file would pass for this daemon being ready.
        let _ = std::fs::remove_file(dirs.run_dir.join("status.json"));
        let mut command = netns.command(binary);
        command
            .arg("attach")
            .args(args)
            .args(dirs.flags())
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let log = logged.map(|(log, env)| {
            command.stderr(File::create(&log).expect("create the daemon's log file"));
            command.envs(env.iter().copied());
            log
        });
        let mut child = command.spawn().expect("spawn scanguard attach");
        let printed = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let collected = Arc::clone(&printed);
        // Echoed as well, so a demo shows the stream and a failing test its context.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("{line}");
                collected.lock().expect("printed lines").push(line);
            }
        });
        let mut daemon = Daemon {
            binary: binary.to_path_buf(),
            child: Some(child),
            printed,
            host_ns: netns.path().to_path_buf(),
            log,
            pin_dir: dirs.pin_dir,
            run_dir: dirs.run_dir,
            state_dir: dirs.state_dir,
        };
        let ready = wait_until(Duration::from_secs(15), Duration::from_millis(50), || {
            daemon.run_dir.join("status.json").exists() || daemon.has_exited()
        });
        assert!(
            ready && !daemon.has_exited(),
            "scanguard attach {args:?} did not come up{}",
            daemon.log_excerpt()
        );
        daemon
    }

    /// Whether the process is still there.
    pub fn is_running(&mut self) -> bool {
        !self.has_exited()
    }

    /// What a daemon started with [`Daemon::start_in`] has logged so far.
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|log| std::fs::read_to_string(log).ok())
            .unwrap_or_default()
    }

    fn log_excerpt(&self) -> String {
        match &self.log {
            Some(_) => format!(":\n{}", self.log()),
            None => String::new(),
        }
    }

    fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|child| child.try_wait().ok().flatten().is_some())
    }

    /// Resident memory of the daemon, from /proc, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().expect("daemon running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("daemon status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// The lines the daemon printed so far.
    pub fn printed(&self) -> Vec<String> {
        self.printed.lock().expect("printed lines").clone()
    }

    /// Runs `scanguard <args>` against this daemon from the host's namespace.
    pub fn cli(&self, args: &[&str]) -> Output {
        let output = self.run_cli(args);
        assert!(
            output.status.success(),
            "scanguard {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Runs `scanguard <args>`, which must fail with exit status 1 and one line on stderr:
    /// that line.
    pub fn cli_error(&self, args: &[&str]) -> String {
        let output = self.run_cli(args);
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        assert_eq!(
            output.status.code(),
            Some(1),
            "scanguard {args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "scanguard {args:?}: {stderr}");
        stderr
    }

    fn run_cli(&self, args: &[&str]) -> Output {
        std::process::Command::new("nsenter")
            .arg(format!("--net={}", self.host_ns.display()))
            .arg("--")
            .arg(&self.binary)
            .args(args)
            .args(self.dirs().flags())
            .output()
            .expect("run scanguard")
    }

    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_slice(&self.cli(&args).stdout).expect("valid JSON")
    }

    /// Addresses `scanguard bans` lists, with their reasons.
    pub fn bans(&self) -> Vec<(String, String)> {
        let bans = self.cli_json(&["bans"]);
        bans.as_array()
            .expect("a JSON array")
            .iter()
            .map(|ban| {
                (
                    ban["address"].as_str().unwrap_or_default().to_string(),
                    ban["reason"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    pub fn is_banned(&self, address: IpAddr) -> bool {
        self.bans()
            .iter()
            .any(|(banned, _)| *banned == address.to_string())
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.cli_json(&["stats"])["packets"][name]
            .as_u64()
            .expect("counter present")
    }

    /// Sends `signal` and returns: SIGSTOP holds the daemon still, SIGCONT lets it go on.
    pub fn signal(&self, signal: Signal) {
        let child = self.child.as_ref().expect("daemon running");
        nix::sys::signal::kill(Pid::from_raw(child.id() as i32), signal).expect("signal daemon");
    }

    /// Sends `signal` and waits for the exit.
    pub fn stop(&mut self, signal: Signal) -> ExitStatus {
        self.signal(signal);
        let mut child = self.child.take().expect("daemon running");
        wait_for_exit(&mut child)
    }

    /// The `--pin-dir`, `--run-dir` and `--state-dir` flags that point a CLI at this daemon.
    pub fn dir_flags(&self) -> [String; 6] {
        self.dirs().flags()
    }

    fn dirs(&self) -> Dirs {
        Dirs {
            pin_dir: self.pin_dir.clone(),
            run_dir: self.run_dir.clone(),
            state_dir: self.state_dir.clone(),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = Pid::from_raw(child.id() as i32);
            // A daemon a test held with SIGSTOP must run again to exit cleanly.
            let _ = nix::sys::signal::kill(pid, Signal::SIGCONT);
            let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
            wait_for_exit(&mut child);
        }
        if let Some(log) = self.log.take() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            eprintln!("--- scanguard attach log ---\n{text}--- end of log ---");
            let _ = std::fs::remove_file(log);
        }
        // Whatever a killed or failing daemon left: pins (persisted links go with them) and
        // its run directory. A restarted daemon on the same directories cleans up after both.
        let _ = std::fs::remove_dir_all(&self.pin_dir);
        let _ = std::fs::remove_dir_all(&self.run_dir);
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// Removes what a test's daemons pinned, whatever happened to them.
pub struct PinCleanup(pub PathBuf);

impl Drop for PinCleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wait_for_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait().expect("reap daemon");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

struct Dirs {
    pin_dir: PathBuf,
    run_dir: PathBuf,
    state_dir: PathBuf,
}

impl Dirs {
    fn unique() -> Dirs {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Dirs {
            pin_dir: PathBuf::from(format!("/sys/fs/bpf/scanguard-test-{id}")),
            run_dir: std::env::temp_dir().join(format!("scanguard-test-{id}")),
            state_dir: std::env::temp_dir().join(format!("scanguard-test-{id}-state")),
        }
    }

    fn flags(&self) -> [String; 6] {
        [
            "--pin-dir".into(),
            self.pin_dir.display().to_string(),
            "--run-dir".into(),
            self.run_dir.display().to_string(),
            "--state-dir".into(),
            self.state_dir.display().to_string(),
        ]
    }
}

//! Lab plumbing shared by the end-to-end tests: the scanguard daemon run inside a lab
//! namespace with private pin and run directories, TCP services and clients, nmap.

#![allow(dead_code, reason = "each test binary uses a different part of this module")]

use std::{
    io::{Read as _, Write as _},
    net::{IpAddr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, ExitStatus, Output, Stdio},
    sync::{
        Once,
        atomic::{AtomicU32, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use scanguard_lab::{Host, wait_until};

pub const SCANGUARD: &str = env!("CARGO_BIN_EXE_scanguard");
/// A connection attempt to a banned source's target gives up after this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);

pub fn require_root() {
    assert!(
        scanguard_lab::is_root(),
        "kernel tests need root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN): run `cargo xtask test` as root"
    );
}

/// Mount bpffs once per test process, before daemons race to do it.
fn ensure_bpffs() {
    static MOUNT: Once = Once::new();
    MOUNT.call_once(|| {
        scanguard::bpffs::ensure_pin_dir(Path::new("/sys/fs/bpf/scanguard-tests"))
            .expect("mount bpffs on /sys/fs/bpf");
    });
}

/// A `scanguard attach` process in a lab host's network namespace; SIGTERM on drop.
pub struct Daemon {
    child: Option<Child>,
    host_ns: PathBuf,
    pub pin_dir: PathBuf,
    pub run_dir: PathBuf,
}

impl Daemon {
    /// Starts `scanguard attach <args>` in `host`'s namespace and waits until it is attached.
    pub fn start(host: &Host, args: &[&str]) -> Daemon {
        let dirs = Dirs::unique();
        Daemon::start_with(host, args, dirs)
    }

    /// Starts on the pin and run directories of an earlier daemon (to adopt its state).
    pub fn restart(&self, host: &Host, args: &[&str]) -> Daemon {
        Daemon::start_with(
            host,
            args,
            Dirs {
                pin_dir: self.pin_dir.clone(),
                run_dir: self.run_dir.clone(),
            },
        )
    }

    fn start_with(host: &Host, args: &[&str], dirs: Dirs) -> Daemon {
        ensure_bpffs();
        let child = host
            .command(SCANGUARD)
            .arg("attach")
            .args(args)
            .args(dirs.flags())
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn scanguard attach");
        let mut daemon = Daemon {
            child: Some(child),
            host_ns: host.netns.path().to_path_buf(),
            pin_dir: dirs.pin_dir,
            run_dir: dirs.run_dir,
        };
        let ready = wait_until(Duration::from_secs(15), Duration::from_millis(50), || {
            daemon.run_dir.join("status.json").exists() || daemon.has_exited()
        });
        assert!(ready && !daemon.has_exited(), "scanguard attach {args:?} did not come up");
        daemon
    }

    fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|child| child.try_wait().ok().flatten().is_some())
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.as_ref().expect("daemon running").id() as i32)
    }

    /// Runs `scanguard <args>` against this daemon from the host's namespace.
    pub fn cli(&self, args: &[&str]) -> Output {
        let output = std::process::Command::new("nsenter")
            .arg(format!("--net={}", self.host_ns.display()))
            .arg("--")
            .arg(SCANGUARD)
            .args(args)
            .args(self.dirs().flags())
            .output()
            .expect("run scanguard");
        assert!(
            output.status.success(),
            "scanguard {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
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
        self.bans().iter().any(|(banned, _)| *banned == address.to_string())
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.cli_json(&["stats"])["packets"][name]
            .as_u64()
            .expect("counter present")
    }

    /// Sends `signal` and waits for the exit.
    pub fn stop(&mut self, signal: Signal) -> ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        nix::sys::signal::kill(Pid::from_raw(child.id() as i32), signal).expect("signal daemon");
        wait_for_exit(&mut child)
    }

    fn dirs(&self) -> Dirs {
        Dirs {
            pin_dir: self.pin_dir.clone(),
            run_dir: self.run_dir.clone(),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            wait_for_exit(&mut child);
        }
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
}

impl Dirs {
    fn unique() -> Dirs {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        Dirs {
            pin_dir: PathBuf::from(format!("/sys/fs/bpf/scanguard-test-{id}")),
            run_dir: std::env::temp_dir().join(format!("scanguard-test-{id}")),
        }
    }

    fn flags(&self) -> [String; 4] {
        [
            "--pin-dir".into(),
            self.pin_dir.display().to_string(),
            "--run-dir".into(),
            self.run_dir.display().to_string(),
        ]
    }
}

/// A TCP service in `host`'s namespace answering every connection with a greeting; it lives
/// as long as the test process.
pub fn serve(host: &Host, port: u16) {
    let guard = host.enter().expect("enter the host's namespace");
    let listener = TcpListener::bind(("::", port)).expect("bind service");
    drop(guard);
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"hello\n");
        }
    });
}

/// Connects from `host` to `to:port`, reads the greeting and closes (FIN/ACK teardown).
pub fn talk(host: &Host, to: IpAddr, port: u16) -> std::io::Result<()> {
    let _guard = host.enter().expect("enter the host's namespace");
    let mut stream = TcpStream::connect_timeout(&SocketAddr::new(to, port), CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(CONNECT_TIMEOUT))?;
    let mut greeting = [0u8; 6];
    stream.read_exact(&mut greeting)?;
    assert_eq!(&greeting, b"hello\n");
    Ok(())
}

/// The state nmap reports for one TCP port, e.g. "closed", "filtered", "open|filtered".
pub fn nmap_port_state(from: &Host, scan: &str, to: IpAddr, port: u16) -> String {
    let mut command = from.command("nmap");
    command.args([scan, "-n", "-Pn", "--max-retries", "1", "--host-timeout", "30s", "-p"]);
    command.arg(port.to_string());
    if to.is_ipv6() {
        command.arg("-6");
    }
    let output = command.arg(to.to_string()).output().expect("run nmap");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find(|line| line.starts_with(&format!("{port}/tcp")))
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("nmap {scan} printed no state for port {port}: {stdout}"))
        .to_string()
}

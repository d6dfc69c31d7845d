//! A real Docker engine for the lab tests. The engine already answering at `DOCKER_HOST`
//! (else `/var/run/docker.sock`) is used and never stopped; otherwise a `dockerd` of the
//! fixture's own runs from a private directory, with its iptables management on, and is
//! stopped on drop with the host put back as it was (see `dockerd.rs` and `host_state.rs`).
//!
//! The fixture builds a busybox image offline (`docker import` of `/bin/busybox` from
//! Debian's busybox-static), and makes bridge networks in 10.78.<n>.0/24 and containers
//! running `busybox sleep`. Whatever it made is removed on drop, also when a test panics.
//! Tests run host binaries (nmap, ping...) in a container's network namespace through
//! `nsenter --net=/proc/<pid>/ns/net`.
//!
//! One fixture at a time per network namespace, across threads and processes: an engine
//! changes the host's firewall and sysctls, and each fixture puts back what it found.

mod dockerd;
mod host_state;
mod image;
mod leftovers;
mod lock;
mod objects;

use std::{
    io::Write as _,
    net::Ipv4Addr,
    path::Path,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

pub use leftovers::remove_leftover_engines;
pub use objects::{EngineContainer, EngineNetwork};
use serde_json::Value;

use self::{
    dockerd::OwnDockerd,
    host_state::BRIDGES_FILE,
    image::{BUSYBOX, Tarball},
    lock::EngineLock,
};
use crate::{LabError, Result, is_root, run_checked_within};

const DEFAULT_ADDRESS: &str = "unix:///var/run/docker.sock";
/// Each `docker` command; they take well under a second here.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);
/// A container's `sleep`: longer than any test, short enough that a container a killed run
/// left behind ends by itself.
const SLEEP_SECONDS: u32 = 300;
/// Networks get 10.78.<n>.0/24: beside the lab's 10.77.0.0/16, away from 192.0.2.0/24 and
/// from Docker's default pools (172.17.0.0/16 to 172.31.0.0/16, 192.168.0.0/16).
const SUBNET_PREFIX: [u8; 2] = [10, 78];

/// The engine and what the fixture made on it; see the module documentation.
pub struct DockerEngine {
    address: String,
    /// None when the engine was there already.
    own: Option<OwnDockerd>,
    /// `sgt-<pid>-<counter>`: the start of every name the fixture gives.
    prefix: String,
    image: String,
    images: Vec<String>,
    networks: Vec<EngineNetwork>,
    containers: Vec<String>,
    _lock: EngineLock,
}

impl DockerEngine {
    /// Takes the engine lock, finds or starts an engine, and builds the test image.
    pub fn start() -> Result<DockerEngine> {
        if !is_root() {
            return Err(LabError::NotRoot);
        }
        let lock = EngineLock::acquire()?;
        let (address, own) = match existing_engine() {
            Some(address) => (address, None),
            None => {
                let own = OwnDockerd::start()?;
                (own.address(), Some(own))
            }
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut engine = DockerEngine {
            address,
            own,
            prefix: format!("sgt-{id}"),
            image: format!("scanguard-test-busybox:{id}"),
            images: Vec::new(),
            networks: Vec::new(),
            containers: Vec::new(),
            _lock: lock,
        };
        engine.import_image()?;
        Ok(engine)
    }

    /// Whether the fixture started this engine (and stops it on drop).
    pub fn is_own(&self) -> bool {
        self.own.is_some()
    }

    /// The `DOCKER_HOST` that points a client at this engine.
    pub fn docker_host(&self) -> &str {
        &self.address
    }

    /// A `docker` command talking to this engine.
    fn docker(&self) -> Command {
        let mut command = Command::new("docker");
        command.args(["-H", &self.address]);
        command
    }

    /// The newest Engine API version the engine speaks, e.g. `1.41`.
    pub fn api_version(&self) -> Result<String> {
        self.run(&["version", "--format", "{{.Server.APIVersion}}"])
    }

    /// A new bridge network, `role` ending its name.
    pub fn network(&mut self, role: &str) -> Result<EngineNetwork> {
        let number = u8::try_from(self.networks.len() + 1)
            .map_err(|_| LabError::Engine("a fixture makes at most 255 networks".into()))?;
        let [a, b] = SUBNET_PREFIX;
        let subnet = Ipv4Addr::new(a, b, number, 0);
        let name = format!("{}-{role}", self.prefix);
        let id = self.run(&[
            "network",
            "create",
            "--driver",
            "bridge",
            "--subnet",
            &format!("{subnet}/24"),
            &name,
        ])?;
        let bridge = format!("br-{}", id.get(..12).unwrap_or(&id));
        let network = EngineNetwork {
            name,
            id,
            bridge,
            subnet,
            gateway: Ipv4Addr::new(a, b, number, 1),
        };
        self.networks.push(network.clone());
        if let Some(own) = &self.own {
            // For a killed run's clean-up: which bridges to delete.
            append_line(&own.dir().join(BRIDGES_FILE), &network.bridge)?;
        }
        Ok(network)
    }

    /// Starts a container on `network` running `busybox sleep`, `role` ending its name.
    pub fn run_container(
        &mut self,
        network: &EngineNetwork,
        role: &str,
    ) -> Result<EngineContainer> {
        self.run_container_for(network, role, SLEEP_SECONDS)
    }

    /// [`DockerEngine::run_container`] for a container that must outlive a test, such as a
    /// benchmark's: it sleeps `seconds`, then ends.
    pub fn run_container_for(
        &mut self,
        network: &EngineNetwork,
        role: &str,
        seconds: u32,
    ) -> Result<EngineContainer> {
        let name = format!("{}-{role}", self.prefix);
        self.containers.push(name.clone());
        let sleep = seconds.to_string();
        self.run(&[
            "run",
            "--detach",
            // tini as PID 1 passes SIGTERM on, so stop and restart take no grace period.
            "--init",
            "--name",
            &name,
            "--network",
            &network.name,
            &self.image,
            BUSYBOX,
            "sleep",
            &sleep,
        ])?;
        self.inspect(&name, &network.name)
    }

    /// `docker restart`; `container` then describes the new process and namespace.
    pub fn restart(&self, container: &mut EngineContainer) -> Result<()> {
        self.run(&["restart", &container.name])?;
        *container = self.inspect(&container.name, &container.network)?;
        Ok(())
    }

    /// `docker stop`.
    pub fn stop(&self, container: &EngineContainer) -> Result<()> {
        self.run(&["stop", &container.name]).map(drop)
    }

    /// `docker start` of a stopped container; `container` then describes the new process.
    pub fn start_again(&self, container: &mut EngineContainer) -> Result<()> {
        self.run(&["start", &container.name])?;
        *container = self.inspect(&container.name, &container.network)?;
        Ok(())
    }

    /// When the engine reported `event` (e.g. `start`) for `container` since `since`.
    pub fn events(
        &self,
        container: &EngineContainer,
        event: &str,
        since: SystemTime,
    ) -> Result<Vec<SystemTime>> {
        let stamp = |time: SystemTime| {
            let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
            format!(
                "{}.{:09}",
                since_epoch.as_secs(),
                since_epoch.subsec_nanos()
            )
        };
        let listed = self.run(&[
            "events",
            "--since",
            &stamp(since),
            "--until",
            &stamp(SystemTime::now()),
            "--filter",
            &format!("container={}", container.id),
            "--filter",
            &format!("event={event}"),
            "--format",
            "{{.TimeNano}}",
        ])?;
        listed
            .lines()
            .map(|line| {
                let nanos: u64 = line.trim().parse().map_err(|_| {
                    LabError::Engine(format!("docker events printed {line:?} for a time"))
                })?;
                Ok(UNIX_EPOCH + Duration::from_nanos(nanos))
            })
            .collect()
    }

    /// Removes what the fixture made, stops its own engine and puts the host back, then says
    /// what still differs from before the engine started: nothing, else one line each. An
    /// engine that was there already is left running, and is an error here.
    pub fn stop_and_compare(mut self) -> Result<Vec<String>> {
        self.remove_made();
        let own = self.own.take().ok_or_else(|| {
            LabError::Engine(format!(
                "the engine at {} was running before, so it is not stopped",
                self.address
            ))
        })?;
        own.stop()
    }

    fn inspect(&self, name: &str, network: &str) -> Result<EngineContainer> {
        let inspected = self.run(&["inspect", "--format", "{{json .}}", name])?;
        let inspected: Value = serde_json::from_str(&inspected).map_err(|error| {
            LabError::Engine(format!("docker inspect {name} printed no JSON: {error}"))
        })?;
        EngineContainer::from_inspect(&inspected, network)
    }

    /// `docker import` of a root file system holding only busybox.
    fn import_image(&mut self) -> Result<()> {
        let stem = std::env::temp_dir().join(format!("{}-rootfs", self.prefix));
        let tarball = Tarball::build(&stem)?;
        self.images.push(self.image.clone());
        let path = tarball.path().display().to_string();
        self.run(&["import", &path, &self.image]).map(drop)
    }

    /// Runs `docker <args>` against this engine: what it printed, trimmed.
    fn run(&self, args: &[&str]) -> Result<String> {
        let output = run_checked_within(self.docker().args(args), DOCKER_TIMEOUT)?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// Removes the containers, networks and image the fixture made; reports, never fails.
    fn remove_made(&mut self) {
        let containers = std::mem::take(&mut self.containers);
        let networks = std::mem::take(&mut self.networks);
        let images = std::mem::take(&mut self.images);
        let removals = containers
            .iter()
            .map(|name| vec!["rm", "--force", "--volumes", name])
            .chain(
                networks
                    .iter()
                    .map(|network| vec!["network", "rm", &network.name]),
            )
            .chain(images.iter().map(|image| vec!["rmi", "--force", image]));
        for removal in removals {
            if let Err(error) = self.run(&removal) {
                eprintln!("removing what a Docker test made: {error}");
            }
        }
    }
}

impl Drop for DockerEngine {
    fn drop(&mut self) {
        self.remove_made();
        // Then the engine itself, if it is the fixture's (OwnDockerd's drop).
        self.own.take();
    }
}

/// The engine at `DOCKER_HOST` (else the default socket), if one answers.
fn existing_engine() -> Option<String> {
    let address = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|address| !address.is_empty())
        .unwrap_or_else(|| DEFAULT_ADDRESS.to_string());
    let answers = match address.strip_prefix("unix://") {
        Some(socket) => dockerd::answers(Path::new(socket)),
        None => run_checked_within(
            Command::new("docker").args(["-H", &address, "version"]),
            DOCKER_TIMEOUT,
        )
        .is_ok(),
    };
    answers.then_some(address)
}

fn append_line(path: &Path, line: &str) -> Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| writeln!(file, "{line}"))
        .map_err(|source| LabError::Io {
            what: format!("append to {}", path.display()),
            source,
        })
}

//! The paths a container's traffic takes: a veth between a "container" namespace and the
//! host's (where the host side carries the filter), a Docker-shaped bridge with two container
//! namespaces (where each port carries it, and traffic between them is forwarded), and two
//! containers of a real Docker engine on a user-defined network, the same shape built by
//! `dockerd` (its bridge and veths in the root namespace, its iptables rules around them).

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    time::Instant,
};

use anyhow::{Context as _, Result};
use scanguard_lab::{Container, DockerEngine, DockerLab, Host, Lab, Netns};

use super::TrafficMethod;

/// Which path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    Veth,
    Bridge,
    Docker,
}

impl PathKind {
    pub const ALL: [PathKind; 3] = [PathKind::Veth, PathKind::Bridge, PathKind::Docker];

    pub const fn name(self) -> &'static str {
        match self {
            PathKind::Veth => "container ↔ host over a veth",
            PathKind::Bridge => "container ↔ container over a bridge",
            PathKind::Docker => "container ↔ container on a Docker network (dockerd)",
        }
    }

    /// What "up" means on this path; "down" is the other way.
    pub const fn up(self) -> &'static str {
        match self {
            PathKind::Veth => "container → host",
            PathKind::Bridge | PathKind::Docker => "container A → B",
        }
    }
}

/// On the real engine: the default, native XDP, and the rules it replaces, between two
/// "nothing attached" runs.
const ENGINE_METHODS: [TrafficMethod; 5] = [
    TrafficMethod::Nothing,
    TrafficMethod::ScanguardAuto,
    TrafficMethod::ScanguardNative,
    TrafficMethod::Classic,
    TrafficMethod::NothingAgain,
];

/// How long the engine's containers live: longer than the longest run (a container that ends
/// takes its veth along), short enough that a killed run's end by themselves.
const CONTAINER_SECONDS: u32 = 3600;

/// Bridged frames go through FORWARD as on a Docker host (br_netfilter); this picks them.
const BRIDGED: &[&str] = &["-m", "physdev", "--physdev-is-bridged"];

/// One path, built; dropping it deletes what it made (the lab's namespaces, with every link,
/// program and rule on them; the engine's containers and network, and the engine if it
/// started one).
pub struct TrafficPath {
    pub kind: PathKind,
    /// Where the client runs ("a container").
    pub client: Netns,
    /// Where the servers run, and their address.
    pub server: Netns,
    pub server_address: Ipv4Addr,
    /// Where the filters go: the namespace and the interfaces that carry them (the host side
    /// of the veth; each bridge port), and what `scanguard attach` is given for them.
    pub filter_netns: Netns,
    pub filtered: Vec<String>,
    pub attach_args: Vec<String>,
    /// `DOCKER_HOST` for `attach --docker-network`.
    pub docker_host: Option<String>,
    /// The iptables chain that jumps to the classic rules, and the match that selects this
    /// path's traffic there.
    pub classic_chain: &'static str,
    pub classic_match: &'static [&'static str],
    /// What is measured on this path, in the order the methods alternate.
    pub methods: &'static [TrafficMethod],
    /// Building it: namespaces and links, or starting an engine and its containers.
    pub setup_seconds: f64,
    _docker: Option<(DockerLab, Vec<Container>)>,
    _lab: Option<Lab>,
    _engine: Option<DockerEngine>,
}

impl TrafficPath {
    pub fn build(kind: PathKind) -> Result<TrafficPath> {
        let start = Instant::now();
        let mut path = match kind {
            PathKind::Veth => TrafficPath::veth(),
            PathKind::Bridge => TrafficPath::bridge(),
            PathKind::Docker => TrafficPath::docker(),
        }?;
        path.setup_seconds = start.elapsed().as_secs_f64();
        Ok(path)
    }

    fn veth() -> Result<TrafficPath> {
        let mut lab = Lab::new().context("cannot build the lab (run as root)")?;
        let container = lab.add_netns("trafctr")?;
        let host = lab.add_netns("trafhost")?;
        let (inside, host_side) = lab.add_veth_pair(&container, &host)?;
        drop(inside);
        Ok(TrafficPath {
            kind: PathKind::Veth,
            client: container,
            server: host.clone(),
            server_address: host_side.ipv4,
            filter_netns: host,
            filtered: vec![host_side.interface.clone()],
            attach_args: vec![host_side.interface],
            docker_host: None,
            classic_chain: "INPUT",
            classic_match: &[],
            methods: &TrafficMethod::ALL,
            setup_seconds: 0.0,
            _docker: None,
            _lab: Some(lab),
            _engine: None,
        })
    }

    fn bridge() -> Result<TrafficPath> {
        let (docker, containers) = DockerLab::build(&["ctra", "ctrb"])?;
        let [a, b] = [&containers[0], &containers[1]];
        Ok(TrafficPath {
            kind: PathKind::Bridge,
            client: a.inside.netns.clone(),
            server: b.inside.netns.clone(),
            server_address: b.inside.ipv4,
            filter_netns: docker.host.clone(),
            filtered: vec![a.port.clone(), b.port.clone()],
            attach_args: vec![docker.bridge.name().to_string()],
            docker_host: None,
            classic_chain: "FORWARD",
            classic_match: BRIDGED,
            methods: &TrafficMethod::ALL,
            setup_seconds: 0.0,
            _docker: Some((docker, containers)),
            _lab: None,
            _engine: None,
        })
    }

    /// Two containers on a new network of the engine (the one running, else a dockerd of the
    /// fixture's own), the filters in the root namespace, where the engine's links are.
    fn docker() -> Result<TrafficPath> {
        let mut engine = DockerEngine::start()
            .context("cannot start a Docker engine (cargo xtask setup installs docker.io)")?;
        let network = engine.network("traffic")?;
        let a = engine.run_container_for(&network, "a", CONTAINER_SECONDS)?;
        let b = engine.run_container_for(&network, "b", CONTAINER_SECONDS)?;
        Ok(TrafficPath {
            kind: PathKind::Docker,
            client: a.netns.clone(),
            server: b.netns.clone(),
            server_address: b.ipv4,
            filter_netns: Netns::of_process(std::process::id(), "root"),
            filtered: vec![a.host_veth()?, b.host_veth()?],
            attach_args: vec!["--docker-network".to_string(), network.name],
            docker_host: Some(engine.docker_host().to_string()),
            // At the top of FORWARD, ahead of Docker's own chains, as the classic rules are
            // usually put.
            classic_chain: "FORWARD",
            classic_match: BRIDGED,
            methods: &ENGINE_METHODS,
            setup_seconds: 0.0,
            _docker: None,
            _lab: None,
            _engine: Some(engine),
        })
    }

    /// The filters' side, as the bench's netfilter helper takes it.
    pub fn filter_host(&self) -> Host {
        self.filter_host_of("")
    }

    /// The filter's side of `interface`, as the bench's xdp-filter helper takes it.
    pub fn filter_host_of(&self, interface: &str) -> Host {
        Host {
            netns: self.filter_netns.clone(),
            interface: interface.to_string(),
            ipv4: Ipv4Addr::UNSPECIFIED,
            ipv6: Ipv6Addr::UNSPECIFIED,
            mac: [0; 6],
        }
    }
}

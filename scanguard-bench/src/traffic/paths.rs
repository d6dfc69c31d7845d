//! The two paths a container's traffic takes: a veth between a "container" namespace and the
//! host's (where the host side carries the filter), and a Docker-shaped bridge with two
//! container namespaces (where each port carries it, and traffic between them is forwarded).

use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::{Context as _, Result};
use scanguard_lab::{Container, DockerLab, Host, Lab, Netns};

use super::TrafficMethod;

/// Which path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    Veth,
    Bridge,
}

impl PathKind {
    pub const fn name(self) -> &'static str {
        match self {
            PathKind::Veth => "container ↔ host over a veth",
            PathKind::Bridge => "container ↔ container over a bridge",
        }
    }

    /// What "up" means on this path; "down" is the other way.
    pub const fn up(self) -> &'static str {
        match self {
            PathKind::Veth => "container → host",
            PathKind::Bridge => "container A → B",
        }
    }
}

/// One path, built; dropping it deletes its namespaces and with them every link, program and
/// rule on them.
pub struct TrafficPath {
    pub kind: PathKind,
    /// Where the client runs ("a container").
    pub client: Netns,
    /// Where the servers run, and their address.
    pub server: Netns,
    pub server_address: Ipv4Addr,
    /// Where the filters go: the namespace and the interfaces that carry them (the host side
    /// of the veth; each bridge port). `scanguard attach` is given `attach_target`.
    pub filter_netns: Netns,
    pub filtered: Vec<String>,
    pub attach_target: String,
    /// The iptables chain the classic rules go in, and the match that selects this path's
    /// traffic there.
    pub classic_chain: &'static str,
    pub classic_match: &'static [&'static str],
    /// What is measured on this path, in the order the methods alternate.
    pub methods: &'static [TrafficMethod],
    _docker: Option<(DockerLab, Vec<Container>)>,
    _lab: Option<Lab>,
}

impl TrafficPath {
    pub fn veth() -> Result<TrafficPath> {
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
            attach_target: host_side.interface,
            classic_chain: "INPUT",
            classic_match: &[],
            methods: &TrafficMethod::ALL,
            _docker: None,
            _lab: Some(lab),
        })
    }

    pub fn bridge() -> Result<TrafficPath> {
        let (docker, containers) = DockerLab::build(&["ctra", "ctrb"])?;
        let [a, b] = [&containers[0], &containers[1]];
        Ok(TrafficPath {
            kind: PathKind::Bridge,
            client: a.inside.netns.clone(),
            server: b.inside.netns.clone(),
            server_address: b.inside.ipv4,
            filter_netns: docker.host.clone(),
            filtered: vec![a.port.clone(), b.port.clone()],
            attach_target: docker.bridge.name().to_string(),
            // Bridged frames go through FORWARD as on a Docker host (br_netfilter).
            classic_chain: "FORWARD",
            classic_match: &["-m", "physdev", "--physdev-is-bridged"],
            methods: &TrafficMethod::ALL,
            _docker: Some((docker, containers)),
            _lab: None,
        })
    }

    /// The filter's side of `interface`, as the bench's attach and xdp-filter helpers take it.
    pub fn filter_host(&self, interface: &str) -> Host {
        Host {
            netns: self.filter_netns.clone(),
            interface: interface.to_string(),
            ipv4: Ipv4Addr::UNSPECIFIED,
            ipv6: Ipv6Addr::UNSPECIFIED,
            mac: [0; 6],
        }
    }
}

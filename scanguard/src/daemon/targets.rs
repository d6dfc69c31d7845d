//! What `attach` protects: the named interfaces, the bridges of `--docker-network`, the
//! host-side veths of `--container`, else the default-route interface. Resolved to ifindexes
//! before anything is loaded, so a typo costs nothing.

use std::time::SystemTime;

use anyhow::{Context as _, Result};

use crate::{
    daemon::attachment::Target,
    host::{
        docker::Engine,
        iface_kind::{self, IfaceKind},
        interfaces,
        links::{self, Link},
    },
};

/// What `attach` is asked to protect, by name.
#[derive(Clone, Copy, Debug, Default)]
pub struct TargetRequest<'a> {
    pub interfaces: &'a [String],
    /// Docker networks, whose bridges are protected.
    pub docker_networks: &'a [String],
    /// Docker containers, whose host-side veths are watched.
    pub containers: &'a [String],
}

#[derive(Debug)]
pub struct Targets {
    /// Attached when the daemon starts.
    pub interfaces: Vec<Target>,
    /// Bridges whose ports are attached, and followed, instead of the bridge device:
    /// (ifindex, name). The kernel refuses XDP on a device whose upper device (its bridge)
    /// carries a program (EEXIST, `dev_xdp_attach` in net/core/dev.c), so a program on the
    /// bridge would keep every later port out. Nothing is lost: whatever the bridge device
    /// receives came in through one of its ports.
    pub bridges: Vec<(u32, String)>,
    /// Containers whose restarts are followed: their veths change with each start.
    pub containers: Vec<String>,
    /// When the targets were resolved: a container start after this brings veths of its own.
    pub resolved_at: SystemTime,
}

pub async fn resolve(request: TargetRequest<'_>) -> Result<Targets> {
    let resolved_at = SystemTime::now();
    let host_links = links::dump().await?;
    let mut names = request.interfaces.to_vec();
    if !request.docker_networks.is_empty() || !request.containers.is_empty() {
        let engine = Engine::connect()
            .await
            .context("--docker-network and --container ask the Docker engine")?;
        for network in request.docker_networks {
            names.push(engine.network_bridge(network).await?);
        }
        for container in request.containers {
            let veths = engine.container_veths(container, &host_links).await?;
            names.extend(veths.into_iter().map(|(veth, _)| veth.name));
        }
    }
    if names.is_empty() {
        names.push(interfaces::default_route_interface()?);
    }
    let mut targets = Targets {
        interfaces: Vec::new(),
        bridges: Vec::new(),
        containers: request.containers.to_vec(),
        resolved_at,
    };
    for name in names {
        let Some(link) = host_links.iter().find(|link| link.name == name) else {
            // Words the error the way every other command does, with the list of real ones.
            interfaces::ifindex(&name)?;
            anyhow::bail!("interface {name:?} is gone");
        };
        let target = target(link, None);
        if target.kind == IfaceKind::Bridge {
            if !targets
                .bridges
                .iter()
                .any(|(ifindex, _)| *ifindex == link.ifindex)
            {
                targets.bridges.push((link.ifindex, name));
            }
        } else if !targets.interfaces.iter().any(|t| t.ifindex == link.ifindex) {
            targets.interfaces.push(target);
        }
    }
    Ok(targets)
}

pub fn target(link: &Link, port_of: Option<&str>) -> Target {
    Target {
        name: link.name.clone(),
        ifindex: link.ifindex,
        kind: iface_kind::classify(link, iface_kind::sysfs_facts(link)),
        port_of: port_of.map(str::to_string),
    }
}

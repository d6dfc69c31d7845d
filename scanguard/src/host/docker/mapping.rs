//! From Docker Engine API answers and netlink facts to interfaces: which bridge device a
//! network is, and which host-side veth belongs to which container. Pure functions, so the
//! tests can feed them engine answers as JSON.
//!
//! How a host-side veth is matched to its container (the engine reports no ifindex):
//!
//! 1. `NetworkSettings.Networks` of `GET /containers/{id}/json` lists the container's
//!    endpoints: one per network, with that network's id and the endpoint's MAC address.
//! 2. The network's bridge device is its `com.docker.network.bridge.name` option (`docker0`
//!    for the default network), else `br-` and the first 12 hex digits of its id, the name
//!    libnetwork gives the bridges of user-defined networks.
//! 3. The container's own links come from inside its network namespace
//!    (`NetworkSettings.SandboxKey`, else `/proc/<State.Pid>/ns/net`). Its veth on that
//!    network names its peer by ifindex (IFLA_LINK) and vice versa.
//! 4. The host-side veth is the one that is a port of that bridge (IFLA_MASTER) and whose
//!    IFLA_LINK is the container veth's ifindex, while the container veth's IFLA_LINK is its
//!    ifindex. Where the engine reports the endpoint's MAC address, the container veth must
//!    carry it.
//!
//! A container has one endpoint per network, so (container, bridge) picks one veth pair; the
//! two-way ifindex check rules out a look-alike pair in some third namespace.

use std::{collections::HashMap, path::PathBuf};

use bollard::models::{ContainerInspectResponse, Network, NetworkInspect};

use crate::host::links::Link;

/// The network option that names its Linux bridge.
pub const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";
/// libnetwork names a user-defined network's bridge `br-` + this many hex digits of its id.
const BRIDGE_ID_DIGITS: usize = 12;

/// A Docker network of the `bridge` driver and the Linux bridge device behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkBridge {
    pub network: String,
    pub id: String,
    pub bridge: String,
}

/// One container's endpoint on one network, from `NetworkSettings.Networks`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub container: String,
    pub network: String,
    pub network_id: String,
    /// Lowercase; none when the engine leaves it empty.
    pub mac: Option<String>,
}

/// What the engine names: bridge devices and host-side veths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DockerNames {
    /// Bridge device name → network name.
    pub networks: HashMap<String, String>,
    /// Host-side veth ifindex → the container endpoint behind it.
    pub containers: HashMap<u32, Endpoint>,
}

/// The bridge device of a network, or none for drivers without one (host, null, overlay,
/// macvlan, ...).
pub fn bridge_device(
    id: &str,
    driver: Option<&str>,
    options: Option<&HashMap<String, String>>,
) -> Option<String> {
    if driver != Some("bridge") {
        return None;
    }
    if let Some(name) = options
        .and_then(|options| options.get(BRIDGE_NAME_OPTION))
        .filter(|name| !name.is_empty())
    {
        return Some(name.clone());
    }
    let prefix = id.get(..BRIDGE_ID_DIGITS)?;
    Some(format!("br-{prefix}"))
}

/// The bridge networks of `GET /networks`.
pub fn network_bridges(networks: &[Network]) -> Vec<NetworkBridge> {
    networks
        .iter()
        .filter_map(|network| {
            let id = network.id.clone()?;
            let bridge = bridge_device(&id, network.driver.as_deref(), network.options.as_ref())?;
            Some(NetworkBridge {
                network: network.name.clone().unwrap_or_else(|| id.clone()),
                id,
                bridge,
            })
        })
        .collect()
}

/// The bridge of `GET /networks/{id}`, or why there is none.
pub fn inspected_network_bridge(network: &NetworkInspect) -> Result<NetworkBridge, String> {
    let id = network.id.clone().unwrap_or_default();
    let name = network.name.clone().unwrap_or_else(|| id.clone());
    let driver = network.driver.as_deref();
    match bridge_device(&id, driver, network.options.as_ref()) {
        Some(bridge) => Ok(NetworkBridge {
            network: name,
            id,
            bridge,
        }),
        None => Err(format!(
            "Docker network {name} uses the {} driver; only bridge networks have a bridge on this host to attach to",
            driver.unwrap_or("unknown")
        )),
    }
}

/// The container's name without the leading `/` the engine puts there.
pub fn container_name(container: &ContainerInspectResponse) -> String {
    let name = container.name.as_deref().unwrap_or_default();
    let name = name.strip_prefix('/').unwrap_or(name);
    if name.is_empty() {
        container.id.clone().unwrap_or_default()
    } else {
        name.to_string()
    }
}

pub fn is_running(container: &ContainerInspectResponse) -> bool {
    container
        .state
        .as_ref()
        .and_then(|state| state.running)
        .unwrap_or(false)
}

/// The container's endpoints, sorted by network name.
pub fn endpoints(container: &ContainerInspectResponse) -> Vec<Endpoint> {
    let name = container_name(container);
    let mut endpoints: Vec<Endpoint> = container
        .network_settings
        .as_ref()
        .and_then(|settings| settings.networks.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|(network, settings)| {
            Some(Endpoint {
                container: name.clone(),
                network: network.clone(),
                network_id: settings.network_id.clone().filter(|id| !id.is_empty())?,
                mac: settings
                    .mac_address
                    .as_deref()
                    .filter(|mac| !mac.is_empty())
                    .map(str::to_ascii_lowercase),
            })
        })
        .collect();
    endpoints.sort_by(|a, b| a.network.cmp(&b.network));
    endpoints
}

/// Where the container's network namespace can be opened, best first.
pub fn netns_paths(container: &ContainerInspectResponse) -> Vec<PathBuf> {
    let sandbox = container
        .network_settings
        .as_ref()
        .and_then(|settings| settings.sandbox_key.as_deref())
        .filter(|key| !key.is_empty())
        .map(PathBuf::from);
    let pid = container
        .state
        .as_ref()
        .and_then(|state| state.pid)
        .filter(|pid| *pid > 0)
        .map(|pid| PathBuf::from(format!("/proc/{pid}/ns/net")));
    sandbox.into_iter().chain(pid).collect()
}

/// The host-side veth of an endpoint on the bridge with ifindex `bridge`, given the links
/// inside the container and the links here (see the module documentation).
pub fn host_veth<'a>(
    endpoint: &Endpoint,
    bridge: u32,
    container_links: &[Link],
    host_links: &'a [Link],
) -> Option<&'a Link> {
    container_links
        .iter()
        .filter(|inside| inside.is_veth())
        .filter(|inside| match (&endpoint.mac, &inside.mac) {
            (Some(expected), Some(actual)) => expected == actual,
            _ => true,
        })
        .find_map(|inside| {
            host_links.iter().find(|host| {
                host.is_veth()
                    && host.master == Some(bridge)
                    && Some(host.ifindex) == inside.peer_ifindex
                    && host.peer_ifindex == Some(inside.ifindex)
            })
        })
}

/// Names for the bridges and host-side veths in `host_links`, from the engine's networks and
/// its running containers (each with the links inside its namespace).
pub fn names(
    networks: &[Network],
    containers: &[(ContainerInspectResponse, Vec<Link>)],
    host_links: &[Link],
) -> DockerNames {
    let bridges = network_bridges(networks);
    let mut names = DockerNames::default();
    for bridge in &bridges {
        names
            .networks
            .insert(bridge.bridge.clone(), bridge.network.clone());
    }
    for (container, inside) in containers {
        for endpoint in endpoints(container) {
            let Some(bridge) = bridges.iter().find(|b| b.id == endpoint.network_id) else {
                continue;
            };
            let Some(bridge_link) = host_links.iter().find(|l| l.name == bridge.bridge) else {
                continue;
            };
            if let Some(veth) = host_veth(&endpoint, bridge_link.ifindex, inside, host_links) {
                names.containers.insert(veth.ifindex, endpoint);
            }
        }
    }
    names
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;

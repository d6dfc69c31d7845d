//! The networks and containers a [`super::DockerEngine`] made, as the tests use them: names,
//! addresses, the bridge, and each container's network namespace (`/proc/<pid>/ns/net`),
//! where host binaries run through `nsenter --net`.

use std::{net::Ipv4Addr, process::Command, time::Duration};

use serde_json::Value;

use crate::{LabError, Netns, Result, run_checked_within};

/// `ip` answers in milliseconds.
const IP_TIMEOUT: Duration = Duration::from_secs(10);

/// A user-defined bridge network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineNetwork {
    pub name: String,
    pub id: String,
    /// `br-` and the first 12 hex digits of the id, as Docker names it.
    pub bridge: String,
    /// The network's /24.
    pub subnet: Ipv4Addr,
    pub gateway: Ipv4Addr,
}

/// A running container on one [`EngineNetwork`]. Its process, network namespace and
/// veth pair change when it is restarted; [`super::DockerEngine::restart`] and
/// [`super::DockerEngine::start`] refresh them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineContainer {
    pub name: String,
    pub id: String,
    pub network: String,
    pub ipv4: Ipv4Addr,
    /// Its main process (`State.Pid`).
    pub pid: u32,
    /// `/proc/<pid>/ns/net`.
    pub netns: Netns,
}

impl EngineContainer {
    /// Reads `docker inspect` of a running container on `network`.
    pub(super) fn from_inspect(inspected: &Value, network: &str) -> Result<EngineContainer> {
        let missing = |what: &str| {
            LabError::Engine(format!(
                "docker inspect of {} has no {what}: {inspected}",
                inspected["Name"]
            ))
        };
        let name = inspected["Name"].as_str().ok_or_else(|| missing("Name"))?;
        let name = name.trim_start_matches('/').to_string();
        let pid = inspected["State"]["Pid"]
            .as_u64()
            .and_then(|pid| u32::try_from(pid).ok())
            .filter(|pid| *pid > 0)
            .ok_or_else(|| missing("State.Pid (is it running?)"))?;
        let ipv4 = inspected["NetworkSettings"]["Networks"][network]["IPAddress"]
            .as_str()
            .and_then(|address| address.parse().ok())
            .ok_or_else(|| missing(&format!("IPv4 address on {network}")))?;
        Ok(EngineContainer {
            id: inspected["Id"]
                .as_str()
                .ok_or_else(|| missing("Id"))?
                .to_string(),
            netns: Netns::of_process(pid, &name),
            name,
            network: network.to_string(),
            ipv4,
            pid,
        })
    }

    /// The host side of its veth: the root-namespace link whose ifindex its `eth0` names as
    /// its peer.
    pub fn host_veth(&self) -> Result<String> {
        let inside = ip_links(self.netns.ip().args(["-j", "link", "show", "dev", "eth0"]))?;
        let peer = inside
            .first()
            .and_then(|link| link["link_index"].as_u64())
            .ok_or_else(|| {
                LabError::Engine(format!("eth0 of container {} has no peer", self.name))
            })?;
        let host = ip_links(Command::new("ip").args(["-j", "link", "show"]))?;
        host.iter()
            .find(|link| link["ifindex"].as_u64() == Some(peer))
            .and_then(|link| link["ifname"].as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                LabError::Engine(format!(
                    "no link with ifindex {peer} (the peer of container {}'s eth0) in the root namespace",
                    self.name
                ))
            })
    }
}

fn ip_links(command: &mut Command) -> Result<Vec<Value>> {
    let output = run_checked_within(command, IP_TIMEOUT)?;
    let links: Value = serde_json::from_slice(&output.stdout)
        .map_err(|error| LabError::Engine(format!("`ip -j link` printed no JSON: {error}")))?;
    Ok(links.as_array().cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_running_container_is_read_from_its_inspect_answer() {
        let inspected = json!({
            "Id": "8344f0ff79a2359565be242d6bbb400d9a3304f6bb4b671e7a90e79d9866d125",
            "Name": "/sgt-1-0-web",
            "State": {"Running": true, "Pid": 15341},
            "NetworkSettings": {"Networks": {"sgt-1-0-net": {"IPAddress": "10.78.1.2"}}}
        });
        let container = EngineContainer::from_inspect(&inspected, "sgt-1-0-net").expect("read");
        assert_eq!(container.name, "sgt-1-0-web");
        assert_eq!(container.pid, 15341);
        assert_eq!(container.ipv4, Ipv4Addr::new(10, 78, 1, 2));
        assert_eq!(container.netns.path().to_str(), Some("/proc/15341/ns/net"));
    }

    #[test]
    fn a_stopped_container_is_refused() {
        let inspected = json!({
            "Id": "8344f0ff", "Name": "/web", "State": {"Running": false, "Pid": 0},
            "NetworkSettings": {"Networks": {}}
        });
        let error = EngineContainer::from_inspect(&inspected, "net").expect_err("not running");
        assert!(error.to_string().contains("State.Pid"), "{error}");
    }
}

//! A Docker-shaped network built without Docker: a bridge named like Docker's in a namespace
//! standing for the Docker host, and containers plugged into it by veth pairs.

use std::{
    collections::HashMap,
    ffi::OsStr,
    hash::{DefaultHasher, Hash, Hasher},
    net::Ipv4Addr,
    process::Command,
};

use serde_json::{Value, json};

use crate::{Bridge, Host, Lab, Netns, Result};

/// What Docker builds for a user-defined bridge network, built without Docker:
/// a `dockerhost` namespace standing for the Docker host, holding a bridge
/// named `br-<12 hex>` that carries the network's gateway address (host
/// number 1), and containers: namespaces of their own, each plugged into the
/// bridge by a veth pair (the host side a bridge port, like Docker's
/// `vethXXXXXXX`), addressed from host number 2 on, with a default route via
/// the gateway.
///
/// Nothing routes beyond the bridge: the `dockerhost` namespace has no other
/// interface.
#[derive(Debug)]
pub struct DockerLab {
    pub host: Netns,
    pub bridge: Bridge,
    pub gateway: Ipv4Addr,
    lab: Lab,
}

/// A container of a [`DockerLab`]: its side of the veth pair, and the bridge
/// port on the host side.
#[derive(Debug, Clone)]
pub struct Container {
    pub name: String,
    pub inside: Host,
    pub port: String,
}

impl DockerLab {
    /// The network with `containers` started on it, in order.
    pub fn build(containers: &[&str]) -> Result<(DockerLab, Vec<Container>)> {
        let mut lab = Lab::new()?;
        let host = lab.add_netns("dockerhost")?;
        let mut bridge = lab.add_bridge(&host)?;
        let gateway = lab.address_bridge(&mut bridge)?;
        let mut docker = DockerLab {
            host,
            bridge,
            gateway,
            lab,
        };
        let started = containers
            .iter()
            .map(|name| docker.run(name))
            .collect::<Result<_>>()?;
        Ok((docker, started))
    }

    /// Starts a container on the network (`docker run --network`). `name` is
    /// a lab role: 1 to 10 characters from a-z, 0-9.
    pub fn run(&mut self, name: &str) -> Result<Container> {
        let netns = self.lab.add_netns(name)?;
        let (port, inside) = self.lab.plug_port(&mut self.bridge, &netns)?;
        netns.add_default_route(self.gateway.into())?;
        Ok(Container {
            name: name.to_string(),
            inside,
            port,
        })
    }

    /// Stops a container as far as the network sees it: its veth pair goes.
    pub fn stop(&mut self, container: &Container) -> Result<()> {
        self.lab.unplug(&self.bridge, &container.port)
    }

    /// A 64-hex-digit network id whose first 12 digits are the bridge's, as
    /// Docker names a network's bridge `br-` and the first 12 digits of its id.
    pub fn network_id(&self) -> String {
        network_id(self.bridge.name())
    }

    /// What a Docker engine would answer about this network, named `network`, and the
    /// `containers` on it, for [`crate::FakeDockerEngine`]: `GET /networks`,
    /// `/networks/{name or id}`, `/containers/json` and `/containers/{name or id}/json`,
    /// shaped like the Engine API's answers. The containers' `SandboxKey` is their lab
    /// namespace, as Docker's is `/var/run/docker/netns/<id>`.
    pub fn engine_answers(
        &self,
        network: &str,
        containers: &[Container],
    ) -> HashMap<String, Value> {
        let id = self.network_id();
        let network_summary = json!({
            "Name": network,
            "Id": id,
            "Created": "2026-01-01T00:00:00.000000000Z",
            "Scope": "local",
            "Driver": "bridge",
            "EnableIPv4": true,
            "EnableIPv6": true,
            "IPAM": {"Driver": "default", "Options": null,
                     "Config": [{"Subnet": format!("{}/24", self.gateway), "Gateway": self.gateway.to_string()}]},
            "Internal": false,
            "Attachable": false,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Options": {},
            "Labels": {}
        });
        let mut answers = HashMap::new();
        let mut inspected_network = network_summary.clone();
        let mut list = Vec::new();
        let mut endpoints = serde_json::Map::new();
        for container in containers {
            let container_id = format!("{:0>64}", hex(&container.name));
            let mac = container
                .inside
                .mac
                .map(|byte| format!("{byte:02x}"))
                .join(":");
            let endpoint_id = format!("{:e>64}", hex(&container.name));
            endpoints.insert(
                container_id.clone(),
                json!({"Name": container.name, "EndpointID": endpoint_id, "MacAddress": mac,
                       "IPv4Address": format!("{}/24", container.inside.ipv4), "IPv6Address": ""}),
            );
            let inspected = json!({
                "Id": container_id,
                "Created": "2026-01-01T00:00:00.000000000Z",
                "Path": "/bin/sh",
                "Args": [],
                "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false,
                          "OOMKilled": false, "Dead": false, "Pid": 0, "ExitCode": 0, "Error": "",
                          "StartedAt": "2026-01-01T00:00:01.000000000Z",
                          "FinishedAt": "0001-01-01T00:00:00Z"},
                "Name": format!("/{}", container.name),
                "NetworkSettings": {
                    "SandboxID": container_id,
                    "SandboxKey": container.inside.netns.path(),
                    "Ports": {},
                    "Networks": {
                        network: {
                            "IPAMConfig": null, "Links": null, "Aliases": null, "DriverOpts": null,
                            "MacAddress": mac, "GwPriority": 0, "NetworkID": id,
                            "EndpointID": endpoint_id, "Gateway": self.gateway.to_string(),
                            "IPAddress": container.inside.ipv4.to_string(), "IPPrefixLen": 24,
                            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                            "DNSNames": [container.name]
                        }
                    }
                }
            });
            list.push(
                json!({"Id": container_id, "Names": [format!("/{}", container.name)],
                             "State": "running", "Status": "Up 1 second"}),
            );
            answers.insert(
                format!("/containers/{}/json", container.name),
                inspected.clone(),
            );
            answers.insert(format!("/containers/{container_id}/json"), inspected);
        }
        inspected_network["Containers"] = Value::Object(endpoints);
        answers.insert("/networks".to_string(), json!([network_summary]));
        answers.insert(format!("/networks/{network}"), inspected_network.clone());
        answers.insert(format!("/networks/{id}"), inspected_network);
        answers.insert("/containers/json".to_string(), Value::Array(list));
        answers
    }

    /// A command in the Docker host's namespace.
    pub fn host_command(&self, program: impl AsRef<OsStr>) -> Command {
        self.host.command(program)
    }

    /// The lab underneath, e.g. to list its namespaces.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }
}

/// Hex digits standing for a name, for ids.
fn hex(name: &str) -> String {
    name.bytes().map(|byte| format!("{byte:02x}")).collect()
}

fn network_id(bridge: &str) -> String {
    let prefix = bridge.trim_start_matches("br-");
    let mut id = prefix.to_string();
    let mut round = 0u64;
    while id.len() < 64 {
        let mut hasher = DefaultHasher::new();
        (prefix, round).hash(&mut hasher);
        id.push_str(&format!("{:016x}", hasher.finish()));
        round += 1;
    }
    id.truncate(64);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_id_starts_with_the_bridge_digits() {
        let id = network_id("br-0123456789ab");
        assert_eq!(id.len(), 64);
        assert!(id.starts_with("0123456789ab"), "{id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        assert_ne!(id, network_id("br-0123456789ac"));
    }
}

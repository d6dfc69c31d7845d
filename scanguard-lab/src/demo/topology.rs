//! The demo's network: victim, attacker and client on a LAN, and a Docker-shaped bridge with two
//! containers on the victim; also rebuilt from a description another process printed.

use std::{
    io,
    net::{Ipv4Addr, Ipv6Addr},
};

use serde_json::{Value, json};

use super::{DemoResult, failed, services};
use crate::{Host, Lab, LabError, Netns, Result};

/// The demo's network, every part of it in a namespace of its own making:
///
/// ```text
///  attacker ─┐                          victim (also a Docker host)
///  client ───┼── LAN bridge ── victim0 ─┤
///            │   (switch ns)            └─ br-<12 hex> ─┬─ port ── web     (container)
///                                       (its gateway    └─ port ── scanner (container)
///                                        address)
/// ```
///
/// The victim runs a honeypot sshd on 22, a web server on 80 and its real sshd on 2222; the web
/// container a web server on 80. XDP sees ingress only, so the scanner container's scans are
/// seen on its bridge port, the host side of its veth pair, in the victim's namespace.
#[derive(Debug)]
pub struct DemoLab {
    pub victim: Host,
    pub attacker: Host,
    pub client: Host,
    /// Docker-shaped bridge (`br-<12 hex>`) in the victim's namespace.
    pub docker_bridge: String,
    pub web: Container,
    pub scanner: Container,
    namespaces: Vec<Netns>,
    /// Owns the namespaces if built here; `None` for a lab another process described.
    _lab: Option<Lab>,
}

/// A "container" on the Docker-shaped bridge.
#[derive(Debug, Clone)]
pub struct Container {
    /// Its namespace, seen through its end of the veth pair.
    pub inside: Host,
    /// The host side of the veth pair: the bridge port in the victim's namespace.
    pub port: String,
}

impl DemoLab {
    /// Builds the network; dropping the result tears it down.
    pub fn build() -> Result<DemoLab> {
        let mut lab = Lab::new()?;
        let switch = lab.add_netns("switch")?;
        let mut lan = lab.add_bridge(&switch)?;
        let victim_ns = lab.add_netns("victim")?;
        let victim = lab.plug(&mut lan, &victim_ns)?;
        let attacker_ns = lab.add_netns("attacker")?;
        let attacker = lab.plug(&mut lan, &attacker_ns)?;
        let client_ns = lab.add_netns("client")?;
        let client = lab.plug(&mut lan, &client_ns)?;

        let mut docker = lab.add_bridge(&victim_ns)?;
        // As Docker gives a network's bridge its gateway address: the victim has a route to its
        // containers, the route back scanguard verifies their probes by (docs/spoofing.md).
        lab.address_bridge(&mut docker)?;
        let web_ns = lab.add_netns("web")?;
        let web = lab.plug(&mut docker, &web_ns)?;
        let scanner_ns = lab.add_netns("scanner")?;
        let scanner = lab.plug(&mut docker, &scanner_ns)?;
        let web_port = bridge_port(&web, &victim_ns)?;
        let scanner_port = bridge_port(&scanner, &victim_ns)?;
        Ok(DemoLab {
            victim,
            attacker,
            client,
            docker_bridge: docker.name().to_string(),
            web: Container {
                inside: web,
                port: web_port,
            },
            scanner: Container {
                inside: scanner,
                port: scanner_port,
            },
            namespaces: lab.namespaces().to_vec(),
            _lab: Some(lab),
        })
    }

    /// Starts the services (threads of this process, as long as it lives).
    pub fn serve(&self) -> DemoResult<()> {
        services::serve_all(&self.victim, &self.web.inside)
    }

    /// Every namespace of the lab, oldest first.
    pub fn namespaces(&self) -> &[Netns] {
        &self.namespaces
    }

    /// The interfaces scanguard protects, all in the victim's namespace: the victim's LAN
    /// interface and the bridge ports of both containers.
    pub fn protected_interfaces(&self) -> Vec<&str> {
        vec![&self.victim.interface, &self.web.port, &self.scanner.port]
    }

    /// One line of JSON from which [`DemoLab::from_description`] rebuilds this lab's view in
    /// another process.
    pub fn describe(&self) -> String {
        json!({
            "victim": host_json(&self.victim),
            "attacker": host_json(&self.attacker),
            "client": host_json(&self.client),
            "docker_bridge": self.docker_bridge,
            "web": host_json(&self.web.inside),
            "web_port": self.web.port,
            "scanner": host_json(&self.scanner.inside),
            "scanner_port": self.scanner.port,
            "namespaces": self.namespaces.iter().map(|ns| json!({
                "name": ns.name(), "role": ns.role(),
            })).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// A view of a lab described by [`DemoLab::describe`]; dropping it tears nothing down.
    pub fn from_description(description: &str) -> DemoResult<DemoLab> {
        let value: Value = serde_json::from_str(description)
            .map_err(|error| failed(format!("bad lab description: {error}")))?;
        let text = |key: &str| {
            value[key]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| failed(format!("lab description without {key}")))
        };
        let namespaces = value["namespaces"]
            .as_array()
            .ok_or_else(|| failed("lab description without namespaces"))?
            .iter()
            .map(netns_from_json)
            .collect::<DemoResult<_>>()?;
        Ok(DemoLab {
            victim: host_from_json(&value["victim"])?,
            attacker: host_from_json(&value["attacker"])?,
            client: host_from_json(&value["client"])?,
            docker_bridge: text("docker_bridge")?,
            web: Container {
                inside: host_from_json(&value["web"])?,
                port: text("web_port")?,
            },
            scanner: Container {
                inside: host_from_json(&value["scanner"])?,
                port: text("scanner_port")?,
            },
            namespaces,
            _lab: None,
        })
    }
}

/// The bridge port in `bridge_ns` that is the peer of `inside`'s interface: a veth's
/// `link_index` is its peer's ifindex.
fn bridge_port(inside: &Host, bridge_ns: &Netns) -> Result<String> {
    let own = inside.netns.links_json(Some(&inside.interface))?;
    let peer = own[0]["link_index"].as_u64();
    let links = bridge_ns.links_json(None)?;
    let port = links
        .as_array()
        .into_iter()
        .flatten()
        .find(|link| link["ifindex"].as_u64() == peer && peer.is_some())
        .and_then(|link| link["ifname"].as_str());
    port.map(str::to_string).ok_or_else(|| LabError::Io {
        what: format!(
            "find the bridge port of {} in {}",
            inside.interface,
            bridge_ns.name()
        ),
        source: io::Error::from(io::ErrorKind::NotFound),
    })
}

fn host_json(host: &Host) -> Value {
    json!({
        "netns": host.netns.name(),
        "role": host.netns.role(),
        "interface": host.interface,
        "ipv4": host.ipv4.to_string(),
        "ipv6": host.ipv6.to_string(),
        "mac": host.mac.map(|byte| format!("{byte:02x}")).join(":"),
    })
}

fn netns_from_json(value: &Value) -> DemoResult<Netns> {
    match (value["name"].as_str(), value["role"].as_str()) {
        (Some(name), Some(role)) => Ok(Netns::new(name.to_string(), role)),
        _ => Err(failed(format!("bad namespace in lab description: {value}"))),
    }
}

fn host_from_json(value: &Value) -> DemoResult<Host> {
    let bad = || failed(format!("bad host in lab description: {value}"));
    let field = |key: &str| value[key].as_str().ok_or_else(bad);
    let netns = netns_from_json(&json!({ "name": field("netns")?, "role": field("role")? }))?;
    let mut mac = [0u8; 6];
    let octets = field("mac")?
        .split(':')
        .map(|octet| u8::from_str_radix(octet, 16))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| bad())?;
    if octets.len() != mac.len() {
        return Err(bad());
    }
    mac.copy_from_slice(&octets);
    Ok(Host {
        netns,
        interface: field("interface")?.to_string(),
        ipv4: field("ipv4")?.parse::<Ipv4Addr>().map_err(|_| bad())?,
        ipv6: field("ipv6")?.parse::<Ipv6Addr>().map_err(|_| bad())?,
        mac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_survives_its_description() {
        let host = Host {
            netns: Netns::new("sgl-1-0-0000-victim".into(), "victim"),
            interface: "victim0".into(),
            ipv4: Ipv4Addr::new(10, 77, 0, 1),
            ipv6: "fd77::1".parse().unwrap(),
            mac: [2, 0x77, 0, 0, 0, 1],
        };
        assert_eq!(host_from_json(&host_json(&host)).unwrap(), host);
    }

    #[test]
    fn a_bad_description_is_an_error_not_a_panic() {
        assert!(DemoLab::from_description("{}").is_err());
        assert!(DemoLab::from_description("not json").is_err());
        assert!(host_from_json(&json!({"netns": "x", "role": "x", "mac": "zz"})).is_err());
    }
}

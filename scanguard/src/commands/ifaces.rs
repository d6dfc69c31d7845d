//! `scanguard ifaces`: every interface, its kind, whether it carries the default route,
//! its XDP and TC ingress programs, a bridge's ports, and the Docker network or container behind it.

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use serde::Serialize;

use crate::{
    bpf::object::{INGRESS_PROGRAM_NAME, PROGRAM_NAME},
    host::{
        docker::{self, DockerNames, Engine},
        iface_kind::{self, IfaceKind, SysfsFacts},
        interfaces,
        links::{self, Link},
        tcx,
        xdp::{self, XdpAttachMode},
    },
};

#[derive(Debug, Serialize)]
struct Report {
    docker: DockerState,
    interfaces: Vec<Iface>,
}

#[derive(Debug, Serialize)]
struct DockerState {
    engine: String,
    reachable: bool,
    /// The Engine API version scanguard's requests name.
    api_version: Option<String>,
    error: Option<String>,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
struct Iface {
    name: String,
    ifindex: u32,
    kind: IfaceKind,
    /// rtnetlink's IFLA_INFO_KIND, e.g. "wireguard" for kind "other".
    link_kind: Option<String>,
    default_route: bool,
    xdp: XdpState,
    /// What runs at TC ingress: scanguard there when `attach` chose that hook.
    tc_ingress: TcState,
    /// The bridge or bond this is a port of.
    master: Option<String>,
    /// A bridge's ports.
    #[serde(skip_serializing_if = "Option::is_none")]
    ports: Option<Vec<String>>,
    /// The Docker network of a bridge, or of the container endpoint behind a veth.
    docker_network: Option<String>,
    /// The Docker container behind a host-side veth.
    container: Option<String>,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
enum XdpState {
    None,
    Scanguard {
        program_id: u32,
        mode: XdpAttachMode,
    },
    Other {
        program_id: u32,
        /// Unknown without the privileges to read program info.
        program_name: Option<String>,
        mode: XdpAttachMode,
    },
}

#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
enum TcState {
    None,
    Scanguard {
        program_id: u32,
    },
    Other {
        program_id: u32,
        /// Unknown without the privileges to read program info.
        program_name: Option<String>,
    },
}

pub async fn execute(json: bool) -> Result<()> {
    let links = links::dump().await?;
    let (docker_state, names) = docker_names(&links).await;
    let sysfs: Vec<SysfsFacts> = links.iter().map(iface_kind::sysfs_facts).collect();
    let tc_ingress: HashMap<u32, Vec<u32>> = links
        .iter()
        .map(|link| (link.ifindex, tcx::ingress_program_ids(&link.name)))
        .collect();
    let programs = Programs {
        names: xdp::program_names(),
        tc_ingress,
    };
    let interfaces = describe(
        &links,
        &sysfs,
        &interfaces::default_route_interfaces(),
        &programs,
        &names,
    );
    let report = Report {
        docker: docker_state,
        interfaces,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(())
}

/// Names from the engine if one answers; none otherwise, which is fine.
async fn docker_names(links: &[Link]) -> (DockerState, DockerNames) {
    let engine = docker::engine_address();
    if !docker::engine_socket_exists() {
        let state = DockerState {
            error: Some(format!("no Docker engine socket at {engine}")),
            engine,
            reachable: false,
            api_version: None,
        };
        return (state, DockerNames::default());
    }
    let names = match Engine::connect().await {
        Ok(connected) => connected
            .names(links)
            .await
            .map(|names| (names, connected.api_version.to_string())),
        Err(error) => Err(error),
    };
    match names {
        Ok((names, api_version)) => {
            let state = DockerState {
                engine,
                reachable: true,
                api_version: Some(api_version),
                error: None,
            };
            (state, names)
        }
        Err(error) => {
            let state = DockerState {
                engine,
                reachable: false,
                api_version: None,
                error: Some(format!("{error:#}")),
            };
            (state, DockerNames::default())
        }
    }
}

/// The loaded programs by id, and the ids at each interface's TC ingress by ifindex.
#[derive(Default)]
struct Programs {
    names: HashMap<u32, String>,
    tc_ingress: HashMap<u32, Vec<u32>>,
}

/// One entry per link, in ifindex order; `sysfs` goes with `links` index by index.
fn describe(
    links: &[Link],
    sysfs: &[SysfsFacts],
    default_routes: &BTreeSet<String>,
    programs: &Programs,
    docker: &DockerNames,
) -> Vec<Iface> {
    let name_of = |ifindex: u32| {
        links
            .iter()
            .find(|link| link.ifindex == ifindex)
            .map(|link| link.name.clone())
    };
    links
        .iter()
        .zip(sysfs)
        .map(|(link, sysfs)| {
            let kind = iface_kind::classify(link, *sysfs);
            let endpoint = docker.containers.get(&link.ifindex);
            Iface {
                name: link.name.clone(),
                ifindex: link.ifindex,
                kind,
                link_kind: link.kind.clone(),
                default_route: default_routes.contains(&link.name),
                xdp: xdp_state(link, &programs.names),
                tc_ingress: tc_state(
                    programs
                        .tc_ingress
                        .get(&link.ifindex)
                        .map_or(&[], Vec::as_slice),
                    &programs.names,
                ),
                master: link.master.and_then(name_of),
                ports: (kind == IfaceKind::Bridge).then(|| {
                    links
                        .iter()
                        .filter(|port| port.master == Some(link.ifindex))
                        .map(|port| port.name.clone())
                        .collect()
                }),
                docker_network: docker
                    .networks
                    .get(&link.name)
                    .cloned()
                    .or_else(|| endpoint.map(|endpoint| endpoint.network.clone())),
                container: endpoint.map(|endpoint| endpoint.container.clone()),
            }
        })
        .collect()
}

/// scanguard is recognised by its program's name, as the kernel reports it.
fn xdp_state(link: &Link, program_names: &HashMap<u32, String>) -> XdpState {
    let Some(attachment) = link.xdp else {
        return XdpState::None;
    };
    let name = program_names.get(&attachment.program_id);
    if name.map(String::as_str) == Some(PROGRAM_NAME) {
        XdpState::Scanguard {
            program_id: attachment.program_id,
            mode: attachment.mode,
        }
    } else {
        XdpState::Other {
            program_id: attachment.program_id,
            program_name: name.cloned(),
            mode: attachment.mode,
        }
    }
}

/// scanguard's program if it is among those at TC ingress, else the first there.
fn tc_state(program_ids: &[u32], program_names: &HashMap<u32, String>) -> TcState {
    let name = |id: &u32| program_names.get(id).cloned();
    if let Some(&program_id) = program_ids
        .iter()
        .find(|id| name(id).as_deref() == Some(INGRESS_PROGRAM_NAME))
    {
        return TcState::Scanguard { program_id };
    }
    match program_ids.first() {
        Some(&program_id) => TcState::Other {
            program_id,
            program_name: name(&program_id),
        },
        None => TcState::None,
    }
}

fn print_text(report: &Report) {
    let docker = &report.docker;
    match &docker.error {
        None => println!(
            "docker: engine at {} (API {})",
            docker.engine,
            docker.api_version.as_deref().unwrap_or("?")
        ),
        Some(error) => println!("docker: {error}; no Docker names"),
    }
    let rows: Vec<[String; 5]> = report
        .interfaces
        .iter()
        .map(|iface| {
            [
                iface.name.clone(),
                match &iface.link_kind {
                    Some(link_kind) if iface.kind == IfaceKind::Other => {
                        format!("other ({link_kind})")
                    }
                    _ => iface.kind.name().to_string(),
                },
                if iface.default_route { "default" } else { "" }.to_string(),
                hooks_text(iface),
                details(iface),
            ]
        })
        .collect();
    let header = ["INTERFACE", "KIND", "ROUTE", "PROGRAMS", "DETAILS"].map(str::to_string);
    let mut widths = [0; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

/// `scanguard (native)`, `scanguard (tc ingress)`, `xdp_dummy (id 9, native)`, or `none`.
fn hooks_text(iface: &Iface) -> String {
    let mut hooks = Vec::new();
    if iface.xdp != XdpState::None {
        hooks.push(xdp_text(&iface.xdp));
    }
    match &iface.tc_ingress {
        TcState::None => {}
        TcState::Scanguard { .. } => hooks.push("scanguard (tc ingress)".to_string()),
        TcState::Other {
            program_id,
            program_name,
        } => hooks.push(format!(
            "{} (id {program_id}, tc ingress)",
            program_name.as_deref().unwrap_or("unknown program")
        )),
    }
    if hooks.is_empty() {
        return "none".to_string();
    }
    hooks.join(", ")
}

fn xdp_text(state: &XdpState) -> String {
    match state {
        XdpState::None => "none".to_string(),
        XdpState::Scanguard { mode, .. } => format!("scanguard ({})", mode.name()),
        XdpState::Other {
            program_id,
            program_name,
            mode,
        } => format!(
            "{} (id {program_id}, {})",
            program_name.as_deref().unwrap_or("unknown program"),
            mode.name()
        ),
    }
}

fn details(iface: &Iface) -> String {
    let mut parts = Vec::new();
    if let Some(master) = &iface.master {
        parts.push(format!("port of {master}"));
    }
    match (&iface.container, &iface.docker_network) {
        (Some(container), Some(network)) => {
            parts.push(format!("container {container} on {network}"));
        }
        (None, Some(network)) => parts.push(format!("Docker network {network}")),
        _ => {}
    }
    if let Some(ports) = &iface.ports {
        if ports.is_empty() {
            parts.push("no ports".to_string());
        } else {
            parts.push(format!("ports: {}", ports.join(", ")));
        }
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{docker::Endpoint, xdp::XdpAttachment};

    #[test]
    fn a_docker_host_is_described_with_names_routes_and_programs() {
        let links = vec![
            Link {
                loopback: true,
                ..Link::named(1, "lo", None)
            },
            Link {
                xdp: Some(XdpAttachment {
                    program_id: 9,
                    mode: XdpAttachMode::Native,
                }),
                ..Link::named(2, "eth0", None)
            },
            Link::named(3, "wlan0", None),
            Link {
                xdp: Some(XdpAttachment {
                    program_id: 12,
                    mode: XdpAttachMode::Skb,
                }),
                ..Link::named(4, "br-7d86d31b1478", Some("bridge"))
            },
            Link {
                master: Some(4),
                xdp: Some(XdpAttachment {
                    program_id: 12,
                    mode: XdpAttachMode::Native,
                }),
                ..Link::named(10, "veth5e1a0c2", Some("veth"))
            },
            Link::named(11, "wg0", Some("wireguard")),
        ];
        let none = SysfsFacts::default();
        let sysfs = [
            none,
            SysfsFacts::PHYSICAL,
            SysfsFacts::WIRELESS,
            none,
            none,
            none,
        ];
        let programs = Programs {
            names: HashMap::from([
                (9, "xdp_dummy".to_string()),
                (12, "scanguard".to_string()),
                (14, "scanguard_tc".to_string()),
            ]),
            tc_ingress: HashMap::from([(11, vec![14])]),
        };
        let mut docker = DockerNames::default();
        docker
            .networks
            .insert("br-7d86d31b1478".into(), "my_network".into());
        docker.containers.insert(
            10,
            Endpoint {
                container: "funny_chatelet".into(),
                network: "my_network".into(),
                network_id: "7d86d31b1478e7cca9ebed7e73aa0fdeec46c5ca29497431d3007d2d9e15ed99"
                    .into(),
                mac: None,
            },
        );
        let routes = BTreeSet::from(["wlan0".to_string()]);
        let described = describe(&links, &sysfs, &routes, &programs, &docker);

        let kinds: Vec<IfaceKind> = described.iter().map(|iface| iface.kind).collect();
        assert_eq!(
            kinds,
            [
                IfaceKind::Loopback,
                IfaceKind::Physical,
                IfaceKind::Wireless,
                IfaceKind::Bridge,
                IfaceKind::Veth,
                IfaceKind::Other
            ]
        );
        assert!(described[2].default_route && !described[1].default_route);
        assert_eq!(
            described[1].xdp,
            XdpState::Other {
                program_id: 9,
                program_name: Some("xdp_dummy".into()),
                mode: XdpAttachMode::Native
            }
        );
        assert_eq!(
            described[3].xdp,
            XdpState::Scanguard {
                program_id: 12,
                mode: XdpAttachMode::Skb
            }
        );
        assert_eq!(described[3].ports, Some(vec!["veth5e1a0c2".to_string()]));
        assert_eq!(described[3].docker_network.as_deref(), Some("my_network"));
        assert_eq!(described[4].master.as_deref(), Some("br-7d86d31b1478"));
        assert_eq!(described[4].container.as_deref(), Some("funny_chatelet"));
        assert_eq!(described[4].ports, None);
        assert_eq!(
            details(&described[4]),
            "port of br-7d86d31b1478; container funny_chatelet on my_network"
        );
        assert_eq!(
            details(&described[3]),
            "Docker network my_network; ports: veth5e1a0c2"
        );
        assert_eq!(hooks_text(&described[1]), "xdp_dummy (id 9, native)");
        assert_eq!(hooks_text(&described[2]), "none");
        assert_eq!(
            described[5].tc_ingress,
            TcState::Scanguard { program_id: 14 }
        );
        assert_eq!(hooks_text(&described[5]), "scanguard (tc ingress)");

        let json = serde_json::to_value(&described[4]).expect("serializes");
        assert_eq!(json["xdp"]["state"], "scanguard");
        assert_eq!(json["xdp"]["mode"], "native");
        assert_eq!(json["tc_ingress"]["state"], "none");
        assert_eq!(json["kind"], "veth");
        assert!(json.get("ports").is_none());
    }
}

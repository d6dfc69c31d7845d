//! `scanguard status`: what is attached where, the configuration in force, map fill levels.

use std::path::Path;

use anyhow::Result;
use aya::maps::lpm_trie::Key;
use ipnet::IpNet;
use scanguard_common::{
    action::Action,
    addr::AddrKey,
    allow::{ALLOW_LISTED, ALLOW_LOCKOUT},
    ban::BANS_MAP,
    kind::Kind,
    ports::ROLE_SERVED,
};
use serde::Serialize;

use crate::{
    bpf::{
        pins::{LinkKind, Pins, link_pin},
        program::allow_net,
    },
    cli::Cli,
    daemon::{
        attachment::TC_MODE,
        status_file::{self, AttachedInterface, FollowedBridge},
    },
    host::{interfaces, xdp},
};

#[derive(Serialize)]
struct Status {
    daemon_pid: Option<u32>,
    persisted: bool,
    interfaces: Vec<AttachedInterface>,
    /// Bridges whose ports the daemon attaches as they come and go.
    bridges: Vec<FollowedBridge>,
    ban_seconds: u64,
    ban_mode: &'static str,
    actions: Vec<(&'static str, &'static str)>,
    /// Never banned nor dropped (the configured `allow`).
    allow_listed: Vec<IpNet>,
    /// Never banned: this host's addresses, gateways and SSH client, as last looked up.
    lockout_protected: Vec<IpNet>,
    /// Ports a local service listens on, as last looked up: not counted toward sweeps.
    served_ports: Vec<u16>,
    bans: usize,
    ban_capacity: u32,
}

pub async fn execute(cli: &Cli, json: bool) -> Result<()> {
    let pins = Pins::open(&cli.pin_dir)?;
    let daemon = status_file::read(&cli.run_dir);
    let persisted_links = pins.persisted_links();
    let interfaces = match &daemon {
        Some(daemon) => daemon.interfaces.clone(),
        None => persisted_interfaces(&cli.pin_dir, &persisted_links).await,
    };
    let config = pins.config()?;
    let allow = pins.allow_entries()?;
    let ban_capacity = pins.max_entries(BANS_MAP)?;
    let status = Status {
        daemon_pid: daemon.as_ref().map(|daemon| daemon.pid),
        persisted: !persisted_links.is_empty(),
        interfaces,
        bridges: daemon
            .as_ref()
            .map(|daemon| daemon.bridges.clone())
            .unwrap_or_default(),
        ban_seconds: config.ban_ns / scanguard_common::config::NANOS_PER_SECOND,
        ban_mode: config.ban_mode().name(),
        actions: Kind::ALL
            .into_iter()
            .map(|kind| (kind.name(), config.action(kind).name()))
            .collect(),
        allow_listed: allowed(&allow, ALLOW_LISTED),
        lockout_protected: allowed(&allow, ALLOW_LOCKOUT),
        served_ports: served_ports(&pins)?,
        bans: pins.bans()?.keys().count(),
        ban_capacity,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_text(&status);
    }
    Ok(())
}

/// The allow-list's prefixes with `value` (`ALLOW_LISTED`, `ALLOW_LOCKOUT`).
fn allowed(allow: &[(Key<AddrKey>, u8)], value: u8) -> Vec<IpNet> {
    let mut nets: Vec<IpNet> = allow
        .iter()
        .filter(|(_, found)| *found == value)
        .map(|(key, _)| allow_net(key))
        .collect();
    nets.sort();
    nets
}

fn served_ports(pins: &Pins) -> Result<Vec<u16>> {
    let roles = pins.port_roles()?.get(&0, 0)?;
    Ok((0..=u16::MAX)
        .filter(|&port| roles[usize::from(port)] & ROLE_SERVED != 0)
        .collect())
}

/// Interfaces of a persisted scanguard with no daemon: at TC ingress as pinned, at XDP as
/// netlink reports them now.
async fn persisted_interfaces(pin_dir: &Path, names: &[String]) -> Vec<AttachedInterface> {
    let mut attached = Vec::new();
    for name in names {
        let Ok(ifindex) = interfaces::ifindex(name) else {
            continue;
        };
        if link_pin(pin_dir, LinkKind::Ingress, name).exists() {
            attached.push(AttachedInterface {
                name: name.clone(),
                ifindex,
                mode: TC_MODE.to_string(),
                ..AttachedInterface::default()
            });
        } else if let Ok(Some(attachment)) = xdp::xdp_attachment(ifindex).await {
            attached.push(AttachedInterface {
                name: name.clone(),
                ifindex,
                mode: attachment.mode.name().to_string(),
                ..AttachedInterface::default()
            });
        }
    }
    attached
}

fn print_text(status: &Status) {
    match status.daemon_pid {
        Some(pid) => println!("daemon: running (pid {pid})"),
        None if status.persisted => println!("daemon: not running; persisted program enforcing"),
        None => println!("daemon: not running"),
    }
    for bridge in &status.bridges {
        println!(
            "bridge: {} (its ports are attached as they come)",
            bridge.name
        );
    }
    for interface in &status.interfaces {
        println!("interface: {}", describe(interface));
    }
    println!("ban: {} s, {}", status.ban_seconds, status.ban_mode);
    for (kind, action) in &status.actions {
        if *action != Action::Ignore.name() {
            println!("action: {kind} -> {action}");
        }
    }
    print_list("allow-list", &status.allow_listed);
    print_list("lock-out protected", &status.lockout_protected);
    print_list("served ports", &status.served_ports);
    println!("bans: {} of {}", status.bans, status.ban_capacity);
}

fn print_list(name: &str, items: &[impl std::fmt::Display]) {
    if !items.is_empty() {
        let items: Vec<String> = items.iter().map(ToString::to_string).collect();
        println!("{name}: {}", items.join(", "));
    }
}

/// `br-1 (bridge, skb mode: generic fallback, the bridge driver has no native XDP)`,
/// `veth0 (veth, tc mode: native XDP on a veth turns off ..., port of br-1)`.
fn describe(interface: &AttachedInterface) -> String {
    let mut parts: Vec<String> = interface.kind.iter().cloned().collect();
    match (&interface.generic_fallback, &interface.hook_reason) {
        (Some(reason), _) => parts.push(format!(
            "{} mode: generic fallback, {reason}",
            interface.mode
        )),
        (None, Some(reason)) => parts.push(format!("{} mode: {reason}", interface.mode)),
        (None, None) => parts.push(format!("{} mode", interface.mode)),
    }
    if let Some(bridge) = &interface.port_of {
        parts.push(format!("port of {bridge}"));
    }
    format!("{} ({})", interface.name, parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interface_line_says_kind_mode_fallback_and_bridge() {
        let bridge = AttachedInterface {
            name: "br-7d86d31b1478".into(),
            ifindex: 4,
            mode: "skb".into(),
            kind: Some("bridge".into()),
            port_of: None,
            generic_fallback: Some("the bridge driver has no native XDP".into()),
            hook_reason: None,
        };
        assert_eq!(
            describe(&bridge),
            "br-7d86d31b1478 (bridge, skb mode: generic fallback, the bridge driver has no native XDP)"
        );
        let port = AttachedInterface {
            name: "veth5e1a0c2".into(),
            ifindex: 10,
            mode: "tc".into(),
            kind: Some("veth".into()),
            port_of: Some("br-7d86d31b1478".into()),
            generic_fallback: None,
            hook_reason: Some("native XDP on a veth turns off the peer's offload".into()),
        };
        assert_eq!(
            describe(&port),
            "veth5e1a0c2 (veth, tc mode: native XDP on a veth turns off the peer's offload, port of br-7d86d31b1478)"
        );
        let persisted = AttachedInterface {
            name: "eth0".into(),
            ifindex: 2,
            mode: "native".into(),
            ..AttachedInterface::default()
        };
        assert_eq!(describe(&persisted), "eth0 (native mode)");
    }
}

//! Building labs: namespaces, veth pairs and bridges with addresses, all torn down when the
//! `Lab` drops.

use std::{collections::HashMap, net::Ipv4Addr, process::Command};

use crate::{
    Bridge, Host, LabError, Netns, Result,
    addressing::{HostAddresses, IPV4_PREFIX_LEN, IPV6_PREFIX_LEN, host_addresses, mac_string},
    is_root,
    naming::{LabId, interface_name, validate_role},
    run_checked,
};

/// A set of lab namespaces and the links between them; dropping it (also
/// while a test panics) deletes the namespaces and with them every veth and
/// bridge inside.
#[derive(Debug)]
pub struct Lab {
    id: LabId,
    namespaces: Vec<Netns>,
    /// Interfaces created so far, per namespace name, to number the next one.
    interface_counts: HashMap<String, u16>,
    segments: u16,
    bridges: u16,
}

impl Lab {
    /// An empty lab. Fails with [`LabError::NotRoot`] unless run as root.
    pub fn new() -> Result<Self> {
        if !is_root() {
            return Err(LabError::NotRoot);
        }
        Ok(Self {
            id: LabId::next(),
            namespaces: Vec::new(),
            interface_counts: HashMap::new(),
            segments: 0,
            bridges: 0,
        })
    }

    /// The namespaces created so far, oldest first.
    pub fn namespaces(&self) -> &[Netns] {
        &self.namespaces
    }

    /// A new namespace with loopback up and IPv6 duplicate address detection
    /// off, so addresses work the moment they are added. `role` (1 to 10
    /// characters from a-z, 0-9) names the namespace and its interfaces.
    pub fn add_netns(&mut self, role: &str) -> Result<Netns> {
        validate_role(role)?;
        let netns = Netns::new(self.id.namespace_name(role), role);
        run_checked(Command::new("ip").args(["netns", "add", netns.name()]))?;
        self.namespaces.push(netns.clone());
        run_checked(netns.ip().args(["link", "set", "lo", "up"]))?;
        disable_dad(&netns)?;
        Ok(netns)
    }

    /// A veth pair from `a` to `b` on a segment of its own; `a` gets host
    /// number 1 on it, `b` number 2.
    pub fn add_veth_pair(&mut self, a: &Netns, b: &Netns) -> Result<(Host, Host)> {
        let segment = self.new_segment()?;
        let (a_addresses, b_addresses) = (host_addresses(segment, 1)?, host_addresses(segment, 2)?);
        let (a_interface, b_interface) = (self.next_interface(a), self.next_interface(b));
        run_checked(
            a.ip()
                .args(["link", "add", &a_interface])
                .args(["address", &mac_string(a_addresses.mac)])
                .args(["type", "veth", "peer", "name", &b_interface])
                .args(["address", &mac_string(b_addresses.mac)])
                .args(["netns", b.name()]),
        )?;
        Ok((
            configure_host(a, a_interface, a_addresses)?,
            configure_host(b, b_interface, b_addresses)?,
        ))
    }

    /// A Linux bridge inside `netns`, the switch of a new segment.
    pub fn add_bridge(&mut self, netns: &Netns) -> Result<Bridge> {
        let segment = self.new_segment()?;
        let name = self.id.bridge_name(self.bridges);
        self.bridges += 1;
        // No multicast querier runs in a lab, so MLD snooping would only make
        // IPv6 neighbour discovery depend on when reports happened to arrive.
        run_checked(netns.ip().args([
            "link",
            "add",
            &name,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]))?;
        run_checked(netns.ip().args(["link", "set", &name, "up"]))?;
        Ok(Bridge {
            netns: netns.clone(),
            name,
            segment,
            next_host: 1,
        })
    }

    /// Plugs `netns` into `bridge` through a new veth pair, the next host
    /// number on the bridge's segment.
    pub fn plug(&mut self, bridge: &mut Bridge, netns: &Netns) -> Result<Host> {
        self.plug_port(bridge, netns).map(|(_, host)| host)
    }

    /// [`Lab::plug`], also returning the name of the bridge port: the veth end
    /// in the bridge's namespace, which [`Lab::unplug`] deletes again.
    pub fn plug_port(&mut self, bridge: &mut Bridge, netns: &Netns) -> Result<(String, Host)> {
        let addresses = host_addresses(bridge.segment, bridge.next_host)?;
        let port = self.next_interface(&bridge.netns);
        let interface = self.next_interface(netns);
        run_checked(
            bridge
                .netns
                .ip()
                .args([
                    "link", "add", &port, "type", "veth", "peer", "name", &interface,
                ])
                .args(["address", &mac_string(addresses.mac)])
                .args(["netns", netns.name()]),
        )?;
        run_checked(
            bridge
                .netns
                .ip()
                .args(["link", "set", &port, "master", &bridge.name, "up"]),
        )?;
        bridge.next_host += 1;
        Ok((port, configure_host(netns, interface, addresses)?))
    }

    /// Deletes a bridge port made by [`Lab::plug_port`], and with it the veth
    /// pair: the host behind it is cut off, as when Docker stops a container.
    pub fn unplug(&mut self, bridge: &Bridge, port: &str) -> Result<()> {
        run_checked(bridge.netns.ip().args(["link", "del", port])).map(drop)
    }

    /// Gives the bridge itself the next host number on its segment, as Docker
    /// gives a network's bridge the gateway address; returns the IPv4 one.
    pub fn address_bridge(&mut self, bridge: &mut Bridge) -> Result<Ipv4Addr> {
        let addresses = host_addresses(bridge.segment, bridge.next_host)?;
        let ipv4 = format!("{}/{IPV4_PREFIX_LEN}", addresses.ipv4);
        let ipv6 = format!("{}/{IPV6_PREFIX_LEN}", addresses.ipv6);
        let ip = || bridge.netns.ip();
        run_checked(ip().args(["addr", "add", &ipv4, "dev", &bridge.name]))?;
        run_checked(ip().args(["addr", "add", &ipv6, "dev", &bridge.name, "nodad"]))?;
        bridge.next_host += 1;
        Ok(addresses.ipv4)
    }

    fn new_segment(&mut self) -> Result<u8> {
        let segment = u8::try_from(self.segments).map_err(|_| LabError::TooManySegments)?;
        self.segments += 1;
        Ok(segment)
    }

    fn next_interface(&mut self, netns: &Netns) -> String {
        let count = self
            .interface_counts
            .entry(netns.name().to_owned())
            .or_default();
        // Cannot overflow: at most 256 segments of 254 hosts each.
        let name = interface_name(netns.role(), *count);
        *count += 1;
        name
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for netns in self.namespaces.iter().rev() {
            let deleted = run_checked(Command::new("ip").args(["netns", "del", netns.name()]));
            // Someone else (lab-clean, a test) may have deleted it already.
            if let Err(error) = deleted
                && netns.path().exists()
            {
                eprintln!("scanguard-lab: could not delete {}: {error}", netns.name());
            }
        }
    }
}

/// DAD would keep new IPv6 addresses tentative for a second or more. Writes
/// /proc/sys/net from inside the namespace, where it is that namespace's.
fn disable_dad(netns: &Netns) -> Result<()> {
    let _inside = netns.enter()?;
    for scope in ["all", "default"] {
        let path = format!("/proc/sys/net/ipv6/conf/{scope}/accept_dad");
        std::fs::write(&path, "0").map_err(|source| LabError::Io {
            what: format!("write {path} in {}", netns.name()),
            source,
        })?;
    }
    Ok(())
}

/// Addresses `interface` in `netns` and brings it up.
fn configure_host(netns: &Netns, interface: String, addresses: HostAddresses) -> Result<Host> {
    let ipv4 = format!("{}/{IPV4_PREFIX_LEN}", addresses.ipv4);
    let ipv6 = format!("{}/{IPV6_PREFIX_LEN}", addresses.ipv6);
    run_checked(netns.ip().args(["addr", "add", &ipv4, "dev", &interface]))?;
    run_checked(
        netns
            .ip()
            .args(["addr", "add", &ipv6, "dev", &interface, "nodad"]),
    )?;
    run_checked(netns.ip().args(["link", "set", &interface, "up"]))?;
    Ok(Host {
        netns: netns.clone(),
        interface,
        ipv4: addresses.ipv4,
        ipv6: addresses.ipv6,
        mac: addresses.mac,
    })
}

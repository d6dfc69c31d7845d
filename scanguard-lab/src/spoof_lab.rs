use std::net::Ipv4Addr;

use crate::{Bridge, Host, Lab, Netns, Result};

/// The topology of the spoofing tests and demo: a LAN switch (a bridge in its own `switch`
/// namespace) with the `victim`, an `attacker`, a benign `client` and a `gateway` on it; behind
/// the gateway, on a segment of its own, the `internet` namespace, which holds an off-link
/// "resolver" address the victim reaches through the gateway (its default route); a second
/// interface on the victim towards a `side` host; and on the victim a Docker-like bridge with
/// two "containers".
///
/// Addresses: LAN 10.77.0.0/24 and fd77::/64 (victim .1, attacker .2, client .3, gateway .4);
/// behind the gateway 10.77.1.0/24 (gateway .1, internet .2); the side segment 10.77.2.0/24
/// (victim .1, side .2); the container bridge 10.77.3.0/24 (the victim's bridge .1, containers
/// .2 and .3), each with its fd77:0:0:s::/64 twin.
#[derive(Debug)]
pub struct SpoofLab {
    pub victim: Host,
    pub attacker: Host,
    pub client: Host,
    /// The gateway's LAN side.
    pub gateway: Host,
    /// The namespace behind the gateway, holding the resolver address.
    pub internet: Host,
    /// The victim's second interface, and the host at its other end.
    pub victim_side: Host,
    pub side: Host,
    /// The switch of the LAN.
    pub switch: Bridge,
    /// The Docker-like bridge on the victim, its address the victim's.
    pub containers: Bridge,
    /// The victim's address on it, the containers' gateway.
    pub containers_gateway: Ipv4Addr,
    /// The containers on it, and their ports (in the victim's namespace).
    pub container_a: Host,
    pub container_a_port: String,
    pub container_b: Host,
    pub container_b_port: String,
    lab: Lab,
}

impl SpoofLab {
    /// Builds the topology in a new [`Lab`]; dropping the result tears it down.
    pub fn build() -> Result<Self> {
        let mut lab = Lab::new()?;
        let switch_ns = lab.add_netns("switch")?;
        let mut switch = lab.add_bridge(&switch_ns)?;
        let mut plug_new = |lab: &mut Lab, role: &str| -> Result<Host> {
            let netns = lab.add_netns(role)?;
            lab.plug(&mut switch, &netns)
        };
        let victim = plug_new(&mut lab, "victim")?;
        let attacker = plug_new(&mut lab, "attacker")?;
        let client = plug_new(&mut lab, "client")?;
        let gateway = plug_new(&mut lab, "gateway")?;
        let internet_ns = lab.add_netns("internet")?;
        let (gateway_out, internet) = lab.add_veth_pair(&gateway.netns, &internet_ns)?;
        let side_ns = lab.add_netns("side")?;
        let (victim_side, side) = lab.add_veth_pair(&victim.netns, &side_ns)?;
        let mut containers = lab.add_bridge(&victim.netns)?;
        let containers_gateway = lab.address_bridge(&mut containers)?;
        let mut container = |lab: &mut Lab, role: &str| -> Result<(String, Host)> {
            let netns = lab.add_netns(role)?;
            lab.plug_port(&mut containers, &netns)
        };
        let (container_a_port, container_a) = container(&mut lab, "ctra")?;
        let (container_b_port, container_b) = container(&mut lab, "ctrb")?;

        // The gateway routes between the LAN and the internet segment, and sends what it does
        // not know (random sources' replies) there; the internet side comes back through it.
        forward(
            &gateway.netns,
            &[&gateway.interface, &gateway_out.interface],
        )?;
        default_routes(&gateway.netns, &internet)?;
        default_routes(&internet.netns, &host_number(&internet, 1))?;
        default_routes(&victim.netns, &gateway)?;
        for inside in [&container_a, &container_b] {
            default_routes(&inside.netns, &host_number(inside, 1))?;
        }
        Ok(Self {
            victim,
            attacker,
            client,
            gateway,
            internet,
            victim_side,
            side,
            switch,
            containers,
            containers_gateway,
            container_a,
            container_a_port,
            container_b,
            container_b_port,
            lab,
        })
    }

    /// The lab underneath, e.g. to list its namespaces.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }
}

/// The addresses of host number `number` on `host`'s segment (the gateway of a container, the
/// gateway's side of the internet segment).
fn host_number(host: &Host, number: u8) -> Host {
    let [a, b, c, _] = host.ipv4.octets();
    let mut v6 = host.ipv6.segments();
    v6[7] = number.into();
    Host {
        ipv4: [a, b, c, number].into(),
        ipv6: v6.into(),
        ..host.clone()
    }
}

/// Default routes, both families, via `via`'s addresses.
fn default_routes(netns: &Netns, via: &Host) -> Result<()> {
    netns.add_default_route(via.ipv4.into())?;
    netns.add_default_route(via.ipv6.into())
}

/// A router: forwarding on, and no reverse-path filter on `interfaces` (the effective filter
/// is the larger of `all` and the interface's), so it passes the forged sources of the tests'
/// floods as a careless ISP would.
fn forward(netns: &Netns, interfaces: &[&str]) -> Result<()> {
    let _inside = netns.enter()?;
    write(netns, "/proc/sys/net/ipv4/ip_forward", "1")?;
    write(netns, "/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
    for scope in ["all", "default"].iter().chain(interfaces) {
        write(
            netns,
            &format!("/proc/sys/net/ipv4/conf/{scope}/rp_filter"),
            "0",
        )?;
    }
    Ok(())
}

fn write(netns: &Netns, setting: &str, value: &str) -> Result<()> {
    std::fs::write(setting, value).map_err(|source| crate::LabError::Io {
        what: format!("write {setting} in {}", netns.name()),
        source,
    })
}

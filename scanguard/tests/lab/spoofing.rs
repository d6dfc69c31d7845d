//! Spoof-proof bans (docs/spoofing.md): a probe bans its source only if the route back to that
//! source vouches for the frame's sender.
//!
//! Two tiers. BPF_PROG_TEST_RUN runs with an ingress interface (`ctx_in`) inside a namespace
//! whose neighbour table and routes the test writes: every verdict of the route back, exactly.
//! Then the real tools in a lab with a switch, a gateway and an off-link resolver behind it, a
//! second interface and a Docker-like bridge on the victim: hping3 and nmap forging the
//! client's and the resolver's addresses, decoys, IPv6, containers, and random-source floods
//! from the LAN and through the gateway.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    thread,
    time::Duration,
};

use aya::{
    Ebpf,
    maps::{HashMap, MapData, PerCpuArray, PerfEventArray, perf::PerfEvent},
    programs::{TestRun as _, TestRunOptions},
};
use scanguard::{
    bpf::program::{self, HostFacts},
    config::settings::Settings,
    daemon::source_check::{bridge_ports::BridgePorts, lookups},
    events::reader,
    host::{interfaces, links::Link},
};
use scanguard_common::{
    addr::AddrKey,
    ban::{BANS_MAP, Ban},
    classify::SYN,
    counters::{COUNTERS_MAP, Counter, Counters, counter_slot},
    event::{EVENT_SPOOFED, EVENT_UNVERIFIED, EVENTS_MAP, Event},
    kind::Kind,
    source_check::{NEIGHBOUR_SETTLE_NS, NEIGHBOURS_MAP, Neighbour, mac_word},
};
use scanguard_lab::{
    Host, Lab, NetnsGuard, SpoofLab,
    daemon::Daemon,
    frames::FrameBuilder,
    run_checked,
    traffic::{hping3, serve, talk},
    wait_until,
};

use crate::support::lab::{ConfigFile, SCANGUARD, SERVICE, require_root};

/// XDP_DROP and XDP_PASS (include/uapi/linux/bpf.h).
const DROP: u32 = 1;
const PASS: u32 = 2;
/// The discard port: nothing listens, nothing is watched.
const PROBED: u16 = 9;
const SCANNER_PORT: u16 = 40_000;
/// MACs that no lab host has.
const ATTACKER_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 0x66];
const GATEWAY_MAC: [u8; 6] = [0x02, 0x77, 0, 0, 0, 0xfe];

// ---------------------------------------------------------------------------------------------
// BPF_PROG_TEST_RUN with an ingress interface

/// A victim namespace for test runs: a LAN veth whose neighbour table holds a client and a
/// gateway, routes beyond that gateway, a second interface, and a bridge with a container's
/// port. Loopback forwarding on, as the daemon sets it.
struct RouteLab {
    /// Holds the namespaces until the test ends.
    _lab: Lab,
    lan: Host,
    side: Host,
    bridge: String,
    /// The container's port on the bridge, and the container.
    port: String,
    container: Host,
}

/// The neighbours the route lab knows, by host number on the LAN.
const CLIENT: u8 = 3;
const ALSO_KNOWN: u8 = 4;
/// On the LAN, unknown to the neighbour table.
const STRANGER: u8 = 77;
const GATEWAY: u8 = 254;

impl RouteLab {
    fn build() -> RouteLab {
        require_root();
        let mut lab = Lab::new().expect("lab");
        let victim = lab.add_netns("victim").expect("victim namespace");
        let peer = lab.add_netns("peer").expect("peer namespace");
        let (lan, _) = lab.add_veth_pair(&victim, &peer).expect("LAN veth");
        let other = lab.add_netns("other").expect("other namespace");
        let (side, _) = lab
            .add_veth_pair(&victim, &other)
            .expect("second interface");
        let mut bridge = lab.add_bridge(&victim).expect("bridge");
        lab.address_bridge(&mut bridge).expect("bridge address");
        let inside = lab.add_netns("ctr").expect("container namespace");
        let (port, container) = lab.plug_port(&mut bridge, &inside).expect("container");
        let route_lab = RouteLab {
            bridge: bridge.name().to_string(),
            _lab: lab,
            lan,
            side,
            port,
            container,
        };
        for n in [CLIENT, ALSO_KNOWN, GATEWAY] {
            for address in [route_lab.v4(n), route_lab.v6(n)] {
                route_lab.neighbour(address, mac(n), &route_lab.lan.interface);
            }
        }
        let container_mac = route_lab.container.mac;
        let bridge_name = route_lab.bridge.clone();
        route_lab.neighbour(route_lab.container.ipv4.into(), container_mac, &bridge_name);
        route_lab.neighbour(route_lab.container.ipv6.into(), container_mac, &bridge_name);
        // The resolver's networks, beyond the gateway; nothing else is routed.
        route_lab.ip(&["route", "add", "192.0.2.0/24", "via", "10.77.0.254"]);
        route_lab.ip(&["-6", "route", "add", "2001:db8:53::/48", "via", "fd77::fe"]);
        let _inside = route_lab.enter();
        assert!(lookups::enable(), "loopback forwarding in the victim");
        drop(_inside);
        route_lab
    }

    fn v4(&self, n: u8) -> IpAddr {
        Ipv4Addr::new(10, 77, 0, n).into()
    }

    fn v6(&self, n: u8) -> IpAddr {
        Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, n.into()).into()
    }

    fn ip(&self, args: &[&str]) {
        run_checked(self.lan.netns.ip().args(args)).expect("ip in the victim");
    }

    fn neighbour(&self, address: IpAddr, mac: [u8; 6], device: &str) {
        let mac = mac.map(|byte| format!("{byte:02x}")).join(":");
        let address = address.to_string();
        self.ip(&[
            "neigh",
            "replace",
            &address,
            "lladdr",
            &mac,
            "dev",
            device,
            "nud",
            "permanent",
        ]);
    }

    fn enter(&self) -> NetnsGuard {
        self.lan.enter().expect("enter the victim")
    }

    fn ifindex(&self, name: &str) -> u32 {
        let _inside = self.enter();
        interfaces::ifindex(name).expect("an interface of the victim")
    }
}

/// The MAC of host number `n` (the lab's scheme, [`GATEWAY_MAC`] for the gateway).
fn mac(n: u8) -> [u8; 6] {
    match n {
        GATEWAY => GATEWAY_MAC,
        n => [0x02, 0x77, 0, 0, 0, n],
    }
}

/// A program loaded as the daemon loads it once loopback takes lookups.
struct Verifying {
    ebpf: Ebpf,
}

impl Verifying {
    fn load(settings: &Settings) -> Verifying {
        let host = HostFacts {
            source_lookups: true,
            ..HostFacts::default()
        };
        let ebpf = program::load_on_host(settings, &host, None, aya_log::Level::Warn)
            .unwrap_or_else(|error| panic!("loading scanguard: {error:#}"));
        Verifying { ebpf }
    }

    /// One run over `frame` as if it came in on `ingress`; the caller is in its namespace.
    fn run(&mut self, frame: &[u8], ingress: u32) -> u32 {
        // struct xdp_md (include/uapi/linux/bpf.h): data, data_end, data_meta,
        // ingress_ifindex, rx_queue_index, egress_ifindex.
        let mut xdp_md = [0u8; 24];
        xdp_md[4..8].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        xdp_md[12..16].copy_from_slice(&ingress.to_ne_bytes());
        let xdp = program::xdp(&mut self.ebpf).expect("the program");
        xdp.test_run(TestRunOptions {
            data_in: Some(frame),
            ctx_in: Some(&xdp_md),
            repeat: 1,
            ..Default::default()
        })
        .unwrap_or_else(|error| panic!("BPF_PROG_TEST_RUN on ifindex {ingress}: {error}"))
        .return_value
    }

    fn ban(&self, address: IpAddr) -> Option<Ban> {
        let map = self.ebpf.map(BANS_MAP).expect("BANS");
        let bans: HashMap<&MapData, AddrKey, Ban> = HashMap::try_from(map).expect("a hash map");
        bans.get(&AddrKey::from(address), 0).ok()
    }

    fn count(&self, counter: Counter) -> u64 {
        let map = self.ebpf.map(COUNTERS_MAP).expect("COUNTERS");
        let counters: PerCpuArray<&MapData, Counters> =
            PerCpuArray::try_from(map).expect("a per-CPU array");
        let per_cpu = counters.get(&0, 0).expect("COUNTERS[0]");
        per_cpu.iter().map(|cpu| cpu[counter_slot(counter)]).sum()
    }

    /// Opens the perf buffers; the events written from then on come out of the closure.
    fn events(&mut self) -> impl FnMut() -> Vec<Event> + use<> {
        let map = self.ebpf.take_map(EVENTS_MAP).expect("EVENTS");
        let mut array = PerfEventArray::try_from(map).expect("a perf event array");
        let mut buffers: Vec<_> = reader::open_per_cpu(&mut array, None)
            .expect("perf buffers")
            .into_iter()
            .map(|(_, buffer)| buffer)
            .collect();
        move || {
            let mut events = Vec::new();
            for buffer in &mut buffers {
                buffer.for_each(|sample| {
                    if let PerfEvent::Sample { head, tail } = sample {
                        events.push(reader::decode(head, tail).expect("a whole event"));
                    }
                });
            }
            events
        }
    }
}

/// A NULL probe from `src` (sent by `sender`) to the victim's LAN address of its family.
fn null_probe(src: IpAddr, sender: [u8; 6]) -> Vec<u8> {
    probe(src, sender, PROBED, 0)
}

fn probe(src: IpAddr, sender: [u8; 6], port: u16, flags: u8) -> Vec<u8> {
    let dst: IpAddr = match src {
        IpAddr::V4(_) => Ipv4Addr::new(10, 77, 0, 1).into(),
        IpAddr::V6(_) => Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 1).into(),
    };
    sent_by(
        FrameBuilder::new(src, dst).tcp(SCANNER_PORT, port, flags),
        sender,
    )
}

/// The frame with `sender` as its source MAC.
fn sent_by(builder: FrameBuilder, sender: [u8; 6]) -> Vec<u8> {
    let mut frame = builder.build();
    frame[6..12].copy_from_slice(&sender);
    frame
}

/// Every verdict of the route back, for one family: `at(n)` is host number `n` on the LAN,
/// `beyond(n)` an address behind the gateway, `unrouted` one with no route at all.
fn the_route_back_decides(
    at: fn(&RouteLab, u8) -> IpAddr,
    beyond: fn(u8) -> IpAddr,
    unrouted: IpAddr,
) {
    let route_lab = RouteLab::build();
    let (lan, side) = (
        route_lab.ifindex(&route_lab.lan.interface),
        route_lab.ifindex(&route_lab.side.interface),
    );
    let mut scanguard = Verifying::load(&Settings::default());
    let mut events = scanguard.events();
    let _inside = route_lab.enter();
    let client = at(&route_lab, CLIENT);
    let known = at(&route_lab, ALSO_KNOWN);
    let stranger = at(&route_lab, STRANGER);
    let tagged = sent_by(
        FrameBuilder::new(known, at(&route_lab, 1))
            .vlan(42)
            .tcp(SCANNER_PORT, PROBED, 0),
        mac(ALSO_KNOWN),
    );
    let cases: [(&str, Vec<u8>, u32, Option<u8>); 8] = [
        (
            "the client itself",
            null_probe(client, mac(CLIENT)),
            lan,
            None,
        ),
        (
            "the client forged",
            null_probe(known, ATTACKER_MAC),
            lan,
            Some(EVENT_SPOOFED),
        ),
        (
            "beyond the gateway, from it",
            null_probe(beyond(1), GATEWAY_MAC),
            lan,
            None,
        ),
        (
            "beyond the gateway, forged",
            null_probe(beyond(2), ATTACKER_MAC),
            lan,
            Some(EVENT_SPOOFED),
        ),
        (
            "on the wrong interface",
            null_probe(known, mac(ALSO_KNOWN)),
            side,
            Some(EVENT_SPOOFED),
        ),
        (
            "no neighbour entry",
            null_probe(stranger, ATTACKER_MAC),
            lan,
            Some(EVENT_UNVERIFIED),
        ),
        (
            "no route",
            null_probe(unrouted, ATTACKER_MAC),
            lan,
            Some(EVENT_UNVERIFIED),
        ),
        ("VLAN-tagged", tagged, lan, Some(EVENT_UNVERIFIED)),
    ];
    for (what, frame, ingress, refused) in &cases {
        assert_eq!(
            scanguard.run(frame, *ingress),
            DROP,
            "{what}: a probe is dropped"
        );
        let src = frame_source(frame);
        let banned = scanguard.ban(src);
        match refused {
            None => assert!(banned.is_some(), "{what}: {src} is banned"),
            Some(_) => assert_eq!(banned, None, "{what}: {src} is not banned"),
        }
        let sent = events();
        let event = sent.first().unwrap_or_else(|| panic!("{what}: an event"));
        if let Some(event_type) = refused {
            assert_eq!(event.event_type, *event_type, "{what}");
            assert_eq!(event.src, AddrKey::from(src), "{what}: the claimed source");
            assert_eq!(event.eth_src, frame[6..12], "{what}: the real sender");
            assert_eq!(event.kind, Kind::NullScan as u8);
        }
        // Only an on-link source without a neighbour entry is worth asking the network about.
        let ask = if *what == "no neighbour entry" {
            lan
        } else {
            0
        };
        assert_eq!(event.ask_ifindex, ask, "{what}");
    }
    assert_eq!(scanguard.count(Counter::BansCreated), 2);
    assert_eq!(scanguard.count(Counter::Spoofed), 3);
    assert_eq!(scanguard.count(Counter::Unverified), 3);
    assert_eq!(scanguard.count(Counter::DroppedProbe), 8);

    // Without forwarding on loopback the kernel answers no lookup: nobody is banned.
    std::fs::write("/proc/sys/net/ipv4/conf/lo/forwarding", "0").expect("loopback forwarding");
    std::fs::write("/proc/sys/net/ipv6/conf/lo/forwarding", "0").expect("loopback forwarding");
    let client_again = null_probe(at(&route_lab, GATEWAY), GATEWAY_MAC);
    assert_eq!(scanguard.run(&client_again, lan), DROP);
    assert_eq!(scanguard.ban(at(&route_lab, GATEWAY)), None);
    assert_eq!(scanguard.count(Counter::Unverified), 4);
}

/// The source address of a crafted frame, tagged or not.
fn frame_source(frame: &[u8]) -> IpAddr {
    let parsed = scanguard_common::parse::parse(frame).expect("a crafted frame");
    parsed.src.address()
}

#[test]
fn the_route_back_decides_over_ipv4() {
    the_route_back_decides(
        RouteLab::v4,
        |n| Ipv4Addr::new(192, 0, 2, 52 + n).into(),
        Ipv4Addr::new(203, 0, 113, 9).into(),
    );
}

#[test]
fn the_route_back_decides_over_ipv6() {
    the_route_back_decides(
        RouteLab::v6,
        |n| Ipv6Addr::new(0x2001, 0xdb8, 0x53, 0, 0, 0, 0, n.into()).into(),
        Ipv6Addr::new(0x2001, 0xdb8, 0x99, 0, 0, 0, 0, 9).into(),
    );
}

#[test]
fn a_bridge_port_speaks_for_its_bridge() {
    let route_lab = RouteLab::build();
    let (port, bridge) = (
        route_lab.ifindex(&route_lab.port),
        route_lab.ifindex(&route_lab.bridge),
    );
    let mut scanguard = Verifying::load(&Settings::default());
    let container = &route_lab.container;
    let to_bridge = |src: IpAddr| {
        let dst: IpAddr = match src {
            IpAddr::V4(_) => Ipv4Addr::new(10, 77, 2, 1).into(),
            IpAddr::V6(_) => Ipv6Addr::new(0xfd77, 0, 0, 2, 0, 0, 0, 1).into(),
        };
        sent_by(
            FrameBuilder::new(src, dst).tcp(SCANNER_PORT, PROBED, 0),
            container.mac,
        )
    };
    let _inside = route_lab.enter();
    // The route names the bridge; the frame comes in on the port. Unknown as a port: forged.
    assert_eq!(scanguard.run(&to_bridge(container.ipv4.into()), port), DROP);
    assert_eq!(scanguard.ban(container.ipv4.into()), None);
    assert_eq!(scanguard.count(Counter::Spoofed), 1);
    let mut ports = BridgePorts::of(&scanguard.ebpf).expect("the BRIDGE_PORTS map");
    ports.attached(&Link {
        ifindex: port,
        name: route_lab.port.clone(),
        master: Some(bridge),
        ..Link::default()
    });
    assert_eq!(ports.entries().expect("entries"), [(port, bridge)]);
    for src in [IpAddr::from(container.ipv4), container.ipv6.into()] {
        assert_eq!(scanguard.run(&to_bridge(src), port), DROP);
        assert!(
            scanguard.ban(src).is_some(),
            "{src}, from its own port, is banned"
        );
    }
    // Another container's address from this port is forged.
    let neighbour = Ipv4Addr::new(10, 77, 2, 3);
    route_lab.neighbour(
        neighbour.into(),
        [0x02, 0x77, 0, 0, 2, 3],
        &route_lab.bridge,
    );
    assert_eq!(scanguard.run(&to_bridge(neighbour.into()), port), DROP);
    assert_eq!(scanguard.ban(neighbour.into()), None);
    assert_eq!(scanguard.count(Counter::Spoofed), 2);
    ports.released(port);
    assert_eq!(ports.entries().expect("entries"), []);
}

#[test]
fn forged_records_never_fill_a_sweep_sketch() {
    let route_lab = RouteLab::build();
    let lan = route_lab.ifindex(&route_lab.lan.interface);
    let mut scanguard = Verifying::load(&Settings::default());
    let _inside = route_lab.enter();
    let client = route_lab.v4(CLIENT);
    let syn = |port, sender| probe(client, sender, port, SYN);
    // A forger sends the client's SYNs to ten closed ports: passed, nothing recorded.
    for port in 2001..=2010 {
        assert_eq!(scanguard.run(&syn(port, ATTACKER_MAC), lan), PASS);
    }
    // The client's own connection attempts to seven of them are no sweep...
    for port in 2001..=2007 {
        assert_eq!(scanguard.run(&syn(port, mac(CLIENT)), lan), PASS);
    }
    // ...and forged records between them are not counted either.
    for port in 3001..=3005 {
        assert_eq!(scanguard.run(&syn(port, ATTACKER_MAC), lan), PASS);
    }
    assert_eq!(scanguard.ban(client), None, "seven ports of its own");
    // Its eighth distinct port is.
    assert_eq!(scanguard.run(&syn(2008, mac(CLIENT)), lan), DROP);
    let ban = scanguard.ban(client).expect("a sweep of its own bans it");
    assert_eq!(ban.reason, Kind::PortSweep as u8);
    assert_eq!(scanguard.count(Counter::Spoofed), 0, "no probe was forged");
}

#[test]
fn a_neighbour_entry_that_just_changed_vouches_for_no_one() {
    let route_lab = RouteLab::build();
    let lan = route_lab.ifindex(&route_lab.lan.interface);
    let mut scanguard = Verifying::load(&Settings::default());
    let mut seen = |address: IpAddr, mac: [u8; 6], changed_ns: u64| {
        let map = scanguard.ebpf.map_mut(NEIGHBOURS_MAP).expect("NEIGHBOURS");
        let mut map: HashMap<&mut MapData, AddrKey, Neighbour> =
            HashMap::try_from(map).expect("an LRU hash map");
        let entry = Neighbour {
            mac: mac_word(mac),
            changed_ns,
        };
        map.insert(AddrKey::from(address), entry, 0)
            .expect("a neighbour");
    };
    let (client, known) = (route_lab.v4(CLIENT), route_lab.v4(ALSO_KNOWN));
    // The kernel's entry names the sender, but the daemon last saw another MAC there: the
    // entry was overwritten a moment ago (nmap -6 -S does it with its neighbour solicitation).
    seen(client, ATTACKER_MAC, 0);
    // The daemon saw the change, less than a minute ago.
    let now = scanguard::bpf::clock::boot_ns();
    seen(known, mac(ALSO_KNOWN), now);
    // The gateway changed its MAC long ago.
    seen(
        route_lab.v4(GATEWAY),
        GATEWAY_MAC,
        now - NEIGHBOUR_SETTLE_NS - 1,
    );
    let _inside = route_lab.enter();
    for (src, sender) in [(client, mac(CLIENT)), (known, mac(ALSO_KNOWN))] {
        assert_eq!(scanguard.run(&null_probe(src, sender), lan), DROP);
        assert_eq!(scanguard.ban(src), None, "{src} is not banned");
    }
    assert_eq!(scanguard.count(Counter::Unverified), 2);
    let beyond = IpAddr::from(Ipv4Addr::new(192, 0, 2, 9));
    assert_eq!(scanguard.run(&null_probe(beyond, GATEWAY_MAC), lan), DROP);
    assert!(
        scanguard.ban(beyond).is_some(),
        "a settled next hop vouches again"
    );
}

#[test]
fn without_verification_a_forged_probe_bans_as_before() {
    let route_lab = RouteLab::build();
    let lan = route_lab.ifindex(&route_lab.lan.interface);
    let mut scanguard = Verifying::load(&Settings {
        verify_source: false,
        ..Settings::default()
    });
    let _inside = route_lab.enter();
    let client = route_lab.v4(CLIENT);
    assert_eq!(scanguard.run(&null_probe(client, ATTACKER_MAC), lan), DROP);
    assert!(scanguard.ban(client).is_some());
    assert_eq!(scanguard.count(Counter::Spoofed), 0);
}

#[test]
fn the_reserve_bans_a_source_the_spent_budget_turned_away() {
    let route_lab = RouteLab::build();
    let lan = route_lab.ifindex(&route_lab.lan.interface);
    let mut scanguard = Verifying::load(&Settings {
        bans_per_second: 1,
        reserved_bans_per_second: 1,
        ..Settings::default()
    });
    let _inside = route_lab.enter();
    // A flood from behind the gateway: each source once, every frame with the gateway's MAC.
    let source = |n: u8| IpAddr::from(Ipv4Addr::new(192, 0, 2, n));
    for n in 1..=10 {
        assert_eq!(
            scanguard.run(&null_probe(source(n), GATEWAY_MAC), lan),
            DROP
        );
    }
    assert_eq!(scanguard.count(Counter::BansCreated), 1);
    assert_eq!(scanguard.count(Counter::BansCapped), 9);
    // A scanner among them probes again: the reserve bans it.
    assert_eq!(scanguard.ban(source(7)), None);
    assert_eq!(
        scanguard.run(&null_probe(source(7), GATEWAY_MAC), lan),
        DROP
    );
    assert!(
        scanguard.ban(source(7)).is_some(),
        "the returning source is banned"
    );
    assert_eq!(scanguard.count(Counter::BansReserved), 1);
    // The reserve is a budget too: one a second here.
    assert_eq!(
        scanguard.run(&null_probe(source(8), GATEWAY_MAC), lan),
        DROP
    );
    assert_eq!(scanguard.ban(source(8)), None);
    // A source never seen before draws nothing from it.
    assert_eq!(
        scanguard.run(&null_probe(source(11), GATEWAY_MAC), lan),
        DROP
    );
    assert_eq!(scanguard.ban(source(11)), None);
    assert_eq!(scanguard.count(Counter::BansReserved), 1);
}

// ---------------------------------------------------------------------------------------------
// Real tools in a lab

/// The resolver's service, behind the gateway.
const RESOLVER_PORT: u16 = 53;

/// The spoofing lab with scanguard on the victim's LAN interface, its second interface and the
/// container bridge; the victim serves [`SERVICE`], the resolver [`RESOLVER_PORT`], and the
/// client and the victim have talked to them.
fn protected_lab(config: Option<&ConfigFile>) -> (SpoofLab, Daemon) {
    require_root();
    let spoof = SpoofLab::build().expect("spoofing lab");
    serve(&spoof.victim, SERVICE);
    serve(&spoof.internet, RESOLVER_PORT);
    let mut args = vec![
        spoof.victim.interface.clone(),
        spoof.victim_side.interface.clone(),
        spoof.containers.name().to_string(),
    ];
    if let Some(config) = config {
        args.extend(["--config".to_string(), config.arg()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let daemon = Daemon::start(SCANGUARD, &spoof.victim, &args);
    talk(&spoof.client, spoof.victim.ipv4.into(), SERVICE).expect("the client is served");
    talk(&spoof.client, spoof.victim.ipv6.into(), SERVICE).expect("the client is served (v6)");
    talk(&spoof.victim, spoof.internet.ipv4.into(), RESOLVER_PORT).expect("the resolver answers");
    (spoof, daemon)
}

/// Waits (a little) until `condition` holds, e.g. for the daemon to have read its counters.
fn eventually(what: &str, condition: impl FnMut() -> bool) {
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(50), condition),
        "{what}"
    );
}

fn printed_with(daemon: &Daemon, needle: &str) -> Vec<String> {
    daemon
        .printed()
        .into_iter()
        .filter(|line| line.contains(needle))
        .collect()
}

#[test]
fn hping3_forging_the_client_or_the_resolver_bans_neither() {
    let (spoof, daemon) = protected_lab(None);
    let victim: IpAddr = spoof.victim.ipv4.into();
    let (client, resolver) = (
        spoof.client.ipv4.to_string(),
        spoof.internet.ipv4.to_string(),
    );
    for forged in [&client, &resolver] {
        hping3(&spoof.attacker, &["-a", forged, "-p", "9"], 3, victim);
    }
    eventually("six forged probes counted", || {
        daemon.counter("spoofed") == 6
    });
    assert!(!daemon.is_banned(spoof.client.ipv4.into()));
    assert!(!daemon.is_banned(spoof.internet.ipv4.into()));
    assert_eq!(daemon.counter("bans_created"), 0);
    talk(&spoof.client, victim, SERVICE).expect("the client is still served");
    talk(&spoof.victim, spoof.internet.ipv4.into(), RESOLVER_PORT)
        .expect("the victim still reaches the resolver");
    let attacker_mac = spoof.attacker.mac.map(|b| format!("{b:02x}")).join(":");
    eventually("the forgeries are reported with the real sender", || {
        let lines = printed_with(&daemon, "[scanguard::spoofed]");
        [&client, &resolver].iter().all(|forged| {
            lines.iter().any(|line| {
                line.contains(&format!("SRC={forged} "))
                    && line.contains(&format!("SENDER_MAC={attacker_mac}"))
                    && line.ends_with("ACTION=drop")
            })
        })
    });
    // The attacker under its own address is banned at its first probe, as ever.
    hping3(&spoof.attacker, &["-p", "9"], 1, victim);
    eventually("the attacker is banned", || {
        daemon.is_banned(spoof.attacker.ipv4.into())
    });
}

#[test]
fn nmap_decoys_ban_only_the_scanner() {
    let (spoof, daemon) = protected_lab(None);
    let decoys = format!("{},{},ME", spoof.client.ipv4, spoof.internet.ipv4);
    let output = spoof
        .attacker
        .command("nmap")
        .args([
            "-sN",
            "-n",
            "-Pn",
            "-D",
            &decoys,
            "-p",
            "9",
            "--max-retries",
            "0",
        ])
        .args(["--host-timeout", "30s"])
        .arg(spoof.victim.ipv4.to_string())
        .output()
        .expect("run nmap");
    assert!(output.status.success(), "nmap: {output:?}");
    eventually("the scanner is banned", || {
        daemon.is_banned(spoof.attacker.ipv4.into())
    });
    assert!(
        !daemon.is_banned(spoof.client.ipv4.into()),
        "the client decoy"
    );
    assert!(
        !daemon.is_banned(spoof.internet.ipv4.into()),
        "the resolver decoy"
    );
    assert_eq!(daemon.bans().len(), 1, "{:?}", daemon.bans());
    talk(&spoof.client, spoof.victim.ipv4.into(), SERVICE).expect("the client is served");
}

#[test]
fn nmap_forging_the_client_over_ipv6_bans_nobody_and_a_real_scan_is_banned() {
    let (spoof, daemon) = protected_lab(None);
    let victim = spoof.victim.ipv6.to_string();
    let nmap = |extra: &[&str]| {
        let output = spoof
            .attacker
            .command("nmap")
            .args(["-6", "-sN", "-n", "-Pn", "-p", "9", "--max-retries", "0"])
            .args(["--host-timeout", "30s"])
            .args(extra)
            .arg(&victim)
            .output()
            .expect("run nmap");
        assert!(output.status.success(), "nmap {extra:?}: {output:?}");
    };
    let client = spoof.client.ipv6.to_string();
    nmap(&["-S", &client, "-e", &spoof.attacker.interface]);
    eventually("the forged probe is refused", || {
        daemon.counter("spoofed") + daemon.counter("unverified") >= 1
    });
    assert!(!daemon.is_banned(spoof.client.ipv6.into()));
    // nmap resolved the victim from the client's address with its own MAC (see
    // `NEIGHBOURS_MAP`): the victim's IPv6 replies to the client go astray until its entry is
    // resolved again, which source verification does not repair.
    talk(&spoof.client, spoof.victim.ipv4.into(), SERVICE).expect("the client is served");
    nmap(&[]);
    eventually("the real IPv6 scanner is banned", || {
        daemon.is_banned(spoof.attacker.ipv6.into())
    });
    assert!(!daemon.is_banned(spoof.client.ipv6.into()));
}

#[test]
fn a_container_forging_its_neighbour_is_not_believed() {
    let (spoof, daemon) = protected_lab(None);
    let gateway = IpAddr::from(spoof.containers_gateway);
    // The neighbour has talked to the host, so the host knows its MAC.
    spoof
        .container_b
        .ping(gateway)
        .expect("container b reaches the host");
    let neighbour = spoof.container_b.ipv4.to_string();
    hping3(
        &spoof.container_a,
        &["-a", &neighbour, "-p", "9"],
        3,
        gateway,
    );
    eventually("the forgeries are counted", || {
        daemon.counter("spoofed") == 3
    });
    assert!(!daemon.is_banned(spoof.container_b.ipv4.into()));
    talk(&spoof.container_b, gateway, SERVICE).expect("the neighbour is still served");
    hping3(&spoof.container_a, &["-p", "9"], 1, gateway);
    eventually("the container scanning as itself is banned", || {
        daemon.is_banned(spoof.container_a.ipv4.into())
    });
}

#[test]
fn random_source_floods_leave_room_to_ban_the_real_scanners() {
    let (spoof, daemon) = protected_lab(None);
    let victim: IpAddr = spoof.victim.ipv4.into();
    const FLOOD: u32 = 4000;
    let flood_args = ["--rand-source", "-i", "u500", "-p", "9"];
    let own = ["-p", "9", "-i", "u100000"];
    let started = std::time::Instant::now();
    thread::scope(|scope| {
        // From the LAN: forged, every one (the route to a random address is the gateway's).
        scope.spawn(|| hping3(&spoof.attacker, &flood_args, FLOOD, victim));
        // Through the gateway: unverifiable, every frame carries the gateway's MAC.
        scope.spawn(|| hping3(&spoof.internet, &flood_args, FLOOD, victim));
        thread::sleep(Duration::from_millis(700));
        // The real scanners, a few probes each, while the floods go on.
        scope.spawn(|| hping3(&spoof.attacker, &own, 3, victim));
        scope.spawn(|| hping3(&spoof.internet, &own, 3, victim));
        thread::sleep(Duration::from_millis(200));
        talk(&spoof.client, victim, SERVICE).expect("the client is served during the floods");
    });
    eventually("both real scanners are banned", || {
        daemon.is_banned(spoof.attacker.ipv4.into()) && daemon.is_banned(spoof.internet.ipv4.into())
    });
    assert!(!daemon.is_banned(spoof.client.ipv4.into()));
    assert!(
        daemon.counter("spoofed") > u64::from(FLOOD) / 2,
        "the LAN flood is found forged"
    );
    assert!(
        daemon.counter("bans_capped") > 0,
        "the gateway flood met the budget"
    );
    // What the floods could ban is bounded by the budgets: a burst of 100, then 100 a second
    // while they lasted, and what the reserve gave the returning scanners.
    let seconds = started.elapsed().as_secs() + 1;
    let bans = daemon.bans().len() as u64;
    let budget = 100 + 100 * seconds + daemon.counter("bans_reserved");
    assert!(bans <= budget, "{bans} bans in {seconds} s");
    assert!(daemon.rss_kib() < 200 * 1024, "{} KiB", daemon.rss_kib());
    talk(&spoof.client, victim, SERVICE).expect("the client is served after the floods");
}

//! scanguard against a real Docker engine (scanguard_lab::DockerEngine: the engine already
//! running, else a dockerd of the test's own that is stopped again, the host put back as it
//! was). Real bridge networks and busybox containers; the daemon runs in the root network
//! namespace, where the engine's bridges and veths are, attached only to them; nmap, ping and
//! TCP run from the host's binaries inside the containers' network namespaces.

use std::{
    net::IpAddr,
    process::Command,
    time::{Duration, Instant, SystemTime},
};

use scanguard_lab::{
    DockerEngine, EngineContainer, EngineNetwork,
    daemon::Daemon,
    traffic::{nmap_port_state, tcp_connects},
    wait_until,
};
use serde_json::Value;

use crate::support::lab::{SCANGUARD, find_iface, ifaces_json, require_root};

/// Nothing listens here in a container: without scanguard a NULL scan gets a RST.
const CLOSED: u16 = 81;
/// Where a test listens for a TCP connection from one container to another.
const SERVICE: u16 = 8080;
/// A container started or restarted is protected within this of the engine starting it.
const PROTECTED_WITHIN: Duration = Duration::from_secs(1);
/// How long a test looks for a new veth in `status` before giving up.
const LOOK_FOR: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);

fn engine_with(roles: &[&str]) -> (DockerEngine, EngineNetwork, Vec<EngineContainer>) {
    require_root();
    let mut engine = DockerEngine::start().expect("a Docker engine");
    let network = engine.network("net").expect("a bridge network");
    let containers = roles
        .iter()
        .map(|role| engine.run_container(&network, role).expect("a container"))
        .collect();
    (engine, network, containers)
}

fn daemon_on(engine: &DockerEngine, args: &[&str]) -> Daemon {
    Daemon::start_in_root_env(SCANGUARD, args, &[("DOCKER_HOST", engine.docker_host())])
}

fn ip(container: &EngineContainer) -> IpAddr {
    container.ipv4.into()
}

fn null_scan(from: &EngineContainer, to: &EngineContainer) -> String {
    nmap_port_state(&from.netns, "-sN", ip(to), CLOSED)
}

/// A TCP connection each way between two containers.
fn talk_both_ways(a: &EngineContainer, b: &EngineContainer) -> bool {
    tcp_connects(&a.netns, &b.netns, ip(b), SERVICE)
        && tcp_connects(&b.netns, &a.netns, ip(a), SERVICE)
}

/// The interfaces `scanguard status` lists, by name.
fn status_names(daemon: &Daemon) -> Vec<String> {
    let mut names: Vec<String> = daemon.cli_json(&["status"])["interfaces"]
        .as_array()
        .expect("an interface list")
        .iter()
        .filter_map(|entry| entry["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// When `status` first lists `veth`, polled until [`LOOK_FOR`] has passed.
fn listed_at(daemon: &Daemon, veth: &str) -> Option<SystemTime> {
    let mut seen = None;
    wait_until(LOOK_FOR, POLL, || {
        let listed = status_names(daemon).iter().any(|name| name == veth);
        if listed {
            seen = Some(SystemTime::now());
        }
        listed
    });
    seen
}

/// `scanguard ifaces --json` in the root namespace, asking `engine`.
fn engine_ifaces(engine: &DockerEngine) -> Value {
    let mut scanguard = Command::new(SCANGUARD);
    scanguard.env("DOCKER_HOST", engine.docker_host());
    ifaces_json(scanguard)
}

/// The policy of the root namespace's FORWARD chain, as iptables reports it.
fn forward_policy() -> String {
    let output = Command::new("iptables")
        .args(["-S", "FORWARD"])
        .output()
        .expect("run iptables");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("-P FORWARD "))
        .unwrap_or("none")
        .to_string()
}

/// A NULL scan from `scanner` goes unanswered and bans it; then it is unbanned again.
fn scan_is_banned_then_unban(daemon: &Daemon, scanner: &EngineContainer, target: &EngineContainer) {
    assert_eq!(
        null_scan(scanner, target),
        "open|filtered",
        "the NULL scan from {} goes unanswered",
        scanner.name
    );
    assert_eq!(
        daemon.bans(),
        vec![(scanner.ipv4.to_string(), "null-scan".to_string())]
    );
    daemon.cli(&["unban", &scanner.ipv4.to_string()]);
    assert!(daemon.bans().is_empty());
}

#[test]
fn a_docker_network_attach_bans_a_scanning_container_and_protects_one_started_later() {
    let (mut engine, network, containers) = engine_with(&["scanner", "web", "client"]);
    let [scanner, web, client] = <[EngineContainer; 3]>::try_from(containers).expect("three");
    if engine.is_own() {
        assert_eq!(
            forward_policy(),
            "DROP",
            "dockerd's FORWARD policy is in place"
        );
    }
    assert_eq!(
        null_scan(&scanner, &web),
        "closed",
        "without scanguard the web container answers a NULL scan"
    );
    assert!(talk_both_ways(&client, &web));

    let daemon = daemon_on(&engine, &["--docker-network", &network.name]);
    let status = daemon.cli_json(&["status"]);
    assert_eq!(status["bridges"][0]["name"], network.bridge.as_str());
    let mut veths: Vec<String> = [&scanner, &web, &client]
        .iter()
        .map(|container| container.host_veth().expect("its veth"))
        .collect();
    veths.sort();
    assert_eq!(status_names(&daemon), veths, "exactly the network's veths");
    let report = engine_ifaces(&engine);
    for veth in &veths {
        assert_eq!(
            find_iface(&report, veth)["tc_ingress"]["state"],
            "scanguard"
        );
    }
    // Not the bridge, and not the host's own uplink.
    let uplinks = report["interfaces"]
        .as_array()
        .expect("interfaces")
        .iter()
        .filter(|iface| iface["default_route"] == true);
    for iface in uplinks.chain([find_iface(&report, &network.bridge)]) {
        assert_eq!(iface["xdp"]["state"], "none", "{iface}");
        assert_eq!(iface["tc_ingress"]["state"], "none", "{iface}");
    }

    // The scan is seen on the scanner's veth: banned, and cut off from its neighbour, while
    // the others still talk.
    assert_eq!(null_scan(&scanner, &web), "open|filtered");
    assert_eq!(
        daemon.bans(),
        vec![(scanner.ipv4.to_string(), "null-scan".to_string())]
    );
    assert!(
        !tcp_connects(&scanner.netns, &web.netns, ip(&web), SERVICE),
        "the banned scanner still connects"
    );
    assert!(
        scanner.netns.ping(ip(&web)).is_err(),
        "the banned scanner still pings"
    );
    assert!(talk_both_ways(&client, &web), "web and client stop talking");
    client.netns.ping(ip(&web)).expect("client pings web");
    web.netns.ping(ip(&client)).expect("web pings client");

    // A container started while attached is protected within a second.
    let late = engine
        .run_container(&network, "late")
        .expect("a late container");
    let returned = Instant::now();
    let veth = late.host_veth().expect("its veth");
    let seen = wait_until(LOOK_FOR, POLL, || status_names(&daemon).contains(&veth));
    let delay = returned.elapsed();
    assert!(
        seen,
        "{veth} of the late container is not listed after {delay:?}"
    );
    eprintln!("docker run returned; {veth} listed {delay:?} later");
    assert!(
        delay <= PROTECTED_WITHIN,
        "{veth} listed only {delay:?} after docker run"
    );
    assert_eq!(null_scan(&late, &web), "open|filtered");
    assert!(daemon.is_banned(ip(&late)), "the late scanner is banned");
    drop(daemon);
}

/// `--container` follows the container: `docker restart`, and `docker stop` then
/// `docker start`, each give it a new veth, attached within a second of the engine's `start`
/// event.
#[test]
fn a_container_attach_follows_the_container_through_restart_and_stop_start() {
    let (engine, _network, containers) = engine_with(&["watched", "web"]);
    let [mut watched, web] = <[EngineContainer; 2]>::try_from(containers).expect("two");
    let daemon = daemon_on(&engine, &["--container", &watched.name]);
    let first = watched.host_veth().expect("its veth");
    assert_eq!(status_names(&daemon), std::slice::from_ref(&first));
    assert_eq!(
        daemon.cli_json(&["status"])["bridges"],
        serde_json::json!([])
    );
    scan_is_banned_then_unban(&daemon, &watched, &web);

    let mut previous = first;
    for how in ["restart", "stop and start"] {
        let since = SystemTime::now();
        if how == "restart" {
            engine.restart(&mut watched).expect("docker restart");
        } else {
            engine.stop(&watched).expect("docker stop");
            engine.start_again(&mut watched).expect("docker start");
        }
        let veth = watched.host_veth().expect("its new veth");
        let seen = listed_at(&daemon, &veth);
        let started = engine
            .events(&watched, "start", since)
            .expect("the engine's events")
            .into_iter()
            .max()
            .expect("a start event");
        let seen = seen.unwrap_or_else(|| {
            panic!(
                "after {how}, {veth} (was {previous}) is not listed in status within {LOOK_FOR:?}: {:?}",
                status_names(&daemon)
            )
        });
        let delay = seen.duration_since(started).unwrap_or_default();
        eprintln!("{how}: {veth} listed {delay:?} after the engine's start event");
        assert!(
            delay <= PROTECTED_WITHIN,
            "after {how}, {veth} listed {delay:?} after start"
        );
        let report = engine_ifaces(&engine);
        assert_eq!(
            find_iface(&report, &veth)["tc_ingress"]["state"],
            "scanguard"
        );
        assert!(
            wait_until(LOOK_FOR, POLL, || status_names(&daemon) == [veth.as_str()]),
            "after {how}, status still lists the old veth {previous}: {:?}",
            status_names(&daemon)
        );
        scan_is_banned_then_unban(&daemon, &watched, &web);
        previous = veth;
    }
    drop(daemon);
}

/// The engine's rules are really in place while it runs (FORWARD policy DROP, forwarding on,
/// a bridge per network), and once it stops the ruleset, the sysctls and the links are as
/// they were before it started.
#[test]
fn a_test_engine_leaves_the_host_as_it_found_it() {
    let (engine, network, _containers) = engine_with(&["one"]);
    if !engine.is_own() {
        // Straight to the process's stderr: libtest would swallow eprintln! of a passing test.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! SKIPPED a_test_engine_leaves_the_host_as_it_found_it: the engine at {} was \
             running before, so the test starts none of its own to compare before and after !!!\n",
            engine.docker_host()
        );
        return;
    }
    assert_eq!(forward_policy(), "DROP");
    let forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("sysctl");
    assert_eq!(forwarding.trim(), "1", "dockerd turns forwarding on");
    assert!(
        std::path::Path::new("/sys/class/net")
            .join(&network.bridge)
            .exists(),
        "the network's bridge exists"
    );
    let differences = engine.stop_and_compare().expect("stop the engine");
    assert_eq!(
        differences,
        Vec::<String>::new(),
        "the host was not put back"
    );
}

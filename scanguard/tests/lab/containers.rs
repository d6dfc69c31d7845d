//! Docker networks without Docker: a `br-<12 hex>` bridge whose ports are veths into
//! "container" namespaces (scanguard_lab::DockerLab), scanguard attached to the bridge in the
//! namespace that holds it. Real nmap scans between containers; containers started and
//! stopped while attached.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use scanguard::host::xdp;
use scanguard_lab::{
    Container, DockerLab,
    daemon::Daemon,
    traffic::{nmap_port_state, serve, talk},
    wait_until,
};
use serde_json::Value;

use crate::support::lab::{SCANGUARD, SERVICE, checks_program_in, require_root};

/// Nothing listens here: without scanguard a NULL scan gets a RST and says "closed".
const CLOSED: u16 = 81;

/// The interfaces `scanguard status --json` lists, by name.
fn status_interfaces(daemon: &Daemon) -> Vec<Value> {
    daemon.cli_json(&["status"])["interfaces"]
        .as_array()
        .expect("an interface list")
        .clone()
}

fn listed<'a>(interfaces: &'a [Value], name: &str) -> Option<&'a Value> {
    interfaces.iter().find(|entry| entry["name"] == name)
}

fn ip(container: &Container) -> IpAddr {
    container.inside.ipv4.into()
}

#[test]
fn a_bridge_attach_protects_its_containers_and_follows_new_and_removed_ports() {
    require_root();
    let (mut docker, containers) =
        DockerLab::build(&["scanner", "web", "client"]).expect("Docker-like lab");
    let [scanner, web, client] = <[Container; 3]>::try_from(containers).expect("three");
    serve(&web.inside, SERVICE);
    assert_eq!(
        nmap_port_state(&scanner.inside, "-sN", ip(&web), CLOSED),
        "closed",
        "without scanguard the web container answers a NULL scan"
    );

    let mut daemon = Daemon::start_in(SCANGUARD, &docker.host, &[docker.bridge.name()]);

    // Each port carries the one scanguard program, at TC ingress (a veth). The bridge device
    // does not.
    let program_id =
        checks_program_in(&docker.host, &scanner.port).expect("scanguard on the scanner's port");
    assert_eq!(xdp::program_name(program_id), "scanguard_tc");
    for container in [&scanner, &web, &client] {
        let on_port = checks_program_in(&docker.host, &container.port);
        assert_eq!(on_port, Some(program_id), "{}", container.port);
    }
    assert_eq!(checks_program_in(&docker.host, docker.bridge.name()), None);
    let status = daemon.cli_json(&["status"]);
    assert_eq!(status["bridges"][0]["name"], docker.bridge.name());
    let listed_now = status_interfaces(&daemon);
    assert_eq!(listed_now.len(), 3, "{listed_now:?}");
    for container in [&scanner, &web, &client] {
        let port = listed(&listed_now, &container.port).expect("each port is listed");
        assert_eq!(port["kind"], "veth");
        assert_eq!(port["mode"], "tc");
        assert_eq!(port["port_of"], docker.bridge.name());
    }

    // A scan from one container to another is seen on the scanner's port and bans it.
    talk(&client.inside, ip(&web), SERVICE).expect("client reaches web");
    assert_eq!(
        nmap_port_state(&scanner.inside, "-sN", ip(&web), CLOSED),
        "open|filtered",
        "the NULL scan goes unanswered"
    );
    assert_eq!(
        daemon.bans(),
        vec![(ip(&scanner).to_string(), "null-scan".to_string())]
    );
    assert!(
        talk(&scanner.inside, ip(&web), SERVICE).is_err(),
        "the banned scanner still connects"
    );
    talk(&client.inside, ip(&web), SERVICE).expect("web's normal traffic flows");
    web.inside
        .ping(ip(&client))
        .expect("web reaches the client");

    // A container started while attached is protected within a second.
    let started = Instant::now();
    let late = docker.run("late").expect("start a container");
    let protected = wait_until(Duration::from_secs(1), Duration::from_millis(10), || {
        checks_program_in(&docker.host, &late.port) == Some(program_id)
    });
    assert!(
        protected,
        "{} carries no scanguard after {:?}",
        late.port,
        started.elapsed()
    );
    assert!(
        wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
            listed(&status_interfaces(&daemon), &late.port).is_some()
        }),
        "status does not list the new port"
    );
    assert_eq!(
        nmap_port_state(&late.inside, "-sN", ip(&web), CLOSED),
        "open|filtered"
    );
    assert!(daemon.is_banned(ip(&late)), "the late scanner is banned");

    // A container that goes away is forgotten without an error.
    docker.stop(&scanner).expect("stop the scanner");
    assert!(
        wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
            listed(&status_interfaces(&daemon), &scanner.port).is_none()
        }),
        "status still lists the removed port"
    );
    assert!(daemon.is_running(), "the daemon died with the port");
    assert_eq!(status_interfaces(&daemon).len(), 3);
    talk(&client.inside, ip(&web), SERVICE).expect("still protecting, still passing");
    let log = daemon.log();
    assert!(
        log.contains(&format!("port {} is gone; forgotten", scanner.port)),
        "{log}"
    );
    assert!(!log.contains("ERROR"), "{log}");
    assert!(!log.contains("cannot"), "{log}");
}

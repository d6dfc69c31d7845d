//! Naming bridges and veths after Docker networks and containers, and `scanguard ifaces`.
//!
//! The first tests give the resolution engine answers shaped like the API's, about a
//! Docker-like lab whose namespaces and veths are real, and a stand-in engine answers the
//! daemon run in the lab's own namespace. The last test asks a real engine
//! (scanguard_lab::DockerEngine) about real networks and containers.

use std::process::Command;

use bollard::models::{ContainerInspectResponse, Network};
use scanguard::host::{
    docker::{self, mapping},
    links::{self, Link},
};
use scanguard_lab::{Container, DockerEngine, DockerLab, FakeDockerEngine, Netns, daemon::Daemon};
use serde_json::{Value, json};

use crate::support::lab::{SCANGUARD, find_iface, ifaces_json, ifaces_output, require_root};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn links_in(netns: &Netns) -> Vec<Link> {
    let _inside = netns.enter().expect("enter the namespace");
    runtime().block_on(links::dump()).expect("netlink dump")
}

fn mac(bytes: [u8; 6]) -> String {
    bytes.map(|byte| format!("{byte:02x}")).join(":")
}

/// `GET /containers/{id}/json` for a lab container, as the engine would describe it.
fn inspect_answer(lab: &DockerLab, container: &Container) -> ContainerInspectResponse {
    serde_json::from_value(json!({
        "Id": format!("{:0>64}", container.name),
        "Name": format!("/{}", container.name),
        "State": {"Status": "running", "Running": true, "Pid": 0},
        "NetworkSettings": {
            "SandboxID": format!("{:0>64}", container.inside.netns.name().len()),
            "SandboxKey": container.inside.netns.path(),
            "Ports": {},
            "Networks": {
                "labnet": {
                    "NetworkID": lab.network_id(),
                    "EndpointID": format!("{:f>64}", container.name.len()),
                    "Gateway": lab.gateway.to_string(),
                    "IPAddress": container.inside.ipv4.to_string(),
                    "IPPrefixLen": 24,
                    "MacAddress": mac(container.inside.mac),
                }
            }
        }
    }))
    .expect("a container inspect answer")
}

#[test]
fn engine_shaped_answers_name_the_lab_bridge_and_each_container_veth() {
    require_root();
    let (lab, containers) = DockerLab::build(&["web", "db"]).expect("Docker-like lab");
    let networks: Vec<Network> = serde_json::from_value(json!([
        {"Name": "bridge", "Id": "f2de39df4171b0dc801e8002d1d999b77256983dfc63041c0f34030aa3977566",
         "Driver": "bridge", "Scope": "local",
         "Options": {"com.docker.network.bridge.name": "docker0"}},
        {"Name": "labnet", "Id": lab.network_id(), "Driver": "bridge", "Scope": "local",
         "Options": {}}
    ]))
    .expect("a network list answer");
    let inspected: Vec<(ContainerInspectResponse, Vec<Link>)> = containers
        .iter()
        .map(|container| {
            let answer = inspect_answer(&lab, container);
            let sandbox = mapping::netns_paths(&answer)[0].clone();
            let inside = links::dump_in_netns(&sandbox).expect("links inside the container");
            (answer, inside)
        })
        .collect();
    let host_links = links_in(&lab.host);

    let names = mapping::names(&networks, &inspected, &host_links);
    assert_eq!(
        names.networks.get(lab.bridge.name()).map(String::as_str),
        Some("labnet")
    );
    for container in &containers {
        let port = host_links
            .iter()
            .find(|link| link.name == container.port)
            .expect("the port exists");
        let endpoint = names
            .containers
            .get(&port.ifindex)
            .unwrap_or_else(|| panic!("{} is not named", container.port));
        assert_eq!(endpoint.container, container.name);
        assert_eq!(endpoint.network, "labnet");
    }
    assert_eq!(names.containers.len(), containers.len());
}

#[test]
fn ifaces_lists_the_bridge_ports_and_scanguard_on_them() {
    require_root();
    let (lab, containers) = DockerLab::build(&["web", "db"]).expect("Docker-like lab");
    let daemon = Daemon::start_in(SCANGUARD, &lab.host, &[lab.bridge.name()]);
    let report = lab_ifaces(&lab, None);
    let interfaces = report["interfaces"].as_array().expect("interfaces");
    let find = |name: &str| find_iface(&report, name);
    let bridge = find(lab.bridge.name());
    assert_eq!(bridge["kind"], "bridge");
    assert_eq!(bridge["xdp"]["state"], "none");
    let ports: Vec<&str> = bridge["ports"]
        .as_array()
        .expect("a bridge lists its ports")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for container in &containers {
        assert!(ports.contains(&container.port.as_str()), "{ports:?}");
        let port = find(&container.port);
        assert_eq!(port["kind"], "veth");
        assert_eq!(port["master"], lab.bridge.name());
        assert_eq!(port["xdp"]["state"], "none");
        assert_eq!(port["tc_ingress"]["state"], "scanguard");
        assert_eq!(port["default_route"], false);
    }
    assert_eq!(find("lo")["kind"], "loopback");
    if !docker::engine_socket_exists() {
        assert_eq!(report["docker"]["reachable"], false);
        assert_eq!(
            named_containers(interfaces),
            0,
            "no Docker names without an engine"
        );
    }
    drop(daemon);
}

fn named_containers(interfaces: &[Value]) -> usize {
    interfaces
        .iter()
        .filter(|iface| !iface["container"].is_null())
        .count()
}

/// `scanguard ifaces --json` in the lab's host namespace, asking the engine at `docker_host`.
fn lab_ifaces(lab: &DockerLab, docker_host: Option<&str>) -> Value {
    let mut scanguard = lab.host_command(SCANGUARD);
    if let Some(docker_host) = docker_host {
        scanguard.env("DOCKER_HOST", docker_host);
    }
    ifaces_json(scanguard)
}

fn names_of(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|entry| entry["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// A Docker-like lab of two containers, and a stand-in engine on a unix socket that answers
/// for it.
fn lab_and_engine() -> (DockerLab, Vec<Container>, FakeDockerEngine) {
    require_root();
    let (lab, containers) = DockerLab::build(&["web", "db"]).expect("Docker-like lab");
    let socket = std::env::temp_dir().join(format!(
        "scanguard-test-{}-{}.sock",
        std::process::id(),
        lab.bridge.name()
    ));
    let engine = FakeDockerEngine::serve(&socket, lab.engine_answers("labnet", &containers))
        .expect("serve the stand-in engine");
    (lab, containers, engine)
}

/// The whole client side over a real unix socket, against a stand-in engine that answers
/// what Docker would about the lab.
#[test]
fn docker_network_and_container_flags_and_ifaces_ask_the_engine_api() {
    let (lab, containers, engine) = lab_and_engine();
    let docker_host = engine.docker_host();
    let env = [("DOCKER_HOST", docker_host.as_str())];
    let mut ports: Vec<String> = containers.iter().map(|c| c.port.clone()).collect();
    ports.sort();

    let by_network =
        Daemon::start_in_env(SCANGUARD, &lab.host, &["--docker-network", "labnet"], &env);
    let status = by_network.cli_json(&["status"]);
    assert_eq!(names_of(&status["bridges"]), [lab.bridge.name()]);
    assert_eq!(names_of(&status["interfaces"]), ports);
    drop(by_network);

    let db = &containers[1];
    let by_container = Daemon::start_in_env(SCANGUARD, &lab.host, &["--container", &db.name], &env);
    let status = by_container.cli_json(&["status"]);
    assert_eq!(names_of(&status["interfaces"]), [db.port.as_str()]);
    assert_eq!(status["bridges"], json!([]));

    let report = lab_ifaces(&lab, Some(&docker_host));
    assert_eq!(report["docker"]["reachable"], true, "{report}");
    let find = |name: &str| find_iface(&report, name);
    assert_eq!(find(lab.bridge.name())["docker_network"], "labnet");
    for container in &containers {
        let port = find(&container.port);
        assert_eq!(port["container"], container.name.as_str());
        assert_eq!(port["docker_network"], "labnet");
    }
    assert_eq!(find(&db.port)["tc_ingress"]["state"], "scanguard");
    assert_eq!(find(&containers[0].port)["tc_ingress"]["state"], "none");
    drop(by_container);

    for (flag, name, expected) in [
        ("--container", "nosuch", "No such container: nosuch"),
        ("--docker-network", "nosuch", "network nosuch not found"),
    ] {
        let output = lab
            .host_command(SCANGUARD)
            .args(["attach", flag, name, "--run-dir"])
            .arg(
                std::env::temp_dir().join(format!("scanguard-test-{}-refused", std::process::id())),
            )
            .env("DOCKER_HOST", &docker_host)
            .output()
            .expect("run scanguard attach");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{flag} {name} was accepted");
        assert!(stderr.contains(expected), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    let output = lab
        .host_command(SCANGUARD)
        .args(["attach", "--docker-network", "labnet"])
        .env("DOCKER_HOST", format!("{docker_host}.absent"))
        .output()
        .expect("run scanguard attach");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("no Docker engine reachable at unix://"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// Against a real engine: two bridge networks with containers on them. `ifaces` names each
/// network's bridge and each container's veth as the engine and netlink describe them, and the
/// engine's own error lines reach the user as one line each.
#[test]
fn a_real_engines_networks_and_containers_are_named_as_netlink_shows_them() {
    require_root();
    let mut engine = DockerEngine::start().expect("a Docker engine");
    let front = engine.network("front").expect("a network");
    let back = engine.network("back").expect("a network");
    let containers = [(&front, "web"), (&front, "cache"), (&back, "db")].map(|(network, role)| {
        let container = engine.run_container(network, role).expect("a container");
        (network, container)
    });
    let host_links = runtime().block_on(links::dump()).expect("netlink dump");
    let link = |name: &str| {
        host_links
            .iter()
            .find(|link| link.name == name)
            .unwrap_or_else(|| panic!("no link {name}"))
    };

    let report = ifaces_report(engine.docker_host(), &["--json"]);
    let report: Value = serde_json::from_str(&report).expect("JSON");
    assert_eq!(report["docker"]["reachable"], true, "{report}");
    for network in [&front, &back] {
        assert!(
            link(&network.bridge).is_bridge(),
            "{} is no bridge",
            network.bridge
        );
        let bridge = find_iface(&report, &network.bridge);
        assert_eq!(bridge["kind"], "bridge");
        assert_eq!(bridge["docker_network"], network.name.as_str());
        assert!(bridge["container"].is_null());
    }
    let text = ifaces_report(engine.docker_host(), &[]);
    for (network, container) in &containers {
        let veth = container.host_veth().expect("the container's veth");
        assert_eq!(
            link(&veth).master,
            Some(link(&network.bridge).ifindex),
            "{veth} is a port of {}",
            network.bridge
        );
        let entry = find_iface(&report, &veth);
        assert_eq!(entry["kind"], "veth");
        assert_eq!(entry["container"], container.name.as_str());
        assert_eq!(entry["docker_network"], network.name.as_str());
        assert_eq!(entry["master"], network.bridge.as_str());
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("{veth} ")))
            .unwrap_or_else(|| panic!("no line for {veth}: {text}"));
        assert!(
            line.contains(&format!("container {} on {}", container.name, network.name)),
            "{line}"
        );
    }
    if engine.is_own() {
        // An engine that was there already may run containers of its own.
        let interfaces = report["interfaces"].as_array().expect("interfaces");
        assert_eq!(named_containers(interfaces), containers.len());
    }
    // The older of the engine's version (Debian's dockerd 20.10: 1.41) and bollard's newest.
    let engine_version = engine.api_version().expect("the engine's API version");
    let engine_minor: usize = engine_version
        .strip_prefix("1.")
        .and_then(|minor| minor.parse().ok())
        .unwrap_or_else(|| panic!("API version {engine_version}"));
    let newest = bollard::API_DEFAULT_VERSION;
    let expected = if engine_minor <= newest.minor_version {
        engine_version
    } else {
        newest.to_string()
    };
    assert_eq!(
        report["docker"]["api_version"],
        expected.as_str(),
        "{}",
        report["docker"]
    );

    let (_, stopped) = &containers[2];
    engine.stop(stopped).expect("docker stop");
    for (flag, name, expected) in [
        (
            "--container",
            "nosuch",
            "No such container: nosuch".to_string(),
        ),
        (
            "--docker-network",
            "nosuch",
            "network nosuch not found".to_string(),
        ),
        (
            "--container",
            stopped.name.as_str(),
            format!("Docker container {:?} is not running", stopped.name),
        ),
    ] {
        let output = Command::new(SCANGUARD)
            .args(["attach", flag, name, "--run-dir"])
            .arg(
                std::env::temp_dir().join(format!("scanguard-test-{}-refused", std::process::id())),
            )
            .env("DOCKER_HOST", engine.docker_host())
            .output()
            .expect("run scanguard attach");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{flag} {name} was accepted");
        assert!(stderr.contains(&expected), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

/// `scanguard ifaces <args>` in the root namespace, asking the engine at `docker_host`.
fn ifaces_report(docker_host: &str, args: &[&str]) -> String {
    let mut scanguard = Command::new(SCANGUARD);
    scanguard.env("DOCKER_HOST", docker_host);
    ifaces_output(scanguard, args)
}

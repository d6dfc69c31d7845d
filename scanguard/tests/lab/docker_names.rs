//! Naming bridges and veths after Docker networks and containers, and `scanguard ifaces`.
//!
//! No Docker engine runs in CI, so the first test gives the resolution engine answers shaped
//! like the API's, about a Docker-like lab whose namespaces and veths are real. The last
//! test asks a real engine, and is the one test that skips: when no engine socket exists.

use std::io::Write as _;

use bollard::models::{ContainerInspectResponse, Network};
use scanguard::host::{
    docker::{self, Engine, mapping},
    links::{self, Link},
};
use scanguard_lab::{Container, DockerLab, FakeDockerEngine, Netns, daemon::Daemon};
use serde_json::{Value, json};

use crate::support::lab::{SCANGUARD, require_root};

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
    let report = ifaces_json(&lab, None);
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
fn ifaces_json(lab: &DockerLab, docker_host: Option<&str>) -> Value {
    let mut command = lab.host_command(SCANGUARD);
    command.args(["ifaces", "--json"]);
    if let Some(docker_host) = docker_host {
        command.env("DOCKER_HOST", docker_host);
    }
    let output = command.output().expect("run scanguard ifaces");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// The entry of `ifaces --json` for the interface `name`.
fn find_iface<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["interfaces"]
        .as_array()
        .expect("interfaces")
        .iter()
        .find(|iface| iface["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing from {report}"))
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

    let report = ifaces_json(&lab, Some(&docker_host));
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

/// Read-only: lists the engine's networks and containers and compares what scanguard makes
/// of them with netlink in this namespace. Attaches nothing and sends no packet.
#[test]
fn docker_engine_names_match_netlink_else_skipped_loudly_when_no_engine_socket_exists() {
    if !docker::engine_socket_exists() {
        // Straight to the process's stderr: libtest would swallow eprintln! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! SKIPPED docker_engine_names_match_netlink...: no Docker engine socket at {} \
             (set DOCKER_HOST or start dockerd to run it) !!!\n",
            docker::engine_address()
        );
        return;
    }
    require_root();
    runtime().block_on(async {
        let engine = Engine::connect()
            .await
            .expect("an engine socket exists, so the engine must answer");
        let host_links = links::dump().await.expect("netlink dump");
        let names = engine.names(&host_links).await.expect("names");
        for (bridge, network) in &names.networks {
            // Networks whose bridge is elsewhere (another host, a stopped network) do not count.
            if let Some(link) = host_links.iter().find(|link| link.name == *bridge) {
                assert!(link.is_bridge(), "{bridge} of {network} is no bridge");
                assert_eq!(
                    engine
                        .network_bridge(network)
                        .await
                        .expect("inspect network"),
                    *bridge
                );
            }
        }
        for (ifindex, endpoint) in &names.containers {
            let veth = host_links
                .iter()
                .find(|link| link.ifindex == *ifindex)
                .expect("a named veth exists");
            let bridge = host_links
                .iter()
                .find(|link| Some(link.ifindex) == veth.master)
                .expect("a named veth is a bridge port");
            assert_eq!(
                names.networks.get(&bridge.name),
                Some(&endpoint.network),
                "{} is on the bridge of {}",
                veth.name,
                endpoint.network
            );
            let veths = engine
                .container_veths(&endpoint.container, &host_links)
                .await
                .expect("resolve the container");
            assert!(veths.contains(&veth.name), "{veths:?}");
        }
        eprintln!(
            "docker engine at {}: {} bridge networks, {} container veths checked",
            engine.address,
            names.networks.len(),
            names.containers.len()
        );
    });
}

/// Keeps the test above honest where it skips: runs it, as a child process, in the lab's
/// Docker host namespace against the stand-in engine.
#[test]
fn the_engine_backed_test_passes_against_a_stand_in_engine() {
    let (lab, _containers, engine) = lab_and_engine();
    // libtest names a test by its path in the test crate, the crate's own name left out.
    let test = format!(
        "{}::docker_engine_names_match_netlink_else_skipped_loudly_when_no_engine_socket_exists",
        module_path!()
            .split_once("::")
            .map_or("", |(_, module)| module)
    );
    let output = lab
        .host_command(std::env::current_exe().expect("this test binary"))
        .args([test.as_str(), "--exact", "--nocapture"])
        .env("DOCKER_HOST", engine.docker_host())
        .output()
        .expect("run the engine-backed test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(
        stderr.contains("1 bridge networks, 2 container veths checked"),
        "{stderr}"
    );
}

//! The mapping over engine answers shaped like the Docker Engine API's documented examples
//! (`GET /networks`, `GET /networks/{id}`, `GET /containers/{id}/json`), deserialized into
//! bollard's own models.

use std::path::PathBuf;

use bollard::models::{ContainerInspectResponse, Network, NetworkInspect};

use super::*;

const MY_NETWORK_ID: &str = "7d86d31b1478e7cca9ebed7e73aa0fdeec46c5ca29497431d3007d2d9e15ed99";
const DEFAULT_BRIDGE_ID: &str = "f2de39df4171b0dc801e8002d1d999b77256983dfc63041c0f34030aa3977566";

/// `GET /networks`: the three built-in networks of the API's example and a user-defined
/// bridge network without a bridge-name option.
fn network_list() -> Vec<Network> {
    serde_json::from_str(&format!(
        r#"[
  {{
    "Name": "bridge",
    "Id": "{DEFAULT_BRIDGE_ID}",
    "Created": "2016-10-19T06:21:00.416543526Z",
    "Scope": "local",
    "Driver": "bridge",
    "EnableIPv4": true,
    "EnableIPv6": false,
    "Internal": false,
    "Attachable": false,
    "Ingress": false,
    "IPAM": {{"Driver": "default", "Config": [{{"Subnet": "172.17.0.0/16"}}]}},
    "Options": {{
      "com.docker.network.bridge.default_bridge": "true",
      "com.docker.network.bridge.enable_icc": "true",
      "com.docker.network.bridge.enable_ip_masquerade": "true",
      "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
      "com.docker.network.bridge.name": "docker0",
      "com.docker.network.driver.mtu": "1500"
    }}
  }},
  {{
    "Name": "none",
    "Id": "e086a3893b05ab69242d3c44e49483a3bbbd3a26b46baa8f61ab797c1088d794",
    "Created": "0001-01-01T00:00:00Z",
    "Scope": "local",
    "Driver": "null",
    "EnableIPv4": false,
    "EnableIPv6": false,
    "Internal": false,
    "Attachable": false,
    "Ingress": false,
    "IPAM": {{"Driver": "default", "Config": []}},
    "Containers": {{}},
    "Options": {{}}
  }},
  {{
    "Name": "host",
    "Id": "13e871235c677f196c4e1ecebb9dc733b9b2d2ab589e30c539efeda84a24215e",
    "Created": "0001-01-01T00:00:00Z",
    "Scope": "local",
    "Driver": "host",
    "EnableIPv4": false,
    "EnableIPv6": false,
    "Internal": false,
    "Attachable": false,
    "Ingress": false,
    "IPAM": {{"Driver": "default", "Config": []}},
    "Containers": {{}},
    "Options": {{}}
  }},
  {{
    "Name": "my_network",
    "Id": "{MY_NETWORK_ID}",
    "Created": "2016-10-19T04:33:30.360899459Z",
    "Scope": "local",
    "Driver": "bridge",
    "EnableIPv4": true,
    "EnableIPv6": false,
    "IPAM": {{
      "Driver": "default",
      "Config": [{{"Subnet": "172.19.0.0/16", "Gateway": "172.19.0.1"}}],
      "Options": {{"foo": "bar"}}
    }},
    "Internal": false,
    "Attachable": false,
    "Ingress": false,
    "ConfigFrom": {{"Network": ""}},
    "ConfigOnly": false,
    "Options": {{}},
    "Labels": {{
      "com.example.some-label": "some-value",
      "com.example.some-other-label": "some-other-value"
    }}
  }}
]"#
    ))
    .expect("GET /networks answer")
}

/// `GET /containers/{id}/json` of a running container on the default network and on
/// my_network (fields the mapping does not read are kept to show the answer's shape).
fn running_container() -> ContainerInspectResponse {
    serde_json::from_str(&format!(
        r#"{{
  "Id": "aa86eacfb3b3ed4cd362c1e88fc89a53908ad05fb3a4103bca3f9b28292d14bf",
  "Created": "2025-02-17T17:43:39.64001363Z",
  "Path": "/bin/sh",
  "Args": ["-c", "exit 9"],
  "State": {{
    "Status": "running",
    "Running": true,
    "Paused": false,
    "Restarting": false,
    "OOMKilled": false,
    "Dead": false,
    "Pid": 1234,
    "ExitCode": 0,
    "Error": "",
    "StartedAt": "2020-01-06T09:06:59.461876391Z",
    "FinishedAt": "0001-01-01T00:00:00Z"
  }},
  "Image": "sha256:72297848456d5d37d1262630108ab308d3e9ec7ed1c3286a32fe09856619a782",
  "Name": "/funny_chatelet",
  "RestartCount": 0,
  "Driver": "overlayfs",
  "Platform": "linux",
  "NetworkSettings": {{
    "SandboxID": "9d12daf2c33f5959c8bf90aa513e4f65b561738661003029ec84830cd503a0c3",
    "SandboxKey": "/var/run/docker/netns/8ab54b426c38",
    "Ports": {{"80/tcp": [{{"HostIp": "0.0.0.0", "HostPort": "8080"}}]}},
    "Networks": {{
      "bridge": {{
        "IPAMConfig": null,
        "Links": null,
        "MacAddress": "02:42:AC:11:00:04",
        "Aliases": null,
        "DriverOpts": null,
        "GwPriority": 0,
        "NetworkID": "{DEFAULT_BRIDGE_ID}",
        "EndpointID": "b88f5b905aabf2893f3cbc4ee42d1ea7980bbc0a92e2c8922b1e1795298afb0b",
        "Gateway": "172.17.0.1",
        "IPAddress": "172.17.0.4",
        "IPPrefixLen": 16,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": null
      }},
      "my_network": {{
        "IPAMConfig": null,
        "Links": null,
        "MacAddress": "02:42:ac:13:00:02",
        "Aliases": ["server_x", "server_y"],
        "DriverOpts": null,
        "GwPriority": 10,
        "NetworkID": "{MY_NETWORK_ID}",
        "EndpointID": "628cadb8bcb92de107b2a1e516cbffe463e321f548feb37697cce00ad694f21a",
        "Gateway": "172.19.0.1",
        "IPAddress": "172.19.0.2",
        "IPPrefixLen": 16,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": ["funny_chatelet", "aa86eacfb3b3", "server_x", "server_y"]
      }}
    }}
  }}
}}"#
    ))
    .expect("GET /containers/{id}/json answer")
}

fn veth(ifindex: u32, name: &str, master: Option<u32>, peer: u32, mac: &str) -> Link {
    Link {
        master,
        peer_ifindex: Some(peer),
        peer_netns_id: Some(0),
        mac: Some(mac.into()),
        ..Link::named(ifindex, name, Some("veth"))
    }
}

/// The host: docker0 (3) and br-7d86d31b1478 (4); the container's veth on my_network is
/// 10 ↔ its eth0 (2), its veth on the default network 11 ↔ its eth1 (3). Another
/// container's veth 12 on br-7d86d31b1478 has peer ifindex 3 too, in its own namespace.
fn host_links() -> Vec<Link> {
    vec![
        Link {
            loopback: true,
            ..Link::named(1, "lo", None)
        },
        Link::named(2, "eth0", None),
        Link::named(3, "docker0", Some("bridge")),
        Link::named(4, "br-7d86d31b1478", Some("bridge")),
        veth(10, "veth5e1a0c2", Some(4), 2, "b6:01:9d:4e:21:aa"),
        veth(11, "vethc00ffee", Some(3), 3, "8e:55:10:00:be:ef"),
        veth(12, "veth0ther00", Some(4), 3, "8e:55:10:00:12:12"),
    ]
}

/// Inside funny_chatelet's namespace.
fn container_links() -> Vec<Link> {
    vec![
        Link {
            loopback: true,
            ..Link::named(1, "lo", None)
        },
        veth(2, "eth0", None, 10, "02:42:ac:13:00:02"),
        veth(3, "eth1", None, 11, "02:42:ac:11:00:04"),
    ]
}

#[test]
fn bridge_devices_come_from_the_name_option_or_the_network_id() {
    assert_eq!(
        network_bridges(&network_list()),
        vec![
            NetworkBridge {
                network: "bridge".into(),
                id: DEFAULT_BRIDGE_ID.into(),
                bridge: "docker0".into(),
            },
            NetworkBridge {
                network: "my_network".into(),
                id: MY_NETWORK_ID.into(),
                bridge: "br-7d86d31b1478".into(),
            },
        ],
        "host and null networks have no bridge"
    );
}

#[test]
fn an_inspected_network_of_another_driver_is_refused_by_name() {
    let overlay: NetworkInspect = serde_json::from_str(
        r#"{
  "Name": "my_overlay",
  "Id": "0ced7774d30c6be499dea707770a2a3783ef8336404d2b6bbb2e4d5743daebc9",
  "Created": "2016-10-19T04:33:30.360899459Z",
  "Scope": "swarm",
  "Driver": "overlay",
  "EnableIPv4": true,
  "EnableIPv6": false,
  "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1"}]},
  "Internal": false,
  "Attachable": true,
  "Ingress": false,
  "Containers": {},
  "Options": {"com.docker.network.driver.overlay.vxlanid_list": "4097"},
  "Labels": {}
}"#,
    )
    .expect("GET /networks/{id} answer");
    let error = inspected_network_bridge(&overlay).expect_err("overlay has no bridge");
    assert!(
        error.contains("my_overlay") && error.contains("overlay driver"),
        "{error}"
    );

    let named: NetworkInspect = serde_json::from_str(&format!(
        r#"{{
  "Name": "my_network",
  "Id": "{MY_NETWORK_ID}",
  "Scope": "local",
  "Driver": "bridge",
  "Containers": {{
    "aa86eacfb3b3ed4cd362c1e88fc89a53908ad05fb3a4103bca3f9b28292d14bf": {{
      "Name": "funny_chatelet",
      "EndpointID": "628cadb8bcb92de107b2a1e516cbffe463e321f548feb37697cce00ad694f21a",
      "MacAddress": "02:42:ac:13:00:02",
      "IPv4Address": "172.19.0.2/16",
      "IPv6Address": ""
    }}
  }},
  "Options": {{"com.docker.network.bridge.name": "br-web"}}
}}"#
    ))
    .expect("GET /networks/{id} answer");
    assert_eq!(
        inspected_network_bridge(&named).map(|bridge| bridge.bridge),
        Ok("br-web".to_string())
    );
}

#[test]
fn endpoints_and_namespace_come_from_network_settings() {
    let container = running_container();
    assert!(is_running(&container));
    assert_eq!(container_name(&container), "funny_chatelet");
    assert_eq!(
        endpoints(&container),
        vec![
            Endpoint {
                container: "funny_chatelet".into(),
                network: "bridge".into(),
                network_id: DEFAULT_BRIDGE_ID.into(),
                mac: Some("02:42:ac:11:00:04".into()),
            },
            Endpoint {
                container: "funny_chatelet".into(),
                network: "my_network".into(),
                network_id: MY_NETWORK_ID.into(),
                mac: Some("02:42:ac:13:00:02".into()),
            },
        ]
    );
    assert_eq!(
        netns_paths(&container),
        vec![
            PathBuf::from("/var/run/docker/netns/8ab54b426c38"),
            PathBuf::from("/proc/1234/ns/net"),
        ]
    );
}

#[test]
fn each_host_veth_is_named_after_its_container_and_network() {
    let names = names(
        &network_list(),
        &[(running_container(), container_links())],
        &host_links(),
    );
    assert_eq!(
        names.networks.get("docker0").map(String::as_str),
        Some("bridge")
    );
    assert_eq!(
        names.networks.get("br-7d86d31b1478").map(String::as_str),
        Some("my_network")
    );
    let named = |ifindex| {
        names
            .containers
            .get(&ifindex)
            .map(|endpoint| (endpoint.container.as_str(), endpoint.network.as_str()))
    };
    assert_eq!(named(10), Some(("funny_chatelet", "my_network")));
    assert_eq!(named(11), Some(("funny_chatelet", "bridge")));
    assert_eq!(named(12), None, "another container's veth");
    assert_eq!(names.containers.len(), 2);
}

#[test]
fn a_one_way_match_a_foreign_bridge_or_another_mac_is_no_match() {
    let container = running_container();
    let my_network = &endpoints(&container)[1];
    let host = host_links();
    let inside = container_links();
    assert_eq!(
        host_veth(my_network, 4, &inside, &host).map(|link| link.ifindex),
        Some(10)
    );
    // The same pair, but asked for on docker0.
    assert_eq!(host_veth(my_network, 3, &inside, &host), None);
    // The host veth points back at another ifindex.
    let mut one_way = host.clone();
    one_way[4].peer_ifindex = Some(7);
    assert_eq!(host_veth(my_network, 4, &inside, &one_way), None);
    // The engine's MAC address is not the container veth's.
    let mut other_mac = my_network.clone();
    other_mac.mac = Some("02:42:ac:13:00:99".into());
    assert_eq!(host_veth(&other_mac, 4, &inside, &host), None);
    // Without a MAC address from the engine, the two-way ifindex match decides.
    other_mac.mac = None;
    assert_eq!(
        host_veth(&other_mac, 4, &inside, &host).map(|link| link.ifindex),
        Some(10)
    );
}

#[test]
fn a_stopped_container_has_no_namespace_to_enter() {
    let mut container = running_container();
    let state = container.state.as_mut().expect("state");
    state.running = Some(false);
    state.pid = Some(0);
    container
        .network_settings
        .as_mut()
        .expect("settings")
        .sandbox_key = Some(String::new());
    assert!(!is_running(&container));
    assert!(netns_paths(&container).is_empty());
}

//! Kernel tests: they build real namespaces and so need root. Without root
//! they panic with `LabError::NotRoot`'s message rather than pass silently.

use std::{
    net::{IpAddr, TcpListener},
    os::unix::fs::MetadataExt,
    path::Path,
    process::Command,
};

use scanguard_lab::{Lab, ScanLab, run_checked};

fn build() -> ScanLab {
    ScanLab::build().expect("build the scan lab (needs root)")
}

fn stdout(command: &mut Command) -> String {
    let output = run_checked(command).expect("command inside the lab");
    String::from_utf8(output.stdout).expect("utf-8 output")
}

#[test]
fn attacker_and_client_reach_the_victim_over_ipv4_and_ipv6() {
    let lab = build();
    for source in [&lab.attacker, &lab.client] {
        for destination in [IpAddr::V4(lab.victim.ipv4), IpAddr::V6(lab.victim.ipv6)] {
            source
                .ping(destination)
                .unwrap_or_else(|e| panic!("{} -> {destination}: {e}", source.netns.role()));
        }
    }
}

#[test]
fn victim_has_exactly_one_interface_besides_loopback() {
    let lab = build();
    let links = stdout(lab.victim.command("ip").args(["-o", "link", "show"]));
    let names: Vec<_> = links
        .lines()
        .map(|line| {
            // `2: victim0@if3: <...`: index, then name with its peer's index.
            let name = line.split(':').nth(1).expect("ip -o link format");
            name.split('@').next().unwrap_or(name).trim()
        })
        .collect();
    assert_eq!(names, ["lo", lab.victim.interface.as_str()]);
}

#[test]
fn nothing_appears_in_the_root_namespace() {
    let lab = build();
    let root_links = stdout(Command::new("ip").args(["-o", "link", "show"]));
    for interface in [&lab.victim.interface, &lab.bridge.name().to_owned()] {
        assert!(
            !root_links.contains(&format!(": {interface}")),
            "{interface} leaked into the root namespace:\n{root_links}"
        );
    }
}

#[test]
fn enter_moves_only_this_thread_and_moves_it_back() {
    let lab = build();
    let thread_netns = || {
        std::fs::metadata("/proc/thread-self/ns/net")
            .expect("stat")
            .ino()
    };
    let before = thread_netns();
    let victim_netns = std::fs::metadata(lab.victim.netns.path())
        .expect("stat")
        .ino();
    {
        let _inside = lab.victim.enter().expect("enter the victim namespace");
        assert_eq!(thread_netns(), victim_netns);
        TcpListener::bind((lab.victim.ipv4, 0)).expect("the victim's address exists inside");
    }
    assert_eq!(thread_netns(), before);
    assert!(
        TcpListener::bind((lab.victim.ipv4, 0)).is_err(),
        "the victim's address must not exist outside its namespace"
    );
}

#[test]
fn dropping_the_lab_deletes_its_namespaces() {
    let lab = build();
    let paths: Vec<_> = lab
        .lab()
        .namespaces()
        .iter()
        .map(|netns| netns.path().to_owned())
        .collect();
    assert_eq!(paths.len(), 4, "switch, victim, attacker, client");
    assert!(paths.iter().all(|path| path.exists()));
    drop(lab);
    for path in paths {
        assert!(!path.exists(), "{} survived the drop", path.display());
    }
}

#[test]
fn a_panicking_test_still_tears_its_lab_down() {
    let paths = std::sync::Mutex::new(Vec::new());
    let outcome = std::panic::catch_unwind(|| {
        let lab = build();
        let mut recorded = paths.lock().expect("not poisoned");
        recorded.extend(lab.lab().namespaces().iter().map(|n| n.path().to_owned()));
        drop(recorded);
        panic!("a test failing while its lab is up");
    });
    assert!(outcome.is_err());
    let paths = paths.into_inner().expect("not poisoned");
    assert_eq!(paths.len(), 4);
    for path in paths {
        assert!(!path.exists(), "{} survived the panic", path.display());
    }
}

#[test]
fn more_hosts_join_the_same_bridge() {
    let mut lab = build();
    let second_attacker = lab.add_host("attacker2").expect("add a host");
    second_attacker
        .ping(IpAddr::V6(lab.victim.ipv6))
        .expect("the new host reaches the victim");
}

#[test]
fn veth_pairs_connect_two_namespaces_directly() {
    let mut lab = Lab::new().expect("create a lab (needs root)");
    let left = lab.add_netns("left").expect("add a namespace");
    let right = lab.add_netns("right").expect("add a namespace");
    let (left_end, right_end) = lab.add_veth_pair(&left, &right).expect("add a veth pair");
    assert!(Path::new(left.path()).exists());
    left_end
        .ping(IpAddr::V4(right_end.ipv4))
        .expect("ping over IPv4");
    right_end
        .ping(IpAddr::V6(left_end.ipv6))
        .expect("ping over IPv6");
}

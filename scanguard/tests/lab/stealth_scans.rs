//! What the fixed flag rules of the classic iptables rules miss, with real nmap: SYN and connect
//! scans over unwatched ports, fragmented scans, ACK/Window/Maimon and UDP scans are each
//! detected with the right kind within the first probes; benign workloads never trigger
//! anything; default-deny mode keeps the host's own connections working.

use std::{io::Write as _, net::IpAddr, thread, time::Duration};

use scanguard_lab::{
    daemon::Daemon,
    traffic::{connect, exchange, nmap_answered_ports, serve, talk},
};

use crate::support::lab::{ConfigFile, SCANGUARD, SERVICE, require_root, served_lab};

/// Unwatched ports, nothing listening.
const RANGE: &str = "1000-1099";
/// A sweep is 8 distinct ports (the default), so 7 answered probes before the ban; two of the
/// scanned ports may share a bit of the 128-bit sketch (it undercounts, never overcounts), and
/// a slow machine may answer a retransmission: allow one more.
const SWEEP_ANSWERS: usize = 8;

/// Runs one scan against a fresh lab; returns the ban reason and how many probes got through.
fn scan(args: &[&str]) -> (Vec<(String, String)>, usize) {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);
    let through = nmap_answered_ports(&lab.attacker, args, victim);
    let bans = daemon.bans();
    assert!(
        talk(&lab.attacker, victim, SERVICE).is_err(),
        "{args:?}: the scanner still connects"
    );
    talk(&lab.client, victim, SERVICE).expect("the benign client is unaffected");
    println!("nmap {args:?}: {through} probes answered before the ban");
    (bans, through)
}

fn assert_banned_for(args: &[&str], kinds: &[&str], max_through: usize) {
    let (bans, through) = scan(args);
    let attacker = "10.77.0.2".to_string();
    assert_eq!(bans.len(), 1, "{args:?}: {bans:?}");
    assert_eq!(bans[0].0, attacker, "{args:?}");
    assert!(
        kinds.contains(&bans[0].1.as_str()),
        "{args:?} banned for {}",
        bans[0].1
    );
    assert!(
        through <= max_through,
        "{args:?}: {through} probes got through"
    );
}

#[test]
fn syn_scan_over_unwatched_ports_is_a_sweep() {
    require_root();
    assert_banned_for(&["-sS", "-p", RANGE], &["port-sweep"], SWEEP_ANSWERS);
}

#[test]
fn connect_scan_is_a_sweep() {
    require_root();
    assert_banned_for(&["-sT", "-p", RANGE], &["port-sweep"], SWEEP_ANSWERS);
}

#[test]
fn fragmented_scan_is_a_tiny_fragment() {
    require_root();
    assert_banned_for(&["-sS", "-f", "-p", RANGE], &["tiny-fragment"], 0);
}

#[test]
fn ack_and_window_scans_are_stateless_probes() {
    require_root();
    for scan in ["-sA", "-sW"] {
        assert_banned_for(&[scan, "-p", RANGE], &["ack-scan", "port-sweep"], 1);
    }
}

#[test]
fn maimon_scan_is_a_stateless_probe() {
    require_root();
    assert_banned_for(&["-sM", "-p", RANGE], &["maimon-scan", "port-sweep"], 1);
}

#[test]
fn udp_scan_is_caught() {
    require_root();
    assert_banned_for(
        &["-sU", "-p", "69,111,1000-1020"],
        &["udp-probe", "port-sweep"],
        7,
    );
}

#[test]
fn benign_workloads_never_trigger_anything() {
    let lab = served_lab();
    serve(&lab.client, SERVICE);
    let victim: IpAddr = lab.victim.ipv4.into();
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);

    // A client opening 200 connections to one port.
    for _ in 0..200 {
        talk(&lab.client, victim, SERVICE).expect("one of 200 connections");
    }
    // Request and response, then FIN/ACK teardown.
    let mut stream = connect(&lab.client, victim, SERVICE).expect("connect");
    exchange(&mut stream, b"GET / HTTP/1.1\r\n\r\n").expect("request and response");
    drop(stream);
    // A long-lived connection, idle past the sweep window, then used and closed.
    let mut idle = connect(&lab.client, victim, SERVICE).expect("connect");
    thread::sleep(Duration::from_secs(6));
    exchange(&mut idle, b"still there?").expect("after the idle time");
    drop(idle);
    // A connection the client resets (SO_LINGER 0 sends RST), and a RST from a closed port.
    let reset = connect(&lab.client, victim, SERVICE).expect("connect");
    socket2::SockRef::from(&reset)
        .set_linger(Some(Duration::ZERO))
        .expect("linger 0");
    drop(reset);
    assert!(
        talk(&lab.client, victim, 81).is_err(),
        "nothing listens on 81"
    );
    // An IPv6 client, and the victim's own outbound connection.
    talk(&lab.client, lab.victim.ipv6.into(), SERVICE).expect("IPv6 client");
    let mut outbound = connect(&lab.victim, lab.client.ipv4.into(), SERVICE).expect("outbound");
    exchange(&mut outbound, b"ping").expect("outbound exchange");
    outbound.flush().expect("flush");

    assert_eq!(daemon.bans(), vec![], "a benign workload was banned");
    let (detected, by_kind) = daemon.detections();
    assert_eq!(detected, 0, "benign traffic detected as {by_kind}");
}

#[test]
fn default_deny_keeps_the_hosts_own_connections() {
    let lab = served_lab();
    serve(&lab.client, SERVICE);
    let victim: IpAddr = lab.victim.ipv4.into();
    let config = ConfigFile::new("deny", "default_deny = true\nopen_ports = [80]\n");

    // Made before scanguard starts: found in the socket table at attach.
    let mut before = connect(&lab.victim, lab.client.ipv4.into(), SERVICE).expect("outbound");
    let daemon = Daemon::start(
        SCANGUARD,
        &lab.victim,
        &[&lab.victim.interface, "--config", &config.arg()],
    );
    exchange(&mut before, b"older than scanguard").expect("a connection made before attach");
    let mut after = connect(&lab.victim, lab.client.ipv4.into(), SERVICE).expect("outbound");
    exchange(&mut after, b"newer than scanguard").expect("a connection made after attach");

    talk(&lab.client, victim, SERVICE).expect("the open port stays open");
    assert!(
        talk(&lab.client, victim, 2222).is_err(),
        "a closed port is denied"
    );
    assert!(
        daemon.bans().is_empty(),
        "default-deny drops, it does not ban"
    );
    // Every denied packet counts (the SYN and its retransmission), only the first is logged.
    let denied = daemon.cli_json(&["stats"])["detections"]["denied"].as_u64();
    assert!(denied >= Some(1), "{denied:?}");
    let logged = daemon
        .printed()
        .iter()
        .filter(|line| line.starts_with("[scanguard::denied]"))
        .count();
    assert_eq!(logged, 1, "{:?}", daemon.printed());
}

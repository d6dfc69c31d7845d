//! What a short window misses, with real nmap against the default configuration: scans paced
//! one probe a second (`--scan-delay`) are `slow-sweep`s within their first 16 ports, over TCP
//! (SYN and connect), UDP and SCTP, IPv4 and IPv6; SCTP INIT sweeps and COOKIE ECHO probes are
//! caught; and what benign traffic does over the long window never triggers anything.

use std::{
    net::{IpAddr, TcpListener, UdpSocket},
    thread,
    time::{Duration, Instant},
};

use scanguard_lab::{
    Host, ScanLab,
    daemon::Daemon,
    traffic::{connect, exchange, nmap_answered_ports, nmap_command, serve, talk},
};

use crate::support::lab::{SCANGUARD, SERVICE, served_lab};

/// Unwatched ports nothing serves: more than the long window's 15, fewer than the short
/// window's 8 within its 5 seconds at one probe a second.
const RANGE: &str = "1000-1019";
/// The 15th distinct port is the slow sweep: 14 answered probes before the ban, and one more
/// for a retransmission a slow machine may answer.
const SLOW_ANSWERS: usize = 15;
const PACED: [&str; 2] = ["--scan-delay", "1s"];

/// Runs nmap from `from` against `to` as the other lab tests do, for an SCTP scan, whose probes
/// this host cannot answer (no sctp module) and whose report is all filtered.
fn nmap(from: &Host, args: &[&str], to: IpAddr) {
    let output = nmap_command(from, args, to).output().expect("run nmap");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "nmap {args:?}: {stderr}");
}

/// One paced scan against a fresh lab: the bans, how many probes got an answer (none for
/// SCTP), and the scanner's address.
fn paced_scan(scan: &'static str, ipv6: bool) -> (Vec<(String, String)>, usize, String) {
    let lab = served_lab();
    let (victim, attacker): (IpAddr, IpAddr) = match ipv6 {
        false => (lab.victim.ipv4.into(), lab.attacker.ipv4.into()),
        true => (lab.victim.ipv6.into(), lab.attacker.ipv6.into()),
    };
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);
    let args = [scan, PACED[0], PACED[1], "-p", RANGE];
    let answered = match scan {
        "-sY" => {
            nmap(&lab.attacker, &args, victim);
            0
        }
        _ => nmap_answered_ports(&lab.attacker, &args, victim),
    };
    talk(&lab.client, victim, SERVICE).expect("the benign client is unaffected");
    (daemon.bans(), answered, attacker.to_string())
}

#[test]
fn paced_scans_are_slow_sweeps_within_their_first_ports() {
    let scans = [
        ("-sS", false),
        ("-sS", true),
        ("-sT", false),
        ("-sU", false),
        ("-sY", false),
        ("-sY", true),
    ];
    // Each in a lab of its own, all at once: one scan's time for all.
    let runs: Vec<_> = scans
        .into_iter()
        .map(|(scan, ipv6)| thread::spawn(move || (scan, ipv6, paced_scan(scan, ipv6))))
        .collect();
    for run in runs {
        let (scan, ipv6, (bans, answered, attacker)) = run.join().expect("a paced scan");
        let what = format!("nmap {scan} --scan-delay 1s (IPv6: {ipv6})");
        println!("{what}: {answered} probes answered before the ban");
        assert_eq!(bans, vec![(attacker, "slow-sweep".to_string())], "{what}");
        assert!(
            answered <= SLOW_ANSWERS,
            "{what}: {answered} probes answered"
        );
    }
}

#[test]
fn sctp_init_and_cookie_echo_scans_are_caught() {
    let scans = [
        (["-sY", "-p", "1000-1059"], "port-sweep"),
        (["-sZ", "-p", "1000-1059"], "sctp-probe"),
    ];
    for (args, kind) in scans {
        let lab = served_lab();
        let victim: IpAddr = lab.victim.ipv4.into();
        let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);
        nmap(&lab.attacker, &args, victim);
        let expected = vec![(lab.attacker.ipv4.to_string(), kind.to_string())];
        assert_eq!(daemon.bans(), expected, "nmap {args:?}");
        let events = daemon.printed().join("\n");
        assert!(events.contains("PROTO=SCTP"), "nmap {args:?}: {events}");
    }
}

/// Over the long window, at once: a monitor checking a handful of ports every two seconds,
/// services started and stopped on the victim, a client connecting to one service every
/// second, and the victim's own TCP connections and UDP queries from ports of its own.
#[test]
fn benign_traffic_over_the_long_window_never_triggers_anything() {
    let lab = served_lab();
    serve(&lab.client, SERVICE);
    let victim: IpAddr = lab.victim.ipv4.into();
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);
    let answers = udp_answers(&lab);
    let start = Instant::now();
    let mut round = 0;
    while start.elapsed() < Duration::from_secs(30) {
        // The monitor: the service, and four ports whose services are down.
        if round % 2 == 0 {
            for port in [SERVICE, 81, 5432, 6379, 9100] {
                let _ = talk(&lab.client, victim, port);
            }
        }
        // A service that comes and goes: up for one round in three.
        let restarted = (round % 3 == 0).then(|| listen(&lab, 8081));
        let _ = talk(&lab.client, victim, 8081);
        drop(restarted);
        talk(&lab.client, victim, SERVICE).expect("a client of the service");
        let mut outbound = connect(&lab.victim, lab.client.ipv4.into(), SERVICE).expect("outbound");
        exchange(&mut outbound, b"ping").expect("outbound exchange");
        query(&lab, answers).expect("the victim's query is answered");
        round += 1;
        thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(daemon.bans(), vec![], "benign traffic was banned");
    let (detected, by_kind) = daemon.detections();
    assert_eq!(detected, 0, "benign traffic detected as {by_kind}");
}

/// A TCP listener on the victim, closed on drop.
fn listen(lab: &ScanLab, port: u16) -> TcpListener {
    let _guard = lab.victim.enter().expect("enter the victim's namespace");
    TcpListener::bind(("::", port)).expect("bind a service")
}

/// A UDP service on the client that answers every datagram: where the victim's queries go.
fn udp_answers(lab: &ScanLab) -> u16 {
    let socket = {
        let _guard = lab.client.enter().expect("enter the client's namespace");
        UdpSocket::bind(("0.0.0.0", 0)).expect("bind the answering socket")
    };
    let port = socket.local_addr().expect("its address").port();
    thread::spawn(move || {
        let mut buffer = [0; 512];
        while let Ok((read, from)) = socket.recv_from(&mut buffer) {
            let _ = socket.send_to(&buffer[..read], from);
        }
    });
    port
}

/// One query from a new socket of the victim's, so from a port of its own, as a resolver asks.
fn query(lab: &ScanLab, port: u16) -> std::io::Result<()> {
    let socket = {
        let _guard = lab.victim.enter().expect("enter the victim's namespace");
        UdpSocket::bind(("0.0.0.0", 0))?
    };
    socket.set_read_timeout(Some(Duration::from_secs(2)))?;
    socket.send_to(b"query", (lab.client.ipv4, port))?;
    socket.recv(&mut [0; 512]).map(drop)
}

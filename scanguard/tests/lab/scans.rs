//! Real nmap scans from the attacker namespace against a protected victim: every stealth scan
//! gets no answer and bans the attacker, whose connections then fail until the ban ends; a
//! benign client is never banned.

use std::{net::IpAddr, thread, time::Duration};

use scanguard_lab::ScanLab;
use scanguard_lab::{
    daemon::Daemon,
    traffic::{nmap_port_state, talk},
};

use crate::support::lab::{SCANGUARD, SERVICE, served_lab};

/// Nothing listens here: without scanguard a stealth scan gets a RST and says "closed".
const CLOSED: u16 = 81;
/// In the default watch list (telnet), closed too.
const WATCHED: u16 = 23;
const BAN_SECONDS: u64 = 3;

#[test]
fn stealth_scans_go_unanswered_and_ban_the_scanner_until_expiry() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let attacker: IpAddr = lab.attacker.ipv4.into();

    // Without scanguard the victim answers: this is what the scans must stop seeing.
    assert_eq!(
        nmap_port_state(&lab.attacker, "-sN", victim, CLOSED),
        "closed"
    );
    assert_eq!(
        nmap_port_state(&lab.attacker, "-sS", victim, WATCHED),
        "closed"
    );

    let ban_seconds = BAN_SECONDS.to_string();
    let daemon = Daemon::start(
        SCANGUARD,
        &lab.victim,
        &[&lab.victim.interface, "--ban-seconds", &ban_seconds],
    );
    benign_traffic(&lab, victim);

    let scans = [
        ("-sN", CLOSED, "null-scan", "open|filtered"),
        ("-sF", CLOSED, "fin-scan", "open|filtered"),
        ("-sX", CLOSED, "xmas-scan", "open|filtered"),
        ("-sS", WATCHED, "syn-scan", "filtered"),
    ];
    for (scan, port, kind, verdict) in scans {
        assert_eq!(
            nmap_port_state(&lab.attacker, scan, victim, port),
            verdict,
            "{scan}"
        );
        assert_eq!(
            daemon.bans(),
            vec![(attacker.to_string(), kind.to_string())],
            "{scan} bans the attacker, and only the attacker"
        );
        assert!(
            talk(&lab.attacker, victim, SERVICE).is_err(),
            "{scan}: a banned attacker still connects"
        );
        daemon.cli(&["unban", &attacker.to_string()]);
        talk(&lab.attacker, victim, SERVICE).expect("connects again once unbanned");
    }

    // The last ban is left to run out.
    assert_eq!(
        nmap_port_state(&lab.attacker, "-sN", victim, CLOSED),
        "open|filtered"
    );
    assert!(talk(&lab.attacker, victim, SERVICE).is_err());
    thread::sleep(Duration::from_secs(BAN_SECONDS) + Duration::from_millis(500));
    talk(&lab.attacker, victim, SERVICE).expect("connects again after the ban expired");
    assert!(!daemon.is_banned(attacker));

    benign_traffic(&lab, victim);
    assert!(!daemon.is_banned(lab.client.ipv4.into()));
}

#[test]
fn ipv6_scans_are_caught_too() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv6.into();
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);
    assert_eq!(
        nmap_port_state(&lab.attacker, "-sX", victim, CLOSED),
        "open|filtered"
    );
    assert_eq!(
        daemon.bans(),
        vec![(lab.attacker.ipv6.to_string(), "xmas-scan".to_string())]
    );
    assert!(talk(&lab.attacker, victim, SERVICE).is_err());
    talk(&lab.client, victim, SERVICE).expect("the IPv6 client is unaffected");
}

/// Connections with data and FIN/ACK teardown, and a RST from a closed port: never a ban.
fn benign_traffic(lab: &ScanLab, victim: IpAddr) {
    for _ in 0..3 {
        talk(&lab.client, victim, SERVICE).expect("the benign client connects");
    }
    let refused =
        talk(&lab.client, victim, CLOSED).expect_err("nothing listens on the closed port");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    lab.client.ping(victim).expect("the client pings");
}

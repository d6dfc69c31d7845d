//! Detection events end to end: real nmap scans produce iptables-style lines and JSON with the
//! right fields, a flood from a banned source is rate-limited in the kernel, and `scanguard
//! events` viewers see what the daemon prints without ever slowing it down.

use std::{
    io::{BufRead as _, BufReader},
    net::IpAddr,
    process::{Child, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

use nix::sys::signal::Signal;
use scanguard_lab::{
    ScanLab,
    daemon::Daemon,
    traffic::{hping3, nmap_port_state},
    wait_until,
};
use serde_json::Value;

use crate::support::lab::{ConfigFile, SCANGUARD, require_root};

const CLOSED: u16 = 81;
/// The documented JSON fields of an event.
const FIELDS: [&str; 22] = [
    "time",
    "event",
    "kind",
    "action",
    "interface",
    "ifindex",
    "src_mac",
    "dst_mac",
    "ethertype",
    "vlan_id",
    "src",
    "dst",
    "protocol",
    "src_port",
    "dst_port",
    "tcp_flags",
    "window",
    "ttl",
    "tos",
    "ip_id",
    "length",
    "suppressed",
];

/// A `scanguard events --json` viewer collecting what it receives.
struct Viewer {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Viewer {
    fn start(daemon: &Daemon) -> Viewer {
        let mut child = std::process::Command::new(SCANGUARD)
            .args(["events", "--json"])
            .args(daemon.dir_flags())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn scanguard events");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&lines);
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                collected.lock().expect("lines").push(line);
            }
        });
        // Connected once the daemon accepted it; give the accept loop a moment.
        thread::sleep(Duration::from_millis(300));
        Viewer { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn events(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{line}: {error}")))
        .collect()
}

fn wait_for_lines(what: impl Fn() -> usize, count: usize) -> bool {
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        what() >= count
    })
}

#[test]
fn scans_produce_events_that_viewers_see_too() {
    require_root();
    let lab = ScanLab::build().expect("lab");
    let victim: IpAddr = lab.victim.ipv4.into();
    let attacker = lab.attacker.ipv4.to_string();
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface, "--json"]);
    let viewer = Viewer::start(&daemon);
    let mut slow_viewer = Viewer::start(&daemon);

    for (scan, kind, flags) in [
        ("-sN", "null-scan", "NONE"),
        ("-sX", "xmas-scan", "URG,PSH,FIN"),
    ] {
        nmap_port_state(&lab.attacker, scan, victim, CLOSED);
        assert!(
            wait_for_lines(
                || events(&daemon.printed())
                    .iter()
                    .filter(|e| e["kind"] == kind)
                    .count(),
                1
            ),
            "no {kind} event"
        );
        let detection = events(&daemon.printed())
            .into_iter()
            .find(|event| event["kind"] == kind && event["event"] == "detection")
            .unwrap_or_else(|| panic!("no {kind} detection"));
        assert_eq!(detection["action"], "ban");
        assert_eq!(detection["interface"], lab.victim.interface.as_str());
        assert_eq!(detection["src"], attacker.as_str());
        assert_eq!(detection["dst"], victim.to_string().as_str());
        assert_eq!(detection["dst_port"], CLOSED);
        assert_eq!(detection["protocol"], "TCP");
        assert_eq!(detection["tcp_flags"], flags);
        assert_eq!(detection["ethertype"], 0x0800);
        // nmap's NULL and Xmas probes are no SYNs: nothing to fingerprint.
        assert_eq!(detection["fingerprint"], serde_json::Value::Null);
        daemon.cli(&["unban", &attacker]);
        if kind == "null-scan" {
            // A viewer killed mid-stream must not disturb the daemon.
            let _ = slow_viewer.child.kill();
        }
    }

    for event in events(&daemon.printed()) {
        for field in FIELDS {
            assert!(event.get(field).is_some(), "{field} missing from {event}");
        }
        assert!(
            humantime::parse_rfc3339(event["time"].as_str().expect("time is a string")).is_ok(),
            "time is not RFC 3339: {event}"
        );
    }
    let printed = daemon.printed();
    assert!(wait_for_lines(|| viewer.lines().len(), printed.len()));
    assert_eq!(
        events(&viewer.lines()),
        events(&printed),
        "the viewer saw what the daemon printed"
    );
    assert!(
        daemon.cli_json(&["status"])["daemon_pid"].is_u64(),
        "the daemon survived its viewers"
    );
}

#[test]
fn a_flood_from_a_banned_source_is_rate_limited_in_the_kernel() {
    require_root();
    const FLOOD: u64 = 100_000;
    let lab = ScanLab::build().expect("lab");
    let victim: IpAddr = lab.victim.ipv4.into();
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface, "--json"]);
    daemon.cli(&["ban", &lab.attacker.ipv4.to_string(), "--for", "10m"]);

    // Bounded: exactly FLOOD SYNs, as fast as hping3 goes, from the attacker namespace only.
    hping3(
        &lab.attacker,
        &["-S", "-p", "80", "-i", "u1"],
        FLOOD as u32,
        victim,
    );

    let stats = daemon.cli_json(&["stats"]);
    let dropped = stats["packets"]["dropped_banned"]
        .as_u64()
        .expect("dropped_banned");
    let sent = stats["packets"]["events_sent"]
        .as_u64()
        .expect("events_sent");
    let suppressed = stats["packets"]["events_suppressed"]
        .as_u64()
        .expect("events_suppressed");
    assert_eq!(dropped, FLOOD, "every packet of the flood is dropped");
    // Burst 5, plus 3 a minute for however long the flood took (well under a minute).
    assert!((1..=5 + 3).contains(&sent), "{sent} events for one source");
    // Only a CPU's first drop in each tick is offered to the limit at all.
    let offered = sent + suppressed;
    assert!(
        offered < FLOOD / 2,
        "{offered} of {FLOOD} drops offered as events"
    );
    let last = events(&daemon.printed());
    assert!(
        last.len() as u64 <= sent,
        "printed more events than the kernel sent"
    );
    assert!(last.iter().all(|event| event["event"] == "banned"));
    assert_eq!(stats["packets"]["events_lost"], 0);
}

#[test]
fn a_storm_of_events_from_many_sources_is_printed_whole() {
    require_root();
    // Many times the reader's batch, from sources hping3 picks at random, each a NULL probe:
    // one ban and one event apiece, with the ban and event budgets lifted.
    const PROBES: u32 = 3_000;
    let lab = ScanLab::build().expect("lab");
    let victim: IpAddr = lab.victim.ipv4.into();
    let config = ConfigFile::new(
        "storm",
        "max_bans_per_second = 100000\n[events]\nper_second = 100000\n",
    );
    let daemon = Daemon::start(
        SCANGUARD,
        &lab.victim,
        &[&lab.victim.interface, "--config", &config.arg(), "--json"],
    );

    // The daemon held still while the storm fills the kernel's buffers (room for ~40,000
    // events a CPU), so that it finds many batches waiting at once when it goes on.
    daemon.signal(Signal::SIGSTOP);
    // Bounded: exactly PROBES packets at 5,000 a second, from the attacker namespace only.
    hping3(
        &lab.attacker,
        &["--rand-source", "-p", &CLOSED.to_string(), "-i", "u200"],
        PROBES,
        victim,
    );
    daemon.signal(Signal::SIGCONT);

    let sent = daemon.cli_json(&["stats"])["packets"]["events_sent"]
        .as_u64()
        .expect("events_sent");
    assert!(
        sent > u64::from(PROBES) / 2,
        "{sent} events for {PROBES} probes from random sources"
    );
    assert!(
        wait_for_lines(|| daemon.printed().len(), sent as usize),
        "printed {} of {sent} events",
        daemon.printed().len()
    );
    let stats = daemon.cli_json(&["stats"]);
    assert_eq!(stats["packets"]["events_lost"], 0);
    assert_eq!(
        stats["packets"]["events_sent"].as_u64(),
        Some(sent),
        "no event after the storm"
    );
    assert_eq!(daemon.printed().len() as u64, sent);
}

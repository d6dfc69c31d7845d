//! scanguard against a real CrowdSec LAPI (Debian's `crowdsec`, run by the test in a lab
//! namespace): `cscli` decisions are enforced and lifted, for addresses and ranges of both
//! families, across a daemon restart and a LAPI outage; a scan one host sees becomes a
//! decision another host enforces before that scanner ever reaches it.

use std::{
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};

use ipnet::IpNet;
use nix::sys::signal::Signal;
use scanguard_lab::{
    daemon::Daemon,
    traffic::{nmap_port_state, serve, talk},
    wait_until,
};

use crate::support::{
    lab::{ConfigFile, SCANGUARD, SERVICE, served_lab},
    lapi::Lapi,
};

/// The bouncer's `update_frequency` in these tests.
const PERIOD: Duration = Duration::from_secs(1);
/// Room for `scanguard bans` itself to run, on top of the two periods a change may take.
const SLACK: Duration = Duration::from_millis(1500);
/// The LAPI's port inside the test's own namespaces.
const LAPI_PORT: u16 = 8080;

fn bouncer_config(url: &str, key: &str, extra: &str) -> String {
    format!(
        "[crowdsec]\napi_url = \"{url}\"\napi_key = \"{key}\"\nupdate_frequency = \"1s\"\n{extra}"
    )
}

/// The CrowdSec decisions `bans` lists: (address or range, origin, reason).
fn decisions(daemon: &Daemon) -> Vec<(String, String, String)> {
    daemon
        .cli_json(&["bans"])
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter(|ban| {
            ban["origin"]
                .as_str()
                .is_some_and(|o| o.starts_with("lapi/"))
        })
        .map(|ban| {
            let text = |field: &str| ban[field].as_str().unwrap_or_default().to_string();
            (text("address"), text("origin"), text("reason"))
        })
        .collect()
}

fn has_decision(daemon: &Daemon, target: &str) -> bool {
    decisions(daemon)
        .iter()
        .any(|(listed, _, _)| listed == target)
}

/// Waits until `daemon` lists (or no longer lists) `target`, within two update periods.
#[track_caller]
fn expect_within_two_periods(daemon: &Daemon, target: &str, listed: bool) {
    let start = Instant::now();
    let done = wait_until(2 * PERIOD + SLACK, Duration::from_millis(100), || {
        has_decision(daemon, target) == listed
    });
    assert!(
        done,
        "{target} {} within two update periods ({:?}): {:?}\n{}",
        if listed {
            "not enforced"
        } else {
            "still enforced"
        },
        start.elapsed(),
        decisions(daemon),
        daemon.log()
    );
}

#[test]
fn lapi_decisions_are_enforced_until_deleted_and_after_a_restart() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let victim6: IpAddr = lab.victim.ipv6.into();
    let attacker = lab.attacker.ipv4.to_string();
    let lapi = Lapi::start(&lab.victim, SocketAddr::from(([127, 0, 0, 1], LAPI_PORT)));
    let key = lapi.bouncer_key("victim");
    let config = ConfigFile::new("crowdsec-decisions", &bouncer_config(&lapi.url(), &key, ""));
    let args = [lab.victim.interface.as_str(), "--config", &config.arg()];
    let mut daemon = Daemon::start_in(SCANGUARD, &lab.victim.netns, &args);
    talk(&lab.attacker, victim, SERVICE).expect("no decision yet");

    // One address.
    lapi.cscli(&["decisions", "add", "--ip", &attacker, "--duration", "1h"]);
    expect_within_two_periods(&daemon, &attacker, true);
    assert_eq!(
        decisions(&daemon),
        vec![(
            attacker.clone(),
            "lapi/cscli".to_string(),
            "manual 'ban' from 'cscli'".to_string()
        )]
    );
    assert!(
        talk(&lab.attacker, victim, SERVICE).is_err(),
        "a decided source connects"
    );
    talk(&lab.client, victim, SERVICE).expect("the client has no decision");
    let stats = daemon.cli_json(&["stats"]);
    assert!(
        stats["decisions"]["dropped"]["cscli"].as_u64() > Some(0),
        "{stats}"
    );
    let refusal = daemon.cli_error(&["unban", &attacker]);
    assert!(
        refusal.contains(&format!("cscli decisions delete --ip {attacker}")),
        "{refusal}"
    );
    assert!(
        has_decision(&daemon, &attacker),
        "unban lifted a LAPI decision"
    );
    lapi.cscli(&["decisions", "delete", "--ip", &attacker]);
    expect_within_two_periods(&daemon, &attacker, false);
    talk(&lab.attacker, victim, SERVICE).expect("connects once the decision is deleted");

    // A whole /24: the attacker and the client alike.
    let lab_v4 = IpNet::new(victim, 24).unwrap().trunc().to_string();
    lapi.cscli(&["decisions", "add", "--range", &lab_v4, "--duration", "1h"]);
    expect_within_two_periods(&daemon, &lab_v4, true);
    assert!(talk(&lab.attacker, victim, SERVICE).is_err());
    assert!(talk(&lab.client, victim, SERVICE).is_err());
    let refusal = daemon.cli_error(&["unban", &lab.client.ipv4.to_string()]);
    assert!(
        refusal.contains(&format!("cscli decisions delete --range {lab_v4}")),
        "{refusal}"
    );
    lapi.cscli(&["decisions", "delete", "--range", &lab_v4]);
    expect_within_two_periods(&daemon, &lab_v4, false);
    talk(&lab.client, victim, SERVICE).expect("connects once the range is deleted");

    // IPv6, an address and a range.
    let attacker6 = lab.attacker.ipv6.to_string();
    lapi.cscli(&["decisions", "add", "--ip", &attacker6, "--duration", "1h"]);
    expect_within_two_periods(&daemon, &attacker6, true);
    assert!(talk(&lab.attacker, victim6, SERVICE).is_err());
    talk(&lab.attacker, victim, SERVICE).expect("the attacker's IPv4 address has no decision");
    lapi.cscli(&["decisions", "delete", "--ip", &attacker6]);
    let lab_v6 = IpNet::new(victim6, 64).unwrap().trunc().to_string();
    lapi.cscli(&["decisions", "add", "--range", &lab_v6, "--duration", "1h"]);
    expect_within_two_periods(&daemon, &lab_v6, true);
    assert!(!has_decision(&daemon, &attacker6));
    assert!(talk(&lab.client, victim6, SERVICE).is_err());
    lapi.cscli(&["decisions", "delete", "--range", &lab_v6]);
    expect_within_two_periods(&daemon, &lab_v6, false);
    // The range also dropped the client's neighbour advertisements: its neighbour entry for
    // the victim failed, and recovers within a few seconds.
    let reconnected = wait_until(Duration::from_secs(15), Duration::from_millis(500), || {
        talk(&lab.client, victim6, SERVICE).is_ok()
    });
    assert!(reconnected, "no IPv6 connection once the range is deleted");

    // A decision made while no daemon runs is enforced by the next one's first pull.
    daemon.stop(Signal::SIGTERM);
    lapi.cscli(&["decisions", "add", "--ip", &attacker, "--duration", "10m"]);
    let daemon = Daemon::start_in(SCANGUARD, &lab.victim.netns, &args);
    expect_within_two_periods(&daemon, &attacker, true);
    assert!(talk(&lab.attacker, victim, SERVICE).is_err());
}

#[test]
fn a_scan_seen_by_one_host_is_enforced_by_another() {
    let lab = served_lab();
    // Host A is the victim, host B the client; each runs scanguard with its own pins and its
    // own bouncer key. The LAPI runs beside A, on A's lab address.
    let host_a: IpAddr = lab.victim.ipv4.into();
    let host_b: IpAddr = lab.client.ipv4.into();
    serve(&lab.client, SERVICE);
    let attacker = lab.attacker.ipv4.to_string();
    let lapi = Lapi::start(&lab.victim, SocketAddr::new(host_a, LAPI_PORT));
    lapi.add_machine("host-a", "host-a-password");
    let config_a = ConfigFile::new(
        "crowdsec-host-a",
        &bouncer_config(
            &lapi.url(),
            &lapi.bouncer_key("host-a"),
            "login = \"host-a\"\npassword = \"host-a-password\"\n",
        ),
    );
    let config_b = ConfigFile::new(
        "crowdsec-host-b",
        &bouncer_config(&lapi.url(), &lapi.bouncer_key("host-b"), ""),
    );
    let a = Daemon::start_in(
        SCANGUARD,
        &lab.victim.netns,
        &[&lab.victim.interface, "--config", &config_a.arg()],
    );
    let b = Daemon::start_in(
        SCANGUARD,
        &lab.client.netns,
        &[&lab.client.interface, "--config", &config_b.arg()],
    );
    talk(&lab.attacker, host_b, SERVICE).expect("B has nothing against the attacker yet");

    assert_eq!(
        nmap_port_state(&lab.attacker, "-sN", host_a, 81),
        "open|filtered"
    );
    // A's own ban (A's bouncer may list the decision it pushed beside it already).
    let banned = a.bans();
    assert!(
        banned.contains(&(attacker.clone(), "null-scan".to_string())),
        "{banned:?}"
    );

    // Pushed by A as an alert, decided by the LAPI, pulled by B.
    let start = Instant::now();
    let enforced = wait_until(Duration::from_secs(15), Duration::from_millis(100), || {
        has_decision(&b, &attacker)
    });
    assert!(
        enforced,
        "B never enforced A's ban:\nLAPI: {}\nA: {}\nB: {}",
        lapi.alerts(),
        a.log(),
        b.log()
    );
    println!("A's ban enforced by B after {:?}", start.elapsed());
    assert_eq!(
        decisions(&b),
        vec![(
            attacker.clone(),
            "lapi/scanguard".to_string(),
            "scanguard/null-scan".to_string()
        )]
    );
    assert!(
        talk(&lab.attacker, host_b, SERVICE).is_err(),
        "B let the attacker in"
    );
    talk(&lab.victim, host_b, SERVICE).expect("B still serves others");
    let alerts = lapi.alerts().to_string();
    assert!(alerts.contains("scanguard/null-scan"), "{alerts}");
    // A ban that came from the LAPI is not pushed back: one alert, A's own.
    assert_eq!(
        alerts
            .matches("\"scenario\":\"scanguard/null-scan\"")
            .count(),
        2,
        "{alerts}"
    );
    assert!(!b.log().contains("pushing bans"), "B has no machine login");
}

#[test]
fn enforcement_outlives_a_lapi_outage() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let attacker = lab.attacker.ipv4.to_string();
    let mut lapi = Lapi::start(&lab.victim, SocketAddr::from(([127, 0, 0, 1], LAPI_PORT)));

    // A wrong key is one clear error line, and the daemon goes on.
    let wrong = ConfigFile::new(
        "crowdsec-wrong-key",
        &bouncer_config(&lapi.url(), "not-a-bouncer-key", ""),
    );
    let mut daemon = Daemon::start_in(
        SCANGUARD,
        &lab.victim.netns,
        &[&lab.victim.interface, "--config", &wrong.arg()],
    );
    let refused = wait_until(Duration::from_secs(5), Duration::from_millis(100), || {
        daemon.log().contains("refused the bouncer key")
    });
    assert!(refused, "{}", daemon.log());
    std::thread::sleep(3 * PERIOD);
    assert!(daemon.is_running());
    let log = daemon.log();
    assert_eq!(log.matches("refused the bouncer key").count(), 1, "{log}");
    daemon.stop(Signal::SIGTERM);

    let config = ConfigFile::new(
        "crowdsec-outage",
        &bouncer_config(&lapi.url(), &lapi.bouncer_key("victim"), ""),
    );
    let mut daemon = Daemon::start_in(
        SCANGUARD,
        &lab.victim.netns,
        &[&lab.victim.interface, "--config", &config.arg()],
    );
    lapi.cscli(&["decisions", "add", "--ip", &attacker, "--duration", "1h"]);
    expect_within_two_periods(&daemon, &attacker, true);

    lapi.stop();
    let noticed = wait_until(Duration::from_secs(5), Duration::from_millis(100), || {
        daemon.log().contains("cannot be reached")
    });
    assert!(noticed, "the outage was not reported:\n{}", daemon.log());
    std::thread::sleep(3 * PERIOD);
    assert!(daemon.is_running(), "the daemon died with the LAPI");
    assert!(
        has_decision(&daemon, &attacker),
        "the decision lapsed with the LAPI"
    );
    assert!(
        talk(&lab.attacker, victim, SERVICE).is_err(),
        "enforcement stopped"
    );

    lapi.resume();
    // Back-off: the retries wait up to a minute after a long outage; this one is short.
    let recovered = wait_until(Duration::from_secs(15), Duration::from_millis(200), || {
        daemon.log().contains("answers again")
    });
    assert!(recovered, "no recovery:\n{}", daemon.log());
    lapi.cscli(&["decisions", "delete", "--ip", &attacker]);
    expect_within_two_periods(&daemon, &attacker, false);
    talk(&lab.attacker, victim, SERVICE).expect("connects once the decision is deleted");
}

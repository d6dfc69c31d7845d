//! The CLI against a running daemon in the lab: bans, unban, ban --for, stats, status, and
//! the life cycle with and without --persist.

use std::{net::IpAddr, thread, time::Duration};

use ipnet::IpNet;
use nix::sys::signal::Signal;
use scanguard::bpf::{pins::Pins, program::allow_key};
use scanguard_common::{
    allow::{ALLOW_CAPACITY, ALLOW_LOCKOUT},
    ports::ROLE_SERVED,
};
use scanguard_lab::{Host, ScanLab, run_checked, wait_until};
use scanguard_lab::{
    daemon::{Daemon, PinCleanup},
    traffic::{nmap_port_state, serve, talk},
};

use crate::support::lab::{
    ConfigFile, SCANGUARD, SERVICE, add_spare_interface, checks_program, checks_program_in,
    require_root, served_lab,
};

const CLOSED: u16 = 81;

#[test]
fn bans_unban_ban_stats_and_status_work_from_another_process() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let attacker = lab.attacker.ipv4.to_string();
    let mut daemon = Daemon::start(
        SCANGUARD,
        &lab.victim,
        &[
            &lab.victim.interface,
            "--mode",
            "skb",
            "--allow",
            "192.0.2.0/24",
        ],
    );

    nmap_port_state(&lab.attacker, "-sN", victim, CLOSED);
    let bans = daemon.cli_json(&["bans"]);
    assert_eq!(bans[0]["address"], attacker.as_str());
    assert_eq!(bans[0]["reason"], "null-scan");
    assert!(
        bans[0]["expires_in_seconds"]
            .as_u64()
            .is_some_and(|secs| secs <= 60)
    );

    // Exactly the pings sent while banned are dropped as banned (nmap's own retry may be too).
    let dropped_before = daemon.counter("dropped_banned");
    let ban_dropped_before = bans[0]["dropped_packets"]
        .as_u64()
        .expect("dropped_packets");
    const PINGS: u64 = 5;
    for _ in 0..PINGS {
        assert!(
            lab.attacker.ping(victim).is_err(),
            "a banned attacker's ping is answered"
        );
    }
    assert_eq!(daemon.counter("dropped_banned") - dropped_before, PINGS);
    assert_eq!(
        daemon.cli_json(&["bans"])[0]["dropped_packets"],
        ban_dropped_before + PINGS
    );
    let stats = daemon.cli_json(&["stats"]);
    assert_eq!(stats["detections"]["null-scan"], 1);
    assert_eq!(stats["packets"]["bans_created"], 1);

    daemon.cli(&["unban", &attacker]);
    assert!(daemon.bans().is_empty());
    talk(&lab.attacker, victim, SERVICE).expect("unbanned attacker connects");

    // A network lifts every ban inside it, IPv4 and IPv6, and no other.
    for address in [
        "198.51.100.7",
        "198.51.100.200",
        "198.51.101.1",
        "2001:db8::1",
    ] {
        daemon.cli(&["ban", address]);
    }
    let output = daemon.cli(&[
        "unban",
        "198.51.100.0/24",
        "2001:db8::/32",
        "203.0.113.0/24",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "unbanned 2 sources in 198.51.100.0/24\n\
         unbanned 1 source in 2001:db8::/32\n\
         unbanned 0 sources in 203.0.113.0/24\n"
    );
    assert_eq!(
        daemon.bans(),
        vec![("198.51.101.1".to_string(), "manual".to_string())]
    );
    daemon.cli(&["unban", "198.51.101.1"]);

    // A ban by hand spares the allow-list, and this host unless forced (lock-out protection).
    let refused = daemon.cli_error(&["ban", "192.0.2.1"]);
    assert!(refused.contains("is on the allow-list"), "{refused}");
    let own = lab.victim.ipv4.to_string();
    let refused = daemon.cli_error(&["ban", &own]);
    assert!(refused.contains("`--force` bans it anyway"), "{refused}");
    daemon.cli(&["ban", &own, "--force"]);
    assert_eq!(daemon.bans(), vec![(own.clone(), "manual".to_string())]);
    daemon.cli(&["unban", &own]);

    daemon.cli(&["ban", &attacker, "--for", "2s"]);
    assert!(
        talk(&lab.attacker, victim, SERVICE).is_err(),
        "manual ban enforced"
    );
    thread::sleep(Duration::from_millis(2500));
    talk(&lab.attacker, victim, SERVICE).expect("manual ban expired");

    let status = daemon.cli_json(&["status"]);
    assert_eq!(
        status["interfaces"][0]["name"],
        lab.victim.interface.as_str()
    );
    assert_eq!(status["interfaces"][0]["mode"], "skb");
    assert_eq!(status["ban_seconds"], 60);
    assert_eq!(status["allow_listed"], serde_json::json!(["192.0.2.0/24"]));
    assert_eq!(status["served_ports"], serde_json::json!([SERVICE]));
    let own = format!("{}/32", lab.victim.ipv4);
    assert!(
        status["lockout_protected"]
            .as_array()
            .is_some_and(|protected| protected.contains(&own.as_str().into())),
        "{status}"
    );

    let pin_dir = daemon.pin_dir.clone();
    assert!(daemon.stop(Signal::SIGTERM).success());
    assert!(!pin_dir.exists(), "pins left behind");
}

#[test]
fn unban_forgives_so_the_next_ban_is_a_first_offence() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let attacker = lab.attacker.ipv4.to_string();
    let interface = lab.victim.interface.as_str();
    let daemon = Daemon::start(
        SCANGUARD,
        &lab.victim,
        &[interface, "--mode", "skb", "--ban-seconds", "3"],
    );
    let scanned_repeat = || {
        nmap_port_state(&lab.attacker, "-sN", victim, CLOSED);
        let bans = daemon.cli_json(&["bans"]);
        assert_eq!(bans[0]["address"], attacker.as_str(), "{bans}");
        bans[0]["repeat"].as_u64().expect("repeat")
    };

    assert_eq!(scanned_repeat(), 0);
    // Banned again soon after the first ban ran out: a repeat offender.
    thread::sleep(Duration::from_millis(3200));
    assert_eq!(scanned_repeat(), 1);
    daemon.cli(&["unban", &attacker]);
    assert_eq!(scanned_repeat(), 0, "forgiven by unban ADDR");
    daemon.cli(&["unban", &format!("{attacker}/24")]);
    assert_eq!(scanned_repeat(), 0, "forgiven by unban NETWORK");
}

#[test]
fn sighup_reloads_the_config_and_keeps_it_when_the_file_is_bad() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let config = ConfigFile::new("reload", "[actions]\nnull-scan = \"log\"\n");
    let interface = lab.victim.interface.as_str();
    let mut daemon = Daemon::start_in(
        SCANGUARD,
        &lab.victim.netns,
        &[interface, "--mode", "skb", "--config", &config.arg()],
    );
    nmap_port_state(&lab.attacker, "-sN", victim, CLOSED);
    assert!(daemon.bans().is_empty(), "a logged probe banned");

    // Each SIGHUP logs one of two lines.
    let reloaded = |daemon: &Daemon, times: usize| {
        wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
            let log = daemon.log();
            log.matches("configuration reloaded").count()
                + log.matches("configuration not reloaded").count()
                >= times
        })
    };
    config.rewrite("ban_seconds = 120\n[actions]\nnull-scan = \"ban\"\n");
    daemon.signal(Signal::SIGHUP);
    assert!(reloaded(&daemon, 1), "no reload: {}", daemon.log());
    assert!(
        daemon.log().contains("configuration reloaded"),
        "{}",
        daemon.log()
    );
    assert_eq!(daemon.cli_json(&["status"])["ban_seconds"], 120);
    nmap_port_state(&lab.attacker, "-sN", victim, CLOSED);
    assert_eq!(
        daemon.bans(),
        vec![(lab.attacker.ipv4.to_string(), "null-scan".to_string())]
    );

    // A file that does not load leaves the settings in force, and the daemon running.
    config.rewrite("ban_seconds = \"a while\"\n");
    daemon.signal(Signal::SIGHUP);
    assert!(reloaded(&daemon, 2), "no reload: {}", daemon.log());
    assert!(
        daemon
            .log()
            .contains("configuration not reloaded, the one in force stays"),
        "{}",
        daemon.log()
    );
    assert!(daemon.is_running());
    assert_eq!(daemon.cli_json(&["status"])["ban_seconds"], 120);
}

#[test]
fn the_daemon_follows_new_services_and_addresses_of_its_host() {
    let lab = served_lab();
    let interface = lab.victim.interface.as_str();
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[interface, "--mode", "skb"]);
    let pins = Pins::open(&daemon.pin_dir).expect("the daemon's pins");
    let new_port: u16 = 8080;
    // In the lab's private range, on the victim's own interface.
    let new_address: IpAddr = "10.77.0.99".parse().expect("an address");
    let served = || {
        pins.port_roles().expect("roles").get(&0, 0).expect("roles")[usize::from(new_port)]
            & ROLE_SERVED
            != 0
    };
    assert!(!served() && !lockout_protected(&pins, new_address));

    serve(&lab.victim, new_port);
    run_checked(lab.victim.command("ip").args([
        "address",
        "add",
        "10.77.0.99/32",
        "dev",
        interface,
    ]))
    .expect("add an address");
    // The daemon looks at its host at each ban sweep, every five seconds; at its addresses
    // and routes when the kernel reported a change.
    assert!(
        wait_until(Duration::from_secs(12), Duration::from_millis(100), || {
            served() && lockout_protected(&pins, new_address)
        }),
        "served {}, protected {}",
        served(),
        lockout_protected(&pins, new_address)
    );
}

#[test]
fn lockout_protection_follows_the_default_route_and_a_link_going_down() {
    let lab = served_lab();
    let interface = lab.victim.interface.as_str();
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[interface, "--mode", "skb"]);
    let pins = Pins::open(&daemon.pin_dir).expect("the daemon's pins");
    let gateway: IpAddr = lab.client.ipv4.into();
    let own_ipv6: IpAddr = lab.victim.ipv6.into();
    let eventually = |what: &dyn Fn() -> bool| {
        assert!(
            wait_until(Duration::from_secs(12), Duration::from_millis(100), what),
            "{}",
            daemon.log()
        );
    };
    assert!(!lockout_protected(&pins, gateway) && lockout_protected(&pins, own_ipv6));

    lab.victim
        .netns
        .add_default_route(gateway)
        .expect("add a default route");
    eventually(&|| lockout_protected(&pins, gateway));
    // A link that goes down takes its IPv4 routes with it without a notification of theirs,
    // and its IPv6 addresses with one: so IPv6 goes first, and is seen to go.
    run_checked(
        lab.victim
            .command("sysctl")
            .args(["-qw", &format!("net.ipv6.conf.{interface}.disable_ipv6=1")]),
    )
    .expect("disable IPv6");
    eventually(&|| !lockout_protected(&pins, own_ipv6));
    run_checked(
        lab.victim
            .command("ip")
            .args(["link", "set", interface, "down"]),
    )
    .expect("take the link down");
    eventually(&|| !lockout_protected(&pins, gateway));
}

#[test]
fn a_host_change_that_overflows_the_allow_list_is_a_warning_and_the_daemon_goes_on() {
    let lab = served_lab();
    let interface = lab.victim.interface.as_str();
    let victim: IpAddr = lab.victim.ipv4.into();
    // 1,000 allow-listed addresses outside the lab: with the victim's lock-out protected
    // addresses, the trie is nearly full.
    let allowed: Vec<String> = (0..1000)
        .map(|n| format!("\"198.18.{}.{}\"", n / 256, n % 256))
        .collect();
    let config = ConfigFile::new("full-allow", &format!("allow = [{}]\n", allowed.join(", ")));
    let mut daemon = Daemon::start_in(
        SCANGUARD,
        &lab.victim.netns,
        &[interface, "--mode", "skb", "--config", &config.arg()],
    );
    let pins = Pins::open(&daemon.pin_dir).expect("the daemon's pins");
    let entries = || pins.allow_entries().expect("allow-list").len();
    let stored = entries();
    // One protected address more than the trie holds, in the lab's private range, on the
    // victim's own interface.
    let extra = ALLOW_CAPACITY as usize + 1 - stored;
    assert!(extra < 100, "{stored} entries at attach");
    for n in 0..extra {
        let address = format!("10.77.0.{}/32", 100 + n);
        run_checked(
            lab.victim
                .command("ip")
                .args(["address", "add", &address, "dev", interface]),
        )
        .expect("add an address");
    }
    // The daemon looks at its host at each ban sweep, every five seconds.
    assert!(
        wait_until(Duration::from_secs(12), Duration::from_millis(100), || {
            daemon.log().contains("were not stored")
        }),
        "{}",
        daemon.log()
    );
    assert!(daemon.is_running(), "{}", daemon.log());
    assert_eq!(entries(), stored, "the allow-list in force stays");
    nmap_port_state(&lab.attacker, "-sN", victim, CLOSED);
    assert!(
        daemon.is_banned(lab.attacker.ipv4.into()),
        "the program still bans: {:?}",
        daemon.bans()
    );
}

#[test]
fn a_second_attach_is_refused_while_one_runs() {
    require_root();
    let lab = ScanLab::build().expect("lab");
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);
    let output = lab
        .victim
        .command(SCANGUARD)
        .args(["attach", &lab.victim.interface, "--run-dir"])
        .arg(&daemon.run_dir)
        .arg("--pin-dir")
        .arg(&daemon.pin_dir)
        .output()
        .expect("run scanguard");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("already running"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn a_persisted_program_survives_kill_9_is_adopted_and_detaches() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let attacker = lab.attacker.ipv4.to_string();
    let args = [lab.victim.interface.as_str(), "--persist"];
    let mut first = Daemon::start(SCANGUARD, &lab.victim, &args);
    let _cleanup = PinCleanup(first.pin_dir.clone());

    nmap_port_state(&lab.attacker, "-sF", victim, CLOSED);
    assert!(first.is_banned(lab.attacker.ipv4.into()));
    assert!(!first.stop(Signal::SIGKILL).success());

    // Nobody runs, and the ban is still enforced.
    assert!(talk(&lab.attacker, victim, SERVICE).is_err());
    talk(&lab.client, victim, SERVICE).expect("the client still connects");

    let second = first.restart(&lab.victim, &args);
    assert_eq!(second.bans(), vec![(attacker, "fin-scan".to_string())]);
    assert!(talk(&lab.attacker, victim, SERVICE).is_err());

    second.cli(&["detach"]);
    assert!(!second.pin_dir.exists(), "detach leaves pins");
    talk(&lab.attacker, victim, SERVICE).expect("no program left after detach");
}

#[test]
fn a_failed_attach_leaves_a_persisted_program_enforcing() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let interface = lab.victim.interface.as_str();
    let (persisted, _cleanup) = persisted_after_a_fin_scan(&lab, &[interface]);
    let program = checks_program(&lab.victim).expect("the persisted program");
    let status = persisted.cli_json(&["status"]);

    // It adopts the persisted link on the lab interface, with settings of its own (the client
    // allow-listed, shorter bans), then fails on loopback.
    let client = format!("{}/32", lab.client.ipv4);
    let stderr = attach_failing_on_lo(
        &lab.victim,
        &persisted,
        &[interface, "--allow", &client, "--ban-seconds", "7"],
    );
    let error = stderr.lines().last().unwrap_or_default();
    assert!(
        error.ends_with(&format!(
            "the persisted scanguard keeps enforcing on {interface}"
        )),
        "{stderr}"
    );

    // The persisted program is back as it was: its own programs on the links, its settings.
    assert!(
        stderr.contains("settings and programs are put back"),
        "{stderr}"
    );
    assert_eq!(checks_program(&lab.victim), Some(program));
    assert_eq!(persisted.cli_json(&["status"]), status);

    // The ban holds, and detection goes on with its flow checks: an ACK scan is one, and the
    // client is not allow-listed.
    assert!(talk(&lab.attacker, victim, SERVICE).is_err());
    talk(&lab.client, victim, SERVICE).expect("the client still connects");
    nmap_port_state(&lab.client, "-sA", victim, CLOSED);
    let mut bans = persisted.bans();
    bans.sort();
    let mut expected = vec![
        (lab.attacker.ipv4.to_string(), "fin-scan".to_string()),
        (lab.client.ipv4.to_string(), "ack-scan".to_string()),
    ];
    expected.sort();
    assert_eq!(bans, expected);

    persisted.cli(&["detach"]);
    assert!(!persisted.pin_dir.exists(), "detach leaves pins");
}

#[test]
fn a_run_over_part_of_a_persisted_program_leaves_the_rest_enforcing() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let interface = lab.victim.interface.as_str();
    // A second interface of the victim, which the later run leaves to the persisted program.
    let spare = add_spare_interface(&lab.victim);
    let (persisted, _cleanup) = persisted_after_a_fin_scan(&lab, &[interface, spare]);

    // Kept until the end: dropping it would remove the pins.
    let mut taken_over = persisted.restart(&lab.victim, &[interface]);
    assert!(taken_over.stop(Signal::SIGTERM).success());

    // The run took the lab interface over, which is unprotected since it exited; the spare
    // interface keeps the persisted program, and the ban map its ban.
    assert!(checks_program(&lab.victim).is_none());
    talk(&lab.attacker, victim, SERVICE).expect("the lab interface no longer drops");
    assert!(checks_program_in(&lab.victim.netns, spare).is_some());
    assert_eq!(
        persisted.bans(),
        vec![(lab.attacker.ipv4.to_string(), "fin-scan".to_string())]
    );

    persisted.cli(&["detach"]);
    assert!(!persisted.pin_dir.exists(), "detach leaves pins");
    assert!(checks_program_in(&lab.victim.netns, spare).is_none());
}

#[test]
fn a_failed_persisted_attach_leaves_nothing_of_its_own_attached() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let interface = lab.victim.interface.as_str();
    let spare = add_spare_interface(&lab.victim);
    let (persisted, _cleanup) = persisted_after_a_fin_scan(&lab, &[interface]);
    let program = checks_program(&lab.victim).expect("the persisted program");
    let status = persisted.cli_json(&["status"]);

    // A persisted run over it pins links on the spare interface, then fails on loopback: the
    // spare interface is unprotected again, the persisted program as it was.
    let stderr = attach_failing_on_lo(
        &lab.victim,
        &persisted,
        &[interface, spare, "--persist", "--ban-seconds", "7"],
    );
    assert!(
        stderr.contains("settings and programs are put back"),
        "{stderr}"
    );
    assert_eq!(checks_program_in(&lab.victim.netns, spare), None);
    assert_eq!(checks_program(&lab.victim), Some(program));
    assert_eq!(persisted.cli_json(&["status"]), status);
    assert!(talk(&lab.attacker, victim, SERVICE).is_err(), "ban lifted");

    // With nothing persisted, a failed persisted run leaves neither a link nor a pin.
    persisted.cli(&["detach"]);
    attach_failing_on_lo(&lab.victim, &persisted, &[spare, "--persist"]);
    assert_eq!(checks_program_in(&lab.victim.netns, spare), None);
    assert!(!persisted.pin_dir.exists(), "a failed attach leaves pins");
}

/// A daemon attached to `interfaces` with `--persist`, stopped after banning the attacker's
/// FIN scan: its program goes on enforcing, its pins removed when the cleanup drops.
fn persisted_after_a_fin_scan(lab: &ScanLab, interfaces: &[&str]) -> (Daemon, PinCleanup) {
    let args = [interfaces, &["--persist"]].concat();
    let mut persisted = Daemon::start(SCANGUARD, &lab.victim, &args);
    let cleanup = PinCleanup(persisted.pin_dir.clone());
    nmap_port_state(&lab.attacker, "-sF", lab.victim.ipv4.into(), CLOSED);
    assert!(persisted.stop(Signal::SIGTERM).success());
    (persisted, cleanup)
}

/// Runs `attach ARGS lo --mode native` on `daemon`'s directories, which fails on loopback
/// (no native XDP) after attaching to the interfaces in ARGS: its stderr.
fn attach_failing_on_lo(host: &Host, daemon: &Daemon, args: &[&str]) -> String {
    let output = host
        .command(SCANGUARD)
        .arg("attach")
        .args(args)
        .args(["lo", "--mode", "native"])
        .args(daemon.dir_flags())
        .output()
        .expect("run scanguard");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let error = stderr.lines().last().unwrap_or_default();
    assert!(error.contains("lo: native XDP refused"), "{stderr}");
    stderr
}

fn lockout_protected(pins: &Pins, address: IpAddr) -> bool {
    pins.allow()
        .expect("allow-list")
        .get(&allow_key(&IpNet::from(address)), 0)
        .ok()
        == Some(ALLOW_LOCKOUT)
}

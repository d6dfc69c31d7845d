//! Safe to leave running, in the lab: a spoofed flood from random sources cannot grow the ban
//! map, the daemon or the log, and never cuts off a benign client; a probe spoofed from the
//! gateway is reported, not obeyed; a crashed daemon's leftovers are cleaned up at the next start.

use std::net::IpAddr;

use nix::sys::signal::Signal;
use scanguard_lab::{
    daemon::Daemon,
    traffic::{hping3, nmap_port_state, talk},
};

use crate::support::lab::{ConfigFile, SCANGUARD, SERVICE, checks_program, served_lab};

#[test]
fn a_spoofed_flood_from_random_sources_stays_bounded() {
    const CAPACITY: usize = 128;
    const FLOOD: u32 = 20_000;
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    // Source verification off: it refuses every source of this flood (no route back to any),
    // which `spoofing::random_source_floods_leave_room_to_ban_the_real_scanners` covers; here
    // the ban map must stay bounded while the flood churns it.
    let config = ConfigFile::new(
        "flood",
        "verify_source = false\ncapacity = 128\nmax_bans_per_second = 100000\n[events]\nper_second = 50\n",
    );
    let daemon = Daemon::start(
        SCANGUARD,
        &lab.victim,
        &[&lab.victim.interface, "--config", &config.arg(), "--json"],
    );
    let rss_before = daemon.rss_kib();

    // Bounded: FLOOD SYNs to telnet (watched), each from a random spoofed source.
    hping3(
        &lab.attacker,
        &["--rand-source", "-S", "-p", "23", "-i", "u20"],
        FLOOD,
        victim,
    );
    talk(&lab.client, victim, SERVICE).expect("the benign client is unaffected");

    let stats = daemon.cli_json(&["stats"]);
    let created = stats["packets"]["bans_created"]
        .as_u64()
        .expect("bans_created");
    assert!(
        created > CAPACITY as u64,
        "the flood should churn the map: {created}"
    );
    let bans = daemon.bans().len();
    assert!(bans <= CAPACITY, "{bans} bans in a map of {CAPACITY}");
    // 50 events a second with a burst of 50: a few seconds of flood give a few hundred lines.
    let printed = daemon.printed().len();
    assert!(printed < 1_000, "{printed} event lines for {FLOOD} probes");
    assert!(stats["packets"]["events_suppressed"].as_u64() > Some(0));
    let rss_after = daemon.rss_kib();
    assert!(
        rss_after < rss_before + 4 * 1024,
        "daemon memory grew from {rss_before} KiB to {rss_after} KiB"
    );
}

#[test]
fn a_probe_spoofed_from_the_gateway_is_reported_not_obeyed() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let gateway = lab.client.ipv4;
    lab.victim
        .netns
        .add_default_route(gateway.into())
        .expect("route via the client");
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);

    // NULL probes (hping3's default: no flags) with the gateway's address as their source.
    let spoofed = gateway.to_string();
    hping3(&lab.attacker, &["-p", "81", "-a", &spoofed], 3, victim);
    assert!(
        daemon.bans().is_empty(),
        "the gateway was banned: {:?}",
        daemon.bans()
    );
    assert!(daemon.counter("bans_spared") >= 1);
    assert!(
        daemon
            .printed()
            .iter()
            .any(|line| line.starts_with("[scanguard::null-scan]")
                && line.contains("ACTION=would-ban")),
        "{:?}",
        daemon.printed()
    );
    talk(&lab.client, victim, SERVICE).expect("the gateway still reaches the host");
    // The real attacker is still banned.
    nmap_port_state(&lab.attacker, "-sN", victim, 81);
    assert!(daemon.is_banned(lab.attacker.ipv4.into()));
}

#[test]
fn a_crashed_daemon_leaves_nothing_enforcing_and_its_state_is_cleaned_up() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let mut first = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);
    nmap_port_state(&lab.attacker, "-sN", victim, 81);
    assert!(first.is_banned(lab.attacker.ipv4.into()));
    assert!(!first.stop(Signal::SIGKILL).success());

    // Its links died with it; its pinned maps did not.
    assert!(
        checks_program(&lab.victim).is_none(),
        "a program outlived its daemon"
    );
    assert!(first.pin_dir.join("BANS").exists());
    talk(&lab.attacker, victim, SERVICE).expect("nothing enforces any more");

    let second = first.restart(&lab.victim, &[&lab.victim.interface]);
    assert!(second.bans().is_empty(), "stale bans were adopted");
    assert!(checks_program(&lab.victim).is_some());
}

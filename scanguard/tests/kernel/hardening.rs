//! BPF_PROG_TEST_RUN tests of what keeps scanguard from being turned against its owner:
//! lock-out protection, the global and per-subnet ban budgets, min-probes with the TTL check,
//! longer bans for repeat offenders and the global event cap.

use std::{net::IpAddr, thread, time::Duration};

use scanguard::config::settings::Settings;
use scanguard_common::{config::NANOS_PER_SECOND, kind::Kind};

use crate::support::kernel::{SCANNER_PORT, Scanguard, Verdict, from, scanner_v4, scanner_v6, tcp};

const PORT: u16 = 81;

fn null_probe(src: IpAddr) -> Vec<u8> {
    tcp(src, PORT, 0)
}

#[test]
fn lockout_protected_sources_are_spared_not_banned() {
    let mut scanguard = Scanguard::load(&Settings::default());
    let (gateway, ssh_client) = (scanner_v4(1), scanner_v6(1));
    scanguard.protect_from_lockout(&[gateway, ssh_client]);
    for src in [gateway, ssh_client] {
        scanguard.expect(
            &null_probe(src),
            Verdict::Pass,
            "spoofed probe from a protected source",
        );
        assert_eq!(scanguard.ban(src), None);
    }
    scanguard.expect(&null_probe(scanner_v4(2)), Verdict::Drop, "anyone else");
    let counts = scanguard.counts();
    assert_eq!(counts.get("bans_spared"), Some(&2));
    assert_eq!(counts.get("bans_created"), Some(&1));
    // Each spared ban is reported ("would have banned").
    assert_eq!(counts.get("events_sent"), Some(&3));
}

#[test]
fn new_bans_per_second_are_capped() {
    let mut scanguard = Scanguard::load(&Settings {
        bans_per_second: 2,
        ..Settings::default()
    });
    for n in 1..=5 {
        scanguard.expect(
            &null_probe(scanner_v4(n)),
            Verdict::Drop,
            "a probe is dropped anyway",
        );
    }
    assert_eq!(scanguard.bans().len(), 2);
    assert_eq!(scanguard.counts().get("bans_capped"), Some(&3));
}

#[test]
fn new_bans_per_subnet_per_minute_are_capped() {
    let mut scanguard = Scanguard::load(&Settings {
        subnet_bans_per_minute: 2,
        ..Settings::default()
    });
    // Decoys from one /24 (and one /64): only two of each network are banned.
    for n in 1..=4 {
        scanguard.expect(&null_probe(scanner_v4(n)), Verdict::Drop, "decoy");
        scanguard.expect(&null_probe(scanner_v6(n)), Verdict::Drop, "decoy");
    }
    assert_eq!(scanguard.bans().len(), 4);
    assert_eq!(scanguard.counts().get("bans_capped_subnet"), Some(&4));
    let elsewhere: IpAddr = "192.0.2.9".parse().expect("an address");
    scanguard.expect(&null_probe(elsewhere), Verdict::Drop, "another network");
    assert!(scanguard.ban(elsewhere).is_some());
}

#[test]
fn min_probes_need_a_consistent_ttl() {
    let mut settings = Settings::default();
    settings.min_probes.insert(Kind::NullScan, 3);
    let mut scanguard = Scanguard::load(&settings);
    let src = scanner_v4(1);
    let with_ttl = |ttl: u8| from(src).tcp(SCANNER_PORT, PORT, 0).ttl(ttl).build();
    scanguard.expect(
        &with_ttl(48),
        Verdict::Drop,
        "first probe: dropped, not banned",
    );
    // Spoofed copies from elsewhere arrive with other TTLs and do not count.
    scanguard.expect(&with_ttl(60), Verdict::Drop, "decoy");
    scanguard.expect(&with_ttl(61), Verdict::Drop, "decoy");
    assert_eq!(scanguard.ban(src), None);
    scanguard.expect(&with_ttl(48), Verdict::Drop, "second consistent probe");
    assert_eq!(scanguard.ban(src), None);
    scanguard.expect(&with_ttl(48), Verdict::Drop, "third consistent probe");
    assert!(scanguard.ban(src).is_some(), "banned at the third");
    assert_eq!(scanguard.counts().get("probes_pending"), Some(&4));
}

#[test]
fn repeat_offenders_are_banned_twice_as_long() {
    let mut scanguard = Scanguard::load(&Settings {
        ban_seconds: 1,
        repeat_window_seconds: 60,
        max_ban_seconds: 3,
        ..Settings::default()
    });
    let src = scanner_v4(1);
    let mut lengths = Vec::new();
    for _ in 0..3 {
        scanguard.expect(&null_probe(src), Verdict::Drop, "probe");
        let ban = scanguard.ban(src).expect("banned");
        lengths.push((ban.duration_ns / NANOS_PER_SECOND, ban.repeat));
        // Let the ban run out; the next probe deletes it and is judged anew.
        thread::sleep(Duration::from_nanos(ban.duration_ns) + Duration::from_millis(100));
    }
    assert_eq!(
        lengths,
        [(1, 0), (2, 1), (3, 2)],
        "doubling, capped at the maximum"
    );
}

#[test]
fn events_from_all_sources_are_capped() {
    let mut scanguard = Scanguard::load(&Settings {
        events_per_second: 10,
        ..Settings::default()
    });
    for n in 1..=50 {
        scanguard.expect(
            &null_probe(scanner_v4(n)),
            Verdict::Drop,
            "a spoofed source",
        );
    }
    let counts = scanguard.counts();
    assert_eq!(counts.get("events_sent"), Some(&10));
    assert_eq!(counts.get("events_suppressed"), Some(&40));
}

#[test]
fn lockout_entries_do_not_weaken_the_allow_list() {
    let allowed = scanner_v4(7);
    let mut scanguard = Scanguard::load(&Settings {
        allow: vec![allowed.into()],
        ..Settings::default()
    });
    scanguard.protect_from_lockout(&[allowed]);
    scanguard.expect(&null_probe(allowed), Verdict::Pass, "allow-listed");
    // Allow-listed sources pass silently: nothing spared, nothing reported.
    assert_eq!(scanguard.counts().get("bans_spared"), None);
    assert_eq!(scanguard.counts().get("events_sent"), None);
}

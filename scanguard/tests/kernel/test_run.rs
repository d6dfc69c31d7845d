//! The XDP program in the kernel, driven through BPF_PROG_TEST_RUN with crafted frames: verdicts,
//! bans and counters for probes, benign traffic, broken frames, fragments, expiry, per-kind
//! actions, the allow-list and protected ports. Needs root; each test loads its own instance.

use std::{net::IpAddr, thread::sleep, time::Duration};

use ipnet::IpNet;
use scanguard::{
    bpf::{clock::boot_ns, program::StoreError},
    config::settings::Settings,
};
use scanguard_common::{
    action::Action,
    allow::ALLOW_CAPACITY,
    ban::{Ban, ORIGIN_DETECTED},
    classify::{ACK, CWR, ECE, FIN, PSH, RST, SYN, URG},
    config::{BanMode, NANOS_PER_SECOND},
    kind::Kind,
};
use scanguard_lab::frames::{ETHERNET_LEN, IPV4_LEN, IPV6_LEN, Ipv6Ext, truncated};

use crate::support::kernel::{
    SCANNER_PORT, Scanguard, UNWATCHED_PORT, Verdict, WATCHED_PORT, arp, counts, from, scanner_v4,
    scanner_v6, take_offered_events, tcp,
};

const TRAP_PORT: u16 = 2222;
const MINUTE_NS: u64 = 60 * NANOS_PER_SECOND;

/// Every kind of probe: what it is, its flags, its destination port, its kind.
const PROBES: [(&str, u8, u16, Kind); 8] = [
    ("null", 0, UNWATCHED_PORT, Kind::NullScan),
    ("fin", FIN, UNWATCHED_PORT, Kind::FinScan),
    ("xmas", FIN | PSH | URG, UNWATCHED_PORT, Kind::XmasScan),
    ("syn+fin", SYN | FIN, UNWATCHED_PORT, Kind::XmasScan),
    ("syn+rst", SYN | RST, UNWATCHED_PORT, Kind::XmasScan),
    ("fin+rst", FIN | RST, UNWATCHED_PORT, Kind::XmasScan),
    ("syn to a watched port", SYN, WATCHED_PORT, Kind::SynScan),
    ("syn to a trap port", SYN, TRAP_PORT, Kind::TrapPort),
];

/// The detections `PROBES` cause when each is sent `times` times.
fn probe_detections(times: u64) -> [(&'static str, u64); 5] {
    [
        (Kind::NullScan.name(), times),
        (Kind::FinScan.name(), times),
        (Kind::XmasScan.name(), 4 * times),
        (Kind::SynScan.name(), times),
        (Kind::TrapPort.name(), times),
    ]
}

/// Default settings with a trap port and `action` for every kind.
fn every_kind(action: Action) -> Settings {
    Settings {
        trap_ports: [(TRAP_PORT, "trap".to_string())].into(),
        actions: Kind::ALL.into_iter().map(|kind| (kind, action)).collect(),
        ..Settings::default()
    }
}

/// Sends each of `PROBES` from its own source (`source(1)`, `source(2)`, ...) behind `vlan_ids`,
/// expecting `verdict`; returns each source with the kind it sent.
fn send_probes(
    scanguard: &mut Scanguard,
    source: fn(u8) -> IpAddr,
    vlan_ids: &[u16],
    verdict: Verdict,
) -> Vec<(IpAddr, Kind)> {
    (1..)
        .zip(PROBES)
        .map(|(n, (what, flags, port, kind))| {
            let src = source(n);
            let frame = vlan_ids
                .iter()
                .fold(from(src), |builder, id| builder.vlan(*id))
                .tcp(SCANNER_PORT, port, flags)
                .build();
            scanguard.expect(&frame, verdict, what);
            (src, kind)
        })
        .collect()
}

/// Every probe is dropped and its source banned for its kind, with the ban's fields as created.
fn every_probe_is_banned(source: fn(u8) -> IpAddr, vlan_ids: &[u16]) {
    let settings = every_kind(Action::Ban);
    let mut scanguard = Scanguard::load(&settings);
    let before = boot_ns();
    let sent = send_probes(&mut scanguard, source, vlan_ids, Verdict::Drop);
    let after = boot_ns();
    for (src, kind) in sent {
        let ban = scanguard
            .ban(src)
            .unwrap_or_else(|| panic!("{} from {src} did not ban it", kind.name()));
        assert_eq!(ban.reason, kind as u8, "reason of {src}'s ban");
        assert_eq!(ban.origin, ORIGIN_DETECTED);
        assert_eq!(ban.duration_ns, settings.ban_seconds * NANOS_PER_SECOND);
        assert_eq!(
            ban.dropped_packets, 0,
            "the probe itself is not a banned drop"
        );
        assert!((before..=after).contains(&ban.banned_at_ns), "{ban:?}");
        assert_eq!(ban.last_seen_ns, ban.banned_at_ns);
    }
    let n = PROBES.len() as u64;
    // Each probe comes from its own source, so none of its events is rate-limited.
    let expected = [
        ("seen", n),
        ("dropped_probe", n),
        ("bans_created", n),
        ("events_sent", n),
    ];
    assert_eq!(
        scanguard.counts(),
        counts(expected.iter().chain(&probe_detections(1)))
    );
}

/// A ban inserted from userspace, started `banned_ago_ns` and last refreshed `seen_ago_ns` ago.
fn manual_ban(banned_ago_ns: u64, seen_ago_ns: u64) -> Ban {
    let now = boot_ns();
    let ago = |ns: u64| {
        now.checked_sub(ns)
            .unwrap_or_else(|| panic!("the machine booted less than {ns} ns ago"))
    };
    Ban {
        last_seen_ns: ago(seen_ago_ns),
        ..Ban::manual(ago(banned_ago_ns), MINUTE_NS)
    }
}

#[test]
fn program_passes_the_verifier() {
    // Loading includes BPF_PROG_LOAD, so the verifier accepted it; a frame then runs through it.
    let mut scanguard = Scanguard::load(&Settings::default());
    scanguard.expect(
        &tcp(scanner_v4(1), UNWATCHED_PORT, ACK),
        Verdict::Pass,
        "ack",
    );
    assert_eq!(scanguard.counts(), counts(&[("seen", 1), ("passed", 1)]));
}

#[test]
fn every_kind_is_banned_over_ipv4() {
    every_probe_is_banned(scanner_v4, &[]);
}

#[test]
fn every_kind_is_banned_over_ipv6() {
    every_probe_is_banned(scanner_v6, &[]);
}

#[test]
fn every_kind_is_banned_over_vlan_tagged_ipv4() {
    every_probe_is_banned(scanner_v4, &[42]);
}

#[test]
fn every_kind_is_banned_over_double_tagged_ipv6() {
    every_probe_is_banned(scanner_v6, &[100, 42]);
}

#[test]
fn benign_frames_pass_and_ban_nobody() {
    let mut scanguard = Scanguard::load(&every_kind(Action::Ban));
    let mut sent = 0;
    for src in [scanner_v4(1), scanner_v6(1)] {
        let frames = [
            ("syn to an unwatched port", tcp(src, UNWATCHED_PORT, SYN)),
            ("ecn syn", tcp(src, UNWATCHED_PORT, SYN | ECE | CWR)),
            ("syn+ack", tcp(src, WATCHED_PORT, SYN | ACK)),
            ("ack", tcp(src, WATCHED_PORT, ACK)),
            ("psh+ack", tcp(src, TRAP_PORT, PSH | ACK)),
            ("fin+ack", tcp(src, WATCHED_PORT, FIN | ACK)),
            ("rst", tcp(src, WATCHED_PORT, RST)),
            ("rst+ack", tcp(src, WATCHED_PORT, RST | ACK)),
            ("udp", from(src).udp(SCANNER_PORT, WATCHED_PORT).build()),
            ("icmp echo", from(src).icmp_echo().build()),
        ];
        for (what, frame) in frames {
            scanguard.expect(&frame, Verdict::Pass, what);
            sent += 1;
        }
    }
    scanguard.expect(&arp(), Verdict::Pass, "arp");
    sent += 1;
    assert_eq!(scanguard.bans(), []);
    assert_eq!(
        scanguard.counts(),
        counts(&[("seen", sent), ("passed", sent)])
    );
}

#[test]
fn truncated_and_malformed_frames_pass_as_parse_failures() {
    let mut scanguard = Scanguard::load(&Settings::default());
    let null4 = tcp(scanner_v4(1), UNWATCHED_PORT, 0);
    let null6 = tcp(scanner_v6(1), UNWATCHED_PORT, 0);
    let tagged = from(scanner_v4(2))
        .vlan(7)
        .tcp(SCANNER_PORT, UNWATCHED_PORT, 0)
        .build();
    let with_ext = from(scanner_v6(2))
        .ipv6_ext(Ipv6Ext::HopByHop)
        .tcp(SCANNER_PORT, UNWATCHED_PORT, 0)
        .build();
    let with_version = |version_and_ihl: u8| {
        let mut frame = null4.clone();
        frame[ETHERNET_LEN] = version_and_ihl;
        frame
    };
    // BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header (bpf_test_init), so the
    // shortest cut here is inside the first VLAN tag; the parser tests cover shorter ones.
    let frames = [
        ("cut in the vlan tag", truncated(&tagged, ETHERNET_LEN + 2)),
        (
            "cut in the ipv4 header",
            truncated(&null4, ETHERNET_LEN + 10),
        ),
        (
            "cut in the ipv6 header",
            truncated(&null6, ETHERNET_LEN + 30),
        ),
        (
            "cut in an ipv6 extension header",
            truncated(&with_ext, ETHERNET_LEN + IPV6_LEN + 1),
        ),
        (
            "ipv4 null probe cut before its flags",
            truncated(&null4, ETHERNET_LEN + IPV4_LEN + 12),
        ),
        (
            "ipv6 null probe cut before its flags",
            truncated(&null6, ETHERNET_LEN + IPV6_LEN + 12),
        ),
        ("ipv4 header length 16 bytes", with_version(0x44)),
        ("ip version 6 under the ipv4 ethertype", with_version(0x65)),
    ];
    let failures = frames.len() as u64;
    for (what, frame) in frames {
        scanguard.expect(&frame, Verdict::Pass, what);
    }
    // Not IP is none of scanguard's business, not a failure.
    scanguard.expect(&arp(), Verdict::Pass, "arp");
    assert_eq!(scanguard.bans(), []);
    assert_eq!(
        scanguard.counts(),
        counts(&[
            ("seen", failures + 1),
            ("passed", failures + 1),
            ("parse_failed", failures),
        ])
    );
}

#[test]
fn ipv6_extension_headers_are_followed_up_to_their_limit() {
    let mut scanguard = Scanguard::load(&Settings::default());
    let behind = |src, exts: &[Ipv6Ext]| {
        exts.iter()
            .fold(from(src), |builder, ext| builder.ipv6_ext(*ext))
            .tcp(SCANNER_PORT, UNWATCHED_PORT, 0)
            .build()
    };
    let chain = [
        Ipv6Ext::HopByHop,
        Ipv6Ext::Routing,
        Ipv6Ext::DestinationOptions,
    ];
    let (short, long) = (scanner_v6(1), scanner_v6(2));
    scanguard.expect(
        &behind(short, &chain),
        Verdict::Drop,
        "null probe behind 3 headers",
    );
    assert_eq!(
        scanguard.ban(short).map(|ban| ban.reason),
        Some(Kind::NullScan as u8)
    );
    // Nine headers are more than the parser follows: passed as unparseable.
    let too_many = [Ipv6Ext::DestinationOptions; 9];
    scanguard.expect(
        &behind(long, &too_many),
        Verdict::Pass,
        "null probe behind 9 headers",
    );
    assert_eq!(scanguard.ban(long), None);
    assert_eq!(
        scanguard.counts(),
        counts(&[
            ("events_sent", 1),
            ("seen", 2),
            ("dropped_probe", 1),
            ("bans_created", 1),
            ("null-scan", 1),
            ("passed", 1),
            ("parse_failed", 1),
        ])
    );
}

#[test]
fn fragments_without_tcp_flags_neither_crash_nor_ban_unless_a_rule_says_so() {
    let mut settings = every_kind(Action::Ban);
    settings.actions.insert(Kind::TinyFragment, Action::Ignore);
    let mut scanguard = Scanguard::load(&settings);
    for src in [scanner_v4(1), scanner_v6(1)] {
        // A NULL probe cut after its ports (RFC 1858's tiny fragment): the flags are elsewhere.
        let tiny_first = from(src)
            .tcp(SCANNER_PORT, WATCHED_PORT, 0)
            .fragment(0, true)
            .carrying(8)
            .build();
        scanguard.expect(&tiny_first, Verdict::Pass, "tiny first fragment");
        // Bytes that would read as a NULL probe, at a later offset: payload, not a header.
        let later = from(src)
            .tcp(SCANNER_PORT, WATCHED_PORT, 0)
            .fragment(185, false)
            .build();
        scanguard.expect(&later, Verdict::Pass, "later fragment");
    }
    assert_eq!(scanguard.bans(), []);
    assert_eq!(scanguard.counts(), counts(&[("seen", 4), ("passed", 4)]));
}

#[test]
fn tiny_and_overlapping_tcp_fragments_are_probes() {
    let mut scanguard = Scanguard::load(&Settings::default());
    for src in [scanner_v4(1), scanner_v6(1)] {
        // nmap -f: the first fragment carries 8 bytes of TCP header, the flags come later.
        let tiny_first = from(src)
            .tcp(SCANNER_PORT, WATCHED_PORT, 0)
            .fragment(0, true)
            .carrying(8)
            .build();
        scanguard.expect(&tiny_first, Verdict::Drop, "tiny first fragment");
        let ban = scanguard.ban(src).expect("tiny fragment bans");
        assert_eq!(ban.reason, Kind::TinyFragment as u8);
    }
    // RFC 1858's overlap: a fragment at offset 1 (8 bytes) rewrites the flags of the first.
    let src = scanner_v4(2);
    let overlapping = from(src)
        .tcp(SCANNER_PORT, WATCHED_PORT, 0)
        .fragment(1, false)
        .build();
    scanguard.expect(&overlapping, Verdict::Drop, "overlapping fragment");
    assert_eq!(
        scanguard.ban(src).map(|ban| ban.reason),
        Some(Kind::TinyFragment as u8)
    );
    // A UDP first fragment is no TCP trick.
    let udp_first = from(scanner_v4(3))
        .udp(SCANNER_PORT, UNWATCHED_PORT)
        .fragment(0, true)
        .carrying(4)
        .build();
    scanguard.expect(&udp_first, Verdict::Pass, "tiny UDP fragment");
    assert_eq!(
        scanguard.counts(),
        counts(&[
            ("seen", 4),
            ("passed", 1),
            ("dropped_probe", 3),
            ("bans_created", 3),
            ("tiny-fragment", 3),
            ("events_sent", 3),
        ])
    );
}

#[test]
fn a_later_fragment_from_a_banned_source_is_dropped() {
    let mut scanguard = Scanguard::load(&Settings::default());
    for src in [scanner_v4(1), scanner_v6(1)] {
        scanguard.expect(&tcp(src, UNWATCHED_PORT, 0), Verdict::Drop, "null probe");
        let later = from(src)
            .udp(SCANNER_PORT, UNWATCHED_PORT)
            .fragment(100, false)
            .build();
        scanguard.expect(&later, Verdict::Drop, "later fragment");
        assert_eq!(scanguard.ban(src).map(|ban| ban.dropped_packets), Some(1));
    }
    assert_eq!(
        scanguard.counts(),
        counts(&[
            ("events_sent", 4),
            ("seen", 4),
            ("dropped_probe", 2),
            ("bans_created", 2),
            ("null-scan", 2),
            ("dropped_banned", 2),
        ])
    );
}

#[test]
fn a_banned_source_is_dropped_whatever_it_sends() {
    let mut scanguard = Scanguard::load(&Settings::default());
    let mut follow_ups_sent = 0;
    for src in [scanner_v4(1), scanner_v6(1)] {
        scanguard.expect(&tcp(src, UNWATCHED_PORT, 0), Verdict::Drop, "null probe");
        let ack = tcp(src, UNWATCHED_PORT, ACK);
        let follow_ups = [
            ("udp", from(src).udp(SCANNER_PORT, 53).build()),
            ("icmp echo", from(src).icmp_echo().build()),
            ("ack", ack.clone()),
            ("syn to an unwatched port", tcp(src, UNWATCHED_PORT, SYN)),
            (
                "vlan-tagged ack",
                from(src).vlan(9).tcp(SCANNER_PORT, 443, ACK).build(),
            ),
            // The ban is enforced before the transport header is looked at.
            ("ack cut short", truncated(&ack, ack.len() - 8)),
        ];
        let count = follow_ups.len() as u64;
        for (what, frame) in follow_ups {
            scanguard.expect(&frame, Verdict::Drop, what);
        }
        let ban = scanguard.ban(src).expect("the probe banned its source");
        assert_eq!(ban.dropped_packets, count, "{src}");
        assert_eq!(ban.reason, Kind::NullScan as u8);
        follow_ups_sent += count;
    }
    let mut measured = scanguard.counts();
    // Per source: its probe, then its first drop; later drops offer more only in a new tick.
    let offered = take_offered_events(&mut measured);
    assert!(
        (4..=2 + follow_ups_sent).contains(&offered),
        "{offered} events offered"
    );
    assert_eq!(
        measured,
        counts(&[
            ("seen", 2 + follow_ups_sent),
            ("dropped_probe", 2),
            ("bans_created", 2),
            ("null-scan", 2),
            ("dropped_banned", follow_ups_sent),
        ])
    );
}

#[test]
fn an_unban_ends_the_cached_verdicts_at_once() {
    let mut scanguard = Scanguard::load(&Settings::default());
    let src = scanner_v4(2);
    scanguard.insert_ban(src, manual_ban(0, 0));
    let ack = tcp(src, UNWATCHED_PORT, ACK);
    scanguard.expect(&ack, Verdict::Drop, "banned");
    scanguard.expect(
        &ack,
        Verdict::Drop,
        "banned, as this CPU's cached verdict says",
    );
    scanguard.unban(src);
    // Within the tick of the cached verdict: only the epoch `unban` changed can end it.
    scanguard.expect(&ack, Verdict::Pass, "unbanned");
}

#[test]
fn the_banned_sources_of_one_subnet_each_keep_a_cached_verdict() {
    let mut scanguard = Scanguard::load(&Settings::default());
    let subnet: Vec<IpAddr> = (0..=u8::MAX).map(scanner_v4).collect();
    for &src in &subnet {
        scanguard.insert_ban(src, manual_ban(0, 0));
    }
    for &src in &subnet {
        scanguard.expect(&tcp(src, UNWATCHED_PORT, ACK), Verdict::Drop, "banned");
    }
    // Each looked its ban up and cached the verdict in a slot no other source of the /24 took.
    assert_eq!(scanguard.cached_bans().len(), subnet.len());
}

#[test]
fn a_fixed_ban_expires_from_its_start() {
    let mut scanguard = Scanguard::load(&Settings {
        ban_mode: BanMode::Fixed,
        ..Settings::default()
    });
    // Started two minutes ago: over, however recently the source was seen.
    let (expired, valid) = (scanner_v4(1), scanner_v6(1));
    scanguard.insert_ban(expired, manual_ban(2 * MINUTE_NS, NANOS_PER_SECOND));
    // Started half a minute ago: still on.
    let ban = manual_ban(MINUTE_NS / 2, MINUTE_NS / 2);
    scanguard.insert_ban(valid, ban);

    expect_expired(&mut scanguard, expired, "ack after the ban");
    expect_enforced(&mut scanguard, valid, ban, "ack during the ban");
    expect_one_enforced_one_expired(&scanguard);
}

#[test]
fn a_sliding_ban_lasts_while_its_source_keeps_sending() {
    let mut scanguard = Scanguard::load(&Settings {
        ban_mode: BanMode::Sliding,
        ..Settings::default()
    });
    // Both started two minutes ago; one was seen a second ago, the other a minute and more.
    let (active, quiet) = (scanner_v4(1), scanner_v6(1));
    let ban = manual_ban(2 * MINUTE_NS, NANOS_PER_SECOND);
    scanguard.insert_ban(active, ban);
    scanguard.insert_ban(
        quiet,
        manual_ban(2 * MINUTE_NS, MINUTE_NS + NANOS_PER_SECOND),
    );

    expect_enforced(&mut scanguard, active, ban, "ack from an active source");
    expect_expired(&mut scanguard, quiet, "ack from a quiet source");
    expect_one_enforced_one_expired(&scanguard);
}

/// An ACK from `src`, banned by `ban`, is dropped, and the ban notes it was seen.
fn expect_enforced(scanguard: &mut Scanguard, src: IpAddr, ban: Ban, what: &str) {
    let before = boot_ns();
    scanguard.expect(&tcp(src, UNWATCHED_PORT, ACK), Verdict::Drop, what);
    let refreshed = scanguard.ban(src).expect("the ban is still there");
    assert!(refreshed.last_seen_ns >= before, "{refreshed:?}");
    assert_eq!(refreshed.banned_at_ns, ban.banned_at_ns);
    assert_eq!(refreshed.dropped_packets, 1);
}

/// An ACK from `src`, whose ban is over, passes, and the ban is deleted.
fn expect_expired(scanguard: &mut Scanguard, src: IpAddr, what: &str) {
    scanguard.expect(&tcp(src, UNWATCHED_PORT, ACK), Verdict::Pass, what);
    assert_eq!(scanguard.ban(src), None, "an expired ban is deleted");
}

/// The counters after one ACK from a banned source and one from a source whose ban is over.
fn expect_one_enforced_one_expired(scanguard: &Scanguard) {
    assert_eq!(
        scanguard.counts(),
        counts(&[
            ("events_sent", 1),
            ("seen", 2),
            ("passed", 1),
            ("bans_expired", 1),
            ("dropped_banned", 1),
        ])
    );
}

#[test]
fn a_one_second_ban_really_expires() {
    let mut scanguard = Scanguard::load(&Settings {
        ban_seconds: 1,
        ..Settings::default()
    });
    let src = scanner_v4(1);
    scanguard.expect(&tcp(src, UNWATCHED_PORT, 0), Verdict::Drop, "null probe");
    let ack = tcp(src, UNWATCHED_PORT, ACK);
    scanguard.expect(&ack, Verdict::Drop, "ack during the ban");
    sleep(Duration::from_millis(1200));
    scanguard.expect(&ack, Verdict::Pass, "ack after the ban");
    assert_eq!(scanguard.ban(src), None);
    assert_eq!(
        scanguard.counts(),
        counts(&[
            ("events_sent", 2),
            ("seen", 3),
            ("dropped_probe", 1),
            ("bans_created", 1),
            ("null-scan", 1),
            ("dropped_banned", 1),
            ("passed", 1),
            ("bans_expired", 1),
        ])
    );
}

#[test]
fn log_passes_and_counts_the_detection() {
    let mut scanguard = Scanguard::load(&every_kind(Action::Log));
    send_probes(&mut scanguard, scanner_v4, &[], Verdict::Pass);
    assert_eq!(scanguard.bans(), []);
    let n = PROBES.len() as u64;
    let expected = [("seen", n), ("passed", n), ("events_sent", n)];
    assert_eq!(
        scanguard.counts(),
        counts(expected.iter().chain(&probe_detections(1)))
    );
}

#[test]
fn drop_drops_the_probe_without_a_ban() {
    let mut scanguard = Scanguard::load(&every_kind(Action::Drop));
    let sent = send_probes(&mut scanguard, scanner_v6, &[], Verdict::Drop);
    assert_eq!(scanguard.bans(), []);
    for (src, _) in sent {
        scanguard.expect(
            &tcp(src, UNWATCHED_PORT, ACK),
            Verdict::Pass,
            "ack after a dropped probe",
        );
    }
    let n = PROBES.len() as u64;
    let expected = [
        ("seen", 2 * n),
        ("dropped_probe", n),
        ("passed", n),
        ("events_sent", n),
    ];
    assert_eq!(
        scanguard.counts(),
        counts(expected.iter().chain(&probe_detections(1)))
    );
}

#[test]
fn ignore_passes_without_counting() {
    let mut scanguard = Scanguard::load(&every_kind(Action::Ignore));
    send_probes(&mut scanguard, scanner_v4, &[], Verdict::Pass);
    assert_eq!(scanguard.bans(), []);
    let n = PROBES.len() as u64;
    assert_eq!(scanguard.counts(), counts(&[("seen", n), ("passed", n)]));
}

#[test]
fn allow_listed_sources_are_never_banned_nor_dropped() {
    let allow: Vec<IpNet> = ["203.0.113.0/28", "2001:db8:5c::/64"]
        .into_iter()
        .map(|net| net.parse().expect("a CIDR"))
        .collect();
    let mut scanguard = Scanguard::load(&Settings {
        allow,
        ..every_kind(Action::Ban)
    });
    send_probes(&mut scanguard, scanner_v4, &[], Verdict::Pass);
    send_probes(&mut scanguard, scanner_v6, &[], Verdict::Pass);
    assert_eq!(scanguard.bans(), []);
    // Neighbours just outside the prefixes are not covered.
    let outside: [IpAddr; 2] = [
        scanner_v4(16),
        "2001:db8:5d::1".parse().expect("an address"),
    ];
    for src in outside {
        scanguard.expect(&tcp(src, UNWATCHED_PORT, 0), Verdict::Drop, "null probe");
        assert!(scanguard.ban(src).is_some(), "{src} is not allow-listed");
    }
    let n = PROBES.len() as u64;
    // Detections are counted before the allow-list is consulted; only the two bans report.
    let expected = [
        ("seen", 2 * n + 2),
        ("passed", 2 * n),
        ("dropped_probe", 2),
        ("bans_created", 2),
        ("null-scan", 2),
        ("events_sent", 2),
    ];
    assert_eq!(
        scanguard.counts(),
        counts(expected.iter().chain(&probe_detections(2)))
    );
}

#[test]
fn a_reload_replaces_an_allow_list_too_long_to_sit_beside_the_new_one() {
    // 1,000 single addresses in 198.18.0.0/16 or 198.19.0.0/16: two such lists overflow the
    // trie together, so the stale entries must go before the new ones.
    let allow = |second: u8| Settings {
        allow: (0..1000u16)
            .map(|n| IpNet::from(IpAddr::from([198, second, (n / 256) as u8, n as u8])))
            .collect(),
        ..every_kind(Action::Ban)
    };
    let (old, new) = (IpAddr::from([198, 18, 3, 1]), IpAddr::from([198, 19, 3, 1]));
    let mut scanguard = Scanguard::load(&allow(18));
    scanguard.expect(&tcp(old, UNWATCHED_PORT, 0), Verdict::Pass, "allow-listed");
    scanguard.reload(&allow(19));
    scanguard.expect(
        &tcp(new, UNWATCHED_PORT, 0),
        Verdict::Pass,
        "newly allow-listed",
    );
    scanguard.expect(
        &tcp(old, UNWATCHED_PORT, 0),
        Verdict::Drop,
        "no longer allow-listed",
    );
    assert!(scanguard.ban(old).is_some() && scanguard.ban(new).is_none());
}

#[test]
fn a_refused_reload_writes_nothing_and_a_failed_write_says_it_may_have_written_part() {
    let trap_probe = |n| tcp(scanner_v4(n), TRAP_PORT, SYN);
    let old = Settings {
        trap_ports: Default::default(),
        ..every_kind(Action::Ban)
    };
    let mut scanguard = Scanguard::load(&old);
    scanguard.expect(&trap_probe(1), Verdict::Pass, "no trap port yet");

    // The new trap port beside an allow-list longer than the trie holds.
    let too_long = Settings {
        allow: (0..=ALLOW_CAPACITY)
            .map(|n| IpNet::from(IpAddr::from([198, 18, (n / 256) as u8, n as u8])))
            .collect(),
        ..every_kind(Action::Ban)
    };
    let refused = scanguard.try_reload(&too_long);
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    scanguard.expect(&trap_probe(2), Verdict::Pass, "no port roles written");

    // The config is written last: with it frozen, the port roles before it are stored.
    scanguard.freeze_config();
    let failed = scanguard.try_reload(&every_kind(Action::Ban));
    assert!(
        matches!(failed, Err(StoreError::WriteFailed(_))),
        "{failed:?}"
    );
    scanguard.expect(
        &trap_probe(3),
        Verdict::Drop,
        "the new port roles are in force",
    );
}

#[test]
fn probes_to_a_protected_port_pass_without_a_ban() {
    const SSH: u16 = 22;
    let mut scanguard = Scanguard::load(&Settings {
        watched_ports: [SSH, WATCHED_PORT].into(),
        trap_ports: [(SSH, "ssh".to_string())].into(),
        protected_ports: [SSH].into(),
        ..every_kind(Action::Ban)
    });
    for src in [scanner_v4(1), scanner_v6(1)] {
        for (what, flags) in [("syn", SYN), ("null", 0), ("xmas", FIN | PSH | URG)] {
            scanguard.expect(&tcp(src, SSH, flags), Verdict::Pass, what);
        }
        assert_eq!(scanguard.ban(src), None);
    }
    // The same SYN to a port that is only watched is a probe.
    let src = scanner_v4(2);
    scanguard.expect(&tcp(src, WATCHED_PORT, SYN), Verdict::Drop, "syn");
    assert_eq!(
        scanguard.ban(src).map(|ban| ban.reason),
        Some(Kind::SynScan as u8)
    );
    assert_eq!(
        scanguard.counts(),
        counts(&[
            ("events_sent", 1),
            ("seen", 7),
            ("passed", 6),
            ("dropped_probe", 1),
            ("bans_created", 1),
            ("syn-scan", 1),
        ])
    );
}

#[test]
fn counters_match_what_was_sent() {
    // Defaults: stealth scans banned, trap ports logged.
    let mut scanguard = Scanguard::load(&Settings {
        trap_ports: [(TRAP_PORT, "trap".to_string())].into(),
        ..Settings::default()
    });
    let null_scanner = scanner_v4(1);
    let frames: [(&str, Vec<u8>, Verdict); 11] = [
        (
            "null probe",
            tcp(null_scanner, UNWATCHED_PORT, 0),
            Verdict::Drop,
        ),
        (
            "banned",
            tcp(null_scanner, UNWATCHED_PORT, 0),
            Verdict::Drop,
        ),
        (
            "banned",
            tcp(null_scanner, WATCHED_PORT, ACK),
            Verdict::Drop,
        ),
        (
            "fin probe",
            tcp(scanner_v6(1), UNWATCHED_PORT, FIN),
            Verdict::Drop,
        ),
        (
            "syn probe",
            tcp(scanner_v4(2), WATCHED_PORT, SYN),
            Verdict::Drop,
        ),
        ("trap", tcp(scanner_v4(3), TRAP_PORT, SYN), Verdict::Pass),
        (
            "ack",
            tcp(scanner_v4(4), UNWATCHED_PORT, ACK),
            Verdict::Pass,
        ),
        (
            "ack",
            tcp(scanner_v6(4), UNWATCHED_PORT, ACK),
            Verdict::Pass,
        ),
        (
            "udp",
            from(scanner_v6(2)).udp(SCANNER_PORT, 53).build(),
            Verdict::Pass,
        ),
        (
            "truncated",
            truncated(&tcp(scanner_v4(5), UNWATCHED_PORT, 0), ETHERNET_LEN + 8),
            Verdict::Pass,
        ),
        ("arp", arp(), Verdict::Pass),
    ];
    for (what, frame, verdict) in &frames {
        scanguard.expect(frame, *verdict, what);
    }
    assert_eq!(
        scanguard.ban(null_scanner).map(|ban| ban.dropped_packets),
        Some(2)
    );
    assert_eq!(scanguard.bans().len(), 3);
    let mut measured = scanguard.counts();
    // Four probes and the null scanner's first drop; its second drop only in a new tick.
    let offered = take_offered_events(&mut measured);
    assert!((5..=6).contains(&offered), "{offered} events offered");
    assert_eq!(
        measured,
        counts(&[
            ("seen", 11),
            ("passed", 6),
            ("dropped_probe", 3),
            ("dropped_banned", 2),
            ("bans_created", 3),
            ("parse_failed", 1),
            ("null-scan", 1),
            ("fin-scan", 1),
            ("syn-scan", 1),
            ("trap-port", 1),
        ])
    );
}

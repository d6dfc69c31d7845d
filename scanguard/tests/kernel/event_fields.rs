//! BPF_PROG_TEST_RUN tests of what an event says about its frame. The program copies the fields
//! beyond the verdict's out of the frame only when it sends an event (`Frame::details`), through
//! the kernel's load-bytes helper; the host parser reads the same fields from a byte slice. Both
//! must agree, for every header layout.

use std::net::IpAddr;

use scanguard::{
    bpf::clock::boot_ns,
    config::settings::Settings,
    events::{Detection, PortNames, render},
};
use scanguard_common::{
    action::Action,
    addr::AddrKey,
    ban::{Ban, REASON_MANUAL},
    classify::SYN,
    config::NANOS_PER_SECOND,
    event::{EVENT_BANNED_DROP, EVENT_DETECTION, Event},
    kind::Kind,
    parse::{Details, parse},
};
use scanguard_lab::frames::{DESTINATION_MAC, FrameBuilder, Ipv6Ext, MSS_1460, SOURCE_MAC};

use crate::support::kernel::{
    Events, SCANNER_PORT, Scanguard, TARGET_V6, UNWATCHED_PORT, Verdict, from, scanner_v4,
};

const WINDOW: u16 = 0x1f2e;

/// The fields of `event` read from its frame: the details, and the source and destination MACs.
fn frame_fields(event: &Event) -> (Details, [u8; 6], [u8; 6]) {
    let details = Details {
        ether_type: event.ether_type,
        vlan_id: event.vlan_id,
        dst: event.dst,
        ttl: event.ttl,
        tos: event.tos,
        ip_id: event.ip_id,
        ip_len: event.ip_len,
        window: event.window,
        // Events carry the fingerprint the options led to, not the options.
        tcp_options: Default::default(),
    };
    (details, event.eth_src, event.eth_dst)
}

/// What the host parser reads from `frame`, options left out as the event leaves them out.
fn expected(frame: &[u8]) -> Details {
    let parsed = parse(frame).expect("a frame the host parser reads");
    Details {
        tcp_options: Default::default(),
        ..parsed.details(frame)
    }
}

/// Sends `frame` (a probe from a new source) and returns the one event it causes.
fn event_of(scanguard: &mut Scanguard, events: &mut Events, frame: &[u8]) -> Event {
    scanguard.expect(frame, Verdict::Drop, "a NULL probe");
    let mut sent = events.take();
    assert_eq!(sent.len(), 1, "one event for {frame:02x?}");
    sent.remove(0)
}

#[test]
fn detection_events_carry_the_details_of_every_layout() {
    let mut scanguard = Scanguard::load(&Settings::default());
    let mut events = scanguard.open_events();
    let null_probe = |n: u8| {
        from(scanner_v4(n))
            .tcp(SCANNER_PORT, UNWATCHED_PORT, 0)
            .window(WINDOW)
            .ttl(100 + n)
            .ip_id(1000 + u16::from(n))
    };
    let v6 = |n: u16| IpAddr::from([0x2001, 0xdb8, 0x5c, 0, 0, 0, 0, n]);
    let null_probe_v6 = |n: u16| {
        FrameBuilder::new(v6(n), TARGET_V6)
            .tcp(SCANNER_PORT, UNWATCHED_PORT, 0)
            .window(WINDOW)
            .ttl(200)
    };
    let layouts = [
        ("IPv4", null_probe(1).build()),
        ("IPv4, one VLAN tag", null_probe(2).vlan(100).build()),
        (
            "IPv4, two VLAN tags",
            null_probe(3).vlan(4000).vlan(7).build(),
        ),
        (
            "IPv4 with options",
            null_probe(4).ipv4_options(&[1; 40]).build(),
        ),
        ("IPv6", null_probe_v6(1).build()),
        (
            "IPv6, two VLAN tags",
            null_probe_v6(2).vlan(5).vlan(6).build(),
        ),
        (
            "IPv6 with extension headers",
            null_probe_v6(3)
                .ipv6_ext(Ipv6Ext::HopByHop)
                .ipv6_ext(Ipv6Ext::DestinationOptions)
                .build(),
        ),
    ];
    for (layout, frame) in layouts {
        let event = event_of(&mut scanguard, &mut events, &frame);
        assert_eq!(event.event_type, EVENT_DETECTION, "{layout}");
        assert_eq!(event.kind, Kind::NullScan as u8, "{layout}");
        assert_eq!(event.action, Action::Ban as u8, "{layout}");
        assert_eq!(
            frame_fields(&event),
            (expected(&frame), SOURCE_MAC, DESTINATION_MAC),
            "{layout}"
        );
        assert_eq!(event.window, WINDOW, "{layout}");
        assert_ne!(event.ttl, 0, "{layout}");
        assert_ne!(event.dst, AddrKey::default(), "{layout}");
    }
}

#[test]
fn a_banned_sources_event_carries_its_details_too() {
    let mut scanguard = Scanguard::load(&Settings::default());
    let mut events = scanguard.open_events();
    let src = scanner_v4(9);
    let probe = from(src)
        .tcp(SCANNER_PORT, UNWATCHED_PORT, 0)
        .vlan(42)
        .build();
    event_of(&mut scanguard, &mut events, &probe);
    // A later SYN of the banned source: its first drop in this tick looks the ban up and reports.
    let syn = from(src)
        .tcp(SCANNER_PORT, UNWATCHED_PORT, SYN)
        .tcp_options(&MSS_1460)
        .ttl(33)
        .vlan(43)
        .build();
    let event = event_of(&mut scanguard, &mut events, &syn);
    assert_eq!(event.event_type, EVENT_BANNED_DROP);
    assert_eq!(event.kind, Kind::NullScan as u8);
    assert_eq!(event.tcp_flags, SYN);
    assert_eq!(event.ttl, 33);
    assert_eq!(event.vlan_id, 43);
    assert_eq!(frame_fields(&event).0, expected(&syn));
}

#[test]
fn a_manual_bans_drops_are_reported_as_manual() {
    let mut scanguard = Scanguard::load(&Settings::default());
    let mut events = scanguard.open_events();
    let src = scanner_v4(10);
    scanguard.insert_ban(src, Ban::manual(boot_ns(), 60 * NANOS_PER_SECOND));
    let syn = from(src).tcp(SCANNER_PORT, UNWATCHED_PORT, SYN).build();
    let event = event_of(&mut scanguard, &mut events, &syn);
    assert_eq!(event.event_type, EVENT_BANNED_DROP);
    assert_eq!(event.kind, REASON_MANUAL);
    let line = render::log_line(&Detection::from_event(
        &event,
        "lab0".into(),
        &PortNames::new(),
    ));
    assert!(line.contains(" REASON=manual "), "{line}");
}

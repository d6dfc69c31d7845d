//! The program against the CrowdSec decision maps as the daemon writes them (batched, with the
//! decision filter and counts): addresses and ranges of both families dropped until their end,
//! the allow-list winning over them, drops counted per origin, and batched deletes. Needs root.

use std::{
    collections::BTreeSet,
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
};

use aya::programs::{TestRun as _, TestRunOptions};
use ipnet::IpNet;
use scanguard::{
    bpf::{bpffs, clock::boot_ns, pins::Pins, program},
    config::settings::Settings,
    crowdsec::{
        book::{Fresh, Plan},
        maps::Maps,
    },
};
use scanguard_common::{classify::SYN, decision::Decision};

use crate::support::{
    kernel::{UNWATCHED_PORT, Verdict, tcp},
    lab::require_root,
};

/// A loaded program whose maps are pinned in a bpffs directory of its own, removed on drop.
struct Pinned {
    ebpf: aya::Ebpf,
    dir: PathBuf,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Pinned {
    fn load(name: &str, settings: &Settings) -> Pinned {
        require_root();
        let dir = PathBuf::from(format!(
            "/sys/fs/bpf/scanguard-test-decisions-{}-{name}",
            std::process::id()
        ));
        bpffs::ensure_pin_dir(&dir).expect("a pin directory on bpffs");
        // Removed here when the load fails: the guard exists only once it succeeds.
        let ebpf = program::load(settings, Some(&dir)).unwrap_or_else(|error| {
            let _ = std::fs::remove_dir_all(&dir);
            panic!("loading scanguard: {error:#}")
        });
        Pinned { ebpf, dir }
    }

    /// The verdict on a SYN from `src` to a port nothing watches.
    fn verdict(&mut self, src: &str) -> Verdict {
        let frame = tcp(src.parse().unwrap(), UNWATCHED_PORT, SYN);
        let xdp = program::xdp(&mut self.ebpf).expect("the program");
        xdp.test_run(TestRunOptions {
            data_in: Some(&frame),
            repeat: 1,
            ..Default::default()
        })
        .expect("BPF_PROG_TEST_RUN")
        .return_value
        .into()
    }
}

fn decision(expires_at_ns: u64, origin: u8) -> Decision {
    Decision {
        expires_at_ns,
        since_ns: 0,
        dropped: 0,
        scenario: 1,
        origin,
        _pad: [0; 5],
    }
}

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

/// The n-th address of a 10,000-address batch.
fn nth(n: u32) -> IpNet {
    IpNet::from(IpAddr::from(Ipv4Addr::from(
        u32::from(Ipv4Addr::new(100, 64, 0, 0)) + n,
    )))
}

#[test]
fn the_program_drops_what_the_maps_decide_until_it_ends() {
    let settings = Settings {
        allow: vec![net("192.0.2.128/25")],
        ..Default::default()
    };
    let mut scanguard = Pinned::load("maps", &settings);
    let pins = Pins::open(&scanguard.dir).expect("the pins");
    let mut maps = Maps::open(&pins).expect("the decision maps");
    let now = boot_ns();
    let hour = now + 3_600_000_000_000;
    // 10,000 addresses in one batch, with ranges of both families and lengths beside them.
    let mut put: Vec<_> = (0..10_000).map(|n| (nth(n), decision(hour, 2))).collect();
    put.extend([
        (net("192.0.2.0/24"), decision(hour, 3)),
        (net("10.9.0.0/16"), decision(hour, 3)),
        (net("2001:db8:5c::/48"), decision(hour, 3)),
        (net("203.0.113.9/32"), decision(now.saturating_sub(1), 2)),
    ]);
    let mut applied: BTreeSet<IpNet> = put.iter().map(|(net, _)| *net).collect();
    let plan = Plan {
        put,
        remove: Vec::new(),
    };
    let fresh = [
        Fresh::Origin(2, "cscli".into()),
        Fresh::Origin(3, "CAPI".into()),
    ];
    // Nothing written yet: nothing is looked up, everything passes.
    assert_eq!(scanguard.verdict("100.64.0.7"), Verdict::Pass);
    maps.write(&plan, &fresh, applied.iter())
        .expect("batched writes");
    assert_eq!(maps.entries().expect("read back").len(), 10_004);
    let counts = maps.counts().expect("the counts");
    assert_eq!((counts.addresses, counts.ranges), (10_001, 3));
    assert_eq!(counts.prefixes_used, 4, "/128, /24, /16 and /48 in use");

    let cases = [
        ("100.64.0.7", Verdict::Drop, "an address decision"),
        (
            "100.64.39.15",
            Verdict::Drop,
            "the last address of the batch",
        ),
        ("100.64.39.17", Verdict::Pass, "an address without one"),
        ("192.0.2.7", Verdict::Drop, "inside a /24"),
        ("10.9.200.1", Verdict::Drop, "inside a /16"),
        ("10.10.0.1", Verdict::Pass, "beside the /16"),
        ("2001:db8:5c::7", Verdict::Drop, "inside an IPv6 range"),
        ("2001:db8:5d::7", Verdict::Pass, "outside it"),
        ("203.0.113.9", Verdict::Pass, "a decision that ended"),
        ("192.0.2.200", Verdict::Pass, "allow-listed, inside a range"),
    ];
    for (src, verdict, what) in cases {
        assert_eq!(scanguard.verdict(src), verdict, "{src}: {what}");
    }
    let (drops, spared) = maps.drops().expect("the counters");
    assert_eq!(
        drops,
        vec![("cscli".to_string(), 2), ("CAPI".to_string(), 3)]
    );
    assert_eq!(spared, 1);
    let entry = maps
        .covering("192.0.2.7".parse().unwrap(), boot_ns())
        .expect("lookup")
        .expect("covered");
    assert_eq!(
        (entry.net, entry.origin.as_str()),
        (net("192.0.2.0/24"), "CAPI")
    );

    // Removed in one batch, one of them gone already: the rest still go, and the filter
    // forgets them.
    let remove: Vec<_> = (0..5_000)
        .map(nth)
        .chain([net("198.18.0.1/32"), net("192.0.2.0/24")])
        .collect();
    for gone in &remove {
        applied.remove(gone);
    }
    let plan = Plan {
        put: Vec::new(),
        remove,
    };
    maps.write(&plan, &[], applied.iter())
        .expect("batched deletes");
    assert_eq!(maps.entries().expect("read back").len(), 5_003);
    assert_eq!(scanguard.verdict("100.64.0.7"), Verdict::Pass);
    assert_eq!(scanguard.verdict("192.0.2.7"), Verdict::Pass);
    assert_eq!(scanguard.verdict("100.64.39.15"), Verdict::Drop);
    assert_eq!(maps.counts().expect("the counts").prefixes_used, 3);
}

#[test]
fn more_prefix_lengths_than_the_filter_holds_are_still_enforced() {
    let mut scanguard = Pinned::load("lengths", &Settings::default());
    let pins = Pins::open(&scanguard.dir).expect("the pins");
    let mut maps = Maps::open(&pins).expect("the decision maps");
    let hour = boot_ns() + 3_600_000_000_000;
    // Twelve IPv4 prefix lengths, /9 to /20, each <100 + len>.0.0.0/<len>.
    let put: Vec<_> = (9..=20u8)
        .map(|len| {
            (
                net(&format!("{}.0.0.0/{len}", 100 + len)),
                decision(hour, 2),
            )
        })
        .collect();
    let applied: Vec<IpNet> = put.iter().map(|(net, _)| *net).collect();
    let plan = Plan {
        put,
        remove: Vec::new(),
    };
    maps.write(&plan, &[Fresh::Origin(2, "lists".into())], applied.iter())
        .expect("batched writes");
    assert_eq!(maps.counts().expect("the counts").prefixes_used, 12);
    assert_eq!(scanguard.verdict("120.0.15.1"), Verdict::Drop);
    assert_eq!(scanguard.verdict("109.1.0.1"), Verdict::Drop);
    assert_eq!(scanguard.verdict("120.0.16.1"), Verdict::Pass);
    assert_eq!(scanguard.verdict("121.0.0.1"), Verdict::Pass);
}

#[test]
fn an_ipv6_range_over_the_ipv4_mapped_space_drops_ipv4_sources() {
    let mut scanguard = Pinned::load("mapped", &Settings::default());
    let pins = Pins::open(&scanguard.dir).expect("the pins");
    let mut maps = Maps::open(&pins).expect("the decision maps");
    let hour = boot_ns() + 3_600_000_000_000;
    // ::/80 holds ::ffff:0:0/96, where IPv4 sources live as keys.
    let put = vec![
        (net("::/80"), decision(hour, 2)),
        (net("2001:db8:77::/64"), decision(hour, 2)),
    ];
    let applied: Vec<IpNet> = put.iter().map(|(net, _)| *net).collect();
    let plan = Plan {
        put,
        remove: Vec::new(),
    };
    maps.write(&plan, &[Fresh::Origin(2, "lists".into())], applied.iter())
        .expect("batched writes");
    assert_eq!(scanguard.verdict("192.0.2.9"), Verdict::Drop);
    assert_eq!(scanguard.verdict("2001:db8:77::9"), Verdict::Drop);
    assert_eq!(scanguard.verdict("2001:db8:78::9"), Verdict::Pass);
}

//! BPF_PROG_TEST_RUN tests of the long-window sweep (`slow-sweep`): scans paced to slip through
//! the short window, the long window's edges, the sketch's saturation, and what a flood of new
//! sources does to a slow scanner's sketch.

use std::{
    net::{IpAddr, Ipv4Addr},
    thread,
    time::Duration,
};

use scanguard::config::settings::Settings;
use scanguard_common::{
    action::Action,
    classify::SYN,
    config::NANOS_PER_SECOND,
    kind::Kind,
    parse::SCTP_INIT,
    sweep::{MAX_SWEEP_PORTS, SLOW_SWEEPS_CAPACITY, Sweep},
};

use crate::support::kernel::{
    SCANNER_PORT, Scanguard, Verdict, coarse_now_ns, from, scanner_v4, scanner_v6, tcp,
};

const SLOW_PORTS: u32 = 6;
const SLOW_SECONDS: u64 = 60;
/// Unwatched, unprotected ports.
const PORTS: [u16; 6] = [1000, 2000, 3000, 4000, 5000, 6000];

/// A short window that catches 4 ports within a second, a long one 6 within a minute.
fn slow_settings() -> Settings {
    Settings {
        sweep_ports: 4,
        sweep_seconds: 1,
        slow_sweep_ports: SLOW_PORTS,
        slow_sweep_seconds: SLOW_SECONDS,
        ..Settings::default()
    }
}

/// Only the long window: the short sketches are still kept, as the long one's gate.
fn only_slow_settings() -> Settings {
    Settings {
        sweep_ports: 0,
        ..slow_settings()
    }
}

/// A probe of `port` by `src`: SYN, UDP or SCTP INIT.
type Probe = fn(IpAddr, u16) -> Vec<u8>;

fn syn(src: IpAddr, port: u16) -> Vec<u8> {
    tcp(src, port, SYN)
}

fn udp(src: IpAddr, port: u16) -> Vec<u8> {
    from(src).udp(SCANNER_PORT, port).build()
}

fn sctp_init(src: IpAddr, port: u16) -> Vec<u8> {
    from(src).sctp(SCANNER_PORT, port, SCTP_INIT).build()
}

/// The sketch of `ports` probed at `start_ns`, as the program would have recorded them.
fn sketch(start_ns: u64, ports: &[u16]) -> Sweep {
    let mut sweep = Sweep::default();
    for port in ports {
        sweep.observe(start_ns, *port, SLOW_SECONDS * NANOS_PER_SECOND);
    }
    sweep
}

#[test]
fn a_paced_scan_is_a_slow_sweep_at_the_threshold() {
    let mut scanguard = Scanguard::load(&slow_settings());
    scanguard.track_flows();
    let scans: [(IpAddr, Probe); 6] = [
        (scanner_v4(1), syn),
        (scanner_v6(1), syn),
        (scanner_v4(2), udp),
        (scanner_v6(2), udp),
        (scanner_v4(3), sctp_init),
        (scanner_v6(3), sctp_init),
    ];
    // One probe per source and short window: the short sketch never holds two.
    for (n, port) in PORTS.into_iter().enumerate() {
        if n > 0 {
            thread::sleep(Duration::from_millis(1100));
        }
        let last = n + 1 == SLOW_PORTS as usize;
        for (src, probe) in scans {
            let (verdict, what) = match last {
                false => (Verdict::Pass, "a port below the threshold"),
                true => (Verdict::Drop, "the threshold port"),
            };
            scanguard.expect(&probe(src, port), verdict, &format!("{src}: {what}"));
        }
    }
    for (src, _) in scans {
        assert_eq!(scanguard.ban_reason(src), Some(Kind::SlowSweep), "{src}");
    }
    assert_eq!(scanguard.counts().get("port-sweep"), None);
}

#[test]
fn a_probe_just_inside_the_long_window_counts_and_one_just_outside_starts_over() {
    let mut scanguard = Scanguard::load(&only_slow_settings());
    let window_ns = SLOW_SECONDS * NANOS_PER_SECOND;
    let (inside, outside) = (scanner_v4(1), scanner_v6(1));
    let below = &PORTS[..SLOW_PORTS as usize - 1];
    let now_ns = coarse_now_ns();
    // Half a second inside: time enough for the probe to reach the program.
    scanguard.insert_slow_sweep(
        inside,
        sketch(now_ns - window_ns + NANOS_PER_SECOND / 2, below),
    );
    // A tick outside (the coarse clock moves by ticks of at most 10 ms).
    scanguard.insert_slow_sweep(outside, sketch(now_ns - window_ns - 10_000_000, below));
    let last = PORTS[SLOW_PORTS as usize - 1];
    scanguard.expect(&syn(inside, last), Verdict::Drop, "just inside the window");
    assert_eq!(scanguard.ban_reason(inside), Some(Kind::SlowSweep));
    scanguard.expect(
        &syn(outside, last),
        Verdict::Pass,
        "just outside the window",
    );
    let restarted = scanguard.slow_sweep(outside).expect("the sketch is kept");
    assert_eq!(restarted.distinct, 1, "{restarted:?}");
    assert!(restarted.window_start_ns >= now_ns, "{restarted:?}");
}

#[test]
fn the_long_sketch_saturates_and_keeps_detecting() {
    let settings = Settings {
        slow_sweep_ports: MAX_SWEEP_PORTS,
        actions: [(Kind::SlowSweep, Action::Log)].into(),
        ..only_slow_settings()
    };
    let mut scanguard = Scanguard::load(&settings);
    let src = scanner_v4(1);
    let ports = 10_000..11_000;
    let mut expected = Sweep::default();
    let mut detections = 0;
    for port in ports.clone() {
        scanguard.expect(&syn(src, port), Verdict::Pass, "logged, not dropped");
        let distinct = expected.observe(0, port, u64::MAX);
        detections += u64::from(distinct >= MAX_SWEEP_PORTS);
    }
    assert!(
        detections > 800,
        "{detections}: the threshold is reached within 200 ports"
    );
    assert_eq!(scanguard.counts().get("slow-sweep"), Some(&detections));
    let sketch = scanguard.slow_sweep(src).expect("the sketch");
    assert_eq!((sketch.distinct, sketch.ports), (128, [u64::MAX; 2]));
    assert_eq!(scanguard.bans(), []);
}

/// The n-th source of a flood, from 10.0.0.0/8.
fn flooder(n: u32) -> IpAddr {
    Ipv4Addr::from(0x0a00_0000 + n).into()
}

#[test]
fn a_flood_of_new_sources_does_not_make_a_slow_scanner_forgotten() {
    let mut scanguard = Scanguard::load(&only_slow_settings());
    let below = &PORTS[..SLOW_PORTS as usize - 1];
    let (first, second) = (scanner_v4(1), scanner_v6(1));
    for port in below {
        scanguard.expect(&syn(first, *port), Verdict::Pass, "below the threshold");
    }
    // Sources that probe once, as a forged random-source flood does, never open a long sketch:
    // twice the map's capacity of them evicts no long sketch (the short ones they do).
    for n in 0..2 * SLOW_SWEEPS_CAPACITY {
        scanguard.expect(&syn(flooder(n), 7000), Verdict::Pass, "a flooder's probe");
    }
    let kept = scanguard
        .slow_sweep(first)
        .expect("the long sketch is kept");
    assert_eq!(kept.distinct, SLOW_PORTS - 1);
    let last = PORTS[SLOW_PORTS as usize - 1];
    scanguard.expect(&syn(first, last), Verdict::Drop, "the threshold port");
    assert_eq!(scanguard.ban_reason(first), Some(Kind::SlowSweep));
    // Sources that probe twice each open one: up to half the capacity of them leave it.
    for port in below {
        scanguard.expect(&syn(second, *port), Verdict::Pass, "below the threshold");
    }
    for n in 0..SLOW_SWEEPS_CAPACITY / 2 {
        for port in [7000, 7001] {
            let what = "a flooder's probes";
            scanguard.expect(&syn(flooder(n), port), Verdict::Pass, what);
        }
    }
    scanguard.expect(&syn(second, last), Verdict::Drop, "the threshold port");
    assert_eq!(scanguard.ban_reason(second), Some(Kind::SlowSweep));
    assert_eq!(scanguard.bans().len(), 2);
}

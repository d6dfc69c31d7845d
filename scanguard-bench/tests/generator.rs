//! The generator's programs in the kernel, through BPF_PROG_TEST_RUN without live frames: the
//! live-frames one and the relay each number their sources and keep both checksums right, and
//! leave frames from other interfaces alone. Needs root.

use std::net::Ipv4Addr;

use aya::programs::{TestRun as _, TestRunOptions};
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use scanguard_bench::{
    object::{self, GeneratorSettings, RELAY, TRAFGEN},
    test_run,
};
use scanguard_common::classify::SYN;
use scanguard_lab::frames::FrameBuilder;

/// A plain test run happens on the loopback device of the current namespace, ifindex 1.
const LOOPBACK: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
const XDP_REDIRECT: u32 = 4;

/// Each program with the settings that make a plain test run's frames its own, and the verdict
/// it then gives them.
fn programs(sources: u32, base: Ipv4Addr) -> [(&'static str, GeneratorSettings, u32); 2] {
    let numbered = GeneratorSettings {
        sources,
        base: Some(base),
        ..GeneratorSettings::default()
    };
    [
        (
            TRAFGEN,
            GeneratorSettings {
                tx_ifindex: LOOPBACK,
                ..numbered
            },
            XDP_TX,
        ),
        (
            RELAY,
            GeneratorSettings {
                feed_ifindex: LOOPBACK,
                ..numbered
            },
            XDP_REDIRECT,
        ),
    ]
}

fn run(
    program: &str,
    settings: GeneratorSettings,
    frame: &[u8],
    runs: usize,
) -> Vec<(u32, Vec<u8>)> {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the generator test loads an XDP program: run it as root, e.g. `cargo xtask test`"
    );
    let ebpf = object::load_generator(&[program], settings).expect("load the generator");
    let xdp = test_run::xdp(&ebpf, program).expect("the generator program");
    (0..runs)
        .map(|_| {
            let mut out = vec![0u8; frame.len()];
            let result = xdp
                .test_run(TestRunOptions {
                    data_in: Some(frame),
                    data_out: Some(&mut out),
                    repeat: 1,
                    ..Default::default()
                })
                .expect("BPF_PROG_TEST_RUN");
            (result.return_value, out)
        })
        .collect()
}

fn syn() -> Vec<u8> {
    FrameBuilder::new(Ipv4Addr::new(10, 77, 0, 1), Ipv4Addr::new(10, 77, 0, 2))
        .tcp(40_000, 80, SYN)
        .build()
}

#[test]
fn each_frame_gets_the_next_source_with_valid_checksums() {
    let base = Ipv4Addr::new(100, 64, 0, 250);
    let frame = syn();
    for (program, settings, verdict) in programs(10, base) {
        for (n, (action, out)) in run(program, settings, &frame, 12).into_iter().enumerate() {
            assert_eq!(action, verdict, "{program}, frame {n}");
            let expected = Ipv4Addr::from(u32::from(base) + (n as u32 % 10));
            assert_well_formed_from(&out, expected, &format!("{program}, frame {n}"));
        }
    }
}

fn assert_well_formed_from(out: &[u8], expected: Ipv4Addr, what: &str) {
    let packet = SlicedPacket::from_ethernet(out).expect("a well-formed frame");
    let Some(NetSlice::Ipv4(ip)) = packet.net else {
        panic!("{what} is not IPv4");
    };
    assert_eq!(ip.header().source_addr(), expected, "{what}");
    let header = ip.header().to_header();
    assert_eq!(
        header.header_checksum,
        header.calc_header_checksum(),
        "{what}: IPv4 checksum"
    );
    let Some(TransportSlice::Tcp(tcp)) = packet.transport else {
        panic!("{what} lost its TCP header");
    };
    let computed = tcp
        .to_header()
        .calc_checksum_ipv4(&header, tcp.payload())
        .expect("checksum");
    assert_eq!(tcp.checksum(), computed, "{what}: TCP checksum");
}

#[test]
fn frames_from_other_interfaces_are_passed_untouched() {
    let frame = syn();
    for (program, settings, _) in programs(10, Ipv4Addr::new(100, 64, 0, 1)) {
        let elsewhere = GeneratorSettings {
            tx_ifindex: settings.tx_ifindex * 1000,
            feed_ifindex: settings.feed_ifindex * 1000,
            ..settings
        };
        let (action, out) = run(program, elsewhere, &frame, 1).remove(0);
        assert_eq!(action, XDP_PASS, "{program}");
        assert_eq!(out, frame, "{program}");
    }
}

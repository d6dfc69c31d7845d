//! The generator program in the kernel, through BPF_PROG_TEST_RUN without live frames: it
//! numbers its sources and keeps both checksums right. Needs root.

use std::net::Ipv4Addr;

use aya::programs::{TestRun as _, TestRunOptions};
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use scanguard_bench::{
    object::{self, GeneratorSettings, TRAFGEN},
    test_run,
};
use scanguard_common::classify::SYN;
use scanguard_lab::frames::FrameBuilder;

/// A plain test run happens on the loopback device of the current namespace, ifindex 1.
const LOOPBACK: u32 = 1;
const XDP_TX: u32 = 3;

fn run(settings: GeneratorSettings, frame: &[u8], runs: usize) -> Vec<(u32, Vec<u8>)> {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the generator test loads an XDP program: run it as root, e.g. `cargo xtask test`"
    );
    let ebpf = object::load_generator(&[TRAFGEN], settings).expect("load the generator");
    let xdp = test_run::xdp(&ebpf, TRAFGEN).expect("the generator program");
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
    let settings = GeneratorSettings {
        tx_ifindex: LOOPBACK,
        sources: 10,
        base: Some(base),
    };
    let frame = syn();
    for (n, (action, out)) in run(settings, &frame, 12).into_iter().enumerate() {
        assert_eq!(action, XDP_TX, "frame {n}");
        let packet = SlicedPacket::from_ethernet(&out).expect("a well-formed frame");
        let Some(NetSlice::Ipv4(ip)) = packet.net else {
            panic!("frame {n} is not IPv4");
        };
        let expected = Ipv4Addr::from(u32::from(base) + (n as u32 % 10));
        assert_eq!(ip.header().source_addr(), expected, "frame {n}");
        let header = ip.header().to_header();
        assert_eq!(
            header.header_checksum,
            header.calc_header_checksum(),
            "frame {n}: IPv4 checksum"
        );
        let Some(TransportSlice::Tcp(tcp)) = packet.transport else {
            panic!("frame {n} lost its TCP header");
        };
        let computed = tcp
            .to_header()
            .calc_checksum_ipv4(&header, tcp.payload())
            .expect("checksum");
        assert_eq!(tcp.checksum(), computed, "frame {n}: TCP checksum");
    }
}

#[test]
fn frames_from_other_interfaces_are_passed_untouched() {
    let settings = GeneratorSettings {
        tx_ifindex: LOOPBACK + 1000,
        sources: 10,
        base: Some(Ipv4Addr::new(100, 64, 0, 1)),
    };
    let frame = syn();
    let (action, out) = run(settings, &frame, 1).remove(0);
    assert_eq!(action, 2, "XDP_PASS");
    assert_eq!(out, frame);
}

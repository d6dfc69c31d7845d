//! The relay generator on a real lab link: what its packet socket writes crosses the sender's
//! namespace and reaches the receiver's veth, every frame once. Needs root; everything stays
//! between the two namespaces the link creates.

use std::{net::Ipv4Addr, thread, time::Duration};

use scanguard_bench::{
    generator::{Generator, Mode, Target},
    topology::{FloodLink, SENDER_CPU},
};
use scanguard_common::classify::SYN;

#[test]
fn the_relay_delivers_every_frame_its_socket_writes() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the relay test builds a lab link: run it as root, e.g. `cargo xtask test`"
    );
    let link = FloodLink::build().expect("build the lab link");
    let base = Ipv4Addr::new(198, 18, 0, 1);
    let generator = Generator::relay(&link, 1000, base).expect("the relay generator");
    assert!(matches!(generator.mode(), Mode::Relay { .. }));
    let frame = link.frame_from(base.into(), SYN);
    let target = Target {
        netns: &link.tx.netns,
        ifindex: link.tx_ifindex,
        frame: &frame,
        cpu: SENDER_CPU,
    };
    let before = link.rx_stats().expect("receiver counters").rx_packets;
    let sent = generator
        .paced(&target, 10_000, Duration::from_millis(300))
        .expect("send");
    // Let the receiver's NAPI poll drain its ring.
    thread::sleep(Duration::from_millis(200));
    let received = link.rx_stats().expect("receiver counters").rx_packets - before;
    assert!(
        sent.frames >= 2_000,
        "paced at 10,000/s for 0.3 s, sent only {}",
        sent.frames
    );
    // The receiver's own stack may add a few (IPv6 neighbour discovery), never fewer.
    assert!(
        (sent.frames..sent.frames + 20).contains(&received),
        "sent {}, the receiver got {received}",
        sent.frames
    );
}

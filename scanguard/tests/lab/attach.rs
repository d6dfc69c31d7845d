//! The program attaches to a lab veth in native and generic mode, provably (netlink), traffic
//! still flows, and it is gone again after drop, SIGINT or SIGTERM; `--mode auto` puts a
//! veth's checks at TC ingress, where they catch scans as at XDP.

use std::time::Duration;

use aya::programs::xdp::XdpMode;
use nix::sys::signal::Signal;
use scanguard::{bpf::program, config::settings::Settings, host::xdp::XdpAttachMode};
use scanguard_lab::ScanLab;
use scanguard_lab::{
    daemon::Daemon,
    traffic::{nmap_port_state, talk},
    wait_until,
};

use crate::support::lab::{
    SCANGUARD, SERVICE, checks_program, require_root, served_lab, xdp_attachment,
};

/// Nothing listens here.
const CLOSED: u16 = 81;

#[test]
fn auto_puts_a_veths_checks_at_tc_ingress_where_scans_are_caught() {
    let lab = served_lab();
    let victim = lab.victim.ipv4.into();
    let mut daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);
    assert_eq!(
        xdp_attachment(&lab.victim),
        None,
        "no XDP on a veth by default"
    );
    let program = checks_program(&lab.victim).expect("scanguard at TC ingress");
    let status = daemon.cli_json(&["status"]);
    let interface = &status["interfaces"][0];
    assert_eq!(interface["mode"], "tc");
    assert_eq!(interface["kind"], "veth");
    assert!(
        interface["hook_reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("segmentation offload")),
        "{interface}"
    );

    talk(&lab.client, victim, SERVICE).expect("TCP flows");
    assert_eq!(
        nmap_port_state(&lab.attacker, "-sN", victim, CLOSED),
        "open|filtered",
        "the NULL scan is dropped"
    );
    assert!(daemon.is_banned(lab.attacker.ipv4.into()));
    assert!(
        talk(&lab.attacker, victim, SERVICE).is_err(),
        "the ban holds"
    );
    talk(&lab.client, victim, SERVICE).expect("others still connect");
    let stats = daemon.cli_json(&["stats"]);
    assert!(
        stats["packets"]["dropped_banned"].as_u64() > Some(0),
        "{stats}"
    );

    assert!(daemon.stop(Signal::SIGTERM).success());
    let detached = wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
        checks_program(&lab.victim).is_none()
    });
    assert!(detached, "program {program} still at TC ingress after exit");
}

fn loaded_program_id(ebpf: &mut aya::Ebpf) -> u32 {
    program::xdp(ebpf)
        .expect("program")
        .info()
        .expect("program info")
        .id()
}

#[test]
fn attaches_in_native_and_generic_mode_and_detaches_on_drop() {
    require_root();
    for (mode, expected) in [
        (XdpMode::Driver, XdpAttachMode::Native),
        (XdpMode::Skb, XdpAttachMode::Skb),
    ] {
        let lab = served_lab();
        let mut ebpf = program::load(&Settings::default(), None).expect("load");
        {
            let _guard = lab.victim.enter().expect("enter victim");
            program::xdp(&mut ebpf)
                .expect("program")
                .attach(&lab.victim.interface, mode)
                .unwrap_or_else(|error| panic!("attach in {mode:?}: {error}"));
        }
        let attached = xdp_attachment(&lab.victim).expect("netlink reports an XDP program");
        assert_eq!(attached.mode, expected);
        assert_eq!(attached.program_id, loaded_program_id(&mut ebpf));

        lab.attacker
            .ping(lab.victim.ipv4.into())
            .expect("IPv4 flows");
        lab.client.ping(lab.victim.ipv6.into()).expect("IPv6 flows");
        talk(&lab.client, lab.victim.ipv4.into(), SERVICE).expect("TCP flows");

        drop(ebpf);
        // Closing the link's last fd releases it through the kernel's deferred put
        // (kernel/bpf/syscall.c), so the detach can land a moment after the drop.
        let detached = wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
            xdp_attachment(&lab.victim).is_none()
        });
        assert!(detached, "{mode:?}: still attached 2 s after drop");
    }
}

#[test]
fn the_daemon_detaches_and_unpins_on_sigint_and_sigterm() {
    require_root();
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let lab = ScanLab::build().expect("lab");
        let mut daemon = Daemon::start(
            SCANGUARD,
            &lab.victim,
            &[&lab.victim.interface, "--mode", "native"],
        );
        let pin_dir = daemon.pin_dir.clone();
        assert_eq!(
            xdp_attachment(&lab.victim).map(|attached| attached.mode),
            Some(XdpAttachMode::Native)
        );
        assert!(pin_dir.join("BANS").exists(), "maps pinned while running");
        lab.attacker
            .ping(lab.victim.ipv4.into())
            .expect("traffic flows while attached");

        let status = daemon.stop(signal);
        assert!(status.success(), "{signal}: exit {status}");
        assert_eq!(
            xdp_attachment(&lab.victim),
            None,
            "{signal}: program left behind"
        );
        assert!(!pin_dir.exists(), "{signal}: pins left behind");
    }
}

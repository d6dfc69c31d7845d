//! `cargo xtask lab`: the demo. A victim, an attacker and a benign client, each in a private
//! network namespace; scanguard attached to the victim; real nmap scans from the attacker.

use std::{net::IpAddr, path::PathBuf};

use anyhow::{Context as _, Result};
use scanguard_lab::{
    ScanLab,
    daemon::Daemon,
    traffic::{nmap_port_state, serve, talk},
};

use crate::{
    process::{cargo, run},
    setup,
};

const SERVICE: u16 = 80;
/// Closed on the victim: without scanguard stealth scans get a RST here and say "closed".
const CLOSED: u16 = 81;
/// Telnet, in the default watch list.
const WATCHED: u16 = 23;

pub fn execute() -> Result<()> {
    setup::execute()?;
    println!("[lab] building scanguard (release)");
    run(cargo().args(["build", "--release", "--package", "scanguard"]))?;
    let binary = target_dir().join("release/scanguard");

    println!("[lab] building the lab: victim, attacker and client namespaces on a bridge");
    let lab = ScanLab::build().context("cannot build the lab (run as root)")?;
    serve(&lab.victim, SERVICE);
    let victim: IpAddr = lab.victim.ipv4.into();
    let attacker: IpAddr = lab.attacker.ipv4.into();
    println!(
        "[lab] victim {} ({}), attacker {}, client {}",
        victim, lab.victim.interface, attacker, lab.client.ipv4
    );

    println!(
        "[lab] before scanguard: nmap -sN -p {CLOSED} says {}",
        nmap_port_state(&lab.attacker, "-sN", victim, CLOSED)
    );
    let daemon = Daemon::start(&binary, &lab.victim, &[&lab.victim.interface]);

    let mut rows = Vec::new();
    for (scan, port) in [
        ("-sN", CLOSED),
        ("-sF", CLOSED),
        ("-sX", CLOSED),
        ("-sS", WATCHED),
    ] {
        let verdict = nmap_port_state(&lab.attacker, scan, victim, port);
        let reason = daemon
            .bans()
            .into_iter()
            .find(|(address, _)| *address == attacker.to_string())
            .map_or("-".to_string(), |(_, reason)| reason);
        let blocked = talk(&lab.attacker, victim, SERVICE).is_err();
        println!(
            "[lab] nmap {scan} -p {port}: nmap says {verdict}; scanguard banned the attacker for {reason}; its connects blocked: {blocked}"
        );
        rows.push((scan, port, verdict, reason, blocked));
        daemon.cli(&["unban", &attacker.to_string()]);
    }
    let client_ok = talk(&lab.client, victim, SERVICE).is_ok();

    println!("\n| scan | port | nmap's verdict | scanguard reason | attacker blocked |");
    println!("|------|------|----------------|------------------|------------------|");
    for (scan, port, verdict, reason, blocked) in rows {
        println!("| nmap {scan} | {port} | {verdict} | {reason} | {blocked} |");
    }
    println!("\n[lab] benign client connects throughout: {client_ok}");
    println!("[lab] tearing down (namespaces, program, pins)");
    Ok(())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

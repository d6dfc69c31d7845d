//! `cargo xtask lab`: the demo. Builds everything, then a private lab (a victim with real
//! services, an attacker, a benign client, a Docker-shaped bridge with two containers), attaches
//! scanguard and plays the scenario matrix with real nmap, printing what nmap reported and what
//! scanguard logged. `--keep` leaves the lab up, `--down` removes a kept lab.

mod keeper;
mod report;
pub mod state;

use std::{path::PathBuf, time::Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use scanguard_lab::demo::{DemoError, LogTail, config_toml, interrupt, scenarios};

pub use keeper::{KeeperArgs, execute as keeper_execute};

use crate::{
    process::{cargo, run},
    setup,
};

#[derive(Debug, Args)]
pub struct LabArgs {
    /// Leave the lab up afterwards and print commands to try by hand.
    #[arg(long, conflicts_with = "down")]
    keep: bool,
    /// Remove a lab left up by --keep (daemon, namespaces, pins), then exit.
    #[arg(long)]
    down: bool,
}

pub fn execute(args: &LabArgs) -> Result<()> {
    if !scanguard_lab::is_root() {
        bail!(
            "the lab creates network namespaces and loads an XDP program: run `cargo xtask lab` as root"
        );
    }
    if args.down {
        return state::down();
    }
    let started = Instant::now();
    // From here on Ctrl-C sets a flag; every step checks it and the lab is torn down on the way out.
    interrupt::install()?;
    println!("[lab] 1/5 setup: toolchain, bpf-linker, nmap and friends");
    setup::execute()?;
    interrupted()?;
    println!("[lab] 2/5 building scanguard (release; the first build takes a few minutes)");
    run(cargo().args(["build", "--release", "--package", "scanguard"]))?;
    interrupted()?;
    let binary = target_dir().join("release/scanguard");
    let binary = binary.canonicalize().unwrap_or(binary);

    println!("[lab] 3/5 building the lab: network namespaces, veths, bridges, services");
    state::prepare()?;
    std::fs::write(state::config_file(), config_toml())
        .context("cannot write the lab's scanguard.toml")?;
    let mut keeper = keeper::Keeper::start(&binary)?;
    let lab = keeper.lab();
    report::topology(lab, keeper.pid());

    println!("\n[lab] 4/5 the scans without scanguard: the \"before\" column");
    let baseline = scenarios::baseline(lab, report::baseline_probe).map_err(demo_error)?;

    let scanguard = keeper::scanguard(&binary);
    println!(
        "\n[lab] attaching: scanguard attach {} --config {}",
        lab.protected_interfaces().join(" "),
        state::config_file().display()
    );
    let daemon_pid = keeper.attach()?;
    let mut log = LogTail::new(state::daemon_log());
    report::daemon_started(daemon_pid, &log.read_new());

    println!("\n[lab] 5/5 the scenarios, with scanguard");
    let lab = keeper.lab();
    let rows =
        scenarios::run(lab, &scanguard, &mut log, &baseline, report::row).map_err(demo_error)?;
    report::summary(&rows);

    let failures = rows.iter().filter(|row| !row.passed()).count();
    if args.keep {
        report::kept(lab, &scanguard);
        keeper.keep()?;
    } else {
        println!("[lab] tearing the lab down: daemon, namespaces, pins");
        keeper.down()?;
        println!("[lab] torn down: no namespace, no pin, no XDP program left");
    }
    println!(
        "[lab] done in {:.0} s: {}/{} scenarios as expected",
        started.elapsed().as_secs_f64(),
        rows.len() - failures,
        rows.len()
    );
    if failures > 0 {
        bail!("{failures} scenario(s) did not behave as expected (marked ✗ above)");
    }
    Ok(())
}

fn interrupted() -> Result<()> {
    interrupt::check().map_err(demo_error)
}

/// Ctrl-C becomes an error that says what happened; the keeper's `Drop` has torn the lab down
/// by the time it is printed.
fn demo_error(error: DemoError) -> anyhow::Error {
    match error {
        DemoError::Interrupted => anyhow::anyhow!("interrupted; the lab was torn down"),
        other => other.into(),
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

//! `scanguard detach`: stop a daemon, remove a persisted program and its state.

use std::{path::Path, time::Duration};

use anyhow::{Context as _, Result, bail};
use nix::{sys::signal::Signal, unistd::Pid};

use crate::{
    bpf::{pins::Pins, privileges},
    cli::{Cli, DetachArgs},
    daemon::{saved_bans::store, status_file},
};

/// How long a daemon gets to detach after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Detaching from every interface also deletes the saved bans, unless `--keep-bans`: what
/// `attach` starts with next is then a clean slate, as after `unban --all`.
pub async fn execute(cli: &Cli, args: &DetachArgs) -> Result<()> {
    privileges::require()?;
    let interfaces = &args.interfaces;
    let forgets = interfaces.is_empty() && !args.keep_bans;
    let Ok(pins) = Pins::open(&cli.pin_dir) else {
        if forgets && forget_saved_bans(&cli.state_dir)? {
            return Ok(());
        }
        bail!(
            "nothing to detach: no running scanguard and no pinned state in {}",
            cli.pin_dir.display()
        );
    };
    if let Some(daemon) = status_file::read(&cli.run_dir) {
        if !interfaces.is_empty() {
            bail!(
                "a daemon (pid {}) owns these interfaces: stop it with `scanguard detach` and attach again to the ones you want",
                daemon.pid
            );
        }
        stop(&cli.run_dir, daemon.pid).await?;
    }
    let targets = if interfaces.is_empty() {
        pins.persisted_links()
    } else {
        interfaces.to_vec()
    };
    for name in &targets {
        if !pins.persisted_links().contains(name) {
            bail!("scanguard is not persisted on {name}");
        }
        pins.detach(name)?;
        println!("detached from {name}");
    }
    if interfaces.is_empty() || pins.persisted_links().is_empty() {
        Pins::remove(&cli.pin_dir)?;
        println!("removed pinned state in {}", cli.pin_dir.display());
    }
    // The daemon, stopped above, saved its bans as it exited.
    if forgets {
        forget_saved_bans(&cli.state_dir)?;
    }
    Ok(())
}

/// Deletes the saved bans; returns whether there were any.
fn forget_saved_bans(state_dir: &Path) -> Result<bool> {
    let removed = store::remove(state_dir)?;
    if removed {
        println!("removed saved bans {}", store::path(state_dir).display());
    }
    Ok(removed)
}

async fn stop(run_dir: &Path, pid: u32) -> Result<()> {
    let pid_value = Pid::from_raw(i32::try_from(pid)?);
    nix::sys::signal::kill(pid_value, Signal::SIGTERM)
        .with_context(|| format!("cannot signal the daemon (pid {pid})"))?;
    let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
    while status_file::read(run_dir).is_some() {
        if tokio::time::Instant::now() > deadline {
            bail!("the daemon (pid {pid}) did not stop within {STOP_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("stopped the daemon (pid {pid})");
    Ok(())
}

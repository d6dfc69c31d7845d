//! Where a demo lab keeps its files, and the state file that lets `--down`, `lab-clean` and the
//! next `cargo xtask lab` find a lab that is up.
//!
//! A lab's namespaces are created by its keeper process (`xtask lab-keeper`) and carry its pid,
//! so they stay up exactly as long as the keeper does: `lab-clean` and the lab tests' own
//! leftover sweep remove lab namespaces whose creator is gone, and leave a live keeper's alone.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use scanguard_lab::demo::{process_is, stop_process};

/// Configuration, logs, state and the daemon's run directory.
pub const STATE_DIR: &str = "/run/scanguard-lab";
/// The daemon's pinned maps (bpffs).
pub const PIN_DIR: &str = "/sys/fs/bpf/scanguard-lab";
/// What identifies a keeper in /proc/<pid>/cmdline.
pub const KEEPER_COMMAND: &str = "lab-keeper";
/// The keeper stops the daemon (up to 15 s) and deletes the namespaces.
const KEEPER_STOP_TIMEOUT: Duration = Duration::from_secs(45);

pub fn path(name: &str) -> PathBuf {
    Path::new(STATE_DIR).join(name)
}

pub fn config_file() -> PathBuf {
    path("scanguard.toml")
}

pub fn daemon_log() -> PathBuf {
    path("scanguard.log")
}

pub fn keeper_log() -> PathBuf {
    path("keeper.log")
}

pub fn run_dir() -> PathBuf {
    path("run")
}

fn state_file() -> PathBuf {
    path("state")
}

/// The lab that is up: its keeper, and whether `--keep` left it up on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub keeper_pid: u32,
    pub kept: bool,
}

impl State {
    pub fn read() -> Option<State> {
        let text = std::fs::read_to_string(state_file()).ok()?;
        let value = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                .map(str::trim)
        };
        Some(State {
            keeper_pid: value("keeper_pid")?.parse().ok()?,
            kept: value("kept")? == "true",
        })
    }

    pub fn write(self) -> Result<()> {
        std::fs::write(
            state_file(),
            format!("keeper_pid={}\nkept={}\n", self.keeper_pid, self.kept),
        )
        .with_context(|| format!("cannot write {}", state_file().display()))
    }

    pub fn keeper_alive(self) -> bool {
        process_is(self.keeper_pid, KEEPER_COMMAND)
    }
}

/// Makes room for a new lab: takes down one a `--keep` left up, refuses while another run is in
/// progress, and clears what a killed run left.
pub fn prepare() -> Result<()> {
    match State::read() {
        Some(state) if state.keeper_alive() && state.kept => {
            println!(
                "[lab] a lab from `cargo xtask lab --keep` is up (keeper pid {}): taking it down first",
                state.keeper_pid
            );
            down()?;
        }
        Some(state) if state.keeper_alive() => bail!(
            "another `cargo xtask lab` is running (its lab keeper is pid {}); wait for it, or \
             stop it with `cargo xtask lab --down`",
            state.keeper_pid
        ),
        _ => {
            clean_stale()?;
        }
    }
    std::fs::create_dir_all(STATE_DIR).with_context(|| format!("cannot create {STATE_DIR}"))
}

/// `cargo xtask lab --down`: stops the keeper, which stops the daemon (it detaches and removes
/// its pins) and deletes the namespaces; then removes what is left.
pub fn down() -> Result<()> {
    let Some(state) = State::read() else {
        let cleaned = clean_stale()?;
        println!(
            "[lab] no lab is up{}",
            if cleaned {
                " (removed a killed run's files)"
            } else {
                ""
            }
        );
        return Ok(());
    };
    let clean_exit = state.keeper_alive() && {
        println!(
            "[lab] stopping the lab keeper (pid {}): daemon, namespaces, pins",
            state.keeper_pid
        );
        stop_process(state.keeper_pid, KEEPER_COMMAND, KEEPER_STOP_TIMEOUT)
    };
    if !clean_exit {
        // The keeper died or had to be killed: its namespaces now have a dead creator.
        let left = scanguard_lab::remove_leftovers()
            .context("cannot remove the lab's namespaces (this needs root)")?;
        println!("[lab] the keeper was gone; removed {left} namespace(s) it left behind");
    }
    clean_stale()?;
    println!("[lab] the lab is down");
    Ok(())
}

/// Removes the files and pins of a lab whose keeper is gone (killed, crashed, or done); returns
/// whether there was anything. A live keeper's lab is left alone.
pub fn clean_stale() -> Result<bool> {
    if State::read().is_some_and(State::keeper_alive) {
        return Ok(false);
    }
    let mut found = false;
    for dir in [PIN_DIR, STATE_DIR] {
        if Path::new(dir).exists() {
            found = true;
            std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {dir}"))?;
        }
    }
    Ok(found)
}

/// Whether a lab is up, for lab-clean's report.
pub fn live() -> Option<State> {
    State::read().filter(|state| state.keeper_alive())
}

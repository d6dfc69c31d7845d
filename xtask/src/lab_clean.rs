//! `cargo xtask lab-clean`: what killed test runs and demo labs left behind.

use anyhow::{Context, Result};

use crate::lab::state;

/// Deletes the lab namespaces that killed runs left behind, stops their test Docker engines
/// (putting back the firewall, sysctls and links captured before each started), and removes a
/// demo lab's files and pins if its keeper is gone. A demo lab that is up (also one kept with `--keep`) is left alone: its
/// keeper is alive, and so is the creator of its namespaces.
pub fn execute() -> Result<()> {
    let removed = scanguard_lab::remove_leftovers()
        .context("could not remove leftover lab namespaces (this needs root)")?;
    println!("[lab-clean] removed {removed} leftover lab namespace(s)");
    let engines = scanguard_lab::remove_leftover_engines()
        .context("could not stop a killed run's test Docker engine (this needs root)")?;
    println!("[lab-clean] stopped {engines} leftover test Docker engine(s)");
    if state::clean_stale()? {
        println!("[lab-clean] removed a killed demo lab's files and pins");
    }
    if let Some(kept) = state::live() {
        println!(
            "[lab-clean] left the demo lab of keeper pid {} up; `cargo xtask lab --down` removes it",
            kept.keeper_pid
        );
    }
    Ok(())
}

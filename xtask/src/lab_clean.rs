//! `cargo xtask lab-clean`: what killed test runs and demo labs left behind.

use anyhow::{Context, Result};

use crate::lab::state;

/// Deletes the lab namespaces that killed runs left behind, and a demo lab's files and pins if
/// its keeper is gone. A demo lab that is up (also one kept with `--keep`) is left alone: its
/// keeper is alive, and so is the creator of its namespaces.
pub fn execute() -> Result<()> {
    let removed = scanguard_lab::remove_leftovers()
        .context("could not remove leftover lab namespaces (this needs root)")?;
    println!("[lab-clean] removed {removed} leftover lab namespace(s)");
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

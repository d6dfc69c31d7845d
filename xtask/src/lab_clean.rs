use anyhow::{Context, Result};

/// Deletes the lab namespaces that killed runs left behind.
pub fn execute() -> Result<()> {
    let removed = scanguard_lab::remove_leftovers()
        .context("could not remove leftover lab namespaces (this needs root)")?;
    println!("[lab-clean] removed {removed} leftover lab namespace(s)");
    Ok(())
}

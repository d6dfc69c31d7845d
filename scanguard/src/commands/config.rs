//! `scanguard config check FILE`.

use std::path::Path;

use anyhow::Result;
use scanguard_common::kind::Kind;

use crate::config;

pub fn check(file: &Path) -> Result<()> {
    let settings = config::file::load(file)?;
    println!("{}: ok", file.display());
    println!(
        "ban: {} s, {}, capacity {}",
        settings.ban_seconds,
        settings.ban_mode.name(),
        settings.capacity
    );
    println!("watched ports: {:?}", settings.watched_ports);
    println!("trap ports: {:?}", settings.trap_ports);
    println!("protected ports: {:?}", settings.protected_ports);
    println!(
        "allow: {:?}",
        settings
            .allow
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    for kind in Kind::ALL {
        println!(
            "action: {} -> {}",
            kind.name(),
            settings.action(kind).name()
        );
    }
    Ok(())
}

//! The settings `attach` runs with: the config file, with the command line on top.

use std::path::Path;

use anyhow::{Result, bail};

use crate::{
    cli::AttachArgs,
    config::{self, paths::DEFAULT_CONFIG_FILE, settings::Settings},
};

/// The config file (explicit, or the default one if present) with the command line on top.
pub fn settings(args: &AttachArgs) -> Result<Settings> {
    let default_file = Path::new(DEFAULT_CONFIG_FILE);
    let mut settings = match &args.config {
        Some(path) => config::file::load(path)?,
        None if default_file.exists() => config::file::load(default_file)?,
        None => Settings::default(),
    };
    if let Some(seconds) = args.ban_seconds {
        if seconds == 0 {
            bail!("--ban-seconds must be at least 1");
        }
        settings.ban_seconds = seconds;
    }
    if let Some(mode) = &args.ban_mode {
        settings.ban_mode = config::file::parse_ban_mode(mode)
            .map_err(|problem| anyhow::anyhow!("--ban-mode: {problem}"))?;
    }
    if let Some(capacity) = args.capacity {
        settings.capacity = config::error::check_capacity("--capacity", capacity)?;
    }
    for net in &args.allow {
        settings.allow.push(
            config::file::parse_net(net)
                .map_err(|problem| anyhow::anyhow!("--allow: {problem}"))?,
        );
    }
    Ok(settings)
}

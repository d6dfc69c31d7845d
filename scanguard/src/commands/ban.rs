//! `scanguard ban ADDR [--for DURATION]`.

use std::time::Duration;

use anyhow::{Result, bail};
use scanguard_common::config::NANOS_PER_SECOND;

use crate::{bans, cli::BanArgs, pins::Pins};

pub fn execute(pins: &Pins, args: &BanArgs) -> Result<()> {
    let duration = match args.duration {
        Some(duration) if duration.is_zero() => bail!("--for must be longer than zero"),
        Some(duration) => duration,
        None => Duration::from_nanos(pins.config()?.ban_ns.max(NANOS_PER_SECOND)),
    };
    bans::ban(
        &mut pins.bans()?,
        &mut pins.ban_filter()?,
        args.address,
        duration,
    )?;
    println!(
        "banned {} for {}",
        args.address,
        humantime::format_duration(duration)
    );
    Ok(())
}

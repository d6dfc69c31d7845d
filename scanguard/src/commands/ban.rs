//! `scanguard ban ADDR [--for DURATION]`.

use std::{net::IpAddr, time::Duration};

use anyhow::{Result, bail};
use aya::maps::MapError;
use ipnet::IpNet;
use scanguard_common::{
    allow::{ALLOW_LISTED, ALLOW_LOCKOUT},
    config::NANOS_PER_SECOND,
};

use crate::{
    bpf::{bans, pins::Pins, program::allow_key},
    cli::BanArgs,
};

pub fn execute(pins: &Pins, args: &BanArgs) -> Result<()> {
    let address = args.address;
    // The program drops a banned source before it asks the allow-list, so it is asked here.
    match allowance(pins, address)? {
        Some(ALLOW_LISTED) => bail!(
            "{address} is on the allow-list, whose sources are never banned; take it off (`allow` in the config, `--allow`) first"
        ),
        Some(ALLOW_LOCKOUT) if !args.force => bail!(
            "{address} is protected from lock-out (this host, a gateway or the SSH client); `--force` bans it anyway"
        ),
        _ => {}
    }
    let duration = match args.duration {
        Some(duration) if duration.is_zero() => bail!("--for must be longer than zero"),
        Some(duration) => duration,
        None => Duration::from_nanos(pins.config()?.ban_ns.max(NANOS_PER_SECOND)),
    };
    bans::ban(
        &mut pins.bans()?,
        &mut pins.ban_filter()?,
        address,
        duration,
    )?;
    println!(
        "banned {address} for {}",
        humantime::format_duration(duration)
    );
    Ok(())
}

/// The allow-list's value for `address` (`ALLOW_LISTED`, `ALLOW_LOCKOUT`), if it is on it.
fn allowance(pins: &Pins, address: IpAddr) -> Result<Option<u8>> {
    match pins.allow()?.get(&allow_key(&IpNet::from(address)), 0) {
        Ok(value) => Ok(Some(value)),
        Err(MapError::KeyNotFound) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

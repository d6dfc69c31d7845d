//! `scanguard unban`.

use anyhow::Result;
use ipnet::IpNet;

use crate::{
    bpf::{bans, pins::Pins},
    cli::UnbanArgs,
};

/// Lifting a ban by hand also forgives: the source's next ban is a first offence again.
pub fn execute(pins: &Pins, args: &UnbanArgs) -> Result<()> {
    let mut map = pins.bans()?;
    let mut offenders = pins.offenders()?;
    // The program caches verdicts for up to a tick: this ends them once the bans are gone.
    let mut epoch = pins.ban_epoch()?;
    if args.all {
        bans::clear(&mut offenders)?;
        let cleared = bans::clear(&mut map)?;
        epoch.touch()?;
        println!("unbanned {}", sources(cleared));
        return Ok(());
    }
    for net in &args.addresses {
        if is_one_address(net) {
            let address = net.addr();
            bans::forgive(&mut offenders, address)?;
            if bans::unban(&mut map, address)? {
                epoch.touch()?;
                println!("unbanned {address}");
            } else {
                println!("{address} was not banned");
            }
            continue;
        }
        for address in bans::addresses_in(&offenders, *net)? {
            bans::forgive(&mut offenders, address)?;
        }
        let mut unbanned = 0;
        for address in bans::addresses_in(&map, *net)? {
            if bans::unban(&mut map, address)? {
                unbanned += 1;
            }
        }
        if unbanned > 0 {
            epoch.touch()?;
        }
        println!("unbanned {} in {}", sources(unbanned), net.trunc());
    }
    Ok(())
}

/// An address, or a network of one address (/32, /128).
fn is_one_address(net: &IpNet) -> bool {
    net.prefix_len() == net.max_prefix_len()
}

fn sources(count: usize) -> String {
    match count {
        1 => "1 source".to_string(),
        _ => format!("{count} sources"),
    }
}

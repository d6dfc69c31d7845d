//! `scanguard unban`.

use anyhow::Result;

use crate::{bans, cli::UnbanArgs, pins::Pins};

/// Lifting a ban by hand also forgives: the source's next ban is a first offence again.
pub fn execute(pins: &Pins, args: &UnbanArgs) -> Result<()> {
    let mut map = pins.bans()?;
    let mut offenders = pins.offenders()?;
    // The program caches verdicts for up to a tick: this ends them once the bans are gone.
    let mut filter = pins.ban_filter()?;
    if args.all {
        bans::clear(&mut offenders)?;
        let cleared = bans::clear(&mut map)?;
        filter.touch()?;
        println!("unbanned {cleared} sources");
        return Ok(());
    }
    for address in &args.addresses {
        bans::forgive(&mut offenders, *address)?;
        if bans::unban(&mut map, *address)? {
            filter.touch()?;
            println!("unbanned {address}");
        } else {
            println!("{address} was not banned");
        }
    }
    Ok(())
}

//! `scanguard unban`.

use anyhow::Result;

use crate::{bans, cli::UnbanArgs, pins::Pins};

/// Lifting a ban by hand also forgives: the source's next ban is a first offence again.
pub fn execute(pins: &Pins, args: &UnbanArgs) -> Result<()> {
    let mut map = pins.bans()?;
    let mut offenders = pins.offenders()?;
    if args.all {
        bans::clear(&mut offenders)?;
        println!("unbanned {} sources", bans::clear(&mut map)?);
        return Ok(());
    }
    for address in &args.addresses {
        bans::forgive(&mut offenders, *address)?;
        if bans::unban(&mut map, *address)? {
            println!("unbanned {address}");
        } else {
            println!("{address} was not banned");
        }
    }
    Ok(())
}

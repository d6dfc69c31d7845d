//! `scanguard unban`.

use anyhow::Result;

use crate::{bans, cli::UnbanArgs, pins::Pins};

pub fn execute(pins: &Pins, args: &UnbanArgs) -> Result<()> {
    let mut map = pins.bans()?;
    if args.all {
        println!("unbanned {} sources", bans::unban_all(&mut map)?);
        return Ok(());
    }
    for address in &args.addresses {
        if bans::unban(&mut map, *address)? {
            println!("unbanned {address}");
        } else {
            println!("{address} was not banned");
        }
    }
    Ok(())
}

//! `scanguard unban`.

use std::net::IpAddr;

use anyhow::{Result, bail};
use ipnet::IpNet;

use crate::{
    bpf::{bans, clock, pins::Pins},
    cli::UnbanArgs,
    crowdsec::{
        book::is_address,
        maps::{Entry, Maps},
    },
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
    let decisions = Maps::open(pins)?;
    let now = clock::boot_ns();
    let mut managed = Vec::new();
    for net in &args.addresses {
        if is_one_address(net) {
            let address = net.addr();
            bans::forgive(&mut offenders, address)?;
            let decided = decisions.covering(address, now)?;
            if bans::unban(&mut map, address)? {
                epoch.touch()?;
                println!("unbanned {address}");
            } else if decided.is_none() {
                println!("{address} was not banned");
            }
            managed.extend(decided.map(|entry| lapi_managed(address, &entry)));
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
    if !managed.is_empty() {
        bail!("{}", managed.join("; "));
    }
    Ok(())
}

/// What to say of an address a CrowdSec decision bans: the LAPI manages it, and would put it
/// back at the next pull.
fn lapi_managed(address: IpAddr, entry: &Entry) -> String {
    let (delete, covered) = match is_address(&entry.net) {
        true => (format!("--ip {address}"), String::new()),
        false => (
            format!("--range {}", entry.net),
            format!(" through {}", entry.net),
        ),
    };
    format!(
        "{address} is banned{covered} by a CrowdSec decision (origin {}, scenario {:?}), which \
         the LAPI manages: lift it there with `cscli decisions delete {delete}`",
        entry.origin, entry.scenario
    )
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

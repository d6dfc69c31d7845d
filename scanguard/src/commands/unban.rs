//! `scanguard unban`.

use std::net::IpAddr;

use anyhow::{Result, bail};
use ipnet::IpNet;

use crate::{
    bpf::{bans, clock, pins::Pins},
    cli::{Cli, UnbanArgs},
    crowdsec::{
        book::is_address,
        maps::{Entry, Maps},
    },
    daemon::saved_bans::store::{self, Lift},
};

/// Lifting a ban by hand also forgives: the source's next ban is a first offence again. The
/// saved bans lose it too, so it does not come back with the next `attach`: a running daemon
/// would drop it at its next save, but a stopped one saves no more.
pub fn execute(cli: &Cli, args: &UnbanArgs) -> Result<()> {
    let lift = match args.all {
        true => Lift::All,
        false => Lift::Inside(&args.addresses),
    };
    match Pins::open(&cli.pin_dir) {
        Ok(pins) => {
            // The saved bans lose what was lifted even when a decision of the LAPI still
            // covers an address (which `unban_pinned` reports as an error).
            let unbanned = unban_pinned(&pins, args);
            store::forget(&cli.state_dir, lift)?;
            unbanned
        }
        // Nothing is enforcing (after a reboot before the service started, or once a daemon
        // without `--persist` stopped): only the saved bans are left to lift.
        Err(_) if store::path(&cli.state_dir).exists() => {
            let counts = store::forget(&cli.state_dir, lift)?;
            if args.all {
                println!("unbanned {}", sources(counts.iter().sum()));
            }
            for (net, count) in args.addresses.iter().zip(counts) {
                match (is_one_address(net), count) {
                    (true, 0) => println!("{} was not banned", net.addr()),
                    (true, _) => println!("unbanned {}", net.addr()),
                    (false, _) => println!("unbanned {} in {}", sources(count), net.trunc()),
                }
            }
            println!("(scanguard is not running: the saved bans were changed)");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

fn unban_pinned(pins: &Pins, args: &UnbanArgs) -> Result<()> {
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

//! `scanguard status`: what is attached where, the configuration in force, map fill levels.

use anyhow::Result;
use aya::maps::MapData;
use scanguard_common::{action::Action, ban::BANS_MAP, kind::Kind};
use serde::Serialize;

use crate::{
    cli::Cli,
    daemon_status::{self, AttachedInterface},
    interfaces,
    pins::Pins,
};

#[derive(Serialize)]
struct Status {
    daemon_pid: Option<u32>,
    persisted: bool,
    interfaces: Vec<AttachedInterface>,
    ban_seconds: u64,
    ban_mode: &'static str,
    actions: Vec<(&'static str, &'static str)>,
    bans: usize,
    ban_capacity: u32,
}

pub async fn execute(cli: &Cli, json: bool) -> Result<()> {
    let pins = Pins::open(&cli.pin_dir)?;
    let daemon = daemon_status::read(&cli.run_dir);
    let persisted_links = pins.persisted_links();
    let interfaces = match &daemon {
        Some(daemon) => daemon.interfaces.clone(),
        None => persisted_interfaces(&persisted_links).await,
    };
    let config = pins.config()?;
    let ban_capacity = MapData::from_pin(pins.dir().join(BANS_MAP))?
        .info()?
        .max_entries();
    let status = Status {
        daemon_pid: daemon.as_ref().map(|daemon| daemon.pid),
        persisted: !persisted_links.is_empty(),
        interfaces,
        ban_seconds: config.ban_ns / scanguard_common::config::NANOS_PER_SECOND,
        ban_mode: config.ban_mode().name(),
        actions: Kind::ALL
            .into_iter()
            .map(|kind| (kind.name(), config.action(kind).name()))
            .collect(),
        bans: pins.bans()?.keys().count(),
        ban_capacity,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_text(&status);
    }
    Ok(())
}

/// Interfaces of a persisted scanguard with no daemon, as netlink reports them now.
async fn persisted_interfaces(names: &[String]) -> Vec<AttachedInterface> {
    let mut attached = Vec::new();
    for name in names {
        let Ok(ifindex) = interfaces::ifindex(name) else {
            continue;
        };
        if let Ok(Some(attachment)) = interfaces::xdp_attachment(ifindex).await {
            attached.push(AttachedInterface {
                name: name.clone(),
                ifindex,
                mode: attachment.mode.name().to_string(),
            });
        }
    }
    attached
}

fn print_text(status: &Status) {
    match status.daemon_pid {
        Some(pid) => println!("daemon: running (pid {pid})"),
        None if status.persisted => println!("daemon: not running; persisted program enforcing"),
        None => println!("daemon: not running"),
    }
    for interface in &status.interfaces {
        println!("interface: {} ({} mode)", interface.name, interface.mode);
    }
    println!("ban: {} s, {}", status.ban_seconds, status.ban_mode);
    for (kind, action) in &status.actions {
        if *action != Action::Ignore.name() {
            println!("action: {kind} -> {action}");
        }
    }
    println!("bans: {} of {}", status.bans, status.ban_capacity);
}

//! What the daemon finds on this host that adds to its settings.

use std::{collections::BTreeSet, net::IpAddr};

use anyhow::Result;
use log::info;

use crate::{
    bpf::program::HostFacts,
    config::settings::Settings,
    host::{
        lockout, served,
        sockets::{self, Scope},
    },
};

/// What this host adds to `settings` now: the ports its services listen on, and with lock-out
/// protection its addresses, gateways and SSH client.
pub fn host_facts(settings: &Settings) -> Result<HostFacts> {
    Ok(HostFacts {
        served: served_ports()?,
        protected: protected_addresses(settings),
    })
}

pub fn served_ports() -> Result<BTreeSet<u16>> {
    Ok(served::ports(&sockets::read(Scope::Serving)?))
}

/// None without lock-out protection.
pub fn protected_addresses(settings: &Settings) -> Vec<IpAddr> {
    match settings.lockout_protection {
        true => lockout::protected_addresses(),
        false => Vec::new(),
    }
}

pub fn log_host_facts(host: &HostFacts, settings: &Settings) {
    if settings.lockout_protection {
        info!(
            "lock-out protection: never banning {} addresses of this host, its gateways and SSH client",
            host.protected.len()
        );
    }
    info!(
        "ports with a local service, not counted toward sweeps: {:?}",
        host.served
    );
}

//! What the daemon finds on this host that adds to its settings.

use std::{collections::BTreeSet, net::IpAddr};

use anyhow::{Result, bail};
use log::info;

use crate::{
    bpf::program::HostFacts,
    config::settings::Settings,
    daemon::source_check::lookups,
    host::{
        lockout, sctp, served,
        sockets::{self, Scope},
    },
};

/// What this host adds to `settings` now: the ports its services listen on, and with lock-out
/// protection its addresses, gateways and SSH client.
pub fn host_facts(settings: &Settings) -> Result<HostFacts> {
    Ok(HostFacts {
        served: served_ports()?,
        protected: protected_addresses(settings),
        source_lookups: source_lookups(settings)?,
    })
}

/// Whether the program verifies sources: with `verify_source`, loopback must take its route
/// lookups, and a daemon that cannot have that refuses to start (or to reload) rather than ban
/// nobody, or anybody.
pub fn source_lookups(settings: &Settings) -> Result<bool> {
    if !settings.verify_source {
        return Ok(false);
    }
    if lookups::enabled() || lookups::enable() {
        return Ok(true);
    }
    bail!(
        "verify_source needs forwarding enabled on loopback, for route lookups only (see \
         docs/spoofing.md), and it cannot be enabled here; `verify_source = false` bans without \
         verifying sources"
    )
}

/// At each look at the host: another tool may have turned loopback forwarding off again
/// (`sysctl -w net.ipv4.ip_forward=0` sets every device). Until it is on, the program finds
/// every source unverified and bans nobody.
pub fn keep_source_lookups(settings: &Settings) -> bool {
    if settings.verify_source && !lookups::enabled() {
        lookups::enable();
    }
    settings.verify_source
}

/// The ports TCP, UDP and SCTP services listen on. One set for all three: a client's probe of
/// a port another protocol serves does not count toward sweeps either, which errs on the side
/// of the client.
pub fn served_ports() -> Result<BTreeSet<u16>> {
    let mut ports = served::ports(&sockets::read(Scope::Serving)?);
    ports.extend(sctp::listening_ports()?);
    Ok(ports)
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

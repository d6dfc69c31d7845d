//! What the daemon finds on this host that adds to its settings.

use log::info;

use crate::{lockout, program::HostFacts, served, settings::Settings, sockets::Socket};

/// What this host adds to `settings`, read now: at attach, and again at each reload.
pub fn host_facts(settings: &Settings, sockets: &[Socket]) -> HostFacts {
    let host = HostFacts {
        served: served::ports(sockets),
        protected: match settings.lockout_protection {
            true => lockout::protected_addresses(),
            false => Vec::new(),
        },
    };
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
    host
}

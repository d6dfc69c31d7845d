//! The settings of a running daemon, kept current: SIGHUP reads the configuration again, as
//! `fail2ban-client reload` does, and each sweep looks at the host again (its addresses and
//! routes only when the kernel reported a change), so a laptop that joins another network
//! protects its new gateway and addresses from lock-out, and a service started later is not
//! counted toward sweeps. Bans, flows and attachments stay; so do the map sizes, which are
//! fixed when the program loads.

use std::sync::{Arc, PoisonError, RwLock};

use aya::Ebpf;
use log::{debug, info, warn};

use super::command_line::settings;
use crate::{
    bpf::program::{self, HostFacts, StoreError},
    cli::AttachArgs,
    config::settings::Settings,
    daemon::host_facts::{
        host_facts, keep_source_lookups, log_host_facts, protected_addresses, served_ports,
    },
    events::PortNames,
    host::network_changes::NetworkChanges,
};

/// The settings in force in a running daemon, and what they were built from.
pub struct Configured<'a> {
    pub args: &'a AttachArgs,
    pub settings: Settings,
    /// As last found: stored in the program, unless storing failed (with a warning).
    pub host: HostFacts,
    /// Subscribed before `host` was found.
    pub network: NetworkChanges,
    /// The trap ports' names, which the event reader prints.
    pub port_names: Arc<RwLock<PortNames>>,
}

impl Configured<'_> {
    /// Stores the settings the config file and the command line give now; a file that does
    /// not load leaves the settings in force.
    pub fn reload(&mut self, ebpf: &mut Ebpf) {
        match self.store_reloaded(ebpf) {
            Ok(()) => info!("configuration reloaded"),
            Err(StoreError::Refused(error)) => {
                warn!("configuration not reloaded, the one in force stays: {error:#}")
            }
            Err(StoreError::WriteFailed(error)) => warn!(
                "configuration reloaded only in part, the program may run on a mix of the old \
                 and the new until a reload succeeds: {error:#}"
            ),
        }
    }

    fn store_reloaded(&mut self, ebpf: &mut Ebpf) -> Result<(), StoreError> {
        let mut settings = settings(self.args).map_err(StoreError::Refused)?;
        let sizes = |settings: &Settings| (settings.capacity, settings.flow_capacity);
        if sizes(&settings) != sizes(&self.settings) {
            warn!("new map capacities take effect at the next attach, not at a reload");
            settings.capacity = self.settings.capacity;
            settings.flow_capacity = self.settings.flow_capacity;
        }
        if settings.crowdsec != self.settings.crowdsec {
            warn!("[crowdsec] changes take effect at the next attach, not at a reload");
            settings.crowdsec = self.settings.crowdsec.clone();
        }
        let host = host_facts(&settings).map_err(StoreError::Refused)?;
        program::store_settings(ebpf, &settings, &host)?;
        log_host_facts(&host, &settings);
        *self
            .port_names
            .write()
            .unwrap_or_else(PoisonError::into_inner) = settings.trap_ports.clone();
        self.settings = settings;
        self.host = host;
        Ok(())
    }

    /// Stores the settings again if what the host adds to them changed: the served ports at
    /// every call, the protected addresses when the kernel reported a change. A failure is a
    /// warning, not the daemon's end: sockets that cannot be read leave the settings as they
    /// are, and settings that cannot be stored are tried again when the host changes again.
    pub fn follow_host(&mut self, ebpf: &mut Ebpf) {
        let served = match served_ports() {
            Ok(served) => served,
            Err(error) => {
                warn!("not following this host's services this time: {error:#}");
                return;
            }
        };
        let protected = match self.network.take() {
            true => protected_addresses(&self.settings),
            false => self.host.protected.clone(),
        };
        let host = HostFacts {
            served,
            protected,
            source_lookups: keep_source_lookups(&self.settings),
        };
        if host == self.host {
            return;
        }
        if let Err(error) = program::store_settings(ebpf, &self.settings, &host) {
            let stored = match error {
                StoreError::Refused(_) => "were not stored",
                StoreError::WriteFailed(_) => "were stored only in part",
            };
            warn!("this host changed, but the settings that follow from it {stored}: {error:#}");
        } else if host.protected != self.host.protected {
            // Lock-out protection follows a new network at once; services come and go often.
            info!("this host's addresses or gateways changed");
            log_host_facts(&host, &self.settings);
        } else {
            debug!("ports with a local service now: {:?}", host.served);
        }
        self.host = host;
    }
}

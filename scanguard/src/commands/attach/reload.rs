//! SIGHUP: the daemon reads its configuration again and stores it in the running program, as
//! `fail2ban-client reload` does. Bans, flows and attachments stay; so do the map sizes, which
//! are fixed when the program loads.

use std::sync::{PoisonError, RwLock};

use anyhow::Result;
use aya::Ebpf;
use log::{info, warn};

use super::{host::host_facts, settings::settings};
use crate::{cli::AttachArgs, events::PortNames, program, settings::Settings, sockets};

/// Stores the settings the config file and `args` give now in place of `running`; a file
/// that does not load leaves `running` in force.
pub fn reload(
    ebpf: &mut Ebpf,
    args: &AttachArgs,
    running: &mut Settings,
    port_names: &RwLock<PortNames>,
) {
    match store(ebpf, args, running) {
        Ok(settings) => {
            *port_names.write().unwrap_or_else(PoisonError::into_inner) =
                settings.trap_ports.clone();
            *running = settings;
            info!("configuration reloaded");
        }
        Err(error) => warn!("configuration not reloaded, the one in force stays: {error:#}"),
    }
}

fn store(ebpf: &mut Ebpf, args: &AttachArgs, running: &Settings) -> Result<Settings> {
    let mut settings = settings(args)?;
    if (settings.capacity, settings.flow_capacity) != (running.capacity, running.flow_capacity) {
        warn!("new map capacities take effect at the next attach, not at a reload");
        settings.capacity = running.capacity;
        settings.flow_capacity = running.flow_capacity;
    }
    program::store_settings(ebpf, &settings, &host_facts(&settings, &sockets::read()))?;
    Ok(settings)
}

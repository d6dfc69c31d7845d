//! A persisted scanguard as `attach` found it. A run that adopts it shares its maps: the run
//! stores its own settings in them as it loads, and points the persisted links at its own
//! programs as it attaches, and with `--persist` pins links of its own. If the run fails
//! before it is set up, [`Persisted::restore`] puts the settings and programs back and unpins
//! the links it added, so the persisted program goes on enforcing exactly as it was.

use std::{
    os::fd::AsFd as _,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use aya::{
    maps::lpm_trie::Key,
    programs::{
        ProgramFd,
        links::{FdLink, PinnedLink},
        loaded_programs,
    },
};
use scanguard_common::{addr::AddrKey, config::Config, ports::PortRoles};

use crate::bpf::{
    pins::{LinkKind, Pins, link_pin},
    program, sys,
};

pub struct Persisted {
    config: Config,
    port_roles: Box<PortRoles>,
    allow: Vec<(Key<AddrKey>, u8)>,
    /// The interfaces it enforces on.
    interfaces: Vec<String>,
    /// Each pinned link, and the program it ran.
    links: Vec<(PathBuf, ProgramFd)>,
}

impl Persisted {
    /// The persisted scanguard pinned in `pin_dir`, if there is one.
    pub fn find(pin_dir: &Path) -> Result<Option<Persisted>> {
        let Ok(pins) = Pins::open(pin_dir) else {
            return Ok(None);
        };
        let interfaces = pins.persisted_links();
        if interfaces.is_empty() {
            return Ok(None);
        }
        let mut links = Vec::new();
        for interface in &interfaces {
            for kind in LinkKind::ALL {
                let pin = link_pin(pin_dir, kind, interface);
                if pin.exists() {
                    let program = program_of(&pin)?;
                    links.push((pin, program));
                }
            }
        }
        Ok(Some(Persisted {
            config: pins.config()?,
            port_roles: Box::new(pins.port_roles()?.get(&0, 0)?),
            allow: pins.allow_entries()?,
            interfaces,
            links,
        }))
    }

    /// Detaches the links pinned since, stores the settings found back in the maps, and points
    /// each link found back at its program.
    pub fn restore(&self, pin_dir: &Path) -> Result<()> {
        let pins = Pins::open(pin_dir)?;
        for interface in pins.persisted_links() {
            if !self.interfaces.contains(&interface) {
                pins.detach(&interface)?;
            }
        }
        pins.config_array()?.set(0, self.config, 0)?;
        pins.port_roles()?.set(0, *self.port_roles, 0)?;
        program::replace_allow(&mut pins.allow()?, &self.allow)?;
        for (pin, program) in &self.links {
            let link = sys::open_pinned(pin)?;
            sys::link_update(link.as_fd(), program.as_fd())
                .with_context(|| format!("cannot restore the program of {}", pin.display()))?;
        }
        Ok(())
    }
}

/// The program the link pinned at `pin` runs, held open so it outlives a switch to another.
fn program_of(pin: &Path) -> Result<ProgramFd> {
    let link: FdLink = PinnedLink::from_pin(pin)
        .with_context(|| format!("cannot open the pinned link {}", pin.display()))?
        .into();
    let id = link.info()?.program_id();
    loaded_programs()
        .filter_map(Result::ok)
        .find(|program| program.id() == id)
        .with_context(|| format!("program {id} of {} is gone", pin.display()))?
        .fd()
        .with_context(|| format!("cannot open program {id}"))
}

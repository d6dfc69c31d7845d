//! scanguard in a CrowdSec fleet: a bouncer of the Local API (LAPI), whose decisions the
//! program enforces from maps of their own (`stream`, `book`, `maps`), and optionally a signal
//! source that pushes scanguard's own bans to the LAPI as alerts (`alerts`).
//!
//! Between `commands` and `daemon` above and `bpf` and `config` below: `attach` starts it,
//! `bans`, `stats`, `unban` and the metrics read its maps.

pub mod alerts;
pub mod book;
pub mod client;
pub mod maps;
pub mod stream;

use std::time::Duration;

use anyhow::Result;
use log::info;

use self::{
    book::{Capacity, Plan, State},
    maps::Maps,
    stream::Bouncer,
};
use crate::{bpf::pins::Pins, config::crowdsec::CrowdSec};

/// Starts the bouncer of a daemon whose maps are `pins`, and the alert pusher when a machine
/// login is set (its queue is returned, for the event loop to offer bans to). Without a LAPI,
/// decisions an earlier run left in adopted maps are removed.
pub fn start(crowdsec: &CrowdSec, pins: &Pins, ban_seconds: u64) -> Result<Option<alerts::Queue>> {
    let mut maps = Maps::open(pins)?;
    let (addresses, ranges) = maps.capacity()?;
    let capacity = Capacity { addresses, ranges };
    let mut state = State::new(capacity, maps.labels()?);
    let adopted = maps.entries()?;
    let Some(lapi) = &crowdsec.lapi else {
        if !adopted.is_empty() {
            info!(
                "crowdsec: removing {} decisions left by an earlier run: no LAPI is configured",
                adopted.len()
            );
        }
        let plan = Plan {
            put: Vec::new(),
            remove: adopted.into_iter().map(|(net, _)| net).collect(),
        };
        maps.write(&plan, &[], std::iter::empty())?;
        return Ok(None);
    };
    // Adopted from a persisted program: enforced as they are until the first full pull.
    state.seed(adopted);
    maps.write(&Plan::default(), &[], state.applied())?;
    info!(
        "crowdsec: pulling decisions from the LAPI at {} every {:?}",
        lapi.base_url, lapi.update_frequency
    );
    tokio::spawn(Bouncer::new(lapi.clone(), state, maps).run());
    lapi.machine
        .clone()
        .map(|machine| {
            info!(
                "crowdsec: pushing bans to the LAPI as machine {}",
                machine.login
            );
            alerts::start(lapi, machine, pins, Duration::from_secs(ban_seconds))
        })
        .transpose()
}

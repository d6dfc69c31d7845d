//! The program's `BRIDGE_PORTS` map: which bridge each attached port belongs to. The route to a
//! container names its bridge, while its frames come in on its port; without the port's entry
//! the program finds them forged (dropped, never banned).

use std::os::fd::AsFd as _;

use anyhow::{Context as _, Result, bail};
use aya::{
    Ebpf,
    maps::{HashMap, Map, MapData},
};
use log::warn;
use scanguard_common::source_check::BRIDGE_PORTS_MAP;

use crate::host::links::Link;

/// A handle of its own on the map, for whichever task attaches ports.
pub struct BridgePorts(HashMap<MapData, u32, u32>);

impl BridgePorts {
    pub fn of(ebpf: &Ebpf) -> Result<BridgePorts> {
        let Some(Map::HashMap(data)) = ebpf.map(BRIDGE_PORTS_MAP) else {
            bail!("the embedded object has no {BRIDGE_PORTS_MAP} hash map");
        };
        let fd = data.fd().as_fd().try_clone_to_owned()?;
        let map = Map::HashMap(MapData::from_fd(fd)?);
        Ok(BridgePorts(HashMap::try_from(map)?))
    }

    /// Records an attached link's master, if it has one.
    pub fn attached(&mut self, link: &Link) {
        let Some(master) = link.master else {
            return;
        };
        if let Err(error) = self.0.insert(link.ifindex, master, 0) {
            warn!(
                "{}: cannot tell the program it is a port of ifindex {master} ({error}); probes \
                 coming in on it ban nobody",
                link.name
            );
        }
    }

    /// Forgets a link let go of.
    pub fn released(&mut self, ifindex: u32) {
        // Absent for a link without a master.
        let _ = self.0.remove(&ifindex);
    }

    /// Records every one of `attached` (ifindexes) that `links` shows with a master.
    pub fn record(
        &mut self,
        links: &[Link],
        attached: impl IntoIterator<Item = u32>,
    ) -> Result<()> {
        for ifindex in attached {
            let link = links
                .iter()
                .find(|link| link.ifindex == ifindex)
                .with_context(|| format!("no link has ifindex {ifindex}"))?;
            self.attached(link);
        }
        Ok(())
    }

    /// Every port the program knows of, with its master.
    pub fn entries(&self) -> Result<Vec<(u32, u32)>> {
        Ok(self.0.iter().collect::<Result<_, _>>()?)
    }
}

//! The program's `NEIGHBOURS` map: the neighbour table as this daemon reads it, with when each
//! address last changed its MAC (see `scanguard_common::source_check::NEIGHBOURS_MAP`). Dumped
//! at start, then kept current from RTNLGRP_NEIGH, and dumped again when messages were lost.
//!
//! The program compares a verified route's next hop with it: a MAC the daemon has not caught
//! up with yet, or one that changed within the last minute, vouches for no one. The order
//! suits the race: a neighbour solicitation that overwrites an entry reaches the kernel before
//! the notification reaches this daemon, so a probe right behind it finds the old MAC here.

use std::{net::IpAddr, os::fd::AsFd as _};

use anyhow::{Result, bail};
use aya::{
    Ebpf,
    maps::{HashMap, Map, MapData},
};
use futures::TryStreamExt as _;
use log::warn;
use rtnetlink::{
    MulticastGroup,
    packet_core::NetlinkPayload,
    packet_route::{
        RouteNetlinkMessage,
        neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage},
    },
};
use scanguard_common::{
    addr::AddrKey,
    source_check::{NEIGHBOURS_MAP, Neighbour, mac_word},
};
use tokio::task::JoinHandle;

use crate::{
    bpf::clock::boot_ns,
    host::netlink_events::{Groups, Subscription},
};

const NEIGHBOUR_EVENTS: Groups = Groups {
    multicast: &[MulticastGroup::Neigh],
    filter: None,
};

/// Keeps the map current until dropped.
pub struct Mirroring(JoinHandle<()>);

impl Drop for Mirroring {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Fills the map from the neighbour table and follows it in a task of its own. Subscribes
/// before the dump, so a change in between arrives as an event.
pub async fn mirror(ebpf: &Ebpf) -> Result<Mirroring> {
    let Some(Map::LruHashMap(data)) = ebpf.map(NEIGHBOURS_MAP) else {
        bail!("the embedded object has no {NEIGHBOURS_MAP} LRU hash map");
    };
    let fd = data.fd().as_fd().try_clone_to_owned()?;
    let mut map: HashMap<MapData, AddrKey, Neighbour> =
        HashMap::try_from(Map::LruHashMap(MapData::from_fd(fd)?))?;
    let mut subscription = Subscription::open(NEIGHBOUR_EVENTS)?;
    dump(&mut map).await?;
    Ok(Mirroring(tokio::spawn(async move {
        loop {
            let resync = match subscription.next().await {
                Some(message) => match message.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(message)) => {
                        record(&mut map, &message);
                        false
                    }
                    NetlinkPayload::Overrun(_) => true,
                    _ => false,
                },
                None => true,
            };
            if resync && let Err(error) = dump(&mut map).await {
                warn!("cannot read the neighbour table again: {error:#}");
            }
        }
    })))
}

async fn dump(map: &mut HashMap<MapData, AddrKey, Neighbour>) -> Result<()> {
    let (connection, handle, _) = rtnetlink::new_connection()?;
    let connection = tokio::spawn(connection);
    let result = handle
        .neighbours()
        .get()
        .execute()
        .try_for_each(|message| {
            record(map, &message);
            futures::future::ready(Ok(()))
        })
        .await;
    connection.abort();
    Ok(result?)
}

/// Records what one RTM_NEWNEIGH says; entries without a MAC (being resolved, failed) say
/// nothing about who holds the address.
fn record(map: &mut HashMap<MapData, AddrKey, Neighbour>, message: &NeighbourMessage) {
    let Some((address, mac)) = entry(message) else {
        return;
    };
    let key = AddrKey::from(address);
    let previous = map.get(&key, 0).ok();
    let seen = Neighbour::seen(previous, mac, boot_ns());
    if previous != Some(seen)
        && let Err(error) = map.insert(key, seen, 0)
    {
        warn!("cannot record the neighbour {address}: {error}");
    }
}

/// The address and MAC of an Ethernet neighbour entry.
pub fn entry(message: &NeighbourMessage) -> Option<(IpAddr, u64)> {
    let mut address = None;
    let mut mac = None;
    for attribute in &message.attributes {
        match attribute {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                address = Some(IpAddr::from(*v4));
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                address = Some(IpAddr::from(*v6));
            }
            NeighbourAttribute::LinkLayerAddress(bytes) => {
                mac = <[u8; 6]>::try_from(bytes.as_slice()).ok().map(mac_word);
            }
            _ => {}
        }
    }
    address.zip(mac)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    #[test]
    fn an_entry_gives_its_address_and_mac() {
        let mut message = NeighbourMessage::default();
        message.attributes = vec![
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(Ipv6Addr::new(
                0xfd77, 0, 0, 0, 0, 0, 0, 3,
            ))),
            NeighbourAttribute::LinkLayerAddress(vec![2, 0x77, 0, 0, 0, 3]),
        ];
        assert_eq!(
            entry(&message),
            Some(("fd77::3".parse().unwrap(), mac_word([2, 0x77, 0, 0, 0, 3])))
        );
        message.attributes.pop();
        assert_eq!(entry(&message), None, "an entry being resolved has no MAC");
    }
}

//! Following the ports of attached bridges: a port that appears (a container started on a
//! Docker network) is attached within moments, one that leaves the bridge or disappears is
//! forgotten, and the status file says so. Driven by rtnetlink link events (RTNLGRP_LINK),
//! with a comparison against a fresh dump when events were lost, and every 30 seconds. The
//! new veths of a followed `--container` that starts again come from the engine's events
//! (`containers`), and are attached and forgotten the same way.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use anyhow::Result;
use aya::Ebpf;
use log::{debug, info, warn};
use rtnetlink::{
    MulticastGroup,
    packet_core::{NetlinkMessage, NetlinkPayload},
    packet_route::{AddressFamily, RouteNetlinkMessage},
};
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{
    bpf::program::{self, Handles},
    daemon::{
        attachment::{self, AttachOptions, Links},
        containers::{self, Started},
        source_check::bridge_ports::BridgePorts,
        status_file::{AttachedInterface, FollowedBridge, StatusFile},
        targets::{self, Targets},
    },
    host::{
        interfaces,
        links::{self, Link},
        netlink_events::{Groups, Subscription},
    },
};

/// A full socket buffer drops messages and says so, which starts a resync at once; the periodic
/// one is a backstop.
const RESYNC_INTERVAL: Duration = Duration::from_secs(30);

const LINK_EVENTS: Groups = Groups {
    multicast: &[MulticastGroup::Link],
    filter: None,
};

pub struct Follower {
    /// Handles of its own on the daemon's programs, so it attaches while `enforce` holds the
    /// `Ebpf`; the links of the ports belong to them.
    programs: Handles,
    options: AttachOptions,
    /// Bridges whose ports are followed: ifindex → name.
    bridges: BTreeMap<u32, String>,
    /// Interfaces attached at start that are not followed ports.
    fixed: Vec<AttachedInterface>,
    ports: BTreeMap<u32, Port>,
    /// Ports that could not be attached (another tool's program, say): warned about once.
    refused: BTreeSet<u32>,
    subscription: Subscription,
    /// Tells the program which bridge each attached port is a port of.
    bridge_ports: BridgePorts,
    /// The veths of followed containers as they start, when there are any.
    container_starts: Option<mpsc::Receiver<Started>>,
}

struct Port {
    entry: AttachedInterface,
    /// None when the links are pinned (`--persist`).
    links: Option<Links>,
    /// The followed container whose veth this is, on whatever bridge; None for the port of a
    /// followed bridge.
    container: Option<String>,
}

impl Follower {
    /// Attaches the bridges' current ports (any failure is fatal here, as for named
    /// interfaces) and is then ready to follow. Subscribes before listing, so a port that
    /// appears in between arrives as an event.
    pub async fn start(
        ebpf: &mut Ebpf,
        targets: &Targets,
        fixed: &[AttachedInterface],
        options: AttachOptions,
    ) -> Result<Follower> {
        let subscription = Subscription::open(LINK_EVENTS)?;
        let mut follower = Follower {
            programs: program::second_handles(ebpf, &options.pin_dir)?,
            options,
            bridges: targets.bridges.iter().cloned().collect(),
            fixed: fixed.to_vec(),
            ports: BTreeMap::new(),
            refused: BTreeSet::new(),
            subscription,
            bridge_ports: BridgePorts::of(ebpf)?,
            container_starts: (!targets.containers.is_empty())
                .then(|| containers::watch(targets.containers.clone(), targets.resolved_at)),
        };
        for link in links::dump().await? {
            let Some(bridge) = follower.bridge_of(&link) else {
                continue;
            };
            if follower.is_fixed(link.ifindex) {
                continue;
            }
            let target = targets::target(&link, Some(&bridge));
            follower.bridge_ports.attached(&link);
            let attached =
                attachment::attach_interface(&mut follower.programs, &target, &follower.options)
                    .await?;
            info!(
                "protecting {} ({} mode), port of {bridge}",
                link.name, attached.entry.mode
            );
            follower.ports.insert(
                link.ifindex,
                Port {
                    entry: attached.entry,
                    links: attached.links,
                    container: None,
                },
            );
        }
        Ok(follower)
    }

    /// Every interface attached now: the fixed ones, then the ports.
    pub fn interfaces(&self) -> Vec<AttachedInterface> {
        self.fixed
            .iter()
            .cloned()
            .chain(self.ports.values().map(|port| port.entry.clone()))
            .collect()
    }

    /// The bridges followed now.
    pub fn bridges(&self) -> Vec<FollowedBridge> {
        self.bridges
            .iter()
            .map(|(ifindex, name)| FollowedBridge {
                name: name.clone(),
                ifindex: *ifindex,
            })
            .collect()
    }

    /// Follows in a task of its own until the returned guard drops, updating the interfaces
    /// and bridges of the published status on each change.
    pub fn spawn(self, file: StatusFile) -> Following {
        Following(tokio::spawn(self.run(file)))
    }

    async fn run(mut self, file: StatusFile) {
        let mut resync = tokio::time::interval_at(
            tokio::time::Instant::now() + RESYNC_INTERVAL,
            RESYNC_INTERVAL,
        );
        loop {
            let changed = tokio::select! {
                message = self.subscription.next() => match message {
                    Some(message) => self.on_message(message).await,
                    None => self.resync().await,
                },
                Some(started) = next_start(&mut self.container_starts) => {
                    self.on_container_start(started).await
                }
                _ = resync.tick() => self.resync().await,
            };
            if changed {
                let (interfaces, bridges) = (self.interfaces(), self.bridges());
                let published = file.update(|status| {
                    status.interfaces = interfaces;
                    status.bridges = bridges;
                });
                if let Err(error) = published {
                    warn!("{error:#}");
                }
            }
        }
    }

    async fn on_message(&mut self, message: NetlinkMessage<RouteNetlinkMessage>) -> bool {
        let message = match message.payload {
            NetlinkPayload::InnerMessage(message) => message,
            NetlinkPayload::Overrun(_) => return self.resync().await,
            _ => return false,
        };
        match message {
            // The AF_BRIDGE variants repeat what the AF_UNSPEC ones say, without the link kind.
            RouteNetlinkMessage::NewLink(message)
                if message.header.interface_family != AddressFamily::Bridge =>
            {
                self.on_link(&Link::from_message(&message)).await
            }
            RouteNetlinkMessage::DelLink(message) => {
                let ifindex = message.header.index;
                if message.header.interface_family == AddressFamily::Bridge {
                    // No longer a bridge port; the device itself may live on.
                    self.forget(ifindex)
                } else {
                    self.refused.remove(&ifindex);
                    self.forget(ifindex) | self.forget_fixed(ifindex)
                }
            }
            _ => false,
        }
    }

    /// A link as it is now: attach it if it is a new port, forget it if it left, follow a
    /// rename.
    async fn on_link(&mut self, link: &Link) -> bool {
        let bridge = self.bridge_of(link);
        let Some(port) = self.ports.get_mut(&link.ifindex) else {
            return match bridge {
                Some(bridge) => self.attach_port(link, &bridge, None).await,
                None => false,
            };
        };
        // A followed container's veth stays whatever bridge it is on.
        if port.container.is_none() && bridge.is_none() {
            return self.forget(link.ifindex);
        }
        if port.entry.name == link.name {
            return false;
        }
        info!("port {} is now called {}", port.entry.name, link.name);
        self.options.rename_pins(&port.entry.name, &link.name);
        port.entry.name.clone_from(&link.name);
        true
    }

    /// A followed container started: its veths are new, unless this is an old start
    /// replayed.
    async fn on_container_start(&mut self, started: Started) -> bool {
        let mut changed = false;
        for (veth, bridge) in &started.veths {
            if !self.ports.contains_key(&veth.ifindex) {
                changed |= self
                    .attach_port(veth, bridge, Some(&started.container))
                    .await;
            }
        }
        changed
    }

    /// Attaches a port of `bridge`, on its own or as the veth of a followed `container`.
    async fn attach_port(&mut self, link: &Link, bridge: &str, container: Option<&str>) -> bool {
        if self.is_fixed(link.ifindex) || self.refused.contains(&link.ifindex) {
            return false;
        }
        let whose =
            container.map_or_else(|| bridge.to_string(), |name| format!("container {name}"));
        let target = targets::target(link, Some(bridge));
        // Before the program sees its frames; taken back below if the attach fails.
        self.bridge_ports.attached(link);
        let attached =
            attachment::attach_interface(&mut self.programs, &target, &self.options).await;
        if attached.is_err() {
            self.bridge_ports.released(link.ifindex);
        }
        match attached {
            Ok(attached) => {
                self.options.release_adopted_pins(&link.name);
                info!(
                    "{whose}: new port {} protected ({} mode)",
                    link.name, attached.entry.mode
                );
                self.ports.insert(
                    link.ifindex,
                    Port {
                        entry: attached.entry,
                        links: attached.links,
                        container: container.map(str::to_string),
                    },
                );
                true
            }
            Err(error) if interfaces::ifindex(&link.name).ok() != Some(link.ifindex) => {
                debug!(
                    "{whose}: port {} went before it was attached: {error:#}",
                    link.name
                );
                false
            }
            Err(error) => {
                warn!("{whose}: cannot protect new port {}: {error:#}", link.name);
                self.refused.insert(link.ifindex);
                false
            }
        }
    }

    /// Lets go of a port: its link detaches if the device is still there, and is simply
    /// closed if it is not.
    fn forget(&mut self, ifindex: u32) -> bool {
        let Some(port) = self.ports.remove(&ifindex) else {
            return false;
        };
        let why = if interfaces::ifindex(&port.entry.name).ok() == Some(ifindex) {
            "left the bridge"
        } else {
            "is gone"
        };
        if let Some(links) = port.links {
            links.release(&mut self.programs);
        }
        self.bridge_ports.released(ifindex);
        self.options.forget_pins(&port.entry.name);
        let whose = match &port.container {
            Some(container) => format!("container {container}"),
            None => port.entry.port_of.clone().unwrap_or_default(),
        };
        info!("{whose}: port {} {why}; forgotten", port.entry.name);
        true
    }

    /// An interface attached at start, or a followed bridge, is gone.
    fn forget_fixed(&mut self, ifindex: u32) -> bool {
        let before = self.fixed.len();
        self.fixed.retain(|entry| {
            let gone = entry.ifindex == ifindex;
            if gone {
                info!("{} is gone; forgotten", entry.name);
                self.options.forget_pins(&entry.name);
            }
            !gone
        });
        let bridge = self.bridges.remove(&ifindex);
        if let Some(bridge) = &bridge {
            info!("bridge {bridge} is gone; no longer followed");
        }
        self.fixed.len() != before || bridge.is_some()
    }

    fn is_fixed(&self, ifindex: u32) -> bool {
        self.fixed.iter().any(|entry| entry.ifindex == ifindex)
    }

    /// Compares with a fresh dump and catches up on whatever events were missed.
    async fn resync(&mut self) -> bool {
        let links = match links::dump().await {
            Ok(links) => links,
            Err(error) => {
                warn!("cannot compare the bridge ports with the kernel's: {error:#}");
                return false;
            }
        };
        let mut changed = false;
        let gone: Vec<u32> = self
            .fixed
            .iter()
            .map(|entry| entry.ifindex)
            .chain(self.bridges.keys().copied())
            .filter(|ifindex| !links.iter().any(|link| link.ifindex == *ifindex))
            .collect();
        for ifindex in gone {
            changed |= self.forget_fixed(ifindex);
        }
        let left: Vec<u32> = self
            .ports
            .iter()
            .filter(|(ifindex, port)| {
                let present = links.iter().find(|link| link.ifindex == **ifindex);
                present
                    .is_none_or(|link| port.container.is_none() && self.bridge_of(link).is_none())
            })
            .map(|(ifindex, _)| *ifindex)
            .collect();
        for ifindex in left {
            changed |= self.forget(ifindex);
        }
        self.refused
            .retain(|ifindex| links.iter().any(|link| link.ifindex == *ifindex));
        for link in &links {
            if let Some(bridge) = self.bridge_of(link)
                && !self.ports.contains_key(&link.ifindex)
            {
                changed |= self.attach_port(link, &bridge, None).await;
            }
        }
        changed
    }

    fn bridge_of(&self, link: &Link) -> Option<String> {
        self.bridges.get(&link.master?).cloned()
    }
}

/// The next start of a followed container; never, when none is followed.
async fn next_start(starts: &mut Option<mpsc::Receiver<Started>>) -> Option<Started> {
    match starts {
        Some(starts) => starts.recv().await,
        None => std::future::pending().await,
    }
}

/// The follower's task; stops it on drop.
pub struct Following(JoinHandle<()>);

impl Drop for Following {
    fn drop(&mut self) {
        self.0.abort();
    }
}

//! The links of a network namespace as rtnetlink reports them (RTM_GETLINK dumps and
//! RTNLGRP_LINK events): what `ifaces`, the Docker name resolution and the bridge-port
//! follower need to know about each one.

use std::{fs::File, path::Path};

use anyhow::{Context as _, Result, anyhow};
use futures::TryStreamExt as _;
use nix::sched::{CloneFlags, setns};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkInfo, LinkMessage};

use crate::host::xdp::{self, XdpAttachment};

/// One interface, from one RTM_NEWLINK message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub ifindex: u32,
    pub name: String,
    /// IFLA_INFO_KIND: "bridge", "veth", "vlan", "bond", "tun", ...; none for physical NICs,
    /// wireless devices and loopback.
    pub kind: Option<String>,
    /// IFLA_MASTER: the bridge (or bond) this interface is a port of.
    pub master: Option<u32>,
    /// IFLA_LINK: for a veth, its peer's ifindex, counted in the peer's namespace.
    pub peer_ifindex: Option<u32>,
    /// IFLA_LINK_NETNSID: set when that peer lives in another namespace.
    pub peer_netns_id: Option<i32>,
    /// Lowercase `aa:bb:cc:dd:ee:ff`.
    pub mac: Option<String>,
    pub loopback: bool,
    pub xdp: Option<XdpAttachment>,
}

#[cfg(test)]
impl Link {
    /// A link with only these set.
    pub fn named(ifindex: u32, name: &str, kind: Option<&str>) -> Link {
        Link {
            ifindex,
            name: name.into(),
            kind: kind.map(str::to_string),
            ..Link::default()
        }
    }
}

impl Link {
    pub fn from_message(message: &LinkMessage) -> Link {
        let mut link = Link {
            ifindex: message.header.index,
            loopback: message.header.flags.contains(LinkFlags::Loopback),
            ..Link::default()
        };
        for attribute in &message.attributes {
            match attribute {
                LinkAttribute::IfName(name) => link.name.clone_from(name),
                LinkAttribute::Controller(master) => link.master = Some(*master),
                LinkAttribute::Link(peer) => link.peer_ifindex = Some(*peer),
                LinkAttribute::LinkNetNsId(id) => link.peer_netns_id = Some(*id),
                LinkAttribute::Address(bytes) if bytes.len() == 6 => {
                    link.mac = Some(mac_string(bytes));
                }
                LinkAttribute::Xdp(xdp) => link.xdp = xdp::parse_xdp(xdp),
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        if let LinkInfo::Kind(kind) = info {
                            link.kind = Some(kind.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        link
    }

    pub fn is_bridge(&self) -> bool {
        self.kind.as_deref() == Some("bridge")
    }

    pub fn is_veth(&self) -> bool {
        self.kind.as_deref() == Some("veth")
    }
}

/// Every link of the calling thread's network namespace, by ifindex.
pub async fn dump() -> Result<Vec<Link>> {
    let (connection, handle, _) = rtnetlink::new_connection().context("cannot open netlink")?;
    let connection = tokio::spawn(connection);
    let result: Result<Vec<Link>> = handle
        .link()
        .get()
        .execute()
        .map_ok(|message| Link::from_message(&message))
        .try_collect()
        .await
        .context("cannot list interfaces over netlink");
    connection.abort();
    let mut links = result?;
    links.sort_by_key(|link| link.ifindex);
    Ok(links)
}

/// Every link of the network namespace behind `netns` (a bind-mounted namespace file such
/// as Docker's `SandboxKey`, or `/proc/<pid>/ns/net`). Runs on a thread of its own, which
/// enters that namespace and ends, so no thread of the caller ever changes namespace.
pub fn dump_in_netns(netns: &Path) -> Result<Vec<Link>> {
    let path = netns.to_path_buf();
    std::thread::spawn(move || -> Result<Vec<Link>> {
        let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        setns(&file, CloneFlags::CLONE_NEWNET)
            .with_context(|| format!("cannot enter the network namespace {}", path.display()))?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(dump())
    })
    .join()
    .map_err(|_| anyhow!("the thread listing {} panicked", netns.display()))?
}

fn mac_string(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_route::link::{InfoKind, LinkXdp, XdpAttached};

    use super::*;
    use crate::host::xdp::XdpAttachMode;

    #[test]
    fn a_host_side_veth_message_gives_kind_master_peer_mac_and_xdp() {
        let mut message = LinkMessage::default();
        message.header.index = 7;
        message.attributes = vec![
            LinkAttribute::IfName("veth1a2b3c4".into()),
            LinkAttribute::Address(vec![0x02, 0x42, 0xac, 0x11, 0x00, 0x04]),
            LinkAttribute::Controller(3),
            LinkAttribute::Link(2),
            LinkAttribute::LinkNetNsId(0),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth)]),
            LinkAttribute::Xdp(vec![
                LinkXdp::Attached(XdpAttached::Driver),
                LinkXdp::ProgId(42),
            ]),
        ];
        let link = Link::from_message(&message);
        assert_eq!(
            link,
            Link {
                ifindex: 7,
                name: "veth1a2b3c4".into(),
                kind: Some("veth".into()),
                master: Some(3),
                peer_ifindex: Some(2),
                peer_netns_id: Some(0),
                mac: Some("02:42:ac:11:00:04".into()),
                loopback: false,
                xdp: Some(XdpAttachment {
                    program_id: 42,
                    mode: XdpAttachMode::Native
                }),
            }
        );
        assert!(link.is_veth() && !link.is_bridge());
    }

    #[test]
    fn loopback_comes_from_the_header_flags() {
        let mut message = LinkMessage::default();
        message.header.index = 1;
        message.header.flags = LinkFlags::Loopback | LinkFlags::Up;
        message.attributes = vec![LinkAttribute::IfName("lo".into())];
        let link = Link::from_message(&message);
        assert!(link.loopback);
        assert_eq!(link.kind, None);
    }
}

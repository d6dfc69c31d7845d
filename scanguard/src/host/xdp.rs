//! The XDP program on an interface as the kernel reports it over netlink (which program, in
//! which mode), the names of loaded programs, and removing a program a crashed run left.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use futures::TryStreamExt as _;
use rtnetlink::packet_route::link::{LinkAttribute, LinkMessage, LinkXdp, XdpAttached};

/// Where an XDP program is attached, as the kernel reports it over netlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XdpAttachment {
    pub program_id: u32,
    pub mode: XdpAttachMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum XdpAttachMode {
    Native,
    Skb,
    Offload,
    Multiple,
}

impl XdpAttachMode {
    pub const fn name(self) -> &'static str {
        match self {
            XdpAttachMode::Native => "native",
            XdpAttachMode::Skb => "skb",
            XdpAttachMode::Offload => "offload",
            XdpAttachMode::Multiple => "multiple",
        }
    }
}

/// The XDP program on `ifindex`, if any (IFLA_XDP of RTM_GETLINK).
pub async fn xdp_attachment(ifindex: u32) -> Result<Option<XdpAttachment>> {
    let (connection, handle, _) = rtnetlink::new_connection().context("cannot open netlink")?;
    let connection = tokio::spawn(connection);
    let mut links = handle.link().get().match_index(ifindex).execute();
    let mut attachment = None;
    while let Some(link) = links
        .try_next()
        .await
        .with_context(|| format!("cannot query interface {ifindex} over netlink"))?
    {
        for attribute in link.attributes {
            if let LinkAttribute::Xdp(xdp) = attribute {
                attachment = parse_xdp(&xdp);
            }
        }
    }
    connection.abort();
    Ok(attachment)
}

pub(crate) fn parse_xdp(attributes: &[LinkXdp]) -> Option<XdpAttachment> {
    let mut program_id = None;
    let mut mode = None;
    for attribute in attributes {
        match attribute {
            LinkXdp::ProgId(id) => program_id = Some(*id),
            LinkXdp::Attached(attached) => {
                mode = match attached {
                    XdpAttached::Driver => Some(XdpAttachMode::Native),
                    XdpAttached::SocketBuffer => Some(XdpAttachMode::Skb),
                    XdpAttached::Hardware => Some(XdpAttachMode::Offload),
                    XdpAttached::Multiple => Some(XdpAttachMode::Multiple),
                    _ => None,
                }
            }
            _ => {}
        }
    }
    Some(XdpAttachment {
        program_id: program_id?,
        mode: mode?,
    })
}

/// The name the kernel knows a program by, for "already carries program X" messages.
pub fn program_name(program_id: u32) -> String {
    program_names()
        .remove(&program_id)
        .unwrap_or_else(|| "unknown".to_string())
}

/// Removes whatever XDP program is attached to `ifindex` through netlink (IFLA_XDP with fd -1),
/// for a program a crashed run left without a link to close.
pub async fn detach_xdp(ifindex: u32) -> Result<()> {
    let (connection, handle, _) = rtnetlink::new_connection().context("cannot open netlink")?;
    let connection = tokio::spawn(connection);
    let mut message = LinkMessage::default();
    message.header.index = ifindex;
    message
        .attributes
        .push(LinkAttribute::Xdp(vec![LinkXdp::Fd(-1)]));
    let result = handle.link().set(message).execute().await;
    connection.abort();
    result.with_context(|| format!("cannot detach the XDP program of interface {ifindex}"))
}

/// The names of all loaded programs by id (empty without CAP_SYS_ADMIN or CAP_BPF).
pub fn program_names() -> HashMap<u32, String> {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter_map(|info| Some((info.id(), info.name_as_str()?.to_string())))
        .collect()
}

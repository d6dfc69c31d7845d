//! A netlink socket in some of rtnetlink's multicast groups (what `ip monitor` listens to),
//! and the task that reads it.

use std::{
    os::fd::{AsRawFd as _, RawFd},
    time::Duration,
};

use anyhow::{Context as _, Result};
use futures::StreamExt as _;
use log::warn;
use rtnetlink::{
    MulticastGroup, packet_core::NetlinkMessage, packet_route::RouteNetlinkMessage, sys::SocketAddr,
};
use tokio::task::JoinHandle;

type Events =
    futures::channel::mpsc::UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>;

/// Which messages to receive.
#[derive(Clone, Copy, Debug)]
pub struct Groups {
    pub multicast: &'static [MulticastGroup],
    /// A classic BPF socket filter the kernel runs on each message before queueing it: those
    /// it returns 0 for never reach this process.
    pub filter: Option<&'static [libc::sock_filter]>,
}

pub struct Subscription {
    groups: Groups,
    events: Events,
    connection: JoinHandle<()>,
}

impl Subscription {
    pub fn open(groups: Groups) -> Result<Subscription> {
        let subscribe = || format!("cannot subscribe to netlink events {:?}", groups.multicast);
        let (mut connection, _handle, events) =
            rtnetlink::new_multicast_connection(groups.multicast).with_context(subscribe)?;
        if let Some(filter) = groups.filter {
            attach_filter(connection.socket_mut().as_raw_fd(), filter).with_context(subscribe)?;
        }
        Ok(Subscription {
            groups,
            events,
            connection: tokio::spawn(connection),
        })
    }

    /// The next message. A full socket buffer, which drops messages, arrives as
    /// `NetlinkPayload::Overrun`. If the socket fails, this subscribes again (retrying every
    /// second) and returns None: messages were lost in between.
    pub async fn next(&mut self) -> Option<NetlinkMessage<RouteNetlinkMessage>> {
        if let Some((message, _)) = self.events.next().await {
            return Some(message);
        }
        warn!(
            "netlink events {:?} stopped; subscribing again",
            self.groups.multicast
        );
        loop {
            match Subscription::open(self.groups) {
                Ok(subscription) => {
                    *self = subscription;
                    return None;
                }
                Err(error) => {
                    warn!("{error:#}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// SO_ATTACH_FILTER, socket(7).
fn attach_filter(socket: RawFd, filter: &[libc::sock_filter]) -> std::io::Result<()> {
    let program = libc::sock_fprog {
        len: u16::try_from(filter.len()).map_err(std::io::Error::other)?,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: `program` points at `filter`, which outlives the call; the kernel copies it.
    let result = unsafe {
        libc::setsockopt(
            socket,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            std::ptr::from_ref(&program).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    match result {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

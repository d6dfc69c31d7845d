//! A netlink socket in some of rtnetlink's multicast groups (what `ip monitor` listens to),
//! and the task that reads it.

use std::time::Duration;

use anyhow::{Context as _, Result};
use futures::StreamExt as _;
use log::warn;
use rtnetlink::{
    MulticastGroup, packet_core::NetlinkMessage, packet_route::RouteNetlinkMessage, sys::SocketAddr,
};
use tokio::task::JoinHandle;

type Events =
    futures::channel::mpsc::UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>;

pub struct Subscription {
    groups: &'static [MulticastGroup],
    events: Events,
    connection: JoinHandle<()>,
}

impl Subscription {
    pub fn open(groups: &'static [MulticastGroup]) -> Result<Subscription> {
        let (connection, _handle, events) = rtnetlink::new_multicast_connection(groups)
            .with_context(|| format!("cannot subscribe to netlink events {groups:?}"))?;
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
            self.groups
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

impl Drop for Subscription {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

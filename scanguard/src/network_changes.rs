//! Whether this host's addresses or default routes may have changed, from the kernel's
//! notifications (what `ip monitor link address route` shows), so the daemon reads them again
//! only then. Reading the route tables at every check cost an idle daemon 27–29% of a CPU on
//! a host holding a full Internet table (a million routes).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use anyhow::Result;
use rtnetlink::{
    MulticastGroup,
    packet_core::{NetlinkMessage, NetlinkPayload},
    packet_route::RouteNetlinkMessage,
};
use tokio::task::JoinHandle;

use crate::netlink_events::Subscription;

const LINK_ADDRESS_AND_ROUTE_EVENTS: &[MulticastGroup] = &[
    MulticastGroup::Link,
    MulticastGroup::Ipv4Ifaddr,
    MulticastGroup::Ipv6Ifaddr,
    MulticastGroup::Ipv4Route,
    MulticastGroup::Ipv6Route,
];

pub struct NetworkChanges {
    changed: Arc<AtomicBool>,
    reader: JoinHandle<()>,
}

impl NetworkChanges {
    /// Subscribes; call it before reading the host, so no change falls in between.
    pub fn subscribe() -> Result<NetworkChanges> {
        let mut subscription = Subscription::open(LINK_ADDRESS_AND_ROUTE_EVENTS)?;
        let changed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&changed);
        let reader = tokio::spawn(async move {
            loop {
                // None: the socket failed and messages were lost.
                if subscription
                    .next()
                    .await
                    .is_none_or(|message| may_change(&message))
                {
                    flag.store(true, Ordering::Release);
                }
            }
        });
        Ok(NetworkChanges { changed, reader })
    }

    /// Whether something changed since the last call.
    pub fn take(&self) -> bool {
        self.changed.swap(false, Ordering::Acquire)
    }
}

impl Drop for NetworkChanges {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A link, an address or a default route changed, or messages were lost to a full socket
/// buffer. Links count because the kernel removes the IPv4 routes of a link that goes down
/// without a notification of their own (`fib_flush`). The other routes, which on a router
/// change all the time, do not matter.
fn may_change(message: &NetlinkMessage<RouteNetlinkMessage>) -> bool {
    match &message.payload {
        NetlinkPayload::Overrun(_) => true,
        NetlinkPayload::InnerMessage(
            RouteNetlinkMessage::NewLink(_)
            | RouteNetlinkMessage::DelLink(_)
            | RouteNetlinkMessage::NewAddress(_)
            | RouteNetlinkMessage::DelAddress(_),
        ) => true,
        NetlinkPayload::InnerMessage(
            RouteNetlinkMessage::NewRoute(route) | RouteNetlinkMessage::DelRoute(route),
        ) => route.header.destination_prefix_length == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use rtnetlink::{
        packet_core::NetlinkHeader,
        packet_route::{address::AddressMessage, link::LinkMessage, route::RouteMessage},
    };

    use super::*;

    fn message(payload: RouteNetlinkMessage) -> NetlinkMessage<RouteNetlinkMessage> {
        NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(payload),
        )
    }

    fn route(prefix_length: u8) -> RouteMessage {
        let mut route = RouteMessage::default();
        route.header.destination_prefix_length = prefix_length;
        route
    }

    #[test]
    fn links_addresses_default_routes_and_lost_messages_may_change_the_host() {
        for payload in [
            RouteNetlinkMessage::NewLink(LinkMessage::default()),
            RouteNetlinkMessage::DelLink(LinkMessage::default()),
            RouteNetlinkMessage::NewAddress(AddressMessage::default()),
            RouteNetlinkMessage::DelAddress(AddressMessage::default()),
            RouteNetlinkMessage::NewRoute(route(0)),
            RouteNetlinkMessage::DelRoute(route(0)),
        ] {
            assert!(may_change(&message(payload.clone())), "{payload:?}");
        }
        let overrun =
            NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::Overrun(vec![]));
        assert!(may_change(&overrun));
    }

    #[test]
    fn other_routes_do_not() {
        for payload in [
            RouteNetlinkMessage::NewRoute(route(24)),
            RouteNetlinkMessage::DelRoute(route(128)),
        ] {
            assert!(!may_change(&message(payload.clone())), "{payload:?}");
        }
    }
}

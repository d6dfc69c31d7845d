//! The notifications the daemon follows its host by, read in a network namespace of the test's
//! own: the kernel's socket filter keeps the routes to other networks back, so a router loading
//! its table sends the daemon nothing, and lets a default route through; it keeps back the link
//! events that change no flag, and lets a link going down through. Needs root.

use std::{process::Command, time::Duration};

use aya::test_helpers::NetNsGuard;
use rtnetlink::{
    packet_core::NetlinkPayload,
    packet_route::{RouteNetlinkMessage, link::LinkFlags},
};
use scanguard::host::{netlink_events::Subscription, network_changes::HOST_EVENTS};
use scanguard_lab::run_checked;

use crate::support::lab::require_root;

/// `ip route <command>` for each route, through `ip -batch` (in the caller's namespace).
fn routes(command: &str, routes: impl IntoIterator<Item = String>) {
    let batch = std::env::temp_dir().join(format!("host-events-{}.batch", std::process::id()));
    let lines: Vec<String> = routes
        .into_iter()
        .map(|route| format!("route {command} {route}"))
        .collect();
    std::fs::write(&batch, lines.join("\n") + "\n").expect("write the batch");
    let done = run_checked(Command::new("ip").arg("-batch").arg(&batch));
    std::fs::remove_file(&batch).expect("remove the batch");
    done.expect("ip -batch");
}

/// The messages that arrive within `wait`.
async fn received(subscription: &mut Subscription, wait: Duration) -> Vec<RouteNetlinkMessage> {
    let mut messages = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, subscription.next()).await {
        if let NetlinkPayload::InnerMessage(message) = message.payload {
            messages.push(message);
        }
    }
    messages
}

/// `ip <command>` for each command, in the caller's namespace.
fn ip(commands: &[&str]) {
    for command in commands {
        run_checked(Command::new("ip").args(command.split(' '))).expect(command);
    }
}

/// A network namespace of the test's own with a veth pair, `h0` up with an address (its routes
/// and link events stay in there), and a subscription to the events the daemon follows.
fn subscribed_namespace() -> (NetNsGuard, Subscription) {
    require_root();
    let netns = NetNsGuard::new().expect("a network namespace of the test's own");
    ip(&[
        "link add h0 type veth peer name h1",
        "link set h0 up",
        "address add 10.79.0.1/24 dev h0",
    ]);
    let subscription = Subscription::open(HOST_EVENTS).expect("subscribe");
    (netns, subscription)
}

#[tokio::test]
async fn only_default_routes_reach_the_daemon() {
    let (_netns, mut subscription) = subscribed_namespace();
    let table: Vec<String> = (0..2000)
        .map(|n| format!("10.80.{}.{}/32 via 10.79.0.2", n / 256, n % 256))
        .collect();
    let default = || ["default via 10.79.0.2".to_string()];

    // 2,000 routes as a router's table brings them: none reaches the socket.
    routes("add", table.clone());
    routes("add", default());
    routes("del", table);
    routes("del", default());
    let routes: Vec<_> = received(&mut subscription, Duration::from_secs(1))
        .await
        .into_iter()
        .filter_map(|message| match message {
            RouteNetlinkMessage::NewRoute(route) => {
                Some(("new", route.header.destination_prefix_length))
            }
            RouteNetlinkMessage::DelRoute(route) => {
                Some(("deleted", route.header.destination_prefix_length))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        routes,
        [("new", 0), ("deleted", 0)],
        "only the default route's messages arrive"
    );
}

#[tokio::test]
async fn only_link_messages_that_change_a_flag_reach_the_daemon() {
    let (_netns, mut subscription) = subscribed_namespace();

    // A new link and a link going down change its flags. The kernel's other link events (here
    // a link's MTU, hardware address and queue length; XDP attached to a veth changes its
    // peer's features) remove no address and no route.
    ip(&[
        "link set h0 mtu 1400",
        "link set h0 address 02:00:00:00:00:01",
        "link set h0 txqueuelen 500",
        "link add h2 type veth peer name h3",
        "link set h0 down",
    ]);
    // A new link's message has every flag changed.
    let new_link = LinkFlags::from_bits_retain(u32::MAX);
    let links: Vec<_> = received(&mut subscription, Duration::from_secs(1))
        .await
        .into_iter()
        .filter_map(|message| match message {
            RouteNetlinkMessage::NewLink(link) => Some(link.header.change_mask),
            _ => None,
        })
        .collect();
    assert_eq!(
        links,
        [new_link, new_link, LinkFlags::Up],
        "only the new veth pair and the link going down arrive"
    );
}

//! The notifications the daemon follows its host by, read in a network namespace of the test's
//! own: the kernel's socket filter keeps the routes to other networks back, so a router loading
//! its table sends the daemon nothing, and lets a default route through. Needs root.

mod lab;

use std::{process::Command, time::Duration};

use aya::test_helpers::NetNsGuard;
use lab::require_root;
use rtnetlink::{packet_core::NetlinkPayload, packet_route::RouteNetlinkMessage};
use scanguard::{netlink_events::Subscription, network_changes::HOST_EVENTS};
use scanguard_lab::run_checked;

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

/// The route messages that arrive within `wait`: added or deleted, and the prefix length.
async fn route_messages(subscription: &mut Subscription, wait: Duration) -> Vec<(&str, u8)> {
    let mut messages = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, subscription.next()).await {
        match message.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(route)) => {
                messages.push(("new", route.header.destination_prefix_length))
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(route)) => {
                messages.push(("deleted", route.header.destination_prefix_length))
            }
            _ => {}
        }
    }
    messages
}

#[tokio::test]
async fn only_default_routes_reach_the_daemon() {
    require_root();
    let _netns = NetNsGuard::new().expect("a network namespace of the test's own");
    // A veth pair of the namespace's own: its routes, and its link events, stay in there.
    for command in [
        "link add h0 type veth peer name h1",
        "link set h0 up",
        "address add 10.79.0.1/24 dev h0",
    ] {
        run_checked(Command::new("ip").args(command.split(' '))).expect(command);
    }
    let mut subscription = Subscription::open(HOST_EVENTS).expect("subscribe");
    let table: Vec<String> = (0..2000)
        .map(|n| format!("10.80.{}.{}/32 via 10.79.0.2", n / 256, n % 256))
        .collect();
    let default = || ["default via 10.79.0.2".to_string()];

    // 2,000 routes as a router's table brings them: none reaches the socket.
    routes("add", table.clone());
    routes("add", default());
    routes("del", table);
    routes("del", default());
    assert_eq!(
        route_messages(&mut subscription, Duration::from_secs(1)).await,
        [("new", 0), ("deleted", 0)],
        "only the default route's messages arrive"
    );
}

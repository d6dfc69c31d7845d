//! The addresses scanguard must never ban, or the host cuts itself off: its default gateways,
//! its own addresses and the SSH client that started it. A spoofed NULL scan "from the gateway"
//! is then reported as "would have banned", not obeyed.

use std::net::IpAddr;

use crate::host::default_routes;

/// Every address lock-out protection covers, from this network namespace's tables.
pub fn protected_addresses() -> Vec<IpAddr> {
    let mut addresses: Vec<IpAddr> = default_gateways().collect();
    addresses.extend(own_addresses());
    addresses.extend(ssh_client(std::env::var("SSH_CONNECTION").ok().as_deref()));
    addresses.sort();
    addresses.dedup();
    addresses
}

fn default_gateways() -> impl Iterator<Item = IpAddr> {
    default_routes::read().filter_map(|route| route.gateway)
}

fn own_addresses() -> Vec<IpAddr> {
    nix::ifaddrs::getifaddrs()
        .into_iter()
        .flatten()
        .filter_map(|interface| {
            let address = interface.address?;
            address
                .as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
        .collect()
}

/// `SSH_CONNECTION` is "client-address client-port server-address server-port".
fn ssh_client(ssh_connection: Option<&str>) -> Option<IpAddr> {
    ssh_connection?.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ssh_client_comes_from_ssh_connection() {
        assert_eq!(
            ssh_client(Some("203.0.113.5 51234 192.0.2.10 22")),
            Some("203.0.113.5".parse().unwrap())
        );
        assert_eq!(ssh_client(None), None);
        assert_eq!(ssh_client(Some("garbage")), None);
    }
}

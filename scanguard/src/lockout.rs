//! The addresses scanguard must never ban, or the host cuts itself off: its default gateways,
//! its own addresses and the SSH client that started it. A spoofed NULL scan "from the gateway"
//! is then reported as "would have banned", not obeyed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Every address lock-out protection covers, from this network namespace's tables.
pub fn protected_addresses() -> Vec<IpAddr> {
    let mut addresses = default_gateways();
    addresses.extend(own_addresses());
    addresses.extend(ssh_client(std::env::var("SSH_CONNECTION").ok().as_deref()));
    addresses.sort();
    addresses.dedup();
    addresses
}

/// Gateways of default routes (/proc/net/route, /proc/net/ipv6_route).
fn default_gateways() -> Vec<IpAddr> {
    let ipv4 = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let ipv6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    ipv4_gateways(&ipv4).chain(ipv6_gateways(&ipv6)).collect()
}

fn ipv4_gateways(table: &str) -> impl Iterator<Item = IpAddr> + '_ {
    table.lines().skip(1).filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let default = fields.get(1) == Some(&"00000000") && fields.get(7) == Some(&"00000000");
        // The kernel prints the gateway as a host-order (little-endian here) hex u32.
        let gateway = u32::from_str_radix(fields.get(2)?, 16).ok()?;
        (default && gateway != 0).then(|| IpAddr::V4(Ipv4Addr::from(gateway.swap_bytes())))
    })
}

fn ipv6_gateways(table: &str) -> impl Iterator<Item = IpAddr> + '_ {
    table.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let default = fields.first() == Some(&"00000000000000000000000000000000")
            && fields.get(1) == Some(&"00");
        let gateway = u128::from_str_radix(fields.get(4)?, 16).ok()?;
        (default && gateway != 0).then(|| IpAddr::V6(Ipv6Addr::from(gateway)))
    })
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
    fn default_gateways_are_read_from_the_route_tables() {
        let ipv4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                    eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\n\
                    eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\n";
        assert_eq!(
            ipv4_gateways(ipv4).collect::<Vec<_>>(),
            vec![IpAddr::from([192, 168, 2, 1])]
        );
        let ipv6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n";
        assert_eq!(
            ipv6_gateways(ipv6).collect::<Vec<_>>(),
            vec!["fe80::1".parse::<IpAddr>().unwrap()]
        );
    }

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

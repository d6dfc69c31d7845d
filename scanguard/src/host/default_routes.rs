//! The default routes of this network namespace, from the kernel's own tables
//! (/proc/net/route, /proc/net/ipv6_route): the interfaces that lead out, and their gateways.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultRoute {
    pub interface: String,
    /// None on a link without one (point-to-point, a tunnel).
    pub gateway: Option<IpAddr>,
}

/// The IPv4 default routes, then the IPv6 ones, each in table order; a table that cannot be
/// read has none. Lazy, a line at a time: a router's tables hold a million routes, and whoever
/// wants only the first default route (IPv4's come first in its table) reads no further.
pub fn read() -> impl Iterator<Item = DefaultRoute> {
    let table = |path| File::open(path).map(BufReader::new).ok();
    let ipv4 = ["/proc/net/route"]
        .into_iter()
        .filter_map(table)
        .flat_map(ipv4_defaults);
    let ipv6 = ["/proc/net/ipv6_route"]
        .into_iter()
        .filter_map(table)
        .flat_map(ipv6_defaults);
    ipv4.chain(ipv6)
}

/// Destination and mask 0.0.0.0.
fn ipv4_defaults(table: impl BufRead) -> impl Iterator<Item = DefaultRoute> {
    table
        .lines()
        .map_while(Result::ok)
        .skip(1)
        .filter_map(|line| {
            // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
            let mut fields = line.split_whitespace();
            let interface = fields.next()?;
            if fields.next()? != "00000000" {
                return None;
            }
            // The kernel prints the network-order address as a hex u32 in host order, so its bytes
            // in memory are the address's.
            let gateway = u32::from_str_radix(fields.next()?, 16).ok()?;
            (fields.nth(4)? == "00000000").then(|| DefaultRoute {
                interface: interface.to_string(),
                gateway: (gateway != 0).then(|| IpAddr::V4(Ipv4Addr::from(gateway.to_ne_bytes()))),
            })
        })
}

/// Destination ::/0, leaving out the unreachable routes the kernel keeps on lo.
fn ipv6_defaults(table: impl BufRead) -> impl Iterator<Item = DefaultRoute> {
    table.lines().map_while(Result::ok).filter_map(|line| {
        // Destination, its prefix length, source, its prefix length, next hop, metric,
        // reference count, use count, flags, interface.
        let mut fields = line.split_whitespace();
        if fields.next()? != "00000000000000000000000000000000" || fields.next()? != "00" {
            return None;
        }
        let gateway = u128::from_str_radix(fields.nth(2)?, 16).ok()?;
        let interface = fields.nth(4)?;
        (interface != "lo").then(|| DefaultRoute {
            interface: interface.to_string(),
            gateway: (gateway != 0).then(|| IpAddr::V6(Ipv6Addr::from(gateway))),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(interface: &str, gateway: Option<&str>) -> DefaultRoute {
        DefaultRoute {
            interface: interface.to_string(),
            gateway: gateway.map(|gateway| gateway.parse().unwrap()),
        }
    }

    #[test]
    fn ipv4_default_routes_with_and_without_a_gateway() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                     eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n\
                     wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
                     wg0\t00000000\t00000000\t0001\t0\t0\t700\t00000000\t0\t0\t0\n";
        assert_eq!(
            ipv4_defaults(table.as_bytes()).collect::<Vec<_>>(),
            [
                route("eth0", Some("192.168.2.1")),
                route("wlan0", Some("192.168.1.1")),
                route("wg0", None),
            ]
        );
    }

    #[test]
    fn ipv6_default_routes_leave_out_lo() {
        let table = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n\
                     00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n\
                     fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
        assert_eq!(
            ipv6_defaults(table.as_bytes()).collect::<Vec<_>>(),
            [route("eth0", Some("fe80::1"))]
        );
    }
}

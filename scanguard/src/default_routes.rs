//! The default routes of this network namespace, from the kernel's own tables
//! (/proc/net/route, /proc/net/ipv6_route): the interfaces that lead out, and their gateways.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultRoute {
    pub interface: String,
    /// None on a link without one (point-to-point, a tunnel).
    pub gateway: Option<IpAddr>,
}

/// The IPv4 default routes, then the IPv6 ones, each in table order; a table that cannot be
/// read has none.
pub fn read() -> Vec<DefaultRoute> {
    let ipv4 = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let ipv6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    ipv4_defaults(&ipv4).chain(ipv6_defaults(&ipv6)).collect()
}

/// Destination and mask 0.0.0.0.
fn ipv4_defaults(table: &str) -> impl Iterator<Item = DefaultRoute> + '_ {
    table.lines().skip(1).filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let default = fields.get(1) == Some(&"00000000") && fields.get(7) == Some(&"00000000");
        // The kernel prints the network-order address as a hex u32 in host order, so its bytes
        // in memory are the address's.
        let gateway = u32::from_str_radix(fields.get(2)?, 16).ok()?;
        default.then(|| DefaultRoute {
            interface: fields[0].to_string(),
            gateway: (gateway != 0).then(|| IpAddr::V4(Ipv4Addr::from(gateway.to_ne_bytes()))),
        })
    })
}

/// Destination ::/0, leaving out the unreachable routes the kernel keeps on lo.
fn ipv6_defaults(table: &str) -> impl Iterator<Item = DefaultRoute> + '_ {
    table.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let default = fields.first() == Some(&"00000000000000000000000000000000")
            && fields.get(1) == Some(&"00");
        let interface = *fields.get(9)?;
        let gateway = u128::from_str_radix(fields.get(4)?, 16).ok()?;
        (default && interface != "lo").then(|| DefaultRoute {
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
            ipv4_defaults(table).collect::<Vec<_>>(),
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
            ipv6_defaults(table).collect::<Vec<_>>(),
            [route("eth0", Some("fe80::1"))]
        );
    }
}

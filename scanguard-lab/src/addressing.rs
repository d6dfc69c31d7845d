//! Addresses of lab hosts. Segment `s` (one veth pair or one bridge) is
//! 10.77.s.0/24 and fd77:0:0:s::/64, private ranges that only ever exist inside
//! lab namespaces; labs are isolated from each other, so every lab reuses them.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{LabError, Result};

pub(crate) const IPV4_PREFIX_LEN: u8 = 24;
pub(crate) const IPV6_PREFIX_LEN: u8 = 64;

/// 0 is the IPv4 network address and 255 the broadcast address.
const HOST_NUMBERS: std::ops::RangeInclusive<u8> = 1..=254;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostAddresses {
    pub(crate) ipv4: Ipv4Addr,
    pub(crate) ipv6: Ipv6Addr,
    pub(crate) mac: [u8; 6],
}

/// Addresses of host number `host` on segment `segment`.
pub(crate) fn host_addresses(segment: u8, host: u8) -> Result<HostAddresses> {
    if !HOST_NUMBERS.contains(&host) {
        return Err(LabError::SegmentFull(segment));
    }
    Ok(HostAddresses {
        ipv4: Ipv4Addr::new(10, 77, segment, host),
        ipv6: Ipv6Addr::new(0xfd77, 0, 0, segment.into(), 0, 0, 0, host.into()),
        // Locally administered unicast (0x02), so it never equals a real NIC's.
        mac: [0x02, 0x77, 0, 0, segment, host],
    })
}

/// `aa:bb:cc:dd:ee:ff`, as `ip link` takes it.
pub(crate) fn mac_string(mac: [u8; 6]) -> String {
    mac.map(|byte| format!("{byte:02x}")).join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_encode_segment_and_host() {
        let addresses = host_addresses(3, 7).expect("host 7 is valid");
        assert_eq!(addresses.ipv4, Ipv4Addr::new(10, 77, 3, 7));
        assert_eq!(addresses.ipv6, "fd77:0:0:3::7".parse::<Ipv6Addr>().unwrap());
        assert_eq!(mac_string(addresses.mac), "02:77:00:00:03:07");
    }

    #[test]
    fn addresses_stay_in_the_private_test_ranges() {
        for segment in [0, 255] {
            for host in [1, 254] {
                let addresses = host_addresses(segment, host).expect("valid host");
                assert_eq!(addresses.ipv4.octets()[..2], [10, 77]);
                assert_eq!(addresses.ipv6.segments()[0], 0xfd77);
            }
        }
    }

    #[test]
    fn network_and_broadcast_numbers_are_refused() {
        assert!(host_addresses(0, 0).is_err());
        assert!(host_addresses(0, 255).is_err());
    }
}

//! The key every per-source map shares: a source address, IPv4 or IPv6, in one 16-byte form.

use core::net::{IpAddr, Ipv6Addr};

use crate::wire_struct;

/// An address as a map key (the ban map's, the sweeps', a flow's peer...): 16 bytes, IPv4 in
/// its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`, RFC 4291 section 2.5.5.2), so one map and one
/// lookup serve both families.
/// Held as two words in memory order: the XDP program copies and compares a key in two loads,
/// where a byte array costs it sixteen. The program passes keys by value: a reference into a
/// parsed frame, handed on to a map helper, kept the whole frame in stack memory (LLVM keeps
/// any struct whose address escapes there), which cost a benign packet 6 ns.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddrKey([u64; 2]);
wire_struct!(AddrKey, 16);

impl AddrKey {
    #[inline(always)]
    pub const fn from_words(words: [u64; 2]) -> AddrKey {
        AddrKey(words)
    }

    /// The key of an IPv4 address given in network byte order.
    #[inline(always)]
    pub const fn ipv4([a, b, c, d]: [u8; 4]) -> AddrKey {
        AddrKey([0, u64::from_ne_bytes([0, 0, 0xff, 0xff, a, b, c, d])])
    }

    #[inline(always)]
    pub const fn from_octets(octets: [u8; 16]) -> AddrKey {
        let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p] = octets;
        AddrKey([
            u64::from_ne_bytes([a, b, c, d, e, f, g, h]),
            u64::from_ne_bytes([i, j, k, l, m, n, o, p]),
        ])
    }

    #[inline(always)]
    pub const fn words(&self) -> [u64; 2] {
        self.0
    }

    #[inline(always)]
    pub const fn octets(&self) -> [u8; 16] {
        let [a, b, c, d, e, f, g, h] = self.0[0].to_ne_bytes();
        let [i, j, k, l, m, n, o, p] = self.0[1].to_ne_bytes();
        [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p]
    }

    #[inline(always)]
    pub const fn is_ipv4(&self) -> bool {
        self.0[0] == 0 && self.0[1] as u32 == u32::from_ne_bytes([0, 0, 0xff, 0xff])
    }

    /// The address, IPv4 for a mapped key.
    pub fn address(&self) -> IpAddr {
        Ipv6Addr::from(self.octets()).to_canonical()
    }
}

impl From<IpAddr> for AddrKey {
    fn from(address: IpAddr) -> AddrKey {
        match address {
            IpAddr::V4(v4) => AddrKey::ipv4(v4.octets()),
            IpAddr::V6(v6) => AddrKey::from_octets(v6.octets()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_keys_are_ipv4_mapped() {
        let address = core::net::Ipv4Addr::new(192, 0, 2, 7);
        let key = AddrKey::ipv4(address.octets());
        assert_eq!(key.octets(), address.to_ipv6_mapped().octets());
        assert!(key.is_ipv4());
        assert_eq!(key.address(), IpAddr::V4(address));
        assert_eq!(AddrKey::from(IpAddr::V4(address)), key);
    }

    #[test]
    fn ipv6_keys_are_the_address_octets() {
        let address: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let key = AddrKey::from(IpAddr::V6(address));
        assert_eq!(key.octets(), address.octets());
        assert_eq!(AddrKey::from_octets(address.octets()), key);
        assert!(!key.is_ipv4());
        assert_eq!(key.address(), IpAddr::V6(address));
    }
}

//! Source verification: before a probe may ban its source (or count toward `min_probes`, or
//! open a sweep sketch for it), the program asks the kernel's FIB for the route back to the
//! claimed source and compares it with the link the frame came in by. A frame whose source MAC
//! is not the route's next hop, or that came in on another interface than the route leaves by,
//! was forged: its claimed source is never banned for it.
//!
//! The kernel side is `source_check` in scanguard-ebpf; what it decides from the helper's
//! answer is [`judge`], here, so it is tested on the host. See docs/spoofing.md.

use crate::{addr::AddrKey, wire_struct};

/// Bridge ports (and other enslaved links) the program is attached to: port ifindex → the
/// ifindex of its master. The route to a container names the bridge, the frame comes in on the
/// container's port.
pub const BRIDGE_PORTS_MAP: &str = "BRIDGE_PORTS";
/// Ports known at once; a Docker host with more containers than this has ports whose probes
/// are found forged (dropped, never banned) until one leaves.
pub const BRIDGE_PORTS_CAPACITY: u32 = 4096;

/// The neighbour table as the daemon last read it (RTM_NEWNEIGH): next-hop address →
/// [`Neighbour`]. The kernel's entry for an address can be overwritten by any neighbour that
/// claims it: nmap's `-S` with IPv6 sends its neighbour solicitation from the forged address
/// with its own MAC, and `ndisc_recv_ns` (net/ipv6/ndisc.c) then overrides the entry, so the
/// route back names the forger. A next hop whose MAC changed recently vouches for no one.
pub const NEIGHBOURS_MAP: &str = "NEIGHBOURS";
pub const NEIGHBOURS_CAPACITY: u32 = 16_384;
/// How long a changed neighbour entry is distrusted: the kernel's `gc_stale_time` default,
/// after which an entry no one used is collected (Documentation/networking/ip-sysctl.rst).
pub const NEIGHBOUR_SETTLE_NS: u64 = 60_000_000_000;

/// A next hop's MAC as the daemon saw it in the neighbour table, and when it last changed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Neighbour {
    /// See [`mac_word`].
    pub mac: u64,
    /// Boot-clock time of the last change to another MAC; 0 if it never changed while
    /// watched.
    pub changed_ns: u64,
}
wire_struct!(Neighbour, 16);

impl Neighbour {
    /// The record after the table showed `mac` for the address at `now_ns`, given the
    /// record before (none for an address first seen).
    pub const fn seen(previous: Option<Neighbour>, mac: u64, now_ns: u64) -> Neighbour {
        let changed_ns = match previous {
            None => 0,
            Some(previous) if previous.mac == mac => previous.changed_ns,
            Some(_) => now_ns,
        };
        Neighbour { mac, changed_ns }
    }
}

/// Whether a next hop the route back names with `dmac` has settled: the daemon saw the same
/// MAC, and saw it change no sooner than [`NEIGHBOUR_SETTLE_NS`] ago. An address the daemon
/// has not seen yet is a new neighbour (a scanner that resolved this host's address a moment
/// ago), which is settled.
#[inline(always)]
pub fn settled(seen: Option<&Neighbour>, dmac: u64, now_ns: u64) -> bool {
    match seen {
        None => true,
        Some(seen) => {
            seen.mac == dmac
                && (seen.changed_ns == 0
                    || now_ns.saturating_sub(seen.changed_ns) >= NEIGHBOUR_SETTLE_NS)
        }
    }
}

/// The address `bpf_fib_lookup` left in its destination, the next hop, as a map key.
#[inline(always)]
pub const fn next_hop_key(family: u8, words: [u32; 4]) -> AddrKey {
    let [a, b, c, d] = words[0].to_ne_bytes();
    if family == AF_INET {
        return AddrKey::ipv4([a, b, c, d]);
    }
    let [e, f, g, h] = words[1].to_ne_bytes();
    let [i, j, k, l] = words[2].to_ne_bytes();
    let [m, n, o, p] = words[3].to_ne_bytes();
    AddrKey::from_octets([a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p])
}

/// The device the program looks routes up through: loopback, whose ifindex is fixed
/// (`LOOPBACK_IFINDEX`, include/net/flow.h; `loopback_net_init` in drivers/net/loopback.c
/// insists on it). An input lookup "from" loopback is the lookup of a locally sent packet: the
/// route this host would answer the source by. `bpf_ipv4_fib_lookup` and
/// `bpf_ipv6_fib_lookup` (net/core/filter.c) refuse any device without forwarding enabled
/// (BPF_FIB_LKUP_RET_FWD_DISABLED), so the daemon enables it on loopback, where nothing is
/// ever forwarded from.
pub const LOOKUP_IFINDEX: u32 = 1;

// Return values of bpf_fib_lookup (include/uapi/linux/bpf.h, `BPF_FIB_LKUP_RET_*`).
pub const FIB_SUCCESS: i64 = 0;
pub const FIB_BLACKHOLE: i64 = 1;
pub const FIB_UNREACHABLE: i64 = 2;
pub const FIB_PROHIBIT: i64 = 3;
pub const FIB_NOT_FORWARDED: i64 = 4;
pub const FIB_FORWARDING_DISABLED: i64 = 5;
pub const FIB_NO_NEIGHBOUR: i64 = 7;

/// `bpf_fib_lookup.family` (include/linux/socket.h).
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

/// What the route back says about a frame's claimed source.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The frame came from the route's next hop, on the route's interface: the source, or a
    /// router it sits behind.
    Verified = 0,
    /// The frame came from another MAC or another interface than the route back names.
    Forged = 1,
    /// The kernel cannot tell: no neighbour entry for the next hop, no route, a VLAN tag.
    Unverified = 2,
}

/// The link a frame came in by: its source MAC and ingress interface. A sweep sketch keeps its
/// creator's, so later records from elsewhere are verified again rather than counted.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sender {
    /// The source MAC in the low six bytes (see [`mac_word`]).
    pub mac: u64,
    pub ifindex: u32,
    pub _pad: u32,
}
wire_struct!(Sender, 16);

/// A MAC address as one word, so the program compares it in one instruction.
#[inline(always)]
pub const fn mac_word(mac: [u8; 6]) -> u64 {
    let [a, b, c, d, e, f] = mac;
    u64::from_le_bytes([a, b, c, d, e, f, 0, 0])
}

/// The helper's answer, as far as the verdict needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteBack {
    /// bpf_fib_lookup's return value.
    pub status: i64,
    /// The route's output device; set by the kernel on success and on NO_NEIGH.
    pub ifindex: u32,
    /// The next hop's MAC (see [`mac_word`]), on success.
    pub dmac: u64,
    /// The next hop is the claimed source itself (an on-link route), not a gateway.
    pub on_link: bool,
}

/// What the program decides, and where the daemon may ask the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    pub origin: Origin,
    /// Unverified for want of a neighbour entry for an on-link source: the device the daemon
    /// may ask who holds the address (0: nothing to ask).
    pub ask_ifindex: u32,
}

impl Checked {
    pub const VERIFIED: Checked = Checked {
        origin: Origin::Verified,
        ask_ifindex: 0,
    };
    pub const FORGED: Checked = Checked {
        origin: Origin::Forged,
        ask_ifindex: 0,
    };
    pub const UNVERIFIED: Checked = Checked {
        origin: Origin::Unverified,
        ask_ifindex: 0,
    };
}

/// The verdict on a frame from `sender` whose ingress interface is a port of `master` (0: of
/// none the daemon told the program of), given the route back to its claimed source.
///
/// `bpf_ipv4_fib_lookup` and `bpf_ipv6_fib_lookup` (net/core/filter.c) set the output
/// device before looking the next hop's neighbour up, and overwrite the destination with the
/// gateway when the route has one: so on success `dmac` is the source's own MAC for an on-link
/// source and the gateway's otherwise, and on NO_NEIGH the device is known too. A neighbour
/// entry counts once it is NUD_VALID, which includes STALE.
#[inline(always)]
pub fn judge(route: &RouteBack, sender: &Sender, master: u32) -> Checked {
    let same_link = route.ifindex == sender.ifindex || (master != 0 && route.ifindex == master);
    match route.status {
        FIB_SUCCESS if same_link && route.dmac == sender.mac => Checked::VERIFIED,
        FIB_SUCCESS => Checked::FORGED,
        // The route leaves by another interface: whoever sent this is not where the source is.
        FIB_NO_NEIGHBOUR if !same_link => Checked::FORGED,
        FIB_NO_NEIGHBOUR => Checked {
            origin: Origin::Unverified,
            ask_ifindex: if route.on_link { route.ifindex } else { 0 },
        },
        // No route, a blackhole, a local address, forwarding off on the lookup device, an
        // error: nothing to compare with.
        _ => Checked::UNVERIFIED,
    }
}

/// An address key as the four network-order words `bpf_fib_lookup` holds an IPv6 address in;
/// an IPv4 address is the last of them.
#[inline(always)]
pub const fn fib_words(key: &AddrKey) -> [u32; 4] {
    let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p] = key.octets();
    [
        u32::from_ne_bytes([a, b, c, d]),
        u32::from_ne_bytes([e, f, g, h]),
        u32::from_ne_bytes([i, j, k, l]),
        u32::from_ne_bytes([m, n, o, p]),
    ]
}

#[cfg(test)]
mod tests {
    use core::net::Ipv6Addr;

    use super::*;

    const CLIENT_MAC: [u8; 6] = [0x02, 0x77, 0, 0, 0, 3];
    const ATTACKER_MAC: [u8; 6] = [0x02, 0x77, 0, 0, 0, 2];
    const LAN: u32 = 4;
    const SECOND: u32 = 5;
    const DOCKER0: u32 = 9;

    fn from(mac: [u8; 6], ifindex: u32) -> Sender {
        Sender {
            mac: mac_word(mac),
            ifindex,
            _pad: 0,
        }
    }

    fn found(ifindex: u32, dmac: [u8; 6], on_link: bool) -> RouteBack {
        RouteBack {
            status: FIB_SUCCESS,
            ifindex,
            dmac: mac_word(dmac),
            on_link,
        }
    }

    #[test]
    fn the_next_hop_on_the_right_interface_is_verified() {
        let route = found(LAN, CLIENT_MAC, true);
        assert_eq!(judge(&route, &from(CLIENT_MAC, LAN), 0), Checked::VERIFIED);
    }

    #[test]
    fn another_mac_or_another_interface_is_forged() {
        let route = found(LAN, CLIENT_MAC, true);
        assert_eq!(judge(&route, &from(ATTACKER_MAC, LAN), 0), Checked::FORGED);
        assert_eq!(judge(&route, &from(CLIENT_MAC, SECOND), 0), Checked::FORGED);
        // An address beyond the gateway: only the gateway's MAC may carry it.
        let gateway_mac = [0x02, 0x77, 0, 0, 0, 0xfe];
        let beyond = found(LAN, gateway_mac, false);
        assert_eq!(
            judge(&beyond, &from(gateway_mac, LAN), 0),
            Checked::VERIFIED
        );
        assert_eq!(judge(&beyond, &from(ATTACKER_MAC, LAN), 0), Checked::FORGED);
    }

    #[test]
    fn a_bridge_port_stands_for_its_bridge() {
        let route = found(DOCKER0, CLIENT_MAC, true);
        let port = 12;
        assert_eq!(
            judge(&route, &from(CLIENT_MAC, port), DOCKER0),
            Checked::VERIFIED
        );
        assert_eq!(judge(&route, &from(CLIENT_MAC, port), 0), Checked::FORGED);
        assert_eq!(
            judge(&route, &from(ATTACKER_MAC, port), DOCKER0),
            Checked::FORGED
        );
    }

    #[test]
    fn without_a_neighbour_entry_only_the_interface_is_judged() {
        let no_neighbour = |on_link| RouteBack {
            status: FIB_NO_NEIGHBOUR,
            ifindex: LAN,
            dmac: 0,
            on_link,
        };
        assert_eq!(
            judge(&no_neighbour(true), &from(ATTACKER_MAC, LAN), 0),
            Checked {
                origin: Origin::Unverified,
                ask_ifindex: LAN
            }
        );
        // A gateway without an entry is not the source's to resolve.
        assert_eq!(
            judge(&no_neighbour(false), &from(ATTACKER_MAC, LAN), 0),
            Checked::UNVERIFIED
        );
        assert_eq!(
            judge(&no_neighbour(true), &from(ATTACKER_MAC, SECOND), 0),
            Checked::FORGED
        );
    }

    #[test]
    fn no_route_and_refusals_are_unverified() {
        for status in [
            FIB_BLACKHOLE,
            FIB_UNREACHABLE,
            FIB_PROHIBIT,
            FIB_NOT_FORWARDED,
            FIB_FORWARDING_DISABLED,
            -19,
        ] {
            let route = RouteBack {
                status,
                ifindex: LOOKUP_IFINDEX,
                dmac: 0,
                on_link: false,
            };
            assert_eq!(
                judge(&route, &from(CLIENT_MAC, LAN), 0),
                Checked::UNVERIFIED,
                "{status}"
            );
        }
    }

    #[test]
    fn a_next_hop_whose_mac_just_changed_vouches_for_no_one() {
        const MINUTE: u64 = NEIGHBOUR_SETTLE_NS;
        let client = mac_word(CLIENT_MAC);
        let attacker = mac_word(ATTACKER_MAC);
        assert!(settled(None, attacker, 5), "a new neighbour");
        let first = Neighbour::seen(None, client, 5);
        assert_eq!(first.changed_ns, 0);
        assert!(settled(Some(&first), client, 10));
        // The kernel's entry changed before the daemon read it.
        assert!(!settled(Some(&first), attacker, 10));
        let poisoned = Neighbour::seen(Some(first), attacker, 20);
        assert_eq!(poisoned.changed_ns, 20);
        assert!(!settled(Some(&poisoned), attacker, 20 + MINUTE - 1));
        assert!(settled(Some(&poisoned), attacker, 20 + MINUTE));
        // The same MAC again is no change.
        assert_eq!(Neighbour::seen(Some(poisoned), attacker, 99), poisoned);
    }

    #[test]
    fn next_hops_become_keys() {
        let v4 = fib_words(&AddrKey::ipv4([10, 77, 0, 4]));
        assert_eq!(
            next_hop_key(AF_INET, [v4[3], 0, 0, 0]),
            AddrKey::ipv4([10, 77, 0, 4])
        );
        let v6 = AddrKey::from_octets(Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 4).octets());
        assert_eq!(next_hop_key(AF_INET6, fib_words(&v6)), v6);
    }

    #[test]
    fn macs_and_addresses_take_the_helpers_layout() {
        assert_eq!(
            mac_word(CLIENT_MAC).to_le_bytes(),
            [2, 0x77, 0, 0, 0, 3, 0, 0]
        );
        let v4 = fib_words(&AddrKey::ipv4([10, 77, 0, 3]));
        assert_eq!(v4[3].to_ne_bytes(), [10, 77, 0, 3]);
        let v6 = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 3);
        let words = fib_words(&AddrKey::from_octets(v6.octets()));
        assert_eq!(words[0].to_ne_bytes(), [0xfd, 0x77, 0, 0]);
        assert_eq!(words[3].to_ne_bytes(), [0, 0, 0, 3]);
    }
}

//! The shapes of known scanners' raw SYN probes, so the log says which tool it looks like and a
//! config can act on it. Real stacks send several TCP options (MSS, SACK, window scale,
//! timestamps) and a window far from 1024; these tools craft their SYNs by hand.

#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fingerprint {
    None = 0,
    /// nmap: window 1024, MSS 1460 as the only option, initial TTL 37-59.
    Nmap = 1,
    /// masscan: window 1024, TTL 255, MSS 1460 as the only option.
    Masscan = 2,
    /// zmap: window 65535, no options at all.
    Zmap = 3,
    /// The IP ID 54321 many raw-socket tools use.
    RawIpId = 4,
}

/// What the TCP options of a SYN amount to, as far as fingerprints care.
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TcpOptions {
    /// Data offset 5: no options.
    #[default]
    None = 0,
    /// Exactly one option, MSS 1460.
    Mss1460Only = 1,
    Other = 2,
}

const RAW_TOOL_IP_ID: u16 = 54_321;
const NMAP_MAX_INITIAL_TTL: u8 = 59;

impl Fingerprint {
    pub const ALL: [Fingerprint; 4] = [
        Fingerprint::Nmap,
        Fingerprint::Masscan,
        Fingerprint::Zmap,
        Fingerprint::RawIpId,
    ];

    /// Fingerprints a bare SYN. The TTL is the received one: it only shrinks on the way, so
    /// nmap's 37-59 arrives at 59 or less.
    #[inline(always)]
    pub fn of_syn(window: u16, options: TcpOptions, ttl: u8, ip_id: u16) -> Fingerprint {
        match (window, options) {
            (1024, TcpOptions::Mss1460Only) if ttl == 255 => Fingerprint::Masscan,
            (1024, TcpOptions::Mss1460Only) if ttl <= NMAP_MAX_INITIAL_TTL => Fingerprint::Nmap,
            (65535, TcpOptions::None) => Fingerprint::Zmap,
            _ if ip_id == RAW_TOOL_IP_ID => Fingerprint::RawIpId,
            _ => Fingerprint::None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Fingerprint::None => "none",
            Fingerprint::Nmap => "nmap",
            Fingerprint::Masscan => "masscan",
            Fingerprint::Zmap => "zmap",
            Fingerprint::RawIpId => "raw-ip-id",
        }
    }

    pub fn from_name(name: &str) -> Option<Fingerprint> {
        Fingerprint::ALL
            .into_iter()
            .find(|fingerprint| fingerprint.name() == name)
    }

    pub const fn from_u8(value: u8) -> Fingerprint {
        match value {
            1 => Fingerprint::Nmap,
            2 => Fingerprint::Masscan,
            3 => Fingerprint::Zmap,
            4 => Fingerprint::RawIpId,
            _ => Fingerprint::None,
        }
    }

    /// Its bit in `Config::fingerprint_mask`.
    pub const fn bit(self) -> u8 {
        1 << self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_scanners() {
        assert_eq!(
            Fingerprint::of_syn(1024, TcpOptions::Mss1460Only, 48, 1),
            Fingerprint::Nmap
        );
        assert_eq!(
            Fingerprint::of_syn(1024, TcpOptions::Mss1460Only, 255, 1),
            Fingerprint::Masscan
        );
        assert_eq!(
            Fingerprint::of_syn(65535, TcpOptions::None, 64, 1),
            Fingerprint::Zmap
        );
        assert_eq!(
            Fingerprint::of_syn(512, TcpOptions::Other, 64, 54321),
            Fingerprint::RawIpId
        );
    }

    #[test]
    fn real_stacks_are_not_scanners() {
        // Linux, Windows, macOS SYNs: big windows, several options, TTL 64/128/255.
        assert_eq!(
            Fingerprint::of_syn(64240, TcpOptions::Other, 64, 1),
            Fingerprint::None
        );
        assert_eq!(
            Fingerprint::of_syn(64240, TcpOptions::Other, 128, 7),
            Fingerprint::None
        );
        assert_eq!(
            Fingerprint::of_syn(65535, TcpOptions::Other, 64, 9),
            Fingerprint::None
        );
        assert_eq!(
            Fingerprint::of_syn(1024, TcpOptions::Mss1460Only, 64, 9),
            Fingerprint::None
        );
    }

    #[test]
    fn names_round_trip() {
        for fingerprint in Fingerprint::ALL {
            assert_eq!(
                Fingerprint::from_name(fingerprint.name()),
                Some(fingerprint)
            );
            assert_eq!(Fingerprint::from_u8(fingerprint as u8), fingerprint);
        }
    }
}

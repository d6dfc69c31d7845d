//! The kinds of scan probe scanguard recognises, with their stable names.

/// A kind of scan probe. The discriminant indexes per-kind arrays in maps; the name is used in
/// logs, JSON and docs and never changes.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// No TCP control flag at all (nmap `-sN`).
    NullScan = 0,
    /// FIN alone (nmap `-sF`).
    FinScan = 1,
    /// FIN+PSH+URG (nmap `-sX`) and every other flag combination no TCP stack sends.
    XmasScan = 2,
    /// A bare SYN to a watched port (nmap `-sS` against rarely used services).
    SynScan = 3,
    /// A connection attempt to a trap port (honeypot sensor mode).
    TrapPort = 4,
    /// Many distinct ports probed in a short window (`-sS`/`-sT`/`-sU`/`-sY` over any ports).
    PortSweep = 5,
    /// An IPv4 first fragment too short to hold the TCP flags, or one overwriting them
    /// (nmap `-f`, RFC 1858).
    TinyFragment = 6,
    /// A bare ACK outside any connection this host takes part in (nmap `-sA`, `-sW`).
    AckScan = 7,
    /// FIN+ACK outside any connection (nmap `-sM`, Maimon).
    MaimonScan = 8,
    /// A datagram to a watched UDP port outside any flow (nmap `-sU`).
    UdpProbe = 9,
    /// A SYN shaped like a known scanner's raw probe (see `fingerprint`).
    Fingerprint = 10,
    /// Default-deny sensor mode: inbound TCP to a port that is not open, outside any flow.
    Denied = 11,
    /// Many distinct ports probed in a long window, one at a time (nmap `-T1`, `--scan-delay`).
    SlowSweep = 12,
    /// An SCTP COOKIE ECHO to a port no SCTP service listens on (nmap `-sZ`).
    SctpProbe = 13,
}

/// Size of per-kind arrays in maps; leaves room for kinds added later without a layout change.
pub const MAX_KINDS: usize = 16;

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::NullScan,
        Kind::FinScan,
        Kind::XmasScan,
        Kind::SynScan,
        Kind::TrapPort,
        Kind::PortSweep,
        Kind::TinyFragment,
        Kind::AckScan,
        Kind::MaimonScan,
        Kind::UdpProbe,
        Kind::Fingerprint,
        Kind::Denied,
        Kind::SlowSweep,
        Kind::SctpProbe,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Kind::NullScan => "null-scan",
            Kind::FinScan => "fin-scan",
            Kind::XmasScan => "xmas-scan",
            Kind::SynScan => "syn-scan",
            Kind::TrapPort => "trap-port",
            Kind::PortSweep => "port-sweep",
            Kind::TinyFragment => "tiny-fragment",
            Kind::AckScan => "ack-scan",
            Kind::MaimonScan => "maimon-scan",
            Kind::UdpProbe => "udp-probe",
            Kind::Fingerprint => "fingerprint",
            Kind::Denied => "denied",
            Kind::SlowSweep => "slow-sweep",
            Kind::SctpProbe => "sctp-probe",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    pub fn from_u8(value: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(value)).copied()
    }

    /// The kind's slot in per-kind arrays of `MAX_KINDS`. The mask changes no value; it keeps
    /// the bound in sight of LLVM where a kind comes out of merged paths in the XDP program,
    /// which would otherwise keep a bounds check (and a panic the verifier refuses).
    pub const fn index(self) -> usize {
        self as usize % MAX_KINDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discriminants_index_all_in_order() {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i);
            assert_eq!(Kind::from_u8(i as u8), Some(kind));
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
        }
        assert!(Kind::ALL.len() <= MAX_KINDS);
        assert_eq!(Kind::from_u8(Kind::ALL.len() as u8), None);
        assert_eq!(Kind::from_name("nope"), None);
    }
}

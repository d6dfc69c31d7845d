//! The pure classifier: TCP flags and the destination port's roles in, scan kind out.
//!
//! Which flag combinations are impossible follows RFC 9293:
//! - Every segment after the initial SYN carries ACK (section 3.10.7.4 drops a segment without
//!   ACK in any synchronized state), so the only segments a real stack sends without ACK are a
//!   connection request (SYN, possibly with ECE/CWR for ECN, RFC 3168) and a reset answering a
//!   segment that carried ACK (section 3.10.7.1). Any other segment without ACK is a probe:
//!   FIN alone is `fin-scan`, no flag at all is `null-scan`, the rest is `xmas-scan`
//!   (FIN+PSH+URG is nmap's `-sX`; PSH alone, URG alone, FIN+PSH, ... are variants).
//! - SYN+FIN: opening and closing in one segment; no stack sends it (and it once slipped past
//!   filters that matched on SYN alone).
//! - SYN+RST and FIN+RST: a reset aborts, it neither opens nor closes gracefully (3.10.7.1:
//!   a RST segment carries no other control).
//!   These three are `xmas-scan` with or without ACK.

use crate::{
    kind::Kind,
    ports::{ROLE_PROTECTED, ROLE_TRAP, ROLE_WATCHED},
};

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;
pub const ECE: u8 = 0x40;
pub const CWR: u8 = 0x80;

/// The six control bits of RFC 793; ECE and CWR only qualify ECN and never decide a kind.
pub const CONTROL: u8 = FIN | SYN | RST | PSH | ACK | URG;

/// Classifies one TCP segment. `port_roles` are the `ROLE_*` bits of its destination port.
#[inline(always)]
pub fn classify_tcp(flags: u8, port_roles: u8) -> Option<Kind> {
    if port_roles & ROLE_PROTECTED != 0 {
        return None;
    }
    let control = flags & CONTROL;
    if let Some(kind) = classify_flags(control) {
        return Some(kind);
    }
    // Only a connection request is left to judge by its port.
    if control & (SYN | ACK) != SYN {
        return None;
    }
    if port_roles & ROLE_TRAP != 0 {
        Some(Kind::TrapPort)
    } else if port_roles & ROLE_WATCHED != 0 {
        Some(Kind::SynScan)
    } else {
        None
    }
}

/// A segment that only makes sense inside a connection: when none exists, it is a stateless
/// probe. Bare ACK is nmap's `-sA` and `-sW`; FIN+ACK is Maimon's `-sM`.
#[inline(always)]
pub fn classify_stateless(flags: u8) -> Option<Kind> {
    match flags & CONTROL {
        ACK => Some(Kind::AckScan),
        f if f == FIN | ACK => Some(Kind::MaimonScan),
        _ => None,
    }
}

/// Whether a segment opens a connection: counted toward port sweeps and fingerprinted.
#[inline(always)]
pub const fn is_connection_request(flags: u8) -> bool {
    flags & (SYN | ACK | FIN | RST) == SYN
}

/// Flag combinations that are a probe whatever the port.
#[inline(always)]
fn classify_flags(control: u8) -> Option<Kind> {
    let both = |a: u8, b: u8| control & (a | b) == a | b;
    if both(SYN, FIN) || both(SYN, RST) || both(FIN, RST) {
        return Some(Kind::XmasScan);
    }
    if control & ACK != 0 {
        return None;
    }
    match control {
        0 => Some(Kind::NullScan),
        FIN => Some(Kind::FinScan),
        RST => None,
        _ if control & SYN != 0 => None,
        _ => Some(Kind::XmasScan),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference answer for every flags byte, written independently of the code above.
    fn expected(flags: u8, roles: u8) -> Option<Kind> {
        if roles & ROLE_PROTECTED != 0 {
            return None;
        }
        let has = |f: u8| flags & f != 0;
        let (syn, ack) = (has(SYN), has(ACK));
        // Two or more of the "conversation verbs" at once.
        if [FIN, SYN, RST].into_iter().filter(|f| has(*f)).count() >= 2 {
            return Some(Kind::XmasScan);
        }
        if ack {
            return None;
        }
        if flags & CONTROL == 0 {
            return Some(Kind::NullScan);
        }
        if flags & CONTROL == FIN {
            return Some(Kind::FinScan);
        }
        if flags & CONTROL == RST {
            return None;
        }
        if syn {
            return if roles & ROLE_TRAP != 0 {
                Some(Kind::TrapPort)
            } else if roles & ROLE_WATCHED != 0 {
                Some(Kind::SynScan)
            } else {
                None
            };
        }
        Some(Kind::XmasScan)
    }

    #[test]
    fn every_flags_byte_and_port_role_matches_the_reference() {
        for flags in 0..=u8::MAX {
            for roles in 0..8 {
                assert_eq!(
                    classify_tcp(flags, roles),
                    expected(flags, roles),
                    "flags {flags:#04x} roles {roles:#03b}"
                );
            }
        }
    }

    #[test]
    fn nmap_probes() {
        assert_eq!(classify_tcp(0, 0), Some(Kind::NullScan));
        assert_eq!(classify_tcp(FIN, 0), Some(Kind::FinScan));
        assert_eq!(classify_tcp(FIN | PSH | URG, 0), Some(Kind::XmasScan));
        assert_eq!(classify_tcp(SYN, ROLE_WATCHED), Some(Kind::SynScan));
        assert_eq!(classify_tcp(SYN, ROLE_TRAP), Some(Kind::TrapPort));
        assert_eq!(
            classify_tcp(SYN, ROLE_TRAP | ROLE_WATCHED),
            Some(Kind::TrapPort)
        );
    }

    #[test]
    fn every_segment_a_real_stack_sends_is_benign() {
        let benign = [
            SYN,
            SYN | ECE | CWR,
            SYN | ACK,
            SYN | ACK | ECE,
            ACK,
            ACK | PSH,
            FIN | ACK,
            FIN | PSH | ACK,
            RST,
            RST | ACK,
            ACK | URG | PSH,
            ACK | CWR,
        ];
        for flags in benign {
            assert_eq!(classify_tcp(flags, 0), None, "flags {flags:#04x}");
        }
        // A connection attempt to an ordinary port is fine; to a watched one it is a probe.
        assert_eq!(classify_tcp(SYN | ACK, ROLE_WATCHED), None);
        assert_eq!(classify_tcp(ACK, ROLE_TRAP), None);
    }

    #[test]
    fn impossible_combinations_are_xmas_with_or_without_ack() {
        for flags in [
            SYN | FIN,
            SYN | RST,
            FIN | RST,
            SYN | FIN | ACK,
            RST | FIN | ACK,
            CONTROL,
        ] {
            assert_eq!(classify_tcp(flags, 0), Some(Kind::XmasScan), "{flags:#04x}");
        }
        for flags in [PSH, URG, FIN | PSH, FIN | URG, PSH | URG] {
            assert_eq!(classify_tcp(flags, 0), Some(Kind::XmasScan), "{flags:#04x}");
        }
        // ECN bits alone carry no control: still a NULL scan.
        for flags in [ECE, CWR, ECE | CWR] {
            assert_eq!(classify_tcp(flags, 0), Some(Kind::NullScan), "{flags:#04x}");
        }
    }

    #[test]
    fn only_bare_ack_and_fin_ack_are_stateless_probes() {
        for flags in 0..=u8::MAX {
            let expected = match flags & CONTROL {
                ACK => Some(Kind::AckScan),
                0x11 => Some(Kind::MaimonScan),
                _ => None,
            };
            assert_eq!(classify_stateless(flags), expected, "{flags:#04x}");
        }
        // So the program may skip the classifier for them.
        for flags in [ACK, FIN | ACK, ACK | ECE | CWR] {
            for roles in 0..8 {
                assert_eq!(
                    classify_tcp(flags, roles),
                    None,
                    "{flags:#04x} {roles:#03b}"
                );
            }
        }
        assert!(is_connection_request(SYN | ECE | CWR));
        assert!(!is_connection_request(SYN | ACK));
    }

    #[test]
    fn protected_ports_never_trigger() {
        for flags in 0..=u8::MAX {
            assert_eq!(
                classify_tcp(flags, ROLE_PROTECTED | ROLE_WATCHED | ROLE_TRAP),
                None
            );
        }
    }
}

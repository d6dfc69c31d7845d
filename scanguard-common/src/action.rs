//! What the program does with a detected probe.

use crate::kind::Kind;

#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Pass the packet and do not count it.
    Ignore = 0,
    /// Pass the packet, count it and report it.
    Log = 1,
    /// Drop this packet only.
    Drop = 2,
    /// Drop this packet and every later packet from its source until the ban expires.
    Ban = 3,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Ignore, Action::Log, Action::Drop, Action::Ban];

    pub const fn name(self) -> &'static str {
        match self {
            Action::Ignore => "ignore",
            Action::Log => "log",
            Action::Drop => "drop",
            Action::Ban => "ban",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.name() == name)
    }

    /// Unknown values fail open: a corrupt config never makes the program drop.
    pub const fn from_u8(value: u8) -> Action {
        match value {
            1 => Action::Log,
            2 => Action::Drop,
            3 => Action::Ban,
            _ => Action::Ignore,
        }
    }

    /// Stealth scans are never legitimate, so they are banned. Trap ports and fingerprints are
    /// a sensor's business, so they are only logged unless the operator asks for more. In
    /// default-deny mode the packet is dropped anyway; each probe is reported, nobody banned.
    pub const fn default_for(kind: Kind) -> Action {
        match kind {
            Kind::TrapPort | Kind::Fingerprint => Action::Log,
            Kind::Denied => Action::Drop,
            Kind::NullScan
            | Kind::FinScan
            | Kind::XmasScan
            | Kind::SynScan
            | Kind::PortSweep
            | Kind::TinyFragment
            | Kind::AckScan
            | Kind::MaimonScan
            | Kind::UdpProbe
            | Kind::SlowSweep
            | Kind::SctpProbe => Action::Ban,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_fails_open() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
            assert_eq!(Action::from_u8(action as u8), action);
        }
        assert_eq!(Action::from_u8(200), Action::Ignore);
    }
}

//! The scenario matrix: real nmap scans and TCP connections across the [`DemoLab`], each with
//! what scanguard should make of it. [`baseline`] plays the probes without scanguard, [`run`]
//! plays every scenario with scanguard attached and returns one [`Row`] per scenario: nmap's
//! verdict before and after, what scanguard detected, logged and banned.

mod play;
mod probes;
mod row;
mod table;

use std::net::IpAddr;

pub use play::{Baseline, baseline, run};
pub use row::{Outcome, Row};
pub use table::summary_table;

use super::{CLOSED_PORT, DemoLab, HONEYPOT_PORT, MANAGEMENT_PORT, TELNET_PORT, WEB_PORT};
use crate::Host;

/// A connection that got the service's banner.
pub const CONNECTED: &str = "connected";
/// A connection whose SYNs went unanswered: what a banned source sees.
pub const TIMED_OUT: &str = "timed out";
pub const REFUSED: &str = "refused";

/// Who takes part in a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Attacker,
    Client,
    Victim,
    /// The container serving the web on the Docker-shaped bridge.
    Web,
    /// The container that scans its neighbour.
    Scanner,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Attacker => "attacker",
            Role::Client => "client",
            Role::Victim => "victim",
            Role::Web => "web container",
            Role::Scanner => "scanner container",
        }
    }

    pub fn host(self, lab: &DemoLab) -> &Host {
        match self {
            Role::Attacker => &lab.attacker,
            Role::Client => &lab.client,
            Role::Victim => &lab.victim,
            Role::Web => &lab.web.inside,
            Role::Scanner => &lab.scanner.inside,
        }
    }

    pub fn address(self, lab: &DemoLab) -> IpAddr {
        self.host(lab).ipv4.into()
    }
}

/// What a scenario does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `nmap <flag>` of one port; "before" is the same scan without scanguard.
    Nmap(&'static str),
    /// `nmap <flag> -D <decoy>,ME` of one port: the scan hidden among probes that claim to come
    /// from `decoy`, who must not be banned for them (docs/spoofing.md).
    Decoys(&'static str, Role),
    /// A TCP connection that reads the service's banner; "before" is the same without scanguard.
    Connect,
    /// `scanguard unban <from>`; "before" and "after" are connections just before and after.
    Unban,
    /// Waits for `from`'s ban to run out; "before" and "after" are connections around the wait.
    Expire,
}

/// What scanguard should make of a scenario.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    /// The kind `scanguard stats` counts, if any.
    pub detected: Option<&'static str>,
    /// Whether `from` is in `scanguard bans` right after the step.
    pub banned: bool,
    /// nmap's state or the connection's outcome without scanguard (or before the action).
    pub before: &'static [&'static str],
    /// ... and with scanguard (or after the action).
    pub after: &'static [&'static str],
}

#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// Stable and short, for tests to pick a row.
    pub id: &'static str,
    pub title: &'static str,
    pub from: Role,
    pub to: Role,
    pub port: u16,
    pub step: Step,
    /// Lift `from`'s ban afterwards, so the next scan starts clean.
    pub then_unban: bool,
    pub expect: Expect,
}

const fn scan(
    id: &'static str,
    title: &'static str,
    (from, to, port): (Role, Role, u16),
    flag: &'static str,
    then_unban: bool,
    expect: Expect,
) -> Scenario {
    Scenario {
        id,
        title,
        from,
        to,
        port,
        step: Step::Nmap(flag),
        then_unban,
        expect,
    }
}

const fn other(
    id: &'static str,
    title: &'static str,
    (from, to, port): (Role, Role, u16),
    step: Step,
    expect: Expect,
) -> Scenario {
    Scenario {
        id,
        title,
        from,
        to,
        port,
        step,
        then_unban: false,
        expect,
    }
}

const fn banning(kind: &'static str, after: &'static [&'static str]) -> Expect {
    Expect {
        detected: Some(kind),
        banned: true,
        before: &["closed"],
        after,
    }
}

const fn unaffected(outcome: &'static [&'static str]) -> Expect {
    Expect {
        detected: None,
        banned: false,
        before: outcome,
        after: outcome,
    }
}

const STEALTH_HIDDEN: &[&str] = &["open|filtered"];
const SYN_HIDDEN: &[&str] = &["filtered"];
const ATTACKER_TO_WEB: (Role, Role, u16) = (Role::Attacker, Role::Victim, WEB_PORT);
const ATTACKER_TO_CLOSED: (Role, Role, u16) = (Role::Attacker, Role::Victim, CLOSED_PORT);

/// The matrix, in the order it is played: each scenario starts where the previous one left off
/// (a scan bans the attacker, the next connection finds it banned, and so on). Expiry is watched
/// on the attacker's first ban: a repeat offender's bans may be longer. Later bans are lifted
/// with `scanguard unban`.
pub const SCENARIOS: &[Scenario] = &[
    other(
        "client-connects",
        "benign client connects to the victim's web server",
        (Role::Client, Role::Victim, WEB_PORT),
        Step::Connect,
        unaffected(&[CONNECTED]),
    ),
    scan(
        "trap-port",
        "SYN scan of the honeypot sshd (trap port: logged, not banned)",
        (Role::Attacker, Role::Victim, HONEYPOT_PORT),
        "-sS",
        false,
        Expect {
            detected: Some("trap-port"),
            ..unaffected(&["open"])
        },
    ),
    scan(
        "protected-port",
        "Xmas scan of the real sshd (protected port: left alone)",
        (Role::Attacker, Role::Victim, MANAGEMENT_PORT),
        "-sX",
        false,
        unaffected(&["open|filtered"]),
    ),
    scan(
        "null-scan",
        "NULL scan of a closed port",
        ATTACKER_TO_CLOSED,
        "-sN",
        false,
        banning("null-scan", STEALTH_HIDDEN),
    ),
    other(
        "banned-connect",
        "attacker connects to the web server while banned",
        ATTACKER_TO_WEB,
        Step::Connect,
        Expect {
            detected: None,
            banned: true,
            before: &[CONNECTED],
            after: &[TIMED_OUT],
        },
    ),
    other(
        "client-unaffected",
        "benign client connects while the attacker is banned",
        (Role::Client, Role::Victim, WEB_PORT),
        Step::Connect,
        unaffected(&[CONNECTED]),
    ),
    other(
        "expiry",
        "the attacker's first ban runs out after ban_seconds",
        ATTACKER_TO_WEB,
        Step::Expire,
        Expect {
            detected: None,
            banned: false,
            before: &[TIMED_OUT],
            after: &[CONNECTED],
        },
    ),
    scan(
        "fin-scan",
        "FIN scan of a closed port",
        ATTACKER_TO_CLOSED,
        "-sF",
        false,
        banning("fin-scan", STEALTH_HIDDEN),
    ),
    other(
        "unban",
        "`scanguard unban` lifts the attacker's ban",
        ATTACKER_TO_WEB,
        Step::Unban,
        Expect {
            detected: None,
            banned: false,
            before: &[TIMED_OUT],
            after: &[CONNECTED],
        },
    ),
    scan(
        "xmas-scan",
        "Xmas scan of a closed port",
        ATTACKER_TO_CLOSED,
        "-sX",
        true,
        banning("xmas-scan", STEALTH_HIDDEN),
    ),
    scan(
        "syn-scan",
        "SYN scan of telnet (a watched port)",
        (Role::Attacker, Role::Victim, TELNET_PORT),
        "-sS",
        true,
        banning("syn-scan", SYN_HIDDEN),
    ),
    other(
        "framing",
        "NULL scan with the benign client as a decoy: only the attacker is banned",
        ATTACKER_TO_CLOSED,
        Step::Decoys("-sN", Role::Client),
        banning("null-scan", STEALTH_HIDDEN),
    ),
    other(
        "framed-client",
        "the client the decoys claimed to be connects: not banned",
        (Role::Client, Role::Victim, WEB_PORT),
        Step::Connect,
        unaffected(&[CONNECTED]),
    ),
    other(
        "framer-banned",
        "the attacker behind the decoys connects to the web server while banned",
        ATTACKER_TO_WEB,
        Step::Connect,
        Expect {
            detected: None,
            banned: true,
            before: &[CONNECTED],
            after: &[TIMED_OUT],
        },
    ),
    scan(
        "container-scan",
        "container SYN-scans its neighbour's telnet across the Docker bridge",
        (Role::Scanner, Role::Web, TELNET_PORT),
        "-sS",
        false,
        banning("syn-scan", SYN_HIDDEN),
    ),
    other(
        "container-banned",
        "the scanning container connects to its neighbour's web server while banned",
        (Role::Scanner, Role::Web, WEB_PORT),
        Step::Connect,
        Expect {
            detected: None,
            banned: true,
            before: &[CONNECTED],
            after: &[TIMED_OUT],
        },
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_ids_are_unique_and_scans_ban_only_what_they_detect() {
        let mut ids: Vec<_> = SCENARIOS.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), SCENARIOS.len());
        for scenario in SCENARIOS {
            if scenario.expect.banned && matches!(scenario.step, Step::Nmap(_)) {
                assert!(scenario.expect.detected.is_some(), "{}", scenario.id);
            }
        }
    }
}

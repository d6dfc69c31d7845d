//! What the traffic crosses: nothing, scanguard at each hook it can use, xdp-filter, or the
//! classic iptables rules; each set up on a path's filtered interfaces and removed on drop.

use std::{net::Ipv4Addr, path::Path};

use anyhow::Result;
use serde::Serialize;

use super::paths::TrafficPath;
use crate::{
    attach::Attach,
    flood::{
        netfilter::{CLASSIC_RULES, Counters, Netfilter},
        xdp_filter::XdpFilterSession,
    },
};

/// A source no test traffic comes from (TEST-NET-2): the filters hold one entry, as they
/// would with a ban in force, and drop nothing here. Not TEST-NET-1, which some hosts use for
/// their gateway, and `ban` refuses a gateway.
const BANNED: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The classic rules' own chain, jumped to from the path's chain: removing them then touches
/// no one else's rules (on a Docker host, FORWARD holds Docker's).
const CLASSIC_CHAIN: &str = "sgbench-classic";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrafficMethod {
    Nothing,
    /// `attach` as users run it: `--mode auto`.
    ScanguardAuto,
    ScanguardNative,
    ScanguardSkb,
    ScanguardTc,
    XdpFilter,
    Classic,
    /// Nothing attached, a second time: its ratio to the first is the run's noise floor.
    NothingAgain,
}

impl TrafficMethod {
    /// In the order they alternate; the noise control last, the furthest from the first.
    pub const ALL: [TrafficMethod; 8] = [
        TrafficMethod::Nothing,
        TrafficMethod::ScanguardAuto,
        TrafficMethod::ScanguardNative,
        TrafficMethod::ScanguardSkb,
        TrafficMethod::ScanguardTc,
        TrafficMethod::XdpFilter,
        TrafficMethod::Classic,
        TrafficMethod::NothingAgain,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            TrafficMethod::Nothing => "nothing attached",
            TrafficMethod::ScanguardAuto => "scanguard, --mode auto (the default)",
            TrafficMethod::ScanguardNative => "scanguard, native XDP",
            TrafficMethod::ScanguardSkb => "scanguard, generic XDP (skb)",
            TrafficMethod::ScanguardTc => "scanguard, TC ingress (TCX)",
            TrafficMethod::XdpFilter => "xdp-filter (xdp-tools), native",
            TrafficMethod::Classic => "classic iptables rules, -m recent",
            TrafficMethod::NothingAgain => "nothing attached, again (noise control)",
        }
    }

    const fn scanguard_mode(self) -> Option<&'static str> {
        match self {
            TrafficMethod::ScanguardAuto => Some("auto"),
            TrafficMethod::ScanguardNative => Some("native"),
            TrafficMethod::ScanguardSkb => Some("skb"),
            TrafficMethod::ScanguardTc => Some("tc"),
            _ => None,
        }
    }
}

/// A method in place, held only to be dropped: dropping it removes it.
pub enum Installed {
    Nothing,
    Scanguard { _attach: Attach },
    XdpFilter { _sessions: Vec<XdpFilterSession> },
    Netfilter { _rules: Netfilter },
}

pub fn install(method: TrafficMethod, path: &TrafficPath, scanguard: &Path) -> Result<Installed> {
    if let Some(mode) = method.scanguard_mode() {
        let mut args: Vec<&str> = path.attach_args.iter().map(String::as_str).collect();
        args.extend(["--mode", mode]);
        let env: Vec<(&str, &str)> = path
            .docker_host
            .iter()
            .map(|host| ("DOCKER_HOST", host.as_str()))
            .collect();
        let attach = Attach::start_in(scanguard, &path.filter_netns, &args, "", &env)?;
        attach.cli(&["ban", &BANNED.to_string(), "--for", "1h"])?;
        return Ok(Installed::Scanguard { _attach: attach });
    }
    match method {
        TrafficMethod::XdpFilter => path
            .filtered
            .iter()
            .map(|interface| XdpFilterSession::start(&path.filter_host_of(interface), BANNED))
            .collect::<Result<_>>()
            .map(|sessions| Installed::XdpFilter {
                _sessions: sessions,
            }),
        TrafficMethod::Classic => {
            let iptables = |action: &'static str, rest: &[&'static str]| -> Vec<&str> {
                ["iptables", action].iter().chain(rest).copied().collect()
            };
            let jump = |action| {
                let mut command = iptables(action, &[path.classic_chain]);
                command.extend(path.classic_match);
                command.extend(["-j", CLASSIC_CHAIN]);
                command
            };
            let mut commands = vec![iptables("-N", &[CLASSIC_CHAIN])];
            commands.extend(CLASSIC_RULES.iter().map(|rule| {
                let mut command = iptables("-A", &[CLASSIC_CHAIN]);
                command.extend(rule.split_whitespace());
                command
            }));
            commands.push(jump("-I"));
            let preban = format!("echo +{BANNED} > /proc/net/xt_recent/portscan");
            commands.push(vec!["sh", "-c", &preban]);
            Netfilter::install(
                &path.filter_host(),
                &commands,
                Counters::Iptables {
                    table: "filter",
                    chain: CLASSIC_CHAIN,
                },
                &[
                    jump("-D"),
                    iptables("-F", &[CLASSIC_CHAIN]),
                    iptables("-X", &[CLASSIC_CHAIN]),
                ],
            )
            .map(|rules| Installed::Netfilter { _rules: rules })
        }
        _ => Ok(Installed::Nothing),
    }
}

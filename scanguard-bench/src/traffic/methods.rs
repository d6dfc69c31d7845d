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

/// A source no test traffic comes from (TEST-NET-1): the filters hold one entry, as they
/// would with a ban in force, and drop nothing here.
const BANNED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

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
        let host = path.filter_host(&path.attach_target);
        let attach = Attach::start(scanguard, &host, &[&path.attach_target, "--mode", mode], "")?;
        attach.cli(&["ban", &BANNED.to_string(), "--for", "1h"])?;
        return Ok(Installed::Scanguard { _attach: attach });
    }
    match method {
        TrafficMethod::XdpFilter => path
            .filtered
            .iter()
            .map(|interface| XdpFilterSession::start(&path.filter_host(interface), BANNED))
            .collect::<Result<_>>()
            .map(|sessions| Installed::XdpFilter {
                _sessions: sessions,
            }),
        TrafficMethod::Classic => {
            let chain = path.classic_chain;
            let mut rules: Vec<Vec<&str>> = CLASSIC_RULES
                .iter()
                .map(|rule| {
                    ["iptables", "-A", chain]
                        .into_iter()
                        .chain(path.classic_match.iter().copied())
                        .chain(rule.split_whitespace())
                        .collect()
                })
                .collect();
            let preban = format!("echo +{BANNED} > /proc/net/xt_recent/portscan");
            rules.push(vec!["sh", "-c", &preban]);
            Netfilter::install(
                &path.filter_host(&path.attach_target),
                &rules,
                Counters::Iptables {
                    table: "filter",
                    chain,
                },
                &[vec!["iptables", "-F", chain]],
            )
            .map(|rules| Installed::Netfilter { _rules: rules })
        }
        _ => Ok(Installed::Nothing),
    }
}

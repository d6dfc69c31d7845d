//! The drop methods compared under flood, each set up on the receiver and torn down again.
//! Netfilter rules and xdp-filter live inside the receiver's lab namespace only.

use std::{net::Ipv4Addr, path::Path};

use anyhow::{Context as _, Result};
use aya::{Ebpf, programs::XdpMode};
use scanguard_lab::Host;
use serde::Serialize;

use super::{
    netfilter::{CLASSIC_RULES, Counters, Netfilter},
    xdp_filter::XdpFilterSession,
};
use crate::{
    attach::Attach,
    object::{self, FLOOR_DROP, REF_READ_DROP},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Method {
    ScanguardNative,
    ScanguardSkb,
    FloorDrop,
    ReadDrop,
    XdpFilter,
    IptablesRaw,
    ClassicRecent,
    NftIngress,
    NftPrerouting,
}

impl Method {
    pub const ALL: [Method; 9] = [
        Method::FloorDrop,
        Method::ReadDrop,
        Method::ScanguardNative,
        Method::ScanguardSkb,
        Method::XdpFilter,
        Method::IptablesRaw,
        Method::ClassicRecent,
        Method::NftIngress,
        Method::NftPrerouting,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Method::ScanguardNative => "scanguard, native XDP",
            Method::ScanguardSkb => "scanguard, generic XDP (skb)",
            Method::FloorDrop => "empty XDP_DROP program (floor)",
            Method::ReadDrop => "XDP_DROP after reading the source address",
            Method::XdpFilter => "xdp-filter (xdp-tools), native",
            Method::IptablesRaw => "iptables raw PREROUTING DROP",
            Method::ClassicRecent => "classic iptables INPUT rules, -m recent",
            Method::NftIngress => "nftables netdev ingress drop",
            Method::NftPrerouting => "nftables ip prerouting drop",
        }
    }

    pub const fn key(self) -> &'static str {
        match self {
            Method::ScanguardNative => "scanguard-native",
            Method::ScanguardSkb => "scanguard-skb",
            Method::FloorDrop => "floor",
            Method::ReadDrop => "read-drop",
            Method::XdpFilter => "xdp-filter",
            Method::IptablesRaw => "iptables-raw",
            Method::ClassicRecent => "iptables-input-recent",
            Method::NftIngress => "nft-ingress",
            Method::NftPrerouting => "nft-prerouting",
        }
    }
}

/// A method in place on the receiver; dropping it removes it.
pub enum Installed {
    Scanguard(Attach),
    Floor(Ebpf),
    XdpFilter(XdpFilterSession),
    Netfilter(Netfilter),
}

impl Installed {
    /// Packets the method itself counted as dropped, where it counts them.
    pub fn dropped(&mut self) -> Result<Option<u64>> {
        match self {
            Installed::Scanguard(attach) => attach.counter("dropped_banned").map(Some),
            Installed::Floor(_) => Ok(None),
            Installed::XdpFilter(session) => session.dropped().map(Some),
            Installed::Netfilter(netfilter) => netfilter.dropped().map(Some),
        }
    }
}

/// Sets `method` up on `rx` so that it drops everything from `banned`.
pub fn install(method: Method, rx: &Host, banned: Ipv4Addr, scanguard: &Path) -> Result<Installed> {
    let banned_text = banned.to_string();
    match method {
        Method::ScanguardNative | Method::ScanguardSkb => {
            let mode = if method == Method::ScanguardNative {
                "native"
            } else {
                "skb"
            };
            let attach = Attach::start(scanguard, rx, &[&rx.interface, "--mode", mode], "")?;
            attach.cli(&["ban", &banned_text, "--for", "1h"])?;
            Ok(Installed::Scanguard(attach))
        }
        Method::FloorDrop | Method::ReadDrop => {
            let name = if method == Method::FloorDrop {
                FLOOR_DROP
            } else {
                REF_READ_DROP
            };
            let mut ebpf = object::load(&[name])?;
            let _inside = rx.enter()?;
            object::program(&mut ebpf, name)?
                .attach(&rx.interface, XdpMode::Driver)
                .with_context(|| format!("attach {name}"))?;
            Ok(Installed::Floor(ebpf))
        }
        Method::XdpFilter => Ok(Installed::XdpFilter(XdpFilterSession::start(rx, banned)?)),
        Method::IptablesRaw => Netfilter::install(
            rx,
            &[vec![
                "iptables",
                "-t",
                "raw",
                "-A",
                "PREROUTING",
                "-s",
                &banned_text,
                "-j",
                "DROP",
            ]],
            Counters::Iptables {
                table: "raw",
                chain: "PREROUTING",
            },
            &[vec!["iptables", "-t", "raw", "-F", "PREROUTING"]],
        )
        .map(Installed::Netfilter),
        Method::ClassicRecent => {
            let mut rules: Vec<Vec<&str>> = CLASSIC_RULES
                .iter()
                .map(|rule| {
                    ["iptables", "-A", "INPUT"]
                        .into_iter()
                        .chain(rule.split_whitespace())
                        .collect()
                })
                .collect();
            // The source was caught earlier: its entry in the recent list, as `--set` makes it.
            let preban = format!("echo +{banned} > /proc/net/xt_recent/portscan");
            rules.push(vec!["sh", "-c", &preban]);
            Netfilter::install(
                rx,
                &rules,
                Counters::Iptables {
                    table: "filter",
                    chain: "INPUT",
                },
                &[vec!["iptables", "-F", "INPUT"]],
            )
            .map(Installed::Netfilter)
        }
        Method::NftIngress => {
            let hook = format!(
                "{{ type filter hook ingress device \"{}\" priority -500; }}",
                rx.interface
            );
            nft(rx, "netdev", "ingress", &hook, &banned_text)
        }
        Method::NftPrerouting => nft(
            rx,
            "ip",
            "prerouting",
            "{ type filter hook prerouting priority -300; }",
            &banned_text,
        ),
    }
}

/// A table `sgbench` of `family` with one base chain and one counted drop rule.
fn nft(
    rx: &Host,
    family: &'static str,
    chain: &str,
    hook: &str,
    banned: &str,
) -> Result<Installed> {
    Netfilter::install(
        rx,
        &[
            vec!["nft", "add", "table", family, "sgbench"],
            vec!["nft", "add", "chain", family, "sgbench", chain, hook],
            vec![
                "nft", "add", "rule", family, "sgbench", chain, "ip", "saddr", banned, "counter",
                "drop",
            ],
        ],
        Counters::Nft { family },
        &[vec!["nft", "delete", "table", family, "sgbench"]],
    )
    .map(Installed::Netfilter)
}

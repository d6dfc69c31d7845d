//! Netfilter methods: iptables and nftables rules inside the receiver's lab namespace, their
//! drop counters, and the commands that remove them again.

use anyhow::{Context as _, Result};
use scanguard_lab::{Host, run_checked};
use serde_json::Value;

/// The classic iptables rules scanguard replaces (README), as INPUT rules: the stealth-scan rules, the SYN rule
/// that fills the `portscan` list, and the 60-second blacklist check that drops a listed source.
pub const CLASSIC_RULES: [&str; 5] = [
    "-p tcp --tcp-flags ALL NONE -j DROP",
    "-p tcp --tcp-flags ALL FIN -j DROP",
    "-p tcp --tcp-flags ALL FIN,PSH,URG -j DROP",
    "-p tcp --tcp-flags ALL SYN -m multiport --dports 23,79 -m recent --name portscan --set -j DROP",
    "-m recent --name portscan --rcheck --seconds 60 -j DROP",
];

pub enum Counters {
    Iptables {
        table: &'static str,
        chain: &'static str,
    },
    Nft {
        family: &'static str,
    },
}

/// Rules installed in the receiver's namespace, with the commands that remove them.
pub struct Netfilter {
    rx: Host,
    counters: Counters,
    teardown: Vec<Vec<String>>,
}

impl Netfilter {
    pub fn install(
        rx: &Host,
        commands: &[Vec<&str>],
        counters: Counters,
        teardown: &[Vec<&str>],
    ) -> Result<Netfilter> {
        let netfilter = Netfilter {
            rx: rx.clone(),
            counters,
            teardown: teardown
                .iter()
                .map(|command| command.iter().map(|part| part.to_string()).collect())
                .collect(),
        };
        for command in commands {
            run_checked(rx.command(command[0]).args(&command[1..]))?;
        }
        Ok(netfilter)
    }

    pub fn dropped(&self) -> Result<u64> {
        match self.counters {
            Counters::Iptables { table, chain } => {
                let output = run_checked(
                    self.rx
                        .command("iptables")
                        .args(["-t", table, "-L", chain, "-v", "-x", "-n"]),
                )?;
                Ok(iptables_drops(&String::from_utf8_lossy(&output.stdout)))
            }
            Counters::Nft { family } => {
                let output = run_checked(
                    self.rx
                        .command("nft")
                        .args(["-j", "list", "table", family, "sgbench"]),
                )?;
                let json: Value =
                    serde_json::from_slice(&output.stdout).context("nft -j output")?;
                Ok(nft_counter_packets(&json))
            }
        }
    }
}

impl Drop for Netfilter {
    fn drop(&mut self) {
        for command in &self.teardown {
            if let Err(error) = run_checked(self.rx.command(&command[0]).args(&command[1..])) {
                eprintln!("[bench] teardown: {error}");
            }
        }
    }
}

/// The packet counts of the DROP rules in `iptables -L -v -x -n` output.
fn iptables_drops(listing: &str) -> u64 {
    listing
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let packets = fields.next()?.parse::<u64>().ok()?;
            let _bytes = fields.next()?;
            (fields.next()? == "DROP").then_some(packets)
        })
        .sum()
}

/// The packets of every `counter` expression in `nft -j` output.
fn nft_counter_packets(json: &Value) -> u64 {
    match json {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| {
                if key == "counter" {
                    value["packets"].as_u64().unwrap_or(0)
                } else {
                    nft_counter_packets(value)
                }
            })
            .sum(),
        Value::Array(items) => items.iter().map(nft_counter_packets).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_listing_sums_drop_rules() {
        let listing = "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n    pkts      bytes target     prot opt in     out     source               destination\n       7      280 DROP       6    --  *      *       0.0.0.0/0            0.0.0.0/0            tcp flags:0x3F/0x00\n     100     4000 DROP       0    --  *      *       0.0.0.0/0            0.0.0.0/0            recent: CHECK\n       5      200 ACCEPT     0    --  *      *       0.0.0.0/0            0.0.0.0/0\n";
        assert_eq!(iptables_drops(listing), 107);
    }

    #[test]
    fn nft_counters_are_found_at_any_depth() {
        let json: Value = serde_json::json!({"nftables": [
            {"rule": {"expr": [{"match": {}}, {"counter": {"packets": 42, "bytes": 1}}, {"drop": null}]}},
            {"rule": {"expr": [{"counter": {"packets": 8, "bytes": 1}}]}}
        ]});
        assert_eq!(nft_counter_packets(&json), 50);
    }
}

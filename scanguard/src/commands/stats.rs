//! `scanguard stats`: the per-CPU counters summed.

use std::collections::BTreeMap;

use anyhow::Result;
use scanguard_common::{
    counters::{Counter, counter_slot, detection_slot},
    kind::Kind,
};

use crate::{
    bpf::{counters, pins::Pins},
    cli::Cli,
    crowdsec::maps::Maps,
    daemon::status_file,
};

/// With the running daemon's count of events the kernel could not deliver.
pub fn execute(cli: &Cli, json: bool) -> Result<()> {
    let events_lost = status_file::read(&cli.run_dir).map_or(0, |daemon| daemon.events_lost);
    let pins = Pins::open(&cli.pin_dir)?;
    let totals = counters::totals(&pins.counters()?)?;
    let mut counters: BTreeMap<&str, u64> = Counter::ALL
        .into_iter()
        .map(|counter| (counter.name(), totals[counter_slot(counter)]))
        .collect();
    counters.insert("events_lost", events_lost);
    let detections: BTreeMap<&str, u64> = Kind::ALL
        .into_iter()
        .map(|kind| (kind.name(), totals[detection_slot(kind)]))
        .collect();
    let decisions = Maps::open(&pins)?;
    let counts = decisions.counts()?;
    let (dropped, spared) = decisions.drops()?;
    if json {
        let dropped: BTreeMap<&str, u64> = dropped
            .iter()
            .map(|(origin, count)| (origin.as_str(), *count))
            .collect();
        let decisions = serde_json::json!({
            "addresses": counts.addresses,
            "ranges": counts.ranges,
            "dropped": dropped,
            "spared": spared,
        });
        let json = serde_json::json!({
            "packets": counters,
            "detections": detections,
            "decisions": decisions,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    for (name, value) in &counters {
        println!("{name:<20} {value:>14}");
    }
    for kind in Kind::ALL {
        println!("{:<20} {:>14}", kind.name(), detections[kind.name()]);
    }
    // CrowdSec decisions: how many are in force, and the packets they dropped per origin.
    println!("{:<20} {:>14}", "decision_addresses", counts.addresses);
    println!("{:<20} {:>14}", "decision_ranges", counts.ranges);
    for (origin, count) in &dropped {
        println!("{:<20} {count:>14}", format!("dropped_lapi/{origin}"));
    }
    println!("{:<20} {:>14}", "decision_spared", spared);
    Ok(())
}

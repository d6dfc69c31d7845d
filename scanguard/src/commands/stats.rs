//! `scanguard stats`: the per-CPU counters summed.

use std::collections::BTreeMap;

use anyhow::Result;
use scanguard_common::{
    counters::{COUNTER_SLOTS, Counter, counter_slot, detection_slot},
    kind::Kind,
};

use crate::{bpf::pins::Pins, cli::Cli, daemon::status_file};

/// With the running daemon's count of events the kernel could not deliver.
pub fn execute(cli: &Cli, json: bool) -> Result<()> {
    let events_lost = status_file::read(&cli.run_dir).map_or(0, |daemon| daemon.events_lost);
    let per_cpu = Pins::open(&cli.pin_dir)?.counters()?.get(&0, 0)?;
    let mut totals = [0u64; COUNTER_SLOTS];
    for cpu in per_cpu.iter() {
        for (total, value) in totals.iter_mut().zip(cpu) {
            *total += value;
        }
    }
    let mut counters: BTreeMap<&str, u64> = Counter::ALL
        .into_iter()
        .map(|counter| (counter.name(), totals[counter_slot(counter)]))
        .collect();
    counters.insert("events_lost", events_lost);
    let detections: BTreeMap<&str, u64> = Kind::ALL
        .into_iter()
        .map(|kind| (kind.name(), totals[detection_slot(kind)]))
        .collect();
    if json {
        let json = serde_json::json!({ "packets": counters, "detections": detections });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    for (name, value) in &counters {
        println!("{name:<20} {value:>14}");
    }
    for kind in Kind::ALL {
        println!("{:<20} {:>14}", kind.name(), detections[kind.name()]);
    }
    Ok(())
}

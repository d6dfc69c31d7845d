//! Playing the matrix: each scenario's probe without scanguard, then with it attached, watching
//! its counters, log and bans.

use std::{
    collections::BTreeMap,
    thread,
    time::{Duration, Instant},
};

use super::{
    Outcome, Role, Row, SCENARIOS, Scenario, Step,
    probes::{connect, connect_command, nmap},
};
use crate::demo::{BAN_SECONDS, DemoLab, DemoResult, LogTail, Scanguard, failed, interrupt};

/// The probes' outcomes without scanguard, per scenario (`None` for unban and expiry).
#[derive(Clone, Debug)]
pub struct Baseline(Vec<Option<Outcome>>);

/// Plays every scan and connection of the matrix once, with nothing attached.
pub fn baseline(
    lab: &DemoLab,
    mut on_probe: impl FnMut(&Scenario, &Outcome),
) -> DemoResult<Baseline> {
    let mut outcomes = Vec::new();
    for scenario in SCENARIOS {
        interrupt::check()?;
        let outcome = match scenario.step {
            Step::Nmap(flag) => Some(nmap(lab, scenario, flag, &[])?.0),
            Step::Decoys(flag, decoy) => Some(nmap(lab, scenario, flag, &decoys(lab, decoy))?.0),
            Step::Connect => Some(connect(lab, scenario)?),
            Step::Unban | Step::Expire => None,
        };
        if let Some(outcome) = &outcome {
            on_probe(scenario, outcome);
        }
        outcomes.push(outcome);
    }
    Ok(Baseline(outcomes))
}

/// Plays the matrix against a running daemon whose output goes to `log`; calls `on_row` as
/// each scenario completes.
pub fn run(
    lab: &DemoLab,
    scanguard: &Scanguard,
    log: &mut LogTail,
    baseline: &Baseline,
    mut on_row: impl FnMut(&Row),
) -> DemoResult<Vec<Row>> {
    let mut rows = Vec::new();
    for (scenario, before) in SCENARIOS.iter().zip(&baseline.0) {
        interrupt::check()?;
        let row = play(lab, scanguard, log, scenario, before.clone())?;
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

fn play(
    lab: &DemoLab,
    scanguard: &Scanguard,
    log: &mut LogTail,
    scenario: &Scenario,
    baseline: Option<Outcome>,
) -> DemoResult<Row> {
    let from = scenario.from.address(lab).to_string();
    let detections_before = scanguard.detections()?;
    let mut logged = log.read_new();
    let mut notes = Vec::new();
    let (command, before, after) = match scenario.step {
        Step::Nmap(flag) => {
            let (after, command) = nmap(lab, scenario, flag, &[])?;
            (command, baseline.unwrap_or_else(none), after)
        }
        Step::Decoys(flag, decoy) => {
            let (after, command) = nmap(lab, scenario, flag, &decoys(lab, decoy))?;
            (command, baseline.unwrap_or_else(none), after)
        }
        Step::Connect => (
            connect_command(lab, scenario),
            baseline.unwrap_or_else(none),
            connect(lab, scenario)?,
        ),
        Step::Unban => {
            let before = connect(lab, scenario)?;
            notes.push(format!("$ scanguard bans\n{}", scanguard.run(&["bans"])?));
            scanguard.run(&["unban", &from])?;
            notes.push(format!("$ scanguard unban {from}"));
            (
                format!("scanguard unban {from}; {}", connect_command(lab, scenario)),
                before,
                connect(lab, scenario)?,
            )
        }
        Step::Expire => {
            let before = connect(lab, scenario)?;
            let waited = wait_for_expiry(scanguard, &from)?;
            notes.push(format!(
                "waited {:.1} s for the rest of the {BAN_SECONDS} s ban to run out",
                waited.as_secs_f64()
            ));
            (
                format!("(wait) {}", connect_command(lab, scenario)),
                before,
                connect(lab, scenario)?,
            )
        }
    };
    let detected = rose(&detections_before, &scanguard.detections()?);
    logged.extend(settle(log, scenario.expect.detected));
    let banned = scanguard
        .bans()?
        .into_iter()
        .find(|ban| ban.address == from)
        .map(|ban| ban.reason);
    if scenario.then_unban {
        scanguard.run(&["unban", &from])?;
        notes.push(format!(
            "$ scanguard unban {from}   (so the next scan starts clean)"
        ));
    }
    Ok(Row {
        scenario: *scenario,
        command,
        before,
        after,
        detected,
        banned,
        logged,
        notes,
    })
}

/// nmap's `-D <decoy>,ME`: its probes come in the decoy's name too, then in its own.
fn decoys(lab: &DemoLab, decoy: Role) -> [String; 2] {
    ["-D".to_string(), format!("{},ME", decoy.address(lab))]
}

fn none() -> Outcome {
    Outcome {
        verdict: "-".into(),
        detail: String::new(),
    }
}

/// The kinds counted more often in `after` than in `before`.
fn rose(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> Vec<String> {
    after
        .iter()
        .filter(|(kind, count)| before.get(*kind).copied().unwrap_or_default() < **count)
        .map(|(kind, _)| kind.clone())
        .collect()
}

/// The daemon's lines after a step: events travel through a perf buffer and the daemon before
/// they reach the log, so give them a moment, longer if an expected detection is missing.
fn settle(log: &mut LogTail, expected: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    thread::sleep(Duration::from_millis(200));
    loop {
        lines.extend(log.read_new());
        let seen = expected.is_none_or(|kind| {
            let prefix = format!("[scanguard::{kind}]");
            lines.iter().any(|line| line.starts_with(&prefix))
        });
        if seen || Instant::now() > deadline || interrupt::interrupted() {
            return lines;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `scanguard bans` until `address` is no longer listed; returns how long that took.
fn wait_for_expiry(scanguard: &Scanguard, address: &str) -> DemoResult<Duration> {
    let start = Instant::now();
    let limit = Duration::from_secs(BAN_SECONDS + 5);
    loop {
        interrupt::check()?;
        if !scanguard.bans()?.iter().any(|ban| ban.address == address) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            return Err(failed(format!(
                "{address} still banned {} s after a {BAN_SECONDS} s ban",
                limit.as_secs()
            )));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rose_lists_the_kinds_that_were_counted() {
        let before = BTreeMap::from([("null-scan".to_string(), 1), ("fin-scan".to_string(), 0)]);
        let after = BTreeMap::from([("null-scan".to_string(), 1), ("fin-scan".to_string(), 2)]);
        assert_eq!(rose(&before, &after), ["fin-scan"]);
    }
}

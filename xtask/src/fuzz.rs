//! `cargo xtask fuzz [--seconds N]`: runs each cargo-fuzz target in `fuzz/` for N seconds on
//! the nightly toolchain (libFuzzer needs its sanitizer flags), installing cargo-fuzz first if
//! it is missing. Prints each target's executions per second and fails on a finding.

use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::{
    process::{cargo, run, workspace_root},
    setup,
};

/// The targets in `fuzz/fuzz_targets/`, with extra seed corpora and a dictionary, relative to
/// the workspace root.
const TARGETS: [Target; 2] = [
    Target {
        name: "event_decode",
        seeds: None,
        dictionary: None,
    },
    Target {
        name: "config_parse",
        seeds: Some("examples"),
        dictionary: Some("fuzz/config_parse.dict"),
    },
];

struct Target {
    name: &'static str,
    seeds: Option<&'static str>,
    dictionary: Option<&'static str>,
}

#[derive(Args)]
pub struct FuzzArgs {
    /// How long to run each target.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
}

pub fn execute(args: &FuzzArgs) -> Result<()> {
    // The targets link the scanguard crate, whose build script builds the eBPF object.
    setup::execute()?;
    ensure_cargo_fuzz()?;
    let root = workspace_root();
    let mut results = Vec::new();
    for target in &TARGETS {
        println!(
            "[fuzz] {}: building and running for {} s",
            target.name, args.seconds
        );
        results.push((target.name, fuzz(&root, target, args.seconds)?));
    }
    for (name, stats) in &results {
        println!(
            "[fuzz] {name}: {} runs in {} s, {} exec/s, {} coverage points, nothing found",
            stats.runs, stats.seconds, stats.execs_per_second, stats.coverage
        );
    }
    Ok(())
}

/// `cargo install` skips a cargo-fuzz that is already installed; checking first keeps the
/// common case quiet and offline.
fn ensure_cargo_fuzz() -> Result<()> {
    let installed = Command::new("cargo-fuzz")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if installed {
        println!("[fuzz] cargo-fuzz ... ok (already installed)");
        return Ok(());
    }
    println!("[fuzz] installing cargo-fuzz (a few minutes)");
    run(cargo().args(["install", "cargo-fuzz", "--locked"]))
        .context("cargo install cargo-fuzz failed; its output above says why")
}

/// What libFuzzer reported at the end of a run.
#[derive(Debug, Default, PartialEq, Eq)]
struct Stats {
    runs: u64,
    seconds: u64,
    execs_per_second: u64,
    coverage: u64,
}

fn fuzz(root: &Path, target: &Target, seconds: u64) -> Result<Stats> {
    let corpus = root.join("fuzz/corpus").join(target.name);
    std::fs::create_dir_all(&corpus)
        .with_context(|| format!("cannot create {}", corpus.display()))?;
    let mut command = Command::new("rustup");
    command
        .args(["run", "nightly", "cargo", "fuzz", "run", target.name])
        .current_dir(root)
        // The stable toolchain's variables, set by the `cargo xtask` that runs this, would
        // point the nested cargo at stable.
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_TARGET_DIR")
        // New inputs go to the first corpus directory; the seeds are only read.
        .arg(&corpus);
    if let Some(seeds) = target.seeds {
        command.arg(root.join(seeds));
    }
    command.arg("--").arg(format!("-max_total_time={seconds}"));
    command.arg("-print_final_stats=1");
    if let Some(dictionary) = target.dictionary {
        command.arg(format!("-dict={}", root.join(dictionary).display()));
    }
    let started = Instant::now();
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run `rustup run nightly cargo fuzz`")?;
    let stderr = child.stderr.take().expect("piped stderr");
    // libFuzzer reports on stderr, a line per new input; show the milestones, keep the rest
    // for a failure.
    let mut stats = Stats::default();
    let mut tail = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if is_milestone(&line) {
            println!("[fuzz] {}: {line}", target.name);
        }
        stats.read(&line);
        tail.push(line);
        if tail.len() > 200 {
            tail.remove(0);
        }
    }
    let status = child.wait().context("cannot wait for cargo fuzz")?;
    if !status.success() {
        for line in &tail {
            eprintln!("{line}");
        }
        bail!(
            "fuzz target {} failed ({status}) after {} s: a finding is saved in fuzz/artifacts/{}/ \
             (reproduce with `cargo +nightly fuzz run {} <file>`), or the build failed; see above",
            target.name,
            started.elapsed().as_secs(),
            target.name,
            target.name
        );
    }
    if stats.runs == 0 {
        bail!("fuzz target {} reported no runs", target.name);
    }
    Ok(stats)
}

/// Building, starting and finishing: not the per-input lines.
fn is_milestone(line: &str) -> bool {
    // The build script's own report of the eBPF build.
    if line.starts_with("warning: scanguard@") {
        return false;
    }
    line.contains("Compiling scanguard")
        || line.contains("Finished")
        || line.contains("INITED")
        || line.contains("DONE")
        || line.starts_with("error")
        || line.starts_with("==")
        || line.contains("panicked")
}

impl Stats {
    /// libFuzzer's closing lines: `Done 123456 runs in 30 second(s)` and
    /// `stat::number_of_executed_units: 123456`, and its `#N DONE cov: C ... exec/s: E` line.
    fn read(&mut self, line: &str) {
        let number = |text: &str| text.trim().parse::<u64>().ok();
        if let Some(rest) = line.strip_prefix("Done ") {
            let mut words = rest.split_whitespace();
            if let (Some(runs), Some("runs"), Some("in"), Some(seconds)) =
                (words.next(), words.next(), words.next(), words.next())
            {
                self.runs = number(runs).unwrap_or(self.runs);
                self.seconds = number(seconds).unwrap_or(self.seconds);
            }
        }
        if let Some(runs) = line.strip_prefix("stat::number_of_executed_units:") {
            self.runs = number(runs).unwrap_or(self.runs);
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with('#') && words.get(1) == Some(&"DONE") {
            for pair in words.windows(2) {
                match pair[0] {
                    "cov:" => self.coverage = number(pair[1]).unwrap_or(self.coverage),
                    "exec/s:" => {
                        self.execs_per_second = number(pair[1]).unwrap_or(self.execs_per_second);
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libfuzzer_closing_lines_are_read() {
        let mut stats = Stats::default();
        for line in [
            "#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb",
            "#1843211\tDONE   cov: 1234 ft: 5678 corp: 321/12Kb lim: 4096 exec/s: 59458 rss: 389Mb",
            "Done 1843211 runs in 31 second(s)",
            "stat::number_of_executed_units: 1843211",
        ] {
            stats.read(line);
        }
        assert_eq!(
            stats,
            Stats {
                runs: 1_843_211,
                seconds: 31,
                execs_per_second: 59_458,
                coverage: 1234,
            }
        );
    }
}

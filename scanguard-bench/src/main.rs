//! `scanguard-bench`: runs the benchmark and writes its report; `cargo xtask bench` builds and
//! runs it. Needs root: it loads XDP programs and builds lab namespaces.

use std::{
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, ValueEnum};
use scanguard_bench::{
    decisions, flood, interrupt, packet_cost,
    report::{self, Report},
    scale, storm,
    topology::FloodLink,
    traffic::{self, PathKind},
};

#[derive(Parser)]
#[command(
    about = "scanguard's benchmark: per-packet cost, flood drop rates, scale, daemon load, real traffic"
)]
struct Cli {
    /// The scanguard binary to run as a daemon and CLI [default: next to this one].
    #[arg(long)]
    scanguard: Option<PathBuf>,
    /// Where bench.json, bench.md and bench.png go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// What the report calls the scanguard under test (e.g. a git commit).
    #[arg(long, default_value = "(unknown version)")]
    label: String,
    /// Run only these parts (repeatable) [default: all].
    #[arg(long, value_enum)]
    only: Vec<Part>,
    /// Far fewer repetitions: checks that everything runs, not how fast.
    #[arg(long)]
    quick: bool,
    #[command(flatten)]
    traffic: TrafficOptions,
}

#[derive(clap::Args)]
struct TrafficOptions {
    /// Repetitions of the traffic part, the methods alternating within each [default: 3; 1
    /// with --quick].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=100))]
    traffic_repetitions: Option<u16>,
    /// Seconds of each traffic run: iperf3 each way, and the connection run [default: 3; 1
    /// with --quick].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=60))]
    traffic_seconds: Option<u32>,
    /// Measure only these paths (repeatable) [default: all; docker starts a Docker engine
    /// unless one is running].
    #[arg(long, value_enum)]
    traffic_path: Vec<TrafficPath>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TrafficPath {
    Veth,
    Bridge,
    Docker,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Part {
    PerPacket,
    Flood,
    Scale,
    Storm,
    Traffic,
    /// A CrowdSec startup pull of 100,000 decisions, and per-packet costs with decisions.
    Decisions,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    interrupt::install()?;
    if !scanguard_lab::is_root() {
        bail!("the benchmark loads XDP programs and builds network namespaces: run it as root");
    }
    let scanguard = match cli.scanguard {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .context("no directory for this binary")?
            .join("scanguard"),
    };
    if !scanguard.exists() {
        bail!(
            "no scanguard binary at {} (build it, or pass --scanguard)",
            scanguard.display()
        );
    }
    // What killed runs left behind: lab namespaces, pin and run directories.
    let namespaces = scanguard_lab::remove_leftovers().context("remove leftover lab namespaces")?;
    let dirs = scanguard_bench::attach::remove_stale_dirs();
    let engines = scanguard_lab::remove_leftover_engines().context("stop leftover test engines")?;
    if namespaces + dirs + engines > 0 {
        println!(
            "[bench] removed {namespaces} leftover namespace(s), {dirs} directory(ies) and {engines} Docker engine(s) of killed runs"
        );
    }
    let wanted = |part| cli.only.is_empty() || cli.only.contains(&part);
    let start = Instant::now();
    let mut report = Report {
        environment: Some(report::environment(&cli.label)),
        ..Report::default()
    };
    let outcome = (|| -> Result<()> {
        if wanted(Part::PerPacket) {
            println!("[bench] per-packet cost (BPF_PROG_TEST_RUN)");
            report.packet_cost = section(&mut report.errors, "per-packet cost", || {
                packet_cost::run(per_packet_config(cli.quick))
            })?;
        }
        if wanted(Part::Scale) {
            println!("[bench] scale: a full ban map");
            report.scale = section(&mut report.errors, "scale", || {
                scale::run(&scanguard, scale_config(cli.quick))
            })?;
        }
        if wanted(Part::Traffic) {
            println!(
                "[bench] real traffic (iperf3, short connections) through attached interfaces"
            );
            report.traffic = section(&mut report.errors, "traffic", || {
                traffic::run(&scanguard, &traffic_config(cli.quick, &cli.traffic))
            })?;
        }
        if wanted(Part::Decisions) {
            println!("[bench] CrowdSec decisions: a blocklist's startup pull");
            report.decisions = section(&mut report.errors, "decisions", || {
                decisions::run(&scanguard, decisions_config(cli.quick))
            })?;
        }
        if wanted(Part::Flood) || wanted(Part::Storm) {
            println!("[bench] building the flood link (two lab namespaces, one veth pair)");
            let link = FloodLink::build()?;
            if wanted(Part::Flood) {
                report.flood = section(&mut report.errors, "flood", || {
                    flood::run(&link, &scanguard, flood_config(cli.quick))
                })?;
            }
            if wanted(Part::Storm) {
                report.storm = section(&mut report.errors, "daemon storm", || {
                    storm::run(&link, &scanguard, &storm_config(cli.quick))
                })?;
            }
        }
        Ok(())
    })();
    report.seconds = start.elapsed().as_secs_f64();
    if let Some(environment) = &mut report.environment {
        environment.load_after = report::load_average();
    }
    if let Err(error) = &outcome {
        report.errors.push(("run".into(), format!("{error:#}")));
    }
    let markdown = report.write(&cli.out)?;
    println!("\n{markdown}");
    println!(
        "[bench] wrote {0}/bench.md, {0}/bench.json and {0}/bench.png in {1:.0} s",
        cli.out.display(),
        report.seconds
    );
    outcome
}

/// Runs one part; a failure is recorded and the next part runs, unless the run was interrupted.
fn section<T>(
    errors: &mut Vec<(String, String)>,
    name: &str,
    part: impl FnOnce() -> Result<T>,
) -> Result<Option<T>> {
    match part() {
        Ok(value) => Ok(Some(value)),
        Err(error) if interrupt::interrupted() => Err(error),
        Err(error) => {
            eprintln!("[bench] {name} failed: {error:#}");
            errors.push((name.to_string(), format!("{error:#}")));
            Ok(None)
        }
    }
}

fn per_packet_config(quick: bool) -> packet_cost::Config {
    if quick {
        packet_cost::Config {
            repeat: 100_000,
            rounds: 3,
            first_frames: 2_000,
            first_rounds: 2,
        }
    } else {
        packet_cost::Config {
            repeat: 1_000_000,
            rounds: 11,
            first_frames: 20_000,
            first_rounds: 3,
        }
    }
}

fn flood_config(quick: bool) -> flood::Config {
    flood::Config {
        repetitions: if quick { 1 } else { 5 },
        windows: if quick { 1 } else { 3 },
        window: Duration::from_secs(1),
        warmup: Duration::from_millis(300),
    }
}

fn traffic_config(quick: bool, options: &TrafficOptions) -> traffic::Config {
    let wanted = |kind: &PathKind| {
        let option = match kind {
            PathKind::Veth => TrafficPath::Veth,
            PathKind::Bridge => TrafficPath::Bridge,
            PathKind::Docker => TrafficPath::Docker,
        };
        options.traffic_path.is_empty() || options.traffic_path.contains(&option)
    };
    traffic::Config {
        paths: PathKind::ALL.into_iter().filter(wanted).collect(),
        repetitions: options
            .traffic_repetitions
            .map_or(if quick { 1 } else { 3 }, usize::from),
        seconds: options.traffic_seconds.unwrap_or(if quick { 1 } else { 3 }),
    }
}

fn decisions_config(quick: bool) -> decisions::Config {
    decisions::Config {
        decisions: 100_000,
        repeat: if quick { 100_000 } else { 1_000_000 },
        rounds: if quick { 3 } else { 11 },
    }
}

fn scale_config(quick: bool) -> scale::Config {
    scale::Config {
        bans: if quick { 100_000 } else { 1_000_000 },
        repeat: if quick { 100_000 } else { 1_000_000 },
        rounds: if quick { 3 } else { 11 },
        spread: 10_000,
        listings: if quick { 1 } else { 3 },
        unbans: if quick { 5 } else { 20 },
    }
}

fn storm_config(quick: bool) -> storm::Config {
    let seconds = Duration::from_secs;
    storm::Config {
        levels: if quick {
            vec![(10_000, seconds(2))]
        } else {
            vec![
                (10_000, seconds(5)),
                (30_000, seconds(3)),
                (100_000, seconds(3)),
            ]
        },
        full_map: if quick { 100_000 } else { 1_000_000 },
    }
}

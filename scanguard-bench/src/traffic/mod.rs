//! Real traffic through the interfaces scanguard attaches to: iperf3 TCP throughput both ways
//! and new connections per second, across a veth and across a Docker-shaped bridge, with
//! nothing attached, scanguard at each hook, xdp-filter and the classic iptables rules. The
//! methods alternate within each repetition, so drift on the machine spreads over all of them;
//! every figure is a ratio to "nothing attached" on the same path in the same repetition.

mod connections;
mod iperf;
mod methods;
mod paths;

use std::{path::Path, time::Duration};

use anyhow::Result;
use serde::Serialize;

pub use methods::TrafficMethod;
pub use paths::PathKind;

use crate::{
    interrupt,
    stats::{Summary, paired_ratios},
};
use paths::TrafficPath;

#[derive(Clone, Debug)]
pub struct Config {
    pub repetitions: usize,
    /// One iperf3 run, each way.
    pub seconds: u32,
    /// One connection run.
    pub connection_window: Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct Traffic {
    pub repetitions: usize,
    pub seconds: u32,
    pub paths: Vec<PathResult>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PathResult {
    pub path: PathKind,
    pub rows: Vec<MethodResult>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Figures {
    pub up_gbits: Vec<f64>,
    pub down_gbits: Vec<f64>,
    pub connections_per_second: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MethodResult {
    pub method: TrafficMethod,
    pub raw: Figures,
    pub up: Summary,
    pub down: Summary,
    pub connections: Summary,
    /// Medians of the per-repetition ratios to "nothing attached".
    pub up_ratio: f64,
    pub down_ratio: f64,
    pub connections_ratio: f64,
}

pub fn run(scanguard: &Path, config: &Config) -> Result<Traffic> {
    let mut paths = Vec::new();
    for kind in [PathKind::Veth, PathKind::Bridge] {
        println!("[bench] traffic: {}", kind.name());
        let path = match kind {
            PathKind::Veth => TrafficPath::veth()?,
            PathKind::Bridge => TrafficPath::bridge()?,
        };
        paths.push(measure_path(&path, scanguard, config)?);
    }
    Ok(Traffic {
        repetitions: config.repetitions,
        seconds: config.seconds,
        paths,
    })
}

fn measure_path(path: &TrafficPath, scanguard: &Path, config: &Config) -> Result<PathResult> {
    let _iperf = iperf::Server::start(&path.server, path.server_address)?;
    let _http = connections::Server::start(&path.server, path.server_address)?;
    let mut figures = vec![Figures::default(); TrafficMethod::ALL.len()];
    for repetition in 0..config.repetitions {
        for (method, figures) in TrafficMethod::ALL.iter().zip(&mut figures) {
            interrupt::check()?;
            let installed = methods::install(*method, path, scanguard)?;
            let address = path.server_address;
            let up = iperf::gbits(&path.client, address, config.seconds, false)?;
            let down = iperf::gbits(&path.client, address, config.seconds, true)?;
            let connections =
                connections::per_second(&path.client, address, config.connection_window)?;
            drop(installed);
            println!(
                "[bench]   {} #{}: {up:.1} / {down:.1} Gbit/s, {connections:.0} connections/s",
                method.name(),
                repetition + 1
            );
            figures.up_gbits.push(up);
            figures.down_gbits.push(down);
            figures.connections_per_second.push(connections);
        }
    }
    let nothing = figures[0].clone();
    let ratio =
        |values: &[f64], baseline: &[f64]| Summary::of(&paired_ratios(values, baseline)).median;
    let rows = TrafficMethod::ALL
        .iter()
        .zip(figures)
        .map(|(method, raw)| MethodResult {
            method: *method,
            up: Summary::of(&raw.up_gbits),
            down: Summary::of(&raw.down_gbits),
            connections: Summary::of(&raw.connections_per_second),
            up_ratio: ratio(&raw.up_gbits, &nothing.up_gbits),
            down_ratio: ratio(&raw.down_gbits, &nothing.down_gbits),
            connections_ratio: ratio(&raw.connections_per_second, &nothing.connections_per_second),
            raw,
        })
        .collect();
    Ok(PathResult {
        path: path.kind,
        rows,
    })
}

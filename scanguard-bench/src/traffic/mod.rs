//! Real traffic through the interfaces scanguard attaches to: iperf3 TCP throughput both ways
//! and new connections per second, across a veth and across a Docker-shaped bridge, with
//! nothing attached, scanguard at each hook, xdp-filter and the classic iptables rules. The
//! methods alternate within each repetition, so drift on the machine spreads over all of them;
//! every figure is a ratio to "nothing attached" on the same path in the same repetition, and a
//! second "nothing attached" in each repetition shows how far two identical setups differ.

mod connections;
mod iperf;
mod methods;
mod paths;
mod summary;

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

pub use connections::ConnectionRun;
pub use methods::TrafficMethod;
pub use paths::PathKind;
pub use summary::{Figures, MethodResult};

use crate::interrupt;
use paths::TrafficPath;

#[derive(Clone, Debug)]
pub struct Config {
    /// In this order.
    pub paths: Vec<PathKind>,
    pub repetitions: usize,
    /// One iperf3 run, each way, and one connection run.
    pub seconds: u32,
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
    /// Building the path (for the Docker path: starting the engine, the image, the network
    /// and the containers); no figure includes it.
    pub setup_seconds: f64,
    pub rows: Vec<MethodResult>,
}

pub fn run(scanguard: &Path, config: &Config) -> Result<Traffic> {
    let mut paths = Vec::new();
    for &kind in &config.paths {
        println!("[bench] traffic: {}", kind.name());
        let path = TrafficPath::build(kind)?;
        println!("[bench]   built in {:.1} s", path.setup_seconds);
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
    let mut figures = vec![Figures::default(); path.methods.len()];
    for repetition in 0..config.repetitions {
        for (method, figures) in path.methods.iter().zip(&mut figures) {
            interrupt::check()?;
            let installed = methods::install(*method, path, scanguard)?;
            let address = path.server_address;
            let up = iperf::gbits(&path.client, address, config.seconds, false)?;
            let down = iperf::gbits(&path.client, address, config.seconds, true)?;
            let connections = connections::measure(&path.client, address, config.seconds)?;
            drop(installed);
            println!(
                "[bench]   {} #{}: {up:.1} / {down:.1} Gbit/s, {:.0} connections/s (by the second: {:?}; {} failed)",
                method.name(),
                repetition + 1,
                connections.rate(),
                connections.per_second,
                connections.failed,
            );
            figures.up_gbits.push(up);
            figures.down_gbits.push(down);
            figures.connections.push(connections);
        }
    }
    Ok(PathResult {
        path: path.kind,
        setup_seconds: path.setup_seconds,
        rows: summary::summarize(path.methods.iter().copied().zip(figures).collect()),
    })
}

//! The results: JSON (everything measured), a markdown report (the tables, printed too) and a
//! PNG chart, under one output directory.

mod chart;
mod crowdsec;
mod markdown;
mod targets;

use std::{fs, path::Path};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::{
    decisions::Decisions, flood::Flood, packet_cost::PacketCost, scale::Scale, storm::Storm,
    traffic::Traffic,
};

pub use targets::{Target, Verdict};

#[derive(Clone, Debug, Serialize)]
pub struct Environment {
    pub date: String,
    pub kernel: String,
    pub cpu: String,
    pub cpus: usize,
    /// /proc/loadavg at the start and end: other work on the machine skews every figure.
    pub load_before: String,
    pub load_after: String,
    pub scanguard: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub environment: Option<Environment>,
    pub seconds: f64,
    pub packet_cost: Option<PacketCost>,
    pub flood: Option<Flood>,
    pub scale: Option<Scale>,
    pub storm: Option<Storm>,
    pub traffic: Option<Traffic>,
    pub decisions: Option<Decisions>,
    pub targets: Vec<Target>,
    /// Sections that failed, and why.
    pub errors: Vec<(String, String)>,
}

impl Report {
    /// Writes `bench.json`, `bench.md` and `bench.png` into `dir`; returns the markdown.
    pub fn write(&mut self, dir: &Path) -> Result<String> {
        self.targets = targets::evaluate(self);
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        fs::write(dir.join("bench.json"), serde_json::to_string_pretty(self)?)?;
        let markdown = markdown::render(self);
        fs::write(dir.join("bench.md"), &markdown)?;
        if let Err(error) = chart::draw(self, &dir.join("bench.png")) {
            eprintln!("[bench] no chart: {error:#}");
        }
        Ok(markdown)
    }
}

pub fn environment(scanguard: &str) -> Environment {
    let read = |path: &str| {
        fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_default();
    Environment {
        date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        kernel: read("/proc/sys/kernel/osrelease"),
        cpu,
        cpus: crate::cpu::online(),
        load_before: read("/proc/loadavg"),
        load_after: String::new(),
        scanguard: scanguard.to_string(),
    }
}

pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

//! The demo lab and its scenario matrix, shared by `cargo xtask lab` (which prints it) and the
//! `lab_matrix` end-to-end test (which asserts it).
//!
//! - [`DemoLab`]: a victim with real services, an attacker and a benign client on one LAN, and a
//!   Docker-shaped bridge on the victim with two "containers".
//! - [`LabDaemon`]: `scanguard attach` in the victim's namespace, its output in a log file so
//!   it can outlive the process that started it (`cargo xtask lab --keep`).
//! - [`scenarios`]: the matrix of real nmap scans and connections, each checked against what
//!   scanguard is meant to do.

mod daemon;
pub mod interrupt;
pub mod scenarios;
mod services;
mod topology;

use std::time::Duration;

pub use daemon::{Ban, LabDaemon, LogTail, Scanguard, process_is, stop_process};
pub use topology::{Container, DemoLab};

use crate::LabError;

/// The victim's honeypot sshd: a trap port, logged by scanguard but left reachable.
pub const HONEYPOT_PORT: u16 = 22;
/// The victim's real management sshd: a protected port, scanguard never acts on probes to it.
pub const MANAGEMENT_PORT: u16 = 2222;
/// The victim's and the web container's web service.
pub const WEB_PORT: u16 = 80;
/// Nothing listens here: without scanguard a stealth scan gets a RST and nmap says "closed".
pub const CLOSED_PORT: u16 = 81;
/// Telnet: closed, and in scanguard's default watch list, so a bare SYN is a `syn-scan`.
pub const TELNET_PORT: u16 = 23;
/// How long a ban lasts in the demo: short, so its expiry is part of the show.
pub const BAN_SECONDS: u64 = 5;

/// A TCP connection attempt gives up after this (a banned source's SYNs are dropped).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);

/// The demo's scanguard configuration, the keys of the README's Configuration section.
pub fn config_toml() -> String {
    format!(
        r#"# scanguard configuration of the demo lab (`cargo xtask lab`).

# Bans are short here so their expiry can be watched: {BAN_SECONDS} seconds from the first probe.
ban_seconds = {BAN_SECONDS}
ban_mode = "fixed"

# The real sshd, for management: probes to it never trigger anything.
protected_ports = [{MANAGEMENT_PORT}]

# A honeypot sshd: every connection attempt is logged as [scanguard::trap-port].
[trap_ports]
{HONEYPOT_PORT} = ""

[actions]
null-scan = "ban"
fin-scan = "ban"
xmas-scan = "ban"
syn-scan = "ban"
trap-port = "log"

# Generous, so every scenario's events show; the default is 3 per minute after a burst of 5.
[events]
per_minute = 60
burst = 30
"#
    )
}

/// Why a demo step failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("interrupted")]
    Interrupted,
    #[error("{0}")]
    Failed(String),
}

pub type DemoResult<T> = std::result::Result<T, DemoError>;

fn failed(message: impl Into<String>) -> DemoError {
    DemoError::Failed(message.into())
}

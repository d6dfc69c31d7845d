//! The command line. Doc comments are the help text.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;

use crate::config::{
    self,
    paths::{DEFAULT_PIN_DIR, DEFAULT_RUN_DIR, DEFAULT_STATE_DIR},
};

/// Port-scan blocker in the kernel: an XDP program that bans scanners at line rate.
#[derive(Debug, Parser)]
#[command(name = "scanguard", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// bpffs directory holding the pinned maps and links.
    #[arg(long, global = true, default_value = DEFAULT_PIN_DIR)]
    pub pin_dir: PathBuf,
    /// Runtime directory holding the daemon's lock and status.
    #[arg(long, global = true, default_value = DEFAULT_RUN_DIR)]
    pub run_dir: PathBuf,
    /// Directory of the saved bans, which `attach` restores after a reboot.
    #[arg(long, global = true, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Log level; `debug` also turns on the XDP program's own debug log (via aya-log).
    #[arg(long, global = true, value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    const fn filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }

    /// The program only logs at debug level, so anything less keeps it quiet.
    pub const fn kernel(self) -> aya_log::Level {
        match self {
            LogLevel::Error | LogLevel::Warn | LogLevel::Info => aya_log::Level::Warn,
            LogLevel::Debug => aya_log::Level::Debug,
            LogLevel::Trace => aya_log::Level::Trace,
        }
    }

    /// Logs to stderr at this level; `RUST_LOG` overrides it per module.
    pub fn init_logger(self) {
        let mut logger = env_logger::Builder::new();
        logger
            .filter_level(self.filter())
            // Newer kernels send attributes this crate does not know yet; that is not news.
            .filter_module("netlink_packet_route", log::LevelFilter::Error)
            // Its warnings are of event sockets overrun or closed, which the daemon handles.
            .filter_module("netlink_proto", log::LevelFilter::Error)
            .format_target(false);
        if let Ok(filters) = std::env::var("RUST_LOG") {
            logger.parse_filters(&filters);
        }
        logger.init();
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Attach to interfaces and enforce until SIGINT/SIGTERM (foreground daemon).
    ///
    /// SIGHUP reloads the configuration file; bans, flows and attachments stay.
    Attach(AttachArgs),
    /// List banned sources, most recent first.
    Bans(JsonArg),
    /// Lift bans.
    Unban(UnbanArgs),
    /// Ban a source by hand.
    Ban(BanArgs),
    /// Packet and detection counters, summed over CPUs.
    Stats(JsonArg),
    /// Stream the running daemon's detections (iptables-style lines, or JSON).
    Events(JsonArg),
    /// Live full-screen view of the running daemon: rates, detections, banned sources, probed
    /// ports and the latest detections, refreshed every second.
    ///
    /// Keys: q quits, up/down select a banned source, u unbans it (after y), / filters by
    /// address or kind, p pauses, left/right scroll the detections.
    Top(TopArgs),
    /// Attached interfaces, their mode, the configuration in force and map fill levels.
    Status(JsonArg),
    /// Every interface: kind, default route, XDP program, bridge ports, and the Docker
    /// network or container behind it when a Docker engine is reachable.
    Ifaces(JsonArg),
    /// Detach scanguard (also a persisted one) and remove its pinned state and saved bans.
    Detach(DetachArgs),
    /// Configuration file tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Interfaces to protect; default: the interface of the default route. A bridge brings
    /// its ports along, also the ones added while attached.
    pub interfaces: Vec<String>,
    /// Protect a Docker network: its bridge and the veth of every container on it, also of
    /// containers started later (repeatable; asks the Docker engine).
    #[arg(long = "docker-network", value_name = "NAME")]
    pub docker_networks: Vec<String>,
    /// Watch a Docker container: the host side of its veths, which sees what it sends, so
    /// its scans ban it (repeatable; asks the Docker engine).
    #[arg(long = "container", value_name = "NAME")]
    pub containers: Vec<String>,
    /// Where the checks run: auto puts them at TC ingress on a veth (native XDP there would
    /// slow the container behind it) and elsewhere tries native XDP, falling back to generic.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub mode: Mode,
    /// Configuration file [default: /etc/scanguard/scanguard.toml if present].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Keep enforcing after this process exits (pins the links); `detach` removes it.
    #[arg(long)]
    pub persist: bool,
    /// Ban duration in seconds (overrides the file).
    #[arg(long)]
    pub ban_seconds: Option<u64>,
    /// fixed: a ban ends ban_seconds after it began; sliding: every dropped packet restarts it.
    #[arg(long)]
    pub ban_mode: Option<String>,
    /// Ban-map capacity (overrides the file).
    #[arg(long)]
    pub capacity: Option<u32>,
    /// Never ban or drop this address or CIDR (repeatable; added to the file's list).
    #[arg(long = "allow", value_name = "CIDR")]
    pub allow: Vec<String>,
    /// Print detections as JSON lines instead of log lines.
    #[arg(long, conflicts_with = "syslog")]
    pub json: bool,
    /// Send detections to the local syslog/journald instead of stdout.
    #[arg(long)]
    pub syslog: bool,
    /// Serve Prometheus metrics over HTTP at http://ADDR/metrics, e.g. 127.0.0.1:9100.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Save the bans to the state directory this often, e.g. 30s, 5m (and always on exit).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub save_every: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Auto,
    /// Native XDP.
    Native,
    /// Generic (skb) XDP.
    Skb,
    /// TC ingress, through a TCX link.
    Tc,
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Print one snapshot (a second of rates) as plain text and exit; needs no terminal.
    #[arg(long)]
    pub once: bool,
    /// Print one snapshot (a second of rates) as JSON and exit.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UnbanArgs {
    /// Addresses to unban, or networks in CIDR notation (10.0.0.0/24, 2001:db8::/64) to lift
    /// every ban in.
    #[arg(
        required_unless_present = "all",
        conflicts_with = "all",
        value_parser = config::file::parse_net
    )]
    pub addresses: Vec<IpNet>,
    /// Unban everyone.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct BanArgs {
    /// The source to ban, IPv4 or IPv6.
    #[arg(value_parser = config::file::parse_address)]
    pub address: IpAddr,
    /// How long, e.g. 90s, 10m, 1h [default: the configured ban_seconds].
    #[arg(long = "for", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Ban even an address protected from lock-out (this host's, a gateway's, the SSH
    /// client's).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DetachArgs {
    /// Interfaces to detach a persisted scanguard from; default: all, and remove its state.
    pub interfaces: Vec<String>,
    /// Keep the saved bans, for the next `attach` to restore (e.g. across an upgrade).
    #[arg(long)]
    pub keep_bans: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file and print the settings it gives.
    Check { file: PathBuf },
}

/// A usage error in one line: clap's message and tips, then the usage, without the blank lines
/// and the "For more information" hint clap spreads them over.
pub fn one_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let mut message = String::new();
    let mut usage = None;
    for line in rendered
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        if let Some(rest) = line.strip_prefix("Usage: ") {
            usage = Some(rest);
        } else if !line.starts_with("For more information") {
            if !message.is_empty() {
                let continues = message.ends_with(':') || line.starts_with('[');
                message.push_str(if continues { " " } else { "; " });
            }
            message.push_str(line.strip_prefix("error: ").unwrap_or(line));
        }
    }
    match usage {
        Some(usage) => format!("{message} (usage: {usage})"),
        None => message,
    }
}

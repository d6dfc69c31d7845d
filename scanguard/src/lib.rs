//! The scanguard loader: everything the CLI does, as a library the tests drive directly.
//!
//! Layered top-down; a module only uses modules of the layers below it:
//!
//! - [`commands`] (one module per subcommand) and [`cli`] (their clap types);
//! - [`daemon`] (what `attach` keeps running) and [`events`] (detections, out to viewers);
//! - [`crowdsec`] (the CrowdSec LAPI bouncer and alert pusher `attach` starts, and the decision
//!   maps `bans`, `stats`, `unban` and the metrics read);
//! - [`bpf`] (the embedded program, its pinned maps and links) and [`host`] (what the kernel
//!   and Docker say about this host's interfaces, routes and sockets);
//! - [`config`] (settings, the configuration file, paths).

pub mod bpf;
pub mod cli;
pub mod commands;
pub mod config;
pub mod crowdsec;
pub mod daemon;
pub mod events;
pub mod host;

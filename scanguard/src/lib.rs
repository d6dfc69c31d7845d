//! The scanguard loader: everything the CLI does, as a library the tests drive directly.

pub mod attaching;
pub mod ban_filter;
pub mod bans;
pub mod bpffs;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config_file;
pub mod daemon_status;
pub mod docker;
pub mod events;
pub mod flows;
pub mod follow;
pub mod iface_kind;
pub mod interfaces;
pub mod links;
pub mod lockout;
pub mod map_batch;
pub mod metrics;
pub mod paths;
pub mod pins;
pub mod privileges;
pub mod program;
pub mod served;
pub mod settings;
pub mod targets;

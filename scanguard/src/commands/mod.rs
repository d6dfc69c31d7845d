//! One module per subcommand.

pub mod attach;
pub mod ban;
pub mod bans;
pub mod completions;
pub mod config;
pub mod detach;
pub mod ifaces;
pub mod man;
pub mod stats;
pub mod status;
pub mod top;
pub mod unban;

//! What `attach` keeps running: the interfaces it protects and how each is attached, the
//! bridges whose ports and the containers whose restarts it follows, what it finds on the host, the flows it records at start,
//! its lock and status file, the metrics endpoint, and the bans it saves for after a reboot.

pub mod attachment;
pub mod bridges;
pub mod containers;
pub mod flows;
pub mod host_facts;
pub mod metrics;
pub mod saved_bans;
pub mod source_check;
pub mod status_file;
pub mod targets;

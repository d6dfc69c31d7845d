//! End to end in the lab: the `scanguard` binary attached in network namespaces of each test's
//! own, against real nmap scans, real connections, Docker-shaped bridges and a real Docker
//! engine. Needs root.

#[path = "../support/mod.rs"]
mod support;

mod attach;
mod containers;
mod crowdsec;
mod docker_engine;
mod docker_names;
mod events;
mod hardening;
mod matrix;
mod metrics;
mod saved_bans;
mod scans;
mod slow_scans;
mod spoofing;
mod stealth_scans;
mod top;

//! What the daemon does for source verification (see docs/spoofing.md and
//! `scanguard_common::source_check`): it lets the program look routes up through loopback, tells
//! it which bridge each attached port belongs to, mirrors the neighbour table so the program can
//! tell an entry that just changed, and, when a probe's on-link source had no neighbour entry,
//! asks the network who holds that address, so the source's next probe can be judged.

pub mod ask;
pub mod bridge_ports;
pub mod lookups;
pub mod neighbours;

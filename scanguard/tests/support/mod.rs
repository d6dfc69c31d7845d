//! What the test crates share beyond scanguard-lab: `kernel` loads program instances and runs
//! crafted frames through them, `lab` starts the daemon in the lab and asks netlink about it,
//! `lapi` runs a throwaway CrowdSec Local API.

pub mod kernel;
pub mod lab;
pub mod lapi;

//! scanguard's benchmark, run by `cargo xtask bench`: what one packet costs in the kernel, how
//! fast each filter drops a flood on a lab link, how the ban map scales to a million entries,
//! what the daemon needs under a scan storm, and what real TCP traffic through an attached
//! veth or bridge keeps of its throughput. Every figure is a ratio to something measured
//! in the same run: the empty XDP program (the floor), another filter, or an empty ban map.

pub mod attach;
pub mod cpu;
pub mod decisions;
pub mod flood;
pub mod full_map;
pub mod generator;
pub mod interrupt;
pub mod netdev;
pub mod object;
pub mod packet_cost;
pub mod packet_socket;
pub mod process;
pub mod report;
pub mod scale;
pub mod stats;
pub mod storm;
pub mod test_run;
pub mod topology;
pub mod traffic;

//! The XDP program and what the kernel keeps of it: the embedded object and its loader, the
//! maps pinned for other processes (bans, the ban filter, the allow-list, counters), links
//! persisted across runs, and the bpf(2) calls and clock they need.

pub mod ban_filter;
pub mod bans;
pub mod bpffs;
pub mod clock;
pub mod counters;
pub mod map_batch;
pub mod object;
pub mod persisted;
pub mod pinned_layout;
pub mod pins;
pub mod privileges;
pub mod program;
pub mod sys;

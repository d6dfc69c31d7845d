//! The XDP program in the kernel, without a network: each test loads an instance of its own
//! (its own maps, so tests run in parallel) and drives it through BPF_PROG_TEST_RUN with
//! crafted frames, or through the maps and pins userspace reads. Needs root.

#[path = "../support/mod.rs"]
mod support;

mod ban_map;
mod decisions;
mod detections;
mod event_fields;
mod fuzz_differential;
mod hardening;
mod pinned_layout;
mod sctp;
mod slow_sweeps;
mod test_run;

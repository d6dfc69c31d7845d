//! Builds the benchmark's XDP programs so `object.rs` can embed them.

#[path = "../build-support/ebpf.rs"]
mod ebpf;

fn main() -> anyhow::Result<()> {
    ebpf::build("scanguard-bench-ebpf")
}

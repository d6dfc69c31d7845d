//! Builds the XDP program so `main` can embed it.

#[path = "../build-support/ebpf.rs"]
mod ebpf;

fn main() -> anyhow::Result<()> {
    ebpf::build("scanguard-ebpf")
}

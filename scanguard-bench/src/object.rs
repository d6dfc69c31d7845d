//! The benchmark's own XDP programs (scanguard-bench-ebpf), embedded by `build.rs`.

use std::net::Ipv4Addr;

use anyhow::{Context as _, Result};
use aya::{Ebpf, EbpfLoader, programs::Xdp};

pub static OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/scanguard-bench"));

/// Returns XDP_PASS and nothing else.
pub const FLOOR_PASS: &str = "floor_pass";
/// Returns XDP_DROP and nothing else.
pub const FLOOR_DROP: &str = "floor_drop";
/// The floor's drop after one read of the frame's source address.
pub const REF_READ_DROP: &str = "ref_read_drop";
/// The floor plus one per-CPU counter increment.
pub const REF_COUNTER: &str = "ref_counter";
/// The floor plus one `bpf_ktime_get_boot_ns`.
pub const REF_CLOCK: &str = "ref_clock";
/// The floor plus one `bpf_ktime_get_coarse_ns`.
pub const REF_COARSE_CLOCK: &str = "ref_coarse_clock";
/// The floor plus one `bpf_jiffies64`.
pub const REF_JIFFIES: &str = "ref_jiffies";
/// Reads the source address and looks it up in an LRU hash map: drop on a hit.
pub const REF_LOOKUP: &str = "ref_lookup";
/// Its map, keyed like scanguard's ban map.
pub const REF_BANS: &str = "REF_BANS";
/// Returns XDP_TX, optionally after giving the frame the next source address.
pub const TRAFGEN: &str = "trafgen";
/// Redirects each frame from its feed out of the sender's veth, optionally after giving it the
/// next source address.
pub const RELAY: &str = "relay";

/// Its per-CPU count of frames sent.
pub const GENERATED: &str = "GENERATED";

/// The object with `programs` loaded into the kernel; the generator sends each frame unchanged,
/// as fast as it can.
pub fn load(programs: &[&str]) -> Result<Ebpf> {
    load_generator(programs, GeneratorSettings::default())
}

/// The generator's settings, fixed at load time.
#[derive(Clone, Copy, Debug, Default)]
pub struct GeneratorSettings {
    /// The interface it transmits on; the trafgen passes frames from any other.
    pub tx_ifindex: u32,
    /// The relay's feed; the relay passes frames from any other.
    pub feed_ifindex: u32,
    /// The n-th frame gets the source `base + n % sources` (0: frames unchanged).
    pub sources: u32,
    pub base: Option<Ipv4Addr>,
}

/// As [`load`], with the generator's settings.
pub fn load_generator(programs: &[&str], generator: GeneratorSettings) -> Result<Ebpf> {
    let GeneratorSettings {
        tx_ifindex,
        feed_ifindex,
        sources,
        base,
    } = generator;
    let base = u32::from(base.unwrap_or(Ipv4Addr::UNSPECIFIED));
    let mut ebpf = EbpfLoader::new()
        .override_global("TX_IFINDEX", &tx_ifindex, true)
        .override_global("FEED_IFINDEX", &feed_ifindex, true)
        .override_global("SOURCES", &sources, true)
        .override_global("SOURCE_BASE", &base, true)
        .load(OBJECT)
        .context("cannot load the benchmark's eBPF object")?;
    for name in programs {
        program(&mut ebpf, name)?
            .load()
            .with_context(|| format!("the kernel refused {name}"))?;
    }
    Ok(ebpf)
}

pub fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Xdp> {
    let program = ebpf
        .program_mut(name)
        .with_context(|| format!("the benchmark object has no {name} program"))?;
    Ok(program.try_into()?)
}

//! BPF_PROG_TEST_RUN as a stopwatch, and what a loaded scanguard instance needs around it.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use aya::{
    Ebpf,
    maps::{HashMap, MapData, PerfEventArray, perf::PerfEventArrayBuffer},
    programs::{TestRun as _, TestRunOptions, Xdp},
};
use scanguard::{bpf::program, events::reader};
use scanguard_common::{
    addr::AddrKey,
    ban::{BANS_MAP, Ban},
    event::EVENTS_MAP,
};

/// include/uapi/linux/bpf.h, `enum xdp_action`.
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;

pub fn verdict_name(action: u32) -> &'static str {
    match action {
        XDP_DROP => "drop",
        XDP_PASS => "pass",
        3 => "tx",
        4 => "redirect",
        _ => "aborted",
    }
}

/// One BPF_PROG_TEST_RUN of `repeat` runs over `frame`.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub verdict: u32,
    /// The kernel's figure: the loop's time divided by `repeat`, truncated to whole ns
    /// (net/bpf/test_run.c, `bpf_test_timer_continue`); time spent rescheduled is left out.
    pub kernel_ns: f64,
    /// The syscall's wall time divided by `repeat`: finer than whole ns at large `repeat`,
    /// but it includes the one-off set-up and any interruption.
    pub wall_ns: f64,
}

pub fn time(xdp: &Xdp, frame: &[u8], repeat: u32) -> Result<Timing> {
    let start = Instant::now();
    let result = xdp
        .test_run(TestRunOptions {
            data_in: Some(frame),
            repeat,
            ..Default::default()
        })
        .context("BPF_PROG_TEST_RUN")?;
    let wall = start.elapsed();
    Ok(Timing {
        verdict: result.return_value,
        kernel_ns: result.duration.as_nanos() as f64,
        wall_ns: wall.as_nanos() as f64 / f64::from(repeat.max(1)),
    })
}

/// A loaded program by name, for test runs (which only need `&Xdp`).
pub fn xdp<'a>(ebpf: &'a Ebpf, name: &str) -> Result<&'a Xdp> {
    let program = ebpf
        .program(name)
        .with_context(|| format!("no {name} program"))?;
    Ok(program.try_into()?)
}

/// Turns the flow checks on and sends each of `outbound` through the egress program, as the
/// daemon does once attached: the flows these frames start are then recorded.
pub fn track_flows(ebpf: &mut Ebpf, outbound: &[Vec<u8>]) -> Result<()> {
    program::start_flow_checks(ebpf)?;
    let egress = program::egress(ebpf)?;
    for frame in outbound {
        egress
            .test_run(TestRunOptions {
                data_in: Some(frame),
                repeat: 1,
                ..Default::default()
            })
            .context("BPF_PROG_TEST_RUN of the egress program")?;
    }
    Ok(())
}

/// A manual ban of `addr` for an hour, as `scanguard ban` writes it.
pub fn ban(ebpf: &mut Ebpf, addr: IpAddr) -> Result<()> {
    let mut filter = program::ban_filter(ebpf)?;
    let map = ebpf.map_mut(BANS_MAP).context("no BANS map")?;
    let mut bans: HashMap<&mut MapData, AddrKey, Ban> = HashMap::try_from(map)?;
    let hour = Duration::from_secs(3600);
    scanguard::bpf::bans::ban(&mut bans, &mut filter, addr, hour)
}

/// Opens the program's perf buffers on every CPU, as the daemon does, so its event output
/// takes the same path as in production instead of failing early for want of a reader.
pub fn open_event_buffers(
    ebpf: &mut Ebpf,
    pages: usize,
) -> Result<Vec<PerfEventArrayBuffer<MapData>>> {
    let map = ebpf.take_map(EVENTS_MAP).context("no EVENTS map")?;
    let mut events = PerfEventArray::try_from(map)?;
    let buffers = reader::open_per_cpu(&mut events, Some(pages))?;
    Ok(buffers.into_iter().map(|(_, buffer)| buffer).collect())
}

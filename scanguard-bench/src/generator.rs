//! The traffic generator, in one of two modes; the thread that sends is pinned to one CPU and
//! sends from inside the sender's namespace, where the interface indexes are resolved.
//!
//! - **Live frames**: BPF_PROG_TEST_RUN in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES) runs
//!   an XDP_TX program over a frame, and the kernel transmits each result out of the interface
//!   named in the context: the technique of xdp-tools' xdp-trafficgen, which does not load on
//!   this kernel.
//! - **Relay**, where the kernel refuses live frames (some builds answer EPERM): a packet
//!   socket writes the frame to a veth pair inside the sender's namespace, and an XDP program
//!   on its far end redirects it out of the sender's veth. The receiver gets XDP frames either
//!   way (a packet socket's own frames would reach it as skbs, which veth copies into a page
//!   first), but the socket sends well under a million frames a second on this VM: enough for
//!   the paced storm, too few to load a receiver that drops at XDP speed (see `flood`).
//!
//! Each test run of an XDP program not attached anywhere adds it to the kernel's XDP dispatcher
//! and removes it again (`bpf_prog_change_xdp`), an update that waits for an RCU grace period:
//! tens of milliseconds per call with the CPU idle, which would leave the receiver idle a third
//! of the time. So the generator is also attached to a parking interface that is never up: it
//! stays in the dispatcher, and the calls follow each other without a gap.

use std::{
    net::Ipv4Addr,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use aya::{
    Ebpf,
    maps::{MapData, PerCpuArray},
    programs::{TestRun as _, TestRunAttrs, TestRunOptions, XdpMode},
};
use nix::sys::signal::SigSet;
use scanguard_lab::Netns;

use crate::{
    cpu, interrupt,
    object::{self, FLOOR_DROP, GENERATED, GeneratorSettings, RELAY, TRAFGEN},
    packet_socket::PacketSocket,
    test_run,
    topology::FloodLink,
};

/// Program runs per BPF_PROG_TEST_RUN call: about 40 ms at full speed, the granularity of
/// stopping.
const CHUNK: u32 = 1 << 18;
/// Frames the kernel runs and flushes at once (its maximum, TEST_XDP_MAX_BATCH).
const BATCH: u32 = 256;
/// The paced generator's clock.
const TICK: Duration = Duration::from_millis(1);
/// At most this many frames at once when pacing: half the veth ring (VETH_RING_SIZE, 256).
const MAX_BURST: u64 = 128;

pub struct Generator {
    ebpf: Ebpf,
    mode: Mode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    LiveFrames,
    /// Through the relay, fed by a packet socket on this interface of the sender's namespace.
    Relay {
        feed_ifindex: u32,
    },
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::LiveFrames => "live frames (BPF_F_TEST_XDP_LIVE_FRAMES)",
            Mode::Relay { .. } => "relay (packet socket, XDP redirect)",
        }
    }
}

/// What the generator sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sent {
    pub frames: u64,
    pub seconds: f64,
}

impl Sent {
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.frames as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Where and what to send.
pub struct Target<'a> {
    pub netns: &'a Netns,
    pub ifindex: u32,
    pub frame: &'a [u8],
    pub cpu: usize,
}

impl Generator {
    /// Sends frames unchanged out of the link's sender.
    pub fn flood(link: &FloodLink) -> Result<Generator> {
        Generator::numbered(link, 0, Ipv4Addr::UNSPECIFIED)
    }

    /// Gives the n-th frame the IPv4 source `base + n % sources`: live frames where the kernel
    /// runs them, the relay elsewhere.
    pub fn numbered(link: &FloodLink, sources: u32, base: Ipv4Addr) -> Result<Generator> {
        let ebpf = load(link, sources, base)?;
        if live_frames_allowed(&ebpf)? {
            return Generator::attach(link, ebpf, Mode::LiveFrames);
        }
        Generator::attach(link, ebpf, relay_mode(link))
    }

    /// As [`Generator::numbered`], through the relay whatever the kernel allows.
    pub fn relay(link: &FloodLink, sources: u32, base: Ipv4Addr) -> Result<Generator> {
        Generator::attach(link, load(link, sources, base)?, relay_mode(link))
    }

    fn attach(link: &FloodLink, mut ebpf: Ebpf, mode: Mode) -> Result<Generator> {
        let (program, attach_to) = match mode {
            Mode::LiveFrames => (TRAFGEN, &link.parking),
            Mode::Relay { .. } => (RELAY, &link.feed[1]),
        };
        let _inside = link.tx.enter()?;
        object::program(&mut ebpf, program)?
            .attach(attach_to, XdpMode::Driver)
            .with_context(|| format!("attach the generator's {program} to {attach_to}"))?;
        Ok(Generator { ebpf, mode })
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Sends as fast as one CPU can until `stop` is set, `limit` has passed or the run is
    /// interrupted. Runs on the calling thread, which it pins to the target's CPU at real-time
    /// priority and moves into the target's namespace; call it from a thread of its own.
    pub fn run(&self, target: &Target<'_>, stop: &AtomicBool, limit: Duration) -> Result<Sent> {
        // Bounded in count as well as time: at most one call per millisecond of the limit.
        let calls = limit.as_millis().max(1);
        self.send(target, limit, calls, |_| {
            (!stop.load(Ordering::Relaxed)).then_some(CHUNK)
        })
    }

    /// Sends `rate` frames per second for `duration`: every millisecond, the frames due by
    /// then, at most [`MAX_BURST`] at once so that the receiver's ring can take them. The
    /// thread sleeps in between, leaving its CPU to others (the daemon, in the storm).
    pub fn paced(&self, target: &Target<'_>, rate: u32, duration: Duration) -> Result<Sent> {
        let start = Instant::now();
        // One call per tick, and some to spare.
        let calls = duration.as_millis().max(1) + 100;
        let mut sent = 0u64;
        self.send(target, duration, calls, |call| {
            let tick = start + TICK * u32::try_from(call).unwrap_or(u32::MAX);
            if let Some(wait) = tick.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let due = (f64::from(rate) * start.elapsed().as_secs_f64()) as u64;
            let frames = due.saturating_sub(sent).min(MAX_BURST);
            sent += frames;
            Some(u32::try_from(frames).unwrap_or(0))
        })
    }

    /// Calls BPF_PROG_TEST_RUN with `next()` runs each until it returns `None`, `limit` has
    /// passed, `calls` calls were made or the run is interrupted.
    fn send(
        &self,
        target: &Target<'_>,
        limit: Duration,
        calls: u128,
        mut next: impl FnMut(u64) -> Option<u32>,
    ) -> Result<Sent> {
        cpu::pin(None, target.cpu)?;
        cpu::realtime(cpu::GENERATOR_PRIORITY)?;
        // The kernel ends a test run with EINTR when a signal is pending for the thread
        // (`bpf_test_timer_continue`); blocked here, process signals (SIGCHLD, Ctrl-C) go to
        // other threads, and this loop sees Ctrl-C through the interrupt flag.
        SigSet::all()
            .thread_block()
            .context("block signals in the generator thread")?;
        let _inside = target.netns.enter()?;
        let mut write = self.writer(target)?;
        let sent_before = self.sent()?;
        let start = Instant::now();
        for call in 0..calls {
            if start.elapsed() >= limit || interrupt::interrupted() {
                break;
            }
            let Some(runs) = next(u64::try_from(call)?) else {
                break;
            };
            if runs == 0 {
                continue;
            }
            write(runs)?;
        }
        let seconds = start.elapsed().as_secs_f64();
        Ok(Sent {
            frames: self.sent()? - sent_before,
            seconds,
        })
    }

    /// What sends `runs` frames in this generator's mode, from inside the target's namespace.
    fn writer<'a>(
        &'a self,
        target: &'a Target<'_>,
    ) -> Result<Box<dyn FnMut(u32) -> Result<()> + 'a>> {
        Ok(match self.mode {
            Mode::LiveFrames => {
                let xdp = test_run::xdp(&self.ebpf, TRAFGEN)?;
                let context = xdp_md(target.frame.len(), target.ifindex)?;
                Box::new(move |runs| {
                    xdp.test_run(TestRunOptions {
                        data_in: Some(target.frame),
                        ctx_in: Some(&context),
                        repeat: runs,
                        attrs: TestRunAttrs::new().xdp_live_frames(BATCH),
                        ..Default::default()
                    })
                    .context("BPF_PROG_TEST_RUN in live-frames mode")?;
                    Ok(())
                })
            }
            Mode::Relay { feed_ifindex } => {
                let socket = PacketSocket::open(feed_ifindex)?;
                Box::new(move |runs| {
                    socket.send(target.frame, u64::from(runs))?;
                    Ok(())
                })
            }
        })
    }

    /// Frames sent so far, over all CPUs, as the program counts them.
    fn sent(&self) -> Result<u64> {
        let map = self.ebpf.map(GENERATED).context("no GENERATED map")?;
        let sent: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(map)?;
        Ok(sent.get(&0, 0)?.iter().sum())
    }
}

/// `struct xdp_md` (include/uapi/linux/bpf.h): data 0 and data_end the frame's length (the
/// kernel checks both), no metadata, received on queue 0 of `ifindex`.
fn xdp_md(len: usize, ifindex: u32) -> Result<[u8; 24]> {
    let fields = [0, u32::try_from(len)?, 0, ifindex, 0, 0];
    let mut bytes = [0u8; 24];
    for (chunk, field) in bytes.chunks_exact_mut(4).zip(fields) {
        chunk.copy_from_slice(&field.to_ne_bytes());
    }
    Ok(bytes)
}

/// The generator's object for `link`, its programs loaded.
fn load(link: &FloodLink, sources: u32, base: Ipv4Addr) -> Result<Ebpf> {
    let settings = GeneratorSettings {
        tx_ifindex: link.tx_ifindex,
        feed_ifindex: link.feed_ifindex[1],
        sources,
        base: Some(base),
    };
    object::load_generator(&[TRAFGEN, RELAY, FLOOR_DROP], settings)
}

fn relay_mode(link: &FloodLink) -> Mode {
    Mode::Relay {
        feed_ifindex: link.feed_ifindex[0],
    }
}

/// Whether this kernel runs XDP programs in live-frames mode: one run of the empty XDP_DROP
/// program, which sends nothing.
fn live_frames_allowed(ebpf: &Ebpf) -> Result<bool> {
    let xdp = test_run::xdp(ebpf, FLOOR_DROP)?;
    let frame = [0u8; 64];
    Ok(xdp
        .test_run(TestRunOptions {
            data_in: Some(&frame),
            repeat: 1,
            attrs: TestRunAttrs::new().xdp_live_frames(BATCH),
            ..Default::default()
        })
        .is_ok())
}

//! Plumbing for the kernel tests: one loaded program instance per test (its own maps, so tests
//! run in parallel), crafted frames in through BPF_PROG_TEST_RUN, verdicts, bans and counters out.

#![allow(
    dead_code,
    reason = "each test crate uses a different part of this module"
)]

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsFd as _, AsRawFd as _},
};

use aya::{
    Ebpf,
    maps::{
        HashMap, Map, MapData, PerCpuArray, PerfEventArray,
        perf::{PerfEvent, PerfEventArrayBuffer},
    },
    programs::{TestRun as _, TestRunOptions},
};
use scanguard::{
    bpf::{
        ban_filter,
        program::{self, HostFacts, StoreError},
        sys,
    },
    config::settings::Settings,
    events::reader::{self, decode},
};
use scanguard_common::{
    addr::AddrKey,
    ban::{BANS_MAP, Ban},
    ban_filter::{CachedVerdict, VERDICTS_MAP},
    config::{CONFIG_SECTION, Config},
    counters::{COUNTERS_MAP, Counter, Counters, counter_slot, detection_slot},
    event::{EVENTS_MAP, Event},
    flow::{FLOWS_MAP, FlowKey},
    kind::Kind,
    ports::ROLE_COMBINATIONS,
    sweep::{SLOW_SWEEPS_MAP, Sweep},
};
use scanguard_lab::frames::{FrameBuilder, arp_request};

pub const TARGET_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const TARGET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x7a, 0, 0, 0, 0, 1);
pub const SCANNER_PORT: u16 = 40_000;
/// Watched by default (telnet).
pub const WATCHED_PORT: u16 = 23;
/// No role by default.
pub const UNWATCHED_PORT: u16 = 80;

/// The XDP return value (include/uapi/linux/bpf.h, `enum xdp_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Drop,
    Pass,
    Other(u32),
}

impl From<u32> for Verdict {
    fn from(action: u32) -> Verdict {
        match action {
            1 => Verdict::Drop,
            2 => Verdict::Pass,
            other => Verdict::Other(other),
        }
    }
}

/// The n-th scanner address of a family, from the documentation ranges (RFC 5737, RFC 3849).
pub fn scanner_v4(n: u8) -> IpAddr {
    Ipv4Addr::new(203, 0, 113, n).into()
}

pub fn scanner_v6(n: u8) -> IpAddr {
    Ipv6Addr::new(0x2001, 0xdb8, 0x5c, 0, 0, 0, 0, n.into()).into()
}

/// A frame from `src` to the target of its family.
pub fn from(src: IpAddr) -> FrameBuilder {
    match src {
        IpAddr::V4(_) => FrameBuilder::new(src, TARGET_V4),
        IpAddr::V6(_) => FrameBuilder::new(src, TARGET_V6),
    }
}

/// A TCP segment from `src` to `dst_port`.
pub fn tcp(src: IpAddr, dst_port: u16, flags: u8) -> Vec<u8> {
    from(src).tcp(SCANNER_PORT, dst_port, flags).build()
}

/// An ARP request for the IPv4 target: Ethernet, not IP.
pub fn arp() -> Vec<u8> {
    arp_request(Ipv4Addr::new(203, 0, 113, 200), TARGET_V4)
}

/// One loaded scanguard program, not attached anywhere.
/// TC_ACT_OK, include/uapi/linux/pkt_cls.h.
const TC_ACT_OK: u32 = 0;

pub struct Scanguard {
    ebpf: Ebpf,
    settings: Settings,
}

impl Scanguard {
    pub fn load(settings: &Settings) -> Scanguard {
        assert!(
            nix::unistd::geteuid().is_root(),
            "kernel tests need root: BPF_PROG_LOAD and BPF_PROG_TEST_RUN need CAP_BPF and \
             CAP_NET_ADMIN; run them as root, e.g. `cargo xtask test`"
        );
        let ebpf = program::load(settings, None)
            .unwrap_or_else(|error| panic!("loading scanguard with {settings:?}: {error:#}"));
        Scanguard {
            ebpf,
            settings: settings.clone(),
        }
    }

    /// Opens the program's perf buffers on every CPU, as the daemon does.
    pub fn open_events(&mut self) -> Events {
        let map = self.ebpf.take_map(EVENTS_MAP).expect("the EVENTS map");
        let mut events = PerfEventArray::try_from(map).expect("EVENTS is a perf event array");
        let buffers = reader::open_per_cpu(&mut events, None).expect("the perf buffers");
        Events(buffers.into_iter().map(|(_, buffer)| buffer).collect())
    }

    /// Runs the program once over `frame`.
    pub fn run(&mut self, frame: &[u8]) -> Verdict {
        let xdp = program::xdp(&mut self.ebpf).expect("the program is there");
        let result = xdp
            .test_run(TestRunOptions {
                data_in: Some(frame),
                repeat: 1,
                ..Default::default()
            })
            .unwrap_or_else(|error| panic!("BPF_PROG_TEST_RUN over {frame:02x?}: {error}"));
        Verdict::from(result.return_value)
    }

    /// Tells the program flows are tracked, as the daemon does once the egress program runs.
    pub fn track_flows(&mut self) {
        program::start_flow_checks(&mut self.ebpf).expect("turning on the flow checks");
    }

    /// Adds lock-out protection for `addresses`, as the daemon does for the host's own: its
    /// settings stored again with them, as a reload does.
    pub fn protect_from_lockout(&mut self, addresses: &[IpAddr]) {
        let host = HostFacts {
            protected: addresses.to_vec(),
            ..HostFacts::default()
        };
        program::store_settings(&mut self.ebpf, &self.settings, &host).expect("lock-out entries");
    }

    /// Stores `settings` in the running program, as a reload does.
    pub fn reload(&mut self, settings: &Settings) {
        self.try_reload(settings)
            .unwrap_or_else(|error| panic!("reloading the settings: {error:#}"));
    }

    /// Stores `settings` in the running program, as a reload does, if they can be.
    pub fn try_reload(&mut self, settings: &Settings) -> Result<(), StoreError> {
        program::store_settings(&mut self.ebpf, settings, &HostFacts::default())?;
        self.settings = settings.clone();
        Ok(())
    }

    /// Freezes the config map (BPF_MAP_FREEZE): from then on writing it from user space fails
    /// with EPERM, as a failing map write would.
    pub fn freeze_config(&mut self) {
        /// include/uapi/linux/bpf.h, `enum bpf_cmd`.
        const BPF_MAP_FREEZE: libc::c_long = 22;
        /// The `map_fd` member of `union bpf_attr` that BPF_MAP_FREEZE reads.
        #[repr(C)]
        struct MapFreezeAttr {
            map_fd: u32,
        }
        let Some(Map::Array(config)) = self.ebpf.map(CONFIG_SECTION) else {
            panic!("the config is an array map");
        };
        let mut attr = MapFreezeAttr {
            map_fd: config.fd().as_fd().as_raw_fd() as u32,
        };
        // SAFETY: MapFreezeAttr is the part of `union bpf_attr` BPF_MAP_FREEZE reads.
        unsafe { sys::bpf(BPF_MAP_FREEZE, &mut attr) }.expect("BPF_MAP_FREEZE");
    }

    /// Clears the segments the config settles, so the program judges every one in full.
    pub fn unsettle(&mut self) {
        let mut config = program::config_map(&mut self.ebpf).expect("the config map");
        let current = config.get(&0, 0).expect("reading the config");
        let unsettled = Config {
            tcp_settled: [0; ROLE_COMBINATIONS],
            ..current
        };
        config.set(0, unsettled, 0).expect("writing the config");
    }

    /// Empties the flow map, as evictions from a full one would.
    pub fn forget_flows(&mut self) {
        let map = self.ebpf.map_mut(FLOWS_MAP).expect("the FLOWS map");
        let mut flows: HashMap<&mut MapData, FlowKey, u64> =
            HashMap::try_from(map).expect("FLOWS is a hash map of FlowKey to u64");
        let keys: Vec<FlowKey> = flows.keys().collect::<Result<_, _>>().expect("the flows");
        for key in keys {
            flows.remove(&key).expect("removing a flow");
        }
    }

    /// Runs the TC egress program once over an outbound `frame` (it records flows).
    pub fn send(&mut self, frame: &[u8]) {
        let egress = program::egress(&mut self.ebpf).expect("the egress program is there");
        let result = egress
            .test_run(TestRunOptions {
                data_in: Some(frame),
                repeat: 1,
                ..Default::default()
            })
            .unwrap_or_else(|error| {
                panic!("BPF_PROG_TEST_RUN (egress) over {frame:02x?}: {error}")
            });
        assert_eq!(
            result.return_value, TC_ACT_OK,
            "the egress program never drops"
        );
    }

    /// Runs the program over `frame` and checks its verdict.
    #[track_caller]
    pub fn expect(&mut self, frame: &[u8], verdict: Verdict, what: &str) {
        assert_eq!(self.run(frame), verdict, "{what}: {frame:02x?}");
    }

    fn bans_map(&self) -> HashMap<&MapData, AddrKey, Ban> {
        let map = self.ebpf.map(BANS_MAP).expect("the BANS map");
        HashMap::try_from(map).expect("BANS is a hash map of AddrKey to Ban")
    }

    fn bans_map_mut(&mut self) -> HashMap<&mut MapData, AddrKey, Ban> {
        let map = self.ebpf.map_mut(BANS_MAP).expect("the BANS map");
        HashMap::try_from(map).expect("BANS is a hash map of AddrKey to Ban")
    }

    /// `addr`'s ban, with the drops still pending in the per-CPU verdicts, as `bans` shows it.
    pub fn ban(&self, addr: IpAddr) -> Option<Ban> {
        let mut ban = self.bans_map().get(&AddrKey::from(addr), 0).ok()?;
        let pending = ban_filter::pending_drops(&self.verdicts()).expect("reading the verdicts");
        ban.dropped_packets += pending.get(&AddrKey::from(addr)).copied().unwrap_or(0);
        Some(ban)
    }

    /// The kind `addr` is banned for, if it is.
    pub fn ban_reason(&self, addr: IpAddr) -> Option<Kind> {
        self.ban(addr).and_then(|ban| Kind::from_u8(ban.reason))
    }

    /// The sources some CPU holds a "banned" verdict of.
    pub fn cached_bans(&self) -> BTreeSet<AddrKey> {
        ban_filter::banned_verdicts(&self.verdicts())
            .expect("reading the verdicts")
            .into_iter()
            .map(|verdict| verdict.src)
            .collect()
    }

    fn verdicts(&self) -> PerCpuArray<&MapData, CachedVerdict> {
        let map = self.ebpf.map(VERDICTS_MAP).expect("the VERDICTS map");
        PerCpuArray::try_from(map).expect("VERDICTS is a per-CPU array")
    }

    /// Every ban in the map.
    pub fn bans(&self) -> Vec<(AddrKey, Ban)> {
        self.bans_map()
            .iter()
            .collect::<Result<_, _>>()
            .expect("reading the BANS map")
    }

    /// Inserts a ban as `scanguard ban` would.
    pub fn insert_ban(&mut self, addr: IpAddr, ban: Ban) {
        self.bans_map_mut()
            .insert(AddrKey::from(addr), ban, 0)
            .unwrap_or_else(|error| panic!("inserting a ban for {addr}: {error}"));
        program::ban_filter(&self.ebpf)
            .expect("mapping the ban filter")
            .mark(&AddrKey::from(addr))
            .expect("marking the ban");
    }

    /// Lifts `addr`'s ban as `scanguard unban` does: the ban removed, then the epoch changed.
    pub fn unban(&mut self, addr: IpAddr) {
        assert!(
            scanguard::bpf::bans::unban(&mut self.bans_map_mut(), addr).expect("removing the ban"),
            "{addr} was not banned"
        );
        program::ban_filter(&self.ebpf)
            .expect("mapping the ban filter")
            .touch()
            .expect("changing the ban epoch");
    }

    fn slow_sweeps(&mut self) -> HashMap<&mut MapData, AddrKey, Sweep> {
        let map = self
            .ebpf
            .map_mut(SLOW_SWEEPS_MAP)
            .expect("the SLOW_SWEEPS map");
        HashMap::try_from(map).expect("SLOW_SWEEPS is a hash map of AddrKey to Sweep")
    }

    /// `addr`'s long-window sweep sketch.
    pub fn slow_sweep(&mut self, addr: IpAddr) -> Option<Sweep> {
        self.slow_sweeps().get(&AddrKey::from(addr), 0).ok()
    }

    /// Stores `sweep` as `addr`'s long-window sweep sketch.
    pub fn insert_slow_sweep(&mut self, addr: IpAddr, sweep: Sweep) {
        self.slow_sweeps()
            .insert(AddrKey::from(addr), sweep, 0)
            .unwrap_or_else(|error| panic!("inserting a slow sweep for {addr}: {error}"));
    }

    /// The non-zero counters summed over CPUs, by counter or kind name.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        let map = self.ebpf.map(COUNTERS_MAP).expect("the COUNTERS map");
        let counters: PerCpuArray<&MapData, Counters> =
            PerCpuArray::try_from(map).expect("COUNTERS is a per-CPU array of Counters");
        let per_cpu = counters.get(&0, 0).expect("reading COUNTERS[0]");
        let total = |slot: usize| per_cpu.iter().map(|cpu| cpu[slot]).sum::<u64>();
        let plain = Counter::ALL.map(|counter| (counter.name(), total(counter_slot(counter))));
        let detections = Kind::ALL.map(|kind| (kind.name(), total(detection_slot(kind))));
        plain
            .into_iter()
            .chain(detections)
            .filter(|(_, count)| *count > 0)
            .collect()
    }
}

/// The clock the program's sweep windows run on (`bpf_ktime_get_coarse_ns`, the kernel's
/// `ktime_get_coarse_ns`).
pub fn coarse_now_ns() -> u64 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC_COARSE)
        .expect("reading CLOCK_MONOTONIC_COARSE");
    now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64
}

/// The perf buffers of a loaded program.
pub struct Events(Vec<PerfEventArrayBuffer<MapData>>);

impl Events {
    /// The events written since the last call, from every CPU.
    pub fn take(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        for buffer in &mut self.0 {
            buffer.for_each(|sample| match sample {
                PerfEvent::Sample { head, tail } => {
                    events.push(decode(head, tail).expect("a whole event"));
                }
                PerfEvent::Lost { count } => panic!("{count} events lost"),
            });
        }
        events
    }
}

/// Expected counters, as [`Scanguard::counts`] reports them; a name given twice adds up. Panics
/// on a name that is neither a counter nor a kind, so a typo cannot pass for a zero.
/// Takes the event counters out of `counts`: how many events were offered to the rate limits.
/// A banned source's drops offer one per CPU and tick (the first, which looks the ban up), so a
/// test that cannot tell where the ticks fall can only bound this.
pub fn take_offered_events(counts: &mut BTreeMap<&'static str, u64>) -> u64 {
    ["events_sent", "events_suppressed"]
        .iter()
        .map(|name| counts.remove(name).unwrap_or(0))
        .sum()
}

pub fn counts<'a>(
    expected: impl IntoIterator<Item = &'a (&'static str, u64)>,
) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::new();
    for &(name, count) in expected {
        let known = Counter::ALL.iter().any(|counter| counter.name() == name)
            || Kind::from_name(name).is_some();
        assert!(known, "{name} is neither a counter nor a kind");
        *counts.entry(name).or_insert(0) += count;
    }
    counts.retain(|_, count| *count > 0);
    counts
}

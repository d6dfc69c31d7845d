//! Every map and global variable of the programs, in one place: their names are the pin
//! contract with userspace (the `*_MAP` and `*_SECTION` constants of scanguard-common, by which
//! the loader finds, sizes, fills and pins them). Each says its type, key → value, and who
//! writes it; the modules that use them say why.

use aya_ebpf::{
    bindings::{BPF_F_MMAPABLE, BPF_F_NO_PREALLOC},
    macros::map,
    maps::{Array, HashMap, LpmTrie, LruHashMap, PerCpuArray, PerfEventArray, lpm_trie::Key},
};
use scanguard_common::{
    addr::AddrKey,
    allow::ALLOW_CAPACITY,
    ban::{Ban, DEFAULT_BAN_CAPACITY},
    ban_filter::{CachedVerdict, FilterLine, VERDICT_SLOTS},
    bucket::TokenBucket,
    config::Config,
    counters::Counters,
    decision::{
        DEFAULT_DECISION_ADDRESSES, DEFAULT_DECISION_RANGES, Decision, DecisionCounts,
        DecisionStats, Label, ORIGIN_SLOTS, SCENARIO_SLOTS,
    },
    event::{EVENT_BUCKETS_CAPACITY, Event},
    flow::{DEFAULT_FLOW_CAPACITY, FLOW_HIT_SLOTS, FlowHit, FlowKey},
    hardening::{HARDENING_CAPACITY, Offender, SubnetBans, Suspect},
    ports::{PORT_COUNT, PortRoles},
    reserve::{TURNED_AWAY_CAPACITY, Turned},
    source_check::{BRIDGE_PORTS_CAPACITY, NEIGHBOURS_CAPACITY, Neighbour},
    sweep::{SLOW_SWEEPS_CAPACITY, SWEEPS_CAPACITY, Sweep},
};

// The config, the port roles and the ban epoch are global variables, each in a section aya
// makes a one-entry array map of: the program reads them with a load, where a map costs a
// lookup per packet, and LLVM keeps no pointer to them in the few registers a helper call
// leaves. Exported, so LLVM cannot take their zero initial values for constants.

/// Global in `CONFIG_SECTION`: the runtime settings. Written by the loader only.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".bss.config")]
static mut CONFIG: Config = Config::OFF;

/// Global in `PORT_ROLES_SECTION`: `ROLE_*` bits per destination port. Written by the loader.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".bss.port_roles")]
static mut PORT_ROLES: PortRoles = [0; PORT_COUNT as usize];

/// Global in `BAN_EPOCH_SECTION`, u64: any new value ends every cached verdict. Written by
/// whoever makes or lifts a ban (the program, `scanguard ban` and `unban`), each storing a whole
/// new value, so two writers at once still change it.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".bss.ban_epoch")]
static mut BAN_EPOCH: u64 = 0;

/// LPM trie, source prefix → `ALLOW_LISTED`/`ALLOW_LOCKOUT`: never banned nor dropped (IPv4 as
/// IPv4-mapped prefixes, /96 + len). Written by the loader.
#[map]
pub static ALLOW: LpmTrie<AddrKey, u8> = LpmTrie::with_max_entries(ALLOW_CAPACITY, 0);

/// LRU hash, source → `Ban`: who is banned. Written by the program (new bans, drop counts,
/// expiry), `scanguard ban`/`unban` and the daemon's sweeps; sized by the loader.
#[map]
pub static BANS: LruHashMap<AddrKey, Ban> = LruHashMap::with_max_entries(DEFAULT_BAN_CAPACITY, 0);

/// Mmapable array, line → `FilterLine`: one byte per hashed source, set while it may be banned.
/// Marked by the program and by userspace's bans, cleared by the daemon's sweeps; sized by the
/// loader.
#[map]
pub static BAN_FILTER: Array<FilterLine> = Array::with_max_entries(1, BPF_F_MMAPABLE);

/// Per-CPU array, `source_hash % VERDICT_SLOTS` → `CachedVerdict`: the ban map's answer for a
/// source within one tick. Written by the program; `scanguard bans` reads the drops it holds.
#[map]
pub static VERDICTS: PerCpuArray<CachedVerdict> = PerCpuArray::with_max_entries(VERDICT_SLOTS, 0);

/// LRU hash, source → `Suspect`: its probes towards `min_probes`. Written by the program.
#[map]
pub static SUSPECTS: LruHashMap<AddrKey, Suspect> =
    LruHashMap::with_max_entries(HARDENING_CAPACITY, 0);

/// LRU hash, /24 or /64 → `SubnetBans`: new bans in its current minute. Written by the program.
#[map]
pub static SUBNET_BANS: LruHashMap<AddrKey, SubnetBans> =
    LruHashMap::with_max_entries(HARDENING_CAPACITY, 0);

/// LRU hash, source → `Offender`: its last ban, for repeat offenders. Written by the program;
/// `scanguard unban` forgets a source.
#[map]
pub static OFFENDERS: LruHashMap<AddrKey, Offender> =
    LruHashMap::with_max_entries(HARDENING_CAPACITY, 0);

/// One-entry array, 0 → `TokenBucket`: the global budget of new bans; starts empty and fills at
/// once (its clock starts at 0). Written by the program.
#[map]
pub static BAN_BUDGET: Array<TokenBucket> = Array::with_max_entries(1, 0);

/// LRU hash, flow → first seen (boot ns): the flows this host takes part in. Written by the
/// egress program and by the loader from the socket table; sized by the loader.
#[map]
pub static FLOWS: LruHashMap<FlowKey, u64> = LruHashMap::with_max_entries(DEFAULT_FLOW_CAPACITY, 0);

/// Per-CPU array, `flow_slot` → `FlowHit`: a flow found in `FLOWS` this tick. Written by the
/// program.
#[map]
pub static FLOW_HITS: PerCpuArray<FlowHit> = PerCpuArray::with_max_entries(FLOW_HIT_SLOTS, 0);

/// LRU hash, source → `Sweep`: the ports it probed in the current window. Written by the
/// program.
#[map]
pub static SWEEPS: LruHashMap<AddrKey, Sweep> = LruHashMap::with_max_entries(SWEEPS_CAPACITY, 0);

/// LRU hash, source → `Sweep`: the ports it probed in the current long window, for sources
/// that probed twice. Written by the program.
#[map]
pub static SLOW_SWEEPS: LruHashMap<AddrKey, Sweep> =
    LruHashMap::with_max_entries(SLOW_SWEEPS_CAPACITY, 0);

/// LRU hash, (source, port) → 1: default-deny probes already reported. Written by the program.
#[map]
pub static DENIED_PROBES: LruHashMap<DeniedProbe, u8> = LruHashMap::with_max_entries(65_536, 0);

/// Perf event array of `Event`s for the daemon. Written by the program.
#[map]
pub static EVENTS: PerfEventArray<Event> = PerfEventArray::new(0);

/// Per-CPU array, 0 → `Event`: where an event is built, too big for the 512-byte stack next to
/// a parsed frame. Written by the program.
#[map]
pub static EVENT_SCRATCH: PerCpuArray<Event> = PerCpuArray::with_max_entries(1, 0);

/// LRU hash, source → `TokenBucket`: its event rate limit. Written by the program.
#[map]
pub static EVENT_BUCKETS: LruHashMap<AddrKey, TokenBucket> =
    LruHashMap::with_max_entries(EVENT_BUCKETS_CAPACITY, 0);

/// One-entry array, 0 → `TokenBucket`: the event rate limit of all sources together; its clock
/// starts at 0, so it is full at the first event. Written by the program.
#[map]
pub static GLOBAL_EVENTS: Array<TokenBucket> = Array::with_max_entries(1, 0);

/// One-entry array, 0 → `TokenBucket`: as `GLOBAL_EVENTS`, for the probes source verification
/// refused, so a flood of forged probes cannot silence the detections of real ones. Written by
/// the program.
#[map]
pub static REFUSED_EVENTS: Array<TokenBucket> = Array::with_max_entries(1, 0);

/// Hash, port ifindex → its bridge's ifindex: the bridge ports the daemon attached to, whose
/// frames a route out of the bridge vouches for. Written by the daemon.
#[map]
pub static BRIDGE_PORTS: HashMap<u32, u32> = HashMap::with_max_entries(BRIDGE_PORTS_CAPACITY, 0);

/// LRU hash, next-hop address → `Neighbour`: its MAC as the daemon last read the neighbour
/// table, and when that changed. Written by the daemon.
#[map]
pub static NEIGHBOURS: LruHashMap<AddrKey, Neighbour> =
    LruHashMap::with_max_entries(NEIGHBOURS_CAPACITY, 0);

/// LRU hash, source → `Turned`: sources the spent global ban budget turned away, and when, for
/// the reserve. Written by the program.
#[map]
pub static TURNED_AWAY: LruHashMap<AddrKey, Turned> =
    LruHashMap::with_max_entries(TURNED_AWAY_CAPACITY, 0);

/// One-entry array, 0 → `TokenBucket`: the reserve of the ban budget; starts empty and fills at
/// once (its clock starts at 0). Written by the program.
#[map]
pub static RESERVE_BUDGET: Array<TokenBucket> = Array::with_max_entries(1, 0);

/// Hash, source → `Decision`: single addresses a CrowdSec LAPI decided to ban. Never evicts
/// (a blocklist must not push out local bans, nor they it); allocates per entry. Written by the
/// daemon's bouncer (the program counts drops in the value); sized by the loader.
#[map]
pub static DEC_ADDRS: HashMap<AddrKey, Decision> =
    HashMap::with_max_entries(DEFAULT_DECISION_ADDRESSES, BPF_F_NO_PREALLOC);

/// LPM trie, source prefix → `Decision`: the LAPI's range decisions (IPv4 as IPv4-mapped
/// prefixes, /96 + len). Written by the daemon's bouncer; sized by the loader.
#[map]
pub static DEC_NETS: LpmTrie<AddrKey, Decision> =
    LpmTrie::with_max_entries(DEFAULT_DECISION_RANGES, 0);

/// Array, line → `FilterLine`: one byte per hashed (prefix, length) of every decision, set
/// while a decision may cover it. Written by the daemon's bouncer; sized by the loader.
#[map]
pub static DEC_FILTER: Array<FilterLine> = Array::with_max_entries(1, 0);

/// One-entry array, 0 → `DecisionCounts`: entries per decision map, the prefix lengths in use
/// and the filter's mask. Written by the daemon after every change. A map rather than a global
/// variable: aya resets an adopted global as it loads the object, and a persisted program must
/// go on enforcing its decisions while a new daemon starts.
#[map]
pub static DEC_COUNTS: Array<DecisionCounts> = Array::with_max_entries(1, 0);

/// Per-CPU array, 0 → `DecisionStats`: drops per decision origin. Written by the program; read
/// by `scanguard stats` and the metrics.
#[map]
pub static DEC_STATS: PerCpuArray<DecisionStats> = PerCpuArray::with_max_entries(1, 0);

/// Array, origin id → `Label`: decision origin names for `bans` and `stats`. Written by the
/// daemon's bouncer; the program never reads it.
#[map]
pub static DEC_ORIGINS: Array<Label> = Array::with_max_entries(ORIGIN_SLOTS, 0);

/// Array, scenario id → `Label`: decision scenario names for `bans`. Written by the daemon's
/// bouncer; the program never reads it.
#[map]
pub static DEC_SCENARIOS: Array<Label> = Array::with_max_entries(SCENARIO_SLOTS, 0);

/// Per-CPU array, 0 → `Counters`. Written by the program; read by `scanguard stats`.
#[map]
pub static COUNTERS: PerCpuArray<Counters> = PerCpuArray::with_max_entries(1, 0);

/// The key of `DENIED_PROBES`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DeniedProbe {
    pub src: AddrKey,
    pub port: u16,
    pub _pad: [u8; 6],
}

#[inline(always)]
pub fn config() -> &'static Config {
    // SAFETY: only the loader writes it, through the map's syscalls.
    unsafe { &*(&raw const CONFIG) }
}

#[inline(always)]
pub fn port_roles(port: u16) -> u8 {
    // SAFETY: as for the config; a u16 indexes within the 65,536 ports.
    unsafe { (*(&raw const PORT_ROLES))[usize::from(port)] }
}

#[inline(always)]
pub fn ban_epoch() -> u64 {
    // SAFETY: a u64 of the program's own, whose writers each store a whole new value.
    unsafe { (&raw const BAN_EPOCH).read() }
}

/// Ends every cached verdict, this CPU's included.
#[inline(always)]
pub fn set_ban_epoch(epoch: u64) {
    // SAFETY: as in `ban_epoch`; any new value ends the cached verdicts.
    unsafe { (&raw mut BAN_EPOCH).write(epoch) };
}

/// The allow-list value of a source (`ALLOW_LISTED` or `ALLOW_LOCKOUT`), if it has one.
#[inline(always)]
pub fn allowance(addr: &AddrKey) -> Option<u8> {
    ALLOW.get(Key::new(128, *addr)).copied()
}

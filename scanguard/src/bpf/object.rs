//! The XDP program's object, built by `build.rs` from scanguard-ebpf and embedded: the names of
//! its programs, and of the maps pinned from it.

use scanguard_common::{
    allow::ALLOW_MAP,
    ban::BANS_MAP,
    ban_filter::{BAN_EPOCH_MAP, BAN_EPOCH_SECTION, BAN_FILTER_MAP, VERDICTS_MAP},
    config::{CONFIG_MAP, CONFIG_SECTION},
    counters::COUNTERS_MAP,
    decision::{
        DEC_ADDRS_MAP, DEC_COUNTS_MAP, DEC_FILTER_MAP, DEC_NETS_MAP, DEC_ORIGINS_MAP,
        DEC_SCENARIOS_MAP, DEC_STATS_MAP,
    },
    flow::FLOWS_MAP,
    hardening::OFFENDERS_MAP,
    ports::{PORT_ROLES_MAP, PORT_ROLES_SECTION},
    sweep::{SLOW_SWEEPS_MAP, SWEEPS_MAP},
};

/// The program built by `build.rs` from scanguard-ebpf.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/scanguard"));
pub const PROGRAM_NAME: &str = "scanguard";
/// The TC egress program that records the flows this host takes part in.
pub const EGRESS_PROGRAM_NAME: &str = "scanguard_egress";
/// The TC ingress program, `PROGRAM_NAME`'s checks where XDP costs more than it saves.
pub const INGRESS_PROGRAM_NAME: &str = "scanguard_tc";
/// The maps other processes and later runs need, pinned by this name under the pin directory
/// (see `object_map` for their names in the object).
pub const MAPS: [&str; 19] = [
    CONFIG_MAP,
    PORT_ROLES_MAP,
    ALLOW_MAP,
    BANS_MAP,
    BAN_FILTER_MAP,
    BAN_EPOCH_MAP,
    VERDICTS_MAP,
    COUNTERS_MAP,
    FLOWS_MAP,
    SWEEPS_MAP,
    SLOW_SWEEPS_MAP,
    OFFENDERS_MAP,
    DEC_ADDRS_MAP,
    DEC_NETS_MAP,
    DEC_FILTER_MAP,
    DEC_COUNTS_MAP,
    DEC_STATS_MAP,
    DEC_ORIGINS_MAP,
    DEC_SCENARIOS_MAP,
];

/// The object's name of the map pinned as `pin`: the config, the port roles and the ban epoch
/// are global variables of the program, whose maps aya names after their sections.
pub fn object_map(pin: &str) -> &str {
    match pin {
        CONFIG_MAP => CONFIG_SECTION,
        PORT_ROLES_MAP => PORT_ROLES_SECTION,
        BAN_EPOCH_MAP => BAN_EPOCH_SECTION,
        _ => pin,
    }
}

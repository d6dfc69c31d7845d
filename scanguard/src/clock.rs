//! The program stamps bans with `bpf_ktime_get_boot_ns`; this reads the same clock.

use std::time::{Duration, SystemTime};

use nix::time::{ClockId, clock_gettime};

pub fn boot_ns() -> u64 {
    // CLOCK_BOOTTIME exists since Linux 2.6.39, far older than anything with XDP.
    clock_gettime(ClockId::CLOCK_BOOTTIME)
        .map(|now| Duration::from(now).as_nanos() as u64)
        .unwrap_or(0)
}

/// Wall-clock time of a boot-clock timestamp.
pub fn wall_time(boot_timestamp_ns: u64) -> SystemTime {
    let age = Duration::from_nanos(boot_ns().saturating_sub(boot_timestamp_ns));
    SystemTime::now() - age
}

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
    WallClock::now().at(boot_timestamp_ns)
}

/// One reading of both clocks, to convert many timestamps with two system calls in all.
pub struct WallClock {
    boot_ns: u64,
    wall: SystemTime,
}

impl WallClock {
    pub fn now() -> WallClock {
        WallClock {
            boot_ns: boot_ns(),
            wall: SystemTime::now(),
        }
    }

    /// Wall-clock time of a boot-clock timestamp.
    pub fn at(&self, boot_timestamp_ns: u64) -> SystemTime {
        self.wall - Duration::from_nanos(self.boot_ns.saturating_sub(boot_timestamp_ns))
    }
}

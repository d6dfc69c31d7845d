//! CPU placement: the generator on one CPU, the receiving NAPI thread on the other, so the
//! receiver's cost, not the sender's, sets the rate.

use anyhow::{Context as _, Result};
use nix::{
    sched::{CpuSet, sched_setaffinity},
    unistd::Pid,
};

/// CPUs this machine has online.
pub fn online() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Pins the calling thread (pid 0) or the task `tid` to `cpu`.
pub fn pin(tid: Option<i32>, cpu: usize) -> Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)
        .with_context(|| format!("CPU {cpu} out of range"))?;
    sched_setaffinity(Pid::from_raw(tid.unwrap_or(0)), &set)
        .with_context(|| format!("cannot pin task {tid:?} to CPU {cpu}"))
}

/// SCHED_FIFO priority of the generator, so that other work on the machine cannot take its CPU
/// away and upset its pacing. Only the generator's CPU is held this way: with both CPUs held
/// by real-time threads the kernel's own threads (RCU's among them) starve, and every command
/// the measurement runs stalls for up to seconds.
pub const GENERATOR_PRIORITY: i32 = 50;

/// The nice value of the receiving NAPI thread and of the measuring thread: it outweighs
/// ordinary work (within its cgroup) and starves nothing.
pub const FAVOURED_NICE: i32 = -20;

/// Makes the calling thread SCHED_FIFO at `priority`.
pub fn realtime(priority: i32) -> Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: a valid sched_param; the call only changes scheduling.
    let result = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if result != 0 {
        return Err(std::io::Error::last_os_error()).context("cannot make the thread SCHED_FIFO");
    }
    Ok(())
}

/// CPU time a task has spent running, in nanoseconds (the first field of
/// /proc/<tid>/schedstat).
pub fn cpu_time_ns(tid: i32) -> Result<u64> {
    let path = format!("/proc/{tid}/schedstat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    text.split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .with_context(|| format!("malformed {path}"))
}

/// Sets the nice value of the calling thread (tid `None`) or of the task `tid`; on Linux the
/// nice value belongs to each thread, and the commands a thread starts inherit it.
pub fn nice(tid: Option<i32>, value: i32) -> Result<()> {
    let who = libc::id_t::try_from(tid.unwrap_or(0)).context("negative tid")?;
    // SAFETY: setpriority has no memory preconditions.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, who, value) };
    if result != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("cannot renice task {tid:?} to {value}"));
    }
    Ok(())
}

/// Favours the calling thread, and the commands it starts, until dropped: readings of the
/// counters then take milliseconds even with both CPUs busy with the flood.
#[must_use = "the favour ends when the guard drops"]
pub struct Favour(());

impl Favour {
    pub fn new() -> Result<Favour> {
        nice(None, FAVOURED_NICE)?;
        Ok(Favour(()))
    }
}

impl Drop for Favour {
    fn drop(&mut self) {
        let _ = nice(None, 0);
    }
}

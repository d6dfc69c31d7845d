//! One tokio task per online CPU drains that CPU's perf buffer, a batch at a time, and decodes
//! events with bytemuck.

use std::{
    collections::HashMap,
    ops::ControlFlow,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use anyhow::{Context as _, Result};
use aya::{
    maps::{
        MapData, PerfEventArray,
        perf::{PerfEvent, PerfEventArrayBuffer},
    },
    util::online_cpus,
};
use log::warn;
use scanguard_common::event::Event;
use tokio::{
    io::{Interest, unix::AsyncFd},
    sync::mpsc,
};

use super::{Detection, PortNames};

/// Pages per CPU buffer: room for ~40,000 events between two reads.
const PAGES_PER_CPU: usize = 1024;
/// Events taken from a buffer before they are handed on. The reader waits for the output
/// between batches, so a storm the output cannot keep up with stays in the kernel's buffer,
/// and past it is counted as lost, rather than piling up in the daemon's memory.
const BATCH: usize = 256;

/// Starts the readers; decoded events arrive on the returned channel. Samples the kernel
/// could not deliver (buffer full) are added to `lost` and reported as a warning.
pub fn spawn(
    mut events: PerfEventArray<MapData>,
    lost: Arc<AtomicU64>,
    port_names: Arc<RwLock<PortNames>>,
) -> Result<mpsc::Receiver<Detection>> {
    let (sender, receiver) = mpsc::channel(PAGES_PER_CPU);
    for (cpu, buffer) in open_per_cpu(&mut events, Some(PAGES_PER_CPU))? {
        // SAFETY: the buffer owns its perf fd for as long as the AsyncFd owns the buffer.
        let mut buffer = unsafe { AsyncFd::register_with_interest(buffer, Interest::READABLE) }
            .map_err(|error| {
                anyhow::anyhow!("cannot poll the perf buffer of CPU {cpu}: {error}")
            })?;
        let sender = sender.clone();
        let lost = Arc::clone(&lost);
        let port_names = Arc::clone(&port_names);
        tokio::spawn(async move {
            let mut names = InterfaceNames::default();
            loop {
                let Ok(mut ready) = buffer.readable_mut().await else {
                    return;
                };
                let batch = {
                    // A reload may change the names; the lock is held for one batch.
                    let port_names = port_names.read().unwrap_or_else(PoisonError::into_inner);
                    read_batch(ready.get_inner_mut(), &mut names, &port_names, &lost)
                };
                // A buffer left with events stays ready: the next wait returns at once.
                if !ready.get_inner().readable() {
                    ready.clear_ready();
                }
                for detection in batch {
                    if sender.send(detection).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
    Ok(receiver)
}

/// Opens a buffer of `pages` pages (the kernel's default for `None`) on every online CPU:
/// without a reader's buffer on its CPU, the program's event output fails early.
pub fn open_per_cpu(
    events: &mut PerfEventArray<MapData>,
    pages: Option<usize>,
) -> Result<Vec<(u32, PerfEventArrayBuffer<MapData>)>> {
    let cpus =
        online_cpus().map_err(|(path, error)| anyhow::anyhow!("cannot read {path}: {error}"))?;
    cpus.into_iter()
        .map(|cpu| {
            let buffer = events
                .open(cpu, pages)
                .with_context(|| format!("cannot open the perf buffer of CPU {cpu}"))?;
            Ok((cpu, buffer))
        })
        .collect()
}

/// Takes up to [`BATCH`] events from `buffer`, decoded; counts and reports lost ones.
fn read_batch(
    buffer: &mut PerfEventArrayBuffer<MapData>,
    names: &mut InterfaceNames,
    port_names: &PortNames,
    lost: &AtomicU64,
) -> Vec<Detection> {
    let read = buffer.try_fold(Vec::with_capacity(BATCH), |mut batch, event| {
        match event {
            PerfEvent::Sample { head, tail } => {
                if let Some(event) = decode(head, tail) {
                    let interface = names.get(event.ifindex);
                    batch.push(Detection::from_event(&event, interface, port_names));
                }
            }
            PerfEvent::Lost { count } => {
                lost.fetch_add(count, Ordering::Relaxed);
                warn!("lost {count} detection events: the reader fell behind");
            }
        }
        if batch.len() < BATCH {
            ControlFlow::Continue(batch)
        } else {
            ControlFlow::Break(batch)
        }
    });
    let (ControlFlow::Continue(batch) | ControlFlow::Break(batch)) = read;
    batch
}

/// Decodes one perf sample. The sample bytes may wrap around the ring (`head`, then `tail`);
/// the kernel pads them to 8 bytes. Too short a sample is `None`.
pub fn decode(head: &[u8], tail: &[u8]) -> Option<Event> {
    let size = std::mem::size_of::<Event>();
    if head.len() >= size {
        return Some(bytemuck::pod_read_unaligned(&head[..size]));
    }
    let joined: Vec<u8> = head.iter().chain(tail).copied().collect();
    joined
        .get(..size)
        .map(bytemuck::pod_read_unaligned::<Event>)
}

/// ifindex to name, remembered: interfaces seldom change names.
#[derive(Default)]
struct InterfaceNames(HashMap<u32, String>);

impl InterfaceNames {
    fn get(&mut self, ifindex: u32) -> String {
        self.0
            .entry(ifindex)
            .or_insert_with(|| {
                nix::net::if_::if_indextoname(ifindex)
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| format!("if{ifindex}"))
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use bytemuck::Zeroable as _;

    use super::*;

    #[test]
    fn samples_decode_whole_or_wrapped() {
        let mut event = Event::zeroed();
        event.ifindex = 7;
        event.dst_port = 23;
        let bytes = bytemuck::bytes_of(&event).to_vec();
        assert_eq!(decode(&bytes, &[]), Some(event));
        let (head, tail) = bytes.split_at(10);
        assert_eq!(decode(head, tail), Some(event));
        assert_eq!(decode(&bytes[..20], &[]), None);
    }
}

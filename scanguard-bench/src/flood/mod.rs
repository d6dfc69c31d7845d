//! Part 2: drop rate under flood. The live-frames generator floods the receiver of a lab veth
//! pair from a banned source; each method in turn drops it, the methods alternating within each
//! repetition. The rate is what the method dropped per second, by its own counter (the program's
//! or the rule's), beside what the receiver's NAPI thread consumed (veth counts every frame it
//! polls); the empty program has no counter and drops every frame consumed.
//!
//! The receiving thread's CPU time over the window gives a second figure, frames per second of
//! receiver CPU: the cost of each method per frame, which other work on the machine (taking
//! some of the receiver's CPU) does not change, and which still holds when the generator, not
//! the receiver, sets the pace. The ratios are taken on it.

pub mod methods;
mod netfilter;
mod xdp_filter;

use std::{
    net::Ipv4Addr,
    path::Path,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use anyhow::Result;
use serde::Serialize;

use crate::{
    cpu,
    generator::{Generator, Sent, Target},
    interrupt,
    stats::{Summary, paired_ratios},
    topology::{FloodLink, SENDER_CPU},
};
use methods::{Installed, Method};

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub repetitions: usize,
    pub window: Duration,
    pub warmup: Duration,
}

/// One method in one repetition.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub repetition: usize,
    /// The window's length, between the two readings of the receiver's counters.
    pub seconds: f64,
    /// Frames the method dropped per second, by its own counter (the empty program: frames the
    /// receiver consumed).
    pub pps: f64,
    /// Share of the window the receiving thread was on a CPU.
    pub receiver_busy: f64,
    /// Frames dropped per second of the receiving thread's CPU time.
    pub pps_per_cpu: f64,
    /// Frames the generator offered per second.
    pub offered_pps: f64,
    /// Frames per second that found the receiver's ring full.
    pub ring_full_pps: f64,
    /// The method's own drop count over the window, divided by the frames consumed.
    pub dropped_share: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MethodResult {
    pub key: &'static str,
    pub method: &'static str,
    pub samples: Vec<Sample>,
    pub pps: Option<Summary>,
    pub receiver_busy: Option<Summary>,
    pub pps_per_cpu: Option<Summary>,
    /// Frames per receiver CPU-second, paired with the floor in the same repetition.
    pub ratio_to_floor: Option<Summary>,
    /// The same with frames per wall-clock second.
    pub ratio_to_floor_wall: Option<Summary>,
    pub dropped_share: Option<Summary>,
    /// Why the method could not be measured, if it could not.
    pub failure: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Flood {
    pub repetitions: usize,
    pub window_seconds: f64,
    pub offered_pps: Summary,
    pub methods: Vec<MethodResult>,
    /// Paired ratios of scanguard (native) to other methods, per repetition, in frames per
    /// receiver CPU-second.
    pub scanguard_vs: Vec<(String, Summary)>,
}

pub fn run(link: &FloodLink, scanguard: &Path, config: Config) -> Result<Flood> {
    let banned: Ipv4Addr = link.tx.ipv4;
    let frame = link.syn_from(banned.into());
    let generator = Generator::flood(link)?;
    let mut samples: Vec<Vec<Option<Sample>>> = vec![Vec::new(); Method::ALL.len()];
    let mut failures: Vec<Option<String>> = vec![None; Method::ALL.len()];
    for repetition in 0..config.repetitions {
        for i in 0..Method::ALL.len() {
            interrupt::check()?;
            let index = (i + repetition) % Method::ALL.len();
            let method = Method::ALL[index];
            if failures[index].is_some() {
                samples[index].push(None);
                continue;
            }
            print!(
                "[bench] flood {}/{}: {:<42}",
                repetition + 1,
                config.repetitions,
                method.name()
            );
            std::io::Write::flush(&mut std::io::stdout())?;
            let sample = match methods::install(method, &link.rx, banned, scanguard) {
                Ok(mut installed) => {
                    measure(link, &generator, &frame, &mut installed, repetition, config)?
                }
                Err(error) => {
                    println!(" cannot set up: {error:#}");
                    failures[index] = Some(format!("{error:#}"));
                    samples[index].push(None);
                    continue;
                }
            };
            println!(
                " {:6.3} Mpps, receiver busy {:3.0}%, {:6.3} Mpps per receiver CPU",
                sample.pps / 1e6,
                sample.receiver_busy * 100.0,
                sample.pps_per_cpu / 1e6
            );
            samples[index].push(Some(sample));
        }
    }
    Ok(summarize(samples, failures, config))
}

fn measure(
    link: &FloodLink,
    generator: &Generator,
    frame: &[u8],
    installed: &mut Installed,
    repetition: usize,
    config: Config,
) -> Result<Sample> {
    link.pin_receiver()?;
    let stop = AtomicBool::new(false);
    let target = Target {
        netns: &link.tx.netns,
        ifindex: link.tx_ifindex,
        frame,
        cpu: SENDER_CPU,
    };
    // The generator stops on its own at this limit even if this thread never returns.
    let limit = config.warmup + config.window + Duration::from_secs(5);
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| generator.run(&target, &stop, limit));
        let window = (|| -> Result<_> {
            interrupt::sleep(config.warmup)?;
            let favour = cpu::Favour::new()?;
            let (before, rx_start) = timed(|| link.rx_stats())?;
            let cpu_before = link.receiver_cpu_ns()?;
            let (dropped_before, dropped_start) = timed(|| installed.dropped())?;
            drop(favour);
            interrupt::sleep(config.window.saturating_sub(rx_start.elapsed()))?;
            let _favour = cpu::Favour::new()?;
            let (after, rx_end) = timed(|| link.rx_stats())?;
            let cpu_after = link.receiver_cpu_ns()?;
            let (dropped_after, dropped_end) = timed(|| installed.dropped())?;
            let seconds = (rx_end - rx_start).as_secs_f64();
            let consumed = after.rx_packets.saturating_sub(before.rx_packets) as f64;
            let dropped = dropped_before.zip(dropped_after).map(|(before, after)| {
                after.saturating_sub(before) as f64 / (dropped_end - dropped_start).as_secs_f64()
            });
            Ok(Window {
                seconds,
                consumed_pps: consumed / seconds,
                ring_full_pps: after.rx_dropped.saturating_sub(before.rx_dropped) as f64 / seconds,
                busy: cpu_after.saturating_sub(cpu_before) as f64 / 1e9 / seconds,
                dropped_pps: dropped,
            })
        })();
        stop.store(true, Ordering::Relaxed);
        let sent: Sent = sender
            .join()
            .map_err(|_| anyhow::anyhow!("generator panicked"))??;
        let window = window?;
        // What the method dropped, by its own count; the empty program has none, and drops
        // every frame the receiver consumes.
        let pps = window.dropped_pps.unwrap_or(window.consumed_pps);
        Ok(Sample {
            repetition,
            seconds: window.seconds,
            pps,
            receiver_busy: window.busy,
            pps_per_cpu: if window.busy > 0.0 {
                pps / window.busy
            } else {
                0.0
            },
            offered_pps: sent.rate(),
            ring_full_pps: window.ring_full_pps,
            dropped_share: window
                .dropped_pps
                .filter(|_| window.consumed_pps > 0.0)
                .map(|dropped| dropped / window.consumed_pps),
        })
    })
}

/// Rates over one measurement window. Each counter is read by a command that takes a few
/// milliseconds; its reading is dated at the middle of the command, and each rate is taken
/// between its own two readings.
struct Window {
    seconds: f64,
    consumed_pps: f64,
    ring_full_pps: f64,
    /// The receiving thread's CPU time over the window, as a share of it.
    busy: f64,
    dropped_pps: Option<f64>,
}

/// Runs `read` and returns its result with the instant halfway through.
fn timed<T>(read: impl FnOnce() -> Result<T>) -> Result<(T, Instant)> {
    let start = Instant::now();
    let value = read()?;
    Ok((value, start + start.elapsed() / 2))
}

fn summarize(
    samples: Vec<Vec<Option<Sample>>>,
    failures: Vec<Option<String>>,
    config: Config,
) -> Flood {
    let figure_of = |index: usize, figure: fn(&Sample) -> f64| -> Vec<Option<f64>> {
        samples[index]
            .iter()
            .map(|s| s.as_ref().map(figure))
            .collect()
    };
    let floor = Method::ALL
        .iter()
        .position(|m| *m == Method::FloorDrop)
        .unwrap_or(0);
    let native = Method::ALL
        .iter()
        .position(|m| *m == Method::ScanguardNative)
        .unwrap_or(0);
    let paired_by = |a: usize, b: usize, figure: fn(&Sample) -> f64| -> Option<Summary> {
        let (x, y): (Vec<f64>, Vec<f64>) = figure_of(a, figure)
            .into_iter()
            .zip(figure_of(b, figure))
            .filter_map(|(x, y)| x.zip(y))
            .unzip();
        let ratios = paired_ratios(&x, &y);
        (!ratios.is_empty()).then(|| Summary::of(&ratios))
    };
    let paired = |a, b| paired_by(a, b, |s| s.pps_per_cpu);
    let summary = |values: Vec<f64>| (!values.is_empty()).then(|| Summary::of(&values));
    let offered: Vec<f64> = samples
        .iter()
        .flatten()
        .flatten()
        .map(|s| s.offered_pps)
        .collect();
    let methods = Method::ALL
        .iter()
        .enumerate()
        .map(|(index, method)| {
            let measured: Vec<&Sample> = samples[index].iter().flatten().collect();
            let all = |figure: fn(&Sample) -> f64| measured.iter().map(|s| figure(s)).collect();
            MethodResult {
                key: method.key(),
                method: method.name(),
                samples: measured.iter().map(|s| (*s).clone()).collect(),
                pps: summary(all(|s| s.pps)),
                receiver_busy: summary(all(|s| s.receiver_busy)),
                pps_per_cpu: summary(all(|s| s.pps_per_cpu)),
                ratio_to_floor: paired(index, floor),
                ratio_to_floor_wall: paired_by(index, floor, |s| s.pps),
                dropped_share: summary(measured.iter().filter_map(|s| s.dropped_share).collect()),
                failure: failures[index].clone(),
            }
        })
        .collect();
    let scanguard_vs = Method::ALL
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != native)
        .filter_map(|(index, method)| Some((method.key().to_string(), paired(native, index)?)))
        .collect();
    Flood {
        repetitions: config.repetitions,
        window_seconds: config.window.as_secs_f64(),
        offered_pps: if offered.is_empty() {
            Summary::default()
        } else {
            Summary::of(&offered)
        },
        methods,
        scanguard_vs,
    }
}

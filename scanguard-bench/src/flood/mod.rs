//! Part 2: drop rate under flood. The live-frames generator, where the kernel allows it, floods
//! the receiver of a lab veth pair from a banned source; each method in turn drops it, the
//! methods alternating within each repetition. The rate is what the method dropped per second,
//! by its own counter (the program's or the rule's), beside what the receiver's NAPI thread
//! consumed (veth counts every frame it polls); the empty program has no counter and drops
//! every frame consumed.
//!
//! The receiving thread's CPU time over the window gives a second figure, frames per second of
//! receiver CPU: the cost of each method per frame, which other work on the machine (taking
//! some of the receiver's CPU) does not change, and which still holds when the generator, not
//! the receiver, sets the pace. The ratios are taken on it.
//!
//! Each method's turn is split into consecutive one-second windows and reports their medians:
//! on this shared VM a method's rate can halve for a second or two and come back with nothing
//! changed on the machine, and one window of that would stand for the whole turn.

pub mod methods;
pub mod netfilter;
pub mod xdp_filter;

use std::{
    net::Ipv4Addr,
    path::Path,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use serde::Serialize;

use crate::{
    cpu,
    generator::{Generator, Mode, Sent, Target},
    interrupt, netdev,
    stats::{Summary, paired_ratios},
    topology::{FloodLink, SENDER_CPU},
};
use methods::{Installed, Method};

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub repetitions: usize,
    /// Consecutive windows per method and repetition.
    pub windows: usize,
    pub window: Duration,
    pub warmup: Duration,
}

/// One method in one repetition: the medians over its windows.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub repetition: usize,
    /// The windows' lengths, each between two readings of the receiver's counters.
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
    /// `pps_per_cpu` of each window, in order.
    pub window_pps_per_cpu: Vec<f64>,
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
    pub windows: usize,
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
    // Tried here: the relay offers 0.3 Mpps, and a broadcast redirect of 16 copies 2-3 Mpps,
    // whose page allocation and freeing on both CPUs then cost the receiver more than any
    // method does; either way every XDP method measured about the same.
    if generator.mode() != Mode::LiveFrames {
        bail!(
            "this kernel refuses BPF_F_TEST_XDP_LIVE_FRAMES, and no other generator here offers \
             enough frames to load a receiver that drops at XDP speed"
        );
    }
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
    let measured = config.window * u32::try_from(config.windows)?;
    // The generator stops on its own at this limit even if this thread never returns.
    let limit = config.warmup + measured + Duration::from_secs(5);
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| generator.run(&target, &stop, limit));
        let windows = (|| -> Result<Vec<Window>> {
            interrupt::sleep(config.warmup)?;
            let mut last = Reading::take(link, installed)?;
            let mut windows = Vec::with_capacity(config.windows);
            for _ in 0..config.windows {
                interrupt::sleep(config.window.saturating_sub(last.rx_at.elapsed()))?;
                let next = Reading::take(link, installed)?;
                windows.push(Window::between(&last, &next));
                last = next;
            }
            Ok(windows)
        })();
        stop.store(true, Ordering::Relaxed);
        let sent: Sent = sender
            .join()
            .map_err(|_| anyhow::anyhow!("generator panicked"))??;
        let windows = windows?;
        let median = |figure: fn(&Window) -> f64| {
            Summary::of(&windows.iter().map(figure).collect::<Vec<_>>()).median
        };
        let shares: Vec<f64> = windows.iter().filter_map(Window::dropped_share).collect();
        Ok(Sample {
            repetition,
            seconds: windows.iter().map(|w| w.seconds).sum(),
            pps: median(Window::pps),
            receiver_busy: median(|w| w.busy),
            pps_per_cpu: median(Window::pps_per_cpu),
            offered_pps: sent.rate(),
            ring_full_pps: median(|w| w.ring_full_pps),
            dropped_share: (!shares.is_empty()).then(|| Summary::of(&shares).median),
            window_pps_per_cpu: windows.iter().map(Window::pps_per_cpu).collect(),
        })
    })
}

/// The receiver's counters at one moment, under `cpu::Favour` so the reading is quick. Each
/// counter is read by a command that takes a few milliseconds; its reading is dated at the
/// middle of the command, and each rate is taken between its own two readings.
struct Reading {
    rx: netdev::LinkStats,
    rx_at: Instant,
    cpu_ns: u64,
    dropped: Option<u64>,
    dropped_at: Instant,
}

impl Reading {
    fn take(link: &FloodLink, installed: &mut Installed) -> Result<Reading> {
        let _favour = cpu::Favour::new()?;
        let (rx, rx_at) = timed(|| link.rx_stats())?;
        let cpu_ns = link.receiver_cpu_ns()?;
        let (dropped, dropped_at) = timed(|| installed.dropped())?;
        Ok(Reading {
            rx,
            rx_at,
            cpu_ns,
            dropped,
            dropped_at,
        })
    }
}

/// Rates over one measurement window.
struct Window {
    seconds: f64,
    consumed_pps: f64,
    ring_full_pps: f64,
    /// The receiving thread's CPU time over the window, as a share of it.
    busy: f64,
    dropped_pps: Option<f64>,
}

impl Window {
    fn between(start: &Reading, end: &Reading) -> Window {
        let seconds = (end.rx_at - start.rx_at).as_secs_f64();
        let counted = |after: u64, before: u64| after.saturating_sub(before) as f64 / seconds;
        let dropped_pps = start.dropped.zip(end.dropped).map(|(before, after)| {
            after.saturating_sub(before) as f64 / (end.dropped_at - start.dropped_at).as_secs_f64()
        });
        Window {
            seconds,
            consumed_pps: counted(end.rx.rx_packets, start.rx.rx_packets),
            ring_full_pps: counted(end.rx.rx_dropped, start.rx.rx_dropped),
            busy: end.cpu_ns.saturating_sub(start.cpu_ns) as f64 / 1e9 / seconds,
            dropped_pps,
        }
    }

    /// What the method dropped, by its own count; the empty program has none, and drops every
    /// frame the receiver consumes.
    fn pps(&self) -> f64 {
        self.dropped_pps.unwrap_or(self.consumed_pps)
    }

    fn pps_per_cpu(&self) -> f64 {
        if self.busy > 0.0 {
            self.pps() / self.busy
        } else {
            0.0
        }
    }

    fn dropped_share(&self) -> Option<f64> {
        self.dropped_pps
            .filter(|_| self.consumed_pps > 0.0)
            .map(|dropped| dropped / self.consumed_pps)
    }
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
        windows: config.windows,
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

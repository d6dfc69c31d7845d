//! `scanguard attach`: the foreground daemon.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use aya::{
    Ebpf,
    maps::{HashMap, PerfEventArray},
    programs::{
        links::{FdLink, PinnedLink},
        tc::{SchedClassifierLink, TcAttachType},
        xdp::{XdpLink, XdpMode},
    },
};
use log::{info, warn};
use scanguard_common::{ban::BANS_MAP, event::EVENTS_MAP};
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::mpsc,
};

use crate::{
    bans, bpffs,
    cli::{AttachArgs, Cli, LogLevel, Mode},
    config_file,
    daemon_status::{AttachedInterface, DaemonLock, DaemonStatus},
    events::{self, Detection, fanout::Fanout, output::Output},
    flows,
    interfaces::{self, XdpAttachMode},
    lockout, metrics,
    paths::DEFAULT_CONFIG_FILE,
    pins::{LinkKind, Pins, link_pin},
    privileges, program,
    settings::Settings,
};

/// How often bans that expired without their source coming back are deleted.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

pub async fn execute(cli: &Cli, args: &AttachArgs) -> Result<()> {
    privileges::require()?;
    let settings = settings(args)?;
    let names = if args.interfaces.is_empty() {
        vec![interfaces::default_route_interface()?]
    } else {
        args.interfaces.clone()
    };
    let targets = names
        .iter()
        .map(|name| Ok((name.as_str(), interfaces::ifindex(name)?)))
        .collect::<Result<Vec<_>>>()?;

    let output = Output::new(args.json, args.syslog)?;
    let lock = DaemonLock::acquire(&cli.run_dir)?;
    let metrics = metrics::Endpoint::bind(args.metrics.as_deref()).await?;
    remove_stale_state(&cli.pin_dir)?;
    bpffs::ensure_pin_dir(&cli.pin_dir)?;
    let result = run(cli, args, &settings, &targets, &lock, output, metrics).await;
    if !args.persist {
        Pins::remove(&cli.pin_dir)?;
    }
    result
}

async fn run(
    cli: &Cli,
    args: &AttachArgs,
    settings: &Settings,
    targets: &[(&str, u32)],
    lock: &DaemonLock,
    output: Output,
    metrics: Option<metrics::Endpoint>,
) -> Result<()> {
    let mut ebpf =
        program::load_with_log_level(settings, Some(&cli.pin_dir), cli.log_level.kernel())?;
    if settings.lockout_protection {
        let protected = lockout::protected_addresses();
        program::protect_from_lockout(&mut ebpf, &protected)?;
        info!(
            "lock-out protection: never banning {} addresses of this host, its gateways and SSH client",
            protected.len()
        );
    }
    let seeded = flows::seed(&mut ebpf)?;
    info!("{seeded} existing connections recorded as flows");
    if cli.log_level >= LogLevel::Debug {
        forward_kernel_log(&mut ebpf)?;
    }
    let perf = ebpf
        .take_map(EVENTS_MAP)
        .context("the embedded object has no event map")?;
    let lost = Arc::new(AtomicU64::new(0));
    let detections = events::reader::spawn(
        PerfEventArray::try_from(perf)?,
        Arc::clone(&lost),
        settings.trap_ports.clone(),
    )?;
    if let Some(endpoint) = metrics {
        endpoint.spawn(cli.pin_dir.clone(), Arc::clone(&lost));
    }
    let sinks = Sinks {
        output,
        fanout: Fanout::bind(&cli.run_dir)?,
        lost,
    };
    let mut attached = Vec::new();
    for (name, ifindex) in targets {
        let mode = attach(&mut ebpf, name, *ifindex, args, &cli.pin_dir).await?;
        info!("protecting {name} ({} mode)", mode.name());
        attached.push(AttachedInterface {
            name: name.to_string(),
            ifindex: *ifindex,
            mode: mode.name().to_string(),
        });
    }
    program::start_flow_checks(&mut ebpf)?;
    let mut status = DaemonStatus {
        pid: std::process::id(),
        persist: args.persist,
        pin_dir: cli.pin_dir.clone(),
        interfaces: attached,
        events_lost: 0,
    };
    lock.publish(&status)?;
    enforce(&mut ebpf, settings, detections, sinks, |lost| {
        status.events_lost = lost;
        lock.publish(&status)
    })
    .await?;
    if args.persist {
        info!("exiting; the program keeps enforcing (persisted), `scanguard detach` removes it");
    } else {
        info!("detached");
    }
    // Dropping `ebpf` detaches every link the process still owns.
    Ok(())
}

/// Pinned maps without a persisted link are what a crashed daemon left: it could not remove
/// them. Persisted state is adopted instead, bans and all.
fn remove_stale_state(pin_dir: &Path) -> Result<()> {
    let Ok(pins) = Pins::open(pin_dir) else {
        return Ok(());
    };
    if pins.persisted_links().is_empty() {
        warn!(
            "removing state left in {} by a scanguard that did not exit cleanly",
            pin_dir.display()
        );
        Pins::remove(pin_dir)?;
    }
    Ok(())
}

/// The program's aya-log records, written through this process's logger.
fn forward_kernel_log(ebpf: &mut Ebpf) -> Result<()> {
    let logger = aya_log::EbpfLogger::init(ebpf).context("cannot read the program's log")?;
    // SAFETY: the logger owns its ring-buffer fd for as long as the AsyncFd owns the logger.
    let mut logger = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(logger, tokio::io::Interest::READABLE)
    }
    .map_err(|error| anyhow::anyhow!("cannot poll the program's log: {error}"))?;
    tokio::spawn(async move {
        while let Ok(mut ready) = logger.readable_mut().await {
            ready.get_inner_mut().flush();
            ready.clear_ready();
        }
    });
    Ok(())
}

/// Where detections go, and how many the kernel could not deliver.
struct Sinks {
    output: Output,
    fanout: Fanout,
    lost: Arc<AtomicU64>,
}

/// Writes detections and sweeps expired bans until SIGINT or SIGTERM. `publish_lost` tells
/// other processes (`stats`) how many events were lost, when that changes.
async fn enforce(
    ebpf: &mut Ebpf,
    settings: &Settings,
    mut detections: mpsc::Receiver<Detection>,
    mut sinks: Sinks,
    mut publish_lost: impl FnMut(u64) -> Result<()>,
) -> Result<()> {
    let mut published_lost = 0;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
    let mut ban_map: bans::BanMap<_> = HashMap::try_from(
        ebpf.map_mut(BANS_MAP)
            .context("the embedded object has no ban map")?,
    )?;
    loop {
        tokio::select! {
            _ = interrupt.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            Some(detection) = detections.recv() => {
                sinks.output.write(&detection);
                sinks.fanout.publish(&detection);
            }
            _ = sweep.tick() => {
                bans::sweep(&mut ban_map, settings.ban_mode)?;
                let lost = sinks.lost.load(Ordering::Relaxed);
                if lost != published_lost {
                    publish_lost(lost)?;
                    published_lost = lost;
                }
            }
        }
    }
}

/// Attaches to one interface, adopting persisted links there; returns the XDP mode in effect.
async fn attach(
    ebpf: &mut Ebpf,
    name: &str,
    ifindex: u32,
    args: &AttachArgs,
    pin_dir: &Path,
) -> Result<XdpAttachMode> {
    let xdp_pin = link_pin(pin_dir, LinkKind::Xdp, name);
    let xdp = program::xdp(ebpf)?;
    let mut existing = interfaces::xdp_attachment(ifindex).await?;
    if let Some(orphan) = existing.filter(|found| {
        !xdp_pin.exists() && interfaces::program_name(found.program_id) == program::PROGRAM_NAME
    }) {
        warn!(
            "{name}: removing scanguard program {} left attached by a run that did not exit cleanly",
            orphan.program_id
        );
        interfaces::detach_xdp(ifindex).await?;
        existing = None;
    }
    let link_id = if let Some(existing) = existing {
        if !xdp_pin.exists() {
            bail!(
                "interface {name} already carries XDP program {:?} (id {}) from another tool; remove it first (ip link set dev {name} xdp off)",
                interfaces::program_name(existing.program_id),
                existing.program_id
            );
        }
        info!("{name}: adopting the persisted scanguard link");
        let link = PinnedLink::from_pin(&xdp_pin)?.unpin()?;
        xdp.attach_to_link(XdpLink::try_from(link)?)?
    } else {
        match args.mode {
            Mode::Native => xdp.attach_to_if_index(ifindex, XdpMode::Driver)?,
            Mode::Skb => xdp.attach_to_if_index(ifindex, XdpMode::Skb)?,
            Mode::Auto => match xdp.attach_to_if_index(ifindex, XdpMode::Driver) {
                Ok(link_id) => link_id,
                Err(error) => {
                    warn!(
                        "{name}: driver {} has no native XDP ({error}); using generic (skb) mode",
                        interfaces::driver(name)
                    );
                    xdp.attach_to_if_index(ifindex, XdpMode::Skb)?
                }
            },
        }
    };
    if args.persist {
        pin(FdLink::try_from(xdp.take_link(link_id)?)?, &xdp_pin)?;
    }
    attach_egress(ebpf, name, args.persist, pin_dir)?;
    let attachment = interfaces::xdp_attachment(ifindex)
        .await?
        .with_context(|| format!("{name}: the kernel reports no XDP program after attaching"))?;
    Ok(attachment.mode)
}

/// The TC egress program that records this host's flows (through TCX links on this kernel).
fn attach_egress(ebpf: &mut Ebpf, name: &str, persist: bool, pin_dir: &Path) -> Result<()> {
    let egress_pin = link_pin(pin_dir, LinkKind::Egress, name);
    let egress = program::egress(ebpf)?;
    let link_id = if egress_pin.exists() {
        let link = PinnedLink::from_pin(&egress_pin)?.unpin()?;
        egress.attach_to_link(SchedClassifierLink::try_from(link)?)?
    } else {
        egress
            .attach(name, TcAttachType::Egress)
            .with_context(|| format!("cannot attach the egress program to {name}"))?
    };
    if persist {
        pin(FdLink::try_from(egress.take_link(link_id)?)?, &egress_pin)?;
    }
    Ok(())
}

fn pin(link: FdLink, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    link.pin(path)
        .with_context(|| format!("cannot pin a link at {}", path.display()))?;
    Ok(())
}

/// The config file (explicit, or the default one if present) with the command line on top.
fn settings(args: &AttachArgs) -> Result<Settings> {
    let default_file = Path::new(DEFAULT_CONFIG_FILE);
    let mut settings = match &args.config {
        Some(path) => config_file::load(path)?,
        None if default_file.exists() => config_file::load(default_file)?,
        None => Settings::default(),
    };
    if let Some(seconds) = args.ban_seconds {
        if seconds == 0 {
            bail!("--ban-seconds must be at least 1");
        }
        settings.ban_seconds = seconds;
    }
    if let Some(mode) = &args.ban_mode {
        settings.ban_mode = config_file::parse_ban_mode(mode)
            .map_err(|problem| anyhow::anyhow!("--ban-mode: {problem}"))?;
    }
    if let Some(capacity) = args.capacity {
        settings.capacity = config_file::check_capacity("--capacity", capacity)?;
    }
    for net in &args.allow {
        settings.allow.push(
            config_file::parse_net(net).map_err(|problem| anyhow::anyhow!("--allow: {problem}"))?,
        );
    }
    Ok(settings)
}

//! `scanguard attach`: the foreground daemon.

mod command_line;
mod reload;

use std::{
    path::Path,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use aya::{
    Ebpf,
    maps::{HashMap, MapData, PerfEventArray},
};
use log::{info, warn};
use scanguard_common::{ban::BANS_MAP, event::EVENTS_MAP};
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::mpsc,
};

use self::{command_line::settings, reload::Configured};
use crate::{
    bpf::{
        bans, bpffs,
        persisted::Persisted,
        pinned_layout::PinnedLayout,
        pins::Pins,
        privileges,
        program::{self, HostFacts},
    },
    cli::{AttachArgs, Cli, LogLevel, Mode},
    config::settings::Settings,
    crowdsec::{self, alerts},
    daemon::{
        attachment::{self, AttachMode, AttachOptions},
        bridges::Follower,
        flows,
        host_facts::{host_facts, log_host_facts},
        metrics,
        saved_bans::{
            saver::{self, Saver},
            store,
        },
        source_check::{self, ask::Asker, bridge_ports::BridgePorts},
        status_file::{DaemonLock, DaemonStatus},
        targets::{self, TargetRequest, Targets},
    },
    events::{self, Detection, fanout::Fanout, output::Output},
    host::{links, network_changes::NetworkChanges},
};

/// How often bans that expired without their source coming back are deleted.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

pub async fn execute(cli: &Cli, args: &AttachArgs) -> Result<()> {
    privileges::require()?;
    let settings = settings(args)?;
    if args.save_every.is_zero() {
        bail!("--save-every must be longer than zero");
    }
    let targets = targets::resolve(TargetRequest {
        interfaces: &args.interfaces,
        docker_networks: &args.docker_networks,
        containers: &args.containers,
    })
    .await?;

    let output = Output::new(args.json, args.syslog)?;
    let lock = DaemonLock::acquire(&cli.run_dir)?;
    let metrics = metrics::Endpoint::bind(args.metrics.as_deref()).await?;
    remove_stale_state(&cli.pin_dir)?;
    // Before anything that cleans up on failure: a persisted scanguard of another version is
    // left enforcing, for `detach` to remove.
    PinnedLayout::get()?.check(&cli.pin_dir)?;
    bpffs::ensure_pin_dir(&cli.pin_dir)?;
    let result = run(cli, args, &settings, &targets, &lock, output, metrics).await;
    if args.persist && result.is_ok() {
        return result;
    }
    source_check::lookups::restore();
    // Links adopted from a persisted program stay pinned until the set-up succeeds, and those
    // of its interfaces this run did not take over stay pinned throughout: that program goes
    // on enforcing there, on the maps it shares.
    let persisted = Pins::persisted_links_in(&cli.pin_dir);
    if persisted.is_empty() {
        Pins::remove(&cli.pin_dir)?;
        return result;
    }
    let enforcing = format!(
        "the persisted scanguard keeps enforcing on {}",
        persisted.join(", ")
    );
    match result {
        Err(error) => bail!("{error:#}; {enforcing}"),
        Ok(()) => {
            info!("{enforcing}");
            Ok(())
        }
    }
}

async fn run(
    cli: &Cli,
    args: &AttachArgs,
    settings: &Settings,
    targets: &Targets,
    lock: &DaemonLock,
    output: Output,
    metrics: Option<metrics::Endpoint>,
) -> Result<()> {
    // Found before the load stores this run's settings in the maps it shares.
    let mut undo = UndoOnFailure {
        undo: match Persisted::find(&cli.pin_dir)? {
            Some(found) => Undo::Restore(Box::new(found)),
            None => Undo::RemovePins,
        },
        pin_dir: &cli.pin_dir,
    };
    let network = NetworkChanges::subscribe()?;
    let host = host_facts(settings)?;
    let mut ebpf =
        program::load_on_host(settings, &host, Some(&cli.pin_dir), cli.log_level.kernel())?;
    log_host_facts(&host, settings);
    // An adopted program kept its bans; a new one gets the saved ones (after a reboot).
    if matches!(undo.undo, Undo::RemovePins) {
        restore_saved_bans(&mut ebpf, &cli.state_dir, settings, &host)?;
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
    let port_names = Arc::new(RwLock::new(settings.trap_ports.clone()));
    let detections = events::reader::spawn(
        PerfEventArray::try_from(perf)?,
        Arc::clone(&lost),
        Arc::clone(&port_names),
    )?;
    if let Some(endpoint) = metrics {
        endpoint.spawn(cli.pin_dir.clone(), Arc::clone(&lost));
    }
    let mut sinks = Sinks {
        output,
        fanout: Fanout::bind(&cli.run_dir)?,
        lost,
        asker: Asker::new(),
        alerts: None,
    };
    let options = AttachOptions {
        mode: match args.mode {
            Mode::Auto => AttachMode::Auto,
            Mode::Native => AttachMode::Native,
            Mode::Skb => AttachMode::Skb,
            Mode::Tc => AttachMode::Tc,
        },
        persist: args.persist,
        pin_dir: cli.pin_dir.clone(),
    };
    // Kept current while the daemon runs; the program distrusts a neighbour that just changed.
    let _neighbours = source_check::neighbours::mirror(&ebpf).await?;
    // Before the program sees their frames: a port's probes are judged against its bridge.
    BridgePorts::of(&ebpf)?.record(
        &links::dump().await?,
        targets.interfaces.iter().map(|target| target.ifindex),
    )?;
    let mut attached = Vec::new();
    for target in &targets.interfaces {
        let entry = attachment::attach_interface(&mut ebpf, target, &options)
            .await?
            .entry;
        info!("protecting {} ({} mode)", target.name, entry.mode);
        attached.push(entry);
    }
    // The ports of bridges, and containers' new veths, are attached by a task of their own.
    let follower = match targets.bridges.is_empty() && targets.containers.is_empty() {
        true => None,
        false => Some(Follower::start(&mut ebpf, targets, &attached, options.clone()).await?),
    };
    program::start_flow_checks(&mut ebpf)?;
    // Once the egress programs record flows: the LAPI connections' SYNs are recorded as this
    // host's own, so the LAPI's answers are never taken for probes.
    let pins = Pins::open(&cli.pin_dir)?;
    sinks.alerts = crowdsec::start(&settings.crowdsec, &pins, settings.ban_seconds)?;
    let interfaces = follower.as_ref().map_or(attached, Follower::interfaces);
    for interface in &interfaces {
        options.release_adopted_pins(&interface.name);
    }
    // Set up: from here on this run owns what it adopted and pinned, and nothing is undone.
    undo.undo = Undo::Nothing;
    let status = DaemonStatus {
        pid: std::process::id(),
        persist: args.persist,
        pin_dir: cli.pin_dir.clone(),
        interfaces,
        events_lost: 0,
        bridges: follower.as_ref().map(Follower::bridges).unwrap_or_default(),
    };
    lock.publish(&status)?;
    let _following = follower.map(|follower| follower.spawn(lock.status_file()));
    let configured = Configured {
        args,
        settings: settings.clone(),
        host,
        network,
        port_names,
    };
    let saving = Saving {
        saver: Saver::new(&cli.state_dir),
        every: args.save_every,
    };
    enforce(&mut ebpf, configured, detections, sinks, saving, |lost| {
        lock.update(|status| status.events_lost = lost)
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

/// Undoes a set-up that fails, when dropped before it is disarmed with [`Undo::Nothing`].
struct UndoOnFailure<'a> {
    undo: Undo,
    pin_dir: &'a Path,
}

enum Undo {
    /// Put a persisted scanguard back as it was found (see `bpf::persisted`).
    Restore(Box<Persisted>),
    /// Nothing was persisted: remove every pin, so no link this run pinned with `--persist`
    /// is left enforcing.
    RemovePins,
    Nothing,
}

impl Drop for UndoOnFailure<'_> {
    fn drop(&mut self) {
        match &self.undo {
            Undo::Restore(found) => match found.restore(self.pin_dir) {
                Ok(()) => info!("the persisted scanguard's settings and programs are put back"),
                Err(error) => {
                    warn!("cannot put the persisted scanguard back as it was: {error:#}")
                }
            },
            Undo::RemovePins => {
                if let Err(error) = Pins::remove(self.pin_dir) {
                    warn!("{error:#}");
                }
            }
            Undo::Nothing => {}
        }
    }
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

/// Puts the saved bans still in force into the freshly loaded program's map.
fn restore_saved_bans(
    ebpf: &mut Ebpf,
    state_dir: &Path,
    settings: &Settings,
    host: &HostFacts,
) -> Result<()> {
    let saved = store::load(state_dir);
    if saved.is_empty() {
        return Ok(());
    }
    let mut filter = program::ban_filter(ebpf)?;
    let mut map: bans::BanMap<_> = HashMap::try_from(
        ebpf.map_mut(BANS_MAP)
            .context("the embedded object has no ban map")?,
    )?;
    let restored = saver::restore(&mut map, &mut filter, &saved, settings.ban_mode, |entry| {
        saver::is_allowed(entry, &settings.allow, &host.protected)
    })?;
    info!(
        "restored {restored} of {} saved bans from {}",
        saved.len(),
        store::path(state_dir).display()
    );
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

/// Saving the bans, and how often.
struct Saving {
    saver: Saver,
    every: Duration,
}

/// Where detections go, and how many the kernel could not deliver.
struct Sinks {
    output: Output,
    fanout: Fanout,
    lost: Arc<AtomicU64>,
    /// Resolves the on-link sources the program could not verify.
    asker: Asker,
    /// Bans to push to the CrowdSec LAPI, with a machine login.
    alerts: Option<alerts::Queue>,
}

/// Writes detections, sweeps expired bans, saves them and keeps the settings current (see
/// `reload`), until SIGINT or SIGTERM, and saves the bans once more then. `publish_lost` tells
/// other processes (`stats`) how many events were lost, when that changes.
async fn enforce(
    ebpf: &mut Ebpf,
    mut configured: Configured<'_>,
    mut detections: mpsc::Receiver<Detection>,
    mut sinks: Sinks,
    mut saving: Saving,
    mut publish_lost: impl FnMut(u64) -> Result<()>,
) -> Result<()> {
    let mut published_lost = 0;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
    let mut filter = program::ban_filter(ebpf)?;
    let mut save = tokio::time::interval(saving.every);
    loop {
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => configured.reload(ebpf),
            _ = save.tick() => saving.saver.save(&ban_map(ebpf)?, configured.settings.ban_mode, false),
            Some(detection) = detections.recv() => {
                sinks.output.write(&detection);
                sinks.fanout.publish(&detection);
                sinks.asker.consider(&detection);
                if let Some(alerts) = &sinks.alerts {
                    alerts.offer(&detection);
                }
            }
            _ = sweep.tick() => {
                let mut ban_map: bans::BanMap<_> = HashMap::try_from(
                    ebpf.map_mut(BANS_MAP)
                        .context("the embedded object has no ban map")?,
                )?;
                bans::sweep(&mut ban_map, &mut filter, configured.settings.ban_mode)?;
                configured.follow_host(ebpf);
                let lost = sinks.lost.load(Ordering::Relaxed);
                if lost != published_lost {
                    publish_lost(lost)?;
                    published_lost = lost;
                }
            }
        }
    }
    saving
        .saver
        .save(&ban_map(ebpf)?, configured.settings.ban_mode, true);
    Ok(())
}

fn ban_map(ebpf: &Ebpf) -> Result<bans::BanMap<&MapData>> {
    Ok(HashMap::try_from(
        ebpf.map(BANS_MAP)
            .context("the embedded object has no ban map")?,
    )?)
}

//! `scanguard attach`: the foreground daemon.

use std::{path::Path, time::Duration};

use anyhow::{Context as _, Result, bail};
use aya::{
    Ebpf,
    maps::HashMap,
    programs::{
        links::{FdLink, PinnedLink},
        xdp::{XdpLink, XdpMode},
    },
};
use log::{info, warn};
use scanguard_common::ban::BANS_MAP;
use tokio::signal::unix::{SignalKind, signal};

use crate::{
    bans, bpffs,
    cli::{AttachArgs, Cli, Mode},
    config_file,
    daemon_status::{AttachedInterface, DaemonLock, DaemonStatus},
    interfaces::{self, XdpAttachMode},
    paths::{DEFAULT_CONFIG_FILE, LINKS_DIR},
    pins::Pins,
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

    let lock = DaemonLock::acquire(&cli.run_dir)?;
    bpffs::ensure_pin_dir(&cli.pin_dir)?;
    let result = run(cli, args, &settings, &targets, &lock).await;
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
) -> Result<()> {
    let mut ebpf = program::load(settings, Some(&cli.pin_dir))?;
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
    lock.publish(&DaemonStatus {
        pid: std::process::id(),
        persist: args.persist,
        pin_dir: cli.pin_dir.clone(),
        interfaces: attached,
    })?;
    enforce(&mut ebpf, settings).await?;
    if args.persist {
        info!("exiting; the program keeps enforcing (persisted), `scanguard detach` removes it");
    } else {
        info!("detached");
    }
    // Dropping `ebpf` detaches every link the process still owns.
    Ok(())
}

/// Sweeps expired bans until SIGINT or SIGTERM.
async fn enforce(ebpf: &mut Ebpf, settings: &Settings) -> Result<()> {
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
            _ = sweep.tick() => {
                bans::sweep(&mut ban_map, settings.ban_mode)?;
            }
        }
    }
}

/// Attaches to one interface, adopting a persisted link there; returns the mode in effect.
async fn attach(
    ebpf: &mut Ebpf,
    name: &str,
    ifindex: u32,
    args: &AttachArgs,
    pin_dir: &Path,
) -> Result<XdpAttachMode> {
    let link_pin = pin_dir.join(LINKS_DIR).join(name);
    let xdp = program::xdp(ebpf)?;
    let link_id = if let Some(existing) = interfaces::xdp_attachment(ifindex).await? {
        if !link_pin.exists() {
            bail!(
                "interface {name} already carries XDP program {:?} (id {}) from another tool; remove it first (ip link set dev {name} xdp off)",
                interfaces::program_name(existing.program_id),
                existing.program_id
            );
        }
        info!("{name}: adopting the persisted scanguard link");
        let link = PinnedLink::from_pin(&link_pin)?.unpin()?;
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
        std::fs::create_dir_all(pin_dir.join(LINKS_DIR))?;
        let link = FdLink::try_from(xdp.take_link(link_id)?)?;
        link.pin(&link_pin)
            .with_context(|| format!("cannot pin the link of {name}"))?;
    }
    let attachment = interfaces::xdp_attachment(ifindex)
        .await?
        .with_context(|| format!("{name}: the kernel reports no XDP program after attaching"))?;
    Ok(attachment.mode)
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
        settings.capacity = capacity;
    }
    for net in &args.allow {
        settings.allow.push(
            config_file::parse_net(net).map_err(|problem| anyhow::anyhow!("--allow: {problem}"))?,
        );
    }
    Ok(settings)
}

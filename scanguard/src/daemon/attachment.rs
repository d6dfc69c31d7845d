//! Attaching to one interface: scanguard's checks at the hook that suits it (adopting a
//! persisted link there; else TC ingress on a veth, native XDP with a generic-mode fallback
//! elsewhere) and the TC egress program that records flows, pinning both links with
//! `--persist`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use aya::{
    Ebpf,
    programs::{
        SchedClassifier, Xdp,
        links::{FdLink, LinkOrder, PinnedLink},
        tc::{SchedClassifierLink, SchedClassifierLinkId, TcAttachOptions, TcAttachType},
        xdp::{XdpLink, XdpLinkId, XdpMode},
    },
};
use log::{info, warn};

use crate::{
    bpf::{
        object::PROGRAM_NAME,
        pins::{LinkKind, link_pin},
        program::{self, Handles},
    },
    daemon::status_file::AttachedInterface,
    host::{
        iface_kind::IfaceKind,
        interfaces,
        xdp::{self, XdpAttachment},
    },
};

/// The programs an interface gets: the checks at XDP or at TC ingress, and the egress program.
pub trait Programs {
    fn xdp(&mut self) -> Result<&mut Xdp>;
    fn ingress(&mut self) -> Result<&mut SchedClassifier>;
    fn egress(&mut self) -> Result<&mut SchedClassifier>;
}

impl Programs for Ebpf {
    fn xdp(&mut self) -> Result<&mut Xdp> {
        program::xdp(self)
    }

    fn ingress(&mut self) -> Result<&mut SchedClassifier> {
        program::ingress(self)
    }

    fn egress(&mut self) -> Result<&mut SchedClassifier> {
        program::egress(self)
    }
}

/// Handles of their own on the loaded programs (see [`program::second_handles`]).
impl Programs for Handles {
    fn xdp(&mut self) -> Result<&mut Xdp> {
        Ok(&mut self.xdp)
    }

    fn ingress(&mut self) -> Result<&mut SchedClassifier> {
        Ok(&mut self.ingress)
    }

    fn egress(&mut self) -> Result<&mut SchedClassifier> {
        Ok(&mut self.egress)
    }
}

/// An interface to attach to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub ifindex: u32,
    pub kind: IfaceKind,
    /// Set for the ports of a bridge being followed.
    pub port_of: Option<String>,
}

/// Where scanguard's checks run on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// TC ingress on a veth; elsewhere native XDP, falling back to generic (skb) mode where
    /// the driver refuses it.
    Auto,
    /// Native XDP.
    Native,
    /// Generic (skb) XDP.
    Skb,
    /// TC ingress (through a TCX link).
    Tc,
}

/// The mode name `status` and the status file give an interface whose checks run at TC
/// ingress (the others are XDP's: native, skb).
pub const TC_MODE: &str = "tc";

/// Why `--mode auto` puts a veth's checks at TC ingress, as `status` states it.
pub const VETH_REASON: &str =
    "native XDP on a veth turns off the peer's segmentation offload (see docs/containers.md)";

/// How every interface of one daemon is attached.
#[derive(Clone, Debug)]
pub struct AttachOptions {
    pub mode: AttachMode,
    pub persist: bool,
    pub pin_dir: PathBuf,
}

impl AttachOptions {
    /// Keeps a persisted interface's pinned links under its new name.
    pub fn rename_pins(&self, old: &str, new: &str) {
        if self.persist {
            for kind in LinkKind::ALL {
                let _ = std::fs::rename(
                    link_pin(&self.pin_dir, kind, old),
                    link_pin(&self.pin_dir, kind, new),
                );
            }
        }
    }

    /// Removes the pinned links of an interface let go of, so nothing keeps them.
    pub fn forget_pins(&self, name: &str) {
        if self.persist {
            self.remove_pins(name);
        }
    }

    /// Without `--persist`, ends the pins of links adopted on `name`, once the daemon is set
    /// up: the daemon's own handles keep them attached until it exits. Kept until then, the
    /// pins leave a persisted scanguard enforcing as it was if the set-up fails.
    pub fn release_adopted_pins(&self, name: &str) {
        if !self.persist {
            self.remove_pins(name);
        }
    }

    fn remove_pins(&self, name: &str) {
        for kind in LinkKind::ALL {
            let _ = std::fs::remove_file(link_pin(&self.pin_dir, kind, name));
        }
    }
}

/// The link of scanguard's checks on one interface.
#[derive(Debug)]
pub enum Checks {
    Xdp(XdpLinkId),
    Ingress(SchedClassifierLinkId),
}

/// The links a program keeps for one interface (none when they are pinned).
#[derive(Debug)]
pub struct Links {
    pub checks: Checks,
    pub egress: SchedClassifierLinkId,
}

impl Links {
    /// Lets go of both links: they detach if the interface is still there.
    pub fn release(self, programs: &mut impl Programs) {
        match self.checks {
            Checks::Xdp(link) => {
                if let Ok(xdp) = programs.xdp() {
                    drop(xdp.take_link(link));
                }
            }
            Checks::Ingress(link) => {
                if let Ok(ingress) = programs.ingress() {
                    drop(ingress.take_link(link));
                }
            }
        }
        if let Ok(egress) = programs.egress() {
            drop(egress.take_link(self.egress));
        }
    }
}

/// The outcome: the status entry, and the links the programs keep.
#[derive(Debug)]
pub struct Attached {
    pub entry: AttachedInterface,
    pub links: Option<Links>,
}

/// Attaches both programs to one interface, adopting persisted links there.
pub async fn attach_interface(
    programs: &mut impl Programs,
    target: &Target,
    options: &AttachOptions,
) -> Result<Attached> {
    let name = &target.name;
    // A persisted link is adopted at the hook it was made at, whatever the mode asks.
    let adopt_ingress = link_pin(&options.pin_dir, LinkKind::Ingress, name).exists();
    let adopt_xdp = link_pin(&options.pin_dir, LinkKind::Xdp, name).exists();
    let at_tc_ingress = adopt_ingress
        || !adopt_xdp
            && match options.mode {
                AttachMode::Tc => true,
                AttachMode::Auto => target.kind == IfaceKind::Veth,
                AttachMode::Native | AttachMode::Skb => false,
            };
    let (checks, mode, reason) = if at_tc_ingress {
        let link = attach_ingress(programs.ingress()?, target, options).await?;
        let reason =
            (options.mode == AttachMode::Auto && !adopt_ingress).then(|| VETH_REASON.to_string());
        (link.map(Checks::Ingress), TC_MODE.to_string(), reason)
    } else {
        let (link, mode, reason) = attach_xdp(programs.xdp()?, target, options).await?;
        (link.map(Checks::Xdp), mode, reason)
    };
    let egress_link = attach_egress(programs.egress()?, name, options.persist, &options.pin_dir)?;
    Ok(Attached {
        entry: AttachedInterface {
            name: name.clone(),
            ifindex: target.ifindex,
            mode,
            kind: Some(target.kind.name().to_string()),
            port_of: target.port_of.clone(),
            generic_fallback: reason.clone().filter(|_| !at_tc_ingress),
            hook_reason: reason.filter(|_| at_tc_ingress),
        },
        links: checks
            .zip(egress_link)
            .map(|(checks, egress)| Links { checks, egress }),
    })
}

/// The checks at TC ingress, through a TCX link placed before any other there, so banned
/// sources are dropped before other programs see them. A scanguard XDP program left on the
/// interface by a run that did not exit cleanly is removed: one hook checks each frame.
async fn attach_ingress(
    ingress: &mut SchedClassifier,
    target: &Target,
    options: &AttachOptions,
) -> Result<Option<SchedClassifierLinkId>> {
    let Target { name, ifindex, .. } = target;
    xdp_in_place(target, options).await?;
    let pin = link_pin(&options.pin_dir, LinkKind::Ingress, name);
    let adopted = pin.exists();
    let link_id = if adopted {
        info!("{name}: adopting the persisted scanguard link");
        ingress.attach_to_link(SchedClassifierLink::try_from(adopt(&pin)?)?)?
    } else {
        ingress
            .attach_with_options(
                name,
                TcAttachType::Ingress,
                TcAttachOptions::TcxOrder(LinkOrder::first()),
            )
            .with_context(|| {
                format!("{name} (ifindex {ifindex}): cannot attach the TC ingress program")
            })?
    };
    if options.persist {
        keep_pinned(
            FdLink::try_from(ingress.take_link(link_id)?)?,
            &pin,
            adopted,
        )?;
        return Ok(None);
    }
    Ok(Some(link_id))
}

/// The XDP program on `target` once an orphan is gone: a scanguard XDP program that no pin
/// accounts for was left by a run that did not exit cleanly (a TCX link ends with its process;
/// an XDP program attached through netlink does not), and is removed.
async fn xdp_in_place(target: &Target, options: &AttachOptions) -> Result<Option<XdpAttachment>> {
    let Target { name, ifindex, .. } = target;
    let xdp_pin = link_pin(&options.pin_dir, LinkKind::Xdp, name);
    let Some(found) = xdp::xdp_attachment(*ifindex).await? else {
        return Ok(None);
    };
    if xdp_pin.exists() || xdp::program_name(found.program_id) != PROGRAM_NAME {
        return Ok(Some(found));
    }
    warn!(
        "{name}: removing scanguard program {} left attached by a run that did not exit cleanly",
        found.program_id
    );
    xdp::detach_xdp(*ifindex).await?;
    Ok(None)
}

/// The checks at XDP: a persisted link adopted, else native with a generic fallback as the
/// mode asks. Returns the link (none when pinned), the mode the kernel reports and, after a
/// fallback, why native was refused.
async fn attach_xdp(
    xdp: &mut Xdp,
    target: &Target,
    options: &AttachOptions,
) -> Result<(Option<XdpLinkId>, String, Option<String>)> {
    let Target { name, ifindex, .. } = target;
    let xdp_pin = link_pin(&options.pin_dir, LinkKind::Xdp, name);
    let mut generic_fallback = None;
    let existing = xdp_in_place(target, options).await?;
    let adopted = existing.is_some();
    let xdp_link = if let Some(existing) = existing {
        if !xdp_pin.exists() {
            bail!(
                "interface {name} already carries XDP program {:?} (id {}) from another tool; remove it first (ip link set dev {name} xdp off)",
                xdp::program_name(existing.program_id),
                existing.program_id
            );
        }
        info!("{name}: adopting the persisted scanguard link");
        xdp.attach_to_link(XdpLink::try_from(adopt(&xdp_pin)?)?)?
    } else {
        match options.mode {
            AttachMode::Native => xdp
                .attach_to_if_index(*ifindex, XdpMode::Driver)
                .with_context(|| {
                    format!("{name}: native XDP refused (`--mode auto` falls back to generic mode, `--mode skb` forces it)")
                })?,
            AttachMode::Skb => xdp.attach_to_if_index(*ifindex, XdpMode::Skb)?,
            AttachMode::Auto | AttachMode::Tc => {
                match xdp.attach_to_if_index(*ifindex, XdpMode::Driver) {
                    Ok(link_id) => link_id,
                    Err(error) => {
                        let reason = no_native_reason(target);
                        warn!("{name}: {reason} ({error}); using generic (skb) mode");
                        generic_fallback = Some(reason);
                        xdp.attach_to_if_index(*ifindex, XdpMode::Skb)?
                    }
                }
            }
        }
    };
    let xdp_link = if options.persist {
        keep_pinned(
            FdLink::try_from(xdp.take_link(xdp_link)?)?,
            &xdp_pin,
            adopted,
        )?;
        None
    } else {
        Some(xdp_link)
    };
    let attachment = xdp::xdp_attachment(*ifindex)
        .await?
        .with_context(|| format!("{name}: the kernel reports no XDP program after attaching"))?;
    Ok((
        xdp_link,
        attachment.mode.name().to_string(),
        generic_fallback,
    ))
}

/// The TC egress program that records this host's flows (through TCX links on this kernel).
fn attach_egress(
    egress: &mut SchedClassifier,
    name: &str,
    persist: bool,
    pin_dir: &Path,
) -> Result<Option<SchedClassifierLinkId>> {
    let egress_pin = link_pin(pin_dir, LinkKind::Egress, name);
    let adopted = egress_pin.exists();
    let link_id = if adopted {
        egress.attach_to_link(SchedClassifierLink::try_from(adopt(&egress_pin)?)?)?
    } else {
        egress
            .attach(name, TcAttachType::Egress)
            .with_context(|| format!("cannot attach the egress program to {name}"))?
    };
    if persist {
        keep_pinned(
            FdLink::try_from(egress.take_link(link_id)?)?,
            &egress_pin,
            adopted,
        )?;
        return Ok(None);
    }
    Ok(Some(link_id))
}

/// A persisted link, still pinned: see [`AttachOptions::release_adopted_pins`].
fn adopt(pin: &Path) -> Result<FdLink> {
    let link = PinnedLink::from_pin(pin)
        .with_context(|| format!("cannot open the pinned link {}", pin.display()))?;
    Ok(link.into())
}

/// Pins `link` at `path`, unless it is the `adopted` link pinned there already. Any other pin
/// there is a link whose interface is gone.
fn keep_pinned(link: FdLink, path: &Path, adopted: bool) -> Result<()> {
    if adopted {
        return Ok(());
    }
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    link.pin(path)
        .with_context(|| format!("cannot pin a link at {}", path.display()))?;
    Ok(())
}

/// Why native XDP was refused, as `status` states it.
fn no_native_reason(target: &Target) -> String {
    match target.kind {
        IfaceKind::Physical => format!(
            "driver {} has no native XDP",
            interfaces::driver(&target.name)
        ),
        IfaceKind::Wireless => format!(
            "wireless driver {} has no native XDP",
            interfaces::driver(&target.name)
        ),
        kind => format!("the {} driver has no native XDP", kind.name()),
    }
}

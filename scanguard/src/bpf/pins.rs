//! The daemon's state as other processes see it: maps pinned under the pin directory.

use std::{
    cell::OnceCell,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result, bail};
use aya::maps::{Array, HashMap, LpmTrie, Map, MapData, PerCpuArray, lpm_trie::Key};
use scanguard_common::{
    addr::AddrKey,
    allow::ALLOW_MAP,
    ban::BANS_MAP,
    ban_filter::{BAN_EPOCH_MAP, BAN_FILTER_MAP, CachedVerdict, VERDICTS_MAP},
    config::{CONFIG_MAP, Config},
    counters::{COUNTERS_MAP, Counters},
    flow::{FLOWS_MAP, FlowKey},
    hardening::{OFFENDERS_MAP, Offender},
    ports::{PORT_ROLES_MAP, PortRoles},
};

use aya::programs::links::PinnedLink;

use crate::{
    bpf::{
        ban_filter::{BanEpoch, BanFilter},
        bans::BanMap,
        pinned_layout::{Mismatch, PinnedLayout},
    },
    config::paths::LINKS_DIR,
};

/// The links a persisted scanguard pins, per interface: its checks at XDP or at TC ingress,
/// and the egress program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    Xdp,
    Ingress,
    Egress,
}

impl LinkKind {
    pub const ALL: [LinkKind; 3] = [LinkKind::Xdp, LinkKind::Ingress, LinkKind::Egress];

    const fn dir(self) -> &'static str {
        match self {
            LinkKind::Xdp => "xdp",
            LinkKind::Ingress => "ingress",
            LinkKind::Egress => "egress",
        }
    }
}

/// Where the link of `kind` on `interface` is pinned.
pub fn link_pin(pin_dir: &Path, kind: LinkKind, interface: &str) -> PathBuf {
    pin_dir.join(LINKS_DIR).join(kind.dir()).join(interface)
}

pub struct Pins {
    dir: PathBuf,
    /// The pins that cannot be read with this build's layout, found by one check of them all
    /// when the first map is opened.
    mismatches: OnceCell<Vec<Mismatch>>,
}

impl Pins {
    /// Fails with the one-line hint users need when nothing is running.
    pub fn open(dir: &Path) -> Result<Pins> {
        if !dir.join(BANS_MAP).exists() {
            bail!(
                "no running scanguard and no pinned state in {}: start one with `scanguard attach`",
                dir.display()
            );
        }
        Ok(Pins {
            dir: dir.to_path_buf(),
            mismatches: OnceCell::new(),
        })
    }

    /// A map the running daemon pinned; one missing was not pinned by the daemon's version,
    /// one of another layout by another version.
    pub fn map_data(&self, name: &str) -> Result<MapData> {
        let layout = PinnedLayout::get()?;
        let mismatches = self.mismatches.get_or_init(|| layout.mismatches(&self.dir));
        if let Some(mismatch) = mismatches.iter().find(|mismatch| mismatch.pin == name) {
            bail!("{}", mismatch.problem);
        }
        let path = self.dir.join(name);
        MapData::from_pin(&path).with_context(|| {
            format!(
                "cannot open pinned map {}: restart `scanguard attach` to pin it",
                path.display()
            )
        })
    }

    fn map(&self, name: &str) -> Result<Map> {
        Ok(Map::from_map_data(self.map_data(name)?)?)
    }

    pub fn bans(&self) -> Result<BanMap<MapData>> {
        Ok(HashMap::try_from(self.map(BANS_MAP)?)?)
    }

    /// The program's ban filter, where bans made from here must be marked.
    pub fn ban_filter(&self) -> Result<BanFilter> {
        BanFilter::map(&self.map_data(BAN_FILTER_MAP)?, self.ban_epoch()?)
    }

    /// The program's ban epoch, to end its cached verdicts when bans are lifted from here.
    pub fn ban_epoch(&self) -> Result<BanEpoch> {
        BanEpoch::new(self.map_data(BAN_EPOCH_MAP)?)
    }

    /// The program's per-CPU verdicts, with the drops not yet added to the bans.
    pub fn verdicts(&self) -> Result<PerCpuArray<MapData, CachedVerdict>> {
        Ok(PerCpuArray::try_from(self.map(VERDICTS_MAP)?)?)
    }

    pub fn offenders(&self) -> Result<HashMap<MapData, AddrKey, Offender>> {
        Ok(HashMap::try_from(self.map(OFFENDERS_MAP)?)?)
    }

    /// The flow table: a flow to the time it was last seen.
    pub fn flows(&self) -> Result<HashMap<MapData, FlowKey, u64>> {
        Ok(HashMap::try_from(self.map(FLOWS_MAP)?)?)
    }

    /// The most entries the pinned map `name` holds.
    pub fn max_entries(&self, name: &str) -> Result<u32> {
        Ok(self.map_data(name)?.info()?.max_entries())
    }

    pub fn counters(&self) -> Result<PerCpuArray<MapData, Counters>> {
        Ok(PerCpuArray::try_from(self.map(COUNTERS_MAP)?)?)
    }

    pub fn config(&self) -> Result<Config> {
        Ok(self.config_array()?.get(&0, 0)?)
    }

    /// The program's config, a global variable, through its one-entry map.
    pub fn config_array(&self) -> Result<Array<MapData, Config>> {
        Ok(Array::try_from(self.map(CONFIG_MAP)?)?)
    }

    /// The program's port roles, a global variable, through its one-entry map.
    pub fn port_roles(&self) -> Result<Array<MapData, PortRoles>> {
        Ok(Array::try_from(self.map(PORT_ROLES_MAP)?)?)
    }

    /// The allow-list: prefixes never banned nor dropped, or only never banned.
    pub fn allow(&self) -> Result<LpmTrie<MapData, AddrKey, u8>> {
        Ok(LpmTrie::try_from(self.map(ALLOW_MAP)?)?)
    }

    /// Every allow-list entry: its prefix and `ALLOW_LISTED` or `ALLOW_LOCKOUT`.
    pub fn allow_entries(&self) -> Result<Vec<(Key<AddrKey>, u8)>> {
        self.allow()?
            .iter()
            .collect::<Result<_, _>>()
            .context("cannot read the pinned allow-list")
    }

    /// Interfaces with a pinned (persisted) XDP link in `dir`; none without pinned state.
    pub fn persisted_links_in(dir: &Path) -> Vec<String> {
        Pins::open(dir).map_or_else(|_| Vec::new(), |pins| pins.persisted_links())
    }

    /// Interfaces with a pinned (persisted) link of scanguard's checks, at XDP or TC ingress.
    pub fn persisted_links(&self) -> Vec<String> {
        let mut names: Vec<String> = [LinkKind::Xdp, LinkKind::Ingress]
            .into_iter()
            .flat_map(|kind| std::fs::read_dir(self.dir.join(LINKS_DIR).join(kind.dir())))
            .flatten()
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Detaches a persisted scanguard from `interface`: unpinned and dropped, each link loses
    /// its last reference and the kernel detaches it.
    pub fn detach(&self, interface: &str) -> Result<()> {
        for kind in LinkKind::ALL {
            let path = link_pin(&self.dir, kind, interface);
            if path.exists() {
                let link = PinnedLink::from_pin(&path)
                    .with_context(|| format!("cannot open the pinned link {}", path.display()))?;
                drop(link.unpin()?);
            }
        }
        Ok(())
    }

    /// Removes every pin (maps and links) and the directory itself. Each pinned link is
    /// detached as [`Pins::detach`] does, so it is gone when this returns: the last reference
    /// a removed pin drops is released by a kernel worker later (`bpf_link_put`,
    /// kernel/bpf/syscall.c), and the link would stay attached until then.
    pub fn remove(dir: &Path) -> Result<()> {
        if !dir.exists() {
            return Ok(());
        }
        for kind in LinkKind::ALL {
            let links = std::fs::read_dir(dir.join(LINKS_DIR).join(kind.dir()));
            for entry in links.into_iter().flatten().flatten() {
                // What cannot be opened goes with the directory below.
                if let Ok(link) = PinnedLink::from_pin(entry.path()) {
                    drop(link.unpin());
                }
            }
        }
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("cannot remove pinned state in {}", dir.display()))
    }
}

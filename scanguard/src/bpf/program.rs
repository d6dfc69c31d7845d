//! Loading the embedded XDP program and writing the settings into its maps.

use std::{borrow::BorrowMut, collections::BTreeSet, net::IpAddr, os::fd::AsFd as _, path::Path};

use anyhow::{Context as _, Result, bail};
use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, LpmTrie, Map, MapData, lpm_trie::Key},
    programs::{SchedClassifier, Xdp},
};
use aya_log::Level;
use aya_obj::programs::XdpAttachType;
use ipnet::IpNet;
use scanguard_common::{
    addr::AddrKey,
    allow::{ALLOW_CAPACITY, ALLOW_LISTED, ALLOW_LOCKOUT, ALLOW_MAP, ipv4_mapped_prefix_len},
    ban::{BANS_MAP, Ban},
    ban_filter::{BAN_EPOCH_SECTION, BAN_FILTER_MAP, filter_lines},
    config::{CONFIG_SECTION, Config},
    decision::{DEC_ADDRS_MAP, DEC_FILTER_MAP, DEC_NETS_MAP},
    flow::FLOWS_MAP,
    ports::{PORT_ROLES_SECTION, PortRoles, ROLE_SERVED},
};

use crate::{
    bpf::{
        ban_filter::{self, BanEpoch, BanFilter},
        bans,
        object::{
            EGRESS_PROGRAM_NAME, INGRESS_PROGRAM_NAME, MAPS, OBJECT, PROGRAM_NAME, object_map,
        },
        pinned_layout::PinnedLayout,
        pins::Pins,
    },
    config::settings::Settings,
};

/// What the daemon finds on this host that adds to the settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// Ports local services listen on: their clients do not count toward port sweeps.
    pub served: BTreeSet<u16>,
    /// Addresses lock-out protection never bans (see `host::lockout`).
    pub protected: Vec<IpAddr>,
    /// Loopback takes the program's route lookups, so `verify_source` can be in force (see
    /// `source_check::lookups`).
    pub source_lookups: bool,
}

/// Loads the program with `settings` in its maps and its own debug logging off.
pub fn load(settings: &Settings, pin_dir: Option<&Path>) -> Result<Ebpf> {
    load_on_host(settings, &HostFacts::default(), pin_dir, Level::Warn)
}

/// Loads the program with `settings` and `host` in its maps. With `pin_dir`, the maps are
/// pinned there, and maps already pinned there (a running or persisted scanguard) are reused
/// with their bans. The program's aya-log statements at or below `kernel_log_level` are
/// compiled in live; the others cost a load and a branch.
pub fn load_on_host(
    settings: &Settings,
    host: &HostFacts,
    pin_dir: Option<&Path>,
    kernel_log_level: Level,
) -> Result<Ebpf> {
    let mut loader = EbpfLoader::new();
    let level = kernel_log_level as u8;
    loader.override_global(aya_log::LEVEL, &level, true);
    loader.map_max_entries(BANS_MAP, settings.capacity);
    loader.map_max_entries(BAN_FILTER_MAP, filter_lines(settings.capacity));
    loader.map_max_entries(FLOWS_MAP, settings.flow_capacity);
    let decisions = &settings.crowdsec;
    loader.map_max_entries(DEC_ADDRS_MAP, decisions.address_capacity);
    loader.map_max_entries(DEC_NETS_MAP, decisions.range_capacity);
    loader.map_max_entries(
        DEC_FILTER_MAP,
        filter_lines(
            decisions
                .address_capacity
                .saturating_add(decisions.range_capacity),
        ),
    );
    if let Some(pin_dir) = pin_dir {
        PinnedLayout::get()?.check(pin_dir)?;
        // Adopted pins of global variables are zeroed as the object is loaded (aya stores each
        // section's initial value), so a running program detects nothing until
        // `Staged::write` stores them again, moments later (or `attach`, failing before
        // then, puts back what it found: see `bpf::persisted`).
        for pin in MAPS {
            loader.map_pin_path(object_map(pin), pin_dir.join(pin));
        }
    }
    let mut ebpf = loader
        .load(OBJECT)
        .context("cannot load the scanguard maps")?;
    // A persisted program's egress programs kept its flows current, and go on recording them
    // until replaced: adopting it, detection keeps its flow checks.
    let adopting = pin_dir.is_some_and(|dir| !Pins::persisted_links_in(dir).is_empty());
    // Adopted bans go into the new, empty filter before the config turns the filter on.
    mark_bans(&mut ebpf)?;
    Staged::new(&ebpf, settings, host, adopting)?.write(&mut ebpf)?;
    xdp(&mut ebpf)?
        .load()
        .context("the kernel refused the scanguard XDP program")?;
    ingress(&mut ebpf)?
        .load()
        .context("the kernel refused the scanguard TC ingress program")?;
    egress(&mut ebpf)?
        .load()
        .context("the kernel refused the scanguard TC egress program")?;
    Ok(ebpf)
}

pub fn egress(ebpf: &mut Ebpf) -> Result<&mut SchedClassifier> {
    let program = ebpf
        .program_mut(EGRESS_PROGRAM_NAME)
        .context("the embedded object has no egress program")?;
    Ok(program.try_into()?)
}

pub fn ingress(ebpf: &mut Ebpf) -> Result<&mut SchedClassifier> {
    let program = ebpf
        .program_mut(INGRESS_PROGRAM_NAME)
        .context("the embedded object has no TC ingress program")?;
    Ok(program.try_into()?)
}

pub fn xdp(ebpf: &mut Ebpf) -> Result<&mut Xdp> {
    let program = ebpf
        .program_mut(PROGRAM_NAME)
        .context("the embedded object has no scanguard program")?;
    Ok(program.try_into()?)
}

/// Pinned for a moment only, to open second handles on the loaded programs.
const HANDLE_PIN: &str = "program-handle";

/// Handles of their own on the loaded programs: same program ids, links of their own.
pub struct Handles {
    pub xdp: Xdp,
    pub ingress: SchedClassifier,
    pub egress: SchedClassifier,
}

/// Independent handles on the loaded programs, for a task that attaches while another one
/// holds `ebpf`. aya cannot hand out a program by value, so each is pinned, opened from the
/// pin and unpinned again.
pub fn second_handles(ebpf: &mut Ebpf, pin_dir: &Path) -> Result<Handles> {
    let path = pin_dir.join(HANDLE_PIN);
    // A daemon killed at the wrong moment may have left it.
    let _ = std::fs::remove_file(&path);
    let pinned = |path: &Path| format!("cannot pin a program at {}", path.display());
    let unpinned = |path: &Path| format!("cannot unpin {}", path.display());

    let xdp_program = xdp(ebpf)?;
    xdp_program.pin(&path).with_context(|| pinned(&path))?;
    let xdp_handle = Xdp::from_pin(&path, XdpAttachType::Interface);
    xdp_program.unpin().with_context(|| unpinned(&path))?;

    let classifier = |program: &mut SchedClassifier| -> Result<SchedClassifier> {
        program.pin(&path).with_context(|| pinned(&path))?;
        let handle = SchedClassifier::from_pin(&path);
        program.unpin().with_context(|| unpinned(&path))?;
        Ok(handle?)
    };
    let ingress_handle = classifier(ingress(ebpf)?)?;
    let egress_handle = classifier(egress(ebpf)?)?;
    Ok(Handles {
        xdp: xdp_handle?,
        ingress: ingress_handle,
        egress: egress_handle,
    })
}

/// Why new settings were not stored in a running program.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Refused before anything was written: the settings in force stay whole.
    #[error("{0:#}")]
    Refused(anyhow::Error),
    /// A map write failed: the program may run on part of the new settings.
    #[error("{0:#}")]
    WriteFailed(anyhow::Error),
}

/// Stores new settings in a running program's maps (a config reload), keeping its flow checks
/// as they are.
pub fn store_settings(
    ebpf: &mut Ebpf,
    settings: &Settings,
    host: &HostFacts,
) -> Result<(), StoreError> {
    let staged = config_map(ebpf)
        .and_then(|config| Ok(config.get(&0, 0)?.flows_tracked != 0))
        .and_then(|flows_tracked| Staged::new(ebpf, settings, host, flows_tracked))
        .map_err(StoreError::Refused)?;
    staged.write(ebpf).map_err(StoreError::WriteFailed)
}

/// Settings ready to be written, with everything that can refuse them worked out, so a
/// refused reload leaves the settings in force whole.
struct Staged {
    config: Config,
    roles: Box<PortRoles>,
    allow: Vec<(Key<AddrKey>, u8)>,
}

impl Staged {
    /// `flows_tracked` starts the checks that need the flows at once.
    fn new(
        ebpf: &Ebpf,
        settings: &Settings,
        host: &HostFacts,
        flows_tracked: bool,
    ) -> Result<Staged> {
        let allow = allow_entries(settings, host)?;
        let config = Config {
            ban_filter_mask: ban_filter::mask_of(array(ebpf, BAN_FILTER_MAP)?)?,
            flows_tracked: u8::from(flows_tracked),
            verify_source: u8::from(settings.verify_source && host.source_lookups),
            ..settings.kernel_config()
        };
        let mut roles: Box<PortRoles> = Box::new([0; _]);
        for (&port, &port_roles) in &settings.port_roles() {
            roles[usize::from(port)] = port_roles;
        }
        for &port in &host.served {
            roles[usize::from(port)] |= ROLE_SERVED;
        }
        Ok(Staged {
            config,
            roles,
            allow,
        })
    }

    /// Writes the config last: an adopted config was zeroed as the object loaded, and turns
    /// detection on only once the roles and allow-list beside it are in place.
    fn write(self, ebpf: &mut Ebpf) -> Result<()> {
        port_roles_map(ebpf)?.set(0, *self.roles, 0)?;
        let mut allow: LpmTrie<&mut MapData, AddrKey, u8> =
            LpmTrie::try_from(map(ebpf, ALLOW_MAP)?)?;
        replace_allow(&mut allow, &self.allow)?;
        store_config(ebpf, self.config)
    }
}

/// The program's ban filter, mapped into memory to mark bans made from here.
pub fn ban_filter(ebpf: &Ebpf) -> Result<BanFilter> {
    let epoch = array(ebpf, BAN_EPOCH_SECTION)?
        .fd()
        .as_fd()
        .try_clone_to_owned()?;
    BanFilter::map(
        array(ebpf, BAN_FILTER_MAP)?,
        BanEpoch::new(MapData::from_fd(epoch)?)?,
    )
}

fn array<'a>(ebpf: &'a Ebpf, name: &str) -> Result<&'a MapData> {
    match ebpf.map(name) {
        Some(Map::Array(data)) => Ok(data),
        _ => bail!("the embedded object has no {name} array"),
    }
}

/// Marks every ban in the ban map: bans adopted from pins must stay enforced whatever filter
/// they were marked in before.
fn mark_bans(ebpf: &mut Ebpf) -> Result<()> {
    let mut filter = ban_filter(ebpf)?;
    let ban_map: HashMap<&mut MapData, AddrKey, Ban> = HashMap::try_from(map(ebpf, BANS_MAP)?)?;
    bans::mark_every_ban(&ban_map, &mut filter)
}

/// Tells the program the egress program now records flows, so the checks that need them
/// start (see `Config::flows_tracked`).
pub fn start_flow_checks(ebpf: &mut Ebpf) -> Result<()> {
    let current = config_map(ebpf)?.get(&0, 0)?;
    store_config(
        ebpf,
        Config {
            flows_tracked: 1,
            ..current
        },
    )
}

/// Writes `config` with the segments it settles worked out: what those are follows from the
/// rest of it.
fn store_config(ebpf: &mut Ebpf, config: Config) -> Result<()> {
    config_map(ebpf)?.set(0, config.settle(), 0)?;
    Ok(())
}

/// The program's global config, through its one-entry map.
pub fn config_map(ebpf: &mut Ebpf) -> Result<Array<&mut MapData, Config>> {
    Ok(Array::try_from(map(ebpf, CONFIG_SECTION)?)?)
}

/// The program's global port roles, through their one-entry map.
pub fn port_roles_map(ebpf: &mut Ebpf) -> Result<Array<&mut MapData, PortRoles>> {
    Ok(Array::try_from(map(ebpf, PORT_ROLES_SECTION)?)?)
}

fn map<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut aya::maps::Map> {
    ebpf.map_mut(name)
        .with_context(|| format!("the embedded object has no {name} map"))
}

/// The allow-list trie's entries: the allow-list, and this host's lock-out protected addresses
/// it does not cover. Refused before anything is written when they do not fit the trie.
fn allow_entries(settings: &Settings, host: &HostFacts) -> Result<Vec<(Key<AddrKey>, u8)>> {
    let listed = settings
        .allow
        .iter()
        .map(|net| (allow_key(net), ALLOW_LISTED));
    // An address the allow-list covers stays silently allowed, not reported as "would-ban".
    let protected = host
        .protected
        .iter()
        .filter(|address| !settings.allow.iter().any(|net| net.contains(*address)))
        .map(|&address| (allow_key(&IpNet::from(address)), ALLOW_LOCKOUT));
    let entries: Vec<_> = listed.chain(protected).collect();
    if entries.len() > ALLOW_CAPACITY as usize {
        bail!(
            "the allow-list ({} networks) and this host's lock-out protected addresses make {} \
             entries, more than the {ALLOW_CAPACITY} the program holds: merge addresses into \
             networks",
            settings.allow.len(),
            entries.len()
        );
    }
    Ok(entries)
}

/// Makes `entries` the whole allow-list. The new entries go in before the stale ones go, so
/// a running program never sees an address that stays on the list missing from it, unless
/// both lists would not fit the trie at once.
pub fn replace_allow<T: BorrowMut<MapData>>(
    allow: &mut LpmTrie<T, AddrKey, u8>,
    entries: &[(Key<AddrKey>, u8)],
) -> Result<()> {
    let old: Vec<Key<AddrKey>> = allow.keys().collect::<Result<_, _>>()?;
    let prefix = |key: &Key<AddrKey>| (key.prefix_len(), key.data());
    let stale: Vec<_> = old
        .into_iter()
        .filter(|key| !entries.iter().any(|(new, _)| prefix(new) == prefix(key)))
        .collect();
    let stale_first = entries.len() + stale.len() > ALLOW_CAPACITY as usize;
    if stale_first {
        remove_all(allow, &stale)?;
    }
    for (key, value) in entries {
        allow.insert(key, *value, 0)?;
    }
    if !stale_first {
        remove_all(allow, &stale)?;
    }
    Ok(())
}

fn remove_all<T: BorrowMut<MapData>>(
    allow: &mut LpmTrie<T, AddrKey, u8>,
    keys: &[Key<AddrKey>],
) -> Result<()> {
    for key in keys {
        allow.remove(key)?;
    }
    Ok(())
}

/// The prefix of an allow-list trie key: the inverse of [`allow_key`].
pub fn allow_net(key: &Key<AddrKey>) -> IpNet {
    let address = key.data().address();
    let prefix_len = match address {
        IpAddr::V4(_) => key.prefix_len().saturating_sub(ipv4_mapped_prefix_len(0)),
        IpAddr::V6(_) => key.prefix_len(),
    };
    IpNet::new(address, u8::try_from(prefix_len).unwrap_or(u8::MAX))
        .unwrap_or_else(|_| IpNet::from(address))
}

/// The allow-list trie key of a prefix, IPv4 in the IPv4-mapped space.
pub fn allow_key(net: &IpNet) -> Key<AddrKey> {
    match net.trunc() {
        IpNet::V4(v4) => Key::new(
            ipv4_mapped_prefix_len(v4.prefix_len()),
            AddrKey::ipv4(v4.addr().octets()),
        ),
        IpNet::V6(v6) => Key::new(
            u32::from(v6.prefix_len()),
            AddrKey::from_octets(v6.addr().octets()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow_list(networks: usize) -> Settings {
        let allow = (0..networks)
            .map(|n| IpNet::from(IpAddr::from([10, 0, (n / 256) as u8, (n % 256) as u8])))
            .collect();
        Settings {
            allow,
            ..Settings::default()
        }
    }

    fn protecting(addresses: &[&str]) -> HostFacts {
        HostFacts {
            served: BTreeSet::new(),
            protected: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            source_lookups: false,
        }
    }

    #[test]
    fn the_allow_list_and_the_protected_addresses_must_fit_the_trie_together() {
        let full = ALLOW_CAPACITY as usize;
        assert_eq!(
            allow_entries(&allow_list(full), &protecting(&[]))
                .unwrap()
                .len(),
            full
        );
        let Err(error) = allow_entries(&allow_list(full + 1), &protecting(&[])) else {
            panic!("{} entries fit a trie of {full}", full + 1);
        };
        assert!(
            error
                .to_string()
                .contains(&format!("make {} entries", full + 1)),
            "{error}"
        );
        let host = protecting(&["192.0.2.1", "2001:db8::1"]);
        assert!(allow_entries(&allow_list(full - 1), &host).is_err());
        // An address the allow-list covers takes no entry of its own.
        let covered = protecting(&["10.0.0.1"]);
        assert_eq!(
            allow_entries(&allow_list(full), &covered).unwrap().len(),
            full
        );
    }

    #[test]
    fn allow_keys_give_back_their_prefixes() {
        for net in [
            "192.0.2.0/24",
            "10.0.0.7/32",
            "0.0.0.0/0",
            "2001:db8::/32",
            "::1/128",
        ] {
            let net: IpNet = net.parse().unwrap();
            assert_eq!(allow_net(&allow_key(&net)), net);
        }
    }
}

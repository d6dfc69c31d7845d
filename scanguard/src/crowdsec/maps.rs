//! The decision maps, written in batches (BPF_MAP_UPDATE_BATCH and BPF_MAP_DELETE_BATCH, one
//! call per map and kind of change), with the decision filter and counts in front of them, and
//! read back for `bans`, `stats`, `unban` and a restarted daemon.

use std::{collections::BTreeSet, net::IpAddr, os::fd::AsFd as _};

use anyhow::{Context as _, Result};
use aya::maps::{Array, HashMap, LpmTrie, Map, MapData, MapError, PerCpuArray};
use ipnet::IpNet;
use scanguard_common::{
    addr::AddrKey,
    ban_filter::{FILTER_LINE_BYTES, FilterLine},
    decision::{
        DEC_ADDRS_MAP, DEC_COUNTS_MAP, DEC_FILTER_MAP, DEC_NETS_MAP, DEC_ORIGINS_MAP,
        DEC_SCENARIOS_MAP, DEC_STATS_MAP, Decision, DecisionCounts, DecisionStats, Label,
        PREFIX_SLOTS, Prefix, decision_spot, label, label_name,
    },
};

use super::book::{Fresh, Labels, Plan, is_address};
use crate::bpf::{map_batch, pins::Pins, program};

/// Entries read per BPF_MAP_LOOKUP_BATCH of the address map.
const LOOKUP_CHUNK: usize = 4_096;

/// The range trie's key as the kernel reads it: `struct bpf_lpm_trie_key_u8`, a prefix length
/// and the 16 address bytes, packed (IPv4 as IPv4-mapped, its prefix 96 longer).
type NetKey = [u8; 20];

fn net_key(net: &IpNet) -> NetKey {
    let key = program::allow_key(net);
    let mut bytes = [0; 20];
    bytes[..4].copy_from_slice(&key.prefix_len().to_ne_bytes());
    bytes[4..].copy_from_slice(&key.data().octets());
    bytes
}

fn addr_key(net: &IpNet) -> AddrKey {
    AddrKey::from(net.addr())
}

/// The prefix length of `net` in the 128-bit key (IPv4 as IPv4-mapped).
fn key_prefix(net: &IpNet) -> Prefix {
    let len = match net {
        IpNet::V4(v4) => 96 + v4.prefix_len(),
        IpNet::V6(v6) => v6.prefix_len(),
    };
    Prefix::new(len)
}

pub struct Maps {
    addrs: MapData,
    nets: MapData,
    filter: MapData,
    /// The filter as last written, to write only the lines that change; none before the first
    /// write, which writes every line (an adopted filter may hold anything).
    written: Option<Vec<FilterLine>>,
    counts: Array<MapData, DecisionCounts>,
    origins: Array<MapData, Label>,
    scenarios: Array<MapData, Label>,
    stats: PerCpuArray<MapData, DecisionStats>,
}

/// One decision in the maps, as `bans` and `unban` show it.
pub struct Entry {
    pub net: IpNet,
    pub decision: Decision,
    pub origin: String,
    pub scenario: String,
}

impl Maps {
    /// The maps pinned by a running or persisted scanguard.
    pub fn open(pins: &Pins) -> Result<Maps> {
        Ok(Maps {
            addrs: pins.map_data(DEC_ADDRS_MAP)?,
            nets: pins.map_data(DEC_NETS_MAP)?,
            filter: pins.map_data(DEC_FILTER_MAP)?,
            written: None,
            counts: Array::try_from(Map::Array(pins.map_data(DEC_COUNTS_MAP)?))?,
            origins: Array::try_from(Map::Array(pins.map_data(DEC_ORIGINS_MAP)?))?,
            scenarios: Array::try_from(Map::Array(pins.map_data(DEC_SCENARIOS_MAP)?))?,
            stats: PerCpuArray::try_from(Map::PerCpuArray(pins.map_data(DEC_STATS_MAP)?))?,
        })
    }

    /// The most entries each map holds.
    pub fn capacity(&self) -> Result<(u32, u32)> {
        Ok((
            self.addrs.info()?.max_entries(),
            self.nets.info()?.max_entries(),
        ))
    }

    /// The counts the program reads.
    pub fn counts(&self) -> Result<DecisionCounts> {
        Ok(self.counts.get(&0, 0)?)
    }

    /// Every entry of both maps, ended ones included.
    pub fn entries(&self) -> Result<Vec<(IpNet, Decision)>> {
        let mut entries: Vec<(IpNet, Decision)> =
            map_batch::lookup_all::<AddrKey, Decision>(self.addrs.fd().as_fd(), LOOKUP_CHUNK)?
                .into_iter()
                .map(|(key, decision)| (IpNet::from(key.address()), decision))
                .collect();
        // The trie's batch walk takes a key per step; ranges are few, so aya's walk will do.
        entries.extend(self.ranges()?);
        Ok(entries)
    }

    fn ranges(&self) -> Result<Vec<(IpNet, Decision)>> {
        let trie: LpmTrie<MapData, AddrKey, Decision> =
            LpmTrie::try_from(Map::LpmTrie(clone(&self.nets)?))?;
        trie.iter()
            .map(|entry| {
                let (key, decision) = entry?;
                Ok((program::allow_net(&key), decision))
            })
            .collect()
    }

    /// The names the label maps hold, numbered as the decisions number them.
    pub fn labels(&self) -> Result<Labels> {
        let (origins, scenarios) = self.label_names()?;
        Ok(Labels::from_tables(&origins, &scenarios))
    }

    fn label_names(&self) -> Result<(Vec<String>, Vec<String>)> {
        let names = |array: &Array<MapData, Label>| -> Result<Vec<String>> {
            (0..array.len())
                .map(|index| Ok(label_name(&array.get(&index, 0)?).to_string()))
                .collect()
        };
        Ok((names(&self.origins)?, names(&self.scenarios)?))
    }

    /// Every decision in force, with its names, addresses first.
    pub fn in_force(&self, now_ns: u64) -> Result<Vec<Entry>> {
        let (origins, scenarios) = self.label_names()?;
        let mut entries: Vec<Entry> = self
            .entries()?
            .into_iter()
            .filter(|(_, decision)| !decision.is_expired(now_ns))
            .map(|(net, decision)| Entry {
                net,
                origin: name(&origins, usize::from(decision.origin)),
                scenario: name(&scenarios, usize::from(decision.scenario)),
                decision,
            })
            .collect();
        entries.sort_by_key(|entry| (!is_address(&entry.net), entry.net));
        Ok(entries)
    }

    /// The decision in force that covers `address`, if any: its own, else the longest range.
    /// The address map is asked for it; the ranges, which are few, are walked.
    pub fn covering(&self, address: IpAddr, now_ns: u64) -> Result<Option<Entry>> {
        let addrs: HashMap<MapData, AddrKey, Decision> =
            HashMap::try_from(Map::HashMap(clone(&self.addrs)?))?;
        let own = match addrs.get(&AddrKey::from(address.to_canonical()), 0) {
            Ok(decision) => Some((IpNet::from(address.to_canonical()), decision)),
            Err(MapError::KeyNotFound) => None,
            Err(error) => return Err(error.into()),
        };
        let found = own
            .filter(|(_, decision)| !decision.is_expired(now_ns))
            .or(self
                .ranges()?
                .into_iter()
                .filter(|(net, decision)| {
                    net.contains(&address.to_canonical()) && !decision.is_expired(now_ns)
                })
                .max_by_key(|(net, _)| net.prefix_len()));
        let Some((net, decision)) = found else {
            return Ok(None);
        };
        let (origins, scenarios) = self.label_names()?;
        Ok(Some(Entry {
            net,
            origin: name(&origins, decision.origin.into()),
            scenario: name(&scenarios, decision.scenario.into()),
            decision,
        }))
    }

    /// Drops per origin name (summed over CPUs), and the packets spared by the allow-list.
    pub fn drops(&self) -> Result<(Vec<(String, u64)>, u64)> {
        let (origins, _) = self.label_names()?;
        let mut dropped = vec![0u64; origins.len()];
        let mut spared = 0;
        for cpu in self.stats.get(&0, 0)?.iter() {
            for (total, value) in dropped.iter_mut().zip(cpu.dropped) {
                *total = total.wrapping_add(value);
            }
            spared += cpu.spared;
        }
        let drops = origins
            .into_iter()
            .zip(dropped)
            .enumerate()
            .filter(|(id, (name, count))| *id == 0 && *count > 0 || *id > 0 && !name.is_empty())
            .map(|(id, (name, count))| (if id == 0 { "other".to_string() } else { name }, count))
            .collect();
        Ok((drops, spared))
    }

    /// Writes `plan` (its new names first, so `bans` can name every entry), then the filter
    /// and the counts for `applied`, every entry the maps hold once `plan` is written.
    pub fn write<'a>(
        &mut self,
        plan: &Plan,
        fresh: &[Fresh],
        applied: impl Iterator<Item = &'a IpNet> + Clone,
    ) -> Result<()> {
        for name in fresh {
            match name {
                Fresh::Origin(id, name) => self.origins.set(u32::from(*id), label(name), 0)?,
                Fresh::Scenario(id, name) => self.scenarios.set(u32::from(*id), label(name), 0)?,
            }
        }
        let (addresses, ranges): (Vec<&IpNet>, Vec<&IpNet>) =
            plan.remove.iter().partition(|net| is_address(net));
        delete_all(
            &self.addrs,
            &addresses.into_iter().map(addr_key).collect::<Vec<_>>(),
        )
        .context("cannot delete from the decision address map")?;
        delete_all(
            &self.nets,
            &ranges.into_iter().map(net_key).collect::<Vec<_>>(),
        )
        .context("cannot delete from the decision range map")?;
        let (addresses, ranges): (Vec<_>, Vec<_>) =
            plan.put.iter().partition(|(net, _)| is_address(net));
        update(
            &self.addrs,
            addresses.iter().map(|(net, d)| (addr_key(net), *d)),
        )
        .context("cannot write the decision address map")?;
        update(&self.nets, ranges.iter().map(|(net, d)| (net_key(net), *d)))
            .context("cannot write the decision range map")?;
        // Entries first, then their filter bytes: a source is never found in the filter before
        // its decision is in a map (meanwhile it passes: fail-open).
        let counts = self.write_filter(applied)?;
        self.counts.set(0, counts, 0)?;
        Ok(())
    }

    /// Marks every entry of `applied` under its prefix length, writes the lines that changed,
    /// and returns the counts that go with the filter.
    fn write_filter<'a>(
        &mut self,
        applied: impl Iterator<Item = &'a IpNet> + Clone,
    ) -> Result<DecisionCounts> {
        let lines = self.filter.info()?.max_entries();
        let mut counts = DecisionCounts {
            filter_mask: lines - 1,
            ..DecisionCounts::default()
        };
        let mut lengths = BTreeSet::new();
        let mut filter = vec![[0u8; FILTER_LINE_BYTES]; lines as usize];
        for net in applied {
            match is_address(net) {
                true => counts.addresses += 1,
                false => counts.ranges += 1,
            }
            let prefix = key_prefix(net);
            lengths.insert(prefix.len);
            let key = AddrKey::from(net.addr());
            let (line, byte) = decision_spot(&key, &prefix, counts.filter_mask);
            filter[line as usize][byte] = 1;
        }
        counts.prefixes_used = u32::try_from(lengths.len()).unwrap_or(u32::MAX);
        for (slot, &len) in counts.prefixes.iter_mut().zip(lengths.iter().rev()) {
            *slot = Prefix::new(u8::try_from(len).unwrap_or(128));
        }
        if lengths.len() > PREFIX_SLOTS {
            log::debug!(
                "crowdsec: decisions use {} prefix lengths, more than the filter's {PREFIX_SLOTS}: \
                 every source is looked up",
                lengths.len()
            );
        }
        let changed: Vec<(u32, FilterLine)> = match &self.written {
            Some(old) if old.len() == filter.len() => (0..lines)
                .zip(filter.iter().zip(old))
                .filter(|(_, (new, old))| new != old)
                .map(|(index, (new, _))| (index, *new))
                .collect(),
            _ => (0..lines).zip(filter.iter().copied()).collect(),
        };
        let (indices, values): (Vec<u32>, Vec<FilterLine>) = changed.into_iter().unzip();
        if !indices.is_empty() {
            let written = map_batch::update(self.filter.fd().as_fd(), &indices, &values)
                .context("cannot write the decision filter")?;
            anyhow::ensure!(
                written as usize == indices.len(),
                "{written} of {} decision filter lines written",
                indices.len()
            );
        }
        self.written = Some(filter);
        Ok(counts)
    }
}

/// The name of label `id`: slot 0 and unnamed slots stand for names past the table's end.
fn name(names: &[String], id: usize) -> String {
    match names.get(id) {
        Some(name) if id != 0 && !name.is_empty() => name.clone(),
        _ => "other".to_string(),
    }
}

fn clone(map: &MapData) -> Result<MapData> {
    Ok(MapData::from_fd(map.fd().as_fd().try_clone_to_owned()?)?)
}

fn update<K: bytemuck::Pod>(
    map: &MapData,
    entries: impl Iterator<Item = (K, Decision)>,
) -> Result<()> {
    let (keys, values): (Vec<K>, Vec<Decision>) = entries.unzip();
    if keys.is_empty() {
        return Ok(());
    }
    let written = map_batch::update(map.fd().as_fd(), &keys, &values)?;
    anyhow::ensure!(
        written as usize == keys.len(),
        "{written} of {} entries written",
        keys.len()
    );
    Ok(())
}

/// Deletes `keys`, going past any the map no longer holds.
fn delete_all<K: bytemuck::Pod>(map: &MapData, mut keys: &[K]) -> Result<()> {
    while !keys.is_empty() {
        match map_batch::delete(map.fd().as_fd(), keys) {
            Ok(_) => return Ok(()),
            Err((done, error)) if error.raw_os_error() == Some(libc::ENOENT) => {
                keys = &keys[(done as usize + 1).min(keys.len())..];
            }
            Err((_, error)) => {
                return Err(error).context("BPF_MAP_DELETE_BATCH (needs Linux 5.6)");
            }
        }
    }
    Ok(())
}

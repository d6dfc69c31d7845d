//! What the LAPI has decided, and what of it the kernel's maps hold: the stream's answers
//! applied as the nftables bouncer applies them (deletes before adds, several decisions on one
//! source collapsed to the one that lasts longest), and turned into the map writes that bring
//! the kernel in line. Pure logic over plain values; `maps` does the writes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use ipnet::IpNet;
use scanguard_common::decision::{
    Decision, DecisionCounts, ORIGIN_SLOTS, OTHER_LABEL, SCENARIO_SLOTS,
};
use serde::Deserialize;

use crate::config::go_duration as duration;

/// One decision as the stream gives it (the fields scanguard reads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LapiDecision {
    pub id: i64,
    pub origin: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub scope: String,
    pub value: String,
    /// Time left, as a Go duration (negative in `deleted`).
    pub duration: String,
    pub scenario: String,
}

/// An answer of `/v1/decisions/stream`; either list may be `null`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct StreamAnswer {
    pub new: Option<Vec<LapiDecision>>,
    pub deleted: Option<Vec<LapiDecision>>,
}

impl LapiDecision {
    /// The addresses a ban covers: a single address (scope `Ip`) or a network (`Range`).
    /// Decisions of other types (captcha) and scopes (country, AS) are not scanguard's.
    pub fn target(&self) -> Option<IpNet> {
        if !self.kind.eq_ignore_ascii_case("ban") {
            return None;
        }
        if self.scope.eq_ignore_ascii_case("ip") {
            let address: std::net::IpAddr = self.value.parse().ok()?;
            return Some(IpNet::from(address.to_canonical()));
        }
        if self.scope.eq_ignore_ascii_case("range") {
            let net: IpNet = self.value.parse().ok()?;
            return Some(
                match net {
                    IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                        Some(v4) if v6.prefix_len() >= 96 => {
                            IpNet::new(v4.into(), v6.prefix_len() - 96).ok()?
                        }
                        _ => net,
                    },
                    IpNet::V4(_) => net,
                }
                .trunc(),
            );
        }
        None
    }
}

/// What one held decision says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    pub expires_at_ns: u64,
    pub origin: u8,
    pub scenario: u16,
}

/// Origin and scenario names, numbered for the maps; slot 0 is "other" for names past the
/// tables' ends.
#[derive(Debug, Default)]
pub struct Labels {
    origins: HashMap<String, u8>,
    scenarios: HashMap<String, u16>,
    /// Names numbered since the last `take_fresh`: the maps must learn them.
    fresh: Vec<Fresh>,
}

/// A name the label maps do not hold yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fresh {
    Origin(u8, String),
    Scenario(u16, String),
}

impl Labels {
    /// The labels the maps hold, by index (an empty name is a free slot).
    pub fn from_tables(origins: &[String], scenarios: &[String]) -> Labels {
        let numbered = |names: &[String]| -> Vec<(String, usize)> {
            names
                .iter()
                .enumerate()
                .skip(usize::from(OTHER_LABEL) + 1)
                .filter(|(_, name)| !name.is_empty())
                .map(|(index, name)| (name.clone(), index))
                .collect()
        };
        Labels {
            origins: numbered(origins)
                .into_iter()
                .filter_map(|(name, index)| Some((name, u8::try_from(index).ok()?)))
                .collect(),
            scenarios: numbered(scenarios)
                .into_iter()
                .filter_map(|(name, index)| Some((name, u16::try_from(index).ok()?)))
                .collect(),
            fresh: Vec::new(),
        }
    }

    pub fn origin(&mut self, name: &str) -> u8 {
        if let Some(&id) = self.origins.get(name) {
            return id;
        }
        // Past the highest id in use: ids adopted from the maps may leave gaps.
        let next = self
            .origins
            .values()
            .max()
            .map_or(1, |&id| usize::from(id) + 1);
        let Some(id) = u8::try_from(next)
            .ok()
            .filter(|_| next < ORIGIN_SLOTS as usize)
        else {
            return OTHER_LABEL as u8;
        };
        self.origins.insert(name.to_string(), id);
        self.fresh.push(Fresh::Origin(id, name.to_string()));
        id
    }

    pub fn scenario(&mut self, name: &str) -> u16 {
        if let Some(&id) = self.scenarios.get(name) {
            return id;
        }
        let next = self
            .scenarios
            .values()
            .max()
            .map_or(1, |&id| usize::from(id) + 1);
        let Some(id) = u16::try_from(next)
            .ok()
            .filter(|_| next < SCENARIO_SLOTS as usize)
        else {
            return OTHER_LABEL;
        };
        self.scenarios.insert(name.to_string(), id);
        self.fresh.push(Fresh::Scenario(id, name.to_string()));
        id
    }

    pub fn take_fresh(&mut self) -> Vec<Fresh> {
        std::mem::take(&mut self.fresh)
    }
}

/// The decisions held, by LAPI id and by the addresses they cover.
#[derive(Debug, Default)]
struct Book {
    targets: HashMap<IpNet, BTreeMap<i64, Held>>,
    ids: HashMap<i64, IpNet>,
    /// (end, id), to find the decisions that ended without walking them all.
    ends: BTreeSet<(u64, i64)>,
}

impl Book {
    fn add(&mut self, id: i64, target: IpNet, held: Held, touched: &mut HashSet<IpNet>) {
        self.remove(id, touched);
        self.targets.entry(target).or_default().insert(id, held);
        self.ids.insert(id, target);
        self.ends.insert((held.expires_at_ns, id));
        touched.insert(target);
    }

    fn remove(&mut self, id: i64, touched: &mut HashSet<IpNet>) {
        let Some(target) = self.ids.remove(&id) else {
            return;
        };
        if let Some(held) = self.targets.get_mut(&target) {
            if let Some(gone) = held.remove(&id) {
                self.ends.remove(&(gone.expires_at_ns, id));
            }
            if held.is_empty() {
                self.targets.remove(&target);
            }
        }
        touched.insert(target);
    }

    fn held(&self, id: i64) -> Option<Held> {
        let target = self.ids.get(&id)?;
        self.targets.get(target)?.get(&id).copied()
    }

    /// The decision in force for `target`: of several, the one that lasts longest.
    fn effective(&self, target: &IpNet) -> Option<Held> {
        self.targets
            .get(target)?
            .values()
            .max_by_key(|held| held.expires_at_ns)
            .copied()
    }

    fn expire(&mut self, now_ns: u64, touched: &mut HashSet<IpNet>) {
        let ended: Vec<i64> = self
            .ends
            .range(..=(now_ns, i64::MAX))
            .map(|&(_, id)| id)
            .collect();
        for id in ended {
            self.remove(id, touched);
        }
    }
}

/// How many entries each map holds at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    pub addresses: u32,
    pub ranges: u32,
}

/// The writes that bring the maps in line: `remove` first, then `put`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub put: Vec<(IpNet, Decision)>,
    pub remove: Vec<IpNet>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.put.is_empty() && self.remove.is_empty()
    }
}

/// Whether `net` goes in the address map (one address) or the range trie.
pub fn is_address(net: &IpNet) -> bool {
    net.prefix_len() == net.max_prefix_len()
}

/// The LAPI's decisions and the maps' entries.
#[derive(Debug)]
pub struct State {
    book: Book,
    pub labels: Labels,
    /// What the maps hold, as written.
    applied: HashMap<IpNet, Decision>,
    capacity: Capacity,
    /// Decisions the maps have no room for; while there are any, every reconcile looks at
    /// every target, so they go in as soon as room is made.
    overflow: usize,
    /// The maps were read back after a failed write: the next reconcile looks at everything.
    dirty: bool,
    /// Ids for entries found in the maps at start, below any id the LAPI gives.
    next_seed_id: i64,
}

impl State {
    pub fn new(capacity: Capacity, labels: Labels) -> State {
        State {
            book: Book::default(),
            labels,
            applied: HashMap::new(),
            capacity,
            overflow: 0,
            dirty: false,
            next_seed_id: -1,
        }
    }

    /// Takes up what the maps hold already (a restarted daemon adopting a persisted program):
    /// held until the first full pull says otherwise, or they end.
    pub fn seed(&mut self, entries: impl IntoIterator<Item = (IpNet, Decision)>) {
        let mut touched = HashSet::new();
        for (target, decision) in entries {
            let held = Held {
                expires_at_ns: decision.expires_at_ns,
                origin: decision.origin,
                scenario: decision.scenario,
            };
            self.book.add(self.next_seed_id, target, held, &mut touched);
            self.next_seed_id -= 1;
            self.applied.insert(target, decision);
        }
    }

    /// A delta of the stream: its deletes, then its new decisions.
    pub fn apply_delta(&mut self, answer: StreamAnswer, now_ns: u64) -> Plan {
        let mut touched = HashSet::new();
        for decision in answer.deleted.unwrap_or_default() {
            self.book.remove(decision.id, &mut touched);
        }
        for decision in answer.new.unwrap_or_default() {
            self.add(&decision, now_ns, &mut touched);
        }
        self.reconcile(touched, now_ns)
    }

    /// A full pull (`startup=true`): these decisions, and no others, from now on.
    pub fn replace(&mut self, decisions: Vec<LapiDecision>, now_ns: u64) -> Plan {
        let old = std::mem::take(&mut self.book);
        let mut touched: HashSet<IpNet> = old.targets.keys().copied().collect();
        touched.extend(self.applied.keys().copied());
        for decision in decisions {
            // A decision's end does not move: one already held keeps the end it was given,
            // so each full pull does not rewrite it by the milliseconds the clock moved.
            match (decision.target(), old.held(decision.id)) {
                (Some(target), Some(held)) if old.ids.get(&decision.id) == Some(&target) => {
                    self.book.add(decision.id, target, held, &mut touched);
                }
                _ => self.add(&decision, now_ns, &mut touched),
            }
        }
        self.reconcile(touched, now_ns)
    }

    /// Forgets the decisions that ended.
    pub fn expire(&mut self, now_ns: u64) -> Plan {
        let mut touched = HashSet::new();
        self.book.expire(now_ns, &mut touched);
        self.reconcile(touched, now_ns)
    }

    /// The maps' entries as they really are, after a write that failed part-way.
    pub fn reset_applied(&mut self, entries: impl IntoIterator<Item = (IpNet, Decision)>) {
        self.applied = entries.into_iter().collect();
        self.dirty = true;
    }

    /// Decisions the maps have no room for.
    pub fn overflow(&self) -> usize {
        self.overflow
    }

    pub fn counts(&self) -> DecisionCounts {
        let addresses = self.applied.keys().filter(|net| is_address(net)).count();
        DecisionCounts {
            addresses: u32::try_from(addresses).unwrap_or(u32::MAX),
            ranges: u32::try_from(self.applied.len() - addresses).unwrap_or(u32::MAX),
            ..DecisionCounts::default()
        }
    }

    /// What the maps hold once the last plan is written.
    pub fn applied(&self) -> impl Iterator<Item = &IpNet> + Clone {
        self.applied.keys()
    }

    /// Decisions held, as (addresses, ranges).
    pub fn held(&self) -> (usize, usize) {
        let addresses = self
            .book
            .targets
            .keys()
            .filter(|net| is_address(net))
            .count();
        (addresses, self.book.targets.len() - addresses)
    }

    fn add(&mut self, decision: &LapiDecision, now_ns: u64, touched: &mut HashSet<IpNet>) {
        let Some(target) = decision.target() else {
            return;
        };
        let Ok(left) = duration::parse_nanos(&decision.duration) else {
            log::debug!(
                "crowdsec: decision {} has an unreadable duration {:?}",
                decision.id,
                decision.duration
            );
            return;
        };
        if left <= 0 {
            return;
        }
        let held = Held {
            expires_at_ns: now_ns.saturating_add(left.unsigned_abs()),
            origin: self.labels.origin(&decision.origin),
            scenario: self.labels.scenario(&decision.scenario),
        };
        self.book.add(decision.id, target, held, touched);
    }

    /// The writes for `touched` (for every target while decisions overflow), removals first
    /// so their room goes to new entries.
    fn reconcile(&mut self, mut touched: HashSet<IpNet>, now_ns: u64) -> Plan {
        if self.overflow > 0 || std::mem::take(&mut self.dirty) {
            touched.extend(self.book.targets.keys().copied());
            touched.extend(self.applied.keys().copied());
        }
        let mut plan = Plan::default();
        let mut additions = Vec::new();
        for target in touched {
            let wanted = self.book.effective(&target);
            let have = self.applied.get(&target).copied();
            match (wanted, have) {
                (None, None) => {}
                (None, Some(_)) => {
                    self.applied.remove(&target);
                    plan.remove.push(target);
                }
                (Some(wanted), Some(have)) => {
                    let same = (have.expires_at_ns, have.origin, have.scenario)
                        == (wanted.expires_at_ns, wanted.origin, wanted.scenario);
                    if !same {
                        let decision = Decision {
                            expires_at_ns: wanted.expires_at_ns,
                            origin: wanted.origin,
                            scenario: wanted.scenario,
                            ..have
                        };
                        self.applied.insert(target, decision);
                        plan.put.push((target, decision));
                    }
                }
                (Some(wanted), None) => additions.push((target, wanted)),
            }
        }
        let counts = self.counts();
        let (mut addresses, mut ranges) = (counts.addresses, counts.ranges);
        let mut overflow = 0;
        for (target, wanted) in additions {
            let (count, capacity) = match is_address(&target) {
                true => (&mut addresses, self.capacity.addresses),
                false => (&mut ranges, self.capacity.ranges),
            };
            if *count >= capacity {
                overflow += 1;
                continue;
            }
            *count += 1;
            let decision = Decision {
                expires_at_ns: wanted.expires_at_ns,
                since_ns: now_ns,
                dropped: 0,
                scenario: wanted.scenario,
                origin: wanted.origin,
                _pad: [0; 5],
            };
            self.applied.insert(target, decision);
            plan.put.push((target, decision));
        }
        self.overflow = overflow;
        plan
    }
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;

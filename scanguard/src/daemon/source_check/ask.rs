//! Asking the network who holds an address. A probe whose on-link source has no neighbour entry
//! cannot be judged (see `scanguard_common::source_check`): the kernel has never heard from
//! that address. The daemon then has the kernel resolve it, as it would before sending there
//! (an RTM_NEWNEIGH with NTF_USE, which `neigh_add` in net/core/neighbour.c answers with
//! `neigh_event_send`: an ARP request or a neighbour solicitation, nothing else). Whoever holds
//! the address answers with its own MAC, so the source's next probe is judged: banned if it
//! came from that MAC, found forged if not. An address nobody holds stays unverified.
//!
//! A flood of unverified sources would make this host ask for each: at most
//! [`ASKS_PER_SECOND`] asks, and each address at most once per [`ASK_AGAIN_AFTER`].

use std::{
    collections::HashMap,
    net::IpAddr,
    time::{Duration, Instant},
};

use log::debug;
use rtnetlink::{
    Handle,
    packet_route::neighbour::{NeighbourFlags, NeighbourState},
};

use crate::events::Detection;

/// Neighbour resolutions started per second, all sources together (and the burst).
pub const ASKS_PER_SECOND: u32 = 10;
/// An address asked for is not asked for again within this long: its answer, if any, is in the
/// neighbour table until it goes stale and is collected.
pub const ASK_AGAIN_AFTER: Duration = Duration::from_secs(30);
/// Addresses remembered as asked; the oldest are forgotten first.
const REMEMBERED: usize = 4096;

/// Asks for the on-link sources of `unverified` events, within its limits.
pub struct Asker {
    handle: Option<Handle>,
    asked: HashMap<IpAddr, Instant>,
    tokens: f64,
    refilled: Instant,
}

impl Asker {
    /// Needs a tokio runtime: the netlink connection runs in a task of its own. Without one
    /// (netlink refused), it asks nothing.
    pub fn new() -> Asker {
        let handle = match rtnetlink::new_connection() {
            Ok((connection, handle, _)) => {
                tokio::spawn(connection);
                Some(handle)
            }
            Err(error) => {
                log::warn!("cannot open netlink to resolve unverified sources: {error}");
                None
            }
        };
        Asker {
            handle,
            asked: HashMap::new(),
            tokens: f64::from(ASKS_PER_SECOND),
            refilled: Instant::now(),
        }
    }

    /// Starts resolving `detection`'s source if the program asked for it.
    pub fn consider(&mut self, detection: &Detection) {
        if detection.ask_ifindex == 0 {
            return;
        }
        if self.handle.is_none() {
            return;
        }
        let now = Instant::now();
        if !admit(&mut self.asked, detection.src, now) || !self.take_token(now) {
            return;
        }
        let Some(handle) = &self.handle else {
            return;
        };
        let (address, ifindex) = (detection.src, detection.ask_ifindex);
        let request = handle
            .neighbours()
            .add(ifindex, address)
            .state(NeighbourState::None)
            .flags(NeighbourFlags::Use);
        tokio::spawn(async move {
            // An entry made meanwhile answers EEXIST (NLM_F_EXCL): nothing left to ask.
            match request.execute().await {
                Ok(()) => debug!("asking who holds {address} (ifindex {ifindex})"),
                Err(error) => debug!("not asking who holds {address}: {error}"),
            }
        });
    }

    fn take_token(&mut self, now: Instant) -> bool {
        let rate = f64::from(ASKS_PER_SECOND);
        let earned = now.duration_since(self.refilled).as_secs_f64() * rate;
        self.tokens = (self.tokens + earned).min(rate);
        self.refilled = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

impl Default for Asker {
    fn default() -> Self {
        Asker::new()
    }
}

/// Whether `address` was not asked for within [`ASK_AGAIN_AFTER`]; records it if so, keeping at
/// most [`REMEMBERED`] addresses.
fn admit(asked: &mut HashMap<IpAddr, Instant>, address: IpAddr, now: Instant) -> bool {
    if asked
        .get(&address)
        .is_some_and(|at| now.duration_since(*at) < ASK_AGAIN_AFTER)
    {
        return false;
    }
    if asked.len() >= REMEMBERED {
        asked.retain(|_, at| now.duration_since(*at) < ASK_AGAIN_AFTER);
        if asked.len() >= REMEMBERED {
            return false;
        }
    }
    asked.insert(address, now);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_asked_for_once_a_while_and_memory_stays_bounded() {
        let mut asked = HashMap::new();
        let start = Instant::now();
        let client: IpAddr = "10.77.0.3".parse().unwrap();
        assert!(admit(&mut asked, client, start));
        assert!(!admit(&mut asked, client, start + Duration::from_secs(1)));
        assert!(admit(&mut asked, client, start + ASK_AGAIN_AFTER));
        for n in 0..2 * REMEMBERED as u32 {
            admit(&mut asked, IpAddr::from(n.to_be_bytes()), start);
        }
        assert!(asked.len() <= REMEMBERED);
    }
}

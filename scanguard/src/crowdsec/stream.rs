//! The bouncer: pulls the LAPI's decisions (`/v1/decisions/stream`, all of them at start and
//! every `resync_frequency`, the changes every `update_frequency` between) and keeps the
//! decision maps in line. A LAPI that is down, slow or refusing never stops enforcement: the
//! decisions in force stay until they end, the pulls back off, and the first answer after an
//! outage is a full pull.

use std::time::{Duration, Instant};

use log::{debug, error, info, warn};

use super::{
    book::{Plan, State, StreamAnswer},
    client::{Auth, Client, LapiError},
    maps::Maps,
};
use crate::{bpf::clock, config::crowdsec::Lapi};

/// Retries after failures wait longer each time, up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

pub struct Bouncer {
    client: Client,
    lapi: Lapi,
    state: State,
    maps: Maps,
}

impl Bouncer {
    pub fn new(lapi: Lapi, state: State, maps: Maps) -> Bouncer {
        Bouncer {
            client: Client::new(&lapi.base_url),
            lapi,
            state,
            maps,
        }
    }

    /// Pulls and applies until the runtime ends.
    pub async fn run(mut self) {
        let mut full_pull_due = true;
        let mut last_full_pull = Instant::now();
        let mut failures: u32 = 0;
        loop {
            let full = full_pull_due;
            match self.pull(full).await {
                Ok(answer) => {
                    if failures > 0 {
                        info!(
                            "crowdsec: the LAPI at {} answers again",
                            self.client.base_url()
                        );
                    }
                    failures = 0;
                    let now = clock::boot_ns();
                    let plan = match full {
                        true => {
                            full_pull_due = false;
                            last_full_pull = Instant::now();
                            self.state.replace(answer.new.unwrap_or_default(), now)
                        }
                        false => self.state.apply_delta(answer, now),
                    };
                    let changes = (plan.put.len(), plan.remove.len());
                    self.write(plan);
                    self.report(full, changes);
                }
                Err(error) => {
                    failures += 1;
                    // Whatever changed meanwhile, a full pull catches up.
                    full_pull_due = true;
                    if failures == 1 {
                        self.report_failure(&error);
                    } else {
                        debug!("crowdsec: {error}");
                    }
                }
            }
            let plan = self.state.expire(clock::boot_ns());
            self.write(plan);
            tokio::time::sleep(self.wait(failures)).await;
            if last_full_pull.elapsed() >= self.lapi.resync_frequency {
                full_pull_due = true;
            }
        }
    }

    async fn pull(&self, full: bool) -> Result<StreamAnswer, LapiError> {
        let path = match full {
            true => "/v1/decisions/stream?startup=true",
            false => "/v1/decisions/stream",
        };
        self.client
            .get(path, Auth::ApiKey(&self.lapi.api_key))
            .await
    }

    /// After `failures` failures in a row: the update frequency, doubled per failure, capped.
    fn wait(&self, failures: u32) -> Duration {
        let update = self.lapi.update_frequency;
        match failures {
            0 => update,
            n => update
                .saturating_mul(1 << (n - 1).min(16))
                .min(MAX_BACKOFF.max(update)),
        }
    }

    fn write(&mut self, plan: Plan) {
        let fresh = self.state.labels.take_fresh();
        if plan.is_empty() && fresh.is_empty() {
            return;
        }
        // A few syscalls per change, and batched: short enough not to hand the thread over.
        let written =
            tokio::task::block_in_place(|| self.maps.write(&plan, &fresh, self.state.applied()));
        if let Err(error) = written {
            warn!("crowdsec: {error:#}; the decision maps are read back and written again");
            match self.maps.entries() {
                Ok(entries) => self.state.reset_applied(entries),
                Err(error) => warn!("crowdsec: cannot read the decision maps back: {error:#}"),
            }
        }
    }

    fn report(&self, full: bool, (put, removed): (usize, usize)) {
        let counts = self.state.counts();
        let (addresses, ranges) = self.state.held();
        let overflow = self.state.overflow();
        if full {
            info!(
                "crowdsec: {} addresses and {} ranges decided by the LAPI at {} ({put} written, \
                 {removed} removed)",
                counts.addresses,
                counts.ranges,
                self.client.base_url()
            );
        } else if put + removed > 0 {
            debug!("crowdsec: {put} decisions written, {removed} removed");
        }
        if overflow > 0 && (full || put + removed > 0) {
            warn!(
                "crowdsec: the LAPI decides {addresses} addresses and {ranges} ranges, but the \
                 maps hold {} and {}: {overflow} decisions are not enforced; raise [crowdsec] \
                 address_capacity or range_capacity (takes effect at the next attach)",
                self.state_capacity().0,
                self.state_capacity().1,
            );
        }
    }

    fn state_capacity(&self) -> (u32, u32) {
        self.maps.capacity().unwrap_or((0, 0))
    }

    fn report_failure(&self, error: &LapiError) {
        let counts = self.state.counts();
        let kept = format!(
            "the {} addresses and {} ranges in force stay until they end",
            counts.addresses, counts.ranges
        );
        match error {
            LapiError::Refused { .. } => error!("crowdsec: {error}; {kept}"),
            _ => warn!("crowdsec: {error}; {kept}; retrying"),
        }
    }
}

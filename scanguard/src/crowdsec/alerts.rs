//! The signal source: every ban scanguard makes goes to the LAPI as an alert carrying a ban
//! decision of the same length (scenario `scanguard/<kind>`, origin `scanguard`), so every
//! bouncer of the fleet enforces it. Only the events of bans made are offered: a probe whose
//! source the route back does not vouch for (`spoofed`, `unverified`) is dropped without a ban,
//! and never becomes an alert. The event loop only offers bans to a bounded queue; a task
//! of its own pushes them in batches. While the LAPI is away the queue fills and then new bans
//! are dropped and counted: the event loop never waits on the LAPI.

use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use anyhow::Result;
use aya::maps::MapData;
use log::{info, warn};
use scanguard_common::addr::AddrKey;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::client::{Auth, Client, LapiError};
use crate::{
    bpf::{bans::BanMap, pins::Pins},
    config::{
        crowdsec::{Lapi, Machine},
        go_duration as duration,
    },
    events::Detection,
};

/// Alerts per POST.
const MAX_BATCH: usize = 256;
/// Retries of a batch wait longer each time, up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A JWT is renewed this long before the LAPI says it ends.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// Where alerts of scanguard's bans come from, in the LAPI and its decisions.
pub const ORIGIN: &str = "scanguard";

/// One ban to push, with its end.
#[derive(Clone, Debug)]
struct Signal {
    source: IpAddr,
    kind: String,
    at: SystemTime,
    until: Instant,
}

/// The event loop's side: offers bans, never waits.
pub struct Queue {
    sender: mpsc::Sender<Signal>,
    bans: BanMap<MapData>,
    default_ban: Duration,
    dropped: Arc<AtomicU64>,
    full: Arc<AtomicBool>,
}

impl Queue {
    /// Offers `detection` if it made a ban: its length is read from the ban map.
    pub fn offer(&self, detection: &Detection) {
        if !made_a_ban(detection) {
            return;
        }
        let length = self
            .bans
            .get(&AddrKey::from(detection.src), 0)
            .map(|ban| Duration::from_nanos(ban.duration_ns))
            .unwrap_or(self.default_ban);
        let signal = Signal {
            source: detection.src,
            kind: detection.kind.clone(),
            at: SystemTime::now(),
            until: Instant::now() + length,
        };
        if self.sender.try_send(signal).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if !self.full.swap(true, Ordering::Relaxed) {
                warn!(
                    "crowdsec: the alert queue is full ({} bans wait for the LAPI): new bans are \
                     not pushed until it drains",
                    self.sender.max_capacity()
                );
            }
        }
    }
}

/// Whether `detection` is the event of a ban the program made: only after the source check
/// vouched for its source (refused probes are `spoofed` or `unverified` events, and drops).
fn made_a_ban(detection: &Detection) -> bool {
    detection.event == "detection" && detection.action == "ban"
}

/// Starts the pusher for `machine`; ban lengths are read from the pinned ban map.
pub fn start(lapi: &Lapi, machine: Machine, pins: &Pins, default_ban: Duration) -> Result<Queue> {
    let (sender, receiver) = mpsc::channel(lapi.alert_queue);
    let dropped = Arc::new(AtomicU64::new(0));
    let full = Arc::new(AtomicBool::new(false));
    let pusher = Pusher {
        client: Client::new(&lapi.base_url),
        machine,
        token: None,
        dropped: Arc::clone(&dropped),
        full: Arc::clone(&full),
        retry: lapi.update_frequency,
    };
    tokio::spawn(pusher.run(receiver));
    Ok(Queue {
        sender,
        bans: pins.bans()?,
        default_ban,
        dropped,
        full,
    })
}

struct Pusher {
    client: Client,
    machine: Machine,
    token: Option<(String, Instant)>,
    dropped: Arc<AtomicU64>,
    full: Arc<AtomicBool>,
    /// The first retry's wait.
    retry: Duration,
}

impl Pusher {
    async fn run(mut self, mut receiver: mpsc::Receiver<Signal>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
            self.push(&batch).await;
            batch.clear();
            if receiver.is_empty() && self.full.swap(false, Ordering::Relaxed) {
                info!(
                    "crowdsec: the alert queue drained; {} bans were not pushed in all",
                    self.dropped.load(Ordering::Relaxed)
                );
            }
        }
    }

    /// Pushes `batch` until the LAPI takes it; bans that ended meanwhile are left out.
    async fn push(&mut self, batch: &[Signal]) {
        let mut failures: u32 = 0;
        loop {
            let alerts: Vec<Alert> = batch.iter().filter_map(Alert::of).collect();
            if alerts.is_empty() {
                return;
            }
            match self.post(&alerts).await {
                Ok(()) => {
                    if failures > 0 {
                        info!("crowdsec: the LAPI takes alerts again");
                    }
                    return;
                }
                Err(error) => {
                    failures += 1;
                    if failures == 1 {
                        warn!(
                            "crowdsec: {} bans not pushed yet: {error}; retrying, new bans wait \
                             in the queue",
                            alerts.len()
                        );
                    }
                    let wait = self
                        .retry
                        .saturating_mul(1 << (failures - 1).min(16))
                        .min(MAX_BACKOFF.max(self.retry));
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn post(&mut self, alerts: &[Alert]) -> Result<(), LapiError> {
        let token = self.token().await?;
        let posted: Result<Vec<String>, LapiError> = self
            .client
            .post("/v1/alerts", Auth::Bearer(&token), alerts)
            .await;
        if let Err(LapiError::Refused { .. }) = &posted {
            // The token may have been revoked or the LAPI restarted: log in again next time.
            self.token = None;
        }
        posted.map(|_| ())
    }

    async fn token(&mut self) -> Result<String, LapiError> {
        if let Some((token, renew)) = &self.token
            && Instant::now() < *renew
        {
            return Ok(token.clone());
        }
        #[derive(Serialize)]
        struct Login<'a> {
            machine_id: &'a str,
            password: &'a str,
        }
        #[derive(Deserialize)]
        struct Token {
            token: String,
            expire: String,
        }
        let login = Login {
            machine_id: &self.machine.login,
            password: self.machine.password.expose(),
        };
        let answer: Token = self
            .client
            .post("/v1/watchers/login", Auth::None, &login)
            .await?;
        let lifetime = humantime::parse_rfc3339_weak(&answer.expire)
            .ok()
            .and_then(|end| end.duration_since(SystemTime::now()).ok())
            .unwrap_or(TOKEN_MARGIN);
        let renew = Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN);
        self.token = Some((answer.token.clone(), renew));
        Ok(answer.token)
    }
}

/// `models.Alert` as `POST /v1/alerts` takes it.
#[derive(Serialize)]
struct Alert {
    scenario: String,
    scenario_hash: &'static str,
    scenario_version: &'static str,
    message: String,
    capacity: i32,
    leakspeed: &'static str,
    events_count: i32,
    events: [(); 0],
    simulated: bool,
    start_at: String,
    stop_at: String,
    source: Source,
    decisions: [AlertDecision; 1],
}

#[derive(Serialize)]
struct Source {
    scope: &'static str,
    value: String,
    ip: String,
}

#[derive(Serialize)]
struct AlertDecision {
    origin: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    scope: &'static str,
    value: String,
    duration: String,
    scenario: String,
}

impl Alert {
    /// The alert of a ban, with the time it has left; `None` once it ended.
    fn of(signal: &Signal) -> Option<Alert> {
        let left = signal.until.checked_duration_since(Instant::now())?;
        let scenario = format!("{ORIGIN}/{}", signal.kind);
        let at = humantime::format_rfc3339_seconds(signal.at).to_string();
        let value = signal.source.to_string();
        Some(Alert {
            message: format!("scanguard banned {value} for a {} probe", signal.kind),
            scenario_hash: "",
            scenario_version: "",
            capacity: 0,
            leakspeed: "0",
            events_count: 1,
            events: [],
            simulated: false,
            start_at: at.clone(),
            stop_at: at,
            source: Source {
                scope: "Ip",
                value: value.clone(),
                ip: value.clone(),
            },
            decisions: [AlertDecision {
                origin: ORIGIN,
                kind: "ban",
                scope: "Ip",
                value,
                duration: duration::format(left),
                scenario: scenario.clone(),
            }],
            scenario,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event: &str, action: &str) -> Detection {
        let text = format!(
            r#"{{"time":"2026-01-01T00:00:00.000Z","event":"{event}","kind":"null","action":"{action}",
            "interface":"veth0","ifindex":2,"src_mac":"","dst_mac":"","ethertype":2048,
            "vlan_id":null,"src":"192.0.2.7","dst":"192.0.2.1","protocol":"TCP","src_port":1,
            "dst_port":22,"tcp_flags":"NONE","window":0,"ttl":64,"tos":0,"ip_id":0,"length":40,
            "suppressed":0,"service":null,"fingerprint":null}}"#
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn only_bans_made_become_alerts() {
        assert!(made_a_ban(&event("detection", "ban")));
        for (kind, action) in [
            ("spoofed", "drop"),
            ("unverified", "drop"),
            ("detection", "drop"),
            ("detection", "would-ban"),
            ("banned", "drop"),
        ] {
            assert!(!made_a_ban(&event(kind, action)), "{kind} {action}");
        }
    }

    #[test]
    fn an_alert_carries_a_ban_of_the_time_left() {
        let signal = Signal {
            source: "192.0.2.7".parse().unwrap(),
            kind: "xmas".to_string(),
            at: SystemTime::now(),
            until: Instant::now() + Duration::from_secs(3_600),
        };
        let alert = serde_json::to_value(Alert::of(&signal).unwrap()).unwrap();
        assert_eq!(alert["scenario"], "scanguard/xmas");
        let decision = &alert["decisions"][0];
        assert_eq!(decision["origin"], "scanguard");
        assert_eq!(decision["type"], "ban");
        assert_eq!(decision["value"], "192.0.2.7");
        let left = duration::parse(decision["duration"].as_str().unwrap()).unwrap();
        assert!(left <= Duration::from_secs(3_600) && left > Duration::from_secs(3_590));
        let ended = Signal {
            until: Instant::now(),
            ..signal
        };
        assert!(Alert::of(&ended).is_none());
    }
}

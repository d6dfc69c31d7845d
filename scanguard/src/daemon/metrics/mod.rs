//! `attach --metrics ADDR`: the daemon's counters and map fill levels in the Prometheus text
//! exposition format (its OpenMetrics 1.0 flavour, as the `prometheus-client` crate encodes it),
//! served over HTTP at `/metrics`. The maps are read from their pins on every scrape, so a scrape
//! always shows the kernel's current numbers and costs the daemon nothing in between.

mod http;

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use anyhow::{Context as _, Result};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric as _},
    metrics::{counter::ConstCounter, gauge::ConstGauge},
    registry::Registry,
};
use scanguard_common::{
    ban::BANS_MAP,
    counters::{Counter, counter_slot, detection_slot},
    decision::DecisionCounts,
    flow::FLOWS_MAP,
    kind::Kind,
};
use tokio::net::TcpListener;

use crate::{
    bpf::{counters, pins::Pins},
    crowdsec::maps::Maps,
};

/// The media type of what `prometheus-client` encodes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Everything one scrape shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The kernel's counters, summed over CPUs.
    pub counters: Vec<u64>,
    pub bans: u64,
    pub ban_capacity: u32,
    pub flows: u64,
    pub flow_capacity: u32,
    /// Events the kernel could not deliver because the daemon's readers fell behind.
    pub events_lost: u64,
    /// CrowdSec decisions in force, and the packets they dropped per origin.
    pub decisions: DecisionCounts,
    pub decision_drops: Vec<(String, u64)>,
}

impl Snapshot {
    /// Reads the pinned maps now.
    pub fn read(pins: &Pins, events_lost: u64) -> Result<Snapshot> {
        let counters = counters::totals(&pins.counters()?)?.to_vec();
        let decisions = Maps::open(pins)?;
        Ok(Snapshot {
            decisions: decisions.counts()?,
            decision_drops: decisions.drops()?.0,
            counters,
            bans: count(pins.bans()?.keys()),
            ban_capacity: pins.max_entries(BANS_MAP)?,
            flows: count(pins.flows()?.keys()),
            flow_capacity: pins.max_entries(FLOWS_MAP)?,
            events_lost,
        })
    }

    fn counter(&self, slot: usize) -> u64 {
        self.counters.get(slot).copied().unwrap_or(0)
    }

    /// The exposition, `# EOF` included.
    pub fn encode(&self) -> String {
        let mut registry = Registry::with_prefix("scanguard");
        registry.register_collector(Box::new(self.clone()));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}

/// Entries of a map; an entry deleted while the keys are walked just ends the walk early.
fn count<K, E>(keys: impl Iterator<Item = Result<K, E>>) -> u64 {
    keys.map_while(Result::ok).fold(0, |count, _| count + 1)
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        {
            let mut family = encoder.encode_descriptor(
                "packets",
                "Kernel counters summed over CPUs: packets seen, passed and dropped, bans and events",
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for counter in Counter::ALL {
                let labels = [("counter", counter.name())];
                ConstCounter::new(self.counter(counter_slot(counter)))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "detections",
                "Detections per scan kind",
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for kind in Kind::ALL {
                let labels = [("kind", kind.name())];
                ConstCounter::new(self.counter(detection_slot(kind)))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "decision_drops",
                "Packets dropped because of CrowdSec LAPI decisions, per decision origin",
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (origin, count) in &self.decision_drops {
                let labels = [("origin", origin.as_str())];
                ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "decisions",
                "CrowdSec LAPI decisions in force, per scope",
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            let scopes = [
                ("ip", self.decisions.addresses),
                ("range", self.decisions.ranges),
            ];
            for (scope, count) in scopes {
                ConstGauge::new(i64::from(count))
                    .encode(family.encode_family(&[("scope", scope)])?)?;
            }
        }
        let counters = [
            (
                "events_lost",
                "Detection events the kernel could not deliver because the daemon fell behind",
                self.events_lost,
            ),
            (
                "events_suppressed",
                "Detection events suppressed by the per-source rate limit",
                self.counter(counter_slot(Counter::EventsSuppressed)),
            ),
        ];
        for (name, help, value) in counters {
            let metric = ConstCounter::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        let gauges = [
            (
                "bans",
                "Sources banned now (expired bans until swept)",
                self.bans,
            ),
            (
                "ban_capacity",
                "Ban-map entries; beyond it the least recently seen ban is forgotten",
                self.ban_capacity.into(),
            ),
            ("flows", "Flows remembered in the flow table", self.flows),
            (
                "flow_capacity",
                "Flow-table entries; beyond it the least recently used flow is forgotten",
                self.flow_capacity.into(),
            ),
        ];
        for (name, help, value) in gauges {
            let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        Ok(())
    }
}

/// Parses `--metrics`: an address and port, e.g. `127.0.0.1:9100` or `[::1]:9100`.
pub fn parse_address(text: &str) -> Result<SocketAddr> {
    text.parse().map_err(|_| {
        anyhow::anyhow!(
            "--metrics: {text:?} is not an address and port such as 127.0.0.1:9100 or [::1]:9100"
        )
    })
}

/// The metrics endpoint, bound before anything is attached so a bad address or a port in use
/// is reported while nothing needs undoing.
pub struct Endpoint {
    listener: TcpListener,
}

impl Endpoint {
    pub async fn bind(address: Option<&str>) -> Result<Option<Endpoint>> {
        let Some(address) = address else {
            return Ok(None);
        };
        let address = parse_address(address)?;
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("--metrics: cannot listen on {address}"))?;
        Ok(Some(Endpoint { listener }))
    }

    /// Serves `/metrics` from the maps pinned in `pin_dir` until the runtime ends.
    pub fn spawn(self, pin_dir: PathBuf, lost: Arc<AtomicU64>) {
        if let Ok(address) = self.listener.local_addr() {
            log::info!("serving metrics on http://{address}/metrics");
        }
        let scrape = move || {
            let pins = Pins::open(&pin_dir)?;
            Ok(Snapshot::read(&pins, lost.load(Ordering::Relaxed))?.encode())
        };
        tokio::spawn(http::serve(self.listener, Arc::new(scrape)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn counters_and_fill_levels_are_encoded() {
        let mut counters = vec![0; scanguard_common::counters::COUNTER_SLOTS];
        counters[counter_slot(Counter::DroppedBanned)] = 7;
        counters[counter_slot(Counter::EventsSuppressed)] = 3;
        counters[detection_slot(Kind::NullScan)] = 2;
        let text = Snapshot {
            counters,
            bans: 1,
            ban_capacity: 65_536,
            flows: 4,
            flow_capacity: 1024,
            events_lost: 5,
            decisions: DecisionCounts {
                addresses: 3,
                ranges: 1,
                ..DecisionCounts::default()
            },
            decision_drops: vec![("cscli".to_string(), 9)],
        }
        .encode();
        let lines = lines(&text);
        for expected in [
            "# TYPE scanguard_packets counter",
            r#"scanguard_packets_total{counter="dropped_banned"} 7"#,
            r#"scanguard_packets_total{counter="seen"} 0"#,
            "# TYPE scanguard_detections counter",
            r#"scanguard_detections_total{kind="null-scan"} 2"#,
            r#"scanguard_detections_total{kind="denied"} 0"#,
            "scanguard_events_lost_total 5",
            "scanguard_events_suppressed_total 3",
            "# TYPE scanguard_bans gauge",
            "scanguard_bans 1",
            "scanguard_ban_capacity 65536",
            "scanguard_flows 4",
            "scanguard_flow_capacity 1024",
            r#"scanguard_decision_drops_total{origin="cscli"} 9"#,
            r#"scanguard_decisions{scope="range"} 1"#,
        ] {
            assert!(lines.contains(&expected), "{expected} missing:\n{text}");
        }
        assert_eq!(lines.last(), Some(&"# EOF"));
    }

    #[test]
    fn addresses_are_checked_in_one_line() {
        assert!(parse_address("127.0.0.1:9100").is_ok());
        assert!(parse_address("[::1]:9100").is_ok());
        for bad in ["127.0.0.1", "localhost:9100", "127.0.0.1:99999", "", "a\nb"] {
            let error = parse_address(bad).unwrap_err().to_string();
            assert!(error.starts_with("--metrics: "), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }
}

//! `attach --metrics`: scraped over HTTP from inside the victim's namespace, the exposition
//! parses as Prometheus text and shows a real nmap scan's detection and ban.

use std::{
    collections::BTreeMap,
    io::{Read as _, Write as _},
    net::{IpAddr, TcpStream},
    time::Duration,
};

use scanguard_common::kind::Kind;
use scanguard_lab::{Host, ScanLab, daemon::Daemon, traffic::nmap_port_state, wait_until};

use crate::support::lab::{SCANGUARD, require_root};

/// The victim's namespace is the test's own, so any port is free there.
const METRICS_PORT: u16 = 9100;
const CLOSED: u16 = 81;

#[test]
fn a_scrape_shows_a_scans_detection_and_ban() {
    require_root();
    let lab = ScanLab::build().expect("lab");
    let victim: IpAddr = lab.victim.ipv4.into();
    let address = format!("127.0.0.1:{METRICS_PORT}");
    let _daemon = Daemon::start(
        SCANGUARD,
        &lab.victim,
        &[&lab.victim.interface, "--metrics", &address],
    );

    let before = Exposition::parse(&scrape(&lab.victim, "GET", "/metrics").expect_ok());
    assert_eq!(before.value("scanguard_bans", &[]), 0.0);
    assert_eq!(
        before.value("scanguard_detections_total", &[("kind", "null-scan")]),
        0.0
    );
    assert_eq!(before.family_type("scanguard_packets"), Some("counter"));
    assert_eq!(before.family_type("scanguard_detections"), Some("counter"));
    assert_eq!(before.family_type("scanguard_bans"), Some("gauge"));
    assert_eq!(before.family_type("scanguard_events_lost"), Some("counter"));
    assert!(before.value("scanguard_ban_capacity", &[]) >= 1.0);
    assert!(before.value("scanguard_flow_capacity", &[]) >= 1.0);

    nmap_port_state(&lab.attacker, "-sN", victim, CLOSED);
    let mut after = before;
    let shown = wait_until(Duration::from_secs(5), Duration::from_millis(100), || {
        after = Exposition::parse(&scrape(&lab.victim, "GET", "/metrics").expect_ok());
        after.value("scanguard_bans", &[]) == 1.0
    });
    assert!(shown, "no ban in the scrape");
    assert!(after.value("scanguard_detections_total", &[("kind", "null-scan")]) >= 1.0);
    assert_eq!(
        after.value("scanguard_detections_total", &[("kind", "syn-scan")]),
        0.0
    );
    assert!(after.value("scanguard_packets_total", &[("counter", "seen")]) >= 1.0);
    assert!(after.value("scanguard_packets_total", &[("counter", "bans_created")]) >= 1.0);
    assert_eq!(after.value("scanguard_events_lost_total", &[]), 0.0);
    let suppressed = after.value("scanguard_events_suppressed_total", &[]);
    assert_eq!(
        suppressed,
        after.value(
            "scanguard_packets_total",
            &[("counter", "events_suppressed")]
        )
    );
    // Every kind and every kernel counter is there, zero or not.
    assert_eq!(
        after.family_len("scanguard_detections_total"),
        Kind::ALL.len()
    );
    assert!(after.family_len("scanguard_packets_total") >= 14);

    // Only /metrics, and only reading it.
    assert_eq!(scrape(&lab.victim, "GET", "/").status, 404);
    assert_eq!(scrape(&lab.victim, "POST", "/metrics").status, 405);
    let head = scrape(&lab.victim, "HEAD", "/metrics");
    assert_eq!((head.status, head.body.as_str()), (200, ""));
}

struct Response {
    status: u16,
    headers: String,
    body: String,
}

impl Response {
    fn expect_ok(self) -> String {
        assert_eq!(self.status, 200, "{}\n{}", self.headers, self.body);
        let content_type = self.header("content-type").expect("a Content-Type header");
        assert!(
            content_type.starts_with("application/openmetrics-text")
                || content_type.starts_with("text/plain"),
            "{content_type}"
        );
        let length: usize = self
            .header("content-length")
            .and_then(|length| length.parse().ok())
            .expect("a Content-Length header");
        assert_eq!(length, self.body.len());
        self.body
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// One HTTP/1.1 request to the metrics port, from inside `host`'s namespace.
fn scrape(host: &Host, method: &str, path: &str) -> Response {
    let _guard = host.enter().expect("enter the victim's namespace");
    let mut stream =
        TcpStream::connect(("127.0.0.1", METRICS_PORT)).expect("connect to the metrics port");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\nUser-Agent: scanguard-test\r\n\r\n"
    )
    .expect("send the request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read the response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    Response {
        status,
        headers: headers.to_string(),
        body: body.to_string(),
    }
}

/// A scrape parsed by the text format's rules (Prometheus 0.0.4 and OpenMetrics 1.0): `# HELP`,
/// `# TYPE` and `# UNIT` lines before their family's samples, samples
/// `name{label="value",...} value`, `# EOF` last, no sample twice. Panics on anything else.
struct Exposition {
    types: BTreeMap<String, String>,
    samples: BTreeMap<(String, Labels), f64>,
}

/// Label names and values, sorted.
type Labels = Vec<(String, String)>;

impl Exposition {
    fn parse(text: &str) -> Exposition {
        let mut exposition = Exposition {
            types: BTreeMap::new(),
            samples: BTreeMap::new(),
        };
        let mut ended = false;
        for line in text.lines() {
            assert!(!ended, "a line after # EOF: {line:?}");
            if line == "# EOF" {
                ended = true;
            } else if let Some(comment) = line.strip_prefix("# ") {
                let mut words = comment.splitn(3, ' ');
                let keyword = words.next().unwrap_or_default();
                let family = words.next().unwrap_or_default();
                assert!(is_metric_name(family), "bad family name in {line:?}");
                match keyword {
                    "TYPE" => {
                        let kind = words.next().unwrap_or_default();
                        assert!(
                            [
                                "counter",
                                "gauge",
                                "histogram",
                                "summary",
                                "untyped",
                                "unknown",
                                "info",
                                "stateset",
                                "gaugehistogram"
                            ]
                            .contains(&kind),
                            "bad type in {line:?}"
                        );
                        let previous = exposition.types.insert(family.into(), kind.into());
                        assert!(previous.is_none(), "{family} typed twice");
                    }
                    "HELP" | "UNIT" => {}
                    _ => panic!("unknown comment {line:?}"),
                }
            } else {
                let (name, labels, value) =
                    sample(line).unwrap_or_else(|| panic!("bad sample line {line:?}"));
                assert!(
                    exposition.family_of(&name).is_some(),
                    "sample {name} of no typed family"
                );
                let previous = exposition.samples.insert((name, labels), value);
                assert!(previous.is_none(), "sample twice: {line:?}");
            }
        }
        assert!(ended || !text.contains("# EOF"), "# EOF not on a line");
        exposition
    }

    /// The family a sample belongs to: its own name, or its name less a type's suffix.
    fn family_of(&self, sample: &str) -> Option<&str> {
        if let Some((family, _)) = self.types.get_key_value(sample) {
            return Some(family);
        }
        ["_total", "_count", "_sum", "_bucket", "_created", "_info"]
            .iter()
            .filter_map(|suffix| sample.strip_suffix(suffix))
            .find_map(|family| {
                self.types
                    .get_key_value(family)
                    .map(|(name, _)| name.as_str())
            })
    }

    fn family_type(&self, family: &str) -> Option<&str> {
        self.types.get(family).map(String::as_str)
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels: Labels = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        labels.sort();
        *self
            .samples
            .get(&(name.to_string(), labels.clone()))
            .unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
    }

    fn family_len(&self, name: &str) -> usize {
        self.samples
            .keys()
            .filter(|(sample, _)| sample == name)
            .count()
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name{a="x",b="y"} value [timestamp]`, labels sorted.
fn sample(line: &str) -> Option<(String, Labels, f64)> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = rest.split_once("=\"")?;
            if !is_label_name(key) {
                return None;
            }
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        _ => return None,
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.push((key.to_string(), value));
            rest = &after[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let mut fields = rest.strip_prefix(' ')?.split(' ');
    let value = match fields.next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number.parse().ok()?,
    };
    if let Some(timestamp) = fields.next() {
        timestamp.parse::<f64>().ok()?;
    }
    if fields.next().is_some() {
        return None;
    }
    labels.sort();
    Some((name.to_string(), labels, value))
}

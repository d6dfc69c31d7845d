//! The TOML configuration file, validated into `Settings`. Errors name the key and the problem.

use std::{collections::BTreeMap, path::Path};

use ipnet::IpNet;
use scanguard_common::{
    action::Action, config::BanMode, fingerprint::Fingerprint, kind::Kind, ports::well_known_name,
    sweep::MAX_SWEEP_PORTS,
};
use serde::Deserialize;

use crate::config::{
    crowdsec::CrowdSecFile,
    error::{ConfigError, check_capacity, invalid},
    settings::{FingerprintName, Settings},
};

/// The file as written; every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    ban_seconds: Option<u64>,
    ban_mode: Option<String>,
    capacity: Option<u32>,
    watched_ports: Option<Vec<u16>>,
    /// Port number (as a TOML key) to a name for the logs; "" picks the well-known name.
    trap_ports: Option<BTreeMap<String, String>>,
    protected_ports: Option<Vec<u16>>,
    allow: Option<Vec<String>>,
    /// Kind name to action name.
    actions: Option<BTreeMap<String, String>>,
    events: Option<Events>,
    watched_udp_ports: Option<Vec<u16>>,
    sweep: Option<SweepFile>,
    slow_sweep: Option<SweepFile>,
    /// Fingerprint names that make a SYN a `fingerprint` detection.
    fingerprints: Option<Vec<String>>,
    default_deny: Option<bool>,
    open_ports: Option<Vec<u16>>,
    flow_capacity: Option<u32>,
    lockout_protection: Option<bool>,
    max_bans_per_second: Option<u32>,
    max_bans_per_subnet_per_minute: Option<u32>,
    reserved_bans_per_second: Option<u32>,
    verify_source: Option<bool>,
    ttl_check: Option<bool>,
    /// Kind name to the probes a source must send before it is banned.
    min_probes: Option<BTreeMap<String, u8>>,
    bantime: Option<Bantime>,
    crowdsec: Option<CrowdSecFile>,
}

/// Longer bans for repeat offenders, like fail2ban's `bantime.increment`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bantime {
    increment: Option<bool>,
    window_seconds: Option<u64>,
    max_seconds: Option<u64>,
}

/// Port-sweep detection, `[sweep]` and `[slow_sweep]`: `ports` distinct ports within `seconds`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    ports: Option<u32>,
    seconds: Option<u64>,
}

/// The per-source rate limit of detection events, as `-m limit`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Events {
    per_minute: Option<u32>,
    burst: Option<u32>,
    /// All sources together.
    per_second: Option<u32>,
}

pub fn load(path: &Path) -> anyhow::Result<Settings> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| anyhow::anyhow!("cannot read config file {}: {error}", path.display()))?;
    parse(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
}

pub fn parse(text: &str) -> Result<Settings, ConfigError> {
    let file: File = toml::from_str(text).map_err(|error| syntax_error(text, &error))?;
    let mut settings = Settings::default();
    if let Some(seconds) = file.ban_seconds {
        if seconds == 0 {
            return Err(invalid("ban_seconds", "must be at least 1"));
        }
        settings.ban_seconds = seconds;
    }
    if let Some(mode) = file.ban_mode {
        settings.ban_mode =
            parse_ban_mode(&mode).map_err(|problem| invalid("ban_mode", problem))?;
    }
    if let Some(capacity) = file.capacity {
        settings.capacity = check_capacity("capacity", capacity)?;
    }
    if let Some(ports) = file.watched_ports {
        settings.watched_ports = ports.into_iter().collect();
    }
    if let Some(ports) = file.protected_ports {
        settings.protected_ports = ports.into_iter().collect();
    }
    if let Some(traps) = file.trap_ports {
        settings.trap_ports = traps
            .into_iter()
            .map(|(port, name)| parse_trap_port(&port, name))
            .collect::<Result<_, _>>()?;
    }
    if let Some(allow) = file.allow {
        settings.allow = allow
            .iter()
            .map(|net| parse_net(net).map_err(|problem| invalid("allow", problem)))
            .collect::<Result<_, _>>()?;
    }
    if let Some(ports) = file.watched_udp_ports {
        settings.watched_udp_ports = ports.into_iter().collect();
    }
    let sweep = (&mut settings.sweep_ports, &mut settings.sweep_seconds);
    read_sweep(file.sweep, "sweep", sweep)?;
    let slow_sweep = (
        &mut settings.slow_sweep_ports,
        &mut settings.slow_sweep_seconds,
    );
    read_sweep(file.slow_sweep, "slow_sweep", slow_sweep)?;
    for name in file.fingerprints.unwrap_or_default() {
        let fingerprint = Fingerprint::from_name(&name).ok_or_else(|| {
            invalid(
                "fingerprints",
                format!("unknown fingerprint {name:?} (expected nmap, masscan, zmap or raw-ip-id)"),
            )
        })?;
        settings.fingerprints.insert(FingerprintName(fingerprint));
    }
    if let Some(default_deny) = file.default_deny {
        settings.default_deny = default_deny;
    }
    if let Some(ports) = file.open_ports {
        settings.open_ports = ports.into_iter().collect();
    }
    if let Some(capacity) = file.flow_capacity {
        settings.flow_capacity = check_capacity("flow_capacity", capacity)?;
    }
    let events = file.events.unwrap_or_default();
    if let Some(per_minute) = events.per_minute {
        settings.events_per_minute = per_minute;
    }
    if let Some(burst) = events.burst {
        settings.event_burst = burst;
    }
    if let Some(per_second) = events.per_second {
        settings.events_per_second = per_second;
    }
    if let Some(lockout_protection) = file.lockout_protection {
        settings.lockout_protection = lockout_protection;
    }
    if let Some(per_second) = file.max_bans_per_second {
        settings.bans_per_second = per_second;
    }
    if let Some(per_minute) = file.max_bans_per_subnet_per_minute {
        settings.subnet_bans_per_minute = per_minute;
    }
    if let Some(per_second) = file.reserved_bans_per_second {
        settings.reserved_bans_per_second = per_second;
    }
    if let Some(verify_source) = file.verify_source {
        settings.verify_source = verify_source;
    }
    if let Some(ttl_check) = file.ttl_check {
        settings.ttl_check = ttl_check;
    }
    for (kind, probes) in file.min_probes.unwrap_or_default() {
        let kind = Kind::from_name(&kind).ok_or_else(|| {
            invalid(
                format!("min_probes.{kind}"),
                format!("unknown scan kind (expected one of {})", kind_names()),
            )
        })?;
        settings.min_probes.insert(kind, probes);
    }
    let bantime = file.bantime.unwrap_or_default();
    if bantime.increment == Some(false) {
        settings.repeat_window_seconds = 0;
    }
    if let Some(window) = bantime.window_seconds {
        settings.repeat_window_seconds = window;
    }
    if let Some(max) = bantime.max_seconds {
        if max < settings.ban_seconds {
            return Err(invalid(
                "bantime.max_seconds",
                format!("must be at least ban_seconds ({})", settings.ban_seconds),
            ));
        }
        settings.max_ban_seconds = max;
    }
    if let Some(crowdsec) = file.crowdsec {
        settings.crowdsec = crowdsec.validate()?;
    }
    for (kind, action) in file.actions.unwrap_or_default() {
        let key = format!("actions.{kind}");
        let kind = Kind::from_name(&kind).ok_or_else(|| {
            invalid(
                &key,
                format!("unknown scan kind (expected one of {})", kind_names()),
            )
        })?;
        let action = Action::from_name(&action).ok_or_else(|| {
            invalid(
                &key,
                format!("unknown action {action:?} (expected ban, drop, log or ignore)"),
            )
        })?;
        settings.actions.insert(kind, action);
    }
    Ok(settings)
}

pub fn parse_ban_mode(mode: &str) -> Result<BanMode, String> {
    BanMode::from_name(mode)
        .ok_or_else(|| format!("unknown ban mode {mode:?} (expected fixed or sliding)"))
}

/// An address or CIDR prefix; a bare address is a /32 or /128.
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or CIDR prefix"))
}

/// One address: a ban is per address, so a network is refused with what takes networks.
pub fn parse_address(text: &str) -> Result<std::net::IpAddr, String> {
    text.parse().map_err(|_| match text.parse::<IpNet>() {
        Ok(_) => format!(
            "{text:?} is a network; bans are per address (`unban` and the allow-list take networks)"
        ),
        Err(_) => format!("{text:?} is not an IP address"),
    })
}

fn parse_trap_port(port: &str, name: String) -> Result<(u16, String), ConfigError> {
    let key = format!("trap_ports.{port}");
    let number: u16 = port
        .parse()
        .map_err(|_| invalid(&key, "the key must be a port number from 0 to 65535"))?;
    // The name goes into log lines as `SERVICE=name`: one word, or the line cannot be parsed.
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            &key,
            format!("{name:?}: a service name is one word, without spaces"),
        ));
    }
    let name = match (name.is_empty(), well_known_name(number)) {
        (false, _) => name,
        (true, Some(known)) => known.to_string(),
        (true, None) => number.to_string(),
    };
    Ok((number, name))
}

/// A sweep table's `ports` and `seconds` into `into`.
fn read_sweep(
    table: Option<SweepFile>,
    name: &str,
    into: (&mut u32, &mut u64),
) -> Result<(), ConfigError> {
    let table = table.unwrap_or_default();
    if let Some(ports) = table.ports {
        if ports > MAX_SWEEP_PORTS {
            let problem = format!(
                "must be at most {MAX_SWEEP_PORTS}: the sketch of 128 hashed ports counts more \
                 only late or never (0 turns it off)"
            );
            return Err(invalid(format!("{name}.ports"), problem));
        }
        *into.0 = ports;
    }
    if let Some(seconds) = table.seconds {
        if seconds == 0 {
            return Err(invalid(format!("{name}.seconds"), "must be at least 1"));
        }
        *into.1 = seconds;
    }
    Ok(())
}

fn kind_names() -> String {
    Kind::ALL.map(Kind::name).join(", ")
}

/// One line that names the key where the toml crate knows it (a value of the wrong type or
/// range, an unknown key in a table) and the line it points at: `events.burst: invalid type:
/// string "x", expected u32 (line 7)`. A syntax error has no key: `line 7: ...`.
fn syntax_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let line = error.span().map(|span| {
        let start = span.start.min(text.len());
        // A span may start inside a multi-byte character of a broken document.
        let prefix = String::from_utf8_lossy(&text.as_bytes()[..start]);
        prefix.matches('\n').count() + 1
    });
    let message = error
        .message()
        .replace("expected struct Bantime", "expected a table")
        .replace("expected struct SweepFile", "expected a table")
        .replace("expected struct Events", "expected a table")
        .replace("expected struct CrowdSecFile", "expected a table");
    let mut key = error_keys(error);
    // serde names an unknown key only in its message: "unknown field `rate`, expected ...".
    if let Some(field) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(field, _)| field)
    {
        key.push(field.to_string());
    }
    match (key.is_empty(), line) {
        (false, Some(line)) => invalid(key.join("."), format!("{message} (line {line})")),
        (false, None) => invalid(key.join("."), message),
        (true, Some(line)) => invalid(format!("line {line}"), message),
        (true, None) => invalid("file", message),
    }
}

/// The path of keys the toml crate noted for an error. It has no accessor for them, but
/// prints them as "in `a.b`" when it has no document to quote.
fn error_keys(error: &toml::de::Error) -> Vec<String> {
    let mut bare = error.clone();
    bare.set_input(None);
    let rendered = bare.to_string();
    rendered
        .trim_end()
        .rsplit_once("\nin `")
        .and_then(|(_, path)| path.strip_suffix('`'))
        .filter(|path| !path.is_empty())
        .map(|path| path.split('.').map(str::to_string).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults() {
        assert_eq!(parse("").unwrap(), Settings::default());
    }

    #[test]
    fn every_key_is_read() {
        let settings = parse(
            r#"
            ban_seconds = 300
            ban_mode = "sliding"
            capacity = 1000000
            watched_ports = [23, 79]
            protected_ports = [2222]
            allow = ["192.168.1.0/24", "fd00::1"]
            watched_udp_ports = [69]
            fingerprints = ["nmap", "zmap"]
            default_deny = true
            open_ports = [22, 80]
            flow_capacity = 1000
            lockout_protection = false
            max_bans_per_second = 5
            max_bans_per_subnet_per_minute = 2
            ttl_check = false
            [trap_ports]
            22 = ""
            8080 = "proxy"
            [actions]
            syn-scan = "log"
            [events]
            per_minute = 10
            burst = 20
            [sweep]
            ports = 6
            seconds = 10
            [slow_sweep]
            ports = 20
            seconds = 600
            [min_probes]
            null-scan = 3
            [bantime]
            window_seconds = 60
            max_seconds = 3600
            "#,
        )
        .unwrap();
        assert_eq!(settings.ban_seconds, 300);
        assert_eq!(settings.ban_mode, BanMode::Sliding);
        assert_eq!(settings.capacity, 1_000_000);
        assert_eq!(settings.watched_ports, [23, 79].into());
        assert_eq!(settings.protected_ports, [2222].into());
        assert_eq!(settings.allow.len(), 2);
        assert_eq!(settings.trap_ports[&22], "ssh");
        assert_eq!(settings.trap_ports[&8080], "proxy");
        assert_eq!(settings.action(Kind::SynScan), Action::Log);
        assert_eq!(settings.action(Kind::NullScan), Action::Ban);
        assert_eq!((settings.events_per_minute, settings.event_burst), (10, 20));
        assert_eq!((settings.sweep_ports, settings.sweep_seconds), (6, 10));
        let slow_sweep = (settings.slow_sweep_ports, settings.slow_sweep_seconds);
        assert_eq!(slow_sweep, (20, 600));
        assert_eq!(settings.watched_udp_ports, [69].into());
        assert_eq!(settings.fingerprints.len(), 2);
        assert!(settings.default_deny);
        assert_eq!(settings.open_ports, [22, 80].into());
        assert_eq!(settings.flow_capacity, 1000);
        assert!(!settings.lockout_protection && !settings.ttl_check);
        assert_eq!(
            (settings.bans_per_second, settings.subnet_bans_per_minute),
            (5, 2)
        );
        assert_eq!(settings.min_probes[&Kind::NullScan], 3);
        assert_eq!(
            (settings.repeat_window_seconds, settings.max_ban_seconds),
            (60, 3600)
        );
    }

    #[test]
    fn source_verification_and_the_reserve_are_read() {
        let defaults = parse("").unwrap();
        assert!(defaults.verify_source);
        assert_eq!(defaults.reserved_bans_per_second, 20);
        let settings = parse("verify_source = false\nreserved_bans_per_second = 0\n").unwrap();
        assert!(!settings.verify_source);
        assert_eq!(settings.reserved_bans_per_second, 0);
        let error = parse("verify_source = 1").unwrap_err();
        assert_eq!(error.key, "verify_source");
    }

    #[test]
    fn errors_name_the_key_and_the_problem() {
        let cases = [
            ("ban_seconds = 0", "ban_seconds"),
            ("ban_mode = \"forever\"", "ban_mode"),
            ("capacity = 0", "capacity"),
            ("allow = [\"10.0.0.300/8\"]", "allow"),
            ("[actions]\nnull-scan = \"explode\"", "actions.null-scan"),
            ("[actions]\nping-scan = \"ban\"", "actions.ping-scan"),
            ("[trap_ports]\nssh = \"\"", "trap_ports.ssh"),
            ("[trap_ports]\n22 = \"ssh\\nACTION=log\"", "trap_ports.22"),
            ("bantime = 5", "bantime"),
            ("[events]\nrate = 5", "events.rate"),
            ("rate = 5", "rate"),
            ("ban_seconds = \"60\"", "ban_seconds"),
            ("[events]\nburst = 1.5", "events.burst"),
            ("[min_probes]\nnull-scan = 300", "min_probes.null-scan"),
            ("ban_seconds = ", "line 1"),
            ("[trap_ports]\n\"22\\n\" = \"\"", "trap_ports.22\\n"),
            ("[actions]\n\"a\\rb\" = \"ban\"", "actions.a\\rb"),
            ("fingerprints = [\"nessus\"]", "fingerprints"),
            ("[sweep]\nseconds = 0", "sweep.seconds"),
            ("[slow_sweep]\nseconds = 0", "slow_sweep.seconds"),
            ("[slow_sweep]\nports = 65", "slow_sweep.ports"),
            ("[sweep]\nports = 200", "sweep.ports"),
            ("[slow_sweep]\nminutes = 5", "slow_sweep.minutes"),
            ("flow_capacity = 0", "flow_capacity"),
            ("[min_probes]\nsyn-flood = 2", "min_probes.syn-flood"),
            (
                "ban_seconds = 600\n[bantime]\nmax_seconds = 60",
                "bantime.max_seconds",
            ),
            ("watched_ports = [70000]", "watched_ports"),
        ];
        for (text, key) in cases {
            let error = parse(text).unwrap_err();
            assert_eq!(error.key, key, "{text}: {error}");
            assert!(!error.to_string().contains('\n'), "{error}");
        }
    }
}

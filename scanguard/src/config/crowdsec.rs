//! The `[crowdsec]` section of the config file: where the LAPI is, the bouncer key, the
//! optional machine login that pushes scanguard's bans as alerts, and the decision maps' sizes.

use std::{fmt, path::PathBuf, time::Duration};

use scanguard_common::decision::{DEFAULT_DECISION_ADDRESSES, DEFAULT_DECISION_RANGES};
use serde::Deserialize;

use super::{
    error::{ConfigError, check_capacity},
    go_duration,
};

/// As cs-firewall-bouncer's default `update_frequency`.
pub const DEFAULT_UPDATE_FREQUENCY: Duration = Duration::from_secs(10);
/// A full pull (`startup=true`) this often: the stream does not re-send a shorter decision
/// when a longer one for the same source is deleted.
pub const DEFAULT_RESYNC_FREQUENCY: Duration = Duration::from_secs(300);
/// Alerts waiting to be pushed; past it new ones are dropped and counted.
pub const DEFAULT_ALERT_QUEUE: usize = 4_096;

/// A credential: never printed.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrowdSecFile {
    api_url: Option<String>,
    api_key: Option<Secret>,
    api_key_file: Option<PathBuf>,
    update_frequency: Option<String>,
    resync_frequency: Option<String>,
    login: Option<String>,
    password: Option<Secret>,
    password_file: Option<PathBuf>,
    address_capacity: Option<u32>,
    range_capacity: Option<u32>,
    alert_queue: Option<usize>,
}

/// The decision maps' sizes (fixed when the program loads), and the LAPI if one is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrowdSec {
    pub address_capacity: u32,
    pub range_capacity: u32,
    pub lapi: Option<Lapi>,
}

impl Default for CrowdSec {
    fn default() -> Self {
        CrowdSec {
            address_capacity: DEFAULT_DECISION_ADDRESSES,
            range_capacity: DEFAULT_DECISION_RANGES,
            lapi: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lapi {
    /// `http://host:port` and any path before `/v1/...`, without a trailing slash.
    pub base_url: String,
    pub api_key: Secret,
    pub update_frequency: Duration,
    pub resync_frequency: Duration,
    /// Pushes every ban scanguard makes as an alert, when set.
    pub machine: Option<Machine>,
    pub alert_queue: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    pub login: String,
    pub password: Secret,
}

fn invalid(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: format!("crowdsec.{key}"),
        problem: problem.into(),
    }
}

impl CrowdSecFile {
    pub fn validate(self) -> Result<CrowdSec, ConfigError> {
        let mut crowdsec = CrowdSec::default();
        if let Some(capacity) = self.address_capacity {
            crowdsec.address_capacity = check_capacity("crowdsec.address_capacity", capacity)?;
        }
        if let Some(capacity) = self.range_capacity {
            crowdsec.range_capacity = check_capacity("crowdsec.range_capacity", capacity)?;
        }
        let Some(api_url) = self.api_url else {
            let lapi_keys = [
                ("api_key", self.api_key.is_some()),
                ("api_key_file", self.api_key_file.is_some()),
                ("login", self.login.is_some()),
                ("update_frequency", self.update_frequency.is_some()),
            ];
            if let Some((key, _)) = lapi_keys.iter().find(|(_, given)| *given) {
                return Err(invalid(key, "needs crowdsec.api_url, the LAPI's address"));
            }
            return Ok(crowdsec);
        };
        let api_key = secret(
            ("api_key", self.api_key),
            ("api_key_file", self.api_key_file),
        )?
        .ok_or_else(|| {
            invalid(
                "api_key",
                "missing: a bouncer key from `cscli bouncers add NAME`, as api_key or api_key_file",
            )
        })?;
        let machine = match (
            self.login,
            secret(
                ("password", self.password),
                ("password_file", self.password_file),
            )?,
        ) {
            (Some(login), Some(password)) => Some(Machine { login, password }),
            (None, None) => None,
            (Some(_), None) => return Err(invalid("password", "missing: login needs a password")),
            (None, Some(_)) => return Err(invalid("login", "missing: a password needs a login")),
        };
        let frequency = |key: &str, text: Option<String>, default| match text {
            Some(text) => {
                go_duration::parse(&text).map_err(|error| invalid(key, error.to_string()))
            }
            None => Ok(default),
        };
        let alert_queue = self.alert_queue.unwrap_or(DEFAULT_ALERT_QUEUE);
        if alert_queue == 0 {
            return Err(invalid("alert_queue", "must be at least 1"));
        }
        crowdsec.lapi = Some(Lapi {
            base_url: base_url(&api_url).map_err(|problem| invalid("api_url", problem))?,
            api_key,
            update_frequency: frequency(
                "update_frequency",
                self.update_frequency,
                DEFAULT_UPDATE_FREQUENCY,
            )?,
            resync_frequency: frequency(
                "resync_frequency",
                self.resync_frequency,
                DEFAULT_RESYNC_FREQUENCY,
            )?,
            machine,
            alert_queue,
        });
        Ok(crowdsec)
    }
}

/// A credential given inline or in a file (its first line), not both.
fn secret(
    (inline_key, inline): (&str, Option<Secret>),
    (file_key, file): (&str, Option<PathBuf>),
) -> Result<Option<Secret>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(invalid(
            file_key,
            format!("give {inline_key} or {file_key}, not both"),
        )),
        (Some(secret), None) if secret.expose().is_empty() => Err(invalid(inline_key, "is empty")),
        (Some(secret), None) => Ok(Some(secret)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|error| {
                invalid(file_key, format!("cannot read {}: {error}", path.display()))
            })?;
            let first = text.lines().next().unwrap_or("").trim();
            if first.is_empty() {
                return Err(invalid(file_key, format!("{} is empty", path.display())));
            }
            Ok(Some(Secret::new(first)))
        }
        (None, None) => Ok(None),
    }
}

/// `http://host:port/` and an optional path prefix, checked; without the trailing slash.
fn base_url(text: &str) -> Result<String, String> {
    let uri: http::Uri = text
        .parse()
        .map_err(|_| format!("{text:?} is not a URL such as http://127.0.0.1:8080/"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(format!(
                "{text:?}: https is not supported; reach the LAPI over http on loopback or a \
                 private network, or through a local TLS proxy"
            ));
        }
        _ => return Err(format!("{text:?} is not an http:// URL")),
    }
    if uri.authority().is_none() || uri.query().is_some() {
        return Err(format!(
            "{text:?} is not a URL such as http://127.0.0.1:8080/"
        ));
    }
    Ok(text.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> Result<CrowdSec, ConfigError> {
        toml::from_str::<CrowdSecFile>(text).unwrap().validate()
    }

    #[test]
    fn a_full_section_is_read() {
        let crowdsec = section(
            r#"
            api_url = "http://127.0.0.1:8080/"
            api_key = "k3y"
            update_frequency = "1s"
            resync_frequency = "2m"
            login = "host-a"
            password = "pw"
            address_capacity = 1000
            range_capacity = 100
            alert_queue = 10
            "#,
        )
        .unwrap();
        assert_eq!(
            (crowdsec.address_capacity, crowdsec.range_capacity),
            (1000, 100)
        );
        let lapi = crowdsec.lapi.unwrap();
        assert_eq!(lapi.base_url, "http://127.0.0.1:8080");
        assert_eq!(lapi.api_key.expose(), "k3y");
        assert_eq!(lapi.update_frequency, Duration::from_secs(1));
        assert_eq!(lapi.resync_frequency, Duration::from_secs(120));
        assert_eq!(lapi.machine.as_ref().unwrap().login, "host-a");
        assert_eq!(lapi.alert_queue, 10);
        assert!(!format!("{lapi:?}").contains("k3y"));
    }

    #[test]
    fn keys_come_from_files() {
        let dir = std::env::temp_dir().join(format!("scanguard-cs-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key");
        std::fs::write(&key, "filekey\n").unwrap();
        let crowdsec = section(&format!(
            "api_url = \"http://[::1]:8080\"\napi_key_file = \"{}\"",
            key.display()
        ))
        .unwrap();
        assert_eq!(crowdsec.lapi.unwrap().api_key.expose(), "filekey");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mistakes_name_their_key() {
        let cases = [
            ("api_key = \"k\"", "crowdsec.api_key"),
            ("api_url = \"http://127.0.0.1:8080/\"", "crowdsec.api_key"),
            (
                "api_url = \"https://lapi:8080/\"\napi_key = \"k\"",
                "crowdsec.api_url",
            ),
            (
                "api_url = \"127.0.0.1:8080\"\napi_key = \"k\"",
                "crowdsec.api_url",
            ),
            (
                "api_url = \"http://a:1\"\napi_key = \"k\"\nupdate_frequency = \"1d\"",
                "crowdsec.update_frequency",
            ),
            (
                "api_url = \"http://a:1\"\napi_key = \"k\"\nlogin = \"m\"",
                "crowdsec.password",
            ),
            (
                "api_url = \"http://a:1\"\napi_key = \"k\"\napi_key_file = \"/nonexistent\"",
                "crowdsec.api_key_file",
            ),
            (
                "api_url = \"http://a:1\"\napi_key_file = \"/nonexistent/key\"",
                "crowdsec.api_key_file",
            ),
            ("address_capacity = 0", "crowdsec.address_capacity"),
            (
                "api_url = \"http://a:1\"\napi_key = \"k\"\nalert_queue = 0",
                "crowdsec.alert_queue",
            ),
        ];
        for (text, key) in cases {
            let error = section(text).unwrap_err();
            assert_eq!(error.key, key, "{text}: {error}");
        }
        assert!(section("").unwrap().lapi.is_none());
    }
}

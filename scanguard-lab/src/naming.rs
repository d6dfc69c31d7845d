//! Names of lab namespaces and interfaces.
//!
//! Namespaces: `sgl-<pid>-<counter>-<salt>-<role>`. The pid lets
//! [`crate::remove_leftovers`] tell a killed run's namespaces from a live
//! one's, the counter keeps labs of one process apart, and the salt keeps a
//! reused pid from colliding with a leftover of the same pid.
//! Interfaces: `<role><index>` in the namespace of that role, and Docker-shaped
//! `br-<12 hex>` for bridges; all fit IFNAMSIZ (15 characters plus NUL).

use std::{
    fmt,
    hash::{DefaultHasher, Hash, Hasher},
    sync::atomic::{AtomicU32, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use crate::{LabError, Result};

/// Every lab namespace starts with this, so leftovers can be found.
pub const NAMESPACE_PREFIX: &str = "sgl-";

/// Longest role: leaves 5 digits for the interface index within 15 characters.
const MAX_ROLE_LEN: usize = 10;

/// Identifies one lab among all labs of all processes on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct LabId {
    pid: u32,
    counter: u32,
    salt: u16,
}

impl LabId {
    pub(crate) fn next() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        Self {
            pid: std::process::id(),
            counter: COUNTER.fetch_add(1, Ordering::Relaxed),
            salt: (nanos >> 8) as u16,
        }
    }

    pub(crate) fn namespace_name(self, role: &str) -> String {
        format!("{NAMESPACE_PREFIX}{self}-{role}")
    }

    pub(crate) fn bridge_name(self, bridge_index: u16) -> String {
        let mut hasher = DefaultHasher::new();
        (self, bridge_index).hash(&mut hasher);
        format!("br-{:012x}", hasher.finish() & 0xffff_ffff_ffff)
    }
}

impl fmt::Display for LabId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:04x}", self.pid, self.counter, self.salt)
    }
}

/// Roles become part of namespace and interface names, so they are short and plain.
pub(crate) fn validate_role(role: &str) -> Result<()> {
    let plain = role
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit());
    if plain && (1..=MAX_ROLE_LEN).contains(&role.len()) {
        Ok(())
    } else {
        Err(LabError::InvalidRole(role.to_owned()))
    }
}

/// The `index`-th interface in the namespace of `role`.
pub(crate) fn interface_name(role: &str, index: u16) -> String {
    format!("{role}{index}")
}

/// The pid that created a lab namespace, or `None` if the name is not of a lab
/// namespace or does not follow the current scheme.
pub(crate) fn creator_pid(namespace: &str) -> Option<u32> {
    namespace
        .strip_prefix(NAMESPACE_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IFNAMSIZ_WITHOUT_NUL: usize = 15;

    #[test]
    fn namespace_names_carry_prefix_and_creator_pid() {
        let id = LabId::next();
        let name = id.namespace_name("victim");
        assert!(name.starts_with(NAMESPACE_PREFIX), "{name}");
        assert!(name.ends_with("-victim"), "{name}");
        assert_eq!(creator_pid(&name), Some(std::process::id()));
    }

    #[test]
    fn ids_differ_within_one_process() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| LabId::next()).collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn interface_names_fit_ifnamsiz() {
        let longest_role = "a".repeat(MAX_ROLE_LEN);
        assert!(interface_name(&longest_role, u16::MAX).len() <= IFNAMSIZ_WITHOUT_NUL);
        let bridge = LabId::next().bridge_name(u16::MAX);
        assert_eq!(bridge.len(), IFNAMSIZ_WITHOUT_NUL, "{bridge}");
        assert!(bridge.starts_with("br-"), "{bridge}");
    }

    #[test]
    fn bridge_names_differ_per_lab_and_index() {
        let (a, b) = (LabId::next(), LabId::next());
        assert_ne!(a.bridge_name(0), b.bridge_name(0));
        assert_ne!(a.bridge_name(0), a.bridge_name(1));
    }

    #[test]
    fn roles_must_be_short_and_plain() {
        for good in ["victim", "attacker", "switch", "a", "host10"] {
            validate_role(good).expect(good);
        }
        for bad in ["", "Victim", "vic-tim", "x/y", "eleven_char", "abcdefghijk"] {
            assert!(validate_role(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn creator_pid_ignores_foreign_names() {
        assert_eq!(creator_pid("sgl-123-0-00ff-victim"), Some(123));
        assert_eq!(creator_pid("sgl-demo"), None);
        assert_eq!(creator_pid("docker-123"), None);
    }
}

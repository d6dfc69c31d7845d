//! Route lookups through loopback. `bpf_ipv4_fib_lookup` and `bpf_ipv6_fib_lookup`
//! (net/core/filter.c) answer BPF_FIB_LKUP_RET_FWD_DISABLED for a device without forwarding
//! enabled, which on a host that routes nothing is every device. The program looks up from
//! loopback (`LOOKUP_IFINDEX`), so forwarding is enabled there, and only there:
//!
//! - IPv4: `ip_route_input_slow` (net/ipv4/route.c) forwards a packet only if forwarding is on
//!   for the device it came in on, and nothing comes in on loopback but what this host sent to
//!   itself, which is local (RTN_LOCAL) and never forwarded.
//! - IPv6: `ip6_forward` (net/ipv6/ip6_output.c) follows `all/forwarding`, not the device's
//!   setting, which only switches loopback between host and router behaviour in neighbour
//!   discovery, which loopback does not take part in.
//!
//! Both settings are put back when the daemon exits, unless the program stays (`--persist`).

use std::{
    path::PathBuf,
    sync::{Mutex, PoisonError},
};

use log::{debug, warn};

/// The loopback settings, per family, as the daemon found them before it changed any.
static FOUND: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

const SETTINGS: [&str; 2] = [
    "/proc/sys/net/ipv4/conf/lo/forwarding",
    "/proc/sys/net/ipv6/conf/lo/forwarding",
];

/// Enables forwarding on loopback, so the program can look routes up; false (with a warning)
/// if the IPv4 setting cannot be enabled. A host without IPv6 has no IPv6 setting, and no IPv6
/// sources to verify.
pub fn enable() -> bool {
    let mut found = FOUND.lock().unwrap_or_else(PoisonError::into_inner);
    let mut ready = true;
    for (family, setting) in SETTINGS.into_iter().enumerate() {
        let path = PathBuf::from(setting);
        let Ok(value) = std::fs::read_to_string(&path) else {
            if family == 0 {
                warn!("source verification needs {setting}, which this kernel does not have");
                ready = false;
            }
            continue;
        };
        if value.trim() == "1" {
            continue;
        }
        match std::fs::write(&path, "1") {
            Ok(()) if found.iter().any(|(known, _)| *known == path) => {
                warn!("source verification: {setting} was turned off again; enabled it");
            }
            Ok(()) => {
                debug!("source verification: enabled {setting}, for route lookups only");
                found.push((path, value.trim().to_string()));
            }
            Err(error) => {
                warn!(
                    "source verification: cannot enable {setting} ({error}); until it is, \
                     probes find their sources unverified and ban nobody"
                );
                ready &= family != 0;
            }
        }
    }
    ready
}

/// Whether the IPv4 setting is still enabled: another tool (or `sysctl -w
/// net.ipv4.ip_forward=0`, which sets every device) may have turned it off.
pub fn enabled() -> bool {
    std::fs::read_to_string(SETTINGS[0]).is_ok_and(|value| value.trim() == "1")
}

/// Puts back the settings `enable` changed.
pub fn restore() {
    let mut found = FOUND.lock().unwrap_or_else(PoisonError::into_inner);
    for (path, value) in found.drain(..) {
        match std::fs::write(&path, &value) {
            Ok(()) => debug!("source verification: {} is {value} again", path.display()),
            Err(error) => warn!("cannot put {} back to {value}: {error}", path.display()),
        }
    }
}

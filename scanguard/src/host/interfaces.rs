//! Finding interfaces: by name, by default route, and the driver behind one.

use std::collections::BTreeSet;

use anyhow::{Result, anyhow};

use crate::host::default_routes;

pub fn ifindex(name: &str) -> Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(|_| {
        anyhow!(
            "unknown interface {name:?} (interfaces here: {})",
            names().join(", ")
        )
    })
}

pub fn names() -> Vec<String> {
    nix::net::if_::if_nameindex()
        .map(|list| {
            list.iter()
                .map(|interface| interface.name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The interface of the IPv4 default route, else the IPv6 one.
pub fn default_route_interface() -> Result<String> {
    let route = default_routes::read().next().ok_or_else(|| {
        anyhow!(
            "no default route here: name the interfaces to protect, e.g. `scanguard attach eth0`"
        )
    })?;
    Ok(route.interface)
}

/// Every interface that carries an IPv4 or IPv6 default route.
pub fn default_route_interfaces() -> BTreeSet<String> {
    default_routes::read()
        .map(|route| route.interface)
        .collect()
}

/// The kernel driver behind an interface, for messages about native XDP support.
pub fn driver(name: &str) -> String {
    std::fs::read_link(format!("/sys/class/net/{name}/device/driver"))
        .ok()
        .and_then(|path| Some(path.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "virtual device".to_string())
}

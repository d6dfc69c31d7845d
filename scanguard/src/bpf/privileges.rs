//! Loading XDP programs needs CAP_BPF and CAP_NET_ADMIN (root has both).

use anyhow::{Result, bail};
use caps::{CapSet, Capability};

pub fn require() -> Result<()> {
    let missing: Vec<&str> = [
        (Capability::CAP_BPF, "CAP_BPF"),
        (Capability::CAP_NET_ADMIN, "CAP_NET_ADMIN"),
    ]
    .into_iter()
    .filter(|(capability, _)| !caps::has_cap(None, CapSet::Effective, *capability).unwrap_or(false))
    .map(|(_, name)| name)
    .collect();
    if !missing.is_empty() {
        bail!(
            "scanguard needs root (missing {}): run it as root or grant CAP_BPF and CAP_NET_ADMIN",
            missing.join(" and ")
        );
    }
    Ok(())
}

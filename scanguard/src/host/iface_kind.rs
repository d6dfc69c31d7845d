//! What kind of interface a link is: rtnetlink's IFLA_INFO_KIND for virtual devices, sysfs
//! for the rest (a physical NIC has a `device`, a wireless one also `wireless` or
//! `phy80211`).

use std::path::Path;

use serde::Serialize;

use crate::host::links::Link;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IfaceKind {
    Physical,
    Wireless,
    Bridge,
    Veth,
    Loopback,
    Tun,
    Vlan,
    Bond,
    Other,
}

impl IfaceKind {
    pub const fn name(self) -> &'static str {
        match self {
            IfaceKind::Physical => "physical",
            IfaceKind::Wireless => "wireless",
            IfaceKind::Bridge => "bridge",
            IfaceKind::Veth => "veth",
            IfaceKind::Loopback => "loopback",
            IfaceKind::Tun => "tun",
            IfaceKind::Vlan => "vlan",
            IfaceKind::Bond => "bond",
            IfaceKind::Other => "other",
        }
    }
}

/// What sysfs says about an interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SysfsFacts {
    /// `/sys/class/net/<name>/device` exists: a bus device (PCI, USB, ...) backs it.
    pub device: bool,
    /// `wireless` or `phy80211` exists: a cfg80211 (Wi-Fi) device.
    pub wireless: bool,
}

#[cfg(test)]
impl SysfsFacts {
    pub const PHYSICAL: SysfsFacts = SysfsFacts {
        device: true,
        wireless: false,
    };
    pub const WIRELESS: SysfsFacts = SysfsFacts {
        device: true,
        wireless: true,
    };
}

/// sysfs shows the interfaces of the network namespace it was mounted in, which need not
/// be the caller's (`nsenter --net` keeps the mount namespace). So the entry only counts if
/// its `ifindex` file names the same interface.
pub fn sysfs_facts(link: &Link) -> SysfsFacts {
    sysfs_facts_under(Path::new("/sys/class/net"), link)
}

fn sysfs_facts_under(class_net: &Path, link: &Link) -> SysfsFacts {
    let dir = class_net.join(&link.name);
    let same_interface = std::fs::read_to_string(dir.join("ifindex"))
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        == Some(link.ifindex);
    if !same_interface {
        return SysfsFacts::default();
    }
    SysfsFacts {
        device: dir.join("device").exists(),
        wireless: dir.join("wireless").exists() || dir.join("phy80211").exists(),
    }
}

pub fn classify(link: &Link, sysfs: SysfsFacts) -> IfaceKind {
    if link.loopback {
        return IfaceKind::Loopback;
    }
    match link.kind.as_deref() {
        Some("bridge") => IfaceKind::Bridge,
        Some("veth") => IfaceKind::Veth,
        // tun and tap devices both report "tun".
        Some("tun") => IfaceKind::Tun,
        Some("vlan") => IfaceKind::Vlan,
        Some("bond") => IfaceKind::Bond,
        Some(_) => IfaceKind::Other,
        None if sysfs.wireless => IfaceKind::Wireless,
        None if sysfs.device => IfaceKind::Physical,
        None => IfaceKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(kind: Option<&str>) -> Link {
        Link::named(4, "x", kind)
    }

    #[test]
    fn virtual_kinds_come_from_netlink() {
        for (kind, expected) in [
            ("bridge", IfaceKind::Bridge),
            ("veth", IfaceKind::Veth),
            ("tun", IfaceKind::Tun),
            ("vlan", IfaceKind::Vlan),
            ("bond", IfaceKind::Bond),
            ("wireguard", IfaceKind::Other),
        ] {
            // A device sysfs entry does not override the netlink kind.
            let sysfs = SysfsFacts::PHYSICAL;
            assert_eq!(classify(&link(Some(kind)), sysfs), expected, "{kind}");
        }
    }

    #[test]
    fn devices_without_a_kind_come_from_sysfs() {
        let physical = SysfsFacts::PHYSICAL;
        assert_eq!(classify(&link(None), physical), IfaceKind::Physical);
        assert_eq!(
            classify(&link(None), SysfsFacts::WIRELESS),
            IfaceKind::Wireless
        );
        assert_eq!(
            classify(&link(None), SysfsFacts::default()),
            IfaceKind::Other
        );
        let lo = Link {
            loopback: true,
            ..link(None)
        };
        assert_eq!(classify(&lo, physical), IfaceKind::Loopback);
    }

    #[test]
    fn a_sysfs_entry_of_another_namespace_is_ignored() {
        let dir = std::env::temp_dir().join(format!("scanguard-sysfs-{}", std::process::id()));
        let entry = dir.join("wlan0");
        std::fs::create_dir_all(entry.join("device")).unwrap();
        std::fs::create_dir_all(entry.join("phy80211")).unwrap();
        std::fs::write(entry.join("ifindex"), "3\n").unwrap();
        let mut wlan = Link {
            ifindex: 3,
            name: "wlan0".into(),
            ..Link::default()
        };
        assert_eq!(sysfs_facts_under(&dir, &wlan), SysfsFacts::WIRELESS);
        wlan.ifindex = 9;
        assert_eq!(sysfs_facts_under(&dir, &wlan), SysfsFacts::default());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

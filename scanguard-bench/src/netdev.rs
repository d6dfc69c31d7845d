//! The receiving veth's knobs and counters, set and read from inside its lab namespace.
//!
//! veth only runs a NAPI poll (and so only takes frames from `ndo_xdp_xmit`, which is how the
//! live-frames generator sends) when GRO is on or an XDP program is attached
//! (drivers/net/veth.c, `veth_xdp_xmit`). GRO is turned on for every method alike; TCP SYNs
//! are never merged by GRO, so each frame stays a frame. Threaded NAPI moves the poll from the
//! sender's softirq into a kernel thread that can be pinned to the other CPU.

use std::{fs, os::fd::AsRawFd as _, process::Command};

use anyhow::{Context as _, Result, bail};
use scanguard_lab::{Netns, run_checked};

/// include/uapi/linux/ethtool.h and include/uapi/linux/sockios.h.
const ETHTOOL_SGRO: u32 = 0x0000_002c;
const SIOCETHTOOL: libc::c_ulong = 0x8946;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// `ethtool -K <interface> gro on`, without ethtool: the SIOCETHTOOL ioctl it uses.
pub fn enable_gro(netns: &Netns, interface: &str) -> Result<()> {
    let _inside = netns.enter()?;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").context("socket for SIOCETHTOOL")?;
    let mut value = EthtoolValue {
        cmd: ETHTOOL_SGRO,
        data: 1,
    };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = interface.as_bytes();
    if name.len() >= request.ifr_name.len() {
        bail!("interface name {interface} too long");
    }
    for (slot, byte) in request.ifr_name.iter_mut().zip(name) {
        *slot = *byte as libc::c_char;
    }
    request.ifr_ifru.ifru_data = (&raw mut value).cast();
    // SAFETY: the request names a NUL-terminated interface and points at a live ethtool_value.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), SIOCETHTOOL, &mut request) };
    if result != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("ETHTOOL_SGRO on {interface}"));
    }
    Ok(())
}

/// Runs the interface's NAPI poll in a kernel thread (`napi/<interface>-<id>`). sysfs only
/// shows a namespace's interfaces to a process that mounted it there, which `ip netns exec`
/// does in a private mount namespace.
pub fn enable_threaded_napi(netns: &Netns, interface: &str) -> Result<()> {
    let path = format!("/sys/class/net/{interface}/threaded");
    run_checked(
        Command::new("ip")
            .args(["netns", "exec", netns.name(), "sh", "-c"])
            .arg(format!("echo 1 > {path}")),
    )?;
    Ok(())
}

/// The thread ids of the interface's NAPI threads. Thread names are cut to 15 characters,
/// so the name matches on its `napi/<interface>-` prefix.
pub fn napi_threads(interface: &str) -> Result<Vec<i32>> {
    let prefix = format!("napi/{interface}-");
    let prefix = &prefix[..prefix.len().min(15)];
    let mut threads = Vec::new();
    for entry in fs::read_dir("/proc").context("read /proc")? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with(prefix) {
            threads.push(pid);
        }
    }
    Ok(threads)
}

/// The interface's counters as `ip -s link` reports them (rtnl_link_stats64).
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkStats {
    /// veth counts every frame its NAPI poll consumed here, whatever became of it.
    pub rx_packets: u64,
    /// Includes the frames the sender could not queue because the ring was full.
    pub rx_dropped: u64,
}

pub fn link_stats(netns: &Netns, interface: &str) -> Result<LinkStats> {
    let json = netns.links_json(Some(interface))?;
    let rx = &json[0]["stats64"]["rx"];
    let field = |name: &str| {
        rx[name]
            .as_u64()
            .with_context(|| format!("no rx {name} for {interface}"))
    };
    Ok(LinkStats {
        rx_packets: field("packets")?,
        rx_dropped: field("dropped")?,
    })
}

pub fn ifindex(netns: &Netns, interface: &str) -> Result<u32> {
    let index = netns.links_json(Some(interface))?[0]["ifindex"]
        .as_u64()
        .with_context(|| format!("no ifindex for {interface}"))?;
    Ok(u32::try_from(index)?)
}

//! What the end-to-end tests share beyond scanguard-lab.

#![allow(
    dead_code,
    reason = "each test crate uses a different part of this module"
)]

use std::{path::PathBuf, process::Command};

use scanguard::{
    bpf::object::INGRESS_PROGRAM_NAME,
    host::{
        interfaces, tcx,
        xdp::{self, XdpAttachment},
    },
};
use scanguard_lab::{Host, Netns, ScanLab, run_checked, traffic::serve};

pub const SCANGUARD: &str = env!("CARGO_BIN_EXE_scanguard");
/// The TCP port the victim serves in the end-to-end tests.
pub const SERVICE: u16 = 80;

pub fn require_root() {
    assert!(
        scanguard_lab::is_root(),
        "kernel tests need root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN): run `cargo xtask test` as root"
    );
}

/// A fresh lab whose victim serves `SERVICE`: where most end-to-end tests start.
pub fn served_lab() -> ScanLab {
    require_root();
    let lab = ScanLab::build().expect("lab");
    serve(&lab.victim, SERVICE);
    lab
}

/// Adds a second interface to `host` (one end of a veth pair, both ends up), removed with its
/// namespace: its name.
pub fn add_spare_interface(host: &Host) -> &'static str {
    const SPARE: &str = "spare0";
    for args in [
        &[
            "link", "add", SPARE, "type", "veth", "peer", "name", "spare1",
        ][..],
        &["link", "set", SPARE, "up"],
        &["link", "set", "spare1", "up"],
    ] {
        run_checked(host.command("ip").args(args)).expect("a spare veth pair");
    }
    SPARE
}

/// The XDP program on `host`'s interface, as netlink reports it in its namespace.
pub fn xdp_attachment(host: &Host) -> Option<XdpAttachment> {
    xdp_attachment_on(host, &host.interface)
}

/// The XDP attachment of another interface in `host`'s namespace.
pub fn xdp_attachment_on(host: &Host, interface: &str) -> Option<XdpAttachment> {
    let _guard = host.enter().expect("enter the host's namespace");
    let ifindex = interfaces::ifindex(interface).expect("the interface");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(xdp::xdp_attachment(ifindex))
        .expect("netlink query")
}

/// The id of the scanguard program checking `host`'s interface, at XDP or at TC ingress.
pub fn checks_program(host: &Host) -> Option<u32> {
    checks_program_in(&host.netns, &host.interface)
}

/// The id of the scanguard program checking `interface` in `netns`: an XDP program, or
/// scanguard's among the programs at TC ingress.
pub fn checks_program_in(netns: &Netns, interface: &str) -> Option<u32> {
    let _guard = netns.enter().expect("enter the namespace");
    let ifindex = interfaces::ifindex(interface).ok()?;
    let on_xdp = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(xdp::xdp_attachment(ifindex))
        .expect("netlink query");
    if let Some(attached) = on_xdp {
        return Some(attached.program_id);
    }
    let names = xdp::program_names();
    tcx::ingress_program_ids(interface)
        .into_iter()
        .find(|id| names.get(id).map(String::as_str) == Some(INGRESS_PROGRAM_NAME))
}

/// A configuration file in the temp directory for one test, removed on drop, even when the
/// test fails.
pub struct ConfigFile(PathBuf);

impl ConfigFile {
    pub fn new(name: &str, text: &str) -> ConfigFile {
        let path =
            std::env::temp_dir().join(format!("scanguard-{name}-{}.toml", std::process::id()));
        std::fs::write(&path, text).expect("write config");
        ConfigFile(path)
    }

    /// The path, as `--config` takes it.
    pub fn arg(&self) -> String {
        self.0.display().to_string()
    }

    /// Replaces the file's text, for a reload to read.
    pub fn rewrite(&self, text: &str) {
        std::fs::write(&self.0, text).expect("rewrite config");
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What `scanguard ifaces ARGS` prints, run as `scanguard` is set up (in a namespace, or
/// with an engine's `DOCKER_HOST`); it must succeed.
pub fn ifaces_output(mut scanguard: Command, args: &[&str]) -> String {
    let output = scanguard
        .arg("ifaces")
        .args(args)
        .output()
        .expect("run scanguard ifaces");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `scanguard ifaces --json`, run as `scanguard` is set up.
pub fn ifaces_json(scanguard: Command) -> serde_json::Value {
    serde_json::from_str(&ifaces_output(scanguard, &["--json"])).expect("JSON")
}

/// The entry of `ifaces --json` for the interface `name`.
pub fn find_iface<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["interfaces"]
        .as_array()
        .expect("interfaces")
        .iter()
        .find(|iface| iface["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing from {report}"))
}

//! Source verification in test runs. The program asks the kernel's FIB for the route back to a
//! probe's source (see docs/spoofing.md), and in a test run the kernel answers for the ingress
//! interface the run names (`ctx_in`, struct xdp_md) in the caller's namespace. So the cases run
//! in a namespace of their own whose default routes lead every source of the bench through a
//! gateway on a LAN veth, the gateway's neighbour entry holding the MAC the crafted frames
//! carry: on that veth every source is verified (a route lookup and a neighbour lookup in the
//! kernel, as for a remote scanner behind the router), on a second interface every one is
//! forged.

use anyhow::{Context as _, Result};
use aya::programs::{TestRun as _, TestRunOptions, Xdp};
use scanguard::{
    bpf::program::{self, HostFacts},
    cli::LogLevel,
    config::settings::Settings,
    daemon::source_check::lookups,
    host::interfaces,
};
use scanguard_lab::{Lab, Netns, NetnsGuard, frames::SOURCE_MAC, run_checked};

use super::Instance;
use crate::test_run::{self, Timing};

/// The lab namespace and the ifindexes of its two interfaces.
pub struct RouteBack {
    netns: Netns,
    /// The LAN veth, where the gateway is.
    pub lan: u32,
    /// A second interface, which the route back never names.
    pub side: u32,
    /// Deletes the namespaces on drop.
    _lab: Lab,
}

impl RouteBack {
    pub fn build() -> Result<RouteBack> {
        let mut lab = Lab::new()?;
        let netns = lab.add_netns("verify")?;
        let peer = lab.add_netns("peer")?;
        let (lan, _) = lab.add_veth_pair(&netns, &peer)?;
        let other = lab.add_netns("other")?;
        let (side, _) = lab.add_veth_pair(&netns, &other)?;
        let mac = SOURCE_MAC.map(|byte| format!("{byte:02x}")).join(":");
        let ip = |args: &[&str]| run_checked(netns.ip().args(args)).map(drop);
        for (gateway, family) in [("10.77.0.254", "-4"), ("fd77::fe", "-6")] {
            ip(&[
                family,
                "neigh",
                "replace",
                gateway,
                "lladdr",
                &mac,
                "dev",
                &lan.interface,
                "nud",
                "permanent",
            ])?;
        }
        ip(&["-4", "route", "add", "default", "via", "10.77.0.254"])?;
        ip(&["-6", "route", "add", "default", "via", "fd77::fe"])?;
        let inside = netns.enter()?;
        let ready = lookups::enable();
        let ifindexes = (
            interfaces::ifindex(&lan.interface)?,
            interfaces::ifindex(&side.interface)?,
        );
        drop(inside);
        anyhow::ensure!(
            ready,
            "cannot enable forwarding on the bench namespace's loopback"
        );
        Ok(RouteBack {
            netns,
            lan: ifindexes.0,
            side: ifindexes.1,
            _lab: lab,
        })
    }

    /// Test runs naming an ingress interface must run in here.
    pub fn enter(&self) -> Result<NetnsGuard> {
        Ok(self.netns.enter()?)
    }
}

/// Loads scanguard as the daemon does once loopback takes its route lookups.
pub fn load_verifying(settings: &Settings, event_pages: usize) -> Result<Instance> {
    let host = HostFacts {
        source_lookups: true,
        ..HostFacts::default()
    };
    let mut ebpf = program::load_on_host(settings, &host, None, LogLevel::Warn.kernel())?;
    let buffers = test_run::open_event_buffers(&mut ebpf, event_pages)?;
    Ok(Instance {
        ebpf,
        _buffers: buffers,
    })
}

/// [`test_run::time`] with the frame coming in on `ingress` (in the caller's namespace).
pub fn time_on(xdp: &Xdp, frame: &[u8], repeat: u32, ingress: u32) -> Result<Timing> {
    // struct xdp_md (include/uapi/linux/bpf.h): data, data_end, data_meta, ingress_ifindex,
    // rx_queue_index, egress_ifindex; `bpf_prog_test_run_xdp` wants data_end = the frame's
    // length and nothing before data.
    let mut xdp_md = [0u8; 24];
    xdp_md[4..8].copy_from_slice(&u32::try_from(frame.len())?.to_ne_bytes());
    xdp_md[12..16].copy_from_slice(&ingress.to_ne_bytes());
    let start = std::time::Instant::now();
    let result = xdp
        .test_run(TestRunOptions {
            data_in: Some(frame),
            ctx_in: Some(&xdp_md),
            repeat,
            ..Default::default()
        })
        .context("BPF_PROG_TEST_RUN with an ingress interface")?;
    let wall = start.elapsed();
    Ok(Timing {
        verdict: result.return_value,
        kernel_ns: result.duration.as_nanos() as f64,
        wall_ns: wall.as_nanos() as f64 / f64::from(repeat.max(1)),
    })
}

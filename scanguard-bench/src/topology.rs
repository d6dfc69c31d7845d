//! The flood link: a sender and a receiver namespace joined by one veth pair, nothing else.
//! All traffic stays on it; dropping the link deletes both namespaces, and with them the veth,
//! every XDP program attached to it and every netfilter rule inside.

use std::net::IpAddr;

use anyhow::{Context as _, Result, bail};
use aya::{Ebpf, programs::XdpMode};
use scanguard_lab::{Host, Lab, frames::FrameBuilder, run_checked};

use crate::{
    cpu, netdev,
    object::{self, FLOOR_PASS},
};

/// The generator runs here...
pub const SENDER_CPU: usize = 0;
/// ...and the receiver's NAPI thread here.
pub const RECEIVER_CPU: usize = 1;

pub struct FloodLink {
    pub tx: Host,
    pub rx: Host,
    pub tx_ifindex: u32,
    /// One end of a veth pair in the sender's namespace that is never brought up: the
    /// generator is attached there only to stay in the XDP dispatcher (see `generator`).
    pub parking: String,
    /// A veth pair in the sender's namespace for the relay generator (see `generator`): a
    /// packet socket writes to the first end, the relay on the second sends the frames on.
    pub feed: [String; 2],
    /// Their interface indexes, in the same order.
    pub feed_ifindex: [u32; 2],
    /// An XDP_PASS program on the sender's veth: live frames are sent "from" its receive
    /// queue, which must be registered for XDP (net/bpf/test_run.c, `xdp_convert_md_to_buff`).
    _sender_xdp: Ebpf,
    /// Declared last, so it drops last: deleting the namespaces removes everything else.
    _lab: Lab,
}

impl FloodLink {
    pub fn build() -> Result<FloodLink> {
        if cpu::online() < 2 {
            bail!("the flood needs two CPUs: one sends, the other receives");
        }
        let mut lab = Lab::new().context("cannot build the lab (run as root)")?;
        let sender = lab.add_netns("benchtx")?;
        let receiver = lab.add_netns("benchrx")?;
        let (tx, rx) = lab.add_veth_pair(&sender, &receiver)?;
        netdev::enable_gro(&rx.netns, &rx.interface)?;
        netdev::enable_threaded_napi(&rx.netns, &rx.interface)?;
        let tx_ifindex = netdev::ifindex(&tx.netns, &tx.interface)?;
        let parking = "park0".to_string();
        add_veth_pair(&tx, [&parking, "park1"])?;
        let feed = ["feed0".to_string(), "feed1".to_string()];
        add_veth_pair(&tx, [&feed[0], &feed[1]])?;
        for end in &feed {
            run_checked(tx.netns.ip().args(["link", "set", end, "up"]))?;
        }
        let feed_ifindex = [
            netdev::ifindex(&tx.netns, &feed[0])?,
            netdev::ifindex(&tx.netns, &feed[1])?,
        ];
        let mut sender_xdp = object::load(&[FLOOR_PASS])?;
        {
            let _inside = tx.enter()?;
            object::program(&mut sender_xdp, FLOOR_PASS)?
                .attach(&tx.interface, XdpMode::Driver)
                .context("attach XDP_PASS to the sender's veth")?;
        }
        Ok(FloodLink {
            tx,
            rx,
            tx_ifindex,
            parking,
            feed,
            feed_ifindex,
            _sender_xdp: sender_xdp,
            _lab: lab,
        })
    }

    /// A TCP SYN from `src` to the receiver's port 80, addressed to the receiver's MAC, so it
    /// would reach the receiver's TCP stack if nothing dropped it.
    pub fn syn_from(&self, src: IpAddr) -> Vec<u8> {
        self.frame_from(src, scanguard_common::classify::SYN)
    }

    /// A TCP segment with `flags` from `src` to the receiver's port 80.
    pub fn frame_from(&self, src: IpAddr, flags: u8) -> Vec<u8> {
        let dst: IpAddr = match src {
            IpAddr::V4(_) => self.rx.ipv4.into(),
            IpAddr::V6(_) => self.rx.ipv6.into(),
        };
        let mut frame = FrameBuilder::new(src, dst).tcp(40_000, 80, flags).build();
        frame[0..6].copy_from_slice(&self.rx.mac);
        frame[6..12].copy_from_slice(&self.tx.mac);
        frame
    }

    /// Pins the receiver's NAPI thread(s) to [`RECEIVER_CPU`] and favours them over other
    /// work; the thread can come and go with the interface's NAPI state, so this runs before
    /// each measurement.
    pub fn pin_receiver(&self) -> Result<()> {
        let threads = netdev::napi_threads(&self.rx.interface)?;
        if threads.is_empty() {
            bail!("no NAPI thread for {}", self.rx.interface);
        }
        for thread in threads {
            cpu::pin(Some(thread), RECEIVER_CPU)?;
            cpu::nice(Some(thread), cpu::FAVOURED_NICE)?;
        }
        Ok(())
    }

    /// CPU time the receiver's NAPI threads have used so far, in nanoseconds: with threaded
    /// NAPI, every frame's processing (XDP, or the skb path through netfilter) runs there.
    pub fn receiver_cpu_ns(&self) -> Result<u64> {
        netdev::napi_threads(&self.rx.interface)?
            .into_iter()
            .map(cpu::cpu_time_ns)
            .sum()
    }

    pub fn rx_stats(&self) -> Result<netdev::LinkStats> {
        netdev::link_stats(&self.rx.netns, &self.rx.interface)
    }
}

/// A veth pair with both ends in `host`'s namespace, left down.
fn add_veth_pair(host: &Host, [end, peer]: [&str; 2]) -> Result<()> {
    run_checked(
        host.netns
            .ip()
            .args(["link", "add", end, "type", "veth", "peer", "name", peer]),
    )?;
    Ok(())
}

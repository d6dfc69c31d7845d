//! Whether this host's addresses or default routes may have changed, from the kernel's
//! notifications (what `ip monitor link address route` shows), so the daemon reads them again
//! only then. Reading the route tables at every check cost an idle daemon 27–29% of a CPU on
//! a host holding a full Internet table (a million routes), and receiving every route message
//! cost it 3.9 s of CPU and 56 MB of memory while 500,000 routes were added.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use anyhow::Result;
use rtnetlink::MulticastGroup;
use tokio::task::JoinHandle;

use crate::host::netlink_events::{Groups, Subscription};

/// Links, addresses and default routes: the other routes, and the link messages that change
/// no flag, are kept back in the kernel by `HOST_CHANGES_ONLY`. Links count because the kernel
/// removes the IPv4 routes of a link that goes down without a notification of their own
/// (`fib_flush`).
pub const HOST_EVENTS: Groups = Groups {
    multicast: &[
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv6Route,
    ],
    filter: Some(&HOST_CHANGES_ONLY),
};

/// Where the filter reads: `struct nlmsghdr` (length u32, then type u16 in host byte order),
/// then after its 16 bytes a route's `struct rtmsg` (family u8, then the destination's prefix
/// length u8) or a link's `struct ifinfomsg` (whose u32 at 12 holds the flags that changed).
/// Every rtnetlink type is below 256, so its low byte names it.
const NLMSG_TYPE_LOW_BYTE: u32 = if cfg!(target_endian = "little") { 4 } else { 5 };
const RTM_DST_LEN: u32 = 17;
const IFI_CHANGE: u32 = 28;

/// Passes every message but a route's to a destination other than the default (a prefix
/// length above 0), and a link's that changes none of its flags. The latter are the kernel's
/// other link events (features, MTU, carrier, name), which remove no address and no route:
/// attaching XDP to a veth sends two, and each cost a daemon beside a full routing table
/// another read of it.
const HOST_CHANGES_ONLY: [libc::sock_filter; 10] = {
    const fn op(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
        libc::sock_filter {
            code: code as u16,
            jt,
            jf,
            k,
        }
    }
    use libc::{BPF_ABS, BPF_B, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    [
        op(BPF_LD | BPF_B | BPF_ABS, NLMSG_TYPE_LOW_BYTE, 0, 0),
        // A new route: to the prefix check; else on.
        op(BPF_JMP | BPF_JEQ | BPF_K, libc::RTM_NEWROUTE as u32, 1, 0),
        // A route removed: to the prefix check; else to the link check.
        op(BPF_JMP | BPF_JEQ | BPF_K, libc::RTM_DELROUTE as u32, 0, 2),
        op(BPF_LD | BPF_B | BPF_ABS, RTM_DST_LEN, 0, 0),
        // The default route: pass; else drop.
        op(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 4),
        // A link's news: to its changed flags (a new link's are all set); else pass.
        op(BPF_JMP | BPF_JEQ | BPF_K, libc::RTM_NEWLINK as u32, 0, 2),
        op(BPF_LD | BPF_W | BPF_ABS, IFI_CHANGE, 0, 0),
        // No flag changed: drop; else pass.
        op(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
        op(BPF_RET | BPF_K, u32::MAX, 0, 0),
        op(BPF_RET | BPF_K, 0, 0, 0),
    ]
};

pub struct NetworkChanges {
    changed: Arc<AtomicBool>,
    reader: JoinHandle<()>,
}

impl NetworkChanges {
    /// Subscribes; call it before reading the host, so no change falls in between.
    pub fn subscribe() -> Result<NetworkChanges> {
        let mut subscription = Subscription::open(HOST_EVENTS)?;
        let changed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&changed);
        let reader = tokio::spawn(async move {
            // Any message, an overrun (messages lost to a full socket buffer) or None (the
            // socket failed, and was opened again) may mean a change.
            loop {
                subscription.next().await;
                flag.store(true, Ordering::Release);
            }
        });
        Ok(NetworkChanges { changed, reader })
    }

    /// Whether something changed since the last call.
    pub fn take(&self) -> bool {
        self.changed.swap(false, Ordering::Acquire)
    }
}

impl Drop for NetworkChanges {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

//! A lab host: a namespace seen through one interface and its addresses, the unit tests send
//! traffic from and to.

use std::{
    ffi::OsStr,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    process::Command,
};

use crate::{Netns, NetnsGuard, Result};

/// A lab namespace seen through one of its interfaces and that interface's
/// addresses (IPv4 /24, IPv6 /64, no DAD, so usable at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub netns: Netns,
    pub interface: String,
    pub ipv4: Ipv4Addr,
    pub ipv6: Ipv6Addr,
    pub mac: [u8; 6],
}

impl Host {
    /// See [`Netns::command`].
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        self.netns.command(program)
    }

    /// See [`Netns::enter`].
    pub fn enter(&self) -> Result<NetnsGuard> {
        self.netns.enter()
    }

    /// See [`Netns::ping`].
    pub fn ping(&self, destination: IpAddr) -> Result<()> {
        self.netns.ping(destination)
    }
}

impl AsRef<Netns> for Host {
    fn as_ref(&self) -> &Netns {
        &self.netns
    }
}

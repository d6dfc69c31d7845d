//! Network namespaces: commands run inside one, and the current thread moved into one for as
//! long as a guard lives.

use std::{
    ffi::OsStr,
    fs::File,
    marker::PhantomData,
    net::IpAddr,
    path::{Path, PathBuf},
    process::Command,
};

use nix::sched::{CloneFlags, setns};

use crate::{LabError, Result, run_checked};

/// Where `ip netns` keeps its namespaces, one bind-mounted file each.
pub(crate) const NETNS_RUN_DIR: &str = "/run/netns";

/// A network namespace created by a lab; it lives as long as the lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netns {
    name: String,
    role: String,
    path: PathBuf,
}

impl Netns {
    pub(crate) fn new(name: String, role: &str) -> Self {
        let path = Path::new(NETNS_RUN_DIR).join(&name);
        Self {
            name,
            role: role.to_owned(),
            path,
        }
    }

    /// The network namespace of a running process, such as a Docker container's
    /// (`/proc/<pid>/ns/net`). It lives as long as that process; nothing deletes it.
    pub fn of_process(pid: u32, role: &str) -> Self {
        Self {
            name: format!("pid-{pid}"),
            role: role.to_owned(),
            path: PathBuf::from(format!("/proc/{pid}/ns/net")),
        }
    }

    /// The name `ip netns` knows it by, e.g. `sgl-4242-0-1a2b-victim`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The role it was created for, e.g. `victim`.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// `/run/netns/<name>`, for `nsenter --net=` or `setns`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A command that runs `program` inside this namespace, through
    /// `nsenter --net` rather than `ip netns exec`: the latter also gives the
    /// program a private mount namespace with a fresh /sys, which would hide
    /// bpffs pins from everyone else.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net={}", self.path.display()))
            .arg("--")
            .arg(program);
        command
    }

    /// Moves the current thread, and only it, into this namespace until the
    /// guard drops. Sockets opened and XDP programs attached meanwhile belong
    /// to this namespace and stay there.
    pub fn enter(&self) -> Result<NetnsGuard> {
        NetnsGuard::enter(&self.path)
    }

    /// One ICMP echo to `destination`, waiting at most a second for the reply.
    pub fn ping(&self, destination: IpAddr) -> Result<()> {
        run_checked(
            self.command("ping")
                .args(["-n", "-q", "-c", "1", "-W", "1"])
                .arg(destination.to_string()),
        )
        .map(drop)
    }

    /// `ip route add default via <gateway>`: this namespace's traffic leaves through `gateway`.
    pub fn add_default_route(&self, gateway: IpAddr) -> Result<()> {
        run_checked(
            self.ip()
                .args(["route", "add", "default", "via"])
                .arg(gateway.to_string()),
        )
        .map(drop)
    }

    /// `ip -s -j link show [dev <interface>]` in this namespace, parsed: an array with one
    /// object per link (`ifindex`, `link_index`, `ifname`, `stats64`, ...).
    pub fn links_json(&self, interface: Option<&str>) -> Result<serde_json::Value> {
        let mut command = self.ip();
        command.args(["-s", "-j", "link", "show"]);
        if let Some(interface) = interface {
            command.args(["dev", interface]);
        }
        let output = run_checked(&mut command)?;
        serde_json::from_slice(&output.stdout).map_err(|error| LabError::Io {
            what: format!("read `ip -j link` output in {}", self.name),
            source: std::io::Error::other(error),
        })
    }

    /// `ip -n <name>`: iproute2 acting inside this namespace, so whatever it
    /// creates is born here and never appears in the root namespace. A process's namespace
    /// has no name `ip -n` knows, so iproute2 runs in it through nsenter.
    pub fn ip(&self) -> Command {
        if !self.path.starts_with(NETNS_RUN_DIR) {
            return self.command("ip");
        }
        let mut command = Command::new("ip");
        command.args(["-n", &self.name]);
        command
    }
}

impl AsRef<Netns> for Netns {
    fn as_ref(&self) -> &Netns {
        self
    }
}

/// Keeps the current thread in a lab namespace; moves it back on drop.
#[must_use = "the thread leaves the namespace as soon as the guard drops"]
#[derive(Debug)]
pub struct NetnsGuard {
    previous: File,
    /// setns moved this thread only, so the guard must drop on this thread.
    _bound_to_thread: PhantomData<*const ()>,
}

impl NetnsGuard {
    fn enter(target: &Path) -> Result<Self> {
        let previous = open("/proc/thread-self/ns/net".as_ref())?;
        let target_file = open(target)?;
        setns(&target_file, CloneFlags::CLONE_NEWNET).map_err(|source| LabError::Sys {
            what: format!("setns into {}", target.display()),
            source,
        })?;
        Ok(Self {
            previous,
            _bound_to_thread: PhantomData,
        })
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        // Cannot fail short of a kernel bug: we held the fd and the right to
        // use it a moment ago. A thread left in the wrong namespace would send
        // later traffic to the wrong place, so stop rather than go on.
        setns(&self.previous, CloneFlags::CLONE_NEWNET)
            .expect("setns back to the thread's previous network namespace");
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| LabError::Io {
        what: format!("open {}", path.display()),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_goes_through_nsenter_with_the_namespace_path() {
        let netns = Netns::new("sgl-1-0-0000-victim".to_owned(), "victim");
        let mut command = netns.command("ip");
        command.arg("link");
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(command.get_program(), "nsenter");
        assert_eq!(
            args,
            ["--net=/run/netns/sgl-1-0-0000-victim", "--", "ip", "link"]
        );
    }
}

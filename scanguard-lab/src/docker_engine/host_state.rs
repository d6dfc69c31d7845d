//! What dockerd changes on the host, captured before it starts and put back after it stops:
//! the root namespace's nft ruleset (its iptables-nft chains, FORWARD policy DROP, NAT), the
//! forwarding sysctls (it turns `ip_forward` on, and IPv6 forwarding for IPv6 networks), the
//! bridge netfilter sysctls, the links (the bridges of its networks, `docker0`), and
//! `/run/containerd`, where containerd's shims put their sockets whatever its state directory.
//!
//! The capture is kept in the engine's private directory as well, so a run that was killed
//! can still be put right by `cargo xtask lab-clean`.

use std::{
    collections::BTreeSet,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use crate::{LabError, Result, run_checked_within};

const RULESET_FILE: &str = "ruleset.nft";
const RESTORE_FILE: &str = "restore.nft";
const SYSCTLS_FILE: &str = "sysctls";
const LINKS_FILE: &str = "links";
const RUN_DIR_FILE: &str = "run-containerd";
/// containerd 1.6's shims make `/run/containerd/s` for their sockets, fixed in its code.
const CONTAINERD_RUN_DIR: &str = "/run/containerd";
const SHIM_SOCKET_DIR: &str = "/run/containerd/s";
/// The bridges of the networks the engine made, one name a line, appended as they are made.
pub(super) const BRIDGES_FILE: &str = "bridges";
/// What `nft` and `ip` get; they answer in milliseconds.
const TOOL_TIMEOUT: Duration = Duration::from_secs(10);
/// Written before the per-link ones: writing `ip_forward` or `all` resets every link's.
const GLOBAL_SYSCTLS: &[&str] = &[
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/forwarding",
    "net/ipv4/conf/default/forwarding",
    "net/ipv6/conf/all/forwarding",
    "net/ipv6/conf/default/forwarding",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
];
/// The bridge of Docker's default network; `--bridge=none` keeps it away, but an engine
/// started otherwise makes it.
const DEFAULT_BRIDGE: &str = "docker0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HostState {
    ruleset: String,
    /// `/proc/sys` path → value, in the order they are written back.
    sysctls: Vec<(String, String)>,
    links: BTreeSet<String>,
    /// Whether [`CONTAINERD_RUN_DIR`] exists.
    containerd_run_dir: bool,
}

impl HostState {
    pub(super) fn capture() -> Result<HostState> {
        let ruleset = stdout(Command::new("nft").args(["list", "ruleset"]))?;
        let links = link_names()?;
        let per_link = links.iter().flat_map(|link| {
            ["ipv4", "ipv6"].map(|family| format!("net/{family}/conf/{link}/forwarding"))
        });
        let sysctls = GLOBAL_SYSCTLS
            .iter()
            .map(|name| name.to_string())
            .chain(per_link)
            .filter_map(|name| {
                let value = std::fs::read_to_string(sysctl_path(&name)).ok()?;
                Some((name, value.trim().to_string()))
            })
            .collect();
        Ok(HostState {
            ruleset,
            sysctls,
            links,
            containerd_run_dir: Path::new(CONTAINERD_RUN_DIR).exists(),
        })
    }

    pub(super) fn save(&self, dir: &Path) -> Result<()> {
        let sysctls: String = self
            .sysctls
            .iter()
            .map(|(name, value)| format!("{name} {value}\n"))
            .collect();
        let links: String = self.links.iter().map(|link| format!("{link}\n")).collect();
        write(&dir.join(RULESET_FILE), &self.ruleset)?;
        write(&dir.join(SYSCTLS_FILE), &sysctls)?;
        write(&dir.join(LINKS_FILE), &links)?;
        write(
            &dir.join(RUN_DIR_FILE),
            if self.containerd_run_dir {
                "present"
            } else {
                "absent"
            },
        )
    }

    pub(super) fn load(dir: &Path) -> Result<HostState> {
        let sysctls = read(&dir.join(SYSCTLS_FILE))?
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Ok(HostState {
            ruleset: read(&dir.join(RULESET_FILE))?,
            sysctls,
            links: read(&dir.join(LINKS_FILE))?
                .lines()
                .map(str::to_string)
                .collect(),
            // Missing means unknown: left alone, as if it had been there.
            containerd_run_dir: read(&dir.join(RUN_DIR_FILE)).map_or(true, |it| it != "absent"),
        })
    }

    /// Deletes the engine's bridges (those listed in `dir` and `docker0`) that were not
    /// there before, replaces the ruleset with the captured one in one transaction, and
    /// writes the sysctls back. `/run/containerd` goes if it was not there and is empty.
    pub(super) fn restore(&self, dir: &Path) -> Result<()> {
        let made = std::fs::read_to_string(dir.join(BRIDGES_FILE)).unwrap_or_default();
        let now = link_names()?;
        for bridge in made.lines().chain([DEFAULT_BRIDGE]) {
            if now.contains(bridge) && !self.links.contains(bridge) {
                run_checked_within(
                    Command::new("ip").args(["link", "del", bridge]),
                    TOOL_TIMEOUT,
                )?;
            }
        }
        let restore = dir.join(RESTORE_FILE);
        write(&restore, &format!("flush ruleset\n{}", self.ruleset))?;
        run_checked_within(Command::new("nft").arg("-f").arg(&restore), TOOL_TIMEOUT)?;
        for (name, value) in &self.sysctls {
            let path = sysctl_path(name);
            std::fs::write(&path, value).map_err(|source| LabError::Io {
                what: format!("write {value} to {}", path.display()),
                source,
            })?;
        }
        if !self.containerd_run_dir {
            // remove_dir leaves a directory that is not empty: someone else's containerd.
            let _ = std::fs::remove_dir(SHIM_SOCKET_DIR);
            let _ = std::fs::remove_dir(CONTAINERD_RUN_DIR);
        }
        Ok(())
    }

    /// What differs in `now` from this state, one line each; empty if nothing.
    pub(super) fn differences(&self, now: &HostState) -> Vec<String> {
        let mut differences = Vec::new();
        if self.ruleset != now.ruleset {
            let mut report = String::from("the nft ruleset differs:");
            for line in now
                .ruleset
                .lines()
                .filter(|line| !self.ruleset.contains(line))
            {
                let _ = write!(report, " +{line:?}");
            }
            for line in self
                .ruleset
                .lines()
                .filter(|line| !now.ruleset.contains(line))
            {
                let _ = write!(report, " -{line:?}");
            }
            differences.push(report);
        }
        for (name, value) in &self.sysctls {
            let current = now.sysctls.iter().find(|(other, _)| other == name);
            let current = current.map_or("missing", |(_, value)| value.as_str());
            if current != value {
                differences.push(format!("sysctl {name} was {value}, is now {current}"));
            }
        }
        for link in now.links.difference(&self.links) {
            differences.push(format!("link {link} was added"));
        }
        for link in self.links.difference(&now.links) {
            differences.push(format!("link {link} is gone"));
        }
        if now.containerd_run_dir && !self.containerd_run_dir {
            differences.push(format!("{CONTAINERD_RUN_DIR} was made"));
        }
        differences
    }
}

fn sysctl_path(name: &str) -> PathBuf {
    Path::new("/proc/sys").join(name)
}

/// The links of the root namespace, by name.
fn link_names() -> Result<BTreeSet<String>> {
    let listed = stdout(Command::new("ip").args(["-o", "link", "show"]))?;
    // "7: veth5c4c355@if6: <BROADCAST,...": the name is the second field, before any '@'.
    Ok(listed
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .collect())
}

fn stdout(command: &mut Command) -> Result<String> {
    let output = run_checked_within(command, TOOL_TIMEOUT)?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| LabError::Io {
        what: format!("write {}", path.display()),
        source,
    })
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| LabError::Io {
        what: format!("read {}", path.display()),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(ruleset: &str, forward: &str, links: &[&str]) -> HostState {
        HostState {
            ruleset: ruleset.to_string(),
            sysctls: vec![("net/ipv4/ip_forward".to_string(), forward.to_string())],
            links: links.iter().map(|link| link.to_string()).collect(),
            containerd_run_dir: false,
        }
    }

    #[test]
    fn an_unchanged_host_has_no_differences() {
        let before = state("", "0", &["lo", "eth0"]);
        assert_eq!(before.differences(&before.clone()), Vec::<String>::new());
    }

    #[test]
    fn each_change_is_one_line() {
        let before = state("", "0", &["lo", "eth0"]);
        let after = state(
            "table ip filter {\n}\n",
            "1",
            &["lo", "eth0", "br-7259d6c2394b"],
        );
        let differences = before.differences(&after);
        assert_eq!(differences.len(), 3, "{differences:?}");
        assert!(
            differences[0].contains("+\"table ip filter {\""),
            "{differences:?}"
        );
        assert_eq!(differences[1], "sysctl net/ipv4/ip_forward was 0, is now 1");
        assert_eq!(differences[2], "link br-7259d6c2394b was added");
    }

    #[test]
    fn a_saved_state_loads_back_the_same() {
        let dir = std::env::temp_dir().join(format!("sgl-host-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        let before = HostState {
            ruleset: "table ip nat {\n\tchain DOCKER {\n\t}\n}\n".to_string(),
            sysctls: vec![
                ("net/ipv4/ip_forward".to_string(), "0".to_string()),
                ("net/ipv4/conf/eth0/forwarding".to_string(), "1".to_string()),
            ],
            links: ["lo", "eth0"].iter().map(|link| link.to_string()).collect(),
            containerd_run_dir: true,
        };
        before.save(&dir).expect("save");
        let loaded = HostState::load(&dir);
        std::fs::remove_dir_all(&dir).expect("remove the directory");
        assert_eq!(loaded.expect("load"), before);
    }
}

//! The amd64 package on this machine: `dpkg -i`, `scanguard` from the PATH attaches in the lab
//! with the packaged configuration checked, the unit verifies, and a purge leaves nothing.

use std::{net::IpAddr, path::Path, process::Command};

use scanguard_lab::{daemon::Daemon, traffic::talk};

use crate::{
    package, run, stdout,
    support::lab::{SERVICE, require_root, served_lab},
    workspace,
};

const INSTALLED: &str = "/usr/bin/scanguard";
const CONFIG: &str = "/etc/scanguard/scanguard.toml";
const UNIT: &str = "/usr/lib/systemd/system/scanguard.service";
const STATE_DIR: &str = "/var/lib/scanguard";

fn is_installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "scanguard"])
        .output()
        .is_ok_and(|output| output.stdout.starts_with(b"install ok"))
}

/// Purges the package when dropped, also when the test fails half-way: the machine is left
/// as it was found.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        if is_installed() {
            let _ = Command::new("dpkg").args(["--purge", "scanguard"]).output();
        }
    }
}

#[test]
fn the_amd64_package_installs_attaches_checks_its_config_and_purges() {
    require_root();
    let deb = package("amd64");
    assert!(
        !is_installed(),
        "a scanguard package is installed on this machine; the test installs and purges its own: \
         remove it first (`dpkg --purge scanguard`)"
    );
    // Where systemd runs, the package's scripts would start the service on the default route's
    // interface; policy-rc.d (exit 101) tells them not to.
    assert!(
        !Path::new("/run/systemd/system").exists() || Path::new("/usr/sbin/policy-rc.d").exists(),
        "systemd runs here: install a /usr/sbin/policy-rc.d that exits 101 so the test's install \
         does not start the service"
    );
    let purge = Purge;
    let installed = run(Command::new("dpkg").arg("--install").arg(&deb));
    let said = String::from_utf8_lossy(&installed.stderr);
    assert!(!said.contains("warning"), "{said}");

    // From the PATH, as a user runs it.
    let which = stdout(Command::new("sh").args(["-c", "command -v scanguard"]));
    assert_eq!(which.trim(), INSTALLED);
    let version = stdout(Command::new("scanguard").arg("--version"));
    assert_eq!(
        version.trim(),
        format!("scanguard {}", env!("CARGO_PKG_VERSION"))
    );
    let checked = stdout(Command::new("scanguard").args(["config", "check", CONFIG]));
    assert!(checked.starts_with(&format!("{CONFIG}: ok")), "{checked}");
    let conffiles = stdout(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", "scanguard"]));
    assert!(conffiles.contains(CONFIG), "{conffiles}");
    for file in [
        "/usr/share/man/man1/scanguard.1.gz",
        "/usr/share/bash-completion/completions/scanguard",
        "/usr/share/zsh/vendor-completions/_scanguard",
        "/usr/share/doc/scanguard/examples/laptop.toml",
        "/usr/share/doc/scanguard/examples/honeypot-sensor.toml",
        "/usr/share/doc/scanguard/install.md",
    ] {
        assert!(Path::new(file).is_file(), "{file} is not installed");
    }
    assert!(Path::new(STATE_DIR).is_dir(), "the state directory");
    let depends = stdout(Command::new("dpkg-query").args(["-W", "-f=${Depends}", "scanguard"]));
    assert!(depends.contains("libc6"), "{depends}");

    // The unit as shipped, checked with its binary and man page in place.
    let shipped = std::fs::read_to_string(workspace().join("dist/scanguard.service")).unwrap();
    assert_eq!(std::fs::read_to_string(UNIT).unwrap(), shipped);
    let verified = run(Command::new("systemd-analyze").args(["verify", UNIT]));
    assert!(
        verified.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );

    {
        // `scanguard` from the PATH attaches in a lab namespace and enforces a ban.
        let lab = served_lab();
        let daemon = Daemon::start(
            "scanguard",
            &lab.victim,
            &[&lab.victim.interface, "--config", CONFIG],
        );
        let victim: IpAddr = lab.victim.ipv4.into();
        talk(&lab.attacker, victim, SERVICE).expect("traffic flows while attached");
        daemon.cli(&["ban", &lab.attacker.ipv4.to_string(), "--for", "1m"]);
        assert!(
            talk(&lab.attacker, victim, SERVICE).is_err(),
            "the ban is enforced"
        );
    }

    run(Command::new("dpkg").args(["--purge", "scanguard"]));
    drop(purge);
    for gone in [INSTALLED, CONFIG, UNIT, STATE_DIR, "/etc/scanguard"] {
        assert!(!Path::new(gone).exists(), "{gone} is left after the purge");
    }
}

//! Bans survive a reboot: the daemon saves them in its state directory, and an `attach` that
//! finds nothing pinned (bpffs is empty after a reboot) puts back those still in force, with the
//! time they have left. `unban` and `detach` change the saved bans too.

use std::net::IpAddr;

use nix::sys::signal::Signal;
use scanguard::daemon::saved_bans::store;
use scanguard_lab::{daemon::Daemon, traffic::talk};

use crate::support::lab::{SCANGUARD, SERVICE, served_lab};

#[test]
fn bans_survive_a_reboot_and_unban_and_detach_change_the_saved_ones() {
    let lab = served_lab();
    let attacker: IpAddr = lab.attacker.ipv4.into();
    let client: IpAddr = lab.client.ipv4.into();
    let victim: IpAddr = lab.victim.ipv4.into();
    let args = [lab.victim.interface.as_str(), "--persist", "--mode", "skb"];
    let mut first = Daemon::start(SCANGUARD, &lab.victim, &args);
    first.cli(&["ban", &attacker.to_string(), "--for", "1h"]);
    first.cli(&["ban", &client.to_string(), "--for", "1h"]);
    assert!(talk(&lab.attacker, victim, SERVICE).is_err(), "banned");
    // Unbanned while running: the save on exit leaves it out.
    first.cli(&["unban", &client.to_string()]);
    assert!(first.stop(Signal::SIGTERM).success());
    reboot(&first);

    let mut second = first.restart(&lab.victim, &args);
    let bans = second.cli_json(&["bans"]);
    let bans = bans.as_array().expect("a list of bans");
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0]["address"], attacker.to_string());
    assert_eq!(bans[0]["reason"], "manual");
    let left = bans[0]["expires_in_seconds"].as_u64().unwrap();
    assert!((3_500..3_600).contains(&left), "{left} s left of an hour");
    assert!(
        talk(&lab.attacker, victim, SERVICE).is_err(),
        "the restored ban is enforced"
    );
    talk(&lab.client, victim, SERVICE).expect("the unbanned client gets through");
    assert!(second.stop(Signal::SIGTERM).success());
    reboot(&second);

    // Unbanned while nothing runs: only the saved ban is left to lift.
    let unbanned = stdout(&second, &["unban", &attacker.to_string()]);
    assert!(
        unbanned.starts_with(&format!("unbanned {attacker}\n")),
        "{unbanned}"
    );
    assert!(unbanned.contains("scanguard is not running"), "{unbanned}");
    let mut third = second.restart(&lab.victim, &args);
    assert!(third.bans().is_empty(), "{:?}", third.bans());
    talk(&lab.attacker, victim, SERVICE).expect("the unbanned attacker gets through");

    // `detach --keep-bans` keeps them for the next attach; `detach` deletes them.
    third.cli(&["ban", &attacker.to_string(), "--for", "1h"]);
    stdout(&third, &["detach", "--keep-bans"]);
    assert!(!third.is_running());
    assert!(store::path(&third.state_dir).exists());
    let mut fourth = third.restart(&lab.victim, &args);
    assert!(fourth.is_banned(attacker));
    let detached = stdout(&fourth, &["detach"]);
    assert!(detached.contains("removed saved bans"), "{detached}");
    assert!(!store::path(&fourth.state_dir).exists());
    assert!(!fourth.is_running());

    // A corrupt state file does not keep the daemon from attaching: it is set aside.
    std::fs::write(
        store::path(&fourth.state_dir),
        b"{\"version\":1,\"bans\":[{",
    )
    .unwrap();
    let fifth = fourth.restart(&lab.victim, &args);
    assert!(fifth.bans().is_empty());
    let aside: Vec<_> = std::fs::read_dir(&fifth.state_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("bans.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
}

/// What a reboot leaves: nothing pinned, the state directory as it was.
fn reboot(daemon: &Daemon) {
    std::fs::remove_dir_all(&daemon.pin_dir).expect("remove every pin");
    assert!(store::path(&daemon.state_dir).exists(), "bans saved");
}

fn stdout(daemon: &Daemon, args: &[&str]) -> String {
    String::from_utf8_lossy(&daemon.cli(args).stdout).into_owned()
}

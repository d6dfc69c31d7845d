//! Every user error is one actionable line and a non-zero exit, never a panic. No root needed.

use std::process::{Command, Output};

const SCANGUARD: &str = env!("CARGO_BIN_EXE_scanguard");

fn run(args: &[&str]) -> Output {
    Command::new(SCANGUARD)
        .args(args)
        .output()
        .expect("run scanguard")
}

fn assert_fails_with(args: &[&str], expected: &str) {
    let output = run(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{args:?} succeeded");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
}

#[test]
fn no_daemon_and_no_pins() {
    for command in ["bans", "stats", "status"] {
        let args = [command, "--pin-dir", "/nonexistent/scanguard"];
        assert_fails_with(&args, "no running scanguard");
    }
    assert_fails_with(
        &[
            "unban",
            "192.0.2.1",
            "--pin-dir",
            "/nonexistent/scanguard",
            "--state-dir",
            "/nonexistent/state",
        ],
        "start one with `scanguard attach`",
    );
    // Refused before anything is looked up without root.
    let detach = ["detach", "--pin-dir", "/nonexistent/scanguard"];
    if nix::unistd::Uid::effective().is_root() {
        assert_fails_with(&detach, "nothing to detach: no running scanguard");
    } else {
        assert_fails_with(&detach, "needs root");
    }
}

#[test]
fn bad_addresses_and_durations() {
    assert_fails_with(&["unban", "10.0.0.300"], "invalid value '10.0.0.300'");
    assert_fails_with(
        &["unban", "10.0.0.0/33"],
        "not an IP address or CIDR prefix",
    );
    assert_fails_with(&["ban", "not-an-address"], "invalid value 'not-an-address'");
    assert_fails_with(
        &["ban", "198.51.100.0/24"],
        "is a network; bans are per address (`unban` and the allow-list take networks)",
    );
    assert_fails_with(
        &["ban", "192.0.2.1", "--for", "forever"],
        "invalid value 'forever'",
    );
    assert_fails_with(&["unban"], "required");
}

#[test]
fn unknown_commands_and_flags() {
    assert_fails_with(&["frobnicate"], "unrecognized subcommand");
    assert_fails_with(&["bans", "--yaml"], "unexpected argument '--yaml'");
    assert_fails_with(
        &["attach", "--mode", "turbo"],
        "invalid value 'turbo' for '--mode <MODE>' [possible values: auto, native, skb, tc]",
    );
    assert_fails_with(
        &["ban", "192.0.2.1", "--force2"],
        "tip: a similar argument exists: '--force'",
    );
    assert_fails_with(&["ban"], "<ADDRESS> (usage: scanguard ban <ADDRESS>)");
}

#[test]
fn config_check_names_the_bad_key() {
    let dir = std::env::temp_dir().join(format!("scanguard-cli-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "ban_seconds = 60\n[actions]\nnull-scan = \"explode\"\n",
    )
    .expect("write");
    let bad = bad.to_str().expect("utf-8 path");
    assert_fails_with(
        &["config", "check", bad],
        "actions.null-scan: unknown action \"explode\"",
    );
    assert_fails_with(
        &["config", "check", "/nonexistent.toml"],
        "cannot read config file",
    );

    let good = dir.join("good.toml");
    std::fs::write(&good, "ban_seconds = 120\nallow = [\"192.0.2.0/24\"]\n").expect("write");
    let output = run(&["config", "check", good.to_str().expect("utf-8 path")]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("ban: 120 s"));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn shipped_example_configs_are_valid() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    for profile in ["laptop.toml", "honeypot-sensor.toml"] {
        let path = format!("{examples}/{profile}");
        let output = run(&["config", "check", &path]);
        assert!(
            output.status.success(),
            "{profile}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn attach_to_an_unknown_interface_lists_the_real_ones() {
    // Refused before anything is loaded: as root for the interface check, else for privileges.
    let output = run(&[
        "attach",
        "nosuchif0",
        "--run-dir",
        "/tmp/scanguard-cli-errors",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("unknown interface \"nosuchif0\" (interfaces here: lo")
            || stderr.contains("scanguard needs root"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn completions_and_man_page_are_generated() {
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"],
        &["man"],
    ] {
        let output = run(args);
        assert!(output.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("scanguard"));
    }
}

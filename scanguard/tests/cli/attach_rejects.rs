//! A refused `attach` leaves nothing half-attached: whatever is wrong with the configuration
//! or the flags, the interface carries no XDP program afterwards, and there is no pin directory
//! and no status file. Run against a real lab interface, so an attach that
//! went through would show.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Output, Stdio},
    time::{Duration, Instant},
};

use proptest::{
    prelude::*,
    sample::select,
    test_runner::{Config as ProptestConfig, TestRunner},
};
use scanguard_lab::{Host, ScanLab, daemon::Daemon};

use crate::support::lab::{SCANGUARD, checks_program, require_root};

/// The pin and run directories of one refused attach.
struct Dirs {
    pin_dir: PathBuf,
    run_dir: PathBuf,
}

impl Dirs {
    fn new(name: &str) -> Dirs {
        let id = format!("{}-{name}", std::process::id());
        Dirs {
            pin_dir: PathBuf::from(format!("/sys/fs/bpf/scanguard-reject-{id}")),
            run_dir: std::env::temp_dir().join(format!("scanguard-reject-{id}")),
        }
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.pin_dir);
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// Runs `scanguard attach <interface> <args>` in `host`'s namespace. An attach that went
/// through would run until stopped: it is stopped after a while, and the test fails.
fn attach(host: &Host, args: &[String], dirs: &Dirs) -> Output {
    let child = host
        .command(SCANGUARD)
        .arg("attach")
        .arg(&host.interface)
        .args(args)
        .arg("--pin-dir")
        .arg(&dirs.pin_dir)
        .arg("--run-dir")
        .arg(&dirs.run_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn scanguard attach");
    finish(child, args)
}

fn finish(mut child: Child, args: &[String]) -> Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("poll scanguard").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scanguard attach {args:?} was not refused: it ran");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("reap scanguard")
}

/// Refused with one line: status 1 (our check) or 2 (a usage error).
fn assert_refused(output: &Output, args: &[String]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    let code = output.status.code();
    assert!(
        matches!(code, Some(1 | 2)),
        "{args:?}: exit {code:?}: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("scanguard: "), "{args:?}: {stderr}");
}

/// The id of the XDP program `host`'s interface carries.
fn assert_nothing_left(host: &Host, dirs: &Dirs, args: &[String]) {
    assert_eq!(
        checks_program(host),
        None,
        "{args:?} left a program attached"
    );
    assert!(
        !dirs.pin_dir.exists(),
        "{args:?} left {}",
        dirs.pin_dir.display()
    );
    assert!(
        !dirs.run_dir.join("status.json").exists(),
        "{args:?} left a status file"
    );
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(ToString::to_string).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::create_dir_all(dir).expect("config dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

#[test]
fn a_refused_attach_leaves_nothing_half_attached() {
    require_root();
    let lab = ScanLab::build().expect("lab");
    let victim = &lab.victim;

    // The checks see an attach: a daemon that came up shows in both, and goes with it.
    {
        let daemon = Daemon::start(SCANGUARD, victim, &[&victim.interface]);
        assert!(
            checks_program(victim).is_some(),
            "a running daemon shows no program"
        );
        drop(daemon);
        assert_eq!(
            checks_program(victim),
            None,
            "a stopped daemon left its program"
        );
    }

    let configs = std::env::temp_dir().join(format!("scanguard-reject-{}", std::process::id()));
    let bad_type = write(&configs, "type.toml", "ban_seconds = \"soon\"\n");
    let bad_action = write(
        &configs,
        "action.toml",
        "[actions]\nnull-scan = \"explode\"\n",
    );
    let bad_syntax = write(&configs, "syntax.toml", "[events\nburst = 5\n");
    let addresses: Vec<String> = (0..1100)
        .map(|n| format!("\"10.9.{}.{}\"", n / 250, n % 250))
        .collect();
    let long_allow = write(
        &configs,
        "allow.toml",
        &format!("allow = [{}]\n", addresses.join(", ")),
    );
    // A port already taken in the victim's namespace.
    let busy = {
        let _guard = victim.enter().expect("enter the victim's namespace");
        TcpListener::bind("127.0.0.1:0").expect("bind a port")
    };
    let busy_address = busy.local_addr().expect("local address").to_string();
    let cases: Vec<Vec<String>> = vec![
        strings(&["--config", &bad_type]),
        strings(&["--config", &bad_action]),
        strings(&["--config", &bad_syntax]),
        strings(&["--config", &long_allow]),
        strings(&["--config", "/nonexistent/scanguard.toml"]),
        strings(&["--frobnicate"]),
        strings(&["--mode", "turbo"]),
        strings(&["--ban-seconds", "soon"]),
        strings(&["--ban-seconds", "0"]),
        strings(&["--ban-mode", "forever"]),
        strings(&["--capacity", "-1"]),
        strings(&["--capacity", "0"]),
        strings(&["--capacity", "4294967295"]),
        strings(&["--allow", "10.0.0.300"]),
        strings(&["--json", "--syslog"]),
        strings(&["--metrics", "localhost"]),
        strings(&["--metrics", "127.0.0.1"]),
        strings(&["--metrics", &busy_address]),
        strings(&["--persist", "--metrics", &busy_address]),
    ];
    for (n, args) in cases.iter().enumerate() {
        let dirs = Dirs::new(&format!("case{n}"));
        let output = attach(victim, args, &dirs);
        assert_refused(&output, args);
        assert_nothing_left(victim, &dirs, args);
    }
    let metrics = attach(
        victim,
        &strings(&["--metrics", "localhost"]),
        &Dirs::new("m"),
    );
    assert!(
        String::from_utf8_lossy(&metrics.stderr)
            .contains("--metrics: \"localhost\" is not an address and port"),
        "{}",
        String::from_utf8_lossy(&metrics.stderr)
    );
    let allow = attach(
        victim,
        &strings(&["--config", &long_allow]),
        &Dirs::new("a"),
    );
    assert!(
        String::from_utf8_lossy(&allow.stderr).contains(
            "entries, more than the 1024 the program holds: merge addresses into networks"
        ),
        "{}",
        String::from_utf8_lossy(&allow.stderr)
    );
    drop(busy);
    let _ = std::fs::remove_dir_all(&configs);
}

/// One flag with a value its check refuses.
fn invalid_flag() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        "[a-z]{1,10}"
            .prop_filter("a ban mode", |m| m != "fixed" && m != "sliding")
            .prop_map(|mode| vec!["--ban-mode".into(), mode]),
        Just(vec!["--ban-seconds".into(), "0".into()]),
        prop_oneof![Just(0u64), 16_777_217..=u64::from(u32::MAX)]
            .prop_map(|capacity| vec!["--capacity".into(), capacity.to_string()]),
        prop_oneof![
            (256u32..1000).prop_map(|octet| format!("192.0.2.{octet}")),
            (33u32..100).prop_map(|len| format!("192.0.2.0/{len}")),
            "[g-z]{1,8}",
        ]
        .prop_map(|net| vec!["--allow".into(), net]),
        prop_oneof![
            "[a-z]{1,10}(:[0-9]{1,4})?",
            (65_536u32..1_000_000).prop_map(|port| format!("127.0.0.1:{port}")),
            Just("127.0.0.1".to_string()),
            Just("::1:9100".to_string()),
        ]
        .prop_map(|address| vec!["--metrics".into(), address]),
        "[a-z]{1,8}"
            .prop_filter("a mode", |m| !["auto", "native", "skb", "tc"]
                .contains(&m.as_str()))
            .prop_map(|mode| vec!["--mode".into(), mode]),
    ]
}

/// Valid flags around the invalid one, so it is not refused for being alone.
fn valid_flag() -> impl Strategy<Value = Vec<String>> {
    select(vec![
        vec!["--json"],
        vec!["--persist"],
        vec!["--ban-seconds", "90"],
        vec!["--ban-mode", "sliding"],
        vec!["--allow", "192.0.2.0/24"],
        vec!["--mode", "skb"],
        vec!["--capacity", "1024"],
    ])
    .prop_map(|flag| strings(&flag))
}

#[test]
fn random_invalid_flags_leave_nothing_half_attached() {
    require_root();
    let lab = ScanLab::build().expect("lab");
    let victim = &lab.victim;
    let strategy = (
        proptest::collection::vec(valid_flag(), 0..3),
        invalid_flag(),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(valid, invalid, position)| {
            // Each valid flag once: a repeated one would be refused for that alone.
            let mut flags: Vec<Vec<String>> = Vec::new();
            for flag in valid {
                if !flags.iter().any(|f| f[0] == flag[0]) && flag[0] != invalid[0] {
                    flags.push(flag);
                }
            }
            flags.insert(position.index(flags.len() + 1), invalid);
            flags.concat()
        });
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let case = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&strategy, |args| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dirs = Dirs::new(&format!("random{n}"));
            let output = attach(victim, &args, &dirs);
            assert_refused(&output, &args);
            assert_nothing_left(victim, &dirs, &args);
            Ok(())
        })
        .unwrap_or_else(|error| panic!("{error}"));
}

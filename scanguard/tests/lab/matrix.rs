//! The demo's scenario matrix (`cargo xtask lab`) as an end-to-end test: real nmap scans and
//! connections in the demo lab, with scanguard attached to the victim's interface and to the
//! Docker-shaped bridge's ports, every row checked.

use std::{collections::BTreeMap, path::PathBuf};

use scanguard_lab::{
    daemon::PinCleanup,
    demo::{
        DemoLab, LabDaemon, LogTail, Scanguard, config_toml,
        scenarios::{self, CONNECTED, Row, SCENARIOS, TIMED_OUT, summary_table},
    },
};

use crate::support::lab::{SCANGUARD, require_root};

#[test]
fn the_demo_matrix_holds_row_by_row() {
    require_root();
    let lab = DemoLab::build().expect("the demo lab");
    lab.serve().expect("the demo services");
    let dir = std::env::temp_dir().join(format!("scanguard-matrix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a private directory");
    let _dir_cleanup = DirCleanup(dir.clone());
    let config = dir.join("scanguard.toml");
    std::fs::write(&config, config_toml()).expect("write the config");
    let pin_dir = PathBuf::from(format!(
        "/sys/fs/bpf/scanguard-test-matrix-{}",
        std::process::id()
    ));
    let _pin_cleanup = PinCleanup(pin_dir.clone());

    let baseline = scenarios::baseline(&lab, |_, _| {}).expect("the scans without scanguard");
    let log = dir.join("scanguard.log");
    let daemon = LabDaemon::start(
        Scanguard {
            binary: SCANGUARD.into(),
            pin_dir,
            run_dir: dir.join("run"),
        },
        &lab.victim.netns,
        &lab.protected_interfaces(),
        &config,
        &log,
    )
    .expect("scanguard attaches to the victim and the bridge ports");
    let mut tail = LogTail::new(&log);
    tail.read_new();
    let rows = scenarios::run(&lab, &daemon.scanguard, &mut tail, &baseline, |_| {})
        .expect("the matrix plays through");
    let table = summary_table(&rows);
    assert_eq!(rows.len(), SCENARIOS.len(), "{table}");
    let row: BTreeMap<&str, &Row> = rows.iter().map(|row| (row.scenario.id, row)).collect();

    // Every stealth scan: closed without scanguard, unanswered with it, detected and banned.
    for (id, kind, hidden) in [
        ("null-scan", "null-scan", "open|filtered"),
        ("fin-scan", "fin-scan", "open|filtered"),
        ("xmas-scan", "xmas-scan", "open|filtered"),
        ("syn-scan", "syn-scan", "filtered"),
        ("container-scan", "syn-scan", "filtered"),
    ] {
        let scan = row[id];
        assert_eq!(scan.before.verdict, "closed", "{}", scan.explain());
        assert_eq!(scan.after.verdict, hidden, "{}", scan.explain());
        assert_eq!(scan.detected, [kind], "{}", scan.explain());
        assert_eq!(scan.banned.as_deref(), Some(kind), "{}", scan.explain());
        let prefix = format!("[scanguard::{kind}]");
        let source = format!("SRC={}", scan.scenario.from.address(&lab));
        assert!(
            scan.logged
                .iter()
                .any(|line| line.starts_with(&prefix) && line.contains(&source)),
            "the daemon logs the detection: {}",
            scan.explain()
        );
    }
    // The container's scan is seen where it enters: the scanner's bridge port.
    let container_scan = row["container-scan"];
    let on_port = format!("IN={} ", lab.scanner.port);
    assert!(
        container_scan
            .logged
            .iter()
            .any(|line| line.contains(&on_port)),
        "{}",
        container_scan.explain()
    );

    // The banned attacker and container are dropped; the benign client never is.
    for id in ["banned-connect", "container-banned"] {
        let connect = row[id];
        assert_eq!(
            (
                connect.before.verdict.as_str(),
                connect.after.verdict.as_str()
            ),
            (CONNECTED, TIMED_OUT),
            "{}",
            connect.explain()
        );
        assert!(connect.banned.is_some(), "{}", connect.explain());
    }
    for id in ["client-connects", "client-unaffected"] {
        let client = row[id];
        assert_eq!(client.after.verdict, CONNECTED, "{}", client.explain());
        assert!(client.detected.is_empty() && client.banned.is_none());
    }

    // Unban and expiry each let the attacker back in.
    for id in ["unban", "expiry"] {
        let lifted = row[id];
        assert_eq!(
            (
                lifted.before.verdict.as_str(),
                lifted.after.verdict.as_str()
            ),
            (TIMED_OUT, CONNECTED),
            "{}",
            lifted.explain()
        );
        assert_eq!(lifted.banned, None, "{}", lifted.explain());
    }

    // The trap port is logged but not banned; the protected port is left alone.
    let trap = row["trap-port"];
    assert_eq!(trap.detected, ["trap-port"], "{}", trap.explain());
    assert_eq!(trap.banned, None, "{}", trap.explain());
    assert_eq!(trap.after.verdict, "open", "{}", trap.explain());
    let protected = row["protected-port"];
    assert!(protected.detected.is_empty(), "{}", protected.explain());
    assert_eq!(protected.banned, None, "{}", protected.explain());

    // And every row as the scenario list itself expects it.
    let failed: Vec<String> = rows
        .iter()
        .filter(|row| !row.passed())
        .map(Row::explain)
        .collect();
    assert!(failed.is_empty(), "{table}\n{}", failed.join("\n"));
}

/// Removes the test's config, log and run directory.
struct DirCleanup(PathBuf);

impl Drop for DirCleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

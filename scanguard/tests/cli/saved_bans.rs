//! A state file that cannot be read is set aside with one warning, never fatal. No root
//! needed: `unban` reads the saved bans when nothing is pinned, as with scanguard stopped.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use scanguard::daemon::saved_bans::store;

use crate::support::lab::SCANGUARD;

#[test]
fn a_corrupt_state_file_is_set_aside_with_one_warning_and_is_not_fatal() {
    let dir = std::env::temp_dir().join(format!("scanguard-state-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for broken in [
        &b"{\"version\":1,\"bans\":[{\"address\":\"203.0"[..],
        b"\x00\xff garbage",
        b"{\"version\":99,\"bans\":[]}",
        b"{\"version\":1,\"bans\":[{\"address\":\"203.0.113.7\",\"reason\":\"teleport\",\"manual\":false,\"banned_at_unix_ms\":0,\"expires_at_unix_ms\":1,\"duration_ms\":1,\"repeat\":0,\"dropped_packets\":0}]}",
    ] {
        std::fs::write(store::path(&dir), broken).unwrap();
        let output = Command::new(SCANGUARD)
            .args(["unban", "203.0.113.7", "--pin-dir"])
            .arg(dir.join("no-pins"))
            .arg("--state-dir")
            .arg(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("WARN") && stderr.contains("unreadable") && stderr.contains("set aside as"),
            "{stderr}"
        );
        let aside = set_aside(&dir);
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert_eq!(std::fs::read(&aside[0]).unwrap(), broken);
        std::fs::remove_file(&aside[0]).unwrap();
        // What is left is a good, empty file.
        assert!(store::load(&dir).is_empty());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn set_aside(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains(".corrupt-"))
        .collect()
}

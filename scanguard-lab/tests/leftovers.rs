//! Kernel test: needs root, panics without it.

use std::process::Command;

use scanguard_lab::{NAMESPACE_PREFIX, ScanLab, is_root, remove_leftovers, run_checked};

/// A pid that no process has any more: that of a child we reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawn true");
    child.wait().expect("reap true");
    child.id()
}

#[test]
fn removes_namespaces_of_dead_processes_and_keeps_live_labs() {
    assert!(
        is_root(),
        "this test needs root: it creates network namespaces"
    );
    let live = ScanLab::build().expect("build a live lab");
    let leftover = format!("{NAMESPACE_PREFIX}{}-0-0000-killed", dead_pid());
    run_checked(Command::new("ip").args(["netns", "add", &leftover])).expect("add a leftover");

    let removed = remove_leftovers().expect("remove leftovers");

    assert!(removed >= 1, "removed {removed}");
    assert!(!std::path::Path::new("/run/netns").join(&leftover).exists());
    for netns in live.lab().namespaces() {
        assert!(
            netns.path().exists(),
            "{} of a live lab was removed",
            netns.name()
        );
    }
}

//! Cleaning up after killed runs: deleting lab namespaces whose creating process is gone.

use std::{io, path::Path, process::Command};

use crate::{
    LabError, Result,
    naming::{NAMESPACE_PREFIX, creator_pid},
    netns::NETNS_RUN_DIR,
    run_checked,
};

/// Deletes every lab namespace whose creating process is gone (a killed or
/// crashed run, or a demo lab left up) and returns how many it deleted.
/// Namespaces of labs in running processes are kept, so this is safe to call
/// while other tests run. `sgl-*` names not from [`crate::Lab`] count as left over.
pub fn remove_leftovers() -> Result<usize> {
    let mut removed = 0;
    for name in lab_namespaces()? {
        if creator_pid(&name).is_some_and(process_is_running) {
            continue;
        }
        run_checked(Command::new("ip").args(["netns", "del", &name]))?;
        removed += 1;
    }
    Ok(removed)
}

fn lab_namespaces() -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(NETNS_RUN_DIR) {
        Ok(entries) => entries,
        // No namespace was ever added on this machine since boot.
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(list_error(source)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let name = entry.map_err(list_error)?.file_name();
        if let Some(name) = name.to_str().filter(|n| n.starts_with(NAMESPACE_PREFIX)) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

fn list_error(source: io::Error) -> LabError {
    LabError::Io {
        what: format!("list {NETNS_RUN_DIR}"),
        source,
    }
}

fn process_is_running(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

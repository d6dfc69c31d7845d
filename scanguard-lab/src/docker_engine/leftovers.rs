//! After a killed run: the private dockerd directories whose creating process is gone. Their
//! dockerd and its children are stopped and the host is put back as captured there.

use std::path::Path;

use super::dockerd::{DIR_PREFIX, tear_down};
use crate::{LabError, Result};

/// Stops every test dockerd whose creating process is gone, puts back the firewall, sysctls
/// and links it captured before starting, and removes its directory; returns how many.
/// Engines of running processes are left alone.
pub fn remove_leftover_engines() -> Result<usize> {
    let temp = std::env::temp_dir();
    let entries = std::fs::read_dir(&temp).map_err(|source| LabError::Io {
        what: format!("list {}", temp.display()),
        source,
    })?;
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(creator) = name
            .to_str()
            .and_then(|name| name.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new("/proc").join(creator.to_string()).exists() {
            continue;
        }
        tear_down(&entry.path(), None)?;
        removed += 1;
    }
    Ok(removed)
}

//! The daemon's side of the saved bans: saving the ban map now and then, a batch at a time,
//! and putting the saved bans back into a freshly loaded program.

use std::{
    borrow::{Borrow, BorrowMut},
    fs,
    hash::{DefaultHasher, Hash as _, Hasher as _},
    io::Write as _,
    net::IpAddr,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use aya::maps::MapData;
use ipnet::IpNet;
use log::{info, warn};
use scanguard_common::{
    addr::AddrKey,
    ban::{Ban, ORIGIN_MANUAL},
    config::BanMode,
};

use super::{
    Clocks, SavedBan,
    store::{self, FORMAT_VERSION},
};
use crate::bpf::{
    ban_filter::BanFilter,
    bans::{self, BanMap},
    clock,
};

/// Puts the saved bans still in force into a fresh ban map, marked in the program's filter.
/// Addresses `allowed` now are left out. Returns how many bans went in.
pub fn restore<T: BorrowMut<MapData>>(
    map: &mut BanMap<T>,
    filter: &mut BanFilter,
    saved: &[SavedBan],
    mode: BanMode,
    allowed: impl Fn(&SavedBan) -> bool,
) -> Result<usize> {
    let clocks = Clocks::now();
    let mut restored = 0;
    for entry in saved {
        let Some(ban) = entry.to_ban(mode, &clocks)? else {
            continue;
        };
        if allowed(entry) {
            info!(
                "not restoring the ban of {}: it is allowed now",
                entry.address
            );
            continue;
        }
        let key = AddrKey::from(entry.address);
        map.insert(key, ban, 0)
            .with_context(|| format!("cannot restore the ban of {}", entry.address))?;
        filter.mark(&key)?;
        restored += 1;
    }
    Ok(restored)
}

/// Whether a restored ban would now hit an address the settings allow, or one lock-out
/// protection keeps (unless it was banned by hand, which took `--force` for such an address).
pub fn is_allowed(entry: &SavedBan, allow: &[IpNet], protected: &[IpAddr]) -> bool {
    allow.iter().any(|net| net.contains(&entry.address))
        || (!entry.manual && protected.contains(&entry.address))
}

/// Saves the ban map now and then, and only when it changed.
pub struct Saver {
    state_dir: PathBuf,
    /// What the last save wrote, as a hash; drop counts do not count as a change.
    saved: Option<u64>,
    /// Whether the last save failed, so a failing disk is one warning, not one per tick.
    failing: bool,
}

impl Saver {
    pub fn new(state_dir: &Path) -> Saver {
        Saver {
            state_dir: state_dir.to_path_buf(),
            saved: None,
            failing: false,
        }
    }

    /// Saves the bans in force unless they are what was saved last (`always`: regardless).
    /// Failures are warnings: enforcing goes on without the file.
    pub fn save<T: Borrow<MapData>>(&mut self, map: &BanMap<T>, mode: BanMode, always: bool) {
        let result = fingerprint(map, mode).and_then(|current| {
            if !always && self.saved == Some(current) {
                return Ok(());
            }
            // Made at the first save (as systemd's `StateDirectory=` would), so a run that
            // fails before it enforces leaves nothing behind.
            fs::create_dir_all(&self.state_dir)
                .context("cannot create it (pass --state-dir with a writable directory)")?;
            self.saved = Some(write(&store::path(&self.state_dir), map, mode)?);
            Ok(())
        });
        match result {
            Ok(()) if self.failing => {
                info!("saving bans to {} works again", self.state_dir.display());
                self.failing = false;
            }
            Ok(()) => {}
            Err(error) if !self.failing => {
                warn!(
                    "cannot save bans to {}: {error:#}; they will not survive a reboot",
                    self.state_dir.display()
                );
                self.failing = true;
            }
            Err(_) => {}
        }
    }
}

/// What of a ban a save writes, bar the drop count, into the fingerprint of a save.
fn hash_ban(hasher: &mut DefaultHasher, key: &AddrKey, ban: &Ban, mode: BanMode) {
    (key, ban.banned_at_ns, ban.expires_at_ns(mode)).hash(hasher);
    (
        ban.duration_ns,
        ban.reason,
        ban.origin == ORIGIN_MANUAL,
        ban.repeat,
    )
        .hash(hasher);
}

/// A hash of what a save would write, read a batch at a time.
fn fingerprint<T: Borrow<MapData>>(map: &BanMap<T>, mode: BanMode) -> Result<u64> {
    let now = clock::boot_ns();
    let mut hasher = DefaultHasher::new();
    bans::for_each_batch(map, |keys, bans| {
        for (key, ban) in keys.iter().zip(bans) {
            if !ban.is_expired(now, mode) {
                hash_ban(&mut hasher, key, ban, mode);
            }
        }
        Ok(())
    })?;
    Ok(hasher.finish())
}

/// Writes the bans in force a batch at a time, so memory does not grow with the map; returns
/// the fingerprint of what it wrote.
fn write<T: Borrow<MapData>>(file: &Path, map: &BanMap<T>, mode: BanMode) -> Result<u64> {
    let clocks = Clocks::now();
    let mut hasher = DefaultHasher::new();
    store::replace(file, |out| {
        write!(out, "{{\"version\":{FORMAT_VERSION},\"bans\":[")?;
        let mut first = true;
        bans::for_each_batch(map, |keys, bans| {
            for (key, ban) in keys.iter().zip(bans) {
                if ban.is_expired(clocks.boot_ns, mode) {
                    continue;
                }
                hash_ban(&mut hasher, key, ban, mode);
                out.write_all(if first { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *out, &SavedBan::new(key, ban, mode, &clocks))?;
                first = false;
            }
            Ok(())
        })?;
        out.write_all(b"\n]}\n")?;
        Ok(())
    })?;
    Ok(hasher.finish())
}

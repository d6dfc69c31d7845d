//! The state file: read, replaced atomically (a temporary file, fsync, rename, fsync of the
//! directory), so a crash or power cut leaves the old file or the new one, never half of one.
//! One that cannot be read all the same is set aside as `bans.json.corrupt-<time>` with a
//! one-line warning, and counts as no bans: a broken file never stops the daemon.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, BufWriter, Write as _},
    os::unix::fs::OpenOptionsExt as _,
    path::{Path, PathBuf},
    time::SystemTime,
};

use anyhow::{Context as _, Result, bail};
use ipnet::IpNet;
use log::warn;
use serde::{Deserialize, Serialize};

use super::{Clocks, SavedBan, reason_byte};

pub const STATE_FILE: &str = "bans.json";
/// Bumped when a field changes meaning; a file of another version is set aside, not guessed at.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    bans: Vec<SavedBan>,
}

/// Read first, so a file of another version is named as such rather than failing on a field.
#[derive(Deserialize)]
struct Version {
    version: u32,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATE_FILE)
}

/// Reads the saved bans. A missing file is no bans; one that cannot be parsed is renamed out
/// of the way with a one-line warning, and is no bans either, kept for a look.
pub fn load(state_dir: &Path) -> Vec<SavedBan> {
    let file = path(state_dir);
    let text = match fs::read(&file) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(error) => {
            warn!(
                "cannot read saved bans {}: {error}; starting without them",
                file.display()
            );
            return Vec::new();
        }
    };
    match parse(&text) {
        Ok(bans) => bans,
        Err(problem) => {
            let aside = corrupt_name(&file, SystemTime::now());
            let outcome = match fs::rename(&file, &aside) {
                Ok(()) => format!("set aside as {}", aside.display()),
                Err(error) => format!("cannot set it aside ({error})"),
            };
            warn!(
                "saved bans {} are unreadable ({problem:#}): {outcome}; starting without them",
                file.display()
            );
            Vec::new()
        }
    }
}

fn parse(text: &[u8]) -> Result<Vec<SavedBan>> {
    let Version { version } = serde_json::from_slice(text)?;
    if version != FORMAT_VERSION {
        bail!("format version {version}, this scanguard reads {FORMAT_VERSION}");
    }
    let file: StateFile = serde_json::from_slice(text)?;
    for ban in &file.bans {
        reason_byte(&ban.reason)?;
    }
    Ok(file.bans)
}

/// `bans.json.corrupt-20261207T114700Z`.
pub fn corrupt_name(file: &Path, now: SystemTime) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let mut name = file.as_os_str().to_owned();
    name.push(format!(".corrupt-{stamp}"));
    PathBuf::from(name)
}

/// Which saved bans an unban lifts.
pub enum Lift<'a> {
    All,
    Inside(&'a [IpNet]),
}

/// Takes the bans `lift` names out of the saved bans, with those that ended; returns how many
/// each network had (one count for `All`). No state file: nothing to change, no counts.
pub fn forget(state_dir: &Path, lift: Lift<'_>) -> Result<Vec<usize>> {
    if !path(state_dir).exists() {
        return Ok(Vec::new());
    }
    let now = Clocks::now().unix_ms;
    let mut saved = load(state_dir);
    saved.retain(|ban| ban.expires_at_unix_ms > now);
    let counts = match lift {
        Lift::All => {
            let count = saved.len();
            saved.clear();
            vec![count]
        }
        Lift::Inside(nets) => nets
            .iter()
            .map(|net| {
                let before = saved.len();
                saved.retain(|ban| !net.contains(&ban.address));
                before - saved.len()
            })
            .collect(),
    };
    save_all(state_dir, saved)?;
    Ok(counts)
}

/// Saves `bans` as the whole file, e.g. after an unban took some out.
pub fn save_all(state_dir: &Path, bans: Vec<SavedBan>) -> Result<()> {
    let file = StateFile {
        version: FORMAT_VERSION,
        bans,
    };
    replace(&path(state_dir), |out| {
        serde_json::to_writer(&mut *out, &file)?;
        out.write_all(b"\n")?;
        Ok(())
    })
}

/// Removes the state file; returns whether there was one.
pub fn remove(state_dir: &Path) -> Result<bool> {
    let file = path(state_dir);
    match fs::remove_file(&file) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error).with_context(|| format!("cannot remove {}", file.display())),
    }
}

/// Replaces `file` with what `fill` writes: into a temporary file beside it, synced to disk,
/// renamed over `file`, and the rename synced by syncing the directory (rename(2) is atomic,
/// but only durable once the directory is on disk).
pub(super) fn replace(
    file: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let dir = file
        .parent()
        .with_context(|| format!("{} has no directory", file.display()))?;
    let mut temporary = file.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let written = (|| -> Result<()> {
        let created = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("cannot create {}", temporary.display()))?;
        let mut out = BufWriter::new(created);
        fill(&mut out)?;
        let created = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        created.sync_all()?;
        fs::rename(&temporary, file).with_context(|| {
            format!(
                "cannot rename {} to {}",
                temporary.display(),
                file.display()
            )
        })?;
        File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

//! Maps pinned by another build of scanguard, such as a persisted instance an upgrade left
//! behind, may hold another layout than this build's program reads: reused as they are, the
//! verifier would refuse the program with a page of its log, or the program would misread them.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use aya::maps::MapInfo;

use crate::bpf::object;

/// Refuses a pin in `pin_dir` among `names` whose key or value size differs from the
/// definition of the same map in `object`.
pub fn check(object: &[u8], pin_dir: &Path, names: &[&str]) -> Result<()> {
    let object = aya_obj::Object::parse(object).context("cannot parse the embedded object")?;
    for name in names {
        let path = pin_dir.join(name);
        let Some(wanted) = object.maps.get(object::object_map(name)) else {
            continue;
        };
        if !path.exists() {
            continue;
        }
        let pinned = MapInfo::from_pin(&path)
            .with_context(|| format!("cannot open the pinned map {}", path.display()))?;
        let pinned = (pinned.key_size(), pinned.value_size());
        let wanted = (wanted.key_size(), wanted.value_size());
        if pinned != wanted {
            let sizes = |(key, value): (u32, u32)| format!("{key}-byte keys, {value}-byte values");
            bail!(
                "{} was pinned by another version of scanguard ({}; this one needs {}): \
                 `scanguard --pin-dir {} detach` removes the old state, its bans with it",
                path.display(),
                sizes(pinned),
                sizes(wanted),
                pin_dir.display()
            );
        }
    }
    Ok(())
}

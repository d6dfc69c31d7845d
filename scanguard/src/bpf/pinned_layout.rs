//! Maps pinned by another build of scanguard, such as a persisted instance an upgrade left
//! behind, may hold another layout than this build's program reads: reused as they are, the
//! verifier would refuse the program with a page of its log, or the program would misread them.

use std::{path::Path, sync::OnceLock};

use anyhow::{Context as _, Result, anyhow, bail};
use aya::maps::MapInfo;

use crate::bpf::object::{MAPS, OBJECT, object_map};

/// The key and value sizes of every map this build's program pins, from its object.
#[derive(Debug)]
pub struct PinnedLayout {
    /// A pin's name and its (key, value) sizes, in the order of [`MAPS`].
    sizes: Vec<(&'static str, (u32, u32))>,
}

/// What is wrong with one pin.
#[derive(Debug)]
pub struct Mismatch {
    pub pin: &'static str,
    /// One line, as the commands print it.
    pub problem: String,
}

impl PinnedLayout {
    /// This build's layout: the embedded object is parsed the first time it is asked for, and
    /// never again.
    pub fn get() -> Result<&'static PinnedLayout> {
        static LAYOUT: OnceLock<Result<PinnedLayout, String>> = OnceLock::new();
        LAYOUT
            .get_or_init(|| PinnedLayout::parse(OBJECT).map_err(|error| format!("{error:#}")))
            .as_ref()
            .map_err(|error| anyhow!("{error}"))
    }

    /// The layout of the maps of [`MAPS`] that `object` defines.
    fn parse(object: &[u8]) -> Result<PinnedLayout> {
        let object = aya_obj::Object::parse(object).context("cannot parse the embedded object")?;
        let sizes = MAPS
            .into_iter()
            .filter_map(|pin| {
                let map = object.maps.get(object_map(pin))?;
                Some((pin, (map.key_size(), map.value_size())))
            })
            .collect();
        Ok(PinnedLayout { sizes })
    }

    /// Refuses the first pin in `pin_dir` whose key or value size differs from this layout.
    pub fn check(&self, pin_dir: &Path) -> Result<()> {
        match self.mismatches(pin_dir).into_iter().next() {
            Some(mismatch) => bail!("{}", mismatch.problem),
            None => Ok(()),
        }
    }

    /// Every pin in `pin_dir` that cannot be read with this layout, in the order of [`MAPS`],
    /// each opened once: one of another layout, or one that cannot be opened. Pins that do not
    /// exist are not looked for.
    pub fn mismatches(&self, pin_dir: &Path) -> Vec<Mismatch> {
        self.sizes
            .iter()
            .filter_map(|&(pin, wanted)| {
                let problem = check_pin(pin_dir, pin, wanted).err()?;
                Some(Mismatch {
                    pin,
                    problem: format!("{problem:#}"),
                })
            })
            .collect()
    }
}

fn check_pin(pin_dir: &Path, name: &str, wanted: (u32, u32)) -> Result<()> {
    let path = pin_dir.join(name);
    if !path.exists() {
        return Ok(());
    }
    let pinned = MapInfo::from_pin(&path)
        .with_context(|| format!("cannot open the pinned map {}", path.display()))?;
    let pinned = (pinned.key_size(), pinned.value_size());
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (key, value) sizes the object gives the map pinned as `pin`.
    fn sizes(pin: &str) -> Option<(u32, u32)> {
        let layout = PinnedLayout::get().unwrap();
        layout
            .sizes
            .iter()
            .find(|(name, _)| *name == pin)
            .map(|(_, sizes)| *sizes)
    }

    #[test]
    fn every_pinned_map_is_in_the_object() {
        for pin in MAPS {
            assert!(sizes(pin).is_some(), "{pin} is not in the object");
        }
    }

    #[test]
    fn the_global_variables_are_their_sections_one_value() {
        let value = |pin| sizes(pin).unwrap().1 as usize;
        assert_eq!(
            value(scanguard_common::config::CONFIG_MAP),
            size_of::<scanguard_common::config::Config>()
        );
        assert_eq!(
            value(scanguard_common::ports::PORT_ROLES_MAP),
            size_of::<scanguard_common::ports::PortRoles>()
        );
        assert_eq!(
            value(scanguard_common::ban_filter::BAN_EPOCH_MAP),
            size_of::<u64>()
        );
    }
}

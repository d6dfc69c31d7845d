//! Pins of another layout, as a persisted scanguard of another version leaves them, are refused
//! in one line before anything is loaded, and left as they are, and the commands that read them
//! say so too, while they read the pins of this build's layout beside them; pins of this
//! build's layout are reused. Needs root.

use std::path::PathBuf;

use aya::maps::{Array, MapData};
use scanguard::{
    bpf::{bpffs, pins::Pins, program},
    config::settings::Settings,
};
use scanguard_common::{
    ban::BANS_MAP,
    ban_filter::BAN_EPOCH_MAP,
    config::{CONFIG_MAP, Config},
    counters::COUNTERS_MAP,
    ports::{PORT_COUNT, PORT_ROLES_MAP},
};

use crate::support::lab::require_root;

/// A pin directory of this test's own, removed with everything in it.
struct PinDir(PathBuf);

impl PinDir {
    fn new(name: &str) -> PinDir {
        let path = PathBuf::from(format!(
            "/sys/fs/bpf/scanguard-layout-{}-{name}",
            std::process::id()
        ));
        bpffs::ensure_pin_dir(&path).expect("a pin directory on bpffs");
        PinDir(path)
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn pins_of_another_layout_are_refused_and_kept() {
    require_root();
    let dir = PinDir::new("stale");
    // The config as an earlier version laid it out: a shorter value.
    let stale: Array<MapData, [u8; 136]> = Array::create(1, 0).expect("creating a map");
    let pin = dir.0.join(CONFIG_MAP);
    stale.pin(&pin).expect("pinning it");
    assert_ne!(size_of::<Config>(), 136);

    let error = program::load(&Settings::default(), Some(&dir.0))
        .expect_err("pins of another layout were reused");
    let message = format!("{error:#}");
    assert!(
        message.contains("was pinned by another version of scanguard")
            && message.contains("136-byte values")
            && message.contains("detach"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(pin.exists(), "the stale pin was removed");

    // The commands that read the config say the same.
    let bans: Array<MapData, u64> = Array::create(1, 0).expect("creating a map");
    bans.pin(dir.0.join(BANS_MAP)).expect("pinning it");
    let pins = Pins::open(&dir.0).expect("pins with a ban map");
    let error = pins
        .config()
        .expect_err("a config of another layout was read");
    assert!(
        format!("{error:#}").contains("was pinned by another version of scanguard"),
        "{error:#}"
    );
}

#[test]
fn port_roles_pinned_as_a_map_of_bytes_are_refused() {
    require_root();
    let dir = PinDir::new("roles");
    // The port roles before they became a global variable: one byte per port, one per entry.
    let stale: Array<MapData, u8> = Array::create(PORT_COUNT, 0).expect("creating a map");
    let pin = dir.0.join(PORT_ROLES_MAP);
    stale.pin(&pin).expect("pinning it");

    let error = program::load(&Settings::default(), Some(&dir.0))
        .expect_err("port roles of another layout were reused");
    let message = format!("{error:#}");
    assert!(
        message.contains(PORT_ROLES_MAP) && message.contains("1-byte values"),
        "{message}"
    );
    assert!(pin.exists(), "the stale pin was removed");
}

#[test]
fn pins_of_this_layout_are_reused() {
    require_root();
    let dir = PinDir::new("same");
    let first = program::load(&Settings::default(), Some(&dir.0)).expect("first load");
    let settings = Settings {
        ban_seconds: 7,
        ..Settings::default()
    };
    let second = program::load(&settings, Some(&dir.0)).expect("load over its pins");
    // The global config's pin is the map both programs read: it holds the second's settings.
    let config = Pins::open(&dir.0)
        .and_then(|pins| pins.config())
        .expect("the pinned config");
    assert_eq!(config.ban_ns, 7_000_000_000);
    drop((first, second));
}

#[test]
fn a_pin_of_another_layout_spoils_only_its_own_map() {
    require_root();
    let dir = PinDir::new("mixed");
    let ebpf = program::load(&Settings::default(), Some(&dir.0)).expect("load");
    // The counters as another version might lay them out.
    std::fs::remove_file(dir.0.join(COUNTERS_MAP)).expect("unpinning the counters");
    let stale: Array<MapData, u64> = Array::create(1, 0).expect("creating a map");
    stale.pin(dir.0.join(COUNTERS_MAP)).expect("pinning it");

    let pins = Pins::open(&dir.0).expect("the pins");
    let Err(error) = pins.counters() else {
        panic!("counters of another layout were read");
    };
    assert!(
        format!("{error:#}").contains("was pinned by another version of scanguard"),
        "{error:#}"
    );
    assert_eq!(pins.bans().expect("the ban map").keys().count(), 0);
    // `unban` ends the cached verdicts through the epoch's pin alone.
    let epoch = || -> u64 {
        let pinned = MapData::from_pin(dir.0.join(BAN_EPOCH_MAP)).expect("the epoch's pin");
        let epoch: Array<MapData, u64> =
            Array::try_from(aya::maps::Map::Array(pinned)).expect("a one-entry array");
        epoch.get(&0, 0).expect("reading the epoch")
    };
    let before = epoch();
    pins.ban_epoch()
        .expect("the ban epoch")
        .touch()
        .expect("changing the ban epoch");
    assert!(epoch() > before, "the epoch stayed {before}");
    drop(ebpf);
}

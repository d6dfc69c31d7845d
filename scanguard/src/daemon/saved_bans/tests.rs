use scanguard_common::{
    ban::{ORIGIN_DETECTED, ORIGIN_MANUAL, REASON_MANUAL},
    config::BanMode,
    kind::Kind,
};

use super::{
    Clocks, SavedBan,
    store::{self, Lift},
};

const SECOND_MS: u64 = 1_000;
const SECOND_NS: u64 = 1_000_000_000;

/// A minute after boot, at a wall-clock time of 1,000,000 s.
const CLOCKS: Clocks = Clocks {
    boot_ns: 60 * SECOND_NS,
    unix_ms: 1_000_000 * SECOND_MS,
};

fn saved(reason: &str, manual: bool, banned_at: u64, expires_at: u64, duration: u64) -> SavedBan {
    SavedBan {
        address: "203.0.113.7".parse().unwrap(),
        reason: reason.to_string(),
        manual,
        banned_at_unix_ms: banned_at,
        expires_at_unix_ms: expires_at,
        duration_ms: duration,
        repeat: 2,
        dropped_packets: 9,
    }
}

#[test]
fn a_saved_ban_ends_when_it_ended_before_on_the_new_boot_clock() {
    let now = CLOCKS.unix_ms;
    // Banned 30 minutes ago for an hour: a reboot later, 30 minutes are left.
    let entry = saved(
        "null-scan",
        false,
        now - 1_800 * SECOND_MS,
        now + 1_800 * SECOND_MS,
        3_600 * SECOND_MS,
    );
    let fixed = entry.to_ban(BanMode::Fixed, &CLOCKS).unwrap().unwrap();
    assert_eq!(
        fixed.expires_at_ns(BanMode::Fixed),
        CLOCKS.boot_ns + 1_800 * SECOND_NS
    );
    // It began before this boot: the map dates it from the boot, the earliest it can say.
    assert_eq!(fixed.banned_at_ns, 0);
    assert_eq!(fixed.reason, Kind::NullScan as u8);
    assert_eq!(fixed.origin, ORIGIN_DETECTED);
    assert_eq!((fixed.repeat, fixed.dropped_packets), (2, 9));

    // A sliding ban that began 10 s ago within this boot keeps its start and full length.
    let entry = saved(
        "manual",
        true,
        now - 10 * SECOND_MS,
        now + 50 * SECOND_MS,
        60 * SECOND_MS,
    );
    let sliding = entry.to_ban(BanMode::Sliding, &CLOCKS).unwrap().unwrap();
    assert_eq!(sliding.banned_at_ns, 50 * SECOND_NS);
    assert_eq!(sliding.duration_ns, 60 * SECOND_NS);
    assert_eq!(
        sliding.expires_at_ns(BanMode::Sliding),
        CLOCKS.boot_ns + 50 * SECOND_NS
    );
    assert_eq!(
        (sliding.reason, sliding.origin),
        (REASON_MANUAL, ORIGIN_MANUAL)
    );

    // Ended while the machine was down: not restored.
    let ended = saved(
        "syn-scan",
        false,
        now - 120 * SECOND_MS,
        now,
        60 * SECOND_MS,
    );
    assert_eq!(ended.to_ban(BanMode::Fixed, &CLOCKS).unwrap(), None);
    let unknown = saved("teleport-scan", false, now, now + SECOND_MS, SECOND_MS);
    assert!(unknown.to_ban(BanMode::Fixed, &CLOCKS).is_err());
}

#[test]
fn boot_and_wall_clock_times_convert_both_ways() {
    for boot_ns in [0, 30 * SECOND_NS, 60 * SECOND_NS, 3_600 * SECOND_NS] {
        let unix_ms = CLOCKS.unix_ms_at(boot_ns);
        assert_eq!(CLOCKS.boot_ns_at(unix_ms), boot_ns);
    }
    // An endless ban stays endless rather than wrapping.
    assert!(CLOCKS.unix_ms_at(u64::MAX) > CLOCKS.unix_ms + 500 * 365 * 86_400 * SECOND_MS);
    assert_eq!(CLOCKS.boot_ns_at(u64::MAX), u64::MAX);
    // Before this boot: the boot itself.
    assert_eq!(CLOCKS.boot_ns_at(0), 0);
}

#[test]
fn unbans_take_sources_and_networks_out_of_the_saved_bans_and_keep_the_rest() {
    let dir = std::env::temp_dir().join(format!("scanguard-saved-bans-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let now = Clocks::now().unix_ms;
    let at = |address: &str, expires_at: u64| SavedBan {
        address: address.parse().unwrap(),
        ..saved("syn-scan", false, now, expires_at, 3_600 * SECOND_MS)
    };
    let later = now + 3_600 * SECOND_MS;
    let kept = at("2001:db8::7", later);
    store::save_all(
        &dir,
        vec![
            at("203.0.113.7", later),
            at("198.51.100.1", later),
            at("198.51.100.2", later),
            at("192.0.2.1", now - SECOND_MS),
            kept.clone(),
        ],
    )
    .unwrap();
    assert_eq!(store::load(&dir).len(), 5);
    let nets = [
        "203.0.113.7/32".parse().unwrap(),
        "198.51.100.0/24".parse().unwrap(),
        "10.0.0.1/32".parse().unwrap(),
    ];
    // The ended ban goes too, uncounted.
    assert_eq!(store::forget(&dir, Lift::Inside(&nets)).unwrap(), [1, 2, 0]);
    assert_eq!(store::load(&dir), [kept]);
    assert_eq!(store::forget(&dir, Lift::All).unwrap(), [1]);
    assert!(store::load(&dir).is_empty());
    assert!(store::remove(&dir).unwrap());
    // No file: nothing to change, and no file made.
    assert!(store::forget(&dir, Lift::All).unwrap().is_empty());
    assert!(!store::path(&dir).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

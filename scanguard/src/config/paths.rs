//! Where scanguard keeps its state on the host.

/// bpffs directory for pinned maps and (with `--persist`) links.
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/scanguard";
/// Root-only runtime directory: the daemon's lock and status file.
pub const DEFAULT_RUN_DIR: &str = "/run/scanguard";
pub const DEFAULT_CONFIG_FILE: &str = "/etc/scanguard/scanguard.toml";
/// Survives a reboot: the saved bans (see `daemon::saved_bans`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/scanguard";

pub const LOCK_FILE: &str = "attach.lock";
pub const STATUS_FILE: &str = "status.json";
/// Subdirectory of the pin directory holding pinned XDP links, one per interface.
pub const LINKS_DIR: &str = "links";
pub const EVENTS_SOCKET: &str = "events.sock";

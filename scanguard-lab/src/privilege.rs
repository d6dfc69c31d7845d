//! The root check every lab operation starts with (namespaces need CAP_SYS_ADMIN).

/// Whether this process runs as root, which every lab operation needs.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

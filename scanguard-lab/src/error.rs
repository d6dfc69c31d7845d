//! The lab's error type, whose messages tell what to do (run as root, fix a role name...).

use std::{fmt, io, process::ExitStatus};

/// Why building, using or tearing down a lab failed.
#[derive(thiserror::Error)]
pub enum LabError {
    #[error(
        "scanguard-lab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network namespaces; \
         run the kernel tests as root, e.g. `cargo xtask test`"
    )]
    NotRoot,
    #[error("could not run `{command}`: {source}")]
    Spawn { command: String, source: io::Error },
    #[error("`{command}` failed ({status}): {output}")]
    CommandFailed {
        command: String,
        status: ExitStatus,
        output: String,
    },
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("{what}: {source}")]
    Sys { what: String, source: nix::Error },
    #[error("invalid role {0:?}: use 1 to 10 characters from a-z and 0-9")]
    InvalidRole(String),
    #[error("segment {0} is full: a lab segment holds at most 254 hosts")]
    SegmentFull(u8),
    #[error("a lab holds at most 256 segments")]
    TooManySegments,
    #[error("`{command}` did not finish within {after:?}; killed it")]
    TimedOut {
        command: String,
        after: std::time::Duration,
    },
    #[error("Docker engine: {0}")]
    Engine(String),
}

pub type Result<T> = std::result::Result<T, LabError>;

/// Tests `.expect()` lab results, which prints `Debug`: make that the readable
/// message (such as the one telling to run as root) rather than a struct dump.
impl fmt::Debug for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

//! One engine fixture at a time: an abstract unix socket bound for as long as a fixture
//! lives. Only one socket can hold the name, threads and processes alike, and the kernel
//! frees it when its holder exits however it ends, so no lock file is left behind. Abstract
//! names belong to a network namespace, as the engine's rules and links do.

use std::{
    io::ErrorKind,
    os::unix::net::UnixListener,
    os::{linux::net::SocketAddrExt as _, unix::net::SocketAddr},
    time::{Duration, Instant},
};

use crate::{LabError, Result};

const NAME: &[u8] = b"scanguard-lab-docker-engine";
/// A test waits for the others' engines: a few tests of well under a minute each.
const WAIT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(50);

pub(super) struct EngineLock(#[expect(dead_code, reason = "held, never read")] UnixListener);

impl EngineLock {
    pub(super) fn acquire() -> Result<EngineLock> {
        let address = SocketAddr::from_abstract_name(NAME).map_err(|source| LabError::Io {
            what: "name the engine lock".to_string(),
            source,
        })?;
        let deadline = Instant::now() + WAIT;
        loop {
            match UnixListener::bind_addr(&address) {
                Ok(listener) => return Ok(EngineLock(listener)),
                Err(error) if error.kind() == ErrorKind::AddrInUse && Instant::now() < deadline => {
                    std::thread::sleep(POLL);
                }
                Err(source) => {
                    return Err(LabError::Io {
                        what: format!(
                            "take the Docker engine lock (another test's engine for over {WAIT:?}?)"
                        ),
                        source,
                    });
                }
            }
        }
    }
}

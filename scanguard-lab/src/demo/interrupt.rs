//! Ctrl-C (and SIGTERM, SIGHUP) as a flag that long-running demo code polls, so it can stop
//! between steps and tear the lab down through the usual `Drop`s instead of dying with
//! namespaces, daemons and pins left behind.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::{
    libc::c_int,
    sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction},
};

use super::{DemoError, DemoResult, failed};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: c_int) {
    // An atomic store is async-signal-safe; everything else happens outside the handler.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// From now on SIGINT, SIGTERM and SIGHUP set the flag instead of killing this process.
/// Children get the default dispositions back when they exec (signal(7)), so an nmap or a
/// daemon started later still stops on Ctrl-C.
pub fn install() -> DemoResult<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(signal, &action) }
            .map_err(|error| failed(format!("cannot handle {signal}: {error}")))?;
    }
    Ok(())
}

/// Whether a signal arrived since [`install`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// `Err(Interrupted)` once a signal arrived.
pub fn check() -> DemoResult<()> {
    if interrupted() {
        Err(DemoError::Interrupted)
    } else {
        Ok(())
    }
}

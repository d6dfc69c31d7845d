//! Polling for a condition with a deadline, for what the kernel or a daemon does in its own time.

use std::time::{Duration, Instant};

/// Polls `condition` every `poll` until it holds or `timeout` has passed;
/// returns whether it held. Checks at least once, so a zero timeout still asks.
pub fn wait_until(timeout: Duration, poll: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_true_as_soon_as_the_condition_holds() {
        let mut calls = 0;
        let held = wait_until(Duration::from_secs(5), Duration::from_millis(1), || {
            calls += 1;
            calls == 3
        });
        assert!(held);
        assert_eq!(calls, 3);
    }

    #[test]
    fn gives_up_after_the_timeout_but_asks_at_least_once() {
        let mut calls = 0;
        let held = wait_until(Duration::ZERO, Duration::from_millis(1), || {
            calls += 1;
            false
        });
        assert!(!held);
        assert_eq!(calls, 1);
    }
}

//! The terminal while the view runs: raw mode and the alternate screen, given back on every way
//! out. A guard restores it on return and unwinding; a panic hook restores it before the panic
//! message is printed, so the message lands on the normal screen; a signal ends the view
//! through the guard, or restores it from outside if the view does not end in time.

use std::{
    io::{Stdout, stdin, stdout},
    os::fd::AsFd as _,
    sync::{
        Once,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use crossterm::{
    cursor::{Hide, Show},
    event::{self, Event},
    execute,
    terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
};
use nix::{
    errno::Errno,
    poll::{PollFd, PollFlags, PollTimeout, poll},
};
use ratatui::{Frame, Terminal, backend::CrosstermBackend};

/// Whether the terminal is in raw mode on the alternate screen: restored once, by whichever
/// way out comes first.
static TAKEN: AtomicBool = AtomicBool::new(false);

pub struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    /// Raw mode, the alternate screen, no cursor.
    pub fn enter() -> Result<Screen> {
        restore_on_panic();
        enable_raw_mode().context("cannot put the terminal in raw mode")?;
        TAKEN.store(true, Ordering::SeqCst);
        let screen = || -> Result<Screen> {
            execute!(stdout(), EnterAlternateScreen, Hide)?;
            Ok(Screen {
                terminal: Terminal::new(CrosstermBackend::new(stdout()))?,
            })
        };
        // On failure the guard does not exist yet: give the terminal back here.
        screen().inspect_err(|_| restore())
    }

    /// The next key press or resize within `timeout`, if any; fails once the terminal hung
    /// up. crossterm is asked only while the terminal is there: on a hung-up one it would
    /// read the end of file forever.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<Event>> {
        // Events crossterm read along with an earlier one come first.
        for wait in [Duration::ZERO, timeout] {
            wait_for_input(wait)?;
            if event::poll(Duration::ZERO)? {
                return Ok(Some(event::read()?));
            }
        }
        Ok(None)
    }

    pub fn draw(&mut self, draw: impl FnOnce(&mut Frame)) -> Result<()> {
        self.terminal
            .draw(draw)
            .context("cannot draw on the terminal")?;
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Waits up to `wait` for the terminal (stdin) to have input; fails if it hung up.
fn wait_for_input(wait: Duration) -> Result<()> {
    let stdin = stdin();
    let mut terminal = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    match poll(
        &mut terminal,
        PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX),
    ) {
        Ok(_) | Err(Errno::EINTR) => {}
        Err(error) => return Err(error).context("cannot wait for the terminal"),
    }
    let gone = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
    if terminal[0]
        .revents()
        .is_some_and(|events| events.intersects(gone))
    {
        bail!("the terminal hung up");
    }
    Ok(())
}

/// Leaves the alternate screen and raw mode, shows the cursor; once.
pub fn restore() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        let _ = execute!(stdout(), LeaveAlternateScreen, Show);
        let _ = disable_raw_mode();
    }
}

/// Chains a hook that restores the terminal before the one in place prints the panic.
fn restore_on_panic() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            print(info);
        }));
    });
}

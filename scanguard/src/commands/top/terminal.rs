//! The terminal while the view runs: raw mode and the alternate screen, given back on every way
//! out. A guard restores it on return and unwinding; a panic hook restores it before the panic
//! message is printed, so the message lands on the normal screen; signals set a flag the view
//! polls, so they end it through the guard too.

use std::{
    io::{Stdout, stdout},
    sync::{
        Once,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::{Context as _, Result};
use crossterm::{
    cursor::{Hide, Show},
    execute,
    terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
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

/// Leaves the alternate screen and raw mode, shows the cursor; once.
fn restore() {
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

//! `scanguard top`: the running daemon on one screen, refreshed every second. Who is scanning
//! (banned sources and what they still send), what they are after (kinds, ports), and whether
//! it works (packets dropped, detections as they come).

mod collector;
mod feed;
mod history;
mod input;
mod once;
mod services;
mod snapshot;
mod terminal;
mod units;
mod view;

use std::{
    io::IsTerminal as _,
    sync::{
        Arc,
        atomic::{AtomicI32, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Result, anyhow, bail};
use crossterm::event::{self, Event, KeyEventKind};
use tokio::signal::unix::{SignalKind, signal};

use self::{
    collector::Collector,
    input::{Action, Ui},
    terminal::Screen,
};
use crate::{cli::Cli, cli::TopArgs, privileges};

/// How often the maps are read again.
const REFRESH: Duration = Duration::from_secs(1);
/// The longest the view waits for a key before it looks for a signal.
const POLL: Duration = Duration::from_millis(100);

pub async fn execute(cli: &Cli, args: &TopArgs) -> Result<()> {
    privileges::require()?;
    let mut collector = Collector::open(&cli.pin_dir, &cli.run_dir)?;
    let interactive = !(args.once || args.json);
    if interactive && !std::io::stdout().is_terminal() {
        bail!(
            "`scanguard top` draws on a terminal and stdout is not one: use `--once` or `--json` \
             for a snapshot"
        );
    }
    if !interactive {
        collector.sample()?;
        tokio::time::sleep(REFRESH).await;
        return once::print(&collector.sample()?.printed(), args.json);
    }
    let stopped_by = Arc::new(AtomicI32::new(0));
    for (kind, number) in [
        (SignalKind::interrupt(), libc::SIGINT),
        (SignalKind::terminate(), libc::SIGTERM),
        (SignalKind::hangup(), libc::SIGHUP),
    ] {
        let mut signals = signal(kind)?;
        let stopped_by = Arc::clone(&stopped_by);
        tokio::spawn(async move {
            if signals.recv().await.is_some() {
                stopped_by.store(number, Ordering::SeqCst);
            }
        });
    }
    // The view blocks on the terminal; the runtime stays free for the signal listeners.
    let signalled = Arc::clone(&stopped_by);
    tokio::task::spawn_blocking(move || show(collector, &signalled))
        .await
        .map_err(|error| anyhow!("the view failed: {error}"))??;
    // The terminal is restored by now. Ended by a signal: exit as shells report one.
    match stopped_by.load(Ordering::SeqCst) {
        0 => Ok(()),
        number => std::process::exit(128 + number),
    }
}

/// Runs the view until `q`, Ctrl-C or a signal.
fn show(mut collector: Collector, stopped_by: &AtomicI32) -> Result<()> {
    let mut screen = Screen::enter()?;
    let mut ui = Ui::default();
    let mut shown = collector.sample()?;
    let mut next = Instant::now() + REFRESH;
    let mut dirty = true;
    while stopped_by.load(Ordering::SeqCst) == 0 {
        if dirty {
            screen.draw(|frame| view::draw(frame, &shown, &ui))?;
            dirty = false;
        }
        let now = Instant::now();
        if now >= next {
            // Paused, the readings go on (so rates stay true) but the screen holds still.
            let fresh = collector.sample()?;
            if !ui.paused {
                shown = fresh;
                dirty = true;
            }
            next = now + REFRESH;
            continue;
        }
        if !event::poll((next - now).min(POLL))? {
            continue;
        }
        dirty = true;
        let Event::Key(key) = event::read()? else {
            // A resize: drawn again.
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        let listed: Vec<_> = input::listed(&shown.banned, &ui.filter)
            .into_iter()
            .map(|source| source.address)
            .collect();
        match ui.key(key, &listed) {
            Action::Nothing => {}
            Action::Quit => break,
            Action::Unban(address) => {
                ui.message = Some(match collector.unban(address) {
                    Ok(true) => format!("unbanned {address}"),
                    Ok(false) => format!("{address} was not banned"),
                    Err(error) => format!("cannot unban {address}: {error:#}"),
                });
                // Shown gone at once, paused or not.
                shown = collector.sample()?;
                next = Instant::now() + REFRESH;
            }
        }
    }
    Ok(())
}

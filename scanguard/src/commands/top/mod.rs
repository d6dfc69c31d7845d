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
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Result, anyhow, bail};
use crossterm::event::{Event, KeyEventKind};
use tokio::signal::unix::{SignalKind, signal};

use self::{
    collector::Collector,
    input::{Action, Ui},
    terminal::Screen,
};
use crate::{
    bpf::privileges,
    cli::{Cli, TopArgs},
};

/// How often the maps are read again.
const REFRESH: Duration = Duration::from_secs(1);
/// The longest the view waits for a key before it looks for a signal.
const POLL: Duration = Duration::from_millis(100);
/// How long a signal waits for the view to end by itself.
const STOP_GRACE: Duration = Duration::from_millis(500);

pub async fn execute(cli: &Cli, args: &TopArgs) -> Result<()> {
    privileges::require()?;
    let mut collector = Collector::open(&cli.pin_dir, &cli.run_dir, &cli.state_dir)?;
    let interactive = !(args.once || args.json);
    if interactive && !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        bail!(
            "`scanguard top` draws on a terminal and reads keys from it, and stdin or stdout is \
             not one: use `--once` or `--json` for a snapshot"
        );
    }
    if !interactive {
        collector.sample()?;
        tokio::time::sleep(REFRESH).await;
        return once::print(&collector.sample()?.printed(), args.json);
    }
    // Listening before the view starts, so that no signal ends the process unrestored.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    // The view blocks on the terminal; the runtime stays free for the signals.
    let mut view = tokio::task::spawn_blocking(move || show(collector, &stopped));
    let number = tokio::select! {
        joined = &mut view => {
            return joined.map_err(|error| anyhow!("the view failed: {error}"))?;
        }
        _ = interrupt.recv() => libc::SIGINT,
        _ = terminate.recv() => libc::SIGTERM,
        _ = hangup.recv() => libc::SIGHUP,
    };
    // The view sees `stop` within a poll and restores the terminal on its way out; if it does
    // not in time, the terminal is restored from here.
    stop.store(true, Ordering::SeqCst);
    let _ = tokio::time::timeout(STOP_GRACE, &mut view).await;
    terminal::restore();
    // Exit as shells report a command a signal ended.
    std::process::exit(128 + number)
}

/// Runs the view until `q`, Ctrl-C or `stop`.
fn show(mut collector: Collector, stop: &AtomicBool) -> Result<()> {
    let mut screen = Screen::enter()?;
    let mut ui = Ui::default();
    let mut shown = collector.sample()?;
    let mut next = Instant::now() + REFRESH;
    let mut dirty = true;
    while !stop.load(Ordering::SeqCst) {
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
        let Some(event) = screen.next_event((next - now).min(POLL))? else {
            continue;
        };
        dirty = true;
        let Event::Key(key) = event else {
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

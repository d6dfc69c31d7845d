//! Following `--container`s: a container that starts again (`docker restart`, `docker stop`
//! then `start`, a restart policy) comes back on new veths, which the engine's event stream
//! announces. The old veths went with the stop, and the follower forgot them then.

use std::{
    pin::pin,
    time::{Duration, SystemTime},
};

use anyhow::{Result, bail};
use futures::StreamExt as _;
use log::{info, warn};
use tokio::sync::mpsc;

use crate::host::{
    docker::Engine,
    links::{self, Link},
};

/// Between attempts to reach an engine that is away (restarting, say).
const RETRY: Duration = Duration::from_secs(2);
/// Starts waiting for the follower; a handful at most, one per container.
const QUEUE: usize = 16;
/// Taken off the time the watch starts from, so a start in the same second as the
/// resolution is replayed rather than missed; a replay only finds the veths attached.
const SLACK_SECONDS: i64 = 1;

/// The host-side veths of a followed container that has just started, each with the name of
/// its bridge.
#[derive(Debug)]
pub struct Started {
    pub container: String,
    pub veths: Vec<(Link, String)>,
}

/// Watches the engine for `containers` (names or ids) starting after `since`, until the
/// receiver is dropped.
pub fn watch(containers: Vec<String>, since: SystemTime) -> mpsc::Receiver<Started> {
    let (sender, receiver) = mpsc::channel(QUEUE);
    let since = since
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64 - SLACK_SECONDS);
    tokio::spawn(run(containers, since, sender));
    receiver
}

async fn run(containers: Vec<String>, mut since: i64, sender: mpsc::Sender<Started>) {
    let mut away = false;
    loop {
        match follow(&containers, &mut since, &sender, &mut away).await {
            Ok(()) => return,
            Err(error) if !away => {
                warn!(
                    "cannot follow the restarts of {}: {error:#}; trying again every {RETRY:?}",
                    containers.join(", ")
                );
                away = true;
            }
            Err(_) => {}
        }
        if sender.is_closed() {
            return;
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Follows one connection's event stream; `Ok` once nobody listens any more.
async fn follow(
    containers: &[String],
    since: &mut i64,
    sender: &mpsc::Sender<Started>,
    away: &mut bool,
) -> Result<()> {
    let engine = Engine::connect().await?;
    if std::mem::take(away) {
        info!("following the restarts of {} again", containers.join(", "));
    }
    let mut starts = pin!(engine.container_starts(containers, *since));
    loop {
        let start = tokio::select! {
            () = sender.closed() => return Ok(()),
            start = starts.next() => start,
        };
        let Some(start) = start else {
            bail!("the engine at {} ended its event stream", engine.address)
        };
        let start = start?;
        *since = start.time;
        let host_links = links::dump().await?;
        let veths = match engine.container_veths(&start.id, &host_links).await {
            Ok(veths) => veths,
            // Stopped again already, say: its next start will say so.
            Err(error) => {
                info!("container {} started: {error:#}", start.name);
                continue;
            }
        };
        let started = Started {
            container: start.name,
            veths,
        };
        if sender.send(started).await.is_err() {
            return Ok(());
        }
    }
}

//! The daemon's events, fanned out as JSON lines over a root-only unix socket to any number of
//! `scanguard events` viewers. A viewer that stops reading is dropped; it never slows the daemon.

use std::{
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, Result, anyhow};
use log::warn;
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    net::{UnixListener, UnixStream},
    sync::broadcast::{self, error::RecvError},
};

use super::{Detection, render};
use crate::config::paths::EVENTS_SOCKET;

/// Events a viewer may fall behind before it is dropped.
const VIEWER_BACKLOG: usize = 4096;
/// A viewer whose socket stays full this long is dropped.
const VIEWER_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Fanout {
    sender: broadcast::Sender<Arc<str>>,
    path: PathBuf,
}

impl Fanout {
    pub fn bind(run_dir: &Path) -> Result<Fanout> {
        let path = run_dir.join(EVENTS_SOCKET);
        // A socket left by a daemon that died; the daemon lock says nobody else owns it.
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let (sender, _) = broadcast::channel(VIEWER_BACKLOG);
        let viewers = sender.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, viewers.subscribe()));
            }
        });
        Ok(Fanout { sender, path })
    }

    pub fn publish(&self, detection: &Detection) {
        if let Ok(json) = serde_json::to_string(detection) {
            // No viewer is not an error.
            let _ = self.sender.send(format!("{json}\n").into());
        }
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve(mut stream: UnixStream, mut events: broadcast::Receiver<Arc<str>>) {
    loop {
        let line = match events.recv().await {
            Ok(line) => line,
            Err(RecvError::Lagged(missed)) => {
                warn!("dropping a slow events viewer ({missed} events behind)");
                return;
            }
            Err(RecvError::Closed) => return,
        };
        match tokio::time::timeout(VIEWER_WRITE_TIMEOUT, stream.write_all(line.as_bytes())).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                warn!("dropping an events viewer that stopped reading");
                return;
            }
        }
    }
}

/// `scanguard events`: prints the running daemon's events as they come.
pub async fn follow(run_dir: &Path, json: bool) -> Result<()> {
    let path = run_dir.join(EVENTS_SOCKET);
    let stream = UnixStream::connect(&path).await.map_err(|_| {
        anyhow!(
            "no running scanguard daemon (no event socket at {}): start one with `scanguard attach`",
            path.display()
        )
    })?;
    let mut lines = BufReader::new(stream).lines();
    while let Some(line) = lines.next_line().await? {
        if json {
            println!("{line}");
        } else {
            let detection: Detection =
                serde_json::from_str(&line).context("the daemon sent an unreadable event")?;
            println!("{}", render::log_line(&detection));
        }
    }
    Ok(())
}

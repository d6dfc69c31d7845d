//! A stand-in Docker engine: answers `GET` requests of the Engine API on a unix socket
//! with canned JSON, so the client side (bollard, `--docker-network`, `--container`,
//! `ifaces`) can be tested end to end where no Docker engine runs. It knows only the paths
//! it is given; anything else is a 404 with the engine's error shape. It speaks API 1.41, and
//! refuses a request that names a newer version, as an engine does, or none at all, which an
//! engine would answer in its newest shape.

use std::{
    collections::HashMap,
    io::{BufRead as _, BufReader, Write as _},
    os::unix::net::{UnixListener, UnixStream},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use serde_json::Value;

use crate::{LabError, Result};

/// The engine this stands for: Debian's docker.io 20.10.
const API_VERSION: (u32, u32) = (1, 41);
const VERSION: &str =
    r#"{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux"}"#;

/// Serves until dropped; then the socket file is removed.
pub struct FakeDockerEngine {
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeDockerEngine {
    /// Answers each path in `routes` (without the `/v1.xx` prefix, e.g.
    /// `/containers/web/json`) with its JSON, `/_ping` with `OK` and `/version` with 1.41.
    pub fn serve(socket: &Path, routes: HashMap<String, Value>) -> Result<FakeDockerEngine> {
        let _ = std::fs::remove_file(socket);
        let listener = UnixListener::bind(socket).map_err(|source| LabError::Io {
            what: format!("bind {}", socket.display()),
            source,
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = answer(stream, &routes);
                }
            }
        });
        Ok(FakeDockerEngine {
            socket: socket.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }

    /// The `DOCKER_HOST` value that points a client here.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for FakeDockerEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees the flag.
        let _ = UnixStream::connect(&self.socket);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// One request per connection (`Connection: close`); requests are GETs without a body.
fn answer(stream: UnixStream, routes: &HashMap<String, Value>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (version, path) = api_path(target);
    let refuse = |status, message: String| {
        (
            status,
            "application/json",
            serde_json::json!({ "message": message }).to_string(),
        )
    };
    let (status, content_type, body) = match version {
        _ if path == "/_ping" => ("200 OK", "text/plain", "OK".to_string()),
        _ if path == "/version" => ("200 OK", "application/json", VERSION.to_string()),
        None => refuse(
            "400 Bad Request",
            format!("{path}: this engine wants a version"),
        ),
        Some(version) if version > API_VERSION.1 => refuse(
            "400 Bad Request",
            format!(
                "client version 1.{version} is too new. Maximum supported API version is 1.{}",
                API_VERSION.1
            ),
        ),
        Some(_) => match routes.get(path) {
            Some(json) => ("200 OK", "application/json", json.to_string()),
            None => refuse("404 Not Found", not_found(path)),
        },
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// The engine's wording for an unknown container or network.
fn not_found(path: &str) -> String {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["containers", name, "json"] => format!("No such container: {name}"),
        ["networks", name] => format!("network {name} not found"),
        _ => format!("page not found: {path}"),
    }
}

/// `/v1.41/containers/web/json?size=false` → (Some(41), `/containers/web/json`).
fn api_path(target: &str) -> (Option<u32>, &str) {
    let path = target.split('?').next().unwrap_or(target);
    let versioned = path.strip_prefix("/v1.").and_then(|rest| {
        let slash = rest.find('/')?;
        Some((rest[..slash].parse().ok()?, &rest[slash..]))
    });
    match versioned {
        Some((minor, path)) => (Some(minor), path),
        None => (None, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_lose_version_and_query() {
        assert_eq!(
            api_path("/v1.41/containers/web/json?size=false"),
            (Some(41), "/containers/web/json")
        );
        assert_eq!(api_path("/_ping"), (None, "/_ping"));
        assert_eq!(api_path("/networks"), (None, "/networks"));
    }
}

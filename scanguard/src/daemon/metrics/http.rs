//! A minimal HTTP/1.1 responder for scrapes: `GET /metrics` (and `HEAD`), one request per
//! connection, `Connection: close`. Scrapers need no more, and it keeps a web framework out of
//! the daemon.

use std::{sync::Arc, time::Duration};

use log::{debug, warn};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};

use super::CONTENT_TYPE;

/// Produces the exposition; blocking (it reads maps), so it runs on the blocking pool.
pub type Scrape = Arc<dyn Fn() -> anyhow::Result<String> + Send + Sync>;

/// Scrapes served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 16;
/// A request head larger than this is refused: a scraper's is a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// A connection that has not been answered by then is dropped.
const TIMEOUT: Duration = Duration::from_secs(10);
const TEXT: &str = "text/plain; charset=utf-8";

pub async fn serve(listener: TcpListener, scrape: Scrape) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin.
                warn!("metrics: cannot accept a connection: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let scrape = Arc::clone(&scrape);
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(TIMEOUT, answer(stream, scrape)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => debug!("metrics: connection failed: {error}"),
                Err(_) => debug!("metrics: connection timed out"),
            }
        });
    }
}

async fn answer(mut stream: TcpStream, scrape: Scrape) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let response = match route(&head) {
        Route::Metrics { with_body } => match tokio::task::spawn_blocking(move || scrape()).await {
            Ok(Ok(body)) => response("200 OK", CONTENT_TYPE, &body, with_body),
            Ok(Err(error)) => {
                warn!("metrics: cannot read the maps: {error:#}");
                let body = format!("cannot read the maps: {error:#}\n");
                response("500 Internal Server Error", TEXT, &body, with_body)
            }
            Err(error) => {
                let body = format!("scrape failed: {error}\n");
                response("500 Internal Server Error", TEXT, &body, with_body)
            }
        },
        Route::NotFound => response("404 Not Found", TEXT, "try /metrics\n", true),
        Route::MethodNotAllowed => response(
            "405 Method Not Allowed\r\nAllow: GET, HEAD",
            TEXT,
            "GET or HEAD only\n",
            true,
        ),
        Route::BadRequest => response("400 Bad Request", TEXT, "bad request\n", true),
    };
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Reads up to the blank line that ends the request head, so closing the connection after the
/// answer does not reset it under the client with unread request bytes.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !ends_head(&head) && head.len() <= MAX_HEAD {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(head)
}

fn ends_head(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics { with_body: bool },
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

/// Routes on the request line: `METHOD TARGET HTTP/1.x`.
fn route(head: &[u8]) -> Route {
    if head.len() > MAX_HEAD || !ends_head(head) {
        return Route::BadRequest;
    }
    let Some(line) = head
        .split(|&byte| byte == b'\n')
        .next()
        .and_then(|line| std::str::from_utf8(line).ok())
    else {
        return Route::BadRequest;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::BadRequest;
    }
    let path = target.split('?').next().unwrap_or_default();
    if path != "/metrics" {
        return Route::NotFound;
    }
    match method {
        "GET" => Route::Metrics { with_body: true },
        "HEAD" => Route::Metrics { with_body: false },
        _ => Route::MethodNotAllowed,
    }
}

/// `status` is the code and reason, and may carry more header lines after them.
fn response(status: &str, content_type: &str, body: &str, with_body: bool) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if with_body { body } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_routed() {
        let cases: [(&[u8], Route); 8] = [
            (
                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                Route::Metrics { with_body: true },
            ),
            (
                b"GET /metrics?name[]=x HTTP/1.0\r\n\r\n",
                Route::Metrics { with_body: true },
            ),
            (
                b"HEAD /metrics HTTP/1.1\n\n",
                Route::Metrics { with_body: false },
            ),
            (b"GET / HTTP/1.1\r\n\r\n", Route::NotFound),
            (b"POST /metrics HTTP/1.1\r\n\r\n", Route::MethodNotAllowed),
            (b"GET /metrics\r\n\r\n", Route::BadRequest),
            (b"GET /metrics HTTP/1.1\r\n", Route::BadRequest),
            (b"\xff\xfe /metrics HTTP/1.1\r\n\r\n", Route::BadRequest),
        ];
        for (head, expected) in cases {
            assert_eq!(route(head), expected, "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn responses_carry_length_and_close() {
        let text = response("200 OK", CONTENT_TYPE, "a 1\n", true);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("\r\nContent-Length: 4\r\n"), "{text}");
        assert!(text.ends_with("Connection: close\r\n\r\na 1\n"), "{text}");
        let head_only = response("200 OK", CONTENT_TYPE, "a 1\n", false);
        assert!(head_only.ends_with("\r\n\r\n"), "{head_only}");
        assert!(head_only.contains("Content-Length: 4"), "{head_only}");
    }
}

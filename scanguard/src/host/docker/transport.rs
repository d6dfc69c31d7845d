//! How bollard's requests reach the engine: its unix socket, or `tcp://`, with the Engine API
//! version pinned in every path. bollard 0.21 builds `/v1.xx/...` and then loses it (its
//! `Uri::parse` joins the absolute request path onto the versioned base), so without this an
//! engine answers every request in its newest shape, not in one bollard's models know.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::{Result, bail};
use bollard::{API_DEFAULT_VERSION, BollardRequest, ClientVersion, Docker, errors::Error};
use http::{Request, Response};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use hyperlocal::UnixConnector;

/// Where the engine listens, as `DOCKER_HOST` says it.
#[derive(Debug)]
pub enum Endpoint {
    Unix(PathBuf),
    /// `host:port`.
    Tcp(String),
}

impl Endpoint {
    /// `unix:///path/docker.sock`, `tcp://host:port` or `http://host:port`.
    pub fn parse(address: &str) -> Result<Endpoint> {
        if let Some(path) = address.strip_prefix("unix://") {
            return Ok(Endpoint::Unix(path.into()));
        }
        for scheme in ["tcp://", "http://"] {
            if let Some(authority) = address.strip_prefix(scheme) {
                return Ok(Endpoint::Tcp(authority.trim_end_matches('/').to_string()));
            }
        }
        bail!(
            "DOCKER_HOST={address} is not supported; use unix:///path/to/docker.sock or tcp://HOST:PORT"
        )
    }
}

/// A client whose requests name API `version`, or none: an engine answers an unversioned
/// request in its own version, which is how the version to pin is learnt.
pub fn client(
    endpoint: Arc<Endpoint>,
    version: Option<ClientVersion>,
    timeout: Duration,
) -> Result<Docker> {
    let prefix = version.map_or_else(String::new, |version| format!("/v{version}"));
    let docker = Docker::connect_with_custom_transport(
        move |request: BollardRequest| send(Arc::clone(&endpoint), prefix.clone(), request),
        // Only the path and query of the URI bollard builds on this reach `send`.
        Some("http://docker"),
        timeout.as_secs(),
        &version.unwrap_or(*API_DEFAULT_VERSION),
    )?;
    Ok(docker)
}

/// One request on a connection of its own, as bollard's own transports make them.
async fn send(
    endpoint: Arc<Endpoint>,
    prefix: String,
    request: BollardRequest,
) -> Result<Response<hyper::body::Incoming>, Error> {
    let (mut parts, body) = request.into_parts();
    let path = format!(
        "{prefix}{}",
        parts.uri.path_and_query().map_or("/", |path| path.as_str())
    );
    let client = Client::builder(TokioExecutor::new());
    match endpoint.as_ref() {
        Endpoint::Unix(socket) => {
            parts.uri = hyperlocal::Uri::new(socket, &path).into();
            let request = Request::from_parts(parts, body);
            Ok(client.build(UnixConnector).request(request).await?)
        }
        Endpoint::Tcp(authority) => {
            parts.uri = format!("http://{authority}{path}").parse()?;
            let request = Request::from_parts(parts, body);
            Ok(client.build(HttpConnector::new()).request(request).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_forms() {
        assert!(matches!(
            Endpoint::parse("unix:///run/docker.sock"),
            Ok(Endpoint::Unix(path)) if path == std::path::Path::new("/run/docker.sock")
        ));
        for address in ["tcp://127.0.0.1:2375", "http://127.0.0.1:2375/"] {
            assert!(matches!(
                Endpoint::parse(address),
                Ok(Endpoint::Tcp(authority)) if authority == "127.0.0.1:2375"
            ));
        }
        let error = Endpoint::parse("ssh://user@host").unwrap_err().to_string();
        assert!(error.contains("unix://"), "{error}");
    }
}

//! The LAPI's HTTP API as scanguard uses it: the bouncer's decision stream (`X-Api-Key`), and
//! a machine's login and alerts (a JWT from `/v1/watchers/login`). Plain HTTP/1.1 through
//! hyper, every request bounded in time and every response in size.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::{
    client::legacy::{Client as HyperClient, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::config::crowdsec::Secret;

/// A whole request, answer included: a LAPI that hangs is a LAPI that is down.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read: a million decisions are about 200 MB of JSON.
const MAX_RESPONSE_BYTES: usize = 512 << 20;
const USER_AGENT: &str = concat!("scanguard/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum LapiError {
    /// Not reached, or no answer in time: worth retrying.
    #[error("the LAPI at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    /// The credentials were refused: retrying will not help until the operator acts.
    #[error("the LAPI at {url} refused {what} ({status}): {message}")]
    Refused {
        url: String,
        what: &'static str,
        status: StatusCode,
        message: String,
    },
    /// Any other error status, or an answer that is not what the API documents.
    #[error("the LAPI at {url} answered {status}: {message}")]
    Failed {
        url: String,
        status: StatusCode,
        message: String,
    },
}

/// How a request proves who sends it.
pub enum Auth<'a> {
    /// A bouncer's key.
    ApiKey(&'a Secret),
    /// A machine's JWT.
    Bearer(&'a str),
    None,
}

impl Auth<'_> {
    fn what(&self) -> &'static str {
        match self {
            Auth::ApiKey(_) => "the bouncer key (check [crowdsec] api_key; `cscli bouncers list`)",
            Auth::Bearer(_) | Auth::None => {
                "the machine login (check [crowdsec] login and password; `cscli machines list`)"
            }
        }
    }
}

#[derive(Clone)]
pub struct Client {
    base_url: String,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

/// What the LAPI says when it refuses: `{"message": "..."}`.
#[derive(Deserialize)]
struct Message {
    message: String,
}

impl Client {
    pub fn new(base_url: &str) -> Client {
        Client {
            base_url: base_url.to_string(),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        auth: Auth<'_>,
    ) -> Result<T, LapiError> {
        self.send(Method::GET, path, auth, Bytes::new()).await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        auth: Auth<'_>,
        body: &B,
    ) -> Result<T, LapiError> {
        let body = serde_json::to_vec(body).map_err(|error| LapiError::Failed {
            url: self.url(path),
            status: StatusCode::BAD_REQUEST,
            message: error.to_string(),
        })?;
        self.send(Method::POST, path, auth, Bytes::from(body)).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Bytes,
    ) -> Result<T, LapiError> {
        let url = self.url(path);
        let unreachable = |reason: String| LapiError::Unreachable {
            url: self.base_url.clone(),
            reason,
        };
        let mut request = Request::builder()
            .method(method)
            .uri(&url)
            .header(header::USER_AGENT, USER_AGENT)
            .header(header::CONTENT_TYPE, "application/json");
        let what = auth.what();
        match auth {
            Auth::ApiKey(key) => request = request.header("X-Api-Key", key.expose()),
            Auth::Bearer(token) => {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"))
            }
            Auth::None => {}
        }
        let request = request
            .body(Full::new(body))
            .map_err(|error| unreachable(format!("cannot build the request: {error}")))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|error| unreachable(error_chain(&error)))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|error| unreachable(format!("reading the answer: {error}")))?
                .to_bytes();
            Ok::<_, LapiError>((status, body))
        };
        let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {REQUEST_TIMEOUT:?}")))??;
        let message = || {
            serde_json::from_slice::<Message>(&body)
                .map(|message| message.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_string())
        };
        if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
            return Err(LapiError::Refused {
                url: self.base_url.clone(),
                what,
                status,
                message: message(),
            });
        }
        if !status.is_success() {
            return Err(LapiError::Failed {
                url,
                status,
                message: message(),
            });
        }
        serde_json::from_slice(&body).map_err(|error| LapiError::Failed {
            url,
            status,
            message: format!("an answer that is not what the API documents: {error}"),
        })
    }
}

/// An error and its sources on one line: hyper's own message is only "client error (Connect)".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

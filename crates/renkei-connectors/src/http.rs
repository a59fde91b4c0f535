//! The one HTTP client every connector uses.
//!
//! It owns what must be the same for every provider: timeouts, gzip, the user agent, the
//! allow-list of hosts a provider may be reached at ([`AllowList`]), and the classification of
//! network failures into [`ConnectorError`]s. Provider modules build an [`OutgoingRequest`],
//! get an [`HttpResponse`] back whatever its status, and read the provider's own error body.
//!
//! Logs name the method, host and path of a call, never its query (Zoho and Salesforce put
//! tokens in query strings) nor a header or body.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use renkei_core::Secret;
use url::Url;

use crate::ConnectorError;

/// Settings of the client, with production defaults.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The whole request, from connecting to the last body byte.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            user_agent: format!("renkei/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Where a provider may be reached. A URL is allowed when it starts with one of the
/// `prefixes` (scheme, host, port and path prefix, compared after parsing), or when it is
/// `https` on a host ending with one of the `https_host_suffixes` (".my.salesforce.com").
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    prefixes: Vec<Url>,
    https_host_suffixes: Vec<String>,
}

impl AllowList {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_prefix(mut self, prefix: Url) -> Self {
        self.prefixes.push(prefix);
        self
    }

    pub fn with_https_host_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.https_host_suffixes
            .push(suffix.into().to_ascii_lowercase());
        self
    }

    pub fn allows(&self, url: &Url) -> bool {
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        if url.scheme() == "https"
            && let Some(host) = url.host_str()
        {
            let host = host.to_ascii_lowercase();
            if self
                .https_host_suffixes
                .iter()
                .any(|s| host.ends_with(s.as_str()) && host.len() > s.len())
            {
                return true;
            }
        }
        self.prefixes.iter().any(|p| {
            p.scheme() == url.scheme()
                && p.host_str().map(str::to_ascii_lowercase)
                    == url.host_str().map(str::to_ascii_lowercase)
                && p.port_or_known_default() == url.port_or_known_default()
                && url.path().starts_with(p.path())
        })
    }
}

/// A body to send.
#[derive(Debug, Clone)]
pub enum Body {
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`. Values may be secrets (tokens, client secrets), so
    /// this body is never logged.
    Form(Vec<(String, String)>),
}

/// One call to make.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    /// The provider the call belongs to, for errors, logs and metrics.
    pub provider: &'static str,
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub bearer: Option<Secret<String>>,
    pub body: Option<Body>,
    /// Whether repeating the request after it may have reached the provider is harmless
    /// (reads, and writes the provider deduplicates).
    pub idempotent: bool,
    /// The path carries a secret (HubSpot's token-info and revoke calls put the token in
    /// it): logs show `[redacted]` instead.
    pub redact_path: bool,
}

impl OutgoingRequest {
    pub fn new(provider: &'static str, method: Method, url: Url) -> Self {
        let idempotent = method == Method::GET || method == Method::HEAD;
        Self {
            provider,
            method,
            url,
            headers: HeaderMap::new(),
            bearer: None,
            body: None,
            idempotent,
            redact_path: false,
        }
    }

    pub fn get(provider: &'static str, url: Url) -> Self {
        Self::new(provider, Method::GET, url)
    }

    pub fn post(provider: &'static str, url: Url) -> Self {
        Self::new(provider, Method::POST, url)
    }

    pub fn bearer(mut self, token: &Secret<String>) -> Self {
        self.bearer = Some(token.clone());
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(Body::Json(body));
        self
    }

    pub fn form(mut self, pairs: Vec<(String, String)>) -> Self {
        self.body = Some(Body::Form(pairs));
        self
    }

    pub fn header(mut self, name: http::HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    pub fn redact_path(mut self) -> Self {
        self.redact_path = true;
        self
    }

    /// The path as logs may show it.
    pub fn log_path(&self) -> &str {
        if self.redact_path {
            "[redacted]"
        } else {
            self.url.path()
        }
    }
}

/// An answer, whatever its status.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// The body parsed as JSON into `T`; a failure is a [`ConnectorError::Protocol`] naming
    /// the path of the offending value.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        provider: &'static str,
    ) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|e| ConnectorError::Protocol {
            provider,
            message: format!("HTTP {}: {e}", self.status.as_u16()),
        })
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The client. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    config: HttpConfig,
}

impl HttpClient {
    pub fn new(config: HttpConfig) -> Result<Self, ConnectorError> {
        let inner = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .gzip(true)
            // A redirect could carry a bearer token to a host the allow-list never saw.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConnectorError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { inner, config })
    }

    /// Sends `req` if `allow` permits its URL, and returns the provider's answer whatever its
    /// status. Network failures come back classified.
    pub async fn send(
        &self,
        allow: &AllowList,
        req: OutgoingRequest,
    ) -> Result<HttpResponse, ConnectorError> {
        if !allow.allows(&req.url) {
            return Err(ConnectorError::HostNotAllowed {
                provider: req.provider,
                url: without_query(&req.url),
            });
        }
        let host = req.url.host_str().unwrap_or_default().to_owned();
        let mut builder = self
            .inner
            .request(req.method.clone(), req.url.clone())
            .headers(req.headers.clone());
        if let Some(token) = &req.bearer {
            builder = builder.bearer_auth(token.expose());
        }
        match &req.body {
            Some(Body::Json(v)) => builder = builder.json(v),
            Some(Body::Form(pairs)) => {
                let encoded = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs.iter())
                    .finish();
                builder = builder
                    .header(
                        http::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(encoded);
            }
            None => {}
        }
        let started = std::time::Instant::now();
        let result = async {
            let resp = builder.send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?;
            Ok::<_, reqwest::Error>(HttpResponse {
                status,
                headers,
                body,
            })
        }
        .await;
        match result {
            Ok(resp) => {
                tracing::debug!(
                    provider = req.provider,
                    method = %req.method,
                    host = %host,
                    path = req.log_path(),
                    status = resp.status.as_u16(),
                    ms = started.elapsed().as_millis() as u64,
                    "provider call"
                );
                Ok(resp)
            }
            Err(e) => Err(self.classify(&host, &e)),
        }
    }

    fn classify(&self, host: &str, e: &reqwest::Error) -> ConnectorError {
        if e.is_timeout() {
            return ConnectorError::Timeout {
                host: host.to_owned(),
                seconds: self.config.timeout.as_secs(),
            };
        }
        // The message is built from the error's causes, not from its `Display`, which names
        // the URL with its query, where a token may be.
        let mut message = String::new();
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&c.to_string());
            cause = c.source();
        }
        if message.is_empty() {
            message = if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            }
            .into();
        }
        ConnectorError::Transport {
            host: host.to_owned(),
            message,
            sent: !e.is_connect(),
        }
    }
}

/// The URL with its query removed, for messages.
pub fn without_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// How long a `Retry-After` header asks to wait: delta-seconds or an HTTP-date (RFC 9110
/// §10.2.3).
pub fn retry_after(headers: &HeaderMap, now: std::time::SystemTime) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(v).ok()?;
    let now = jiff::Timestamp::try_from(now).ok()?;
    let d = at.timestamp().duration_since(now);
    Some(Duration::from_secs(d.as_secs().max(0) as u64))
}

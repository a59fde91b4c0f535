//! What every emulator has in common: the [`Emulator`] trait, the `_control` API, and the
//! middleware that logs vendor requests and injects faults.
//!
//! An emulator supplies its vendor routes and answers a few questions (how the vendor shapes a
//! 429, how it resets, how it seeds); [`mount`] wraps those routes with the request log and the
//! fault injector and adds `/_control/…`. Control requests are never logged, rate limited or
//! faulted, so a test can always observe and repair the emulator it is breaking.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::env::{Env, FaultKind, FaultSpec, LoggedRequest};
use crate::http::{BaseUrl, JsonIn};

/// One vendor's emulator.
pub trait Emulator: Send + Sync + 'static {
    /// The path segment under `/sandbox` (`hubspot`, `salesforce`, `zoho`).
    fn name(&self) -> &'static str;

    fn env(&self) -> &Env;

    /// The vendor's routes (OAuth, API, `/_ui`), relative to `/sandbox/{name}`. They carry
    /// their own vendor-shaped 404 fallback and rate limiting.
    fn routes(self: Arc<Self>) -> Router;

    /// This emulator's entry in `GET /sandbox`: at least `urls` (`authorize`, `token`, `api`,
    /// `ui`), `client_id`, `client_secret` and `accounts`.
    fn directory(&self, base: &BaseUrl) -> Value;

    /// Back to the state of a fresh start: the default accounts and clients, no records, default
    /// limits and settings.
    fn reset(&self);

    /// Adds `req.count` records, deterministic from `req.seed`. Answers a summary (how many of
    /// each object were created, in which account).
    fn seed(&self, req: &SeedRequest) -> Result<Value, ControlError>;

    fn limits(&self) -> Value;
    fn set_limits(&self, body: Value) -> Result<Value, ControlError>;

    /// Emulator switches: token lifetimes, the consent page's auto-approve, vendor rules.
    fn settings(&self) -> Value;
    fn set_settings(&self, body: Value) -> Result<Value, ControlError>;

    /// Mints a token pair for `account` (or the default account) and answers it in the vendor's
    /// token-response shape, as if the browser flow had run.
    fn mint_tokens(&self, account: Option<&str>, base: &BaseUrl) -> Result<Value, ControlError>;

    /// The vendor's answer to a request hit by a fault of `kind` (`rate_limit`,
    /// `server_error`, `expired_token` or `revoked_token`). For `revoked_token` it also revokes
    /// the grant of the token the request carries, so that refreshing fails too.
    fn fault_response(&self, kind: FaultKind, spec: &FaultSpec, headers: &HeaderMap) -> Response;

    /// Control routes only this vendor has (Zoho's `clients`, HubSpot's `owners/{id}/archive`),
    /// relative to `/_control` and with their state applied. Like the common ones they are never
    /// logged, limited or faulted.
    fn extra_control(self: Arc<Self>) -> Option<Router> {
        None
    }
}

/// The body of `_control/seed`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRequest {
    pub count: usize,
    #[serde(default)]
    pub seed: u64,
    /// The account to seed; the default account when absent.
    #[serde(default)]
    pub account: Option<String>,
}

/// The most records one `seed` call creates.
pub const MAX_SEED: usize = 200_000;

/// A control request that cannot be done. Answers `{"error": code, "message": …}`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ControlError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ControlError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: message.into(),
        }
    }

    pub fn unknown_account(id: &str) -> Self {
        ControlError {
            status: StatusCode::NOT_FOUND,
            code: "unknown_account",
            message: format!("no account {id:?} in this emulator"),
        }
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response()
    }
}

/// Decodes a control body into `T`, naming the failing field.
pub fn decode<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, ControlError> {
    serde_json::from_value(body).map_err(|e| ControlError::invalid(e.to_string()))
}

type Emu = Arc<dyn Emulator>;

/// The emulator's routes under `/sandbox/{name}`: vendor routes wrapped in the log and fault
/// middleware, plus `/_control/…`.
pub fn mount(emulator: Emu) -> Router {
    let vendor = emulator
        .clone()
        .routes()
        .layer(axum::middleware::from_fn_with_state(
            emulator.clone(),
            observe,
        ));
    let extra = emulator.clone().extra_control();
    let mut control = Router::new()
        .route("/", get(describe))
        .route("/reset", post(reset))
        .route("/seed", post(seed))
        .route("/limits", get(get_limits).post(set_limits))
        .route("/settings", get(get_settings).post(set_settings))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/clock", get(get_clock).post(advance_clock))
        .route("/requests", get(list_requests).delete(clear_requests))
        .route("/tokens", post(mint_tokens))
        .with_state(emulator);
    if let Some(extra) = extra {
        control = control.merge(extra);
    }
    let control = control.fallback(|| async {
        ControlError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: "no such control route; GET /_control lists them".into(),
        }
    });
    // `nest` takes precedence over the vendor router's fallback for the `/_control` prefix.
    vendor.nest("/_control", control)
}

/// Logs every vendor request and applies the installed faults.
async fn observe(State(emu): State<Emu>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let env = emu.env();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    if path.starts_with("/_ui") {
        return next.run(req).await;
    }
    let fault = env.faults.take(&method, &path);
    let mut drop_after = false;
    let response = match fault.as_ref().map(|f| f.kind) {
        None => next.run(req).await,
        Some(FaultKind::Slow) => {
            let delay = fault.as_ref().and_then(|f| f.delay_ms).unwrap_or(2000);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            next.run(req).await
        }
        Some(FaultKind::DropAfter) => {
            drop_after = true;
            next.run(req).await
        }
        Some(kind) => {
            let spec = fault.clone().expect("kind came from the fault");
            emu.fault_response(kind, &spec, req.headers())
        }
    };
    env.log.push(LoggedRequest {
        seq: 0,
        method,
        path,
        query,
        status: response.status().as_u16(),
        time: crate::http::rfc3339(env.clock.now()),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        fault: fault.map(|f| f.kind),
    });
    if drop_after {
        return dropped_connection(response);
    }
    response
}

/// A response whose body fails before its first byte: hyper then closes the connection without
/// completing the message, which the client sees as a reset or an incomplete response, after
/// the vendor handler has already made its change.
fn dropped_connection(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    // A length the body will never reach, so that even a client that got the headers cannot
    // take the truncated message for a complete one.
    parts.headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from_static("64"),
    );
    let failing = futures_util::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: connection dropped after the request was processed",
        ))
    });
    Response::from_parts(parts, Body::from_stream(failing))
}

async fn describe(State(emu): State<Emu>) -> Response {
    axum::Json(json!({
        "provider": emu.name(),
        "endpoints": {
            "POST /_control/reset": "back to a fresh start: default accounts, no records, no faults, default limits and settings, clock offset 0",
            "POST /_control/seed": "{\"count\": N, \"seed\": S, \"account\": id?} adds N deterministic people and companies",
            "GET|POST /_control/limits": "read or change the rate limits (POST merges the given fields)",
            "GET|POST /_control/settings": "read or change switches: token lifetimes, auto-approve, vendor rules",
            "GET|POST|DELETE /_control/faults": "list, add ({\"kind\", \"count\"|\"fraction\", \"path_prefix\", \"method\", \"status\", \"delay_ms\", \"retry_after_seconds\"}) or clear faults",
            "GET|POST /_control/clock": "read the clock or move it forward ({\"advance_seconds\": N})",
            "GET|DELETE /_control/requests": "the request log (?since=SEQ&path_prefix=&method=&limit=) or clear it",
            "POST /_control/tokens": "{\"account\": id?} mints a token pair in the vendor's token-response shape",
        },
        "fault_kinds": ["rate_limit", "server_error", "slow", "drop_after", "expired_token", "revoked_token"],
    }))
    .into_response()
}

async fn reset(State(emu): State<Emu>) -> Response {
    emu.env().reset();
    emu.reset();
    axum::Json(json!({"reset": true})).into_response()
}

async fn seed(State(emu): State<Emu>, JsonIn(body): JsonIn) -> Result<Response, ControlError> {
    let req: SeedRequest = decode(body)?;
    if req.count > MAX_SEED {
        return Err(ControlError::invalid(format!(
            "count must be at most {MAX_SEED}"
        )));
    }
    Ok(axum::Json(emu.seed(&req)?).into_response())
}

async fn get_limits(State(emu): State<Emu>) -> Response {
    axum::Json(emu.limits()).into_response()
}

async fn set_limits(
    State(emu): State<Emu>,
    JsonIn(body): JsonIn,
) -> Result<Response, ControlError> {
    Ok(axum::Json(emu.set_limits(body)?).into_response())
}

async fn get_settings(State(emu): State<Emu>) -> Response {
    axum::Json(emu.settings()).into_response()
}

async fn set_settings(
    State(emu): State<Emu>,
    JsonIn(body): JsonIn,
) -> Result<Response, ControlError> {
    Ok(axum::Json(emu.set_settings(body)?).into_response())
}

async fn list_faults(State(emu): State<Emu>) -> Response {
    axum::Json(json!({"faults": emu.env().faults.list()})).into_response()
}

async fn add_fault(State(emu): State<Emu>, JsonIn(body): JsonIn) -> Result<Response, ControlError> {
    let spec: FaultSpec = decode(body)?;
    spec.validate().map_err(ControlError::invalid)?;
    let fault = emu.env().faults.add(spec);
    Ok((StatusCode::CREATED, axum::Json(fault)).into_response())
}

async fn clear_faults(State(emu): State<Emu>) -> Response {
    emu.env().faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

fn clock_body(env: &Env) -> Value {
    json!({
        "now": crate::http::rfc3339(env.clock.now()),
        "now_ms": env.clock.now_ms(),
        "offset_seconds": env.clock.offset_secs(),
    })
}

async fn get_clock(State(emu): State<Emu>) -> Response {
    axum::Json(clock_body(emu.env())).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    advance_seconds: i64,
}

async fn advance_clock(
    State(emu): State<Emu>,
    JsonIn(body): JsonIn,
) -> Result<Response, ControlError> {
    let Advance { advance_seconds } = decode(body)?;
    if advance_seconds < 0 {
        return Err(ControlError::invalid(
            "advance_seconds must not be negative: the clock only moves forward",
        ));
    }
    emu.env().clock.advance_secs(advance_seconds);
    Ok(axum::Json(clock_body(emu.env())).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    #[serde(default)]
    since: u64,
    path_prefix: Option<String>,
    method: Option<String>,
    limit: Option<usize>,
}

async fn list_requests(
    State(emu): State<Emu>,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ControlError> {
    let Query(q) = query.map_err(|e| ControlError::invalid(e.body_text()))?;
    let limit = q.limit.unwrap_or(10_000).min(100_000);
    let requests = emu.env().log.list(
        q.since,
        q.path_prefix.as_deref(),
        q.method.as_deref(),
        limit,
    );
    let last_seq = requests.last().map(|r| r.seq).unwrap_or(q.since);
    Ok(axum::Json(json!({
        "count": requests.len(),
        "last_seq": last_seq,
        "requests": requests,
    }))
    .into_response())
}

async fn clear_requests(State(emu): State<Emu>) -> Response {
    emu.env().log.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MintBody {
    account: Option<String>,
}

async fn mint_tokens(
    State(emu): State<Emu>,
    base: BaseUrl,
    JsonIn(body): JsonIn,
) -> Result<Response, ControlError> {
    let MintBody { account } = if body.is_null() {
        MintBody::default()
    } else {
        decode(body)?
    };
    Ok(axum::Json(emu.mint_tokens(account.as_deref(), &base)?).into_response())
}

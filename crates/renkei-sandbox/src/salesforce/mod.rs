//! The Salesforce emulator: several independent orgs, each with its own instance URL (its
//! "My Domain"), the login server's OAuth 2.0 endpoints, and the REST API at versions 42.0 to
//! 62.0 (62.0, Winter '25, is the documented one; every served version behaves the same).
//!
//! URL layout, below `/sandbox/salesforce`:
//! - `/services/oauth2/{authorize,token,revoke,userinfo,introspect}`: the login server
//!   (login.salesforce.com); also served under each instance, as My Domain serves them;
//! - `/id/{orgId}/{userId}`: identity URLs;
//! - `/instances/{slug}`: an org's instance URL; its REST API is
//!   `/instances/{slug}/services/data/vXX.X/…` and a token of another org gets 401
//!   `INVALID_SESSION_ID` there;
//! - `/_ui`: the HTML view.
//!
//! Every REST response to an authenticated request carries `Sforce-Limit-Info:
//! api-usage=N/M`; past the org's daily allowance (15,000 by default, the Developer Edition's
//! figure in "API Request Limits and Allocations") requests get 403 `REQUEST_LIMIT_EXCEEDED`.
//! The pieces: [`ids`] (15/18-character ids), [`schema`] (objects and fields), [`store`] (orgs
//! and records), [`soql`] (the query language), [`query`] (query cursors and SOSL), [`rest`]
//! (the REST resources), [`composite`] (Composite, Batch, Collections, Tree), [`oauth`],
//! [`seeding`] and [`ui`].

pub mod composite;
pub mod errors;
pub mod ids;
pub mod oauth;
pub mod query;
pub mod rest;
pub mod schema;
pub mod seeding;
pub mod soql;
pub mod store;
pub mod ui;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::control::{ControlError, Emulator, SeedRequest, decode};
use crate::env::{Env, FaultKind, FaultSpec, lock};
use crate::http::BaseUrl;
use crate::oauth::{ALNUM, Formats, Lifetimes, TokenStore, random_chars};
use errors::ApiError;
use store::{Org, Rules};

/// The documented API version.
pub const API_VERSION: u32 = 62;
/// The oldest version served (sObject Collections need 42.0).
pub const MIN_VERSION: u32 = 42;
pub const MAX_VERSION: u32 = 62;

/// The pre-registered connected app (consumer key and secret in Salesforce's shapes).
pub const CLIENT_ID: &str =
    "3MVG9renkeiSandbox.Salesforce.ConnectedApp0000000000000000000000000000000000000000";
pub const CLIENT_SECRET: &str = "8F3C2A9D71B64E05A9C8D7E6F5A4B3C2D1E0F9A8B7C6D5E4F3A2B1C0D9E8F7A6";

/// Developer Edition's daily API request allocation.
pub const DEFAULT_DAILY_API_REQUESTS: u64 = 15_000;
/// Salesforce's default session timeout: 2 hours ("Session Security Settings").
pub const DEFAULT_SESSION_TTL: i64 = 7_200;
/// "The authorization code is valid for 15 minutes" (web server flow).
pub const DEFAULT_CODE_TTL: i64 = 900;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone)]
pub struct Settings {
    pub auto_approve: bool,
    pub session_ttl_seconds: i64,
    pub code_ttl_seconds: i64,
    pub rotate_refresh_tokens: bool,
    pub duplicate_rule: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auto_approve: false,
            session_ttl_seconds: DEFAULT_SESSION_TTL,
            code_ttl_seconds: DEFAULT_CODE_TTL,
            rotate_refresh_tokens: false,
            duplicate_rule: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub daily_api_requests: u64,
    /// Per-org overrides, by org id.
    pub org_daily_api_requests: HashMap<String, u64>,
    /// A rolling ten-second cap per org, off by default. Salesforce has no such window (its
    /// limits are the daily total and concurrent long requests); this models a share of calls
    /// granted to an integration, or a gateway in front of the org, so that a benchmark can
    /// measure how close renkei's pacing comes to a stated rate without ever exceeding it
    /// (issue 6's `renkei-bench writeback`). Refusals are 429 with `Retry-After`, as such a
    /// gateway answers.
    pub requests_per_10s: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            daily_api_requests: DEFAULT_DAILY_API_REQUESTS,
            org_daily_api_requests: HashMap::new(),
            requests_per_10s: None,
        }
    }
}

impl Limits {
    fn max_for(&self, org: &str) -> u64 {
        self.org_daily_api_requests
            .get(org)
            .copied()
            .unwrap_or(self.daily_api_requests)
    }
}

pub struct SfState {
    pub orgs: Vec<Org>,
    pub settings: Settings,
    pub limits: Limits,
    pub next_cursor: u64,
}

impl SfState {
    fn fresh(now: i64) -> SfState {
        SfState {
            orgs: (0..store::DEFAULT_ORGS.len())
                .map(|i| Org::new(i, now))
                .collect(),
            settings: Settings::default(),
            limits: Limits::default(),
            next_cursor: 0,
        }
    }
}

pub struct Salesforce {
    pub env: Env,
    pub tokens: TokenStore,
    pub state: Mutex<SfState>,
}

const TOKEN_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";

fn formats() -> Formats {
    Formats {
        // Codes end in "==" (base64), which a client must URL-decode from the redirect.
        code: |r, _| format!("aPrx{}==", random_chars(r, ALNUM, 68)),
        // "00D…!AQ…": the org id (15) before the "!" ("Access token format", Salesforce Help).
        access: |r, org| {
            format!(
                "{}!AQ{}",
                org.get(..15).unwrap_or(org),
                random_chars(r, TOKEN_CHARS, 96)
            )
        },
        refresh: |r, _| format!("5Aep861{}", random_chars(r, TOKEN_CHARS, 80)),
    }
}

impl Default for Salesforce {
    fn default() -> Self {
        Self::new()
    }
}

impl Salesforce {
    pub fn new() -> Salesforce {
        let env = Env::default();
        let now = env.clock.now_ms();
        Salesforce {
            env,
            tokens: TokenStore::new(formats()),
            state: Mutex::new(SfState::fresh(now)),
        }
    }

    /// The org named by id (15 or 18 characters) or slug; the default org when `None`.
    pub fn find_org(&self, key: Option<&str>) -> Option<String> {
        let st = lock(&self.state);
        match key {
            None => st.orgs.first().map(|o| o.id.clone()),
            Some(k) => st
                .orgs
                .iter()
                .find(|o| o.slug == k || ids::same(&o.id, k) || o.id == k)
                .map(|o| o.id.clone()),
        }
    }

    pub fn lifetimes(&self) -> Lifetimes {
        let st = lock(&self.state);
        Lifetimes {
            access_secs: Some(st.settings.session_ttl_seconds),
            code_secs: st.settings.code_ttl_seconds,
            rotate_refresh: st.settings.rotate_refresh_tokens,
        }
    }
}

fn limit_header(used: u64, max: u64) -> (&'static str, HeaderValue) {
    (
        "sforce-limit-info",
        HeaderValue::from_str(&format!("api-usage={used}/{max}"))
            .unwrap_or(HeaderValue::from_static("api-usage=0/0")),
    )
}

fn over_limit(used: u64, max: u64) -> Response {
    let mut r = ApiError::new(
        403,
        "REQUEST_LIMIT_EXCEEDED",
        "TotalRequests Limit exceeded.",
    )
    .without_fields()
    .into_response();
    let (k, v) = limit_header(used, max);
    r.headers_mut().insert(k, v);
    r
}

const WINDOW_10S_MS: i64 = 10_000;

/// The refusal of `Limits::requests_per_10s`: 429 with the seconds until the window frees.
fn too_many_requests(cap: u64, wait_ms: i64) -> Response {
    let mut r = ApiError::new(
        429,
        "REQUEST_LIMIT_EXCEEDED",
        format!("More than {cap} requests in 10 seconds (sandbox rate cap)."),
    )
    .without_fields()
    .into_response();
    let secs = (wait_ms.max(1) + 999) / 1000;
    if let Ok(v) = http::HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    r
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let h = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    h.strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("OAuth "))
        .map(str::trim)
}

/// `Sforce-Query-Options: batchSize=N`, clamped to Salesforce's 200–2,000.
fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.split(',')
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("batchSize"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        })
        .map(|n| n.clamp(200, query::DEFAULT_BATCH))
        .unwrap_or(query::DEFAULT_BATCH)
}

/// Every request to `{instance}/services/data…`.
async fn data_api(
    State(sf): State<Arc<Salesforce>>,
    Path(path): Path<HashMap<String, String>>,
    method: Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Response {
    let slug = path.get("slug").cloned().unwrap_or_default();
    let rest = path.get("rest").cloned().unwrap_or_default();
    let now = sf.env.clock.now_ms();
    let method = if method == Method::HEAD {
        "GET".to_owned()
    } else {
        method.as_str().to_owned()
    };
    if rest.trim_matches('/').is_empty() {
        let known = lock(&sf.state).orgs.iter().any(|o| o.slug == slug);
        if !known {
            return ApiError::not_found().into_response();
        }
        return axum::Json(rest::versions()).into_response();
    }
    let Some(token) = bearer(&headers) else {
        return ApiError::session().into_response();
    };
    let Ok((grant, _)) = sf.tokens.authenticate(token, now) else {
        return ApiError::session().into_response();
    };
    if !grant.scopes.iter().any(|s| s == "api" || s == "full") {
        return ApiError::new(
            401,
            "INVALID_SESSION_ID",
            "This session is not valid for use with the REST API",
        )
        .without_fields()
        .into_response();
    }
    let mut guard = lock(&sf.state);
    let SfState {
        orgs,
        settings,
        limits,
        next_cursor,
    } = &mut *guard;
    let Some(org) = orgs.iter_mut().find(|o| o.slug == slug) else {
        return ApiError::not_found().into_response();
    };
    if org.id != grant.account {
        return ApiError::session().into_response();
    }
    let max = limits.max_for(&org.id);
    // Salesforce counts over a rolling 24 hours; the emulator restarts the count 24 hours after
    // the window's first request, which a test reaches by advancing the clock.
    if now - org.api.window_start_ms >= DAY_MS {
        org.api.used = 0;
        org.api.window_start_ms = now;
    }
    if org.api.used >= max {
        return over_limit(org.api.used, max);
    }
    if let Some(cap) = limits.requests_per_10s {
        let recent = &mut org.api.recent;
        while recent.front().is_some_and(|t| now - t >= WINDOW_10S_MS) {
            recent.pop_front();
        }
        if recent.len() as u64 >= cap {
            let frees_at = recent.front().copied().unwrap_or(now) + WINDOW_10S_MS;
            return too_many_requests(cap, frees_at - now);
        }
        recent.push_back(now);
    }
    org.api.used += 1;
    let user = org.admin().serial;
    let mut ctx = rest::Ctx {
        org,
        user,
        now,
        rules: Rules {
            duplicate_rule: settings.duplicate_rule,
        },
        version: rest::documented_version(),
        batch_size: batch_size(&headers),
        next_cursor,
        daily_max: max,
        nested: false,
    };
    let reply = rest::dispatch(&mut ctx, &method, &rest, uri.query().unwrap_or(""), &body);
    let used = ctx.org.api.used.min(max);
    drop(guard);
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let mut resp = match reply.body {
        Some(rest::Body::Json(b)) => (status, axum::Json(b)).into_response(),
        Some(rest::Body::Raw(b)) => (
            status,
            [(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json;charset=UTF-8"),
            )],
            b,
        )
            .into_response(),
        None => status.into_response(),
    };
    let (k, v) = limit_header(used, max);
    resp.headers_mut().insert(k, v);
    if let Some(loc) = reply.location
        && let Ok(v) = HeaderValue::from_str(&loc)
    {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    resp
}

#[derive(Deserialize)]
struct UiQuery {
    account: Option<String>,
}

async fn ui_page(State(sf): State<Arc<Salesforce>>, Query(q): Query<UiQuery>) -> Response {
    let selected = sf.find_org(q.account.as_deref()).unwrap_or_default();
    let st = lock(&sf.state);
    let accounts: Vec<(String, String)> = st
        .orgs
        .iter()
        .map(|o| (o.id.clone(), o.name.clone()))
        .collect();
    let tables = st
        .orgs
        .iter()
        .find(|o| o.id == selected)
        .map(ui::tables)
        .unwrap_or_default();
    crate::ui::page("Salesforce", &accounts, &selected, &tables).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsPatch {
    auto_approve: Option<bool>,
    session_ttl_seconds: Option<i64>,
    code_ttl_seconds: Option<i64>,
    rotate_refresh_tokens: Option<bool>,
    duplicate_rule: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsPatch {
    daily_api_requests: Option<u64>,
    org_daily_api_requests: Option<HashMap<String, u64>>,
    /// 0 turns the cap off.
    requests_per_10s: Option<u64>,
}

fn settings_json(s: &Settings) -> Value {
    json!({
        "auto_approve": s.auto_approve,
        "session_ttl_seconds": s.session_ttl_seconds,
        "code_ttl_seconds": s.code_ttl_seconds,
        "rotate_refresh_tokens": s.rotate_refresh_tokens,
        "duplicate_rule": s.duplicate_rule,
    })
}

fn limits_json(st: &SfState) -> Value {
    let usage: serde_json::Map<String, Value> = st
        .orgs
        .iter()
        .map(|o| (o.id.clone(), json!(o.api.used)))
        .collect();
    json!({
        "daily_api_requests": st.limits.daily_api_requests,
        "org_daily_api_requests": st.limits.org_daily_api_requests,
        "requests_per_10s": st.limits.requests_per_10s,
        "usage": usage,
    })
}

impl Emulator for Salesforce {
    fn name(&self) -> &'static str {
        "salesforce"
    }

    fn env(&self) -> &Env {
        &self.env
    }

    fn routes(self: Arc<Self>) -> Router {
        let mut r = Router::new();
        for prefix in ["", "/instances/{slug}"] {
            r = r
                .route(
                    &format!("{prefix}/services/oauth2/authorize"),
                    get(oauth::authorize).post(oauth::authorize_post),
                )
                .route(
                    &format!("{prefix}/services/oauth2/token"),
                    post(oauth::token),
                )
                .route(
                    &format!("{prefix}/services/oauth2/revoke"),
                    get(oauth::revoke).post(oauth::revoke),
                )
                .route(
                    &format!("{prefix}/services/oauth2/userinfo"),
                    get(oauth::userinfo).post(oauth::userinfo),
                )
                .route(
                    &format!("{prefix}/services/oauth2/introspect"),
                    post(oauth::introspect),
                );
        }
        r.route("/id/{org}/{user}", get(oauth::identity))
            .route("/instances/{slug}/services/data", any(data_api))
            .route("/instances/{slug}/services/data/", any(data_api))
            .route("/instances/{slug}/services/data/{*rest}", any(data_api))
            .route("/_ui", get(ui_page))
            .fallback(|| async { ApiError::not_found().into_response() })
            .with_state(self)
    }

    fn directory(&self, base: &BaseUrl) -> Value {
        let st = lock(&self.state);
        let default = st
            .orgs
            .first()
            .map(|o| base.join(&format!("/instances/{}", o.slug)))
            .unwrap_or_default();
        json!({
            "urls": {
                "authorize": base.join("/services/oauth2/authorize"),
                "token": base.join("/services/oauth2/token"),
                "api": default,
                "ui": base.join("/_ui"),
                "revoke": base.join("/services/oauth2/revoke"),
                "userinfo": base.join("/services/oauth2/userinfo"),
                "introspect": base.join("/services/oauth2/introspect"),
            },
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "api_version": rest::documented_version(),
            "accounts": st.orgs.iter().map(|o| json!({
                "id": o.id,
                "name": o.name,
                "instance_url": base.join(&format!("/instances/{}", o.slug)),
                "username": o.admin().username,
                "edition": o.edition,
            })).collect::<Vec<_>>(),
        })
    }

    fn reset(&self) {
        self.tokens.clear();
        *lock(&self.state) = SfState::fresh(self.env.clock.now_ms());
    }

    fn seed(&self, req: &SeedRequest) -> Result<Value, ControlError> {
        let org_id = self
            .find_org(req.account.as_deref())
            .ok_or_else(|| ControlError::unknown_account(req.account.as_deref().unwrap_or("")))?;
        let now = self.env.clock.now_ms();
        let mut st = lock(&self.state);
        let org = st
            .orgs
            .iter_mut()
            .find(|o| o.id == org_id)
            .ok_or_else(|| ControlError::unknown_account(&org_id))?;
        Ok(seeding::seed(org, req.seed, req.count, now))
    }

    fn limits(&self) -> Value {
        limits_json(&lock(&self.state))
    }

    fn set_limits(&self, body: Value) -> Result<Value, ControlError> {
        let patch: LimitsPatch = decode(body)?;
        let mut st = lock(&self.state);
        if let Some(m) = &patch.org_daily_api_requests {
            for k in m.keys() {
                if !st.orgs.iter().any(|o| &o.id == k) {
                    return Err(ControlError::invalid(format!(
                        "org_daily_api_requests: no org {k:?} (use the 18-character org id)"
                    )));
                }
            }
        }
        if let Some(n) = patch.daily_api_requests {
            st.limits.daily_api_requests = n;
        }
        if let Some(m) = patch.org_daily_api_requests {
            st.limits.org_daily_api_requests.extend(m);
        }
        if let Some(n) = patch.requests_per_10s {
            st.limits.requests_per_10s = (n > 0).then_some(n);
            for o in &mut st.orgs {
                o.api.recent.clear();
            }
        }
        Ok(limits_json(&st))
    }

    fn settings(&self) -> Value {
        settings_json(&lock(&self.state).settings)
    }

    fn set_settings(&self, body: Value) -> Result<Value, ControlError> {
        let p: SettingsPatch = decode(body)?;
        for (name, v) in [
            ("session_ttl_seconds", p.session_ttl_seconds),
            ("code_ttl_seconds", p.code_ttl_seconds),
        ] {
            if v.is_some_and(|v| v < 1) {
                return Err(ControlError::invalid(format!("{name} must be at least 1")));
            }
        }
        let mut st = lock(&self.state);
        let s = &mut st.settings;
        if let Some(v) = p.auto_approve {
            s.auto_approve = v;
        }
        if let Some(v) = p.session_ttl_seconds {
            s.session_ttl_seconds = v;
        }
        if let Some(v) = p.code_ttl_seconds {
            s.code_ttl_seconds = v;
        }
        if let Some(v) = p.rotate_refresh_tokens {
            s.rotate_refresh_tokens = v;
        }
        if let Some(v) = p.duplicate_rule {
            s.duplicate_rule = v;
        }
        Ok(settings_json(s))
    }

    fn mint_tokens(&self, account: Option<&str>, base: &BaseUrl) -> Result<Value, ControlError> {
        let org = self
            .find_org(account)
            .ok_or_else(|| ControlError::unknown_account(account.unwrap_or("")))?;
        let scopes = ["api", "id", "refresh_token"].map(String::from).to_vec();
        let issued = self.tokens.mint(
            CLIENT_ID,
            &org,
            scopes,
            &self.lifetimes(),
            self.env.clock.now_ms(),
        );
        Ok(oauth::token_body(self, base, &issued, true))
    }

    fn fault_response(&self, kind: FaultKind, spec: &FaultSpec, headers: &HeaderMap) -> Response {
        match kind {
            FaultKind::RateLimit => {
                let max = lock(&self.state).limits.daily_api_requests;
                over_limit(max, max)
            }
            FaultKind::ExpiredToken => {
                if let Some(t) = bearer(headers) {
                    self.tokens.expire_now(t, self.env.clock.now_ms());
                }
                ApiError::session().into_response()
            }
            FaultKind::RevokedToken => {
                if let Some(t) = bearer(headers) {
                    self.tokens.revoke(t);
                }
                ApiError::session().into_response()
            }
            _ => {
                let status = spec.status.unwrap_or(503);
                let err = if status == 500 {
                    ApiError::new(
                        500,
                        "UNKNOWN_EXCEPTION",
                        "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)",
                    )
                } else {
                    ApiError::new(
                        status,
                        "SERVER_UNAVAILABLE",
                        "Server temporarily unavailable; please try again later.",
                    )
                };
                err.without_fields().into_response()
            }
        }
    }
}

//! The HubSpot emulator: OAuth 2.0 (v1 and v3 token endpoints, token info, introspection,
//! revocation), private-app tokens, account details, the CRM v3 object APIs for contacts,
//! companies, deals, notes, tasks, emails, meetings and calls (CRUD, batch, search),
//! properties, associations v4, owners, rate limits with HubSpot's headers, and webhooks
//! signed with HubSpot's v3 signature.
//!
//! It is mounted at `/sandbox/hubspot`: the authorize page (really `app.hubspot.com/oauth/
//! authorize`) is `{base}/oauth/authorize`, and the API root (really `api.hubapi.com`) is
//! `{base}` itself, so an SDK only needs its host set to `{base}`. Two portals exist from the
//! start (a Japanese and a US one), each with a private-app token and a few owners.
//!
//! The files: [`store`] (records, ids, associations, owners), [`props`] (property definitions
//! and value rules, the Properties API), [`objects`] (CRUD, list, batch), [`search`],
//! [`assoc`] (association types and the v4 API), [`oauth`], [`auth`] (bearer tokens and the
//! API guard), [`limits`] (rate limits), [`webhooks`], [`seeding`], [`ui`], [`errors`].

pub mod assoc;
pub mod auth;
pub mod errors;
pub mod limits;
pub mod oauth;
pub mod objects;
pub mod owners;
pub mod props;
pub mod search;
pub mod seeding;
pub mod store;
pub mod ui;
pub mod webhooks;

use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

use crate::control::{ControlError, Emulator, SeedRequest};
use crate::env::{Env, FaultKind, FaultSpec, lock};
use crate::http::BaseUrl;
use crate::oauth::{Formats, Lifetimes, TokenStore};

use errors::HsError;
use store::{ALL_TYPES, Owner, Portal, Table};

/// The sandbox's one pre-registered public app.
pub const CLIENT_ID: &str = "6c1d5a2e-8f3b-4d07-9a61-2b7e0c4f9d13";
pub const CLIENT_SECRET: &str = "b4e97f20-3c5d-4a18-8e6b-9f0a1d2c3e4f";
pub const APP_ID: u64 = 3_101_234;
pub const APP_NAME: &str = "renkei";

/// HubSpot's access tokens live 30 minutes ("OAuth tokens": `expires_in` 1800).
pub const DEFAULT_ACCESS_TTL: i64 = 1800;

/// The fixed facts of a portal, re-created on reset.
struct PortalSpec {
    id: u64,
    name: &'static str,
    domain: &'static str,
    time_zone: &'static str,
    currency: &'static str,
    owners: &'static [(&'static str, &'static str, &'static str)],
}

const PORTALS: &[PortalSpec] = &[
    PortalSpec {
        id: 45_231_987,
        name: "Renkei Demo 株式会社",
        domain: "renkei-demo.co.jp",
        time_zone: "Asia/Tokyo",
        currency: "JPY",
        owners: &[
            ("太郎", "田中", "taro.tanaka@renkei-demo.co.jp"),
            ("美咲", "佐藤", "misaki.sato@renkei-demo.co.jp"),
            ("健太", "鈴木", "kenta.suzuki@renkei-demo.co.jp"),
        ],
    },
    PortalSpec {
        id: 21_432_987,
        name: "Renkei Demo Inc.",
        domain: "renkei-demo.com",
        time_zone: "America/New_York",
        currency: "USD",
        owners: &[
            ("Emma", "Smith", "emma.smith@renkei-demo.com"),
            ("Liam", "Johnson", "liam.johnson@renkei-demo.com"),
            ("Olivia", "Brown", "olivia.brown@renkei-demo.com"),
        ],
    },
];

/// A private-app token (`pat-na1-` and a UUID), the same for a portal across resets so that
/// scripts can keep it.
fn private_app_token(portal: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(portal ^ 0x9a7_0000);
    let hex: String = (0..32)
        .map(|_| crate::oauth::HEX[rng.usize(..16)] as char)
        .collect();
    format!(
        "pat-na1-{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn new_portal(spec: &PortalSpec, now_ms: i64) -> Portal {
    let owners = spec
        .owners
        .iter()
        .enumerate()
        .map(|(i, (first, last, email))| Owner {
            id: spec.id % 1_000_000 * 100 + 11 + i as u64,
            user_id: spec.id % 1_000_000 * 10 + 7 + i as u64,
            email: (*email).to_owned(),
            first_name: (*first).to_owned(),
            last_name: (*last).to_owned(),
            created_ms: now_ms,
            updated_ms: now_ms,
            archived: false,
        })
        .collect();
    Portal {
        id: spec.id,
        name: spec.name.to_owned(),
        domain: spec.domain.to_owned(),
        time_zone: spec.time_zone,
        currency: spec.currency,
        private_app_token: private_app_token(spec.id),
        // HubSpot record ids are large numbers; start each portal in its own range.
        next_id: spec.id % 1000 * 1_000_000_000 + 100_001,
        tables: ALL_TYPES.iter().map(|t| Table::new(*t, now_ms)).collect(),
        assoc: Default::default(),
        owners,
    }
}

/// Every portal's data.
pub struct State {
    pub portals: Vec<Portal>,
}

impl State {
    pub fn portal(&self, i: usize) -> &Portal {
        &self.portals[i]
    }
    pub fn portal_mut(&mut self, i: usize) -> &mut Portal {
        &mut self.portals[i]
    }
    /// The index of the portal with hub id `id` (given as a string).
    pub fn find(&self, id: &str) -> Option<usize> {
        self.portals.iter().position(|p| p.id.to_string() == id)
    }
}

/// Switches changeable through `_control/settings`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub auto_approve: bool,
    pub access_token_ttl_seconds: i64,
    pub code_ttl_seconds: i64,
    pub webhook_url: Option<String>,
    pub webhook_max_attempts: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auto_approve: false,
            access_token_ttl_seconds: DEFAULT_ACCESS_TTL,
            code_ttl_seconds: 600,
            webhook_url: None,
            webhook_max_attempts: 4,
        }
    }
}

impl Settings {
    fn json(&self) -> Value {
        json!({
            "auto_approve": self.auto_approve,
            "access_token_ttl_seconds": self.access_token_ttl_seconds,
            "code_ttl_seconds": self.code_ttl_seconds,
            "webhook_url": self.webhook_url,
            "webhook_max_attempts": self.webhook_max_attempts,
        })
    }
}

pub struct Hubspot {
    pub env: Env,
    pub tokens: TokenStore,
    state: RwLock<State>,
    pub settings: Mutex<Settings>,
    pub limits: Mutex<limits::Limits>,
    pub meter: limits::Meter,
    pub webhooks: webhooks::Outbox,
}

fn formats() -> Formats {
    Formats {
        // HubSpot codes and refresh tokens are UUIDs (refresh tokens of newer apps carry a
        // region prefix, `na1-`); access tokens are long opaque base64url strings.
        code: |r, _| uuid_from(r),
        access: |r, _| {
            format!(
                "CO{}",
                crate::oauth::random_chars(
                    r,
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                    140
                )
            )
        },
        refresh: |r, _| format!("na1-{}", &uuid_from(r)[4..]),
    }
}

fn uuid_from(r: &mut fastrand::Rng) -> String {
    let h = crate::oauth::random_chars(r, crate::oauth::HEX, 32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

impl Hubspot {
    pub fn new() -> Hubspot {
        let env = Env::default();
        let now = env.clock.now_ms();
        Hubspot {
            state: RwLock::new(State {
                portals: PORTALS.iter().map(|p| new_portal(p, now)).collect(),
            }),
            env,
            tokens: TokenStore::new(formats()),
            settings: Mutex::new(Settings::default()),
            limits: Mutex::new(limits::Limits::default()),
            meter: limits::Meter::default(),
            webhooks: webhooks::Outbox::default(),
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lifetimes(&self) -> Lifetimes {
        let s = lock(&self.settings);
        Lifetimes {
            access_secs: Some(s.access_token_ttl_seconds),
            code_secs: s.code_ttl_seconds,
            // A HubSpot refresh answers the same refresh token ("Refresh an access token").
            rotate_refresh: false,
        }
    }

    fn accounts_for_chooser(&self) -> Vec<(String, String)> {
        self.read()
            .portals
            .iter()
            .map(|p| (p.id.to_string(), format!("{} ({})", p.name, p.domain)))
            .collect()
    }
}

impl Default for Hubspot {
    fn default() -> Self {
        Hubspot::new()
    }
}

/// HubSpot's answer for a path it does not serve.
async fn not_found() -> Response {
    HsError::new(
        StatusCode::NOT_FOUND,
        "OBJECT_NOT_FOUND",
        "Resource not found; this path is not part of the HubSpot sandbox's API",
    )
    .into_response()
}

impl Emulator for Hubspot {
    fn name(&self) -> &'static str {
        "hubspot"
    }

    fn env(&self) -> &Env {
        &self.env
    }

    fn routes(self: Arc<Self>) -> Router {
        let api = Router::new()
            .route("/account-info/v3/details", get(owners::account_details))
            .route("/crm/v3/owners", get(owners::list))
            .route("/crm/v3/owners/", get(owners::list))
            .route("/crm/v3/owners/{id}", get(owners::read))
            .route(
                "/crm/v3/objects/{ty}",
                get(objects::list).post(objects::create),
            )
            .route("/crm/v3/objects/{ty}/search", post(search::search))
            .route("/crm/v3/objects/{ty}/batch/read", post(objects::batch_read))
            .route(
                "/crm/v3/objects/{ty}/batch/create",
                post(objects::batch_create),
            )
            .route(
                "/crm/v3/objects/{ty}/batch/update",
                post(objects::batch_update),
            )
            .route(
                "/crm/v3/objects/{ty}/batch/upsert",
                post(objects::batch_upsert),
            )
            .route(
                "/crm/v3/objects/{ty}/batch/archive",
                post(objects::batch_archive),
            )
            .route(
                "/crm/v3/objects/{ty}/{id}",
                get(objects::read)
                    .patch(objects::update)
                    .delete(objects::archive),
            )
            .route("/crm/v3/schemas", get(props::schemas))
            .route(
                "/crm/v3/properties/{ty}",
                get(props::list).post(props::create),
            )
            .route(
                "/crm/v3/properties/{ty}/{name}",
                get(props::read).patch(props::update).delete(props::archive),
            )
            .route(
                "/crm/v4/objects/{ty}/{id}/associations/{to}",
                get(assoc::list),
            )
            .route(
                "/crm/v4/objects/{ty}/{id}/associations/default/{to}/{to_id}",
                put(assoc::create_default),
            )
            .route(
                "/crm/v4/objects/{ty}/{id}/associations/{to}/{to_id}",
                put(assoc::create_labelled).delete(assoc::archive),
            )
            .route("/crm/v4/associations/{ty}/{to}/labels", get(assoc::labels))
            .route(
                "/crm/v4/associations/{ty}/{to}/batch/read",
                post(assoc::batch_read),
            )
            .route(
                "/crm/v4/associations/{ty}/{to}/batch/create",
                post(assoc::batch_create),
            )
            .route(
                "/crm/v4/associations/{ty}/{to}/batch/associate/default",
                post(assoc::batch_default),
            )
            .route(
                "/crm/v4/associations/{ty}/{to}/batch/archive",
                post(assoc::batch_archive),
            )
            .route_layer(axum::middleware::from_fn_with_state(
                self.clone(),
                auth::guard,
            ));
        let open = Router::new()
            .route(
                "/oauth/authorize",
                get(oauth::authorize).post(oauth::decide),
            )
            .route("/oauth/v1/token", post(oauth::token_v1))
            .route("/oauth/v3/token", post(oauth::token_v3))
            .route("/oauth/v3/token/introspect", post(oauth::introspect))
            .route("/oauth/v3/token/revoke", post(oauth::revoke_v3))
            .route("/oauth/v1/access-tokens/{token}", get(oauth::access_info))
            .route(
                "/oauth/v1/refresh-tokens/{token}",
                get(oauth::refresh_info).delete(oauth::refresh_delete),
            )
            .route("/_ui", get(ui::page));
        api.merge(open).fallback(not_found).with_state(self)
    }

    fn extra_control(self: Arc<Self>) -> Option<Router> {
        Some(
            Router::new()
                .route("/owners/{id}/{action}", post(owners::set_archived))
                .with_state(self),
        )
    }

    fn directory(&self, base: &BaseUrl) -> Value {
        let state = self.read();
        let accounts: Vec<Value> = state
            .portals
            .iter()
            .map(|p| {
                json!({
                    "id": p.id.to_string(),
                    "name": p.name,
                    "domain": p.domain,
                    "time_zone": p.time_zone,
                    "currency": p.currency,
                    "private_app_token": p.private_app_token,
                    "owners": p.owners.iter().map(|o| json!({
                        "id": o.id.to_string(), "email": o.email,
                        "firstName": o.first_name, "lastName": o.last_name,
                        "archived": o.archived,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let settings = lock(&self.settings).clone();
        json!({
            "urls": {
                "authorize": base.join("/oauth/authorize"),
                "token": base.join("/oauth/v1/token"),
                "token_v3": base.join("/oauth/v3/token"),
                "introspect": base.join("/oauth/v3/token/introspect"),
                "revoke": base.join("/oauth/v3/token/revoke"),
                "api": base.provider,
                "ui": base.join("/_ui"),
            },
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "app_id": APP_ID,
            "default_account": state.portals[0].id.to_string(),
            "accounts": accounts,
            "webhooks": {
                "url": settings.webhook_url,
                "signature": "v3 (X-HubSpot-Signature-v3, keyed by client_secret)",
            },
        })
    }

    fn reset(&self) {
        let now = self.env.clock.now_ms();
        *self.write() = State {
            portals: PORTALS.iter().map(|p| new_portal(p, now)).collect(),
        };
        self.tokens.clear();
        *lock(&self.settings) = Settings::default();
        *lock(&self.limits) = limits::Limits::default();
        self.meter.clear();
        self.webhooks.clear();
    }

    fn seed(&self, req: &SeedRequest) -> Result<Value, ControlError> {
        seeding::seed(self, req)
    }

    fn limits(&self) -> Value {
        lock(&self.limits).json()
    }

    fn set_limits(&self, body: Value) -> Result<Value, ControlError> {
        let mut l = lock(&self.limits);
        let mut next = l.clone();
        next.merge(body)?;
        *l = next;
        Ok(l.json())
    }

    fn settings(&self) -> Value {
        lock(&self.settings).json()
    }

    fn set_settings(&self, body: Value) -> Result<Value, ControlError> {
        let Value::Object(map) = body else {
            return Err(ControlError::invalid("settings must be a JSON object"));
        };
        let mut s = lock(&self.settings).clone();
        for (k, v) in map {
            let bad = || ControlError::invalid(format!("invalid value for {k}: {v}"));
            match k.as_str() {
                "auto_approve" => s.auto_approve = v.as_bool().ok_or_else(bad)?,
                "access_token_ttl_seconds" => {
                    s.access_token_ttl_seconds = v.as_i64().filter(|n| *n > 0).ok_or_else(bad)?
                }
                "code_ttl_seconds" => {
                    s.code_ttl_seconds = v.as_i64().filter(|n| *n > 0).ok_or_else(bad)?
                }
                "webhook_url" => {
                    s.webhook_url = match &v {
                        Value::Null => None,
                        Value::String(u) if u.starts_with("http") => Some(u.clone()),
                        _ => return Err(bad()),
                    }
                }
                "webhook_max_attempts" => {
                    s.webhook_max_attempts = v
                        .as_u64()
                        .filter(|n| (1..=10).contains(n))
                        .ok_or_else(bad)? as u32
                }
                other => {
                    return Err(ControlError::invalid(format!(
                        "unknown field `{other}`; expected one of auto_approve, access_token_ttl_seconds, code_ttl_seconds, webhook_url, webhook_max_attempts"
                    )));
                }
            }
        }
        *lock(&self.settings) = s.clone();
        Ok(s.json())
    }

    fn mint_tokens(&self, account: Option<&str>, _base: &BaseUrl) -> Result<Value, ControlError> {
        let state = self.read();
        let portal = match account {
            Some(a) => state
                .find(a)
                .ok_or_else(|| ControlError::unknown_account(a))?,
            None => 0,
        };
        let hub_id = state.portals[portal].id;
        let user_id = state.portals[portal].owners[0].user_id;
        drop(state);
        let issued = self.tokens.mint(
            CLIENT_ID,
            &hub_id.to_string(),
            oauth::default_scopes(),
            &self.lifetimes(),
            self.env.clock.now_ms(),
        );
        Ok(oauth::token_body(
            &issued,
            hub_id,
            user_id,
            self.env.clock.now_ms(),
        ))
    }

    fn fault_response(&self, kind: FaultKind, spec: &FaultSpec, headers: &HeaderMap) -> Response {
        match kind {
            FaultKind::RateLimit => {
                let retry = spec.retry_after_seconds.unwrap_or(1);
                limits::too_many(limits::Policy::TenSecondly, 0, retry * 1000, None)
            }
            FaultKind::ServerError => {
                let status = spec
                    .status
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                HsError::new(
                    status,
                    "INTERNAL_ERROR",
                    "internal error (injected by the sandbox)",
                )
                .into_response()
            }
            FaultKind::ExpiredToken => {
                if let Some(t) = auth::bearer(headers) {
                    self.tokens.expire_now(t, self.env.clock.now_ms());
                }
                HsError::expired(0).into_response()
            }
            FaultKind::RevokedToken => {
                if let Some(t) = auth::bearer(headers) {
                    self.tokens.revoke(t);
                }
                HsError::invalid_authentication().into_response()
            }
            // Slow and drop_after are handled by the common middleware.
            FaultKind::Slow | FaultKind::DropAfter => {
                HsError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "fault")
                    .into_response()
            }
        }
    }
}

/// `{"status": "COMPLETE", "results": [...], "startedAt", "completedAt"}` (HubSpot's batch
/// response), with `errors` and `numErrors` when some inputs failed.
pub fn batch_body(started_ms: i64, now_ms: i64, results: Vec<Value>, errors: Vec<Value>) -> Value {
    let mut m = Map::new();
    m.insert("status".into(), json!("COMPLETE"));
    m.insert("results".into(), Value::Array(results));
    if !errors.is_empty() {
        m.insert("numErrors".into(), json!(errors.len()));
        m.insert("errors".into(), Value::Array(errors));
    }
    m.insert("startedAt".into(), json!(store::iso(started_ms)));
    m.insert("completedAt".into(), json!(store::iso(now_ms)));
    Value::Object(m)
}

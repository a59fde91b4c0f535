//! The Zoho CRM emulator: Zoho Accounts (OAuth 2.0) per data centre and the CRM REST API v8
//! (with the older version paths as aliases), for several independent orgs in different data
//! centres.
//!
//! URL layout under `/sandbox/zoho`, per data centre `dc` (`com`, `jp`):
//! - `/{dc}/accounts/oauth/v2/auth`, `/token`, `/token/revoke`: the accounts server
//!   (real: `https://accounts.zoho.{dc}`);
//! - `/{dc}/api/crm/v8/…`: the API domain (real: `https://www.zohoapis.{dc}`);
//! - `/_ui`: the HTML view; `/_control/…`: the common control API, plus
//!   `/_control/clients` to register a client in one data centre.
//!
//! Zoho keeps each user's data in one data centre ("Multi DC support",
//! https://www.zoho.com/accounts/protocol/oauth/multi-dc.html): the authorization redirect says
//! where (`location`, `accounts-server`), the code must be redeemed there, and the token answers
//! that data centre's `api_domain`. A token is only good at its own data centre's API.

mod api;
mod errors;
mod limits;
mod meta;
mod model;
mod oauth;
mod records;
mod search;
mod store;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::control::{ControlError, Emulator, SeedRequest};
use crate::env::{Env, FaultKind, FaultSpec, lock};
use crate::http::{BaseUrl, JsonIn};
use crate::oauth::{Client, Formats, HEX, Lifetimes, TokenStore, random_chars};

use model::MODULES;
use store::{DCS, ORGS, Org, Rec};

pub use limits::Limits;

/// The deployment's pre-registered client: a server-based client with Multi DC enabled and one
/// secret for every data centre, so it is accepted at every accounts server.
pub const CLIENT_ID: &str = "1000.SANDBOXRENKEI0ZOHO0CLIENT00001";
pub const CLIENT_SECRET: &str = "5b2f0a8e3c1d47a9b6e0f1d2c3b4a5968778695a4b";

/// Switches changeable through `_control/settings`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub auto_approve: bool,
    /// Zoho access tokens live one hour ("expires_in": 3600).
    pub access_token_ttl_seconds: i64,
    /// "an authorization code … which is valid for 2 minutes"
    /// (https://www.zoho.com/accounts/protocol/oauth/web-apps/authorization.html).
    pub grant_code_ttl_seconds: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auto_approve: false,
            access_token_ttl_seconds: 3600,
            grant_code_ttl_seconds: 120,
        }
    }
}

/// A registered OAuth client and the data centre it was registered in (`None`: every DC).
#[derive(Debug, Clone)]
pub struct ZClient {
    pub client: Client,
    pub dc: Option<String>,
}

pub struct Zoho {
    env: Env,
    tokens: TokenStore,
    orgs: RwLock<Vec<Org>>,
    settings: Mutex<Settings>,
    limits: Mutex<Limits>,
    usage: limits::Usage,
    clients: Mutex<Vec<ZClient>>,
    /// Codes by the data centre that issued them: a code is only redeemable there.
    code_dc: Mutex<HashMap<String, String>>,
    /// Grants made with `access_type=online` (Zoho's default): no refresh token.
    online: Mutex<HashSet<u64>>,
    /// Codes issued for `access_type=online`.
    online_codes: Mutex<HashSet<String>>,
}

fn token_formats() -> Formats {
    // `1000.<32 hex>.<32 hex>` for codes, access and refresh tokens alike, as in Zoho's docs.
    Formats {
        code: |r, _| {
            format!(
                "1000.{}.{}",
                random_chars(r, HEX, 32),
                random_chars(r, HEX, 32)
            )
        },
        access: |r, _| {
            format!(
                "1000.{}.{}",
                random_chars(r, HEX, 32),
                random_chars(r, HEX, 32)
            )
        },
        refresh: |r, _| {
            format!(
                "1000.{}.{}",
                random_chars(r, HEX, 32),
                random_chars(r, HEX, 32)
            )
        },
    }
}

impl Default for Zoho {
    fn default() -> Self {
        Self::new()
    }
}

impl Zoho {
    pub fn new() -> Zoho {
        let z = Zoho {
            env: Env::default(),
            tokens: TokenStore::new(token_formats()),
            orgs: RwLock::new(Vec::new()),
            settings: Mutex::new(Settings::default()),
            limits: Mutex::new(Limits::default()),
            usage: limits::Usage::default(),
            clients: Mutex::new(Vec::new()),
            code_dc: Mutex::new(HashMap::new()),
            online: Mutex::new(HashSet::new()),
            online_codes: Mutex::new(HashSet::new()),
        };
        z.reset();
        z
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Org>> {
        self.orgs.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Org>> {
        self.orgs.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lifetimes(&self) -> Lifetimes {
        let s = lock(&self.settings);
        Lifetimes {
            access_secs: Some(s.access_token_ttl_seconds),
            code_secs: s.grant_code_ttl_seconds,
            rotate_refresh: false,
        }
    }

    /// The org with this id (the account id of the directory and the token store).
    fn org_index(orgs: &[Org], id: &str) -> Option<usize> {
        orgs.iter().position(|o| o.id.to_string() == id)
    }

    fn client(&self, client_id: &str) -> Option<ZClient> {
        lock(&self.clients)
            .iter()
            .find(|c| c.client.client_id == client_id)
            .cloned()
    }

    /// `{base}/{dc}/accounts` and `{base}/{dc}/api`.
    pub fn accounts_server(base: &BaseUrl, dc: &str) -> String {
        base.join(&format!("/{dc}/accounts"))
    }

    pub fn api_domain(base: &BaseUrl, dc: &str) -> String {
        base.join(&format!("/{dc}/api"))
    }

    /// Every scope this emulator knows: what `_control/tokens` grants.
    const ALL_SCOPES: &'static [&'static str] = &[
        "ZohoCRM.modules.ALL",
        "ZohoCRM.settings.ALL",
        "ZohoCRM.users.ALL",
        "ZohoCRM.org.ALL",
    ];
}

impl Emulator for Zoho {
    fn name(&self) -> &'static str {
        "zoho"
    }

    fn env(&self) -> &Env {
        &self.env
    }

    fn routes(self: Arc<Self>) -> Router {
        Router::new()
            .route(
                "/{dc}/accounts/oauth/v2/auth",
                get(oauth::authorize).post(oauth::decide),
            )
            .route("/{dc}/accounts/oauth/v2/token", post(oauth::token))
            .route("/{dc}/accounts/oauth/v2/token/revoke", post(oauth::revoke))
            .route("/{dc}/api/{*rest}", any(api::handle))
            .route("/_ui", get(ui))
            .fallback(|| async { errors::ApiError::invalid_url() })
            .with_state(self)
    }

    fn extra_control(self: Arc<Self>) -> Option<Router> {
        Some(
            Router::new()
                .route("/clients", post(register_client))
                .with_state(self),
        )
    }

    fn directory(&self, base: &BaseUrl) -> Value {
        let urls = |dc: &str| {
            let accounts = Self::accounts_server(base, dc);
            json!({
                "authorize": format!("{accounts}/oauth/v2/auth"),
                "token": format!("{accounts}/oauth/v2/token"),
                "revoke": format!("{accounts}/oauth/v2/token/revoke"),
                "accounts_server": accounts,
                "api": Self::api_domain(base, dc),
                "ui": base.join("/_ui"),
            })
        };
        let mut dcs = serde_json::Map::new();
        for dc in DCS {
            dcs.insert((*dc).into(), json!({"urls": urls(dc)}));
        }
        let orgs = self.read();
        let accounts: Vec<Value> = orgs
            .iter()
            .map(|o| {
                json!({
                    "id": o.id.to_string(),
                    "name": o.name,
                    "data_centre": o.dc,
                    "user_email": o.users[0].email,
                    "time_zone": o.time_zone,
                    "currency": o.currency,
                })
            })
            .collect();
        json!({
            "urls": urls("com"),
            "data_centres": dcs,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "clients_url": base.join("/_control/clients"),
            "api_version": "v8",
            "accounts": accounts,
        })
    }

    fn reset(&self) {
        let now = self.env.clock.now_ms();
        *self.write() = ORGS.iter().map(|s| Org::new(s, now)).collect();
        *lock(&self.settings) = Settings::default();
        *lock(&self.limits) = Limits::default();
        self.usage.clear();
        *lock(&self.clients) = vec![ZClient {
            client: Client {
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
                redirect_uris: vec![],
                name: "renkei (sandbox)".into(),
            },
            dc: None,
        }];
        lock(&self.code_dc).clear();
        lock(&self.online).clear();
        lock(&self.online_codes).clear();
        self.tokens.clear();
    }

    fn seed(&self, req: &SeedRequest) -> Result<Value, ControlError> {
        let now = self.env.clock.now_ms();
        let mut orgs = self.write();
        let idx = match &req.account {
            Some(a) => Self::org_index(&orgs, a).ok_or_else(|| ControlError::unknown_account(a))?,
            None => 0,
        };
        let org = &mut orgs[idx];
        Ok(records::seed(org, req.seed, req.count, now))
    }

    fn limits(&self) -> Value {
        lock(&self.limits).to_json(&self.read())
    }

    fn set_limits(&self, body: Value) -> Result<Value, ControlError> {
        let mut l = lock(&self.limits);
        l.merge(body)?;
        Ok(l.to_json(&self.read()))
    }

    fn settings(&self) -> Value {
        let s = lock(&self.settings);
        json!({
            "auto_approve": s.auto_approve,
            "access_token_ttl_seconds": s.access_token_ttl_seconds,
            "grant_code_ttl_seconds": s.grant_code_ttl_seconds,
        })
    }

    fn set_settings(&self, body: Value) -> Result<Value, ControlError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Patch {
            auto_approve: Option<bool>,
            access_token_ttl_seconds: Option<i64>,
            grant_code_ttl_seconds: Option<i64>,
        }
        if body.is_null() {
            return Ok(self.settings());
        }
        let p: Patch = crate::control::decode(body)?;
        {
            let mut s = lock(&self.settings);
            if let Some(v) = p.access_token_ttl_seconds {
                if !(1..=86_400).contains(&v) {
                    return Err(ControlError::invalid(
                        "access_token_ttl_seconds must be between 1 and 86400",
                    ));
                }
                s.access_token_ttl_seconds = v;
            }
            if let Some(v) = p.grant_code_ttl_seconds {
                if !(1..=3600).contains(&v) {
                    return Err(ControlError::invalid(
                        "grant_code_ttl_seconds must be between 1 and 3600",
                    ));
                }
                s.grant_code_ttl_seconds = v;
            }
            if let Some(v) = p.auto_approve {
                s.auto_approve = v;
            }
        }
        Ok(self.settings())
    }

    fn mint_tokens(&self, account: Option<&str>, base: &BaseUrl) -> Result<Value, ControlError> {
        let (org_id, dc) = {
            let orgs = self.read();
            let idx = match account {
                Some(a) => {
                    Self::org_index(&orgs, a).ok_or_else(|| ControlError::unknown_account(a))?
                }
                None => 0,
            };
            (orgs[idx].id.to_string(), orgs[idx].dc.to_owned())
        };
        let scopes: Vec<String> = Self::ALL_SCOPES.iter().map(|s| s.to_string()).collect();
        let issued = self.tokens.mint(
            CLIENT_ID,
            &org_id,
            scopes.clone(),
            &self.lifetimes(),
            self.env.clock.now_ms(),
        );
        Ok(oauth::token_body(
            &issued.access.token,
            issued.refresh_token.as_deref(),
            &scopes,
            &Self::api_domain(base, &dc),
            self.lifetimes().access_secs.unwrap_or(3600),
        ))
    }

    fn fault_response(&self, kind: FaultKind, spec: &FaultSpec, headers: &HeaderMap) -> Response {
        let bearer = api::bearer(headers);
        match kind {
            FaultKind::RateLimit => {
                limits::too_many_requests(spec.retry_after_seconds.unwrap_or(1), None)
            }
            FaultKind::ExpiredToken => {
                if let Some(b) = &bearer {
                    self.tokens.expire_now(b, self.env.clock.now_ms());
                }
                errors::ApiError::invalid_token().into_response()
            }
            FaultKind::RevokedToken => {
                if let Some(b) = &bearer {
                    self.tokens.revoke(b);
                }
                errors::ApiError::invalid_token().into_response()
            }
            _ => {
                let status = spec.status.unwrap_or(503);
                errors::ApiError::new(
                    status,
                    "INTERNAL_ERROR",
                    "Internal server error occurred.",
                    json!({}),
                )
                .into_response()
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClient {
    data_centre: String,
    redirect_uri: Option<String>,
    name: Option<String>,
}

/// `POST /_control/clients {"data_centre": "jp", "redirect_uri"?}`: a client registered in
/// one data centre's API console, without Multi DC: only that DC's accounts server knows it.
async fn register_client(
    State(z): State<Arc<Zoho>>,
    JsonIn(body): JsonIn,
) -> Result<Response, ControlError> {
    let req: NewClient = crate::control::decode(body)?;
    if !DCS.contains(&req.data_centre.as_str()) {
        return Err(ControlError::invalid(format!(
            "data_centre must be one of {DCS:?}"
        )));
    }
    let mut rng = fastrand::Rng::new();
    let client_id = format!(
        "1000.{}",
        random_chars(&mut rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 30)
    );
    let client_secret = random_chars(&mut rng, HEX, 42);
    lock(&z.clients).push(ZClient {
        client: Client {
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            redirect_uris: req.redirect_uri.clone().into_iter().collect(),
            name: req.name.unwrap_or_else(|| "tenant app".into()),
        },
        dc: Some(req.data_centre.clone()),
    });
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(json!({
            "client_id": client_id,
            "client_secret": client_secret,
            "data_centre": req.data_centre,
            "redirect_uri": req.redirect_uri,
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct UiQuery {
    account: Option<String>,
}

/// The HTML view: the orgs, and per module the count and the most recent records.
async fn ui(State(z): State<Arc<Zoho>>, Query(q): Query<UiQuery>) -> Response {
    let orgs = z.read();
    let idx = q
        .account
        .as_deref()
        .and_then(|a| Zoho::org_index(&orgs, a))
        .unwrap_or(0);
    let org = &orgs[idx];
    let accounts: Vec<(String, String)> = orgs
        .iter()
        .map(|o| (o.id.to_string(), format!("{} [{}]", o.name, o.dc)))
        .collect();
    let mut tables = Vec::new();
    for (m, def) in MODULES.iter().enumerate() {
        let t = &org.tables[m];
        if t.rows.is_empty() {
            continue;
        }
        let shown: Vec<&model::FieldDef> = def.fields.iter().take(5).collect();
        let mut columns = vec!["id".to_string()];
        columns.extend(shown.iter().map(|f| f.api.to_string()));
        columns.push("Modified_Time".into());
        let rows = t
            .rows
            .values()
            .rev()
            .take(20)
            .map(|r: &Rec| {
                let v = org.record_json(m, r, None);
                let mut row = vec![r.id.to_string()];
                for f in &shown {
                    row.push(match &v[f.api] {
                        Value::Null => String::new(),
                        Value::String(s) => s.clone(),
                        Value::Object(o) => o
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        other => other.to_string(),
                    });
                }
                row.push(org.time(r.modified_ms));
                row
            })
            .collect();
        tables.push(crate::ui::Table {
            object: def.api.to_string(),
            total: t.rows.len(),
            columns,
            rows,
        });
    }
    crate::ui::page("Zoho CRM", &accounts, &org.id.to_string(), &tables).into_response()
}

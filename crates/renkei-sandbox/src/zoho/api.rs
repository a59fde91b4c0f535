//! The CRM API domain (`/{dc}/api/crm/{version}/…`): URL dispatch, authentication
//! (`Authorization: Zoho-oauthtoken …`), the token's data centre, OAuth scopes, and the limits.
//!
//! Version paths: v8 is the one modelled; `v2`, `v2.1`, `v3` … `v7` are served by the same code,
//! except that before v3 the `fields` parameter of a list is optional (Zoho made it mandatory in
//! v3, "Changes in v3", https://www.zoho.com/crm/developer/docs/api/v3/).
//!
//! Scopes ("Scopes", https://www.zoho.com/crm/developer/docs/api/v8/scopes.html):
//! `ZohoCRM.modules.{ALL|READ|CREATE|UPDATE|DELETE|WRITE}` and the per-module
//! `ZohoCRM.modules.{leads|contacts|…|notes|custom}.{…}` for records;
//! `ZohoCRM.settings.{ALL|READ}`, `ZohoCRM.settings.modules.*`, `ZohoCRM.settings.fields.*` for
//! metadata; `ZohoCRM.users.{ALL|READ|UPDATE}`; `ZohoCRM.org.{ALL|READ}`. Scope names are
//! case-insensitive. A missing scope answers 401 `OAUTH_SCOPE_MISMATCH`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;
use super::model::{MODULES, module_index};
use super::{Zoho, limits, meta, records, search};
use crate::env::lock;
use crate::oauth::BearerError;

/// The access token of a request: `Zoho-oauthtoken <token>` (what Zoho documents and the SDK
/// sends) or `Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let h = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = h.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("Zoho-oauthtoken") || scheme.eq_ignore_ascii_case("Bearer") {
        let t = token.trim();
        (!t.is_empty()).then(|| t.to_owned())
    } else {
        None
    }
}

/// What a request asks for, as the scope check sees it.
enum Need {
    Module(usize, &'static str),
    Settings(&'static str),
    Users,
    UsersUpdate,
    Org,
}

#[derive(Debug)]
pub enum Route {
    Org,
    Users(Option<String>),
    UpdateUser(Option<String>),
    Modules(Option<String>),
    Fields,
    List(usize),
    Insert(usize),
    Update(usize),
    DeleteMany(usize),
    Upsert(usize),
    Search(usize),
    Deleted(usize),
    Count(usize),
    Get(usize, String),
    UpdateOne(usize, String),
    DeleteOne(usize, String),
    NotesOf(usize, String),
    AddNotesTo(usize, String),
}

const VERSIONS: &[&str] = &["v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"];

fn route(method: &Method, segs: &[&str]) -> Result<Route, ApiError> {
    let m = |name: &str| module_index(name).ok_or_else(ApiError::invalid_module);
    let is = |x: &Method| method == x;
    let r = match segs {
        ["org"] if is(&Method::GET) => Route::Org,
        ["users"] if is(&Method::GET) => Route::Users(None),
        ["users", id] if is(&Method::GET) => Route::Users(Some((*id).to_owned())),
        ["users"] if is(&Method::PUT) => Route::UpdateUser(None),
        ["users", id] if is(&Method::PUT) => Route::UpdateUser(Some((*id).to_owned())),
        ["settings", "modules"] if is(&Method::GET) => Route::Modules(None),
        ["settings", "modules", name] if is(&Method::GET) => {
            Route::Modules(Some((*name).to_owned()))
        }
        ["settings", "fields"] if is(&Method::GET) => Route::Fields,
        ["org" | "users" | "settings", ..] => return Err(ApiError::invalid_url()),
        [module] => {
            let mi = m(module)?;
            match *method {
                Method::GET => Route::List(mi),
                Method::POST => Route::Insert(mi),
                Method::PUT => Route::Update(mi),
                Method::DELETE => Route::DeleteMany(mi),
                _ => return Err(ApiError::invalid_method()),
            }
        }
        [module, "upsert"] if is(&Method::POST) => Route::Upsert(m(module)?),
        [module, "search"] if is(&Method::GET) => Route::Search(m(module)?),
        [module, "deleted"] if is(&Method::GET) => Route::Deleted(m(module)?),
        [module, "actions", "count"] if is(&Method::GET) => Route::Count(m(module)?),
        [module, id] => {
            let mi = m(module)?;
            match *method {
                Method::GET => Route::Get(mi, (*id).to_owned()),
                Method::PUT => Route::UpdateOne(mi, (*id).to_owned()),
                Method::DELETE => Route::DeleteOne(mi, (*id).to_owned()),
                _ => return Err(ApiError::invalid_method()),
            }
        }
        [module, id, rel] if rel.eq_ignore_ascii_case("Notes") => {
            let mi = m(module)?;
            match *method {
                Method::GET => Route::NotesOf(mi, (*id).to_owned()),
                Method::POST => Route::AddNotesTo(mi, (*id).to_owned()),
                _ => return Err(ApiError::invalid_method()),
            }
        }
        _ => return Err(ApiError::invalid_url()),
    };
    Ok(r)
}

fn need(r: &Route) -> Need {
    match r {
        Route::Org => Need::Org,
        Route::Users(_) => Need::Users,
        Route::UpdateUser(_) => Need::UsersUpdate,
        Route::Modules(_) => Need::Settings("modules"),
        Route::Fields => Need::Settings("fields"),
        Route::List(m)
        | Route::Search(m)
        | Route::Deleted(m)
        | Route::Count(m)
        | Route::Get(m, _) => Need::Module(*m, "READ"),
        Route::Insert(m) => Need::Module(*m, "CREATE"),
        Route::Update(m) | Route::UpdateOne(m, _) => Need::Module(*m, "UPDATE"),
        // An upsert may create and update; Zoho asks for both (or ALL/WRITE).
        Route::Upsert(m) => Need::Module(*m, "WRITE"),
        Route::DeleteMany(m) | Route::DeleteOne(m, _) => Need::Module(*m, "DELETE"),
        Route::NotesOf(_, _) => Need::Module(module_index("Notes").unwrap_or(0), "READ"),
        Route::AddNotesTo(_, _) => Need::Module(module_index("Notes").unwrap_or(0), "CREATE"),
    }
}

fn has_scope(scopes: &[String], need: &Need) -> bool {
    let has = |s: &str| scopes.iter().any(|g| g.eq_ignore_ascii_case(s));
    match need {
        Need::Module(m, op) => {
            let module = MODULES[*m].scope;
            let ops: &[&str] = match *op {
                "READ" => &["ALL", "READ"],
                "CREATE" => &["ALL", "CREATE", "WRITE"],
                "UPDATE" => &["ALL", "UPDATE", "WRITE"],
                "DELETE" => &["ALL", "DELETE"],
                _ => &["ALL", "WRITE"],
            };
            ops.iter().any(|o| {
                has(&format!("ZohoCRM.modules.{o}"))
                    || has(&format!("ZohoCRM.modules.{module}.{o}"))
            }) || (*op == "WRITE"
                && (has("ZohoCRM.modules.CREATE")
                    || has(&format!("ZohoCRM.modules.{module}.CREATE")))
                && (has("ZohoCRM.modules.UPDATE")
                    || has(&format!("ZohoCRM.modules.{module}.UPDATE"))))
        }
        Need::Settings(area) => ["ALL", "READ"].iter().any(|o| {
            has(&format!("ZohoCRM.settings.{o}")) || has(&format!("ZohoCRM.settings.{area}.{o}"))
        }),
        Need::Users => has("ZohoCRM.users.ALL") || has("ZohoCRM.users.READ"),
        Need::UsersUpdate => has("ZohoCRM.users.ALL") || has("ZohoCRM.users.UPDATE"),
        Need::Org => has("ZohoCRM.org.ALL") || has("ZohoCRM.org.READ"),
    }
}

/// The query string as a map (the last value of a repeated key wins).
pub type Params = HashMap<String, String>;

/// What handlers get besides the org.
pub struct Ctx {
    pub version: u32,
    pub params: Params,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    pub now_ms: i64,
    /// The user the token acts as (index into the org's users).
    pub user: u16,
}

fn credits(r: &Route, body: &[u8]) -> u64 {
    // Writes cost 1 credit per 10 records ("API Limits", credit table).
    match r {
        Route::Insert(_) | Route::Update(_) | Route::Upsert(_) => {
            let n = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("data").and_then(|d| d.as_array()).map(Vec::len))
                .unwrap_or(1);
            n.div_ceil(10).max(1) as u64
        }
        _ => 1,
    }
}

/// `/{dc}/api/{*rest}`.
pub async fn handle(
    State(z): State<Arc<Zoho>>,
    Path((dc, rest)): Path<(String, String)>,
    req: Request,
) -> Response {
    let method = req.method().clone();
    let headers = req.headers().clone();
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    if !super::store::DCS.contains(&dc.as_str()) {
        return ApiError::invalid_url().into_response();
    }
    let (version, segs) = match segs.as_slice() {
        ["crm", v, rest @ ..] if VERSIONS.contains(v) => {
            let n: u32 = v
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|x| x.parse().ok())
                .unwrap_or(8);
            (n, rest.to_vec())
        }
        _ => return ApiError::invalid_url().into_response(),
    };
    let now = z.env.clock.now_ms();
    // Authentication comes first: Zoho answers 401 before looking at the rest of the URL.
    let Some(token) = bearer(&headers) else {
        return ApiError::auth_failure().into_response();
    };
    let grant = match z.tokens.authenticate(&token, now) {
        Ok((g, _)) => g,
        Err(BearerError::Unknown | BearerError::Expired | BearerError::Revoked) => {
            return ApiError::invalid_token().into_response();
        }
    };
    let (org_idx, org_id, users) = {
        let orgs = z.read();
        let Some(i) = Zoho::org_index(&orgs, &grant.account) else {
            return ApiError::invalid_token().into_response();
        };
        // A token is only known to its own data centre's servers.
        if orgs[i].dc != dc {
            return ApiError::invalid_token().into_response();
        }
        (i, orgs[i].id, orgs[i].users.len())
    };
    let r = match route(&method, &segs) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if !has_scope(&grant.scopes, &need(&r)) {
        return ApiError::scope_mismatch().into_response();
    }
    let (limit, max_conc) = {
        let l = lock(&z.limits);
        (l.credits_for(users), l.concurrency())
    };
    let _slot = match z.usage.enter(org_id, max_conc) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    // The body is read while the concurrency slot is held, as a real server would.
    let body = match axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return ApiError::invalid_body("body").into_response(),
    };
    let admitted = match z.usage.spend(org_id, credits(&r, &body), limit, now) {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let params: Params = crate::http::form_pairs(raw_query.as_bytes())
        .into_iter()
        .collect();
    let ctx = Ctx {
        version,
        params,
        headers,
        body,
        now_ms: now,
        user: 0,
    };
    let mut resp = dispatch(&z, org_idx, r, &ctx);
    limits::put_headers(
        &mut resp,
        admitted.limit,
        admitted.remaining,
        admitted.reset_ms,
    );
    resp
}

fn dispatch(z: &Zoho, org: usize, r: Route, ctx: &Ctx) -> Response {
    let result = match r {
        Route::Org => meta::org(&z.read()[org]),
        Route::Users(id) => meta::users(&z.read()[org], id.as_deref(), ctx),
        Route::UpdateUser(id) => meta::update_user(&mut z.write()[org], id.as_deref(), ctx),
        Route::Modules(name) => meta::modules(&z.read()[org], name.as_deref()),
        Route::Fields => meta::fields(&z.read()[org], ctx),
        Route::List(m) => records::list(&z.read()[org], m, ctx),
        Route::Get(m, id) => records::get_one(&z.read()[org], m, &id, ctx),
        Route::Count(m) => records::count(&z.read()[org], m),
        Route::Deleted(m) => records::deleted(&z.read()[org], m, ctx),
        Route::Search(m) => search::search(&z.read()[org], m, ctx),
        Route::NotesOf(m, id) => records::notes_of(&z.read()[org], m, &id, ctx),
        Route::Insert(m) => records::write(&mut z.write()[org], m, records::Mode::Insert, ctx),
        Route::Update(m) => {
            records::write(&mut z.write()[org], m, records::Mode::Update(None), ctx)
        }
        Route::UpdateOne(m, id) => {
            records::write(&mut z.write()[org], m, records::Mode::Update(Some(id)), ctx)
        }
        Route::Upsert(m) => records::write(&mut z.write()[org], m, records::Mode::Upsert, ctx),
        Route::AddNotesTo(m, id) => {
            records::write(&mut z.write()[org], m, records::Mode::NotesOf(id), ctx)
        }
        Route::DeleteMany(m) => records::delete(&mut z.write()[org], m, None, ctx),
        Route::DeleteOne(m, id) => records::delete(&mut z.write()[org], m, Some(&id), ctx),
    };
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// 204 No Content: what Zoho answers for an empty list or search.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

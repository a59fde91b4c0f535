//! HubSpot's OAuth 2.0: the authorize page (account chooser), the v1 and v3 token endpoints,
//! token metadata (`/oauth/v1/access-tokens/{token}`, `/oauth/v1/refresh-tokens/{token}`),
//! introspection and revocation (`/oauth/v3/token/introspect`, `/oauth/v3/token/revoke`).
//!
//! Shapes follow HubSpot's OAuth OpenAPI files (Auth/Oauth v1 and v3 in
//! HubSpot-public-api-spec-collection) and its "OAuth tokens" docs: a token response carries
//! `token_type` "bearer", `access_token`, `refresh_token`, `expires_in` (1800), `hub_id`,
//! `user_id`, `scopes` and `token_use`. A refresh answers the same refresh token. Token errors
//! on v1 are `{"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token",
//! "correlationId"}` (likewise `BAD_AUTH_CODE`, `EXPIRED_AUTH_CODE`, `BAD_CLIENT_ID`,
//! `BAD_CLIENT_SECRET`, `BAD_REDIRECT_URI`, `BAD_GRANT_TYPE`); v3 adds the OAuth 2.0 `error`
//! and `error_description` (RFC 6749 section 5.2) to the same body.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::errors::uuid;
use super::{APP_ID, APP_NAME, CLIENT_ID, CLIENT_SECRET, Hubspot};
use crate::env::lock;
use crate::http::{BaseUrl, escape_html, with_query};
use crate::oauth::{CodeError, ConsentPage, Issued, RefreshError, consent_page, parse_pkce_method};

/// Scopes granted when the authorize request names none (and by `_control/tokens`).
pub fn default_scopes() -> Vec<String> {
    [
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
        "crm.objects.deals.read",
        "crm.objects.deals.write",
        "crm.objects.owners.read",
        "crm.schemas.contacts.read",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// The token response of HubSpot's token endpoints.
pub fn token_body(issued: &Issued, hub_id: u64, user_id: u64, now_ms: i64) -> Value {
    // Rounded up: `now_ms` is read a moment after the token was issued, and truncating would
    // answer 1799 for a fresh 30-minute token whenever a second boundary fell in between.
    let expires_in = issued
        .access
        .expires_ms
        .map(|e| (e - now_ms + 999).div_euclid(1000))
        .unwrap_or(super::DEFAULT_ACCESS_TTL);
    json!({
        "token_type": "bearer",
        "refresh_token": issued.refresh_token.as_deref().unwrap_or(&issued.grant.refresh_token),
        "access_token": issued.access.token,
        "expires_in": expires_in,
        "hub_id": hub_id,
        "user_id": user_id,
        "scopes": issued.grant.scopes,
        "token_use": "access_token",
    })
}

fn error_page(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>HubSpot (sandbox): authorization error</title></head>\
<body><h1>Authorization failed</h1><p>{}</p></body></html>",
            escape_html(message)
        )),
    )
        .into_response()
}

/// Checks an authorize request's client and redirect URI; answers HubSpot's error page when
/// the app cannot be identified (there is nowhere safe to redirect to).
fn check_client(p: &HashMap<String, String>) -> Result<String, Box<Response>> {
    match p.get("client_id").map(String::as_str) {
        Some(CLIENT_ID) => {}
        Some(_) | None => {
            return Err(Box::new(error_page(
                "Couldn't find an app with this client_id.",
            )));
        }
    }
    match p.get("redirect_uri") {
        Some(r) if r.starts_with("http") => Ok(r.clone()),
        _ => Err(Box::new(error_page(
            "The redirect_uri is missing or invalid.",
        ))),
    }
}

fn scopes_of(p: &HashMap<String, String>) -> Vec<String> {
    let mut scopes: Vec<String> = ["scope", "optional_scope"]
        .iter()
        .filter_map(|k| p.get(*k))
        .flat_map(|s| s.split([' ', ',', '+']))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        scopes = default_scopes();
    }
    scopes.dedup();
    scopes
}

/// Issues a code for `account` and redirects back to the app.
fn approve(hs: &Hubspot, p: &HashMap<String, String>, redirect: &str, account: &str) -> Response {
    let challenge = match p.get("code_challenge") {
        Some(c) => match parse_pkce_method(p.get("code_challenge_method").map(String::as_str)) {
            Some(m) => Some((c.clone(), m)),
            None => return error_page("code_challenge_method must be S256 or plain."),
        },
        None => None,
    };
    let code = hs.tokens.issue_code(
        CLIENT_ID,
        redirect,
        account,
        scopes_of(p),
        challenge,
        hs.env.clock.now_ms(),
    );
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = p.get("state") {
        params.push(("state", s.as_str()));
    }
    Redirect::to(&with_query(redirect, &params)).into_response()
}

/// `GET /oauth/authorize`: the consent page with HubSpot's "Choose an account" list, or with
/// `auto_approve` an immediate redirect with a code for the `account` parameter (a sandbox
/// extension) or the first portal.
pub async fn authorize(
    State(hs): State<Arc<Hubspot>>,
    base: BaseUrl,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    let redirect = match check_client(&p) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if lock(&hs.settings).auto_approve {
        let account = {
            let state = hs.read();
            match p.get("account") {
                Some(a) => match state.find(a) {
                    Some(i) => state.portals[i].id.to_string(),
                    None => return error_page(&format!("No account {a} in this sandbox.")),
                },
                None => state.portals[0].id.to_string(),
            }
        };
        return approve(&hs, &p, &redirect, &account);
    }
    let accounts = hs.accounts_for_chooser();
    let scopes = scopes_of(&p);
    let hidden: Vec<(String, String)> = p.into_iter().collect();
    let action = base.join("/oauth/authorize");
    consent_page(&ConsentPage {
        vendor: "HubSpot",
        app_name: APP_NAME,
        accounts: &accounts,
        scopes: &scopes,
        action: &action,
        hidden: &hidden,
    })
    .into_response()
}

/// `POST /oauth/authorize`: the consent form's answer.
pub async fn decide(
    State(hs): State<Arc<Hubspot>>,
    Form(p): Form<HashMap<String, String>>,
) -> Response {
    let redirect = match check_client(&p) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if p.get("decision").map(String::as_str) != Some("approve") {
        let mut params = vec![
            ("error", "access_denied"),
            ("error_description", "The user denied access to the app"),
        ];
        if let Some(s) = p.get("state") {
            params.push(("state", s.as_str()));
        }
        return Redirect::to(&with_query(&redirect, &params)).into_response();
    }
    let account = p.get("account").cloned().unwrap_or_default();
    if hs.read().find(&account).is_none() {
        return error_page("Choose an account to connect the app to.");
    }
    approve(&hs, &p, &redirect, &account)
}

/// A token endpoint error: v1 answers HubSpot's `status`/`message` body; v3 adds RFC 6749's
/// `error` and `error_description`.
fn token_error(v3: bool, status: &str, message: &str, oauth_error: &str) -> Response {
    let mut body = json!({
        "status": status,
        "message": message,
        "correlationId": uuid(),
    });
    if v3 {
        body["error"] = json!(oauth_error);
        body["error_description"] = json!(message);
        body["category"] = json!("VALIDATION_ERROR");
    }
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

pub async fn token_v1(State(hs): State<Arc<Hubspot>>, body: axum::body::Bytes) -> Response {
    token(&hs, &body, false)
}

pub async fn token_v3(State(hs): State<Arc<Hubspot>>, body: axum::body::Bytes) -> Response {
    token(&hs, &body, true)
}

fn form(body: &[u8]) -> HashMap<String, String> {
    crate::http::form_pairs(body).into_iter().collect()
}

fn token(hs: &Hubspot, body: &[u8], v3: bool) -> Response {
    let p = form(body);
    let get = |k: &str| p.get(k).map(String::as_str).filter(|s| !s.is_empty());
    let grant_type = get("grant_type");
    if !matches!(
        grant_type,
        Some("authorization_code") | Some("refresh_token")
    ) {
        return token_error(
            v3,
            "BAD_GRANT_TYPE",
            "missing or unsupported grant_type; use authorization_code or refresh_token",
            "unsupported_grant_type",
        );
    }
    if get("client_id") != Some(CLIENT_ID) {
        return token_error(
            v3,
            "BAD_CLIENT_ID",
            "missing or unknown client id",
            "invalid_client",
        );
    }
    if get("client_secret") != Some(CLIENT_SECRET) {
        return token_error(
            v3,
            "BAD_CLIENT_SECRET",
            "missing or invalid client secret",
            "invalid_client",
        );
    }
    let now = hs.env.clock.now_ms();
    let lifetimes = hs.lifetimes();
    let issued = if grant_type == Some("authorization_code") {
        let Some(code) = get("code") else {
            return token_error(
                v3,
                "BAD_AUTH_CODE",
                "missing or unknown auth code",
                "invalid_grant",
            );
        };
        match hs.tokens.redeem_code(
            code,
            CLIENT_ID,
            get("redirect_uri"),
            get("code_verifier"),
            &lifetimes,
            now,
        ) {
            Ok(i) => i,
            Err(CodeError::Expired) => {
                return token_error(
                    v3,
                    "EXPIRED_AUTH_CODE",
                    "auth code is expired",
                    "invalid_grant",
                );
            }
            Err(CodeError::RedirectMismatch) => {
                return token_error(
                    v3,
                    "BAD_REDIRECT_URI",
                    "redirect_uri does not match the one of the authorization request",
                    "invalid_grant",
                );
            }
            Err(CodeError::VerifierMissing) => {
                return token_error(
                    v3,
                    "BAD_AUTH_CODE",
                    "missing code_verifier: the authorization request had a code_challenge",
                    "invalid_grant",
                );
            }
            Err(CodeError::VerifierMismatch) => {
                return token_error(
                    v3,
                    "BAD_AUTH_CODE",
                    "code_verifier does not match the code_challenge",
                    "invalid_grant",
                );
            }
            Err(CodeError::Reused | CodeError::Unknown | CodeError::ClientMismatch) => {
                return token_error(
                    v3,
                    "BAD_AUTH_CODE",
                    "missing or unknown auth code",
                    "invalid_grant",
                );
            }
        }
    } else {
        let Some(rt) = get("refresh_token") else {
            return token_error(
                v3,
                "BAD_REFRESH_TOKEN",
                "missing or invalid refresh token",
                "invalid_grant",
            );
        };
        match hs.tokens.refresh(rt, CLIENT_ID, &lifetimes, now) {
            Ok(i) => i,
            Err(RefreshError::Unknown | RefreshError::Revoked | RefreshError::ClientMismatch) => {
                return token_error(
                    v3,
                    "BAD_REFRESH_TOKEN",
                    "missing or invalid refresh token",
                    "invalid_grant",
                );
            }
        }
    };
    let (hub_id, user_id) = hub_and_user(hs, &issued.grant.account);
    axum::Json(token_body(&issued, hub_id, user_id, now)).into_response()
}

fn hub_and_user(hs: &Hubspot, account: &str) -> (u64, u64) {
    let state = hs.read();
    match state.find(account) {
        Some(i) => (state.portals[i].id, state.portals[i].owners[0].user_id),
        None => (0, 0),
    }
}

fn user_email(hs: &Hubspot, account: &str) -> (String, String) {
    let state = hs.read();
    match state.find(account) {
        Some(i) => (
            state.portals[i].owners[0].email.clone(),
            state.portals[i].domain.clone(),
        ),
        None => (String::new(), String::new()),
    }
}

/// The metadata of a live access token (`AccessTokenInfoResponse`).
fn access_json(hs: &Hubspot, token: &str) -> Option<Value> {
    let now = hs.env.clock.now_ms();
    let (grant, access) = hs.tokens.authenticate(token, now).ok()?;
    let (hub_id, user_id) = hub_and_user(hs, &grant.account);
    let (user, hub_domain) = user_email(hs, &grant.account);
    Some(json!({
        "token": token,
        "user": user,
        "hub_domain": hub_domain,
        "scopes": grant.scopes,
        "hub_id": hub_id,
        "app_id": APP_ID,
        "expires_in": access.expires_ms.map(|e| (e - now) / 1000).unwrap_or(0),
        "user_id": user_id,
        "token_type": "access",
        "client_id": CLIENT_ID,
        "is_private_distribution": false,
    }))
}

fn refresh_json(hs: &Hubspot, token: &str) -> Option<Value> {
    let grant = hs.tokens.lookup_refresh(token).filter(|g| !g.revoked)?;
    let (hub_id, user_id) = hub_and_user(hs, &grant.account);
    let (user, hub_domain) = user_email(hs, &grant.account);
    Some(json!({
        "token": token,
        "user": user,
        "hub_domain": hub_domain,
        "scopes": grant.scopes,
        "hub_id": hub_id,
        "client_id": CLIENT_ID,
        "user_id": user_id,
        "token_type": "refresh",
    }))
}

/// `GET /oauth/v1/access-tokens/{token}`. An expired token answers the same 401 as the API;
/// an unknown or revoked one a 404.
pub async fn access_info(State(hs): State<Arc<Hubspot>>, Path(token): Path<String>) -> Response {
    if let Some(v) = access_json(&hs, &token) {
        return axum::Json(v).into_response();
    }
    let now = hs.env.clock.now_ms();
    match hs.tokens.lookup_access(&token) {
        Some((g, a)) if !g.revoked => {
            let ago = a.expires_ms.map(|e| (now - e) / 60_000).unwrap_or(0);
            super::errors::HsError::expired(ago).into_response()
        }
        _ => super::errors::HsError::not_found("The access token is invalid or has been revoked")
            .into_response(),
    }
}

/// `GET /oauth/v1/refresh-tokens/{token}`.
pub async fn refresh_info(State(hs): State<Arc<Hubspot>>, Path(token): Path<String>) -> Response {
    match refresh_json(&hs, &token) {
        Some(v) => axum::Json(v).into_response(),
        None => {
            super::errors::HsError::not_found("missing or invalid refresh token").into_response()
        }
    }
}

/// `DELETE /oauth/v1/refresh-tokens/{token}`: revokes the refresh token and every access
/// token issued from it; 204.
pub async fn refresh_delete(State(hs): State<Arc<Hubspot>>, Path(token): Path<String>) -> Response {
    if hs.tokens.lookup_refresh(&token).is_some() && hs.tokens.revoke(&token) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        super::errors::HsError::not_found("missing or invalid refresh token").into_response()
    }
}

fn client_ok(p: &HashMap<String, String>) -> bool {
    p.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && p.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
}

/// `POST /oauth/v3/token/introspect` (RFC 7662): `{"active": true, ...}` with the token's
/// metadata and `token_use`, or `{"active": false}` for a token HubSpot does not know.
pub async fn introspect(State(hs): State<Arc<Hubspot>>, body: axum::body::Bytes) -> Response {
    let p = form(&body);
    if !client_ok(&p) {
        return token_error(
            true,
            "BAD_CLIENT_ID",
            "missing or invalid client credentials",
            "invalid_client",
        );
    }
    let token = p.get("token").cloned().unwrap_or_default();
    let hint = p.get("token_type_hint").map(String::as_str);
    let access = || {
        access_json(&hs, &token).map(|mut v| {
            v["active"] = json!(true);
            v["token_use"] = json!("access_token");
            v
        })
    };
    let refresh = || {
        refresh_json(&hs, &token).map(|mut v| {
            v["active"] = json!(true);
            v["token_use"] = json!("refresh_token");
            v["app_id"] = json!(APP_ID);
            v
        })
    };
    let found = if hint == Some("refresh_token") {
        refresh().or_else(access)
    } else {
        access().or_else(refresh)
    };
    axum::Json(found.unwrap_or_else(|| json!({"active": false}))).into_response()
}

/// `POST /oauth/v3/token/revoke` (RFC 7009): revokes the grant behind an access or a refresh
/// token; 200 with an empty body, also for an unknown token.
pub async fn revoke_v3(State(hs): State<Arc<Hubspot>>, body: axum::body::Bytes) -> Response {
    let p = form(&body);
    if !client_ok(&p) {
        return token_error(
            true,
            "BAD_CLIENT_ID",
            "missing or invalid client credentials",
            "invalid_client",
        );
    }
    if let Some(t) = p.get("token") {
        hs.tokens.revoke(t);
    }
    StatusCode::OK.into_response()
}

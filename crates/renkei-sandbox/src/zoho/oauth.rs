//! Zoho Accounts, one per data centre: the authorization page (`/oauth/v2/auth`), the token
//! endpoint (`/oauth/v2/token`, authorization-code and refresh-token grants) and revocation
//! (`/oauth/v2/token/revoke`).
//!
//! Zoho's quirks, from its OAuth docs (https://www.zoho.com/accounts/protocol/oauth/web-apps/):
//! - the redirect carries `code`, `location` and `accounts-server` besides `state`
//!   ("Multi DC", https://www.zoho.com/accounts/protocol/oauth/multi-dc/client-authorization.html);
//! - codes live 2 minutes and are good only at the data centre that issued them;
//! - token errors are answered with HTTP 200 and `{"error": "invalid_code"}` (also for an
//!   unknown or revoked refresh token), `invalid_client`, `invalid_client_secret`,
//!   `invalid_redirect_uri`, `unsupported_grant_type`;
//! - `access_type` defaults to `online`: only `offline` gets a refresh token; a refresh answers
//!   no new refresh token;
//! - scopes are comma-separated (`ZohoCRM.modules.ALL,ZohoCRM.settings.ALL`);
//! - PKCE (`code_challenge`, `code_challenge_method=S256|plain`) as Zoho documents it for
//!   mobile and JavaScript clients, verified when the authorization carried a challenge;
//! - revoke answers `{"status": "success"}`, and HTTP 400 for an unknown token.

// A ready vendor response is the natural error of these checks; they run once per request.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::Zoho;
use super::store::DCS;
use crate::env::lock;
use crate::http::{BaseUrl, escape_html, with_query};
use crate::oauth::{CodeError, ConsentPage, RefreshError, consent_page, parse_pkce_method};

/// The token response: `access_token`, `refresh_token` (code grant with `access_type=offline`
/// only), `scope`, `api_domain`, `token_type`, `expires_in`.
pub fn token_body(
    access: &str,
    refresh: Option<&str>,
    scopes: &[String],
    api_domain: &str,
    expires_in: i64,
) -> Value {
    let mut body = json!({"access_token": access});
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    body["scope"] = json!(scopes.join(" "));
    body["api_domain"] = json!(api_domain);
    body["token_type"] = json!("Bearer");
    body["expires_in"] = json!(expires_in);
    body
}

fn token_error(error: &str) -> Response {
    // Zoho answers token errors with 200 OK.
    axum::Json(json!({"error": error})).into_response()
}

/// The page Zoho Accounts shows when the authorization request itself is wrong.
fn error_page(status: StatusCode, code: &str, text: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Zoho Accounts</title></head>\
<body><h1>{}</h1><p>{}</p><p class=\"code\">error: {}</p></body></html>",
            escape_html(text),
            escape_html("The request could not be processed (sandbox)."),
            escape_html(code)
        )),
    )
        .into_response()
}

/// The request's parameters from its query string and form body; a body value wins.
fn params(raw: Option<&str>, body: &[u8]) -> HashMap<String, String> {
    crate::http::query_and_form(raw, body).into_iter().collect()
}

fn split_scopes(s: &str) -> Vec<String> {
    s.split([',', ' '])
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks the authorization request; answers the client and the parsed scopes.
fn check_request(
    z: &Zoho,
    dc: &str,
    p: &HashMap<String, String>,
) -> Result<(super::ZClient, Vec<String>, String), Response> {
    if !DCS.contains(&dc) {
        return Err(super::errors::ApiError::invalid_url().into_response());
    }
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let client = z
        .client(get("client_id"))
        .filter(|c| c.dc.as_deref().is_none_or(|d| d == dc))
        .ok_or_else(|| error_page(StatusCode::BAD_REQUEST, "invalid_client", "Invalid Client"))?;
    let redirect = get("redirect_uri").to_owned();
    if redirect.is_empty() || !client.client.accepts_redirect(&redirect) {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            "Invalid Redirect Uri",
        ));
    }
    if get("response_type") != "code" {
        return Err(Redirect::to(&with_query(
            &redirect,
            &[("error", "unsupported_response_type")],
        ))
        .into_response());
    }
    let scopes = split_scopes(get("scope"));
    if scopes.is_empty() {
        return Err(
            Redirect::to(&with_query(&redirect, &[("error", "invalid_scope")])).into_response(),
        );
    }
    if parse_pkce_method(p.get("code_challenge_method").map(String::as_str)).is_none() {
        return Err(
            Redirect::to(&with_query(&redirect, &[("error", "invalid_request")])).into_response(),
        );
    }
    Ok((client, scopes, redirect))
}

/// `GET /{dc}/accounts/oauth/v2/auth`: the consent page (account chooser: every org the
/// sandbox user belongs to, in any data centre), or with `auto_approve` an immediate redirect.
pub async fn authorize(
    State(z): State<Arc<Zoho>>,
    Path(dc): Path<String>,
    base: BaseUrl,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = params(raw.as_deref(), b"");
    let (client, scopes, redirect) = match check_request(&z, &dc, &p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if lock(&z.settings).auto_approve {
        let orgs = z.read();
        let account = p
            .get("account")
            .and_then(|a| Zoho::org_index(&orgs, a))
            .unwrap_or(0);
        let org_id = orgs[account].id.to_string();
        drop(orgs);
        return approve(&z, &base, &p, &client, scopes, &redirect, &org_id);
    }
    let orgs = z.read();
    let accounts: Vec<(String, String)> = orgs
        .iter()
        .map(|o| {
            (
                o.id.to_string(),
                format!("{} — {} (zoho.{})", o.name, o.users[0].email, o.dc),
            )
        })
        .collect();
    let hidden: Vec<(String, String)> = p.into_iter().collect();
    let action = base.join(&format!("/{dc}/accounts/oauth/v2/auth"));
    consent_page(&ConsentPage {
        vendor: "Zoho CRM",
        app_name: &client.client.name,
        accounts: &accounts,
        scopes: &scopes,
        action: &action,
        hidden: &hidden,
    })
    .into_response()
}

/// `POST /{dc}/accounts/oauth/v2/auth`: the consent form's answer.
pub async fn decide(
    State(z): State<Arc<Zoho>>,
    Path(dc): Path<String>,
    base: BaseUrl,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(raw.as_deref(), &body);
    let (client, scopes, redirect) = match check_request(&z, &dc, &p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut back: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = p.get("state") {
        back.push(("state", s));
    }
    if p.get("decision").map(String::as_str) != Some("approve") {
        back.push(("error", "access_denied"));
        return Redirect::to(&with_query(&redirect, &back)).into_response();
    }
    let org_id = {
        let orgs = z.read();
        match p.get("account").and_then(|a| Zoho::org_index(&orgs, a)) {
            Some(i) => orgs[i].id.to_string(),
            None => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "invalid_account",
                    "Choose an account",
                );
            }
        }
    };
    approve(&z, &base, &p, &client, scopes, &redirect, &org_id)
}

fn approve(
    z: &Zoho,
    base: &BaseUrl,
    p: &HashMap<String, String>,
    client: &super::ZClient,
    scopes: Vec<String>,
    redirect: &str,
    org_id: &str,
) -> Response {
    let org_dc = {
        let orgs = z.read();
        match Zoho::org_index(&orgs, org_id) {
            Some(i) => orgs[i].dc.to_owned(),
            None => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "invalid_account",
                    "Unknown account",
                );
            }
        }
    };
    // A client registered in one data centre cannot reach users of another.
    if client.dc.as_deref().is_some_and(|d| d != org_dc) {
        return Redirect::to(&with_query(
            redirect,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "client not enabled for this data centre",
                ),
            ],
        ))
        .into_response();
    }
    let challenge = p.get("code_challenge").filter(|c| !c.is_empty()).map(|c| {
        (
            c.clone(),
            parse_pkce_method(p.get("code_challenge_method").map(String::as_str))
                .unwrap_or(crate::oauth::PkceMethod::Plain),
        )
    });
    let code = z.tokens.issue_code(
        &client.client.client_id,
        redirect,
        org_id,
        scopes,
        challenge,
        z.env.clock.now_ms(),
    );
    lock(&z.code_dc).insert(code.clone(), org_dc.clone());
    if p.get("access_type").map(String::as_str) != Some("offline") {
        lock(&z.online_codes).insert(code.clone());
    }
    let accounts_server = Zoho::accounts_server(base, &org_dc);
    let mut q: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = p.get("state") {
        q.push(("state", s));
    }
    q.push(("code", &code));
    // Zoho names the data centre by region, not by domain: `location=us` for accounts.zoho.com
    // (https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html).
    let location = if org_dc == "com" {
        "us"
    } else {
        org_dc.as_str()
    };
    q.push(("location", location));
    q.push(("accounts-server", &accounts_server));
    Redirect::to(&with_query(redirect, &q)).into_response()
}

/// `POST /{dc}/accounts/oauth/v2/token`: parameters in the query string (as Zoho's docs show)
/// or a form body (as the SDKs send).
pub async fn token(
    State(z): State<Arc<Zoho>>,
    Path(dc): Path<String>,
    base: BaseUrl,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if !DCS.contains(&dc.as_str()) {
        return super::errors::ApiError::invalid_url().into_response();
    }
    let p = params(raw.as_deref(), &body);
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client) = get("client_id")
        .and_then(|c| z.client(c))
        .filter(|c| c.dc.as_deref().is_none_or(|d| d == dc))
    else {
        return token_error("invalid_client");
    };
    if get("client_secret") != Some(client.client.client_secret.as_str()) {
        return token_error("invalid_client_secret");
    }
    let now = z.env.clock.now_ms();
    let lifetimes = z.lifetimes();
    let ttl = lifetimes.access_secs.unwrap_or(3600);
    match get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return token_error("invalid_code");
            };
            // A code exists only at the accounts server of the user's data centre.
            if lock(&z.code_dc).get(code).is_some_and(|d| *d != dc) {
                return token_error("invalid_code");
            }
            if let Some(r) = get("redirect_uri")
                && !client.client.accepts_redirect(r)
            {
                return token_error("invalid_redirect_uri");
            }
            match z.tokens.redeem_code(
                code,
                &client.client.client_id,
                get("redirect_uri"),
                get("code_verifier"),
                &lifetimes,
                now,
            ) {
                Ok(issued) => {
                    let online = lock(&z.online_codes).contains(code);
                    if online {
                        lock(&z.online).insert(issued.grant.id);
                    }
                    let refresh = if online {
                        None
                    } else {
                        issued.refresh_token.as_deref()
                    };
                    axum::Json(token_body(
                        &issued.access.token,
                        refresh,
                        &issued.grant.scopes,
                        &Zoho::api_domain(&base, &dc),
                        ttl,
                    ))
                    .into_response()
                }
                Err(CodeError::RedirectMismatch) => token_error("invalid_redirect_uri"),
                Err(CodeError::ClientMismatch) => token_error("invalid_client"),
                // Zoho words every other code failure (unknown, used, expired, PKCE) alike.
                Err(_) => token_error("invalid_code"),
            }
        }
        Some("refresh_token") => {
            let Some(rt) = get("refresh_token") else {
                return token_error("invalid_code");
            };
            // A refresh token, too, belongs to one data centre.
            let grant_dc = z.tokens.lookup_refresh(rt).and_then(|g| {
                let orgs = z.read();
                Zoho::org_index(&orgs, &g.account).map(|i| orgs[i].dc.to_owned())
            });
            if grant_dc.as_deref().is_some_and(|d| d != dc) {
                return token_error("invalid_code");
            }
            if let Some(g) = z.tokens.lookup_refresh(rt)
                && lock(&z.online).contains(&g.id)
            {
                return token_error("invalid_code");
            }
            match z
                .tokens
                .refresh(rt, &client.client.client_id, &lifetimes, now)
            {
                Ok(issued) => axum::Json(token_body(
                    &issued.access.token,
                    None,
                    &issued.grant.scopes,
                    &Zoho::api_domain(&base, &dc),
                    ttl,
                ))
                .into_response(),
                Err(RefreshError::ClientMismatch) => token_error("invalid_client"),
                Err(_) => token_error("invalid_code"),
            }
        }
        Some(_) => token_error("unsupported_grant_type"),
        None => token_error("invalid_request"),
    }
}

/// `POST /{dc}/accounts/oauth/v2/token/revoke?token=…`: revokes the whole grant behind a
/// refresh (or access) token.
pub async fn revoke(
    State(z): State<Arc<Zoho>>,
    Path(dc): Path<String>,
    Query(_): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if !DCS.contains(&dc.as_str()) {
        return super::errors::ApiError::invalid_url().into_response();
    }
    let p = params(raw.as_deref(), &body);
    match p.get("token") {
        Some(t) if z.tokens.revoke(t) => axum::Json(json!({"status": "success"})).into_response(),
        _ => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
            json!({"error": "invalid_request"}).to_string(),
        )
            .into_response(),
    }
}

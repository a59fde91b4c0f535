//! Salesforce's OAuth 2.0 endpoints (the login server, and each org's My Domain): the web
//! server flow with the consent page and PKCE, the refresh-token flow, revocation, userinfo,
//! token introspection, and the identity URL.
//!
//! Shapes follow "OAuth 2.0 Web Server Flow for Web App Integration", "OAuth 2.0 Refresh Token
//! Flow", "Revoke OAuth Tokens", "UserInfo Endpoint", "Identity URLs" and "OAuth 2.0 Token
//! Introspection" (Salesforce Help). A token response has `access_token`, `refresh_token` (only
//! when the grant includes the `refresh_token` or `offline_access` scope; on refresh only when
//! rotation is on), `signature` (base64 HMAC-SHA256 of `id + issued_at` keyed with the client
//! secret), `scope`, `instance_url`, `id`, `token_type` and `issued_at` (ms, as a string), and no
//! `expires_in`: the session lasts the org's session timeout (2 hours by default), unannounced.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use super::errors::oauth_error;
use super::{CLIENT_ID, CLIENT_SECRET, Salesforce};
use crate::http::{BaseUrl, escape_html, with_query};
use crate::oauth::{
    BearerError, CodeError, ConsentPage, Issued, PkceMethod, RefreshError, consent_page,
};

/// Scopes a connected app can request ("OAuth Tokens and Scopes", Salesforce Help).
const SCOPES: &[&str] = &[
    "api",
    "web",
    "full",
    "id",
    "profile",
    "email",
    "address",
    "phone",
    "openid",
    "refresh_token",
    "offline_access",
    "chatter_api",
    "visualforce",
    "custom_permissions",
    "lightning",
    "content",
];

/// What the pre-registered connected app grants when the request names no scope.
const DEFAULT_SCOPES: &[&str] = &["api", "id", "refresh_token"];

fn form(body: &[u8], uri_query: Option<&str>) -> Vec<(String, String)> {
    crate::http::query_and_form(uri_query, body)
}

fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn error_page(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Salesforce (sandbox): error</title></head>\
<body><h1>Salesforce <small>sandbox</small></h1><p>error={}</p><p>error_description={}</p></body></html>",
            escape_html(error),
            escape_html(description)
        )),
    )
        .into_response()
}

fn redirect(url: String) -> Response {
    Redirect::to(&url).into_response()
}

/// The client and redirect URI of an authorization request. Errors before the redirect URI is
/// known are shown as a page, not redirected: redirecting to an unchecked URI would make the
/// endpoint an open redirector (RFC 6749 section 4.1.2.1).
fn check_client(p: &[(String, String)]) -> Result<&str, Box<Response>> {
    if get(p, "client_id") != Some(CLIENT_ID) {
        return Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            "invalid_client_id",
            "client identifier invalid",
        )));
    }
    get(p, "redirect_uri").ok_or_else(|| {
        Box::new(error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        ))
    })
}

/// Sends the browser back to the client with an OAuth error (and the client's `state`).
fn refuse(redirect_uri: &str, state: Option<&str>, error: &str, description: &str) -> Response {
    let mut q = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        q.push(("state", s));
    }
    redirect(with_query(redirect_uri, &q))
}

/// `GET /services/oauth2/authorize`: the consent page (or, with `auto_approve`, the redirect).
pub async fn authorize(
    State(sf): State<Arc<Salesforce>>,
    base: BaseUrl,
    uri: axum::http::Uri,
) -> Response {
    let p = form(b"", uri.query());
    let (settings_auto, accounts) = {
        let st = crate::env::lock(&sf.state);
        (
            st.settings.auto_approve,
            st.orgs
                .iter()
                .map(|o| (o.id.clone(), format!("{} — {}", o.admin().username, o.name)))
                .collect::<Vec<_>>(),
        )
    };
    let redirect_uri = match check_client(&p) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    let state = get(&p, "state");
    let fail = |error: &str, description: &str| refuse(redirect_uri, state, error, description);
    if get(&p, "response_type") != Some("code") {
        return fail("unsupported_response_type", "response type not supported");
    }
    let scopes = match parse_scopes(get(&p, "scope")) {
        Ok(s) => s,
        Err(bad) => {
            return fail(
                "invalid_scope",
                &format!("the requested scope is not allowed: {bad}"),
            );
        }
    };
    if get(&p, "code_challenge_method").is_some_and(|m| m != "S256" && m != "plain") {
        return fail("invalid_request", "invalid code_challenge_method");
    }
    if settings_auto {
        let account = get(&p, "account").map(str::to_owned);
        let Some(org) = sf.find_org(account.as_deref()) else {
            return fail("access_denied", "unknown account");
        };
        return approve(&sf, &p, redirect_uri, state, &org, scopes);
    }
    let hidden: Vec<(String, String)> = p
        .iter()
        .filter(|(k, _)| {
            [
                "client_id",
                "redirect_uri",
                "state",
                "scope",
                "response_type",
                "code_challenge",
                "code_challenge_method",
            ]
            .contains(&k.as_str())
        })
        .cloned()
        .collect();
    consent_page(&ConsentPage {
        vendor: "Salesforce",
        app_name: "renkei (sandbox connected app)",
        accounts: &accounts,
        scopes: &scopes,
        action: &base.join("/services/oauth2/authorize"),
        hidden: &hidden,
    })
    .into_response()
}

fn parse_scopes(s: Option<&str>) -> Result<Vec<String>, String> {
    match s {
        None => Ok(DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()),
        Some(s) => {
            let mut out = Vec::new();
            for w in s.split([' ', '+']).filter(|w| !w.is_empty()) {
                if !SCOPES.contains(&w) {
                    return Err(w.to_owned());
                }
                if !out.iter().any(|x| x == w) {
                    out.push(w.to_owned());
                }
            }
            Ok(out)
        }
    }
}

fn approve(
    sf: &Salesforce,
    p: &[(String, String)],
    redirect_uri: &str,
    state: Option<&str>,
    org_id: &str,
    scopes: Vec<String>,
) -> Response {
    // Salesforce's code_challenge is the S256 hash unless told otherwise ("code_challenge —
    // Specifies the SHA256 hash value of the code_verifier", web server flow parameters).
    let challenge = get(p, "code_challenge").map(|c| {
        let method = match get(p, "code_challenge_method") {
            Some("plain") => PkceMethod::Plain,
            _ => PkceMethod::S256,
        };
        (c.to_owned(), method)
    });
    let code = sf.tokens.issue_code(
        CLIENT_ID,
        redirect_uri,
        org_id,
        scopes,
        challenge,
        sf.env.clock.now_ms(),
    );
    let mut q = vec![("code", code.as_str())];
    if let Some(s) = state {
        q.push(("state", s));
    }
    redirect(with_query(redirect_uri, &q))
}

/// `POST /services/oauth2/authorize`: the consent form's answer.
pub async fn authorize_post(
    State(sf): State<Arc<Salesforce>>,
    body: axum::body::Bytes,
) -> Response {
    let p = form(&body, None);
    let redirect_uri = match check_client(&p) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    let state = get(&p, "state");
    if get(&p, "decision") != Some("approve") {
        return refuse(
            redirect_uri,
            state,
            "access_denied",
            "end-user denied authorization",
        );
    }
    let Some(org) = sf.find_org(get(&p, "account")) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unknown account",
        );
    };
    let scopes = parse_scopes(get(&p, "scope")).unwrap_or_default();
    approve(&sf, &p, redirect_uri, state, &org, scopes)
}

fn client_auth(headers: &HeaderMap, p: &[(String, String)]) -> (Option<String>, Option<String>) {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(basic.trim())
        && let Ok(text) = String::from_utf8(raw)
        && let Some((id, secret)) = text.split_once(':')
    {
        return (Some(id.to_owned()), Some(secret.to_owned()));
    }
    (
        get(p, "client_id").map(str::to_owned),
        get(p, "client_secret").map(str::to_owned),
    )
}

/// The signature Salesforce puts in a token response: base64 HMAC-SHA256 of `id + issued_at`
/// keyed with the client secret.
pub fn signature(id_url: &str, issued_at: &str, secret: &str) -> String {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(id_url.as_bytes());
    mac.update(issued_at.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The token response body.
pub fn token_body(sf: &Salesforce, base: &BaseUrl, issued: &Issued, with_refresh: bool) -> Value {
    let st = crate::env::lock(&sf.state);
    let org = st.orgs.iter().find(|o| o.id == issued.grant.account);
    let (instance, id_url) = match org {
        Some(o) => (
            base.join(&format!("/instances/{}", o.slug)),
            base.join(&format!("/id/{}/{}", o.id, o.user_id(o.admin().serial))),
        ),
        None => (base.provider.clone(), base.join("/id")),
    };
    let issued_at = issued.access.issued_ms.to_string();
    let mut body = json!({
        "access_token": issued.access.token,
        "signature": signature(&id_url, &issued_at, CLIENT_SECRET),
        "scope": issued.grant.scopes.join(" "),
        "instance_url": instance,
        "id": id_url,
        "token_type": "Bearer",
        "issued_at": issued_at,
    });
    let refreshable = issued
        .grant
        .scopes
        .iter()
        .any(|s| s == "refresh_token" || s == "offline_access");
    if with_refresh
        && refreshable
        && let Some(rt) = &issued.refresh_token
    {
        body["refresh_token"] = json!(rt);
    }
    body
}

/// `POST /services/oauth2/token`.
pub async fn token(
    State(sf): State<Arc<Salesforce>>,
    base: BaseUrl,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Response {
    let p = form(&body, uri.query());
    let grant_type = get(&p, "grant_type");
    if !matches!(grant_type, Some("authorization_code" | "refresh_token")) {
        return oauth_error(400, "unsupported_grant_type", "grant type not supported");
    }
    let (client_id, secret) = client_auth(&headers, &p);
    if client_id.as_deref() != Some(CLIENT_ID) {
        return oauth_error(400, "invalid_client_id", "client identifier invalid");
    }
    let verifier = get(&p, "code_verifier");
    match secret.as_deref() {
        Some(s) if s != CLIENT_SECRET => {
            return oauth_error(400, "invalid_client", "invalid client credentials");
        }
        // A public client proves itself with PKCE instead of the secret.
        None if verifier.is_none() => {
            return oauth_error(400, "invalid_client", "invalid client credentials");
        }
        _ => {}
    }
    let lifetimes = sf.lifetimes();
    let now = sf.env.clock.now_ms();
    if grant_type == Some("authorization_code") {
        let Some(code) = get(&p, "code") else {
            return oauth_error(400, "invalid_grant", "invalid authorization code");
        };
        let issued = sf.tokens.redeem_code(
            code,
            CLIENT_ID,
            get(&p, "redirect_uri"),
            verifier,
            &lifetimes,
            now,
        );
        return match issued {
            Ok(i) => axum::Json(token_body(&sf, &base, &i, true)).into_response(),
            Err(CodeError::Expired) => {
                oauth_error(400, "invalid_grant", "expired authorization code")
            }
            Err(CodeError::RedirectMismatch) => oauth_error(
                400,
                "redirect_uri_mismatch",
                "redirect_uri must match configuration",
            ),
            Err(CodeError::VerifierMissing | CodeError::VerifierMismatch) => {
                oauth_error(400, "invalid_grant", "invalid code verifier")
            }
            Err(CodeError::Unknown | CodeError::Reused | CodeError::ClientMismatch) => {
                oauth_error(400, "invalid_grant", "invalid authorization code")
            }
        };
    }
    let Some(rt) = get(&p, "refresh_token") else {
        return oauth_error(400, "invalid_grant", "expired access/refresh token");
    };
    match sf.tokens.refresh(rt, CLIENT_ID, &lifetimes, now) {
        // The refresh token is answered only when it was rotated ("Refresh Token Rotation",
        // Salesforce Help); otherwise the client keeps the one it has.
        Ok(i) => axum::Json(token_body(&sf, &base, &i, lifetimes.rotate_refresh)).into_response(),
        Err(RefreshError::Unknown | RefreshError::Revoked | RefreshError::ClientMismatch) => {
            oauth_error(400, "invalid_grant", "expired access/refresh token")
        }
    }
}

/// `POST|GET /services/oauth2/revoke` ("Revoke OAuth Tokens"): 200 with an empty body, or 400.
pub async fn revoke(
    State(sf): State<Arc<Salesforce>>,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Response {
    let p = form(&body, uri.query());
    let Some(token) = get(&p, "token") else {
        return oauth_error(400, "unsupported_token_type", "Token type not supported");
    };
    if sf.tokens.revoke(token) {
        StatusCode::OK.into_response()
    } else {
        oauth_error(400, "invalid_token", "Token was invalid")
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let h = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    h.strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("OAuth "))
        .map(str::trim)
}

/// Who an OAuth-protected identity endpoint is talking to; otherwise Salesforce's 403 text.
fn identity_user(sf: &Salesforce, headers: &HeaderMap) -> Result<(String, u64), Box<Response>> {
    let Some(token) = bearer(headers) else {
        return Err(Box::new(
            (StatusCode::FORBIDDEN, "Missing_OAuth_Token").into_response(),
        ));
    };
    match sf.tokens.authenticate(token, sf.env.clock.now_ms()) {
        Ok((grant, _)) => {
            let st = crate::env::lock(&sf.state);
            let org = st
                .orgs
                .iter()
                .find(|o| o.id == grant.account)
                .ok_or_else(|| {
                    Box::new((StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response())
                })?;
            Ok((org.id.clone(), org.admin().serial))
        }
        Err(BearerError::Unknown | BearerError::Expired | BearerError::Revoked) => Err(Box::new(
            (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response(),
        )),
    }
}

/// `GET|POST /services/oauth2/userinfo` (OpenID Connect claims).
pub async fn userinfo(
    State(sf): State<Arc<Salesforce>>,
    base: BaseUrl,
    headers: HeaderMap,
) -> Response {
    let (org_id, user) = match identity_user(&sf, &headers) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let st = crate::env::lock(&sf.state);
    let Some(org) = st.orgs.iter().find(|o| o.id == org_id) else {
        return (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response();
    };
    let u = org.admin();
    let user_id = org.user_id(user);
    let instance = base.join(&format!("/instances/{}", org.slug));
    let id_url = base.join(&format!("/id/{}/{}", org.id, user_id));
    axum::Json(json!({
        "sub": id_url,
        "user_id": user_id,
        "organization_id": org.id,
        "preferred_username": u.username,
        "nickname": u.username.split('@').next().unwrap_or(""),
        "name": format!("{} {}", u.first_name, u.last_name),
        "email": u.email,
        "email_verified": true,
        "given_name": u.first_name,
        "family_name": u.last_name,
        "zoneinfo": if org.pod == "5g" { "Asia/Tokyo" } else { "America/Los_Angeles" },
        "photos": {
            "picture": format!("{instance}/profilephoto/005/F"),
            "thumbnail": format!("{instance}/profilephoto/005/T"),
        },
        "profile": format!("{instance}/{user_id}"),
        "picture": format!("{instance}/profilephoto/005/F"),
        "address": {},
        "is_salesforce_integration_user": false,
        "urls": identity_urls(&instance, &org.id, &user_id),
        "active": true,
        "user_type": "STANDARD",
        "language": if org.pod == "5g" { "ja" } else { "en_US" },
        "locale": if org.pod == "5g" { "ja_JP" } else { "en_US" },
        "utcOffset": if org.pod == "5g" { 32_400_000 } else { -28_800_000 },
        "updated_at": super::store::sf_datetime(org.tables[super::schema::USER].records.get(&user).map(|r| r.modified).unwrap_or(0)).replace(".000+0000", "Z"),
        "is_app_installed": true,
    }))
    .into_response()
}

fn identity_urls(instance: &str, org: &str, user: &str) -> Value {
    // Salesforce answers the literal `{version}` placeholder in these URLs.
    let data = format!("{instance}/services/data/v{{version}}");
    json!({
        "enterprise": format!("{instance}/services/Soap/c/{{version}}/{}", &org[..15]),
        "metadata": format!("{instance}/services/Soap/m/{{version}}/{}", &org[..15]),
        "partner": format!("{instance}/services/Soap/u/{{version}}/{}", &org[..15]),
        "rest": format!("{data}/"),
        "sobjects": format!("{data}/sobjects/"),
        "search": format!("{data}/search/"),
        "query": format!("{data}/query/"),
        "recent": format!("{data}/recent/"),
        "tooling_soap": format!("{instance}/services/Soap/T/{{version}}/{}", &org[..15]),
        "tooling_rest": format!("{data}/tooling/"),
        "profile": format!("{instance}/{user}"),
        "feeds": format!("{data}/chatter/feeds"),
        "groups": format!("{data}/chatter/groups"),
        "users": format!("{data}/chatter/users"),
        "feed_items": format!("{data}/chatter/feed-items"),
        "feed_elements": format!("{data}/chatter/feed-elements"),
        "custom_domain": instance,
    })
}

/// `GET /id/{orgId}/{userId}`: the identity URL's answer.
pub async fn identity(
    State(sf): State<Arc<Salesforce>>,
    base: BaseUrl,
    headers: HeaderMap,
    Path((org_id, user_id)): Path<(String, String)>,
) -> Response {
    let (tok_org, user) = match identity_user(&sf, &headers) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let st = crate::env::lock(&sf.state);
    let Some(org) = st.orgs.iter().find(|o| o.id == tok_org) else {
        return (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response();
    };
    if !crate::salesforce::ids::same(&org_id, &org.id)
        || !crate::salesforce::ids::same(&user_id, &org.user_id(user))
    {
        return (StatusCode::FORBIDDEN, "Bad_Id").into_response();
    }
    let u = org.admin();
    let uid = org.user_id(user);
    let instance = base.join(&format!("/instances/{}", org.slug));
    axum::Json(json!({
        "id": base.join(&format!("/id/{}/{}", org.id, uid)),
        "asserted_user": true,
        "user_id": uid,
        "organization_id": org.id,
        "username": u.username,
        "nick_name": u.username.split('@').next().unwrap_or(""),
        "display_name": format!("{} {}", u.first_name, u.last_name),
        "email": u.email,
        "email_verified": true,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "timezone": if org.pod == "5g" { "Asia/Tokyo" } else { "America/Los_Angeles" },
        "photos": {
            "picture": format!("{instance}/profilephoto/005/F"),
            "thumbnail": format!("{instance}/profilephoto/005/T"),
        },
        "addr_street": null,
        "addr_city": null,
        "addr_state": null,
        "addr_country": null,
        "addr_zip": null,
        "mobile_phone": null,
        "mobile_phone_verified": false,
        "is_lightning_login_user": false,
        "status": {"created_date": null, "body": null},
        "urls": identity_urls(&instance, &org.id, &uid),
        "active": true,
        "user_type": "STANDARD",
        "language": if org.pod == "5g" { "ja" } else { "en_US" },
        "locale": if org.pod == "5g" { "ja_JP" } else { "en_US" },
        "utcOffset": if org.pod == "5g" { 32_400_000 } else { -28_800_000 },
        "last_modified_date": super::store::sf_datetime(0),
        "is_app_installed": true,
    }))
    .into_response()
}

/// `POST /services/oauth2/introspect` (RFC 7662 as Salesforce implements it).
pub async fn introspect(
    State(sf): State<Arc<Salesforce>>,
    base: BaseUrl,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let p = form(&body, None);
    let (client_id, secret) = client_auth(&headers, &p);
    if client_id.as_deref() != Some(CLIENT_ID) || secret.as_deref() != Some(CLIENT_SECRET) {
        return oauth_error(401, "invalid_client", "invalid client credentials");
    }
    let Some(token) = get(&p, "token") else {
        return axum::Json(json!({"active": false})).into_response();
    };
    let now = sf.env.clock.now_ms();
    let describe = |account: &str, scopes: &[String], kind: &str, iat: i64, exp: Option<i64>| {
        let st = crate::env::lock(&sf.state);
        let Some(org) = st.orgs.iter().find(|o| o.id == account) else {
            return json!({"active": false});
        };
        let mut v = json!({
            "active": true,
            "scope": scopes.join(" "),
            "client_id": CLIENT_ID,
            "username": org.admin().username,
            "sub": base.join(&format!("/id/{}/{}", org.id, org.user_id(org.admin().serial))),
            "token_type": kind,
            "iat": iat / 1000,
            "nbf": iat / 1000,
        });
        if let Some(e) = exp {
            v["exp"] = json!(e / 1000);
        }
        v
    };
    if let Some((grant, access)) = sf.tokens.lookup_access(token) {
        let alive = !grant.revoked && access.expires_ms.is_none_or(|e| now < e);
        if alive {
            return axum::Json(describe(
                &grant.account,
                &grant.scopes,
                "access_token",
                access.issued_ms,
                access.expires_ms,
            ))
            .into_response();
        }
    } else if let Some(grant) = sf.tokens.lookup_refresh(token)
        && !grant.revoked
    {
        return axum::Json(describe(
            &grant.account,
            &grant.scopes,
            "refresh_token",
            grant.created_ms,
            None,
        ))
        .into_response();
    }
    axum::Json(json!({"active": false})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_id_and_issued_at() {
        // Recomputed independently: HMAC-SHA256("secret", "https://x/id/a/b" + "1700000000000").
        let s = signature("https://x/id/a/b", "1700000000000", "secret");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"https://x/id/a/b1700000000000");
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(s, want);
        assert_eq!(s.len(), 44);
    }

    #[test]
    fn scopes_are_checked() {
        assert_eq!(
            parse_scopes(Some("api refresh_token")).unwrap(),
            vec!["api", "refresh_token"]
        );
        assert_eq!(parse_scopes(Some("api bogus")).unwrap_err(), "bogus");
        assert_eq!(
            parse_scopes(None).unwrap(),
            vec!["api", "id", "refresh_token"]
        );
    }
}

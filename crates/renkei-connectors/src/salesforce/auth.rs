//! Salesforce's login server: authorize, token, revoke, identity.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use renkei_core::{Millis, Secret};
use sha2::Sha256;
use url::Url;

use crate::credentials::{GrantMeta, TokenGrant};
use crate::http::{HttpClient, OutgoingRequest};
use crate::oauth;
use crate::registry::{Endpoints, OAuthClient, join};
use crate::{
    AccountIdentity, AuthorizeRequest, CallbackParams, ConnectorError, Credentials, Provider,
    Session,
};

use super::client::{self, classify};
use super::wire::{Identity, OAuthError, TokenResponse};

const P: Provider = Provider::Salesforce;

pub fn authorize_url(ep: &Endpoints, req: &AuthorizeRequest<'_>) -> Url {
    // Ask for the consent screen even when the user approved this app before, so an admin
    // who reconnects can pick another user or org.
    oauth::provider_authorize_url(ep, &ep.authorize, req, &[("prompt", "login consent")])
}

/// Checks a URL the provider named against the allow-list before we store it.
fn checked_url(ep: &Endpoints, what: &str, s: &str) -> Result<String, ConnectorError> {
    ep.allowed_url(what, s)?;
    Ok(s.trim_end_matches('/').to_owned())
}

/// Verifies `signature`: base64 HMAC-SHA256 of `id + issued_at` keyed by the client secret.
/// A mismatch means the response was not made for our client.
fn check_signature(client: &OAuthClient, t: &TokenResponse) -> Result<(), ConnectorError> {
    let (Some(sig), Some(id), Some(issued)) = (&t.signature, &t.id, &t.issued_at) else {
        return Ok(());
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(client.client_secret.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(issued.as_bytes());
    let ok = STANDARD
        .decode(sig)
        .map(|raw| mac.verify_slice(&raw).is_ok())
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::Protocol {
            provider: P.as_str(),
            message: "the token response's signature does not match our client secret".into(),
        })
    }
}

fn ids_from_identity_url(id: &str) -> (Option<String>, Option<String>) {
    let mut parts = id.trim_end_matches('/').rsplit('/');
    let user = parts.next().map(str::to_owned);
    let org = parts.next().map(str::to_owned);
    (org, user)
}

async fn token_call(
    http: &HttpClient,
    ep: &Endpoints,
    client: &OAuthClient,
    token_url: Url,
    form: Vec<(String, String)>,
    refreshing: bool,
    now: Millis,
) -> Result<TokenGrant, ConnectorError> {
    let resp = oauth::post_token_form(http, &ep.allow, P, token_url, form).await?;
    if !resp.status.is_success() {
        let e: OAuthError = serde_json::from_slice(&resp.body).unwrap_or_default();
        if resp.status.as_u16() == 400 {
            // invalid_grant on a refresh: the refresh token expired, was revoked, or the
            // connected app's policy ended the session; the user must consent again.
            return Err(if refreshing && e.error == "invalid_grant" {
                ConnectorError::Reauth {
                    provider: P.as_str(),
                    reason: format!("{}: {}", e.error, e.error_description),
                }
            } else {
                ConnectorError::Invalid {
                    provider: P.as_str(),
                    code: e.error,
                    field: None,
                    message: e.error_description,
                }
            });
        }
        return Err(classify(&resp));
    }
    let t: TokenResponse = resp.json(P.as_str())?;
    check_signature(client, &t)?;
    let instance_url = match &t.instance_url {
        Some(u) => Some(checked_url(ep, "instance_url", u)?),
        None => None,
    };
    let identity_url = match &t.id {
        Some(u) => Some(checked_url(ep, "id", u)?),
        None => None,
    };
    let (org, user) = identity_url
        .as_deref()
        .map(ids_from_identity_url)
        .unwrap_or((None, None));
    Ok(TokenGrant {
        expires_at: oauth::expiry(P, now, None),
        access_token: Secret::new(t.access_token),
        refresh_token: t.refresh_token.map(Secret::new),
        scopes: t.scope.as_deref().map(oauth::split_scopes),
        meta: GrantMeta {
            instance_url,
            identity_url,
            account_id: org,
            user_id: user,
            ..Default::default()
        },
    })
}

pub async fn exchange_code(
    http: &HttpClient,
    ep: &Endpoints,
    client: &OAuthClient,
    callback: &CallbackParams,
    redirect_uri: &str,
    verifier: Option<&Secret<String>>,
    now: Millis,
) -> Result<TokenGrant, ConnectorError> {
    let form = oauth::code_form(client, &callback.code, redirect_uri, verifier);
    token_call(http, ep, client, ep.token.clone(), form, false, now).await
}

/// Refreshes at the login server. (A refresh at the instance's My Domain works too; the login
/// server is the one URL we know is Salesforce's.)
pub async fn refresh(
    http: &HttpClient,
    ep: &Endpoints,
    client: &OAuthClient,
    refresh_token: &Secret<String>,
    _meta: &GrantMeta,
    now: Millis,
) -> Result<TokenGrant, ConnectorError> {
    let form = oauth::refresh_form(client, refresh_token);
    token_call(http, ep, client, ep.token.clone(), form, true, now).await
}

/// `POST /services/oauth2/revoke` with the refresh token ends the whole grant. Salesforce
/// answers 400 `invalid_token` for a token it no longer knows, which is the state we want.
pub async fn revoke(
    http: &HttpClient,
    ep: &Endpoints,
    creds: &Credentials,
    _meta: &GrantMeta,
) -> Result<(), ConnectorError> {
    let token = creds
        .refresh_token
        .as_ref()
        .unwrap_or(&creds.access_token)
        .expose()
        .clone();
    let url = join(&ep.api, "/services/oauth2/revoke");
    let req = OutgoingRequest::post(P.as_str(), url)
        .form(vec![("token".to_owned(), token)])
        .idempotent(true);
    let resp = http.send(&ep.allow, req).await?;
    if resp.status.is_success() {
        return Ok(());
    }
    let e: OAuthError = serde_json::from_slice(&resp.body).unwrap_or_default();
    if resp.status.as_u16() == 400 && e.error == "invalid_token" {
        return Ok(());
    }
    Err(classify(&resp))
}

/// The identity URL names the user and the org; the org's name comes from a query.
pub async fn identity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
) -> Result<AccountIdentity, ConnectorError> {
    let id_url = s
        .meta
        .identity_url
        .as_deref()
        .ok_or_else(|| ConnectorError::Protocol {
            provider: P.as_str(),
            message: "the token response named no identity URL".into(),
        })?;
    let url = Url::parse(id_url).map_err(|e| ConnectorError::Protocol {
        provider: P.as_str(),
        message: format!("identity URL: {e}"),
    })?;
    let resp = http
        .send(
            &ep.allow,
            OutgoingRequest::get(P.as_str(), url).bearer(s.access_token),
        )
        .await?;
    if !resp.status.is_success() {
        // The identity service answers 403 `Bad_OAuth_Token` in plain text for a dead token.
        if resp.status.as_u16() == 403 {
            return Err(ConnectorError::Unauthorized {
                provider: P.as_str(),
                message: String::from_utf8_lossy(&resp.body)
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        return Err(classify(&resp));
    }
    let who: Identity = resp.json(P.as_str())?;
    let org_name = client::organization_name(http, ep, s).await?;
    Ok(AccountIdentity {
        account_name: org_name.unwrap_or_else(|| who.organization_id.clone()),
        account_id: who.organization_id,
        user_id: who.user_id,
        user_email: who.email,
        user_name: who.display_name.or(who.username),
    })
}

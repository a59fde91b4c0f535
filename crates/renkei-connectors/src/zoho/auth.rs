//! Zoho Accounts: authorize, token, revoke; identity from the CRM's org and current user.

use renkei_core::{Millis, Secret};
use url::Url;

use crate::credentials::{GrantMeta, TokenGrant};
use crate::http::{HttpClient, OutgoingRequest};
use crate::oauth;
use crate::registry::{DataCentre, Endpoints, OAuthClient, join, zoho_data_centre};
use crate::{
    AccountIdentity, AuthorizeRequest, CallbackParams, ConnectorError, Credentials, Provider,
    Session,
};

use super::client;
use super::wire::TokenResponse;

const P: Provider = Provider::ZohoCrm;

fn protocol(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Protocol {
        provider: P.as_str(),
        message: message.into(),
    }
}

pub fn authorize_url(ep: &Endpoints, req: &AuthorizeRequest<'_>) -> Result<Url, ConnectorError> {
    let dc = req
        .data_centre
        .ok_or_else(|| ConnectorError::Config("a Zoho data centre must be chosen".into()))?;
    let base = join(&ep.zoho_accounts(dc), "/oauth/v2/auth");
    // `access_type=offline` is what makes Zoho issue a refresh token at all, and
    // `prompt=consent` makes it issue a new one when the user consented before.
    Ok(oauth::provider_authorize_url(
        ep,
        &base,
        req,
        &[("access_type", "offline"), ("prompt", "consent")],
    ))
}

/// The data centre of a stored grant.
fn stored_dc(meta: &GrantMeta) -> Result<&'static DataCentre, ConnectorError> {
    meta.data_centre
        .as_deref()
        .and_then(zoho_data_centre)
        .ok_or_else(|| protocol("the connection does not record its Zoho data centre"))
}

async fn token_call(
    http: &HttpClient,
    ep: &Endpoints,
    dc: &'static DataCentre,
    form: Vec<(String, String)>,
    refreshing: bool,
    now: Millis,
) -> Result<TokenGrant, ConnectorError> {
    let accounts = ep.zoho_accounts(dc);
    let url = join(&accounts, "/oauth/v2/token");
    let resp = oauth::post_token_form(http, &ep.allow, P, url, form).await?;
    if resp.status.is_server_error() || resp.status.as_u16() == 429 {
        return Err(client::classify(&resp));
    }
    let t: TokenResponse = serde_json::from_slice(&resp.body)
        .map_err(|e| protocol(format!("token response (HTTP {}): {e}", resp.status)))?;
    if let Some(err) = t.error {
        // Zoho answers `invalid_code` for a used, expired or foreign code and for a revoked
        // refresh token alike, with HTTP 200.
        return Err(
            if refreshing && (err == "invalid_code" || err == "invalid_token") {
                ConnectorError::Reauth {
                    provider: P.as_str(),
                    reason: err,
                }
            } else {
                ConnectorError::Invalid {
                    provider: P.as_str(),
                    message: format!("Zoho Accounts answered {err}"),
                    code: err,
                    field: None,
                }
            },
        );
    }
    let access = t
        .access_token
        .ok_or_else(|| protocol("the token response has no access_token"))?;
    // The API domain must be the data centre's own (or the configured template's): a token
    // response cannot send renkei's requests elsewhere.
    let api_domain = match t.api_domain.as_deref() {
        Some(d) => match ep.zoho_dc_by_api(d) {
            Some(found) if found.location == dc.location => d.trim_end_matches('/').to_owned(),
            _ => {
                return Err(ConnectorError::HostNotAllowed {
                    provider: P.as_str(),
                    url: d.to_owned(),
                });
            }
        },
        None => ep.zoho_api(dc).as_str().trim_end_matches('/').to_owned(),
    };
    Ok(TokenGrant {
        expires_at: oauth::expiry(P, now, t.expires_in),
        access_token: Secret::new(access),
        refresh_token: t.refresh_token.map(Secret::new),
        scopes: t.scope.as_deref().map(oauth::split_scopes),
        meta: GrantMeta {
            api_domain: Some(api_domain),
            accounts_server: Some(accounts.as_str().trim_end_matches('/').to_owned()),
            data_centre: Some(dc.location.to_owned()),
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
    // The code is valid only at the accounts server that issued it, which the redirect names;
    // it must be one we know.
    let dc = match (&callback.accounts_server, &callback.location) {
        (Some(server), _) => {
            ep.zoho_dc_by_accounts(server)
                .ok_or_else(|| ConnectorError::HostNotAllowed {
                    provider: P.as_str(),
                    url: server.clone(),
                })?
        }
        (None, Some(loc)) => zoho_data_centre(loc)
            .ok_or_else(|| protocol(format!("unknown Zoho location {loc:?}")))?,
        (None, None) => &crate::registry::ZOHO_DATA_CENTRES[0],
    };
    let form = oauth::code_form(client, &callback.code, redirect_uri, verifier);
    token_call(http, ep, dc, form, false, now).await
}

pub async fn refresh(
    http: &HttpClient,
    ep: &Endpoints,
    client: &OAuthClient,
    refresh_token: &Secret<String>,
    meta: &GrantMeta,
    now: Millis,
) -> Result<TokenGrant, ConnectorError> {
    let dc = stored_dc(meta)?;
    token_call(
        http,
        ep,
        dc,
        oauth::refresh_form(client, refresh_token),
        true,
        now,
    )
    .await
}

/// `POST {accounts}/oauth/v2/token/revoke?token=…` with the refresh token.
pub async fn revoke(
    http: &HttpClient,
    ep: &Endpoints,
    _client: Option<&OAuthClient>,
    creds: &Credentials,
    meta: &GrantMeta,
) -> Result<(), ConnectorError> {
    let dc = stored_dc(meta)?;
    let token = creds.refresh_token.as_ref().unwrap_or(&creds.access_token);
    let mut url = join(&ep.zoho_accounts(dc), "/oauth/v2/token/revoke");
    url.query_pairs_mut().append_pair("token", token.expose());
    let resp = http
        .send(
            &ep.allow,
            OutgoingRequest::post(P.as_str(), url).idempotent(true),
        )
        .await?;
    if resp.status.is_success() {
        return Ok(());
    }
    // Zoho answers 400 for a token it does not know, which is as revoked as it gets.
    if resp.status.as_u16() == 400 {
        return Ok(());
    }
    Err(client::classify(&resp))
}

pub async fn identity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
) -> Result<AccountIdentity, ConnectorError> {
    let org = client::org(http, ep, s).await?;
    let me = client::current_user(http, ep, s).await?;
    Ok(AccountIdentity {
        account_name: org.company_name.unwrap_or_else(|| org.id.clone()),
        account_id: org.id,
        user_id: me.as_ref().map(|u| u.id.clone()).unwrap_or_default(),
        user_email: me.as_ref().and_then(|u| u.email.clone()),
        user_name: me.and_then(|u| u.full_name),
    })
}

//! HubSpot's token endpoint and token-info call.

use renkei_core::{Millis, Secret};
use url::Url;

use crate::credentials::{GrantMeta, TokenGrant};
use crate::http::{HttpClient, OutgoingRequest};
use crate::oauth;
use crate::registry::{Endpoints, OAuthClient, join};
use crate::{
    AccountIdentity, AuthorizeRequest, CallbackParams, ConnectorError, Credentials, Provider,
    Session,
};

use super::client::classify;
use super::wire::{AccessTokenInfo, TokenResponse};

const P: Provider = Provider::Hubspot;

pub fn authorize_url(ep: &Endpoints, req: &AuthorizeRequest<'_>) -> Url {
    oauth::provider_authorize_url(ep, &ep.authorize, req, &[])
}

fn grant(t: TokenResponse, now: Millis) -> TokenGrant {
    TokenGrant {
        expires_at: oauth::expiry(P, now, t.expires_in),
        access_token: Secret::new(t.access_token),
        refresh_token: t.refresh_token.map(Secret::new),
        scopes: t.scopes,
        meta: GrantMeta {
            account_id: t.hub_id.map(|h| h.to_string()),
            user_id: t.user_id.map(|u| u.to_string()),
            ..Default::default()
        },
    }
}

async fn token_call(
    http: &HttpClient,
    ep: &Endpoints,
    form: Vec<(String, String)>,
    refreshing: bool,
    now: Millis,
) -> Result<TokenGrant, ConnectorError> {
    let resp = oauth::post_token_form(http, &ep.allow, P, ep.token.clone(), form).await?;
    if resp.status.is_success() {
        return Ok(grant(resp.json(P.as_str())?, now));
    }
    let err = classify(&resp);
    // The token endpoint's 400s name what was wrong in `status`: a refresh token that is
    // revoked, expired or belongs to an uninstalled app is BAD_REFRESH_TOKEN, which no retry
    // can fix.
    Err(match err {
        ConnectorError::Invalid { code, message, .. }
            if refreshing && code == "BAD_REFRESH_TOKEN" =>
        {
            ConnectorError::Reauth {
                provider: P.as_str(),
                reason: format!("{code}: {message}"),
            }
        }
        other => other,
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
    token_call(http, ep, form, false, now).await
}

pub async fn refresh(
    http: &HttpClient,
    ep: &Endpoints,
    client: &OAuthClient,
    refresh_token: &Secret<String>,
    now: Millis,
) -> Result<TokenGrant, ConnectorError> {
    token_call(
        http,
        ep,
        oauth::refresh_form(client, refresh_token),
        true,
        now,
    )
    .await
}

/// `DELETE /oauth/v1/refresh-tokens/{token}` ends the grant and its access tokens. An unknown
/// token is already as revoked as it can be.
pub async fn revoke(
    http: &HttpClient,
    ep: &Endpoints,
    creds: &Credentials,
) -> Result<(), ConnectorError> {
    let Some(rt) = &creds.refresh_token else {
        return Ok(());
    };
    let url = join(
        &ep.api,
        &format!("/oauth/v1/refresh-tokens/{}", rt.expose()),
    );
    let req = OutgoingRequest::new(P.as_str(), http::Method::DELETE, url)
        .idempotent(true)
        .redact_path();
    let resp = http.send(&ep.allow, req).await?;
    if resp.status.is_success() || resp.status.as_u16() == 404 {
        Ok(())
    } else {
        Err(classify(&resp))
    }
}

/// `GET /oauth/v1/access-tokens/{token}`: the portal (hub id and domain) and the user.
pub async fn identity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
) -> Result<AccountIdentity, ConnectorError> {
    let url = join(
        &ep.api,
        &format!("/oauth/v1/access-tokens/{}", s.access_token.expose()),
    );
    let resp = http
        .send(
            &ep.allow,
            OutgoingRequest::get(P.as_str(), url).redact_path(),
        )
        .await?;
    if resp.status.as_u16() == 404 {
        // The token-info endpoint answers 404 for a token it does not know: for us, a token
        // that does not work.
        return Err(ConnectorError::Unauthorized {
            provider: P.as_str(),
            message: "HubSpot does not know this access token".into(),
        });
    }
    if !resp.status.is_success() {
        return Err(classify(&resp));
    }
    let info: AccessTokenInfo = resp.json(P.as_str())?;
    Ok(AccountIdentity {
        account_id: info.hub_id.to_string(),
        account_name: info
            .hub_domain
            .clone()
            .unwrap_or_else(|| info.hub_id.to_string()),
        user_id: info.user_id.map(|u| u.to_string()).unwrap_or_default(),
        user_email: info.user.clone(),
        user_name: None,
    })
}

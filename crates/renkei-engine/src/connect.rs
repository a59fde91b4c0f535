//! The connect flow, token import and disconnect: how connections begin and end.
//!
//! 1. The host app asks for a connect link ([`ConnectService::create_session`]): a random
//!    token whose SHA-256 names a `connect_sessions` row, valid for `session_ttl`.
//! 2. The admin opens it; the page ([`ConnectService::open_session`]) asks what the provider
//!    needs (Zoho's data centre, the admin's own OAuth client) and posts back
//!    ([`ConnectService::begin`]), which stores a single-use `oauth_states` row (PKCE verifier
//!    and any tenant client sealed) and answers the provider's authorize URL. The `state`
//!    parameter is `{nonce}.{tag}`: the tag is an HMAC over the nonce, tenant, provider and
//!    member, so a forged or altered state is refused before anything else happens.
//! 3. The provider redirects to `/oauth/callback` ([`ConnectService::finish`]): the state is
//!    consumed (once), the code exchanged, the account identified and checked (a member's
//!    HubSpot account must be in the tenant's portal; a reconnect must reach the same account
//!    unless the admin ticked "switch"), and the grant stored. A refused connect revokes the
//!    tokens it got, so nothing is left behind.

use std::sync::Arc;
use std::time::Duration;

use renkei_connectors::credentials::{Credentials, GrantMeta, TokenGrant};
use renkei_connectors::registry::{ClientSource, DataCentre, OAuthClient, zoho_data_centre};
use renkei_connectors::{
    AccountIdentity, AuthorizeRequest, CallbackParams, ConnectorError, Provider, Session, oauth,
};
use renkei_core::{MemberId, Millis, Secret, TenantId};
use renkei_store::StoreError;
use renkei_store::connections::{
    ConnectSession, Connection, ConnectionKey, NewGrant, OAuthState, StateLookup,
};
use renkei_store::tenants::{Member, Tenant};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::vault::{Target, Vault};

/// Why a connect, an import or a disconnect did not happen. `code` is stable snake_case and
/// names the page text the server shows.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("this connect link is not valid")]
    LinkInvalid,
    #[error("this connect link has expired; ask for a new one")]
    LinkExpired,
    #[error("this connect link was already used")]
    LinkUsed,
    #[error("the state parameter is missing, forged or altered")]
    StateInvalid,
    #[error("the state parameter was already used")]
    StateReused,
    #[error("the state parameter has expired; start the connection again")]
    StateExpired,
    #[error("choose the data centre of your Zoho account")]
    DataCentreRequired,
    #[error("unknown Zoho data centre {0:?}")]
    UnknownDataCentre(String),
    #[error("enter the client id of your OAuth client")]
    ClientIdRequired,
    #[error("enter the client secret of your OAuth client")]
    ClientSecretRequired,
    #[error("access to {provider} was denied at the provider")]
    Denied { provider: &'static str },
    #[error("{provider} answered an error: {code}: {message}")]
    ProviderError {
        provider: &'static str,
        code: String,
        message: String,
    },
    #[error(
        "the {provider} account {got} is not the tenant's account {expected}; a member must connect to the same account"
    )]
    AccountMismatch {
        provider: &'static str,
        expected: String,
        got: String,
    },
    #[error(
        "this connection is to {provider} account {current}, not {got}; to switch accounts, tick \"switch account\" (or pass switch_account)"
    )]
    AccountChanged {
        provider: &'static str,
        current: String,
        got: String,
    },
    #[error("the tenant has no {provider} connection yet; the admin connects first")]
    TenantNotConnected { provider: &'static str },
    #[error("{provider} has no member-level connections")]
    MemberUnsupported { provider: &'static str },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl ConnectError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::LinkInvalid => "link_invalid",
            Self::LinkExpired => "link_expired",
            Self::LinkUsed => "link_used",
            Self::StateInvalid => "state_invalid",
            Self::StateReused => "state_reused",
            Self::StateExpired => "state_expired",
            Self::DataCentreRequired | Self::UnknownDataCentre(_) => "data_centre_required",
            Self::ClientIdRequired => "client_id_required",
            Self::ClientSecretRequired => "client_secret_required",
            Self::Denied { .. } => "access_denied",
            Self::ProviderError { .. } => "provider_error",
            Self::AccountMismatch { .. } => "account_mismatch",
            Self::AccountChanged { .. } => "account_changed",
            Self::TenantNotConnected { .. } => "tenant_not_connected",
            Self::MemberUnsupported { .. } => "provider_unsupported",
            Self::Invalid(_) => "invalid_request",
            Self::Connector(e) => match e {
                ConnectorError::Config(_) => "invalid_client",
                e if e.is_retryable() => "provider_unavailable",
                ConnectorError::Unauthorized { .. } | ConnectorError::Reauth { .. } => {
                    "provider_error"
                }
                ConnectorError::Invalid { code, .. }
                    if code.contains("client") || code.contains("CLIENT") =>
                {
                    "invalid_client"
                }
                _ => "provider_error",
            },
            Self::Store(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

/// Settings of the flow.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// The URL renkei is reached at by browsers: the connect links and the OAuth redirect URI
    /// (`{public_url}/oauth/callback`) are built from it.
    pub public_url: Url,
    pub session_ttl: Duration,
    pub state_ttl: Duration,
}

impl ConnectConfig {
    pub fn redirect_uri(&self) -> String {
        renkei_connectors::registry::join(&self.public_url, "/oauth/callback").to_string()
    }
}

/// What a new connect link is for.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub tenant: TenantId,
    pub member: Option<MemberId>,
    pub provider: Provider,
    pub return_url: Option<String>,
    pub created_by: Option<String>,
}

/// Everything the connect page shows.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub session: ConnectSession,
    pub provider: Provider,
    pub tenant: Tenant,
    pub member: Option<Member>,
    pub current: Option<Connection>,
    pub deployment_client: bool,
    pub redirect_uri: String,
}

/// What the connect page posts.
#[derive(Debug, Clone, Default)]
pub struct BeginForm {
    pub data_centre: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret<String>>,
    pub switch_account: bool,
}

/// What the provider's redirect carried.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackQuery {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub location: Option<String>,
    #[serde(rename = "accounts-server")]
    pub accounts_server: Option<String>,
}

/// A finished connect.
#[derive(Debug, Clone)]
pub struct Completed {
    pub connection: Connection,
    pub provider: Provider,
    pub account_name: String,
    pub return_url: Option<String>,
    pub locale: String,
}

/// A failed connect, with where to send the admin.
#[derive(Debug)]
pub struct Failed {
    pub error: ConnectError,
    pub provider: Option<Provider>,
    pub return_url: Option<String>,
    pub locale: Option<String>,
}

impl From<ConnectError> for Failed {
    fn from(error: ConnectError) -> Self {
        Self {
            error,
            provider: None,
            return_url: None,
            locale: None,
        }
    }
}

/// The sealed part of an `oauth_states` row.
#[derive(Serialize, Deserialize)]
struct StateSecrets {
    verifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

/// Tokens an operator imports from a previous integration (`PUT …/connections/{provider}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportTokens {
    pub access_token: Secret<String>,
    #[serde(default)]
    pub refresh_token: Option<Secret<String>>,
    /// Seconds the access token has left, if known.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Salesforce: the org's instance URL.
    #[serde(default)]
    pub instance_url: Option<String>,
    /// Salesforce: the identity URL (`id` of the token response).
    #[serde(default)]
    pub id: Option<String>,
    /// Zoho: the data centre (`us`, `jp`, …).
    #[serde(default)]
    pub data_centre: Option<String>,
    /// Zoho: a tenant's own OAuth client, needed to refresh.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret<String>>,
    #[serde(default)]
    pub switch_account: bool,
}

/// What a disconnect did at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnected {
    pub revoked: bool,
    pub revoke_error: Option<String>,
}

/// How a grant came to be stored: whose client, whether the admin allowed another account,
/// who connected, and whether a refusal should revoke it.
struct HowGranted<'a> {
    tenant_client: Option<OAuthClient>,
    switch_account: bool,
    connected_by: Option<&'a str>,
    revoke_refused: bool,
}

/// See the module documentation.
pub struct ConnectService {
    vault: Arc<Vault>,
    config: ConnectConfig,
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn state_payload(
    nonce: &str,
    tenant: &TenantId,
    provider: &str,
    member: Option<&MemberId>,
) -> String {
    format!(
        "{nonce}|{tenant}|{provider}|{}",
        member.map_or("", MemberId::as_str)
    )
}

/// Accepts only absolute http(s) URLs without credentials as places to send the admin back.
pub fn check_return_url(s: &str) -> Result<String, ConnectError> {
    let u = Url::parse(s)
        .map_err(|e| ConnectError::Invalid(format!("return_url is not an absolute URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(ConnectError::Invalid(
            "return_url must be an http or https URL".into(),
        ));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(ConnectError::Invalid(
            "return_url must not contain credentials".into(),
        ));
    }
    Ok(u.to_string())
}

impl ConnectService {
    pub fn new(vault: Arc<Vault>, config: ConnectConfig) -> Self {
        Self { vault, config }
    }

    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    pub fn config(&self) -> &ConnectConfig {
        &self.config
    }

    /// Creates a one-time connect link.
    pub async fn create_session(&self, s: NewSession) -> Result<(String, Millis), ConnectError> {
        if s.member.is_some() && !s.provider.info().member_connections {
            return Err(ConnectError::MemberUnsupported {
                provider: s.provider.as_str(),
            });
        }
        let return_url = s.return_url.as_deref().map(check_return_url).transpose()?;
        let token = oauth::random_token(32);
        let now = self.vault.now();
        let expires_at = Millis(now.0 + self.config.session_ttl.as_millis() as i64);
        self.vault
            .store()
            .create_connect_session(&ConnectSession {
                id: token_hash(&token),
                tenant_id: s.tenant,
                member_id: s.member,
                provider: s.provider.as_str().to_owned(),
                return_url,
                created_by: s.created_by,
                created_at: now,
                expires_at,
                completed_at: None,
            })
            .await?;
        let url = renkei_connectors::registry::join(
            &self.config.public_url,
            &format!("/connect/{token}"),
        );
        Ok((url.to_string(), expires_at))
    }

    /// Loads what the connect page of `token` shows.
    pub async fn open_session(&self, token: &str) -> Result<SessionInfo, ConnectError> {
        let store = self.vault.store();
        let session = store
            .get_connect_session(&token_hash(token))
            .await?
            .ok_or(ConnectError::LinkInvalid)?;
        if session.completed_at.is_some() {
            return Err(ConnectError::LinkUsed);
        }
        if session.expires_at <= self.vault.now() {
            return Err(ConnectError::LinkExpired);
        }
        let provider = Provider::parse(&session.provider).ok_or(ConnectError::LinkInvalid)?;
        let tenant = store
            .get_tenant(&session.tenant_id)
            .await?
            .ok_or(ConnectError::LinkInvalid)?;
        let member = match &session.member_id {
            Some(m) => Some(
                store
                    .get_member(&session.tenant_id, m)
                    .await?
                    .ok_or(ConnectError::LinkInvalid)?,
            ),
            None => None,
        };
        let current = store
            .get_connection(ConnectionKey {
                tenant: &session.tenant_id,
                provider: provider.as_str(),
                member: session.member_id.as_ref(),
            })
            .await?;
        Ok(SessionInfo {
            deployment_client: self
                .vault
                .connectors()
                .registry
                .endpoints(provider)
                .client
                .is_some(),
            redirect_uri: self.config.redirect_uri(),
            session,
            provider,
            tenant,
            member,
            current,
        })
    }

    /// Checks the page's form and answers the provider's authorize URL.
    pub async fn begin(&self, token: &str, form: BeginForm) -> Result<Url, ConnectError> {
        let info = self.open_session(token).await?;
        let provider = info.provider;
        let ep = self.vault.connectors().registry.endpoints(provider);
        let dc: Option<&'static DataCentre> = if provider == Provider::ZohoCrm {
            let loc = form
                .data_centre
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or(ConnectError::DataCentreRequired)?;
            Some(zoho_data_centre(loc).ok_or_else(|| ConnectError::UnknownDataCentre(loc.into()))?)
        } else {
            None
        };
        let id = form
            .client_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let secret = form
            .client_secret
            .as_ref()
            .map(|s| s.expose().trim().to_owned())
            .filter(|s| !s.is_empty());
        let tenant_client = match (id, secret) {
            (Some(id), Some(secret))
                if provider.info().client_source == ClientSource::DeploymentOrTenant =>
            {
                Some(OAuthClient {
                    client_id: id.to_owned(),
                    client_secret: Secret::new(secret),
                })
            }
            (Some(_), None) => return Err(ConnectError::ClientSecretRequired),
            (None, Some(_)) => return Err(ConnectError::ClientIdRequired),
            _ => None,
        };
        if tenant_client.is_none() && ep.client.is_none() {
            return Err(
                if provider.info().client_source == ClientSource::DeploymentOrTenant {
                    ConnectError::ClientIdRequired
                } else {
                    ConnectError::Connector(ConnectorError::Config(format!(
                        "no OAuth client is configured for {}",
                        provider.info().display_name
                    )))
                },
            );
        }
        let client = ep.client_or(tenant_client.as_ref())?.clone();
        let pkce = provider.info().pkce.then(oauth::Pkce::generate);
        let nonce = oauth::random_token(24);
        let s = &info.session;
        let tag = self.vault.keyring().sign(
            "oauth_state",
            state_payload(
                &nonce,
                &s.tenant_id,
                provider.as_str(),
                s.member_id.as_ref(),
            )
            .as_bytes(),
        );
        let state = format!("{nonce}.{tag}");
        let secrets = StateSecrets {
            verifier: pkce
                .as_ref()
                .map(|p| p.verifier.expose().clone())
                .unwrap_or_default(),
            client_id: tenant_client.as_ref().map(|c| c.client_id.clone()),
            client_secret: tenant_client
                .as_ref()
                .map(|c| c.client_secret.expose().clone()),
        };
        let now = self.vault.now();
        self.vault
            .store()
            .insert_oauth_state(
                self.vault.keyring(),
                &OAuthState {
                    id: nonce,
                    session_id: s.id.clone(),
                    tenant_id: s.tenant_id.clone(),
                    member_id: s.member_id.clone(),
                    provider: provider.as_str().to_owned(),
                    switch_account: form.switch_account,
                    data_centre: dc.map(|d| d.location.to_owned()),
                    created_at: now,
                    expires_at: Millis(now.0 + self.config.state_ttl.as_millis() as i64),
                },
                &Secret::new(serde_json::to_vec(&secrets).expect("strings serialise")),
            )
            .await?;
        let redirect_uri = self.config.redirect_uri();
        Ok(self.vault.connectors().authorize_url(
            provider,
            &AuthorizeRequest {
                client: &client,
                redirect_uri: &redirect_uri,
                state: &state,
                pkce_challenge: pkce.as_ref().map(|p| p.challenge.as_str()),
                data_centre: dc,
            },
        )?)
    }

    /// Handles the provider's redirect.
    pub async fn finish(&self, q: CallbackQuery) -> Result<Completed, Failed> {
        let store = self.vault.store();
        let raw = q.state.as_deref().unwrap_or_default();
        let Some((nonce, tag)) = raw.split_once('.') else {
            return Err(ConnectError::StateInvalid.into());
        };
        let now = self.vault.now();
        let (state, secrets) = match store
            .consume_oauth_state(self.vault.keyring(), nonce, now)
            .await
            .map_err(ConnectError::from)?
        {
            StateLookup::Valid(s, secrets) => (s, secrets),
            StateLookup::Unknown => return Err(ConnectError::StateInvalid.into()),
            StateLookup::AlreadyUsed => return Err(ConnectError::StateReused.into()),
            StateLookup::Expired => return Err(ConnectError::StateExpired.into()),
        };
        let payload = state_payload(
            nonce,
            &state.tenant_id,
            &state.provider,
            state.member_id.as_ref(),
        );
        if !self
            .vault
            .keyring()
            .verify("oauth_state", payload.as_bytes(), tag)
        {
            return Err(ConnectError::StateInvalid.into());
        }
        let session = store
            .get_connect_session(&state.session_id)
            .await
            .ok()
            .flatten();
        let tenant = store.get_tenant(&state.tenant_id).await.ok().flatten();
        let provider = Provider::parse(&state.provider);
        let fail = |error: ConnectError| Failed {
            error,
            provider,
            return_url: session.as_ref().and_then(|s| s.return_url.clone()),
            locale: tenant.as_ref().map(|t| t.locale.clone()),
        };
        let Some(provider) = provider else {
            return Err(fail(ConnectError::StateInvalid));
        };
        match self.finish_inner(provider, &state, &secrets, &q, now).await {
            Ok((connection, account_name)) => {
                let _ = store.complete_connect_session(&state.session_id, now).await;
                Ok(Completed {
                    connection,
                    provider,
                    account_name,
                    return_url: session.and_then(|s| s.return_url),
                    locale: tenant.map(|t| t.locale).unwrap_or_else(|| "ja".into()),
                })
            }
            Err(e) => Err(fail(e)),
        }
    }

    async fn finish_inner(
        &self,
        provider: Provider,
        state: &OAuthState,
        secrets: &Secret<Vec<u8>>,
        q: &CallbackQuery,
        now: Millis,
    ) -> Result<(Connection, String), ConnectError> {
        if let Some(err) = &q.error {
            return Err(if err == "access_denied" {
                ConnectError::Denied {
                    provider: provider.as_str(),
                }
            } else {
                ConnectError::ProviderError {
                    provider: provider.as_str(),
                    code: err.clone(),
                    message: q.error_description.clone().unwrap_or_default(),
                }
            });
        }
        let code = q.code.clone().filter(|c| !c.is_empty()).ok_or_else(|| {
            ConnectError::ProviderError {
                provider: provider.as_str(),
                code: "missing_code".into(),
                message: "the provider's redirect carried no code".into(),
            }
        })?;
        let secrets: StateSecrets = serde_json::from_slice(secrets.expose())
            .map_err(|e| ConnectError::Internal(format!("state secrets: {e}")))?;
        let tenant_client = match (secrets.client_id, secrets.client_secret) {
            (Some(client_id), Some(s)) => Some(OAuthClient {
                client_id,
                client_secret: Secret::new(s),
            }),
            _ => None,
        };
        let connectors = self.vault.connectors();
        let client = connectors
            .registry
            .endpoints(provider)
            .client_or(tenant_client.as_ref())?
            .clone();
        let verifier = (!secrets.verifier.is_empty()).then(|| Secret::new(secrets.verifier));
        let grant = connectors
            .exchange_code(
                provider,
                &client,
                &CallbackParams {
                    code,
                    location: q.location.clone(),
                    accounts_server: q.accounts_server.clone(),
                },
                &self.config.redirect_uri(),
                verifier.as_ref(),
                now,
            )
            .await?;
        // Zoho: the account must be in the data centre the admin chose when a tenant client
        // (valid in one data centre only) was used; the deployment's client is multi-DC.
        if let (Some(chosen), Some(got)) = (&state.data_centre, &grant.meta.data_centre)
            && tenant_client.is_some()
            && chosen != got
        {
            return Err(ConnectError::ProviderError {
                provider: provider.as_str(),
                code: "data_centre_mismatch".into(),
                message: format!("the account is in the {got} data centre, not {chosen}"),
            });
        }
        let target = Target {
            tenant: state.tenant_id.clone(),
            provider,
            member: state.member_id.clone(),
        };
        let conn = self
            .store_grant(
                &target,
                grant,
                HowGranted {
                    tenant_client,
                    switch_account: state.switch_account,
                    connected_by: state.member_id.as_ref().map(MemberId::as_str),
                    revoke_refused: true,
                },
                now,
            )
            .await?;
        let name = conn.account_name.clone().unwrap_or_default();
        Ok((conn, name))
    }

    /// Identifies the grant's account, applies the same-account rules, and stores it. A
    /// refused grant of our own making is revoked (`revoke_refused`) so that no stray tokens
    /// remain at the provider.
    async fn store_grant(
        &self,
        target: &Target,
        grant: TokenGrant,
        how: HowGranted<'_>,
        now: Millis,
    ) -> Result<Connection, ConnectError> {
        let HowGranted {
            tenant_client,
            switch_account,
            connected_by,
            revoke_refused,
        } = how;
        let provider = target.provider;
        let connectors = self.vault.connectors();
        let expires_at = grant.expires_at;
        let scopes = grant
            .scopes
            .clone()
            .unwrap_or_else(|| connectors.registry.endpoints(provider).scopes.clone())
            .join(" ");
        let (creds, mut meta) = grant.into_credentials(tenant_client.clone());
        let identity = connectors
            .identity(
                provider,
                Session {
                    access_token: &creds.access_token,
                    meta: &meta,
                    budget: None,
                    deadline: None,
                },
            )
            .await;
        let identity = match identity {
            Ok(i) => i,
            Err(e) => {
                if revoke_refused {
                    self.revoke_quietly(provider, tenant_client.as_ref(), &creds, &meta)
                        .await;
                }
                return Err(e.into());
            }
        };
        meta.account_id = Some(identity.account_id.clone());
        if meta.user_id.is_none() && !identity.user_id.is_empty() {
            meta.user_id = Some(identity.user_id.clone());
        }
        if let Err(e) = self.check_account(target, &identity, switch_account).await {
            if revoke_refused {
                self.revoke_quietly(provider, tenant_client.as_ref(), &creds, &meta)
                    .await;
            }
            return Err(e);
        }
        let identity_json = serde_json::to_string(&identity).expect("plain fields serialise");
        let meta_json = serde_json::to_string(&meta).expect("plain fields serialise");
        let sealed = creds.to_sealed_bytes();
        let conn = self
            .vault
            .store()
            .put_grant(
                self.vault.keyring(),
                &NewGrant {
                    key: target.key(),
                    account_id: &identity.account_id,
                    account_name: &identity.account_name,
                    identity: &identity_json,
                    meta: &meta_json,
                    scopes: &scopes,
                    credentials: &sealed,
                    token_expires_at: expires_at,
                    connected_by,
                    now,
                },
            )
            .await?;
        tracing::info!(tenant = %target.tenant, provider = %provider, member = target.member.as_ref().map(MemberId::as_str), connection = conn.id, "connected");
        Ok(conn)
    }

    async fn check_account(
        &self,
        target: &Target,
        identity: &AccountIdentity,
        switch_account: bool,
    ) -> Result<(), ConnectError> {
        let store = self.vault.store();
        let provider = target.provider;
        if target.member.is_some() {
            // PRODUCT.md 4.1: a member connects personally to the same HubSpot account as the
            // tenant; any other account is refused.
            let tenant_conn = store
                .get_connection(ConnectionKey {
                    tenant: &target.tenant,
                    provider: provider.as_str(),
                    member: None,
                })
                .await?
                .ok_or(ConnectError::TenantNotConnected {
                    provider: provider.as_str(),
                })?;
            let expected = tenant_conn.account_id.unwrap_or_default();
            if expected != identity.account_id {
                return Err(ConnectError::AccountMismatch {
                    provider: provider.as_str(),
                    expected,
                    got: identity.account_id.clone(),
                });
            }
        }
        if let Some(current) = store.get_connection(target.key()).await?
            && let Some(current_account) = current.account_id
            && current_account != identity.account_id
            && !switch_account
        {
            return Err(ConnectError::AccountChanged {
                provider: provider.as_str(),
                current: current_account,
                got: identity.account_id.clone(),
            });
        }
        Ok(())
    }

    async fn revoke_quietly(
        &self,
        provider: Provider,
        client: Option<&OAuthClient>,
        creds: &Credentials,
        meta: &GrantMeta,
    ) {
        if let Err(e) = self
            .vault
            .connectors()
            .revoke(provider, client, creds, meta)
            .await
        {
            tracing::warn!(provider = %provider, error = %e, "could not revoke a refused grant");
        }
    }

    /// Stores tokens from a previous integration after proving them with a call (refreshing
    /// first when the access token is refused and a refresh token was given).
    pub async fn import(
        &self,
        target: &Target,
        t: ImportTokens,
        connected_by: Option<&str>,
    ) -> Result<Connection, ConnectError> {
        let provider = target.provider;
        let connectors = self.vault.connectors();
        let ep = connectors.registry.endpoints(provider);
        let now = self.vault.now();
        let mut meta = GrantMeta::default();
        match provider {
            Provider::Salesforce => {
                let inst = t.instance_url.clone().ok_or_else(|| {
                    ConnectError::Invalid("instance_url is required for Salesforce".into())
                })?;
                for (what, v) in [("instance_url", Some(&inst)), ("id", t.id.as_ref())] {
                    let Some(v) = v else { continue };
                    // Bad input from the operator, not a provider failure: 422.
                    ep.allowed_url(what, v)
                        .map_err(|e| ConnectError::Invalid(format!("{what}: {e}")))?;
                }
                meta.instance_url = Some(inst.trim_end_matches('/').to_owned());
                meta.identity_url = t.id.clone();
                if t.id.is_none() {
                    return Err(ConnectError::Invalid(
                        "id (the identity URL of the token response) is required for Salesforce"
                            .into(),
                    ));
                }
            }
            Provider::ZohoCrm => {
                let loc = t
                    .data_centre
                    .as_deref()
                    .ok_or(ConnectError::DataCentreRequired)?;
                let dc = zoho_data_centre(loc)
                    .ok_or_else(|| ConnectError::UnknownDataCentre(loc.into()))?;
                meta.data_centre = Some(dc.location.to_owned());
                meta.api_domain = Some(ep.zoho_api(dc).as_str().trim_end_matches('/').to_owned());
                meta.accounts_server = Some(
                    ep.zoho_accounts(dc)
                        .as_str()
                        .trim_end_matches('/')
                        .to_owned(),
                );
            }
            Provider::Hubspot => {}
        }
        let tenant_client = match (t.client_id.clone(), t.client_secret.clone()) {
            (Some(client_id), Some(client_secret)) => Some(OAuthClient {
                client_id,
                client_secret,
            }),
            (None, None) => None,
            (Some(_), None) => return Err(ConnectError::ClientSecretRequired),
            (None, Some(_)) => return Err(ConnectError::ClientIdRequired),
        };
        let mut grant = TokenGrant {
            access_token: t.access_token.clone(),
            refresh_token: t.refresh_token.clone(),
            expires_at: renkei_connectors::oauth::expiry(provider, now, t.expires_in),
            scopes: None,
            meta: meta.clone(),
        };
        // Prove the tokens: identity with the access token, or after one refresh.
        let probe = connectors
            .identity(
                provider,
                Session {
                    access_token: &grant.access_token,
                    meta: &meta,
                    budget: None,
                    deadline: None,
                },
            )
            .await;
        if let Err(e) = probe {
            let Some(rt) = &t.refresh_token else {
                return Err(e.into());
            };
            if !e.is_unauthorized() {
                return Err(e.into());
            }
            let client = ep.client_or(tenant_client.as_ref())?.clone();
            let fresh = connectors
                .refresh(provider, &client, rt, &meta, now)
                .await?;
            let old = Credentials {
                access_token: grant.access_token.clone(),
                refresh_token: grant.refresh_token.clone(),
                client: None,
            };
            let expires = fresh.expires_at;
            let scopes = fresh.scopes.clone();
            let (c, m) = fresh.merged_over(&old, &meta);
            grant = TokenGrant {
                access_token: c.access_token,
                refresh_token: c.refresh_token,
                expires_at: expires,
                scopes,
                meta: m,
            };
        }
        self.store_grant(
            target,
            grant,
            HowGranted {
                tenant_client,
                switch_account: t.switch_account,
                connected_by,
                // Imported tokens still belong to the integration they came from: a refused
                // import leaves them alone.
                revoke_refused: false,
            },
            now,
        )
        .await
    }

    /// Revokes at the provider, then deletes the credentials. A provider that cannot be
    /// reached (or refuses) does not stop the local disconnect; the answer says what
    /// happened.
    pub async fn disconnect(&self, target: &Target) -> Result<Option<Disconnected>, ConnectError> {
        let store = self.vault.store();
        let Some(conn) = store.get_connection(target.key()).await? else {
            return Ok(None);
        };
        let id = conn.id;
        let outcome = match self.vault.open(conn) {
            Ok(a) => {
                let client = a.credentials.client.clone();
                match self
                    .vault
                    .connectors()
                    .revoke(a.provider, client.as_ref(), &a.credentials, &a.meta)
                    .await
                {
                    Ok(()) => Disconnected {
                        revoked: true,
                        revoke_error: None,
                    },
                    Err(e) => Disconnected {
                        revoked: false,
                        revoke_error: Some(e.to_string()),
                    },
                }
            }
            Err(e) => Disconnected {
                revoked: false,
                revoke_error: Some(e.to_string()),
            },
        };
        store.delete_connection(id).await?;
        tracing::info!(tenant = %target.tenant, provider = %target.provider, revoked = outcome.revoked, "disconnected");
        Ok(Some(outcome))
    }
}

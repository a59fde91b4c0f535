//! Providers, connect links, connections (tenant- and member-level), CRM users and mappings,
//! and tenant health.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use renkei_connectors::registry::{ClientSource, ZOHO_DATA_CENTRES};
use renkei_connectors::{AccountIdentity, ConnectorError, GrantMeta, Provider};
use renkei_core::{MemberId, TenantId};
use renkei_engine::connect::{ConnectError, ImportTokens, NewSession};
use renkei_engine::directory::{self, UserMatch};
use renkei_engine::health::{self, HealthEntry};
use renkei_engine::vault::{Target, VaultError};
use renkei_store::connections::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, PathParams};

/// Parses a provider path segment or body field.
pub fn provider(raw: &str) -> Result<Provider, ApiError> {
    Provider::parse(raw).ok_or_else(|| {
        let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        ApiError::not_found(
            "unknown_provider",
            format!(
                "unknown provider {raw:?}; renkei connects to: {}",
                known.join(", ")
            ),
        )
        .with_details(json!({"provider": raw, "known": known}))
    })
}

fn member_id(raw: &str) -> Result<MemberId, ApiError> {
    MemberId::parse(raw).map_err(|e| {
        ApiError::bad_request("invalid_member_id", e.to_string())
            .with_details(json!({"member": raw}))
    })
}

/// The caller's tenant `raw`, which must exist.
pub(crate) async fn existing_tenant(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<renkei_store::tenants::Tenant, ApiError> {
    let tenant = caller.tenant(raw)?;
    state
        .store
        .get_tenant(&tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant_not_found", format!("no tenant {raw:?}")))
}

async fn existing_member(
    state: &AppState,
    tenant: &TenantId,
    raw: &str,
) -> Result<MemberId, ApiError> {
    let m = member_id(raw)?;
    state
        .store
        .get_member(tenant, &m)
        .await?
        .ok_or_else(|| ApiError::not_found("member_not_found", format!("no member {raw:?}")))?;
    Ok(m)
}

/// A provider failure as an API error: the provider's own trouble is a 502 (or 429 when it
/// rate-limited us), never a 500.
pub fn connector_error(e: &ConnectorError) -> ApiError {
    let status = match e {
        ConnectorError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ConnectorError::Reauth { .. } => StatusCode::CONFLICT,
        ConnectorError::Config(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ConnectorError::Invalid { .. } | ConnectorError::Unauthorized { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        _ => StatusCode::BAD_GATEWAY,
    };
    let mut details = json!({});
    if let Some(d) = e.retry_after() {
        details["retry_after_seconds"] = json!(d.as_secs());
    }
    ApiError::new(status, e.code(), e.to_string()).with_details(details)
}

pub fn vault_error(e: VaultError) -> ApiError {
    match e {
        VaultError::NotConnected { provider } => ApiError::not_found(
            "not_connected",
            format!("{provider} is not connected for this tenant"),
        ),
        VaultError::NeedsReauth { provider, reason } => ApiError::new(
            StatusCode::CONFLICT,
            "needs_reauth",
            format!("the {provider} connection needs to be authorised again"),
        )
        .with_details(json!({"provider": provider, "reason": reason})),
        VaultError::Connector(c) => connector_error(&c),
        VaultError::Store(s) => s.into(),
        e @ (VaultError::Disabled { .. }
        | VaultError::Corrupt { .. }
        | VaultError::RefreshBusy { .. }) => {
            let status = if e.is_retryable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::CONFLICT
            };
            ApiError::new(status, e.code(), e.to_string())
        }
    }
}

pub fn connect_error(e: ConnectError) -> ApiError {
    let code = e.code();
    match e {
        ConnectError::Connector(c) => connector_error(&c),
        ConnectError::Store(s) => s.into(),
        ConnectError::AccountChanged { .. }
        | ConnectError::AccountMismatch { .. }
        | ConnectError::TenantNotConnected { .. } => {
            ApiError::new(StatusCode::CONFLICT, code, e.to_string())
        }
        ConnectError::Internal(_) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, e.to_string())
        }
        other => ApiError::unprocessable(code, other.to_string()),
    }
}

// ---------------------------------------------------------------- providers

#[derive(Debug, Serialize, ToSchema)]
pub struct DataCentreView {
    pub location: &'static str,
    pub accounts_server: String,
    pub api_domain: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    pub name: &'static str,
    pub display_name: &'static str,
    /// `oauth2`.
    pub auth: &'static str,
    /// `deployment` (renkei's configuration holds the OAuth client) or `deployment_or_tenant`
    /// (a tenant admin may enter their own on the connect page).
    pub client_source: &'static str,
    /// Whether the deployment has an OAuth client for this provider.
    pub configured: bool,
    pub pkce: bool,
    pub member_connections: bool,
    pub scopes: Vec<String>,
    pub capabilities: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_centres: Vec<DataCentreView>,
    /// The JSON Schema of a connection's settings document (`GET/PUT
    /// …/connections/{provider}/settings`), in this API's OpenAPI document.
    pub settings_schema: &'static str,
    /// The settings a new connection starts with, in a Japanese tenant (an English tenant
    /// has no placeholder company).
    #[schema(value_type = Object)]
    pub default_settings: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvidersView {
    pub providers: Vec<ProviderView>,
}

/// The providers renkei connects to, how they authenticate and what renkei can do with them.
#[utoipa::path(get, path = "/v1/providers", tag = "connections",
    responses((status = 200, body = ProvidersView)), security(("api_key" = [])))]
pub async fn list_providers(State(state): State<AppState>) -> Json<ProvidersView> {
    let reg = &state.vault.connectors().registry;
    let providers = Provider::ALL
        .iter()
        .map(|&p| {
            let info = p.info();
            let ep = reg.endpoints(p);
            ProviderView {
                name: info.name,
                display_name: info.display_name,
                auth: info.auth.as_str(),
                client_source: match info.client_source {
                    ClientSource::Deployment => "deployment",
                    ClientSource::DeploymentOrTenant => "deployment_or_tenant",
                },
                configured: ep.client.is_some(),
                pkce: info.pkce,
                member_connections: info.member_connections,
                scopes: ep.scopes.clone(),
                capabilities: info.capabilities.to_vec(),
                data_centres: if p == Provider::ZohoCrm {
                    ZOHO_DATA_CENTRES
                        .iter()
                        .map(|dc| DataCentreView {
                            location: dc.location,
                            accounts_server: ep.zoho_accounts(dc).to_string(),
                            api_domain: ep.zoho_api(dc).to_string(),
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                settings_schema: "/openapi.json#/components/schemas/ConnectionSettings",
                default_settings: serde_json::to_value(
                    renkei_engine::settings::ConnectionSettings::defaults(p, "ja"),
                )
                .unwrap_or_default(),
            }
        })
        .collect();
    Json(ProvidersView { providers })
}

// ---------------------------------------------------------------- connect sessions

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectSessionInput {
    /// `hubspot`, `salesforce` or `zoho_crm`.
    pub provider: String,
    /// A member id for a member's personal connection (HubSpot).
    #[serde(default)]
    pub member: Option<String>,
    /// Where the admin returns after the connect, with `status`, `provider` (and `error`).
    #[serde(default)]
    pub return_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectSessionView {
    /// A one-time link to the connect page.
    pub url: String,
    pub expires_at: String,
}

/// Creates a one-time link to the connect page.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/connect-sessions", tag = "connections",
    request_body = ConnectSessionInput, params(("tenant" = String, Path)),
    responses((status = 201, body = ConnectSessionView), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn create_connect_session(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(raw): PathParams<String>,
    JsonBody(input): JsonBody<ConnectSessionInput>,
) -> Result<Response, ApiError> {
    let tenant = existing_tenant(&state, &caller, &raw).await?;
    let p = Provider::parse(&input.provider).ok_or_else(|| {
        let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        ApiError::unprocessable(
            "unknown_provider",
            format!(
                "provider: unknown provider {:?}; renkei connects to: {}",
                input.provider,
                known.join(", ")
            ),
        )
        .with_details(json!({"path": "provider", "known": known}))
    })?;
    let member = match &input.member {
        Some(m) => Some(existing_member(&state, &tenant.id, m).await?),
        None => None,
    };
    let (url, expires_at) = state
        .connect
        .create_session(NewSession {
            tenant: tenant.id,
            member,
            provider: p,
            return_url: input.return_url,
            created_by: Some(caller.0.id.clone()),
        })
        .await
        .map_err(connect_error)?;
    Ok((
        StatusCode::CREATED,
        Json(ConnectSessionView {
            url,
            expires_at: expires_at.to_rfc3339(),
        }),
    )
        .into_response())
}

// ---------------------------------------------------------------- connections

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: Option<String>,
    pub name: Option<String>,
    /// Salesforce: the org's instance URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_url: Option<String>,
    /// Zoho: the data centre (`us`, `jp`, …) and its API domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_centre: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_domain: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LastError {
    pub code: Option<String>,
    pub message: String,
    pub at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    pub provider: String,
    /// Set for a member's personal connection.
    pub member: Option<String>,
    /// `active`, `needs_reauth` or `disabled`.
    pub status: String,
    pub status_reason: Option<String>,
    pub account: AccountView,
    /// The provider user who consented.
    pub user: UserView,
    pub scopes: Vec<String>,
    /// The member who connected, when a member did.
    pub connected_by: Option<String>,
    pub connected_at: Option<String>,
    pub last_used_at: Option<String>,
    pub last_refreshed_at: Option<String>,
    pub token_expires_at: Option<String>,
    pub last_error: Option<LastError>,
    pub consecutive_failures: i64,
    #[schema(value_type = Object)]
    pub settings: Value,
}

pub fn connection_view(c: &Connection) -> ConnectionView {
    let identity: AccountIdentity = serde_json::from_str(&c.identity).unwrap_or_default();
    let meta: GrantMeta = serde_json::from_str(&c.meta).unwrap_or_default();
    ConnectionView {
        provider: c.provider.clone(),
        member: c.member_id.as_ref().map(|m| m.as_str().to_owned()),
        status: c.status.clone(),
        status_reason: c.status_reason.clone(),
        account: AccountView {
            id: c.account_id.clone(),
            name: c.account_name.clone(),
            instance_url: meta.instance_url,
            data_centre: meta.data_centre,
            api_domain: meta.api_domain,
        },
        user: UserView {
            id: identity.user_id,
            email: identity.user_email,
            name: identity.user_name,
        },
        scopes: c.scopes.split_whitespace().map(str::to_owned).collect(),
        connected_by: c.connected_by.clone(),
        connected_at: c.connected_at.map(|m| m.to_rfc3339()),
        last_used_at: c.last_used_at.map(|m| m.to_rfc3339()),
        last_refreshed_at: c.last_refreshed_at.map(|m| m.to_rfc3339()),
        token_expires_at: c.token_expires_at.map(|m| m.to_rfc3339()),
        last_error: c.last_error.as_ref().map(|m| LastError {
            code: c.last_error_code.clone(),
            message: m.clone(),
            at: c.last_error_at.map(|t| t.to_rfc3339()),
        }),
        consecutive_failures: c.failure_count,
        settings: serde_json::from_str(&c.settings).unwrap_or_else(|_| json!({})),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionsView {
    pub connections: Vec<ConnectionView>,
}

/// Every connection of a tenant, tenant-level and members'.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/connections", tag = "connections",
    params(("tenant" = String, Path)),
    responses((status = 200, body = ConnectionsView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_connections(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(raw): PathParams<String>,
) -> Result<Json<ConnectionsView>, ApiError> {
    let tenant = existing_tenant(&state, &caller, &raw).await?;
    let list = state.store.list_connections(&tenant.id).await?;
    Ok(Json(ConnectionsView {
        connections: list.iter().map(connection_view).collect(),
    }))
}

async fn target(
    state: &AppState,
    caller: &Caller,
    tenant: &str,
    member: Option<&str>,
    p: &str,
) -> Result<Target, ApiError> {
    let tenant = existing_tenant(state, caller, tenant).await?;
    let provider = provider(p)?;
    let member = match member {
        Some(m) => {
            if !provider.info().member_connections {
                return Err(ApiError::not_found(
                    "provider_unsupported",
                    format!(
                        "{} has no member-level connections",
                        provider.info().display_name
                    ),
                ));
            }
            Some(existing_member(state, &tenant.id, m).await?)
        }
        None => None,
    };
    Ok(Target {
        tenant: tenant.id,
        provider,
        member,
    })
}

async fn get_one(state: &AppState, t: &Target) -> Result<Json<ConnectionView>, ApiError> {
    let c = state.store.get_connection(t.key()).await?.ok_or_else(|| {
        ApiError::not_found(
            "not_connected",
            format!("{} is not connected", t.provider.info().display_name),
        )
    })?;
    Ok(Json(connection_view(&c)))
}

async fn put_one(state: &AppState, t: &Target, tokens: ImportTokens) -> Result<Response, ApiError> {
    let existed = state.store.get_connection(t.key()).await?.is_some();
    let c = state
        .connect
        .import(t, tokens, t.member.as_ref().map(MemberId::as_str))
        .await
        .map_err(connect_error)?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(connection_view(&c))).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisconnectView {
    pub disconnected: bool,
    /// Whether the provider confirmed the revocation. `false` with `revoke_error` when it
    /// could not be reached or refused: the credentials were deleted here all the same.
    pub revoked: bool,
    pub revoke_error: Option<String>,
}

async fn delete_one(state: &AppState, t: &Target) -> Result<Json<DisconnectView>, ApiError> {
    match state.connect.disconnect(t).await.map_err(connect_error)? {
        Some(d) => Ok(Json(DisconnectView {
            disconnected: true,
            revoked: d.revoked,
            revoke_error: d.revoke_error,
        })),
        None => Err(ApiError::not_found(
            "not_connected",
            format!("{} is not connected", t.provider.info().display_name),
        )),
    }
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/connections/{provider}", tag = "connections",
    params(("tenant" = String, Path), ("provider" = String, Path)),
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_connection(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p)): PathParams<(String, String)>,
) -> Result<Json<ConnectionView>, ApiError> {
    let t = target(&state, &caller, &tenant, None, &p).await?;
    get_one(&state, &t).await
}

/// Imports tokens from a previous integration, after proving them with a call.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/connections/{provider}", tag = "connections",
    params(("tenant" = String, Path), ("provider" = String, Path)),
    request_body(content = Object, description = "access_token, refresh_token?, expires_in?, instance_url + id (Salesforce), data_centre (Zoho), client_id + client_secret (a tenant's own client), switch_account?"),
    responses((status = 201, body = ConnectionView), (status = 200, body = ConnectionView),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn put_connection(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p)): PathParams<(String, String)>,
    JsonBody(tokens): JsonBody<ImportTokens>,
) -> Result<Response, ApiError> {
    let t = target(&state, &caller, &tenant, None, &p).await?;
    put_one(&state, &t, tokens).await
}

/// Revokes at the provider, then deletes the credentials.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/connections/{provider}", tag = "connections",
    params(("tenant" = String, Path), ("provider" = String, Path)),
    responses((status = 200, body = DisconnectView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_connection(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p)): PathParams<(String, String)>,
) -> Result<Json<DisconnectView>, ApiError> {
    let t = target(&state, &caller, &tenant, None, &p).await?;
    delete_one(&state, &t).await
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/members/{member}/connections/{provider}", tag = "connections",
    params(("tenant" = String, Path), ("member" = String, Path), ("provider" = String, Path)),
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_member_connection(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, m, p)): PathParams<(String, String, String)>,
) -> Result<Json<ConnectionView>, ApiError> {
    let t = target(&state, &caller, &tenant, Some(&m), &p).await?;
    get_one(&state, &t).await
}

#[utoipa::path(put, path = "/v1/tenants/{tenant}/members/{member}/connections/{provider}", tag = "connections",
    params(("tenant" = String, Path), ("member" = String, Path), ("provider" = String, Path)),
    request_body(content = Object, description = "as for the tenant-level PUT"),
    responses((status = 201, body = ConnectionView), (status = 200, body = ConnectionView),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn put_member_connection(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, m, p)): PathParams<(String, String, String)>,
    JsonBody(tokens): JsonBody<ImportTokens>,
) -> Result<Response, ApiError> {
    let t = target(&state, &caller, &tenant, Some(&m), &p).await?;
    put_one(&state, &t, tokens).await
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/members/{member}/connections/{provider}", tag = "connections",
    params(("tenant" = String, Path), ("member" = String, Path), ("provider" = String, Path)),
    responses((status = 200, body = DisconnectView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_member_connection(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, m, p)): PathParams<(String, String, String)>,
) -> Result<Json<DisconnectView>, ApiError> {
    let t = target(&state, &caller, &tenant, Some(&m), &p).await?;
    delete_one(&state, &t).await
}

// ---------------------------------------------------------------- users and mappings

#[derive(Debug, Serialize, ToSchema)]
pub struct UsersView {
    /// Each user with `member` (the paired member id) and `matched_by` (`mapping` or `email`).
    #[schema(value_type = Vec<Object>)]
    pub users: Vec<UserMatch>,
}

/// The provider account's users, with the member each is paired with.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/connections/{provider}/users", tag = "connections",
    params(("tenant" = String, Path), ("provider" = String, Path)),
    responses((status = 200, body = UsersView), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p)): PathParams<(String, String)>,
) -> Result<Json<UsersView>, ApiError> {
    let t = target(&state, &caller, &tenant, None, &p).await?;
    let users = directory::users_with_members(&state.vault, &t.tenant, t.provider, true)
        .await
        .map_err(vault_error)?;
    Ok(Json(UsersView { users }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingsInput {
    /// Provider → the provider's user id; `null` removes the mapping.
    #[schema(value_type = Object)]
    pub mappings: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerView {
    pub user_id: String,
    /// `mapping`, `email` or `connecting_user`.
    #[schema(value_type = String)]
    pub source: directory::OwnerSource,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MappingsView {
    pub member: String,
    /// Provider → user id, as set manually.
    pub mappings: BTreeMap<String, String>,
    /// Provider → the user who owns this member's writes (present on GET, for connected
    /// providers).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub owners: Option<BTreeMap<String, Option<OwnerView>>>,
}

async fn mappings_of(
    state: &AppState,
    tenant: &TenantId,
    member: &MemberId,
) -> Result<BTreeMap<String, String>, ApiError> {
    Ok(state
        .store
        .list_user_mappings(tenant)
        .await?
        .into_iter()
        .filter(|(m, _, _)| m == member)
        .map(|(_, p, u)| (p, u))
        .collect())
}

/// Sets a member's manual mappings to provider users; a mapping wins over matching by email.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/user-mappings/{member}", tag = "connections",
    params(("tenant" = String, Path), ("member" = String, Path)), request_body = MappingsInput,
    responses((status = 200, body = MappingsView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn put_user_mappings(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, m)): PathParams<(String, String)>,
    JsonBody(input): JsonBody<MappingsInput>,
) -> Result<Json<MappingsView>, ApiError> {
    let tenant = existing_tenant(&state, &caller, &tenant).await?;
    let member = existing_member(&state, &tenant.id, &m).await?;
    for (p, user) in &input.mappings {
        provider(p).map_err(|e| {
            ApiError::unprocessable(e.code, format!("mappings.{p}: {}", e.message))
                .with_details(json!({"path": format!("mappings.{p}")}))
        })?;
        if let Some(u) = user
            && (u.is_empty() || u.len() > 255)
        {
            return Err(ApiError::unprocessable(
                "invalid_field",
                format!("mappings.{p}: a user id of 1 to 255 characters, or null"),
            )
            .with_details(json!({"path": format!("mappings.{p}")})));
        }
    }
    let now = renkei_core::Millis::now();
    for (p, user) in &input.mappings {
        state
            .store
            .set_user_mapping(&tenant.id, &member, p, user.as_deref(), now)
            .await?;
    }
    Ok(Json(MappingsView {
        member: member.as_str().to_owned(),
        mappings: mappings_of(&state, &tenant.id, &member).await?,
        owners: None,
    }))
}

/// A member's mappings, and the user owning the member's writes at each connected provider.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/user-mappings/{member}", tag = "connections",
    params(("tenant" = String, Path), ("member" = String, Path)),
    responses((status = 200, body = MappingsView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_user_mappings(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, m)): PathParams<(String, String)>,
) -> Result<Json<MappingsView>, ApiError> {
    let tenant = existing_tenant(&state, &caller, &tenant).await?;
    let member = existing_member(&state, &tenant.id, &m).await?;
    let mut owners = BTreeMap::new();
    for c in state.store.list_connections(&tenant.id).await? {
        let Some(p) = Provider::parse(&c.provider) else {
            continue;
        };
        if c.member_id.is_some() || c.status != "active" {
            continue;
        }
        let owner = directory::owner_for(&state.vault, &tenant.id, p, &member)
            .await
            .map_err(vault_error)?;
        owners.insert(
            c.provider.clone(),
            owner.map(|(user_id, source)| OwnerView { user_id, source }),
        );
    }
    Ok(Json(MappingsView {
        member: member.as_str().to_owned(),
        mappings: mappings_of(&state, &tenant.id, &member).await?,
        owners: Some(owners),
    }))
}

// ---------------------------------------------------------------- health

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    pub tenant: String,
    /// `ok` when there is nothing to act on, else `warning` or `error` (the worst entry).
    pub status: &'static str,
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<HealthEntry>,
}

/// What a tenant admin must act on: connections that need re-authorisation, providers that
/// keep failing, members not connected where they must be.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/health", tag = "connections",
    params(("tenant" = String, Path)),
    responses((status = 200, body = HealthView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_health(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(raw): PathParams<String>,
) -> Result<Json<HealthView>, ApiError> {
    let tenant = existing_tenant(&state, &caller, &raw).await?;
    let entries = health::tenant_health(&state.vault, &tenant.id, &tenant.locale)
        .await
        .map_err(vault_error)?;
    let status = if entries.iter().any(|e| e.severity == "error") {
        "error"
    } else if entries.is_empty() {
        "ok"
    } else {
        "warning"
    };
    Ok(Json(HealthView {
        tenant: tenant.id.into_string(),
        status,
        entries,
    }))
}

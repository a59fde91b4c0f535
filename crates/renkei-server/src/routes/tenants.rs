//! Tenants and members.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use renkei_core::{EmailAddress, MemberId, Millis};
use renkei_store::tenants::{Member, Tenant};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, PathParams, QueryParams};
use axum::extract::State;

/// A tenant's settings. Every field is optional in a `PUT`; missing fields take their default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantInput {
    /// Shown to people; defaults to empty.
    #[serde(default)]
    pub display_name: Option<String>,
    /// ISO 3166-1 alpha-2 region used to read local phone numbers. Default `JP`.
    #[serde(default)]
    #[schema(example = "JP")]
    pub default_region: Option<String>,
    /// `ja` or `en`. Default `ja`.
    #[serde(default)]
    pub locale: Option<String>,
    /// IANA time zone. Default `Asia/Tokyo`.
    #[serde(default)]
    #[schema(example = "Asia/Tokyo")]
    pub time_zone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    pub display_name: String,
    pub default_region: String,
    pub locale: String,
    pub time_zone: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.into_string(),
            display_name: t.display_name,
            default_region: t.default_region,
            locale: t.locale,
            time_zone: t.time_zone,
            created_at: t.created_at.to_rfc3339(),
            updated_at: t.updated_at.to_rfc3339(),
        }
    }
}

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::unprocessable("invalid_field", format!("{field}: {message}"))
        .with_details(serde_json::json!({"path": field}))
}

/// Creates or replaces a tenant.
#[utoipa::path(put, path = "/v1/tenants/{tenant}", tag = "tenants", request_body = TenantInput,
    params(("tenant" = String, Path, description = "tenant id: [A-Za-z0-9_-]{1,64}")),
    responses((status = 201, body = TenantView, description = "created"), (status = 200, body = TenantView, description = "replaced"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn put_tenant(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(raw): PathParams<String>,
    JsonBody(input): JsonBody<TenantInput>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(&raw)?;
    let display_name = input.display_name.unwrap_or_default();
    if display_name.chars().count() > 200 {
        return Err(invalid("display_name", "at most 200 characters".into()));
    }
    let region = input.default_region.unwrap_or_else(|| "JP".into());
    if region.len() != 2 || !region.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            "default_region",
            format!("expected an ISO 3166-1 alpha-2 code such as JP or US, found {region:?}"),
        ));
    }
    let locale = input.locale.unwrap_or_else(|| "ja".into());
    if !matches!(locale.as_str(), "ja" | "en") {
        return Err(invalid(
            "locale",
            format!("expected \"ja\" or \"en\", found {locale:?}"),
        ));
    }
    let time_zone = input.time_zone.unwrap_or_else(|| "Asia/Tokyo".into());
    if jiff::tz::TimeZone::get(&time_zone).is_err() {
        return Err(invalid(
            "time_zone",
            format!("unknown IANA time zone {time_zone:?}"),
        ));
    }
    let (t, created) = state
        .store
        .put_tenant(
            &tenant,
            &display_name,
            &region,
            &locale,
            &time_zone,
            Millis::now(),
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(TenantView::from(t))).into_response())
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}", tag = "tenants",
    params(("tenant" = String, Path)),
    responses((status = 200, body = TenantView), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn get_tenant(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(raw): PathParams<String>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = caller.tenant(&raw)?;
    let t = state
        .store
        .get_tenant(&tenant)
        .await?
        .ok_or_else(|| tenant_not_found(&raw))?;
    Ok(Json(t.into()))
}

pub(crate) fn tenant_not_found(raw: &str) -> ApiError {
    ApiError::not_found(
        "tenant_not_found",
        format!("tenant {raw:?} does not exist; create it with PUT /v1/tenants/{raw}"),
    )
}

pub(crate) async fn require_tenant(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<renkei_core::TenantId, ApiError> {
    let tenant = caller.tenant(raw)?;
    if !state.store.tenant_exists(&tenant).await? {
        return Err(tenant_not_found(raw));
    }
    Ok(tenant)
}

fn member_id(raw: &str) -> Result<MemberId, ApiError> {
    MemberId::parse(raw).map_err(|e| ApiError::bad_request("invalid_member_id", e.to_string()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    #[schema(value_type = String, format = Email)]
    pub email: EmailAddress,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        Self {
            id: m.id.into_string(),
            email: m.email.as_str().to_owned(),
            display_name: m.display_name,
            created_at: m.created_at.to_rfc3339(),
            updated_at: m.updated_at.to_rfc3339(),
        }
    }
}

/// Creates or replaces a member.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/members/{member}", tag = "members", request_body = MemberInput,
    params(("tenant" = String, Path), ("member" = String, Path)),
    responses((status = 201, body = MemberView), (status = 200, body = MemberView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn put_member(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((raw, member)): PathParams<(String, String)>,
    JsonBody(input): JsonBody<MemberInput>,
) -> Result<Response, ApiError> {
    let tenant = require_tenant(&state, &caller, &raw).await?;
    let member = member_id(&member)?;
    let name = input.display_name.unwrap_or_default();
    if name.chars().count() > 200 {
        return Err(invalid("display_name", "at most 200 characters".into()));
    }
    let (m, created) = state
        .store
        .put_member(&tenant, &member, &input.email, &name, Millis::now())
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(MemberView::from(m))).into_response())
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/members/{member}", tag = "members",
    params(("tenant" = String, Path), ("member" = String, Path)),
    responses((status = 200, body = MemberView), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn get_member(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((raw, member)): PathParams<(String, String)>,
) -> Result<Json<MemberView>, ApiError> {
    let tenant = require_tenant(&state, &caller, &raw).await?;
    let id = member_id(&member)?;
    let m = state.store.get_member(&tenant, &id).await?.ok_or_else(|| {
        ApiError::not_found(
            "member_not_found",
            format!("member {member:?} does not exist in tenant {raw:?}"),
        )
    })?;
    Ok(Json(m.into()))
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/members/{member}", tag = "members",
    params(("tenant" = String, Path), ("member" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn delete_member(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((raw, member)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = require_tenant(&state, &caller, &raw).await?;
    let id = member_id(&member)?;
    if state.store.delete_member(&tenant, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "member_not_found",
            format!("member {member:?} does not exist in tenant {raw:?}"),
        ))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPage {
    pub members: Vec<MemberView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/members", tag = "members",
    params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = MemberPage), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(raw): PathParams<String>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<MemberPage>, ApiError> {
    let tenant = require_tenant(&state, &caller, &raw).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and 500, found {limit}"),
        ));
    }
    let mut members = state
        .store
        .list_members(&tenant, q.cursor.as_deref(), limit + 1)
        .await?;
    let next_cursor = if members.len() as i64 > limit {
        members.truncate(limit as usize);
        members.last().map(|m| m.id.as_str().to_owned())
    } else {
        None
    };
    Ok(Json(MemberPage {
        members: members.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

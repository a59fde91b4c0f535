//! Connection settings, sync runs, imported people and the change feed.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use renkei_core::{EmailAddress, Millis, Region, TenantId, normalize_phone};
use renkei_engine::settings::{ConnectionSettings, SettingsError};
use renkei_engine::sync::{Progress, RunKind, Step, SyncError};
use renkei_engine::vault::Target;
use renkei_store::people::{Change, PeopleFilter, Person};
use renkei_store::sync::SyncRun;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonValue, PathParams, QueryParams};
use crate::routes::connections::{existing_tenant, provider, vault_error};

pub fn sync_error(e: SyncError) -> ApiError {
    let code = e.code();
    match e {
        SyncError::NotConnected { provider } => {
            ApiError::not_found(code, format!("{provider} is not connected for this tenant"))
        }
        SyncError::Settings(s) => ApiError::unprocessable(s.code, s.message.clone())
            .with_details(json!({"field": s.field})),
        SyncError::Store(s) => s.into(),
        other => ApiError::new(StatusCode::CONFLICT, code, other.to_string()),
    }
}

// ---------------------------------------------------------------- settings

/// A settings document that does not hold: 422 with the code and `details.field`.
fn settings_error(e: SettingsError) -> ApiError {
    ApiError::unprocessable(e.code, e.message.clone()).with_details(json!({"field": e.field}))
}

/// A connection's settings, defaults filled in.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/connections/{provider}/settings", tag = "people",
    responses((status = 200, body = ConnectionSettings), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p)): PathParams<(String, String)>,
) -> Result<Json<ConnectionSettings>, ApiError> {
    let t = existing_tenant(&state, &caller, &tenant).await?;
    let p = provider(&p)?;
    let (_, s) = state.sync.settings(&t.id, p).await.map_err(sync_error)?;
    Ok(Json(s))
}

/// Changes a connection's settings. The body may hold only the parts that change; objects
/// merge key by key. The result is validated whole, and unknown fields are refused. When the
/// deal-room or booking-capture part changes, the CRM fields it names are checked against the
/// provider's field metadata; nothing is saved when the provider cannot be asked.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/connections/{provider}/settings", tag = "people",
    request_body = ConnectionSettings,
    responses((status = 200, body = ConnectionSettings), (status = 422, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p)): PathParams<(String, String)>,
    JsonValue(patch): JsonValue,
) -> Result<Json<ConnectionSettings>, ApiError> {
    let t = existing_tenant(&state, &caller, &tenant).await?;
    let p = provider(&p)?;
    let (conn, current) = state.sync.settings(&t.id, p).await.map_err(sync_error)?;
    let next =
        ConnectionSettings::merged(p, &t.locale, &current, &patch).map_err(settings_error)?;
    // The fields a recipe names are checked against the provider's live metadata (PRODUCT.md
    // 4.1: only text-type properties receive the room URL; 4.5: only string and number
    // properties are mapped), but only when that part of the document changes: a PUT that
    // touches `people` must not fail because the CRM is down or a property was since deleted.
    let objects = next.objects_to_describe(p);
    if !objects.is_empty()
        && (next.deal_room != current.deal_room || next.booking_capture != current.booking_capture)
    {
        let target = Target::tenant(&t.id, p);
        let connectors = state.vault.connectors();
        let mut fields = BTreeMap::new();
        for object in objects {
            let described = state
                .vault
                .call(&target, |a| async move {
                    connectors.describe_fields(p, a.session(), object).await
                })
                .await
                .map_err(vault_error)?;
            fields.insert(object.to_owned(), described);
        }
        next.check_fields(p, &fields).map_err(settings_error)?;
    }
    let doc = serde_json::to_string(&next).unwrap_or_default();
    state.store.set_connection_settings(conn.id, &doc).await?;
    Ok(Json(next))
}

// ---------------------------------------------------------------- sync runs

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRunInput {
    /// `initial` (import everything again) or `incremental`; chosen when absent: incremental
    /// once every object has been imported.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub kind: Option<RunKind>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunView {
    pub id: i64,
    pub provider: String,
    /// `initial` or `incremental`.
    pub kind: String,
    /// `api`, `cli`, `schedule`.
    pub started_by: String,
    /// `queued`, `running`, `succeeded`, `failed`.
    pub status: String,
    /// Steps done, of `steps` (one query per object: a listing, or changes and deletions).
    pub step: i64,
    pub steps: usize,
    /// The object and query of the current step.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<Value>,
    pub progress: Progress,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

pub fn run_view(r: &SyncRun) -> SyncRunView {
    let steps: Vec<Step> = serde_json::from_str(&r.plan).unwrap_or_default();
    let current = usize::try_from(r.step)
        .ok()
        .and_then(|i| steps.get(i))
        .filter(|_| r.is_active())
        .and_then(|s| serde_json::to_value(s).ok());
    SyncRunView {
        id: r.id,
        provider: r.provider.clone(),
        kind: r.kind.clone(),
        started_by: r.started_by.clone(),
        status: r.status.clone(),
        step: r.step,
        steps: steps.len(),
        current,
        progress: serde_json::from_str(&r.progress).unwrap_or_default(),
        error: r.error_code.as_ref().map(|c| RunError {
            code: c.clone(),
            message: r.error.clone().unwrap_or_default(),
        }),
        created_at: r.created_at.to_rfc3339(),
        started_at: r.started_at.map(Millis::to_rfc3339),
        finished_at: r.finished_at.map(Millis::to_rfc3339),
    }
}

/// Starts an import of the connection's people. When a run is already queued or running, that
/// run is answered (200) instead of a second one (202).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/connections/{provider}/sync-runs", tag = "people",
    request_body = SyncRunInput,
    responses((status = 202, body = SyncRunView), (status = 200, body = SyncRunView),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn post_sync_run(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p)): PathParams<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let t = existing_tenant(&state, &caller, &tenant).await?;
    let p = provider(&p)?;
    // The body is optional: `POST …/sync-runs` with nothing starts the run renkei chooses.
    let input: SyncRunInput = if body.iter().all(u8::is_ascii_whitespace) {
        SyncRunInput::default()
    } else {
        let value: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}"))
        })?;
        serde_path_to_error::deserialize(value).map_err(|e| {
            ApiError::unprocessable("invalid_request", e.inner().to_string())
                .with_details(json!({"field": e.path().to_string()}))
        })?
    };
    let started = state
        .sync
        .start(&t.id, p, input.kind, "api")
        .await
        .map_err(sync_error)?;
    state.wake.notify();
    let status = if started.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(run_view(&started.run))).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunsView {
    pub runs: Vec<SyncRunView>,
}

/// The connection's recent runs, newest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/connections/{provider}/sync-runs", tag = "people",
    responses((status = 200, body = SyncRunsView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_sync_runs(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p)): PathParams<(String, String)>,
) -> Result<Json<SyncRunsView>, ApiError> {
    let t = existing_tenant(&state, &caller, &tenant).await?;
    let p = provider(&p)?;
    let (conn, _) = state.sync.settings(&t.id, p).await.map_err(sync_error)?;
    let runs = state.store.list_sync_runs(conn.id, 20).await?;
    Ok(Json(SyncRunsView {
        runs: runs.iter().map(run_view).collect(),
    }))
}

/// One run: status, counts, pages, API calls, elapsed time.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/connections/{provider}/sync-runs/{id}",
    tag = "people",
    responses((status = 200, body = SyncRunView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_sync_run(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p, id)): PathParams<(String, String, String)>,
) -> Result<Json<SyncRunView>, ApiError> {
    let t = existing_tenant(&state, &caller, &tenant).await?;
    let p = provider(&p)?;
    let not_found = || ApiError::not_found("sync_run_not_found", format!("no sync run {id:?}"));
    let n: i64 = id.parse().map_err(|_| not_found())?;
    let run = state
        .store
        .get_tenant_sync_run(&t.id, n)
        .await?
        .filter(|r| r.provider == p.as_str())
        .ok_or_else(not_found)?;
    Ok(Json(run_view(&run)))
}

// ---------------------------------------------------------------- people

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeopleQuery {
    /// A phone number in any notation; matched on its E.164 form (tenant's default region).
    pub phone: Option<String>,
    /// An email address, matched case-insensitively.
    pub email: Option<String>,
    /// Text found in the name, company or email.
    pub q: Option<String>,
    /// Only people of this provider.
    pub provider: Option<String>,
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500 (default 100).
    pub limit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonView {
    pub id: String,
    pub provider: String,
    /// `lead` or `contact`.
    pub object: String,
    pub remote_id: String,
    pub name: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub company: Option<String>,
    pub emails: Vec<String>,
    /// `[{field, raw, e164?, extension?, error?}]`: every phone as the CRM has it, with its
    /// normalised form.
    #[schema(value_type = Vec<Object>)]
    pub phones: Value,
    /// The E.164 key of the main phone.
    pub phone: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub address: Option<Value>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// The CRM user who owns the record.
    pub owner_id: Option<String>,
    /// Live and the one chosen among people with the same identity key.
    pub visible: bool,
    pub deleted: bool,
    /// The visible person this one is a duplicate of (same identity key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    pub remote_updated_at: String,
    pub updated_at: String,
}

pub fn person_view(p: &Person) -> PersonView {
    PersonView {
        id: p.id.to_string(),
        provider: p.provider.clone(),
        object: p.object.clone(),
        remote_id: p.remote_id.clone(),
        name: p.display_name.clone(),
        last_name: p.last_name.clone(),
        first_name: p.first_name.clone(),
        company: p.company.clone(),
        emails: p.emails.clone(),
        phones: p.phones.clone(),
        phone: p.phone_key.clone(),
        address: p.address.clone(),
        department: p.department.clone(),
        title: p.title.clone(),
        description: p.description.clone(),
        owner_id: p.owner_id.clone(),
        visible: p.visible(),
        deleted: p.deleted,
        duplicate_of: p.duplicate_of.map(|d| d.to_string()),
        remote_updated_at: p.remote_updated_at.to_rfc3339(),
        updated_at: p.updated_at.to_rfc3339(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeopleView {
    pub people: Vec<PersonView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn limit_param(raw: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    match raw {
        None => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit must be a number from 1 to {max}"),
            )
            .with_details(json!({"limit": s}))),
        },
    }
}

/// The tenant's imported people (the visible ones: live, one per identity key), by id.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/people", tag = "people",
    params(("phone" = Option<String>, Query, description = "any notation"),
        ("email" = Option<String>, Query), ("q" = Option<String>, Query),
        ("provider" = Option<String>, Query), ("cursor" = Option<String>, Query),
        ("limit" = Option<i64>, Query)),
    responses((status = 200, body = PeopleView), (status = 400, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_people(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(tenant): PathParams<String>,
    QueryParams(q): QueryParams<PeopleQuery>,
) -> Result<Json<PeopleView>, ApiError> {
    let t = existing_tenant(&state, &caller, &tenant).await?;
    let limit = limit_param(q.limit.as_deref(), 100, 500)?;
    let after: i64 = match q.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c.parse().map_err(|_| {
            ApiError::bad_request("invalid_cursor", "cursor must come from next_cursor")
        })?,
    };
    let mut filter = PeopleFilter::default();
    if let Some(raw) = q.phone.as_deref() {
        let region = Region::parse(&t.default_region).unwrap_or(Region::JP);
        let n = normalize_phone(raw, &region).map_err(|e| {
            ApiError::bad_request("invalid_phone", "phone is not a phone number")
                .with_details(json!({"reason": e.code()}))
        })?;
        filter.phone_keys.push(n.e164.as_str().to_owned());
    }
    if let Some(raw) = q.email.as_deref() {
        let e = EmailAddress::parse(raw)
            .map_err(|_| ApiError::bad_request("invalid_email", "email is not an email address"))?;
        filter.email_key = Some(e.as_str().to_owned());
    }
    if let Some(p) = q.provider.as_deref() {
        filter.provider = Some(provider(p)?.as_str().to_owned());
    }
    filter.q =
        q.q.filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().to_owned());
    let mut people = state
        .store
        .find_people(&t.id, &filter, after, limit + 1)
        .await?;
    let more = people.len() as i64 > limit;
    people.truncate(limit as usize);
    Ok(Json(PeopleView {
        next_cursor: if more {
            people.last().map(|p| p.id.to_string())
        } else {
            None
        },
        people: people.iter().map(person_view).collect(),
    }))
}

/// One person, visible or not (a deleted or shadowed person says so).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/people/{id}", tag = "people",
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_person(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, id)): PathParams<(String, String)>,
) -> Result<Json<PersonView>, ApiError> {
    let t: TenantId = existing_tenant(&state, &caller, &tenant).await?.id;
    let not_found = || ApiError::not_found("person_not_found", format!("no person {id:?}"));
    let n: i64 = id.parse().map_err(|_| not_found())?;
    let p = state.store.get_person(&t, n).await?.ok_or_else(not_found)?;
    Ok(Json(person_view(&p)))
}

// ---------------------------------------------------------------- change feed

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    pub after: Option<String>,
    pub limit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    /// The position in the feed; pass the last one seen as `after`.
    pub seq: i64,
    /// `created` (became visible), `updated`, `deleted` (no longer visible).
    pub kind: String,
    pub person_id: String,
    pub at: String,
    /// The person as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesView {
    pub changes: Vec<ChangeView>,
    /// The `after` of the next request (the last seq, or the given `after` when empty).
    pub next_after: i64,
}

fn change_view(c: &Change) -> ChangeView {
    ChangeView {
        seq: c.seq,
        kind: c.kind.clone(),
        person_id: c.person_id.to_string(),
        at: c.at.to_rfc3339(),
        person: c.person.as_ref().map(person_view),
    }
}

/// The ordered change feed of the tenant's people. Follow it with `after`: every change is
/// seen exactly once, in commit order.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/changes", tag = "people",
    params(("after" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = ChangesView), (status = 400, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_changes(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(tenant): PathParams<String>,
    QueryParams(q): QueryParams<ChangesQuery>,
) -> Result<Json<ChangesView>, ApiError> {
    let t = existing_tenant(&state, &caller, &tenant).await?;
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    let after: i64 = match q.after.as_deref() {
        None | Some("") => 0,
        Some(a) => a.parse().ok().filter(|n: &i64| *n >= 0).ok_or_else(|| {
            ApiError::bad_request("invalid_after", "after must be a seq from the feed")
        })?,
    };
    let changes = state.store.list_changes(&t.id, after, limit).await?;
    Ok(Json(ChangesView {
        next_after: changes.last().map_or(after, |c| c.seq),
        changes: changes.iter().map(change_view).collect(),
    }))
}

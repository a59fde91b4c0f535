//! Deliveries: the write-back audit trail over HTTP (PRODUCT.md 5.2) — what each event was
//! written to, with its status, attempts and last error, newest first; one delivery; and the
//! retry of a finished one. [`DeliveryView`] is also the shape `GET …/events/{id}` lists an
//! event's deliveries in.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use renkei_core::{EventId, Millis, TenantId};
use renkei_engine::deliver::{RetryError, retry};
use renkei_store::deliveries::{Delivery, DeliveryFilter, DeliveryStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{PathParams, QueryParams};
use crate::routes::tenants::require_tenant;

/// The event a delivery belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryEvent {
    pub id: String,
    #[schema(example = "call.ended")]
    pub r#type: String,
}

/// One delivery: a step of a recipe for one event and one connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub event: DeliveryEvent,
    /// `hubspot`, `salesforce` or `zoho_crm`; null once the connection was deleted.
    pub provider: Option<String>,
    pub connection_id: i64,
    /// The event's member, when it names one.
    pub member: Option<String>,
    /// The recipe step, e.g. `person_update`.
    pub step: String,
    /// The host-app thing the delivery is about (`customer:42`, `call:…`).
    pub subject: Option<String>,
    /// The key that orders deliveries writing to one remote record.
    pub record_key: Option<String>,
    /// `pending`, `succeeded`, `failed`, `dead` or `skipped`.
    #[schema(example = "succeeded")]
    pub status: String,
    /// Why it was skipped or is waiting: a stable code, a colon and a sentence.
    pub reason: Option<String>,
    pub attempts: i64,
    /// The provider's HTTP status of the last attempt.
    pub provider_status: Option<i64>,
    /// The records written so far, by name (`{"person": {"object": "Contact", "id": "003…"}}`).
    #[schema(value_type = Object)]
    pub remote_ids: Map<String, Value>,
    /// The last attempt's error.
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            event: DeliveryEvent {
                id: d.event_id.into_string(),
                r#type: d.event_type,
            },
            provider: d.provider,
            connection_id: d.connection_id,
            member: d.member.map(|m| m.into_string()),
            step: d.step,
            subject: d.subject,
            record_key: d.record_key,
            status: d.status.as_str().to_owned(),
            reason: d.reason,
            attempts: d.attempts,
            provider_status: d.provider_status,
            remote_ids: d.remote_ids,
            error: d.error,
            created_at: d.created_at.to_rfc3339(),
            updated_at: d.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    pub status: Option<String>,
    pub event: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

fn status_param(raw: &str) -> Result<DeliveryStatus, ApiError> {
    DeliveryStatus::parse(raw).ok_or_else(|| {
        let valid: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::bad_request(
            "invalid_status",
            format!(
                "unknown status {raw:?}; expected one of {}",
                valid.join(", ")
            ),
        )
        .with_details(json!({"status": raw, "valid": valid}))
    })
}

fn limit_param(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit must be a number from 1 to {MAX_LIMIT}"),
            )
            .with_details(json!({"limit": s}))),
        },
    }
}

/// The cursor is the id of the last delivery of the previous page; clients must treat it as
/// opaque so that it can change shape later.
fn cursor_param(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    match raw {
        None | Some("") => Ok(None),
        Some(c) => match c.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(ApiError::bad_request(
                "invalid_cursor",
                "cursor must come from next_cursor of a previous page",
            )),
        },
    }
}

fn delivery_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| {
        ApiError::bad_request(
            "invalid_delivery_id",
            format!("delivery ids are integers, not {raw:?}"),
        )
    })
}

fn delivery_not_found(tenant: &TenantId, id: i64) -> ApiError {
    ApiError::not_found(
        "delivery_not_found",
        format!("tenant {tenant} has no delivery {id}"),
    )
}

/// The tenant's deliveries, newest first, optionally of one status or one event.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/deliveries", tag = "deliveries",
    params(("tenant" = String, Path),
        ("status" = Option<String>, Query, description = "pending, succeeded, failed, dead or skipped"),
        ("event" = Option<String>, Query, description = "an event id"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<i64>, Query, description = "1 to 200 (default 50)")),
    responses((status = 200, body = DeliveryPage),
        (status = 400, body = ErrorBody, description = "invalid_status, invalid_event_id, invalid_cursor or invalid_limit"),
        (status = 404, body = ErrorBody, description = "unknown tenant or event")),
    security(("api_key" = [])))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(raw): PathParams<String>,
    QueryParams(q): QueryParams<DeliveriesQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let tenant = require_tenant(&state, &caller, &raw).await?;
    let status = q.status.as_deref().map(status_param).transpose()?;
    let limit = limit_param(q.limit.as_deref())?;
    let before_id = cursor_param(q.cursor.as_deref())?;
    let event_seq = match q.event.as_deref() {
        None => None,
        Some(e) => {
            let id = EventId::parse(e)
                .map_err(|err| ApiError::bad_request("invalid_event_id", err.to_string()))?;
            let ev = state.store.get_event(&tenant, &id).await?.ok_or_else(|| {
                ApiError::not_found(
                    "event_not_found",
                    format!("tenant {raw:?} has no event {e:?}"),
                )
            })?;
            Some(ev.seq)
        }
    };
    // One more than asked tells whether another page follows without a count.
    let mut found = state
        .store
        .list_deliveries(
            &tenant,
            &DeliveryFilter {
                status,
                event_seq,
                before_id,
                limit: limit + 1,
            },
        )
        .await?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    Ok(Json(DeliveryPage {
        next_cursor: if more {
            found.last().map(|d| d.id.to_string())
        } else {
            None
        },
        deliveries: found.into_iter().map(DeliveryView::from).collect(),
    }))
}

/// One delivery.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/deliveries/{id}", tag = "deliveries",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = DeliveryView),
        (status = 400, body = ErrorBody, description = "invalid_delivery_id"),
        (status = 404, body = ErrorBody, description = "unknown tenant or delivery")),
    security(("api_key" = [])))]
pub async fn get_delivery(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((raw, id)): PathParams<(String, String)>,
) -> Result<Json<DeliveryView>, ApiError> {
    let tenant = require_tenant(&state, &caller, &raw).await?;
    let id = delivery_id(&id)?;
    let d = state
        .store
        .get_delivery(&tenant, id)
        .await?
        .ok_or_else(|| delivery_not_found(&tenant, id))?;
    Ok(Json(d.into()))
}

/// Runs a failed, dead or skipped delivery again: it is `pending` at once and its job is
/// queued; the records an earlier attempt wrote are not written twice.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deliveries/{id}/retry", tag = "deliveries",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 202, body = DeliveryView, description = "the delivery, pending again"),
        (status = 400, body = ErrorBody, description = "invalid_delivery_id"),
        (status = 404, body = ErrorBody, description = "unknown tenant or delivery"),
        (status = 409, body = ErrorBody, description = "delivery_not_retryable: it is pending or succeeded")),
    security(("api_key" = [])))]
pub async fn retry_delivery(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((raw, id)): PathParams<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let tenant = require_tenant(&state, &caller, &raw).await?;
    let id = delivery_id(&id)?;
    let d = retry(&state.store, &tenant, id, Millis::now())
        .await
        .map_err(|e| match e {
            RetryError::NotFound => delivery_not_found(&tenant, id),
            RetryError::NotRetryable(status) => ApiError::new(
                StatusCode::CONFLICT,
                "delivery_not_retryable",
                e.to_string(),
            )
            .with_details(json!({"status": status.as_str()})),
            RetryError::Store(s) => s.into(),
        })?;
    // The job was committed with the delivery; the local workers need not wait for their
    // next poll to see it.
    state.wake.notify();
    Ok((StatusCode::ACCEPTED, Json(d.into())))
}

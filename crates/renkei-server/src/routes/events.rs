//! Event intake and inspection (PRODUCT.md 5.2).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use renkei_core::event::{BatchError, MAX_BATCH, parse_batch};
use renkei_core::{EventId, Millis};
use renkei_engine::intake::IntakeError;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonValue, PathParams};
use crate::routes::deliveries::DeliveryView;
use crate::routes::tenants::require_tenant;

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Ids stored by this request.
    pub accepted: Vec<String>,
    /// Ids the tenant already had: nothing was stored or written again for them.
    pub duplicates: Vec<String>,
}

/// The envelope of an event, for the OpenAPI document; `data` depends on `type`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventInput {
    /// The host app's id; also the idempotency key within the tenant.
    id: String,
    #[schema(example = "call.ended")]
    r#type: String,
    /// RFC 3339 with an offset.
    occurred_at: String,
    member: Option<String>,
    #[schema(value_type = Object)]
    data: Value,
}

fn batch_error(e: BatchError) -> ApiError {
    match e {
        BatchError::NotAnEventOrArray => ApiError::unprocessable(
            "invalid_body",
            "expected an event object or an array of event objects",
        ),
        BatchError::Empty => ApiError::unprocessable("empty_batch", "the array holds no events"),
        BatchError::TooLarge { len } => ApiError::unprocessable(
            "batch_too_large",
            format!("the array holds {len} events; at most {MAX_BATCH} are accepted per request"),
        ),
        BatchError::Items(items) => {
            let total = items.len();
            let (first_index, first) = &items[0];
            let place = first_index.map_or_else(String::new, |i| format!("events[{i}]"));
            let place = match (place.is_empty(), first.path.is_empty()) {
                (true, _) => first.path.clone(),
                (false, true) => place,
                (false, false) => format!("{place}.{}", first.path),
            };
            let more = if total > 1 {
                format!(" (and {} more)", total - 1)
            } else {
                String::new()
            };
            let message = if place.is_empty() {
                format!("{}{more}; nothing was stored", first.message)
            } else {
                format!("{place}: {}{more}; nothing was stored", first.message)
            };
            let errors: Vec<Value> = items
                .iter()
                .map(|(i, e)| json!({"index": i, "code": e.code, "path": e.path, "message": e.message}))
                .collect();
            ApiError::unprocessable(first.code, message).with_details(json!({"errors": errors}))
        }
    }
}

/// Accepts one event or an array of up to 1,000. An array is all-or-nothing.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/events", tag = "events",
    request_body(content = EventInput, description = "one event, or an array of events"),
    params(("tenant" = String, Path)),
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody, description = "malformed JSON or tenant id"),
              (status = 404, body = ErrorBody, description = "unknown tenant"), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "invalid events; details.errors lists each")),
    security(("api_key" = [])))]
pub async fn post_events(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(raw): PathParams<String>,
    JsonValue(body): JsonValue,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let tenant = caller.tenant(&raw)?;
    let events = parse_batch(body).map_err(batch_error)?;
    let done = state
        .intake
        .submit(tenant, events)
        .await
        .map_err(|e| match e {
            IntakeError::UnknownTenant(_) => crate::routes::tenants::tenant_not_found(&raw),
            IntakeError::Store(e) => ApiError::from(e),
            IntakeError::Group {
                retryable: true, ..
            }
            | IntakeError::ShuttingDown => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the events were not stored; retry shortly (posting the same ids again is safe)",
            ),
            IntakeError::Group {
                retryable: false, ..
            } => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the events were not stored; the request id identifies the failure in the logs",
            ),
        })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            accepted: done
                .accepted
                .into_iter()
                .map(EventId::into_string)
                .collect(),
            duplicates: done
                .duplicates
                .into_iter()
                .map(EventId::into_string)
                .collect(),
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    pub r#type: String,
    pub occurred_at: String,
    pub member: Option<String>,
    #[schema(value_type = Object)]
    pub data: Value,
    pub received_at: String,
    pub routing: RoutingView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoutingView {
    /// `pending` until the routing job ran, then `routed`.
    pub status: String,
    pub routed_at: Option<String>,
    /// Why the event causes the deliveries it does (or none).
    pub note: Option<String>,
    pub deliveries: Vec<DeliveryView>,
}

/// An event with its routing status and deliveries.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/events/{event}", tag = "events",
    params(("tenant" = String, Path), ("event" = String, Path)),
    responses((status = 200, body = EventView), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn get_event(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((raw, event)): PathParams<(String, String)>,
) -> Result<Json<EventView>, ApiError> {
    let tenant = require_tenant(&state, &caller, &raw).await?;
    let id = EventId::parse(&event)
        .map_err(|e| ApiError::bad_request("invalid_event_id", e.to_string()))?;
    let ev = state.store.get_event(&tenant, &id).await?.ok_or_else(|| {
        ApiError::not_found(
            "event_not_found",
            format!("tenant {raw:?} has no event {event:?}"),
        )
    })?;
    let deliveries = state.store.list_event_deliveries(&tenant, ev.seq).await?;
    Ok(Json(EventView {
        id: ev.id.into_string(),
        r#type: ev.event_type,
        occurred_at: ev.occurred_at.to_rfc3339(),
        member: ev.member.map(|m| m.into_string()),
        data: ev.data,
        received_at: ev.received_at.to_rfc3339(),
        routing: RoutingView {
            status: ev.routing_status.as_str().to_owned(),
            routed_at: ev.routed_at.map(Millis::to_rfc3339),
            note: ev.routing_note,
            deliveries: deliveries.into_iter().map(DeliveryView::from).collect(),
        },
    }))
}

//! Owners (`/crm/v3/owners/`, HubSpot's CRM Owners API: the users records can be assigned
//! to, filterable by `email`, paged with `after`, the archived ones apart), the sandbox's
//! control route that archives an owner, and the account details (`/account-info/v3/details`:
//! the portal id, time zone and currency).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::Hubspot;
use super::auth::Ctx;
use super::errors::HsError;
use crate::control::ControlError;
use crate::http::BaseUrl;

#[derive(Deserialize)]
pub struct ListQuery {
    email: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    archived: Option<String>,
}

/// `GET /crm/v3/owners/`: `limit` up to 500 (default 100), `after` is the next owner id. The
/// active owners, or with `archived=true` the archived ones ("archived: Whether to include
/// archived owners in the response", CRM Owners API v3, whose answer to `archived=true` lists
/// the archived owners only).
pub async fn list(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    base: BaseUrl,
    Query(q): Query<ListQuery>,
) -> Result<Response, HsError> {
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| HsError::validation("limit must be between 1 and 500"))?,
    };
    let after: u64 = match q.after.as_deref() {
        None | Some("") => 0,
        Some(a) => a
            .parse()
            .map_err(|_| HsError::validation(format!("Invalid paging cursor after={a}")))?,
    };
    let archived = q.archived.as_deref() == Some("true");
    let state = hs.read();
    let p = state.portal(ctx.portal);
    let mut owners: Vec<_> = p
        .owners
        .iter()
        .filter(|o| o.archived == archived)
        .filter(|o| o.id >= after)
        .filter(|o| {
            q.email
                .as_deref()
                .is_none_or(|e| o.email.eq_ignore_ascii_case(e))
        })
        .collect();
    owners.sort_by_key(|o| o.id);
    let next = owners.get(limit).map(|o| o.id);
    let results: Vec<_> = owners.iter().take(limit).map(|o| o.to_json()).collect();
    let mut body = json!({ "results": results });
    if let Some(n) = next {
        body["paging"] = json!({"next": {
            "after": n.to_string(),
            "link": base.join(&format!("/crm/v3/owners/?after={n}&limit={limit}")),
        }});
    }
    Ok(axum::Json(body).into_response())
}

#[derive(Deserialize)]
pub struct ReadQuery {
    #[serde(rename = "idProperty")]
    id_property: Option<String>,
    archived: Option<String>,
}

/// `GET /crm/v3/owners/{ownerId}` (`idProperty=id` or `userId`). An archived owner is found
/// with `archived=true` only ("archived: Whether to return only results that have been
/// archived", default false), an active one without it.
pub async fn read(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Query(q): Query<ReadQuery>,
) -> Result<Response, HsError> {
    let state = hs.read();
    let p = state.portal(ctx.portal);
    let by_user = q.id_property.as_deref() == Some("userId");
    let archived = q.archived.as_deref() == Some("true");
    let owner = id.parse::<u64>().ok().and_then(|n| {
        p.owners
            .iter()
            .filter(|o| o.archived == archived)
            .find(|o| if by_user { o.user_id == n } else { o.id == n })
    });
    match owner {
        Some(o) => Ok(axum::Json(o.to_json()).into_response()),
        None => Err(HsError::not_found(format!("Owner {id} not found"))),
    }
}

/// `POST /_control/owners/{ownerId}/archive` and `…/restore`: what deactivating (or
/// reactivating) the owner's user in the account's settings does. HubSpot has no API for it,
/// so the sandbox gives one, beside its other control routes. Owner ids are unique across the
/// sandbox's portals, so the path names no portal. Answers the owner as the Owners API shows it.
pub async fn set_archived(
    State(hs): State<Arc<Hubspot>>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, ControlError> {
    let archived = match action.as_str() {
        "archive" => true,
        "restore" => false,
        other => {
            return Err(ControlError::invalid(format!(
                "unknown owner action {other:?}; expected archive or restore"
            )));
        }
    };
    let now = hs.env.clock.now_ms();
    let mut state = hs.write();
    let owner = id
        .parse::<u64>()
        .ok()
        .and_then(|n| {
            state
                .portals
                .iter_mut()
                .flat_map(|p| p.owners.iter_mut())
                .find(|o| o.id == n)
        })
        .ok_or_else(|| ControlError {
            status: StatusCode::NOT_FOUND,
            code: "unknown_owner",
            message: format!("no owner {id:?} in any portal"),
        })?;
    if owner.archived != archived {
        owner.archived = archived;
        owner.updated_ms = now;
    }
    Ok(axum::Json(owner.to_json()).into_response())
}

/// `GET /account-info/v3/details`.
pub async fn account_details(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
) -> Response {
    let state = hs.read();
    let p = state.portal(ctx.portal);
    let now = jiff::Timestamp::from_millisecond(hs.env.clock.now_ms())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let offset_secs = jiff::tz::TimeZone::get(p.time_zone)
        .map(|tz| tz.to_offset(now).seconds())
        .unwrap_or(0);
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let abs = offset_secs.abs();
    axum::Json(json!({
        "portalId": p.id,
        "accountType": "STANDARD",
        "timeZone": p.time_zone,
        "companyCurrency": p.currency,
        "additionalCurrencies": [],
        "utcOffset": format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60),
        "utcOffsetMilliseconds": i64::from(offset_secs) * 1000,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1",
    }))
    .into_response()
}

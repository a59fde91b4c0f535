//! Incoming provider webhooks (`POST /webhooks/{provider}`), outside API-key auth: the
//! provider's signature is the credential.
//!
//! HubSpot (https://developers.hubspot.com/docs/api/webhooks/validating-requests) signs
//! `method + URI + body + timestamp` with the app's client secret (v3). The URI is the one
//! HubSpot called, so renkei rebuilds it from `public_url` and the request's path and query.
//! A verified delivery is answered at once (HubSpot retries slow or failed deliveries) and its
//! contact events become `sync_records` jobs for every tenant connected to that portal.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_connectors::Provider;
use renkei_connectors::hubspot::webhooks;
use renkei_connectors::people::PersonObject;
use renkei_core::Millis;
use renkei_engine::sync::SyncRecordsJob;
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::PathParams;
use crate::routes::connections::provider;

pub async fn receive(
    State(state): State<AppState>,
    PathParams(p): PathParams<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = provider(&p)?;
    if p != Provider::Hubspot {
        return Err(ApiError::not_found(
            "webhooks_unsupported",
            format!("renkei receives no webhooks from {}", p.as_str()),
        ));
    }
    let Some(client) = state
        .vault
        .connectors()
        .registry
        .endpoints(p)
        .client
        .clone()
    else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks_not_configured",
            "no HubSpot app is configured, so no signature can be checked",
        ));
    };
    let full_uri = format!(
        "{}{}",
        state.public_url.trim_end_matches('/'),
        uri.path_and_query().map_or(uri.path(), |pq| pq.as_str())
    );
    webhooks::verify_v3_request(
        client.client_secret.expose(),
        "POST",
        &full_uri,
        &headers,
        &body,
        Millis::now(),
    )
    .map_err(|e| {
        tracing::warn!(code = e.code(), "HubSpot webhook refused");
        ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string())
    })?;
    let events = webhooks::parse_events(&body)
        .map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
    let mut by_portal: BTreeMap<String, Vec<webhooks::WebhookEvent>> = BTreeMap::new();
    for e in events {
        by_portal.entry(e.portal_id.clone()).or_default().push(e);
    }
    let mut jobs = 0;
    for (portal, events) in by_portal {
        let changes = webhooks::contact_changes(&events);
        if changes.changed.is_empty() && changes.deleted.is_empty() {
            continue;
        }
        for conn in state
            .store
            .connections_by_account(p.as_str(), &portal)
            .await?
        {
            state
                .sync
                .enqueue_records(SyncRecordsJob {
                    tenant: conn.tenant_id.clone(),
                    provider: p.as_str().to_owned(),
                    object: PersonObject::Contact,
                    changed: changes.changed.clone(),
                    deleted: changes.deleted.clone(),
                })
                .await?;
            jobs += 1;
        }
    }
    if jobs > 0 {
        state.wake.notify();
    }
    Ok((StatusCode::OK, axum::Json(json!({"accepted": true}))).into_response())
}

//! The HTTP routes, by resource.

use axum::Router;
use axum::routing::{get, post, put};

use crate::app::AppState;

pub mod actions;
pub mod connect;
pub mod connections;
pub mod deliveries;
pub mod events;
pub mod ops;
pub mod people;
pub mod schema;
pub mod tenants;
pub mod webhooks;

/// Unauthenticated operational routes.
pub fn ops() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(crate::telemetry::render))
        .route("/openapi.json", get(ops::openapi))
}

/// The browser side of the connect flow; no API key (the link's token is the credential).
pub fn connect() -> Router<AppState> {
    Router::new()
        .route("/connect/{token}", get(connect::page).post(connect::start))
        .route("/oauth/callback", get(connect::callback))
}

/// Provider webhooks; no API key (the provider's signature is checked instead).
pub fn webhooks() -> Router<AppState> {
    Router::new().route(
        "/webhooks/{provider}",
        axum::routing::post(webhooks::receive),
    )
}

/// The `/v1` API; the caller adds authentication.
pub fn v1() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/tenants/{tenant}",
            put(tenants::put_tenant).get(tenants::get_tenant),
        )
        .route("/v1/tenants/{tenant}/members", get(tenants::list_members))
        .route(
            "/v1/tenants/{tenant}/members/{member}",
            put(tenants::put_member)
                .get(tenants::get_member)
                .delete(tenants::delete_member),
        )
        .route(
            "/v1/tenants/{tenant}/events",
            axum::routing::post(events::post_events),
        )
        .route(
            "/v1/tenants/{tenant}/events/{event}",
            get(events::get_event),
        )
        .route(
            "/v1/tenants/{tenant}/deliveries",
            get(deliveries::list_deliveries),
        )
        .route(
            "/v1/tenants/{tenant}/deliveries/{id}",
            get(deliveries::get_delivery),
        )
        .route(
            "/v1/tenants/{tenant}/deliveries/{id}/retry",
            axum::routing::post(deliveries::retry_delivery),
        )
        .route("/v1/providers", get(connections::list_providers))
        .route(
            "/v1/tenants/{tenant}/connect-sessions",
            axum::routing::post(connections::create_connect_session),
        )
        .route(
            "/v1/tenants/{tenant}/connections",
            get(connections::list_connections),
        )
        .route(
            "/v1/tenants/{tenant}/connections/{provider}",
            get(connections::get_connection)
                .put(connections::put_connection)
                .delete(connections::delete_connection),
        )
        .route(
            "/v1/tenants/{tenant}/connections/{provider}/users",
            get(connections::list_users),
        )
        .route(
            "/v1/tenants/{tenant}/members/{member}/connections/{provider}",
            get(connections::get_member_connection)
                .put(connections::put_member_connection)
                .delete(connections::delete_member_connection),
        )
        .route(
            "/v1/tenants/{tenant}/user-mappings/{member}",
            put(connections::put_user_mappings).get(connections::get_user_mappings),
        )
        .route("/v1/tenants/{tenant}/health", get(connections::get_health))
        .route(
            "/v1/tenants/{tenant}/connections/{provider}/settings",
            get(people::get_settings).put(people::put_settings),
        )
        .route(
            "/v1/tenants/{tenant}/connections/{provider}/sync-runs",
            get(people::list_sync_runs).post(people::post_sync_run),
        )
        .route(
            "/v1/tenants/{tenant}/connections/{provider}/sync-runs/{id}",
            get(people::get_sync_run),
        )
        .route("/v1/tenants/{tenant}/people", get(people::list_people))
        .route("/v1/tenants/{tenant}/people/{id}", get(people::get_person))
        .route("/v1/tenants/{tenant}/changes", get(people::list_changes))
        .route(
            "/v1/tenants/{tenant}/connections/{provider}/objects",
            get(schema::list_objects),
        )
        .route(
            "/v1/tenants/{tenant}/connections/{provider}/objects/{object}/fields",
            get(schema::list_fields),
        )
        .route(
            "/v1/tenants/{tenant}/connections/{provider}/objects/{object}/records",
            get(schema::list_records),
        )
        .route(
            "/v1/tenants/{tenant}/actions/{action}",
            post(actions::run_action),
        )
}

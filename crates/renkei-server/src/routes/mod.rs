//! The HTTP routes, by resource.

use axum::Router;
use axum::routing::{get, put};

use crate::app::AppState;

pub mod events;
pub mod ops;
pub mod tenants;

/// Unauthenticated operational routes.
pub fn ops() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(crate::telemetry::render))
        .route("/openapi.json", get(ops::openapi))
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
}

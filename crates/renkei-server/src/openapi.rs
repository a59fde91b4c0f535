//! The OpenAPI document, generated from the handlers' annotations.
//!
//! `openapi.json` at the repository root is this document, committed; a test fails when the
//! two differ, and `RENKEI_UPDATE_OPENAPI=1 cargo test -p renkei-server openapi` rewrites it.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{actions, connections, deliveries, events, ops, people, schema, tenants};

#[derive(OpenApi)]
#[openapi(
    info(title = "renkei", description = "A self-hosted CRM integration engine."),
    paths(
        ops::healthz, ops::readyz,
        tenants::put_tenant, tenants::get_tenant,
        tenants::list_members, tenants::put_member, tenants::get_member, tenants::delete_member,
        events::post_events, events::get_event,
        deliveries::list_deliveries, deliveries::get_delivery, deliveries::retry_delivery,
        connections::list_providers, connections::create_connect_session,
        connections::list_connections, connections::get_connection, connections::put_connection,
        connections::delete_connection, connections::get_member_connection,
        connections::put_member_connection, connections::delete_member_connection,
        connections::list_users, connections::put_user_mappings, connections::get_user_mappings,
        connections::get_health,
        people::get_settings, people::put_settings, people::post_sync_run,
        people::list_sync_runs, people::get_sync_run, people::list_people, people::get_person,
        people::list_changes,
        schema::list_objects, schema::list_fields, schema::list_records,
        actions::run_action,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&Security),
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("rk_…")
                    .build(),
            ),
        );
    }
}

/// The document as JSON. The version is pinned so that the committed file does not change
/// with every release bump.
pub fn document() -> serde_json::Value {
    let mut doc = ApiDoc::openapi();
    doc.info.version = "1".into();
    serde_json::to_value(&doc).unwrap_or_default()
}

/// The document as it is committed: pretty-printed with a final newline.
pub fn document_text() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}

//! Schema discovery: a connection's objects and an object's fields, in one vocabulary for
//! every CRM (`renkei_engine::schema`), for settings screens and for checking action inputs.

use axum::Json;
use axum::extract::State;
use renkei_connectors::ConnectorError;
use renkei_connectors::records::{FieldKind, FieldMeta, ObjectMeta};
use renkei_engine::schema;
use renkei_engine::vault::VaultError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{PathParams, QueryParams};
use crate::routes::connections::{existing_tenant, provider, vault_error};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaQuery {
    /// `true` asks the provider again instead of using the cached answer.
    pub refresh: Option<String>,
}

fn refresh_param(q: &SchemaQuery) -> Result<bool, ApiError> {
    match q.refresh.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "invalid_refresh",
            format!("refresh must be true or false, not {other:?}"),
        )),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectView {
    /// The API name to use in the other endpoints (`Lead`, `Project__c`; `contacts`, `2-1234`;
    /// `Leads`, `Custom_Module1`).
    pub name: String,
    /// In the CRM account's language where the provider gives labels (HubSpot's standard
    /// objects carry English ones: its API has none).
    pub label: String,
    pub plural_label: String,
    /// Made by the CRM's admin (Salesforce custom object, HubSpot custom object, Zoho custom
    /// module).
    pub custom: bool,
    /// Whether the connection may create records of it.
    pub creatable: bool,
}

impl From<ObjectMeta> for ObjectView {
    fn from(o: ObjectMeta) -> Self {
        Self {
            name: o.name,
            label: o.label,
            plural_label: o.plural_label,
            custom: o.custom,
            creatable: o.creatable,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectsView {
    pub provider: String,
    pub objects: Vec<ObjectView>,
    /// When the provider gave this answer (RFC 3339).
    pub fetched_at: String,
    /// True when it came from renkei's cache (at most an hour old) rather than the provider.
    pub cached: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OptionView {
    pub value: String,
    pub label: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldView {
    /// The API name, as action inputs and settings name it.
    pub name: String,
    pub label: String,
    /// renkei's type: `text`, `long_text`, `url`, `email`, `phone`, `number`, `bool`, `date`,
    /// `date_time`, `picklist`, `reference`, `other`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: FieldKind,
    /// The provider's own type (`string`, `textarea`, `enumeration/select`, `lookup`, …).
    pub provider_type: String,
    /// A create must give it.
    pub required: bool,
    /// The connection cannot write it (formula, system or profile read-only field).
    pub read_only: bool,
    /// A picklist's active options.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionView>,
    /// A lookup's target objects (`users` for a Zoho owner, `owners` for HubSpot's owner).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

impl From<FieldMeta> for FieldView {
    fn from(f: FieldMeta) -> Self {
        Self {
            name: f.name,
            label: f.label,
            kind: f.kind,
            provider_type: f.provider_type,
            required: f.required,
            read_only: !f.writable,
            options: f
                .options
                .into_iter()
                .map(|(value, label)| OptionView { value, label })
                .collect(),
            references: f.references,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldsView {
    pub provider: String,
    pub object: String,
    pub fields: Vec<FieldView>,
    /// When the provider gave this answer (RFC 3339).
    pub fetched_at: String,
    /// True when it came from renkei's cache (at most an hour old) rather than the provider.
    pub cached: bool,
}

/// An object the provider does not know is 404 `object_not_found`; a name no provider could
/// have (`Invalid` naming the object) is 422. Everything else is a connection's error.
fn schema_error(e: VaultError, object: &str) -> ApiError {
    match e {
        VaultError::Connector(ConnectorError::NotFound { .. }) => ApiError::not_found(
            "object_not_found",
            format!("the CRM has no object {object:?}"),
        ),
        other => vault_error(other),
    }
}

/// The objects of the tenant's connection to a CRM: sObjects (Salesforce describe global),
/// object types (HubSpot's standard objects and the account's custom object schemas), modules
/// (Zoho CRM module metadata). Cached for an hour; `refresh=true` asks again.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/connections/{provider}/objects", tag = "schema",
    params(("tenant" = String, Path), ("provider" = String, Path),
        ("refresh" = Option<bool>, Query)),
    responses((status = 200, body = ObjectsView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_objects(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p)): PathParams<(String, String)>,
    QueryParams(q): QueryParams<SchemaQuery>,
) -> Result<Json<ObjectsView>, ApiError> {
    let t = existing_tenant(&state, &caller, &tenant).await?;
    let p = provider(&p)?;
    let refresh = refresh_param(&q)?;
    let d = schema::objects(&state.vault, &t.id, p, refresh)
        .await
        .map_err(vault_error)?;
    Ok(Json(ObjectsView {
        provider: p.as_str().to_owned(),
        objects: d.items.into_iter().map(ObjectView::from).collect(),
        fetched_at: d.fetched_at.to_rfc3339(),
        cached: d.cached,
    }))
}

/// An object's fields: name, label, renkei's type and the provider's, required, read-only,
/// picklist options and lookup targets, from Salesforce describe, HubSpot properties or Zoho
/// field metadata. Cached for an hour; `refresh=true` asks again.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/connections/{provider}/objects/{object}/fields",
    tag = "schema",
    params(("tenant" = String, Path), ("provider" = String, Path), ("object" = String, Path),
        ("refresh" = Option<bool>, Query)),
    responses((status = 200, body = FieldsView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 502, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_fields(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p, object)): PathParams<(String, String, String)>,
    QueryParams(q): QueryParams<SchemaQuery>,
) -> Result<Json<FieldsView>, ApiError> {
    let t = existing_tenant(&state, &caller, &tenant).await?;
    let p = provider(&p)?;
    let refresh = refresh_param(&q)?;
    let d = schema::fields(&state.vault, &t.id, p, &object, refresh)
        .await
        .map_err(|e| schema_error(e, &object))?;
    Ok(Json(FieldsView {
        provider: p.as_str().to_owned(),
        object,
        fields: d.items.into_iter().map(FieldView::from).collect(),
        fetched_at: d.fetched_at.to_rfc3339(),
        cached: d.cached,
    }))
}

//! Schema discovery: a connection's objects and an object's fields, in one vocabulary for
//! every CRM (`renkei_engine::schema`), for settings screens and for checking action inputs;
//! and record pickers, a live search of one object's records.

use axum::Json;
use axum::extract::State;
use renkei_connectors::ConnectorError;
use renkei_connectors::records::{
    FieldKind, FieldMeta, FoundRecord, ObjectMeta, RECORD_QUERY_MAX, RecordQuery, RecordRef,
    Relation,
};
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

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordsQuery {
    /// Text the record's name contains (Salesforce, HubSpot) or that a Zoho record matches.
    pub q: Option<String>,
    /// 1 to 200; 20 when absent.
    pub limit: Option<String>,
    /// `{object}:{id}`: only records related to that one (`Account:001…` for an account's
    /// contacts or opportunities, `companies:123` on HubSpot, `Accounts:4876…` on Zoho CRM).
    pub related_to: Option<String>,
}

/// How many records a picker search answers when the caller does not say.
const DEFAULT_RECORDS: usize = 20;

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub id: String,
    /// What the CRM shows as the record's name.
    pub name: String,
    /// A few more fields for the picker to show (email, website, stage, amount, the account
    /// id), by their API names, as the CRM gave them.
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl From<FoundRecord> for RecordView {
    fn from(r: FoundRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            fields: r.fields,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordsView {
    pub provider: String,
    pub object: String,
    pub records: Vec<RecordView>,
}

fn limit_param(q: &RecordsQuery) -> Result<usize, ApiError> {
    let Some(raw) = q.limit.as_deref() else {
        return Ok(DEFAULT_RECORDS);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=RECORD_QUERY_MAX).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be a whole number from 1 to {RECORD_QUERY_MAX}, not {raw:?}"),
        )),
    }
}

fn related_param(q: &RecordsQuery) -> Result<Option<RecordRef>, ApiError> {
    let Some(raw) = q.related_to.as_deref() else {
        return Ok(None);
    };
    match raw.split_once(':') {
        Some((object, id)) if !object.trim().is_empty() && !id.trim().is_empty() => {
            Ok(Some(RecordRef::new(object.trim(), id.trim())))
        }
        _ => Err(ApiError::bad_request(
            "invalid_related_to",
            format!("related_to must be {{object}}:{{id}} (Account:0015g00000ABCDE), not {raw:?}"),
        )),
    }
}

/// A record picker: a live search of an object's records by name and/or relation, for choosing
/// a deal to link a room to, an account, or the contacts of the deal's company as room guests
/// (`related_to=Account:…`). Salesforce is searched with SOQL, HubSpot with its search API,
/// Zoho CRM with its search API; nothing is cached.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/connections/{provider}/objects/{object}/records",
    tag = "schema",
    params(("tenant" = String, Path), ("provider" = String, Path), ("object" = String, Path),
        ("q" = Option<String>, Query), ("limit" = Option<u32>, Query),
        ("related_to" = Option<String>, Query)),
    responses((status = 200, body = RecordsView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 502, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_records(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, p, object)): PathParams<(String, String, String)>,
    QueryParams(q): QueryParams<RecordsQuery>,
) -> Result<Json<RecordsView>, ApiError> {
    let t = existing_tenant(&state, &caller, &tenant).await?;
    let p = provider(&p)?;
    let limit = limit_param(&q)?;
    let related = related_param(&q)?;
    let fields = schema::fields(&state.vault, &t.id, p, &object, false)
        .await
        .map_err(|e| schema_error(e, &object))?
        .items;
    if let Some(r) = &related
        && !schema::can_relate(p, &fields, &r.object)
    {
        return Err(ApiError::bad_request(
            "invalid_related_to",
            format!(
                "{object} has no lookup field to {}: see …/objects/{object}/fields for its \
                 references",
                r.object
            ),
        ));
    }
    let query = RecordQuery {
        object: object.clone(),
        text: q.q.clone(),
        related: related.map(|record| Relation {
            field: None,
            record,
        }),
        limit,
    };
    let found = schema::records(&state.vault, &t.id, p, query, &fields)
        .await
        .map_err(|e| schema_error(e, &object))?;
    Ok(Json(RecordsView {
        provider: p.as_str().to_owned(),
        object,
        records: found.into_iter().map(RecordView::from).collect(),
    }))
}

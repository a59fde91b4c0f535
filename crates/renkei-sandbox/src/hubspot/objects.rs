//! The CRM v3 object endpoints (`/crm/v3/objects/{objectType}`): list with cursor paging,
//! read (also by `idProperty`), create (with `associations`), update, archive, and the batch
//! read/create/update/upsert/archive endpoints.
//!
//! Behaviour follows HubSpot's CRM object docs and OpenAPI files: `limit` at most 100 on
//! lists, batches of at most 100 inputs, `paging.next.after` as an opaque cursor with a `link`,
//! 404 with an empty body for a read of an unknown id, 204 for archive (also of an unknown
//! id), a 409 `CONFLICT` "Contact already exists. Existing ID: N" for a duplicate contact
//! email, and 207 with `errors` when some batch inputs name records that do not exist. Batch
//! create and update validate every input before writing any, as HubSpot does ("Property
//! values were not valid" fails the whole batch).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::Ctx;
use super::errors::{HsError, HsJson, decode};
use super::props::{Invalid, invalid_error, normalise};
use super::store::{ALL_TYPES, ObjType, Portal, Record};
use super::webhooks::{Event, EventKind};
use super::{Hubspot, assoc, batch_body};
use crate::http::BaseUrl;

pub fn object(ty: &str) -> Result<ObjType, HsError> {
    ObjType::parse(ty)
        .ok_or_else(|| HsError::validation(format!("Unable to infer object type from: {ty}")))
}

/// Query parameters as pairs: HubSpot's SDKs repeat `properties=` once per name, others send
/// one comma-separated value; both are accepted.
type Pairs = Vec<(String, String)>;

fn multi(q: &Pairs, key: &str) -> Option<Vec<String>> {
    let v: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (!v.is_empty()).then_some(v)
}

fn single<'a>(q: &'a Pairs, key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn assoc_types(names: Option<Vec<String>>) -> Vec<ObjType> {
    names
        .unwrap_or_default()
        .iter()
        .filter_map(|n| ObjType::parse(n))
        .collect()
}

/// A record as answered, with `associations` for the requested types that have any.
pub fn record_json(
    p: &Portal,
    ty: ObjType,
    rec: &Record,
    props: Option<&[String]>,
    assocs: &[ObjType],
) -> Value {
    let mut m = p.table(ty).to_json(rec, props);
    let mut a = Map::new();
    for to in assocs {
        let mut results = Vec::new();
        for (other, types) in p.associations(ty, rec.id, *to) {
            for t in types {
                results.push(json!({"id": other.to_string(), "type": assoc::v3_name(ty, *to, *t)}));
            }
        }
        if !results.is_empty() {
            a.insert(to.name().to_owned(), json!({ "results": results }));
        }
    }
    if !a.is_empty() {
        m.insert("associations".into(), Value::Object(a));
    }
    Value::Object(m)
}

/// `GET /crm/v3/objects/{ty}`.
pub async fn list(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    base: BaseUrl,
    Path(ty): Path<String>,
    Query(q): Query<Pairs>,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let limit = match single(&q, "limit") {
        None => 10,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                HsError::validation(format!("limit must be between 1 and 100, got {l}"))
            })?,
    };
    let after = match single(&q, "after") {
        None | Some("") => 0,
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| HsError::validation(format!("Invalid paging cursor after={a}")))?,
    };
    let archived = single(&q, "archived") == Some("true");
    let props = multi(&q, "properties");
    let assocs = assoc_types(multi(&q, "associations"));
    let state = hs.read();
    let p = state.portal(ctx.portal);
    let table = p.table(ty);
    let mut results = Vec::with_capacity(limit);
    let mut next = None;
    for rec in table
        .records
        .range(after..)
        .map(|(_, r)| r)
        .filter(|r| r.archived_ms.is_some() == archived)
    {
        if results.len() == limit {
            next = Some(rec.id);
            break;
        }
        results.push(record_json(p, ty, rec, props.as_deref(), &assocs));
    }
    let mut body = json!({ "results": results });
    if let Some(n) = next {
        let mut link = format!("/crm/v3/objects/{}?after={n}&limit={limit}", ty.name());
        if archived {
            link.push_str("&archived=true");
        }
        body["paging"] = json!({"next": {"after": n.to_string(), "link": base.join(&link)}});
    }
    Ok(axum::Json(body).into_response())
}

/// Finds a record by id or by a unique property (`idProperty`); live records only unless
/// `archived`.
fn find(
    p: &Portal,
    ty: ObjType,
    key: &str,
    id_property: Option<&str>,
    archived: bool,
) -> Option<u64> {
    let table = p.table(ty);
    let id = match id_property {
        None | Some("hs_object_id") => key.parse::<u64>().ok()?,
        Some("email") if ty == ObjType::Contacts => *table.by_email.get(&key.to_lowercase())?,
        Some(prop) => {
            let (idx, def) = table.prop(prop)?;
            if !def.unique {
                return None;
            }
            table
                .records
                .values()
                .find(|r| r.get(idx) == Some(key) && r.archived_ms.is_none())?
                .id
        }
    };
    table
        .records
        .get(&id)
        .filter(|r| r.archived_ms.is_some() == archived)
        .map(|r| r.id)
}

fn check_id_property(p: &Portal, ty: ObjType, id_property: Option<&str>) -> Result<(), HsError> {
    match id_property {
        None | Some("hs_object_id") => Ok(()),
        Some("email") if ty == ObjType::Contacts => Ok(()),
        Some(prop) => match p.table(ty).prop(prop) {
            Some((_, d)) if d.unique => Ok(()),
            _ => Err(HsError::validation(format!(
                "{prop} is not a unique identifier property of {}",
                ty.name()
            ))),
        },
    }
}

/// `GET /crm/v3/objects/{ty}/{id}`. An unknown id answers 404 with an empty body, as HubSpot's
/// v3 read does.
pub async fn read(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, id)): Path<(String, String)>,
    Query(q): Query<Pairs>,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let id_property = single(&q, "idProperty");
    let archived = single(&q, "archived") == Some("true");
    let props = multi(&q, "properties");
    let assocs = assoc_types(multi(&q, "associations"));
    let state = hs.read();
    let p = state.portal(ctx.portal);
    check_id_property(p, ty, id_property)?;
    match find(p, ty, &id, id_property, archived) {
        Some(found) => {
            let rec = &p.table(ty).records[&found];
            Ok(axum::Json(record_json(p, ty, rec, props.as_deref(), &assocs)).into_response())
        }
        None => Ok(StatusCode::NOT_FOUND.into_response()),
    }
}

/// Validated values ready to write: `(property index, name, stored value)`, plus a creation
/// date given by the caller.
pub struct Values {
    pub set: Vec<(u16, String, String)>,
    pub created_ms: Option<i64>,
}

/// Validates `props` for a write to `ty`.
pub fn validate(
    p: &Portal,
    ty: ObjType,
    props: &Map<String, Value>,
    creating: bool,
) -> Result<Values, Vec<Invalid>> {
    let table = p.table(ty);
    let owners = p.active_owner_ids();
    let mut set = Vec::with_capacity(props.len());
    let mut bad = Vec::new();
    let mut created_ms = None;
    for (name, raw) in props {
        match normalise(table, name, raw, &owners, creating) {
            Ok(v) if name == ty.created_prop() => {
                created_ms = super::props::parse_time(&v);
            }
            Ok(v) => {
                if let Some((i, _)) = table.prop(name) {
                    set.push((i, name.clone(), v));
                }
            }
            Err(e) => bad.push(e),
        }
    }
    // Every engagement needs the time it happened: "hs_timestamp: Required. This field marks
    // the … time" (https://developers.hubspot.com/docs/api/crm/calls, and the same line in the
    // notes, tasks, emails and meetings guides). HubSpot refuses a create without it in the
    // "Property values were not valid" list, naming the property.
    let has_timestamp = props
        .get("hs_timestamp")
        .is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
    if creating && ty.is_engagement() && !has_timestamp {
        bad.push(Invalid {
            name: "hs_timestamp".into(),
            error: "REQUIRED_FIELD",
            message: "hs_timestamp is required".into(),
        });
    }
    if bad.is_empty() {
        Ok(Values { set, created_ms })
    } else {
        Err(bad)
    }
}

fn conflict(existing: u64) -> HsError {
    HsError::new(
        StatusCode::CONFLICT,
        "CONFLICT",
        format!("Contact already exists. Existing ID: {existing}"),
    )
}

/// The email a write would give a contact, if it sets one.
fn new_email(p: &Portal, ty: ObjType, v: &Values) -> Option<String> {
    let idx = p.table(ty).email_idx()?;
    v.set
        .iter()
        .find(|(i, _, _)| *i == idx)
        .map(|(_, _, val)| val.to_lowercase())
        .filter(|e| !e.is_empty())
}

/// Creates a record from validated values. Contacts must have a unique email.
pub fn insert(
    p: &mut Portal,
    ty: ObjType,
    v: Values,
    now: i64,
    events: &mut Vec<Event>,
) -> Result<u64, HsError> {
    let email = new_email(p, ty, &v);
    if let Some(e) = &email
        && let Some(&existing) = p.table(ty).by_email.get(e)
    {
        return Err(conflict(existing));
    }
    let id = p.new_id();
    let mut rec = Record {
        id,
        created_ms: v.created_ms.unwrap_or(now),
        updated_ms: now,
        archived_ms: None,
        values: Vec::with_capacity(v.set.len()),
    };
    for (i, _, val) in &v.set {
        rec.set(*i, val);
    }
    let table = p.table_mut(ty);
    if let Some(e) = email {
        table.by_email.insert(e, id);
    }
    table.records.insert(id, rec);
    table.live += 1;
    events.push(Event::new(ty, EventKind::Creation, id, None));
    Ok(id)
}

/// Applies validated values to an existing live record.
pub fn apply(
    p: &mut Portal,
    ty: ObjType,
    id: u64,
    v: Values,
    now: i64,
    events: &mut Vec<Event>,
) -> Result<(), HsError> {
    let email = new_email(p, ty, &v);
    if let Some(e) = &email
        && let Some(&existing) = p.table(ty).by_email.get(e)
        && existing != id
    {
        return Err(conflict(existing));
    }
    let email_idx = p.table(ty).email_idx();
    let table = p.table_mut(ty);
    let Some(rec) = table.records.get_mut(&id) else {
        return Err(HsError::not_found("resource not found"));
    };
    let mut old_email = None;
    let mut changed = false;
    for (i, name, val) in &v.set {
        let before = rec.get(*i).map(str::to_owned);
        if before.as_deref().unwrap_or("") == val.as_str() {
            continue;
        }
        rec.set(*i, val);
        changed = true;
        if Some(*i) == email_idx {
            old_email = before;
        }
        events.push(Event::new(
            ty,
            EventKind::PropertyChange,
            id,
            Some((name.clone(), val.clone())),
        ));
    }
    if changed {
        rec.updated_ms = now;
    }
    if let Some(old) = old_email {
        table.by_email.remove(&old.to_lowercase());
    }
    if email_idx.is_some()
        && v.set
            .iter()
            .any(|(i, _, val)| Some(*i) == email_idx && val.is_empty())
    {
        table.by_email.retain(|_, rid| *rid != id);
    }
    if let Some(e) = email {
        table.by_email.insert(e, id);
    }
    Ok(())
}

/// Archives a live record and its associations; false if there was none.
pub fn remove(p: &mut Portal, ty: ObjType, id: u64, now: i64, events: &mut Vec<Event>) -> bool {
    let table = p.table_mut(ty);
    let Some(rec) = table
        .records
        .get_mut(&id)
        .filter(|r| r.archived_ms.is_none())
    else {
        return false;
    };
    rec.archived_ms = Some(now);
    rec.updated_ms = now;
    table.live -= 1;
    table.by_email.retain(|_, rid| *rid != id);
    p.drop_associations(ty, id);
    events.push(Event::new(ty, EventKind::Deletion, id, None));
    true
}

#[derive(Deserialize)]
struct AssocTo {
    id: String,
}

#[derive(Deserialize)]
struct AssocIn {
    to: AssocTo,
    types: Vec<assoc::TypeIn>,
}

#[derive(Deserialize)]
struct CreateIn {
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    associations: Vec<AssocIn>,
}

fn props_of(v: &Map<String, Value>) -> &Map<String, Value> {
    v
}

/// Checks a create's associations: each target must exist, each type must fit. Answers the
/// pairs to add once the record exists.
fn check_assocs(
    p: &Portal,
    ty: ObjType,
    list: &[AssocIn],
) -> Result<Vec<(ObjType, u64, u16)>, HsError> {
    let mut out = Vec::new();
    for a in list {
        let to_id: u64 = a.to.id.parse().map_err(|_| {
            HsError::validation(format!("Invalid association target id {}", a.to.id))
        })?;
        // The target's type follows from the association type ids.
        let mut found = None;
        for t in &a.types {
            let tid = u16::try_from(t.association_type_id).unwrap_or(0);
            let to = ALL_TYPES
                .into_iter()
                .find(|to| assoc::lookup(ty, *to, tid).is_some())
                .ok_or_else(|| {
                    HsError::validation(format!(
                        "{} {} is not a valid association type from {}",
                        t.association_category,
                        t.association_type_id,
                        ty.name()
                    ))
                })?;
            assoc::check_types(ty, to, std::slice::from_ref(t))?;
            found = Some(to);
            out.push((to, to_id, tid));
        }
        match found {
            Some(to) if !p.live(to, to_id) => {
                return Err(HsError::validation(format!(
                    "{} {to_id} does not exist; an association needs an existing record",
                    to.singular()
                )));
            }
            None => {
                return Err(HsError::validation(
                    "an association needs at least one type",
                ));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// `POST /crm/v3/objects/{ty}`: 201 with the record.
pub async fn create(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path(ty): Path<String>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let input: CreateIn = decode(body)?;
    let now = hs.env.clock.now_ms();
    let mut events = Vec::new();
    let out = {
        let mut state = hs.write();
        let p = state.portal_mut(ctx.portal);
        let values = validate(p, ty, props_of(&input.properties), true)
            .map_err(|bad| invalid_error(&bad))?;
        let links = check_assocs(p, ty, &input.associations)?;
        let id = insert(p, ty, values, now, &mut events)?;
        for (to, to_id, t) in links {
            p.associate((ty, id), (to, to_id), t);
        }
        let names: Vec<String> = input.properties.keys().cloned().collect();
        let wanted = with_defaults(ty, &names);
        let rec = &p.table(ty).records[&id];
        record_json(p, ty, rec, Some(&wanted), &[])
    };
    hs.webhooks.dispatch(&hs, ctx.hub_id, events);
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

/// A write answers the properties it set plus the object's defaults.
fn with_defaults(ty: ObjType, names: &[String]) -> Vec<String> {
    let mut v: Vec<String> = ty.default_props().iter().map(|s| (*s).to_owned()).collect();
    for n in names {
        if !v.contains(n) {
            v.push(n.clone());
        }
    }
    v
}

#[derive(Deserialize)]
struct UpdateIn {
    properties: Map<String, Value>,
}

/// `PATCH /crm/v3/objects/{ty}/{id}`.
pub async fn update(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, id)): Path<(String, String)>,
    Query(q): Query<Pairs>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let input: UpdateIn = decode(body)?;
    let id_property = single(&q, "idProperty");
    let now = hs.env.clock.now_ms();
    let mut events = Vec::new();
    let out = {
        let mut state = hs.write();
        let p = state.portal_mut(ctx.portal);
        check_id_property(p, ty, id_property)?;
        let found = find(p, ty, &id, id_property, false)
            .ok_or_else(|| HsError::not_found("resource not found"))?;
        let values =
            validate(p, ty, &input.properties, false).map_err(|bad| invalid_error(&bad))?;
        apply(p, ty, found, values, now, &mut events)?;
        let names: Vec<String> = input.properties.keys().cloned().collect();
        let wanted = with_defaults(ty, &names);
        record_json(p, ty, &p.table(ty).records[&found], Some(&wanted), &[])
    };
    hs.webhooks.dispatch(&hs, ctx.hub_id, events);
    Ok(axum::Json(out).into_response())
}

/// `DELETE /crm/v3/objects/{ty}/{id}`: 204, whether or not the record existed.
pub async fn archive(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, id)): Path<(String, String)>,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let now = hs.env.clock.now_ms();
    let mut events = Vec::new();
    if let Ok(id) = id.parse::<u64>() {
        remove(hs.write().portal_mut(ctx.portal), ty, id, now, &mut events);
    }
    hs.webhooks.dispatch(&hs, ctx.hub_id, events);
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------
// Batch endpoints.

pub const BATCH_MAX: usize = 100;

fn check_batch(n: usize) -> Result<(), HsError> {
    if n > BATCH_MAX {
        return Err(HsError::validation(format!(
            "Batch input size {n} exceeds the limit of {BATCH_MAX} inputs"
        )));
    }
    Ok(())
}

fn not_found_error(ty: ObjType, ids: Vec<String>) -> Value {
    json!({
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": format!("Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.", ty.upper()),
        "context": {"ids": ids},
    })
}

fn respond(ok: StatusCode, body: Value) -> Response {
    let status = if body.get("errors").is_some() {
        StatusCode::MULTI_STATUS
    } else {
        ok
    };
    (status, axum::Json(body)).into_response()
}

#[derive(Deserialize)]
struct IdIn {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchRead {
    inputs: Vec<IdIn>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    properties_with_history: Vec<String>,
    #[serde(default)]
    id_property: Option<String>,
}

/// `POST /crm/v3/objects/{ty}/batch/read`: 200, or 207 naming the ids not found.
pub async fn batch_read(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path(ty): Path<String>,
    Query(q): Query<Pairs>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let input: BatchRead = decode(body)?;
    check_batch(input.inputs.len())?;
    if !input.properties_with_history.is_empty() {
        // Refused rather than ignored: an answer without the history would look complete.
        return Err(HsError::validation(
            "propertiesWithHistory is not emulated by the sandbox (docs/sandbox/hubspot.md)",
        ));
    }
    let archived = single(&q, "archived") == Some("true");
    let started = hs.env.clock.now_ms();
    let state = hs.read();
    let p = state.portal(ctx.portal);
    let idp = input.id_property.as_deref();
    check_id_property(p, ty, idp)?;
    let props = (!input.properties.is_empty()).then_some(input.properties.as_slice());
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for i in &input.inputs {
        match find(p, ty, &i.id, idp, archived) {
            Some(id) => results.push(record_json(p, ty, &p.table(ty).records[&id], props, &[])),
            None => missing.push(i.id.clone()),
        }
    }
    let errors = if missing.is_empty() {
        vec![]
    } else {
        vec![not_found_error(ty, missing)]
    };
    Ok(respond(
        StatusCode::OK,
        batch_body(started, hs.env.clock.now_ms(), results, errors),
    ))
}

#[derive(Deserialize)]
struct BatchCreate {
    inputs: Vec<CreateIn>,
}

/// `POST /crm/v3/objects/{ty}/batch/create`: 201; all inputs are validated first and any
/// invalid one fails the whole batch.
pub async fn batch_create(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path(ty): Path<String>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let input: BatchCreate = decode(body)?;
    check_batch(input.inputs.len())?;
    let now = hs.env.clock.now_ms();
    let mut events = Vec::new();
    let body = {
        let mut state = hs.write();
        let p = state.portal_mut(ctx.portal);
        let mut prepared = Vec::with_capacity(input.inputs.len());
        let mut seen = std::collections::HashMap::new();
        for i in &input.inputs {
            let values = validate(p, ty, &i.properties, true).map_err(|bad| invalid_error(&bad))?;
            if let Some(e) = new_email(p, ty, &values) {
                if let Some(&existing) = p.table(ty).by_email.get(&e) {
                    return Err(conflict(existing));
                }
                if seen.insert(e.clone(), ()).is_some() {
                    return Err(HsError::validation(format!(
                        "Duplicate email {e} in the batch inputs"
                    )));
                }
            }
            let links = check_assocs(p, ty, &i.associations)?;
            prepared.push((
                values,
                links,
                i.properties.keys().cloned().collect::<Vec<_>>(),
            ));
        }
        let mut results = Vec::with_capacity(prepared.len());
        for (values, links, names) in prepared {
            let id = insert(p, ty, values, now, &mut events)?;
            for (to, to_id, t) in links {
                p.associate((ty, id), (to, to_id), t);
            }
            let wanted = with_defaults(ty, &names);
            results.push(record_json(
                p,
                ty,
                &p.table(ty).records[&id],
                Some(&wanted),
                &[],
            ));
        }
        batch_body(now, hs.env.clock.now_ms(), results, vec![])
    };
    hs.webhooks.dispatch(&hs, ctx.hub_id, events);
    Ok(respond(StatusCode::CREATED, body))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateItem {
    id: String,
    #[serde(default)]
    id_property: Option<String>,
    properties: Map<String, Value>,
}

#[derive(Deserialize)]
struct BatchUpdate {
    inputs: Vec<UpdateItem>,
}

/// `POST /crm/v3/objects/{ty}/batch/update`: 200, or 207 with the ids not found.
pub async fn batch_update(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path(ty): Path<String>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let input: BatchUpdate = decode(body)?;
    check_batch(input.inputs.len())?;
    let now = hs.env.clock.now_ms();
    let mut events = Vec::new();
    let body = {
        let mut state = hs.write();
        let p = state.portal_mut(ctx.portal);
        let mut prepared = Vec::new();
        let mut missing = Vec::new();
        for i in &input.inputs {
            check_id_property(p, ty, i.id_property.as_deref())?;
            let values =
                validate(p, ty, &i.properties, false).map_err(|bad| invalid_error(&bad))?;
            match find(p, ty, &i.id, i.id_property.as_deref(), false) {
                Some(id) => {
                    prepared.push((id, values, i.properties.keys().cloned().collect::<Vec<_>>()))
                }
                None => missing.push(i.id.clone()),
            }
        }
        let mut results = Vec::new();
        for (id, values, names) in prepared {
            apply(p, ty, id, values, now, &mut events)?;
            let wanted = with_defaults(ty, &names);
            results.push(record_json(
                p,
                ty,
                &p.table(ty).records[&id],
                Some(&wanted),
                &[],
            ));
        }
        let errors = if missing.is_empty() {
            vec![]
        } else {
            vec![not_found_error(ty, missing)]
        };
        batch_body(now, hs.env.clock.now_ms(), results, errors)
    };
    hs.webhooks.dispatch(&hs, ctx.hub_id, events);
    Ok(respond(StatusCode::OK, body))
}

/// `POST /crm/v3/objects/{ty}/batch/upsert`: each input names a record by a unique property
/// (`idProperty`, e.g. `email` for contacts); it is updated if it exists and created
/// otherwise (with the id property set). Results carry `new`.
pub async fn batch_upsert(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path(ty): Path<String>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let input: BatchUpdate = decode(body)?;
    check_batch(input.inputs.len())?;
    let now = hs.env.clock.now_ms();
    let mut events = Vec::new();
    let body = {
        let mut state = hs.write();
        let p = state.portal_mut(ctx.portal);
        let mut prepared = Vec::new();
        for i in &input.inputs {
            let idp = i.id_property.as_deref();
            check_id_property(p, ty, idp)?;
            let existing = find(p, ty, &i.id, idp, false);
            let mut props = i.properties.clone();
            if existing.is_none() {
                match idp {
                    Some(prop) if prop != "hs_object_id" => {
                        props.insert(prop.to_owned(), Value::String(i.id.clone()));
                    }
                    _ => {
                        return Err(HsError::validation(format!(
                            "No {} with id {} exists; upsert by record id can only update",
                            ty.singular(),
                            i.id
                        )));
                    }
                }
            }
            let values =
                validate(p, ty, &props, existing.is_none()).map_err(|bad| invalid_error(&bad))?;
            prepared.push((existing, values, props.keys().cloned().collect::<Vec<_>>()));
        }
        let mut results = Vec::new();
        for (existing, values, names) in prepared {
            let (id, new) = match existing {
                Some(id) => {
                    apply(p, ty, id, values, now, &mut events)?;
                    (id, false)
                }
                None => (insert(p, ty, values, now, &mut events)?, true),
            };
            let wanted = with_defaults(ty, &names);
            let mut r = record_json(p, ty, &p.table(ty).records[&id], Some(&wanted), &[]);
            r["new"] = json!(new);
            results.push(r);
        }
        batch_body(now, hs.env.clock.now_ms(), results, vec![])
    };
    hs.webhooks.dispatch(&hs, ctx.hub_id, events);
    Ok(respond(StatusCode::OK, body))
}

#[derive(Deserialize)]
struct BatchArchive {
    inputs: Vec<IdIn>,
}

/// `POST /crm/v3/objects/{ty}/batch/archive`: 204.
pub async fn batch_archive(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path(ty): Path<String>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let input: BatchArchive = decode(body)?;
    check_batch(input.inputs.len())?;
    let now = hs.env.clock.now_ms();
    let mut events = Vec::new();
    {
        let mut state = hs.write();
        let p = state.portal_mut(ctx.portal);
        for i in input.inputs {
            if let Ok(id) = i.id.parse::<u64>() {
                remove(p, ty, id, now, &mut events);
            }
        }
    }
    hs.webhooks.dispatch(&hs, ctx.hub_id, events);
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! Associations: HubSpot's default association type ids and the v4 Associations API
//! (`/crm/v4/objects/{type}/{id}/associations/...`, `/crm/v4/associations/{from}/{to}/...`).
//!
//! The type ids are HubSpot's documented defaults ("Associations v4", section "Association
//! type ID values"): e.g. contact→company 279 (unlabeled) and 1 (primary), company→contact
//! 280 and 2, deal→contact 3, contact→deal 4, deal→company 341 and 5, company→deal 342 and 6,
//! and one pair per engagement (note, task, email, meeting, call) and CRM object, the
//! engagement→object direction being the even id (call→contact 194, contact→call 193, note→deal
//! 214, deal→note 213; the same table as the `AssociationType` constants of HubSpot's official
//! clients, e.g. hubspot-api-ruby `lib/hubspot/helpers/association_type.rb`). Every
//! association is stored in both directions, the inverse with its own type id. Only
//! `HUBSPOT_DEFINED` types exist; custom labels (`USER_DEFINED`) are absent.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Ctx;
use super::errors::{HsError, HsJson, decode};
use super::store::{ObjType, Portal};
use super::{Hubspot, batch_body};

use ObjType::*;

/// `(from, to, type id, label, inverse type id)`. The first entry for a pair is its default.
const TYPES: &[(ObjType, ObjType, u16, Option<&str>, u16)] = &[
    (Contacts, Companies, 279, None, 280),
    (Contacts, Companies, 1, Some("Primary"), 2),
    (Companies, Contacts, 280, None, 279),
    (Companies, Contacts, 2, Some("Primary"), 1),
    (Deals, Contacts, 3, None, 4),
    (Contacts, Deals, 4, None, 3),
    (Deals, Companies, 341, None, 342),
    (Deals, Companies, 5, Some("Primary"), 6),
    (Companies, Deals, 342, None, 341),
    (Companies, Deals, 6, Some("Primary"), 5),
    (Contacts, Notes, 201, None, 202),
    (Notes, Contacts, 202, None, 201),
    (Companies, Notes, 189, None, 190),
    (Notes, Companies, 190, None, 189),
    (Deals, Notes, 213, None, 214),
    (Notes, Deals, 214, None, 213),
    (Contacts, Tasks, 203, None, 204),
    (Tasks, Contacts, 204, None, 203),
    (Companies, Tasks, 191, None, 192),
    (Tasks, Companies, 192, None, 191),
    (Deals, Tasks, 215, None, 216),
    (Tasks, Deals, 216, None, 215),
    (Contacts, Emails, 197, None, 198),
    (Emails, Contacts, 198, None, 197),
    (Companies, Emails, 185, None, 186),
    (Emails, Companies, 186, None, 185),
    (Deals, Emails, 209, None, 210),
    (Emails, Deals, 210, None, 209),
    (Contacts, Meetings, 199, None, 200),
    (Meetings, Contacts, 200, None, 199),
    (Companies, Meetings, 187, None, 188),
    (Meetings, Companies, 188, None, 187),
    (Deals, Meetings, 211, None, 212),
    (Meetings, Deals, 212, None, 211),
    (Contacts, Calls, 193, None, 194),
    (Calls, Contacts, 194, None, 193),
    (Companies, Calls, 181, None, 182),
    (Calls, Companies, 182, None, 181),
    (Deals, Calls, 205, None, 206),
    (Calls, Deals, 206, None, 205),
];

pub fn inverse(type_id: u16) -> Option<u16> {
    TYPES.iter().find(|t| t.2 == type_id).map(|t| t.4)
}

/// The type's entry if `type_id` goes from `from` to `to`.
pub fn lookup(from: ObjType, to: ObjType, type_id: u16) -> Option<Option<&'static str>> {
    TYPES
        .iter()
        .find(|t| t.0 == from && t.1 == to && t.2 == type_id)
        .map(|t| t.3)
}

/// The default (unlabeled) type from `from` to `to`.
pub fn default_type(from: ObjType, to: ObjType) -> Option<u16> {
    TYPES.iter().find(|t| t.0 == from && t.1 == to).map(|t| t.2)
}

/// The v3 name of an association type (`contact_to_company`, `contact_to_company_unlabeled`),
/// as v3 reads show it under `associations.{type}.results[].type`.
pub fn v3_name(from: ObjType, to: ObjType, type_id: u16) -> String {
    let base = format!("{}_to_{}", from.singular(), to.singular());
    // For the pairs that have a primary label, the primary keeps the plain name and the
    // unlabeled default gets the `_unlabeled` suffix.
    let has_primary = TYPES
        .iter()
        .any(|t| t.0 == from && t.1 == to && t.3.is_some());
    match lookup(from, to, type_id) {
        Some(None) if has_primary => format!("{base}_unlabeled"),
        _ => base,
    }
}

fn spec_json(from: ObjType, to: ObjType, type_id: u16) -> Value {
    json!({
        "category": "HUBSPOT_DEFINED",
        "typeId": type_id,
        "label": lookup(from, to, type_id).flatten(),
    })
}

fn object(ty: &str) -> Result<ObjType, HsError> {
    ObjType::parse(ty)
        .ok_or_else(|| HsError::validation(format!("Unable to infer object type from: {ty}")))
}

fn parse_id(s: &str) -> Result<u64, HsError> {
    s.parse()
        .map_err(|_| HsError::validation(format!("Invalid object id: {s}")))
}

/// A `types` entry of a create request.
#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TypeIn {
    pub association_category: String,
    pub association_type_id: i64,
}

/// Checks that every requested type goes from `from` to `to`.
pub fn check_types(from: ObjType, to: ObjType, types: &[TypeIn]) -> Result<Vec<u16>, HsError> {
    types
        .iter()
        .map(|t| {
            let id = u16::try_from(t.association_type_id).ok();
            match id {
                Some(id)
                    if t.association_category == "HUBSPOT_DEFINED"
                        && lookup(from, to, id).is_some() =>
                {
                    Ok(id)
                }
                _ => Err(HsError::validation(format!(
                    "{} {} is not a valid association type between {} and {}",
                    t.association_category,
                    t.association_type_id,
                    from.name(),
                    to.name()
                ))),
            }
        })
        .collect()
}

fn missing(ty: ObjType, id: u64) -> HsError {
    HsError::not_found(format!("No {} with ID {id} exists", ty.singular()))
}

fn multi_json(p: &Portal, ty: ObjType, id: u64, to: ObjType) -> Vec<Value> {
    p.associations(ty, id, to)
        .map(|(other, types)| {
            json!({
                "toObjectId": other,
                "associationTypes": types.iter().map(|t| spec_json(ty, to, *t)).collect::<Vec<_>>(),
            })
        })
        .collect()
}

#[derive(Deserialize)]
pub struct PageQuery {
    limit: Option<String>,
    after: Option<String>,
}

/// `GET /crm/v4/objects/{ty}/{id}/associations/{to}`: paged by the associated id.
pub async fn list(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    base: crate::http::BaseUrl,
    Path((ty, id, to)): Path<(String, String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Response, HsError> {
    let (ty, to, id) = (object(&ty)?, object(&to)?, parse_id(&id)?);
    let limit = match q.limit.as_deref() {
        None => 500,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| HsError::validation("limit must be between 1 and 500"))?,
    };
    let after: u64 = q.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
    let state = hs.read();
    let p = state.portal(ctx.portal);
    let mut results = Vec::new();
    let mut next = None;
    for (other, types) in p.associations(ty, id, to).filter(|(o, _)| *o >= after) {
        if results.len() == limit {
            next = Some(other);
            break;
        }
        results.push(json!({
            "toObjectId": other,
            "associationTypes": types.iter().map(|t| spec_json(ty, to, *t)).collect::<Vec<_>>(),
        }));
    }
    let mut body = json!({ "results": results });
    if let Some(n) = next {
        body["paging"] = json!({"next": {
            "after": n.to_string(),
            "link": base.join(&format!("/crm/v4/objects/{}/{id}/associations/{}?after={n}", ty.name(), to.name())),
        }});
    }
    Ok(axum::Json(body).into_response())
}

/// `PUT /crm/v4/objects/{ty}/{id}/associations/default/{to}/{to_id}`: the default
/// (unlabeled) association, both directions.
pub async fn create_default(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, id, to, to_id)): Path<(String, String, String, String)>,
) -> Result<Response, HsError> {
    let (ty, to) = (object(&ty)?, object(&to)?);
    let (id, to_id) = (parse_id(&id)?, parse_id(&to_id)?);
    let started = hs.env.clock.now_ms();
    let mut state = hs.write();
    let p = state.portal_mut(ctx.portal);
    let results = default_one(p, ty, id, to, to_id)?;
    Ok(axum::Json(batch_body(started, hs.env.clock.now_ms(), results, vec![])).into_response())
}

fn default_one(
    p: &mut Portal,
    ty: ObjType,
    id: u64,
    to: ObjType,
    to_id: u64,
) -> Result<Vec<Value>, HsError> {
    if !p.live(ty, id) {
        return Err(missing(ty, id));
    }
    if !p.live(to, to_id) {
        return Err(missing(to, to_id));
    }
    let t = default_type(ty, to).ok_or_else(|| {
        HsError::validation(format!(
            "No default association type between {} and {}",
            ty.name(),
            to.name()
        ))
    })?;
    p.associate((ty, id), (to, to_id), t);
    let inv = inverse(t).unwrap_or(t);
    Ok(vec![
        json!({"from": {"id": id.to_string()}, "to": {"id": to_id.to_string()},
               "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}}),
        json!({"from": {"id": to_id.to_string()}, "to": {"id": id.to_string()},
               "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": inv}}),
    ])
}

fn labels_between(p: &Portal, ty: ObjType, id: u64, to: ObjType, to_id: u64) -> Value {
    let labels: Vec<Value> = p
        .assoc
        .get(&(ty, id, to, to_id))
        .map(|ts| {
            ts.iter()
                .filter_map(|t| lookup(ty, to, *t).flatten())
                .map(|l| json!(l))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "fromObjectTypeId": ty.type_id(),
        "fromObjectId": id,
        "toObjectTypeId": to.type_id(),
        "toObjectId": to_id,
        "labels": labels,
    })
}

/// `PUT /crm/v4/objects/{ty}/{id}/associations/{to}/{to_id}` with a body of types: 201
/// `LabelsBetweenObjectPair`.
pub async fn create_labelled(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, id, to, to_id)): Path<(String, String, String, String)>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let (ty, to) = (object(&ty)?, object(&to)?);
    let (id, to_id) = (parse_id(&id)?, parse_id(&to_id)?);
    let types: Vec<TypeIn> = decode(body)?;
    let ids = check_types(ty, to, &types)?;
    let mut state = hs.write();
    let p = state.portal_mut(ctx.portal);
    if !p.live(ty, id) {
        return Err(missing(ty, id));
    }
    if !p.live(to, to_id) {
        return Err(missing(to, to_id));
    }
    for t in ids {
        p.associate((ty, id), (to, to_id), t);
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(labels_between(p, ty, id, to, to_id)),
    )
        .into_response())
}

/// `DELETE /crm/v4/objects/{ty}/{id}/associations/{to}/{to_id}`: removes every association
/// between the two records; 204.
pub async fn archive(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, id, to, to_id)): Path<(String, String, String, String)>,
) -> Result<Response, HsError> {
    let (ty, to) = (object(&ty)?, object(&to)?);
    let (id, to_id) = (parse_id(&id)?, parse_id(&to_id)?);
    hs.write()
        .portal_mut(ctx.portal)
        .dissociate((ty, id), (to, to_id));
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /crm/v4/associations/{ty}/{to}/labels`.
pub async fn labels(
    Extension(_ctx): Extension<Ctx>,
    Path((ty, to)): Path<(String, String)>,
) -> Result<Response, HsError> {
    let (ty, to) = (object(&ty)?, object(&to)?);
    let results: Vec<Value> = TYPES
        .iter()
        .filter(|t| t.0 == ty && t.1 == to)
        .map(|t| json!({"category": "HUBSPOT_DEFINED", "typeId": t.2, "label": t.3}))
        .collect();
    Ok(axum::Json(json!({ "results": results })).into_response())
}

#[derive(Deserialize)]
struct IdIn {
    id: String,
}

#[derive(Deserialize)]
struct Inputs<T> {
    inputs: Vec<T>,
}

fn too_many(n: usize, max: usize) -> Result<(), HsError> {
    if n > max {
        return Err(HsError::validation(format!(
            "Too many inputs: {n}. The maximum batch size is {max}."
        )));
    }
    Ok(())
}

/// `POST /crm/v4/associations/{ty}/{to}/batch/read`: 200, or 207 with an error naming the
/// ids that do not exist.
pub async fn batch_read(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, to)): Path<(String, String)>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let (ty, to) = (object(&ty)?, object(&to)?);
    let input: Inputs<IdIn> = decode(body)?;
    too_many(input.inputs.len(), 1000)?;
    let started = hs.env.clock.now_ms();
    let state = hs.read();
    let p = state.portal(ctx.portal);
    let mut results = Vec::new();
    let mut bad = Vec::new();
    for i in input.inputs {
        match i.id.parse::<u64>().ok().filter(|id| p.live(ty, *id)) {
            Some(id) => results.push(json!({
                "from": {"id": id.to_string()},
                "to": multi_json(p, ty, id, to),
            })),
            None => bad.push(i.id),
        }
    }
    let errors = if bad.is_empty() {
        vec![]
    } else {
        vec![json!({
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": format!("No {} with these IDs exist", ty.singular()),
            "context": {"ids": bad},
        })]
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let body = batch_body(started, hs.env.clock.now_ms(), results, errors);
    Ok((status, axum::Json(body)).into_response())
}

#[derive(Deserialize)]
struct CreateIn {
    from: IdIn,
    to: IdIn,
    types: Vec<TypeIn>,
}

/// `POST /crm/v4/associations/{ty}/{to}/batch/create`: 201 with `LabelsBetweenObjectPair`s.
pub async fn batch_create(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, to)): Path<(String, String)>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let (ty, to) = (object(&ty)?, object(&to)?);
    let input: Inputs<CreateIn> = decode(body)?;
    too_many(input.inputs.len(), 2000)?;
    let started = hs.env.clock.now_ms();
    let mut state = hs.write();
    let p = state.portal_mut(ctx.portal);
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for i in input.inputs {
        let types = check_types(ty, to, &i.types)?;
        let ids = (i.from.id.parse::<u64>(), i.to.id.parse::<u64>());
        match ids {
            (Ok(a), Ok(b)) if p.live(ty, a) && p.live(to, b) => {
                for t in types {
                    p.associate((ty, a), (to, b), t);
                }
                results.push(labels_between(p, ty, a, to, b));
            }
            _ => errors.push(json!({
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": format!("{} {} or {} {} does not exist", ty.singular(), i.from.id, to.singular(), i.to.id),
                "context": {"fromId": [i.from.id], "toId": [i.to.id]},
            })),
        }
    }
    let status = if errors.is_empty() {
        StatusCode::CREATED
    } else {
        StatusCode::MULTI_STATUS
    };
    let body = batch_body(started, hs.env.clock.now_ms(), results, errors);
    Ok((status, axum::Json(body)).into_response())
}

#[derive(Deserialize)]
struct DefaultIn {
    from: IdIn,
    to: IdIn,
}

/// `POST /crm/v4/associations/{ty}/{to}/batch/associate/default`.
pub async fn batch_default(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, to)): Path<(String, String)>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let (ty, to) = (object(&ty)?, object(&to)?);
    let input: Inputs<DefaultIn> = decode(body)?;
    too_many(input.inputs.len(), 2000)?;
    let started = hs.env.clock.now_ms();
    let mut state = hs.write();
    let p = state.portal_mut(ctx.portal);
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for i in input.inputs {
        let r = match (i.from.id.parse::<u64>(), i.to.id.parse::<u64>()) {
            (Ok(a), Ok(b)) => default_one(p, ty, a, to, b),
            _ => Err(HsError::validation("invalid id")),
        };
        match r {
            Ok(mut v) => results.append(&mut v),
            Err(e) => errors.push(json!({
                "status": "error",
                "category": e.body.get("category").cloned().unwrap_or(json!("VALIDATION_ERROR")),
                "message": e.body.get("message").cloned().unwrap_or_default(),
                "context": {"fromId": [i.from.id], "toId": [i.to.id]},
            })),
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let body = batch_body(started, hs.env.clock.now_ms(), results, errors);
    Ok((status, axum::Json(body)).into_response())
}

#[derive(Deserialize)]
struct ArchiveIn {
    from: IdIn,
    to: Vec<IdIn>,
}

/// `POST /crm/v4/associations/{ty}/{to}/batch/archive`: 204.
pub async fn batch_archive(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, to)): Path<(String, String)>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let (ty, to) = (object(&ty)?, object(&to)?);
    let input: Inputs<ArchiveIn> = decode(body)?;
    too_many(input.inputs.len(), 2000)?;
    let mut state = hs.write();
    let p = state.portal_mut(ctx.portal);
    for i in input.inputs {
        let Ok(a) = i.from.id.parse::<u64>() else {
            continue;
        };
        for t in i.to {
            if let Ok(b) = t.id.parse::<u64>() {
                p.dissociate((ty, a), (to, b));
            }
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

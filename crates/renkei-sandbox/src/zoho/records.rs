//! Records: list (`fields`, `per_page` ≤ 200, `page` up to the 2,000th record, `page_token`
//! beyond, `sort_by`, `If-Modified-Since` → 304), get, insert/update/upsert (≤ 100 per call,
//! per-record `code`/`details`/`message`/`status`), delete, deleted records, notes of a record,
//! and the seed.
//!
//! Behaviour from the v8 docs ("Get Records", "Insert Records", "Update Records", "Upsert
//! Records", "Delete Records", "Get Deleted Records",
//! https://www.zoho.com/crm/developer/docs/api/v8/): the default order is `id` descending; an
//! empty answer is 204 without a body; unknown field names in a write are ignored; a write
//! answers 201 (insert) or 200 when every record succeeded, 207 when some failed, 400 when
//! all failed.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::api::{Ctx, no_content};
use super::errors::{ApiError, invalid_data, mandatory_not_found, record_error};
use super::model::{Dt, MODULES, module_index, se_module_ok};
use super::store::{Deleted, Org, Rec, Val, record_name};

const MAX_PER_PAGE: usize = 200;
/// The furthest record `page` can reach; `page_token` goes beyond.
const PAGE_LIMIT: usize = 2000;
const MAX_BATCH: usize = 100;
const PAGE_TOKEN_TTL_MS: i64 = 86_400_000;

fn parse_id(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The `fields` parameter: mandatory from v3 on, at most 50 names.
pub fn fields_param(ctx: &Ctx, required: bool) -> Result<Option<Vec<String>>, ApiError> {
    match ctx.params.get("fields").map(|f| f.trim()) {
        Some(f) if !f.is_empty() => {
            let list: Vec<String> = f.split(',').map(|s| s.trim().to_owned()).collect();
            if list.len() > 50 {
                return Err(ApiError::new(
                    400,
                    "LIMIT_EXCEEDED",
                    "Max field limit exceeded",
                    json!({"param_name": "fields", "limit": 50}),
                ));
            }
            Ok(Some(list))
        }
        _ if required && ctx.version >= 3 => Err(ApiError::param_missing("fields")),
        _ => Ok(None),
    }
}

/// `page` and `per_page` with Zoho's bounds.
pub fn paging(ctx: &Ctx) -> Result<(usize, usize), ApiError> {
    let num = |k: &str, default: usize| -> Result<usize, ApiError> {
        match ctx.params.get(k) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ApiError::invalid_param(k, "invalid data")),
        }
    };
    let page = num("page", 1)?;
    let per_page = num("per_page", MAX_PER_PAGE)?;
    if per_page > MAX_PER_PAGE {
        return Err(ApiError::invalid_param("per_page", "invalid data"));
    }
    Ok((page, per_page))
}

fn page_limit_error() -> ApiError {
    ApiError::new(
        400,
        "LIMIT_REACHED",
        "Limit reached to fetch records with the page param; use page_token to fetch records beyond 2000",
        json!({"limit": PAGE_LIMIT}),
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Id,
    Created,
    Modified,
}

/// The opaque `page_token`: where the next page starts, and when the token dies.
fn encode_token(
    module: usize,
    sort: SortBy,
    desc: bool,
    since: i64,
    key: (i64, u64),
    exp: i64,
) -> String {
    let raw = format!(
        "{module}.{}.{}.{since}.{}.{}.{exp}",
        sort as u8, desc as u8, key.0, key.1
    );
    let mut out = String::with_capacity(raw.len() * 2);
    for b in raw.bytes() {
        out.push_str(&format!("{:02x}", b ^ 0x5a));
    }
    out
}

/// module, sort, descending, If-Modified-Since, resume key, expiry.
type PageToken = (usize, u8, bool, i64, (i64, u64), i64);

fn decode_token(s: &str) -> Option<PageToken> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(s.get(i..i + 2)?, 16)
                .ok()
                .map(|b| b ^ 0x5a)
        })
        .collect();
    let raw = String::from_utf8(bytes?).ok()?;
    let p: Vec<&str> = raw.split('.').collect();
    if p.len() != 7 {
        return None;
    }
    Some((
        p[0].parse().ok()?,
        p[1].parse().ok()?,
        p[2] == "1",
        p[3].parse().ok()?,
        (p[4].parse().ok()?, p[5].parse().ok()?),
        p[6].parse().ok()?,
    ))
}

/// `If-Modified-Since`: ISO 8601 with an offset (Zoho's format) or an HTTP date.
fn if_modified_since(ctx: &Ctx) -> Result<Option<i64>, ApiError> {
    let Some(h) = ctx.headers.get("if-modified-since") else {
        return Ok(None);
    };
    let s = h.to_str().unwrap_or("");
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(Some(ts.as_millisecond()));
    }
    if let Ok(z) = jiff::fmt::rfc2822::parse(s) {
        return Ok(Some(z.timestamp().as_millisecond()));
    }
    Err(ApiError::new(
        400,
        "INVALID_DATA",
        "invalid data",
        json!({"header_name": "If-Modified-Since"}),
    ))
}

/// `GET /{module}`.
pub fn list(org: &Org, m: usize, ctx: &Ctx) -> Result<Response, ApiError> {
    let fields = fields_param(ctx, true)?;
    let (page, per_page) = paging(ctx)?;
    let since = if_modified_since(ctx)?;
    let table = &org.tables[m];
    // `ids`: just those records.
    if let Some(ids) = ctx.params.get("ids") {
        let mut data = Vec::new();
        for s in ids.split(',').filter(|s| !s.is_empty()).take(MAX_BATCH) {
            if let Some(r) = parse_id(s).and_then(|id| table.rows.get(&id)) {
                data.push(org.record_json(m, r, fields.as_deref()));
            }
        }
        if data.is_empty() {
            return Ok(no_content());
        }
        let n = data.len();
        return Ok(axum::Json(json!({"data": data, "info": {"per_page": per_page, "count": n, "page": 1, "sort_by": "id", "sort_order": "desc", "more_records": false, "next_page_token": null, "previous_page_token": null, "page_token_expiry": null}})).into_response());
    }
    let sort = match ctx.params.get("sort_by").map(String::as_str) {
        None | Some("id") => SortBy::Id,
        Some("Created_Time") => SortBy::Created,
        Some("Modified_Time") => SortBy::Modified,
        Some(_) => return Err(ApiError::invalid_param("sort_by", "invalid data")),
    };
    let desc = match ctx.params.get("sort_order").map(String::as_str) {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(ApiError::invalid_param("sort_order", "invalid data")),
    };
    let since_ms = since.unwrap_or(i64::MIN);
    let mut start: Option<(i64, u64)> = None;
    let token_mode = ctx.params.get("page_token").filter(|t| !t.is_empty());
    if let Some(t) = token_mode {
        let Some((tm, ts, tdesc, tsince, key, exp)) = decode_token(t) else {
            return Err(ApiError::invalid_param("page_token", "invalid data"));
        };
        if tm != m || ts != sort as u8 || tdesc != desc || tsince != since_ms {
            return Err(ApiError::invalid_param("page_token", "invalid data"));
        }
        if ctx.now_ms > exp {
            return Err(ApiError::invalid_param("page_token", "page_token expired"));
        }
        start = Some(key);
    } else if page * per_page > PAGE_LIMIT {
        return Err(page_limit_error());
    }
    // Keys in order: (modified_ms, id) for Modified_Time, (0, id) otherwise.
    let skip = if start.is_some() {
        0
    } else {
        (page - 1) * per_page
    };
    let mut picked: Vec<&Rec> = Vec::with_capacity(per_page + 1);
    let iter: Box<dyn Iterator<Item = &Rec> + '_> = {
        use std::ops::Bound::*;
        match sort {
            SortBy::Id | SortBy::Created => {
                let range = match (start, desc) {
                    (None, _) => (Unbounded, Unbounded),
                    (Some((_, id)), true) => (Unbounded, Excluded(id)),
                    (Some((_, id)), false) => (Excluded(id), Unbounded),
                };
                let it = table.rows.range(range).map(|(_, r)| r);
                if desc {
                    Box::new(it.rev())
                } else {
                    Box::new(it)
                }
            }
            SortBy::Modified => {
                let range = match (start, desc) {
                    (None, _) => (Unbounded, Unbounded),
                    (Some(k), true) => (Unbounded, Excluded(k)),
                    (Some(k), false) => (Excluded(k), Unbounded),
                };
                let it = table
                    .by_modified
                    .range(range)
                    .filter_map(|(_, id)| table.rows.get(id));
                if desc {
                    Box::new(it.rev())
                } else {
                    Box::new(it)
                }
            }
        }
    };
    let mut skipped = 0usize;
    for r in iter {
        if r.modified_ms <= since_ms {
            continue;
        }
        if skipped < skip {
            skipped += 1;
            continue;
        }
        picked.push(r);
        if picked.len() > per_page {
            break;
        }
    }
    let more = picked.len() > per_page;
    picked.truncate(per_page);
    if picked.is_empty() {
        if since.is_some() {
            return Ok(StatusCode::NOT_MODIFIED.into_response());
        }
        return Ok(no_content());
    }
    let last = picked[picked.len() - 1];
    let key = match sort {
        SortBy::Modified => (last.modified_ms, last.id),
        _ => (0, last.id),
    };
    let exp = ctx.now_ms + PAGE_TOKEN_TTL_MS;
    let next = more.then(|| encode_token(m, sort, desc, since_ms, key, exp));
    let data: Vec<Value> = picked
        .iter()
        .map(|r| org.record_json(m, r, fields.as_deref()))
        .collect();
    let info = json!({
        "per_page": per_page,
        "next_page_token": next,
        "count": data.len(),
        "sort_by": match sort { SortBy::Id => "id", SortBy::Created => "Created_Time", SortBy::Modified => "Modified_Time" },
        "page": if token_mode.is_some() { Value::Null } else { json!(page) },
        "previous_page_token": null,
        "page_token_expiry": next.as_ref().map(|_| org.time(exp)),
        "sort_order": if desc { "desc" } else { "asc" },
        "more_records": more,
    });
    Ok(axum::Json(json!({"data": data, "info": info})).into_response())
}

/// `GET /{module}/{id}`.
pub fn get_one(org: &Org, m: usize, id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let fields = fields_param(ctx, false)?;
    let Some(id) = parse_id(id) else {
        return Err(ApiError::new(
            400,
            "INVALID_DATA",
            "the id given seems to be invalid",
            json!({"resource_path_index": 1}),
        ));
    };
    match org.tables[m].rows.get(&id) {
        Some(r) => Ok(
            axum::Json(json!({"data": [org.record_json(m, r, fields.as_deref())]})).into_response(),
        ),
        None => Ok(no_content()),
    }
}

/// `GET /{module}/actions/count`.
pub fn count(org: &Org, m: usize) -> Result<Response, ApiError> {
    Ok(axum::Json(json!({"count": org.tables[m].rows.len()})).into_response())
}

/// `GET /{module}/deleted?type=all|recycle|permanent`: this emulator keeps deleted records in
/// the recycle bin only, so `permanent` is always empty.
pub fn deleted(org: &Org, m: usize, ctx: &Ctx) -> Result<Response, ApiError> {
    let (page, per_page) = paging(ctx)?;
    let kind = ctx.params.get("type").map(String::as_str).unwrap_or("all");
    if !matches!(kind, "all" | "recycle" | "permanent") {
        return Err(ApiError::invalid_param("type", "invalid data"));
    }
    if page * per_page > PAGE_LIMIT {
        return Err(page_limit_error());
    }
    let all: Vec<&Deleted> = if kind == "permanent" {
        vec![]
    } else {
        org.tables[m].deleted.iter().rev().collect()
    };
    let start = (page - 1) * per_page;
    let slice: Vec<Value> = all
        .iter()
        .skip(start)
        .take(per_page)
        .map(|d| {
            json!({
                "deleted_by": org.user_json(d.deleted_by, false),
                "id": d.id.to_string(),
                "display_name": d.display_name,
                "type": "recycle",
                "created_by": org.user_json(d.created_by, false),
                "deleted_time": org.time(d.deleted_ms),
            })
        })
        .collect();
    if slice.is_empty() {
        return Ok(no_content());
    }
    let more = all.len() > start + slice.len();
    Ok(axum::Json(json!({
        "data": slice,
        "info": {"per_page": per_page, "count": slice.len(), "page": page, "more_records": more},
    }))
    .into_response())
}

/// `GET /{module}/{id}/Notes`: the notes whose `Parent_Id` is that record.
pub fn notes_of(org: &Org, m: usize, id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let fields = fields_param(ctx, true)?;
    let (page, per_page) = paging(ctx)?;
    let parent = parse_id(id).filter(|id| org.tables[m].rows.contains_key(id));
    let Some(parent) = parent else {
        return Err(ApiError::new(
            400,
            "INVALID_DATA",
            "the given id seems to be invalid",
            json!({"id": id}),
        ));
    };
    let notes = module_index("Notes").unwrap_or(0);
    let pf = MODULES[notes]
        .fields
        .iter()
        .position(|f| f.api == "Parent_Id")
        .unwrap_or(0);
    let all: Vec<&Rec> = org.tables[notes]
        .rows
        .values()
        .rev()
        .filter(|r| matches!(r.get(pf), Some(Val::SeRef(pm, pid)) if *pm as usize == m && *pid == parent))
        .collect();
    let start = (page - 1) * per_page;
    let data: Vec<Value> = all
        .iter()
        .skip(start)
        .take(per_page)
        .map(|r| org.record_json(notes, r, fields.as_deref()))
        .collect();
    if data.is_empty() {
        return Ok(no_content());
    }
    let more = all.len() > start + data.len();
    Ok(axum::Json(json!({
        "data": data,
        "info": {"per_page": per_page, "count": data.len(), "page": page, "more_records": more},
    }))
    .into_response())
}

pub enum Mode {
    Insert,
    /// With the id from the URL (`PUT /{module}/{id}`), or ids in the records.
    Update(Option<String>),
    Upsert,
    /// `POST /{module}/{id}/Notes`: notes inserted with that parent.
    NotesOf(String),
}

/// The values a write gives, checked against the module's fields.
struct Parsed {
    vals: Vec<(usize, Option<Val>)>,
    owner: Option<u16>,
}

fn text_ok(v: &Value) -> Option<Box<str>> {
    match v {
        Value::String(s) => Some(s.as_str().into()),
        Value::Number(n) => Some(n.to_string().into()),
        _ => None,
    }
}

fn email_ok(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
}

fn date_ok(s: &str) -> bool {
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

fn lookup_id(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => parse_id(s),
        Value::Number(n) => n.as_u64(),
        Value::Object(o) => o.get("id").and_then(lookup_id),
        _ => None,
    }
}

/// Checks one record of a write. `Err` is the per-record error object.
fn parse(
    org: &Org,
    m: usize,
    obj: &Map<String, Value>,
    i: usize,
    inserting: bool,
) -> Result<Parsed, Value> {
    let def = &MODULES[m];
    let mut vals = Vec::new();
    for (fi, fd) in def.fields.iter().enumerate() {
        if fd.api == "Full_Name" {
            continue;
        }
        let Some(v) = obj.get(fd.api) else {
            if inserting && fd.mandatory {
                return Err(mandatory_not_found(fd.api, i));
            }
            continue;
        };
        if v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()) {
            if fd.mandatory {
                return Err(mandatory_not_found(fd.api, i));
            }
            vals.push((fi, None));
            continue;
        }
        let bad = |t: &str| invalid_data(fd.api, i, Some(t));
        let val = match fd.dt {
            Dt::Text | Dt::TextArea | Dt::Phone | Dt::Website | Dt::Picklist => {
                let s = text_ok(v).ok_or_else(|| bad(fd.dt.name()))?;
                if s.chars().count() > fd.length as usize {
                    return Err(record_error(
                        "INVALID_DATA",
                        "invalid data",
                        json!({"api_name": fd.api, "json_path": format!("$.data[{i}].{}", fd.api), "maximum_length": fd.length.to_string()}),
                    ));
                }
                Val::S(s)
            }
            Dt::Email => {
                let s = v
                    .as_str()
                    .filter(|s| email_ok(s))
                    .ok_or_else(|| bad("email"))?;
                Val::S(s.into())
            }
            Dt::Integer => {
                let n = match v {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                Val::I(
                    n.filter(|n| n.abs() < 1_000_000_000)
                        .ok_or_else(|| bad("integer"))?,
                )
            }
            Dt::Currency => {
                let n = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                Val::F(n.filter(|n| n.is_finite()).ok_or_else(|| bad("double"))?)
            }
            Dt::Boolean => Val::B(v.as_bool().ok_or_else(|| bad("boolean"))?),
            Dt::Date => {
                let s = v
                    .as_str()
                    .filter(|s| date_ok(s))
                    .ok_or_else(|| bad("date"))?;
                Val::S(s.into())
            }
            Dt::DateTime => {
                let ts = v
                    .as_str()
                    .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                    .ok_or_else(|| bad("datetime"))?;
                Val::T(ts.as_millisecond())
            }
            Dt::MultiPicklist => {
                let arr = v.as_array().ok_or_else(|| bad("jsonarray"))?;
                let items: Option<Vec<Box<str>>> =
                    arr.iter().map(|x| x.as_str().map(Into::into)).collect();
                Val::Multi(items.ok_or_else(|| bad("jsonarray"))?.into())
            }
            Dt::Lookup => {
                let target = fd.lookup.and_then(module_index).unwrap_or(0);
                let id = lookup_id(v)
                    .filter(|id| org.tables[target].rows.contains_key(id))
                    .ok_or_else(|| invalid_data(fd.api, i, None))?;
                Val::Ref(id)
            }
            Dt::SeLookup => {
                // `{"module": {"api_name": "Leads"}, "id": "…"}` (v4+) or `$se_module` + id.
                let module = v
                    .get("module")
                    .and_then(|mo| mo.get("api_name").or(Some(mo)))
                    .and_then(Value::as_str)
                    .or_else(|| obj.get("$se_module").and_then(Value::as_str))
                    .and_then(module_index)
                    .filter(|mi| se_module_ok(*mi))
                    .ok_or_else(|| invalid_data(fd.api, i, None))?;
                let id = lookup_id(v)
                    .filter(|id| org.tables[module].rows.contains_key(id))
                    .ok_or_else(|| invalid_data(fd.api, i, None))?;
                Val::SeRef(module as u8, id)
            }
        };
        vals.push((fi, Some(val)));
    }
    // An owner must be an active user. Zoho documents no error of its own for a deactivated
    // one (neither the v8 OpenAPI files nor the "Insert Records" page list one), so the
    // emulator refuses it with the `INVALID_DATA` an unknown id gets.
    let owner = match obj.get("Owner") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            lookup_id(v)
                .and_then(|id| org.active_user_index(id))
                .map(|u| u as u16)
                .ok_or_else(|| invalid_data("Owner", i, None))?,
        ),
    };
    Ok(Parsed { vals, owner })
}

/// The value field `name` of module `m` will hold after a write: the written one, else the
/// stored one.
fn effective<'a>(
    m: usize,
    p: &'a Parsed,
    existing: Option<&'a Rec>,
    name: &str,
) -> Option<&'a Val> {
    let fi = MODULES[m].fields.iter().position(|f| f.api == name)?;
    match p.vals.iter().find(|(f, _)| *f == fi) {
        Some((_, v)) => v.as_ref(),
        None => existing.and_then(|r| r.get(fi)),
    }
}

/// `mm:ss`, minutes unbounded: how Zoho writes a call's duration.
fn duration_ok(s: &str) -> bool {
    let Some((mm, ss)) = s.split_once(':') else {
        return false;
    };
    !mm.is_empty()
        && mm.len() <= 5
        && mm.bytes().all(|b| b.is_ascii_digit())
        && ss.len() == 2
        && ss.bytes().all(|b| b.is_ascii_digit())
        && ss < "60"
}

/// The rules of the activity modules that span fields ("Kaizen #38 - Calls API",
/// https://help.zoho.com/portal/en/community/topic/kaizen-38-calls-api: a completed call —
/// every inbound call, an outbound one with `Outbound_Call_Status` Completed — needs its
/// `Call_Duration` and a start that is not in the future, and a malformed duration is
/// `INVALID_DATA`; an event cannot end before it starts).
fn activity_rules(
    m: usize,
    p: &Parsed,
    existing: Option<&Rec>,
    i: usize,
    now_ms: i64,
) -> Result<(), Value> {
    let text = |name: &str| match effective(m, p, existing, name) {
        Some(Val::S(s)) => Some(s.as_ref()),
        _ => None,
    };
    match MODULES[m].api {
        "Calls" => {
            let duration = text("Call_Duration");
            if duration.is_some_and(|d| !duration_ok(d)) {
                return Err(invalid_data("Call_Duration", i, None));
            }
            let completed = match text("Call_Type") {
                Some("Inbound") => true,
                Some("Outbound") => text("Outbound_Call_Status") == Some("Completed"),
                _ => false,
            };
            if completed && duration.is_none() {
                return Err(invalid_data("Call_Duration", i, None));
            }
            // A completed call cannot have started in the future (the same page: "You have
            // provided an incorrect Call_Start_Time for a completed call").
            let start = match effective(m, p, existing, "Call_Start_Time") {
                Some(Val::T(ms)) => Some(*ms),
                _ => None,
            };
            if completed && start.is_some_and(|ms| ms > now_ms) {
                return Err(invalid_data("Call_Start_Time", i, None));
            }
        }
        "Events" => {
            let at = |name: &str| match effective(m, p, existing, name) {
                Some(Val::T(ms)) => Some(*ms),
                _ => None,
            };
            if let (Some(start), Some(end)) = (at("Start_DateTime"), at("End_DateTime"))
                && end < start
            {
                return Err(invalid_data("End_DateTime", i, None));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The unique-field check: `DUPLICATE_DATA` naming the record that holds the value.
fn duplicate(org: &Org, m: usize, p: &Parsed, i: usize, except: Option<u64>) -> Option<Value> {
    let def = &MODULES[m];
    for (fi, v) in &p.vals {
        let fd = &def.fields[*fi];
        if !fd.unique {
            continue;
        }
        if let Some(Val::S(s)) = v
            && let Some(other) = org.tables[m].find_value(*fi, s, except)
        {
            let owner = org.tables[m].rows.get(&other).map(|r| r.owner).unwrap_or(0);
            return Some(record_error(
                "DUPLICATE_DATA",
                "duplicate data",
                json!({
                    "api_name": fd.api,
                    "json_path": format!("$.data[{i}].{}", fd.api),
                    "duplicate_record": {
                        "module": {"api_name": def.api, "id": super::store::make_id(org.prefix, def.id_suffix).to_string()},
                        "id": other.to_string(),
                        "Owner": org.user_json(owner, false),
                    },
                }),
            ));
        }
    }
    None
}

fn success(org: &Org, rec: &Rec, message: &str, action: Option<(&str, Option<&str>)>) -> Value {
    let mut out = json!({
        "code": "SUCCESS",
        "details": {
            "Modified_Time": org.time(rec.modified_ms),
            "Modified_By": org.user_json(rec.modified_by, false),
            "Created_Time": org.time(rec.created_ms),
            "id": rec.id.to_string(),
            "Created_By": org.user_json(rec.created_by, false),
            "$approval_state": "approved",
        },
        "message": message,
        "status": "success",
    });
    if let Some((a, dup)) = action {
        out["action"] = json!(a);
        out["duplicate_field"] = json!(dup);
    }
    out
}

fn insert_rec(org: &mut Org, m: usize, p: Parsed, user: u16, now: i64) -> u64 {
    let id = org.next_id();
    let owner = p.owner.unwrap_or(user);
    let mut rec = Rec {
        id,
        owner,
        created_by: user,
        modified_by: user,
        created_ms: now,
        modified_ms: now,
        vals: Vec::new(),
    };
    for (fi, v) in p.vals {
        rec.set(fi, v);
    }
    org.tables[m].insert(&MODULES[m], rec);
    id
}

fn update_rec(org: &mut Org, m: usize, id: u64, p: Parsed, user: u16, now: i64) {
    let def = &MODULES[m];
    let Some(mut rec) = org.tables[m].remove(def, id) else {
        return;
    };
    for (fi, v) in p.vals {
        rec.set(fi, v);
    }
    if let Some(o) = p.owner {
        rec.owner = o;
    }
    rec.modified_by = user;
    // Modified_Time never goes backwards, even when two writes share a millisecond.
    rec.modified_ms = now.max(rec.modified_ms + 1);
    org.tables[m].insert(def, rec);
}

/// Insert, update, upsert, or notes of a record.
pub fn write(org: &mut Org, m: usize, mode: Mode, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: Value = serde_json::from_slice(&ctx.body).map_err(|_| {
        ApiError::new(
            400,
            "INVALID_DATA",
            "body",
            json!({"expected_data_type": "jsonobject"}),
        )
    })?;
    let Some(data) = body.get("data") else {
        return Err(ApiError::new(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "data"}),
        ));
    };
    let Some(items) = data.as_array() else {
        return Err(ApiError::new(
            400,
            "INVALID_DATA",
            "invalid data",
            json!({"expected_data_type": "jsonarray", "api_name": "data", "json_path": "$.data"}),
        ));
    };
    if items.is_empty() {
        return Err(ApiError::new(
            400,
            "INVALID_DATA",
            "invalid data",
            json!({"api_name": "data", "json_path": "$.data"}),
        ));
    }
    let limit = if matches!(mode, Mode::Update(Some(_))) {
        1
    } else {
        MAX_BATCH
    };
    if items.len() > limit {
        return Err(ApiError::new(
            400,
            "LIMIT_EXCEEDED",
            "Record count exceeded",
            json!({"limit": limit}),
        ));
    }
    let notes = module_index("Notes").unwrap_or(0);
    let (target, parent) = match &mode {
        Mode::NotesOf(id) => {
            let pid = parse_id(id).filter(|p| org.tables[m].rows.contains_key(p));
            let Some(pid) = pid else {
                return Err(ApiError::new(
                    400,
                    "INVALID_DATA",
                    "the given id seems to be invalid",
                    json!({"id": id}),
                ));
            };
            (notes, Some(pid))
        }
        _ => (m, None),
    };
    let def = &MODULES[target];
    let dup_fields: Vec<String> = match body.get("duplicate_check_fields") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => {
            let mut d: Vec<String> = def.dup_default.iter().map(|s| s.to_string()).collect();
            for f in def.fields.iter().filter(|f| f.unique) {
                if !d.iter().any(|x| x == f.api) {
                    d.push(f.api.to_owned());
                }
            }
            d
        }
    };
    for f in &dup_fields {
        if !def.fields.iter().any(|fd| fd.api == f) {
            return Err(ApiError::new(
                400,
                "INVALID_DATA",
                "invalid data",
                json!({"api_name": "duplicate_check_fields", "json_path": "$.duplicate_check_fields"}),
            ));
        }
    }
    let now = ctx.now_ms;
    let mut results = Vec::with_capacity(items.len());
    let mut ok = 0usize;
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            results.push(record_error(
                "INVALID_DATA",
                "invalid data",
                json!({"expected_data_type": "jsonobject", "json_path": format!("$.data[{i}]")}),
            ));
            continue;
        };
        let outcome: Result<Value, Value> = (|| match &mode {
            Mode::Insert | Mode::NotesOf(_) => {
                let mut obj = obj.clone();
                if let Some(pid) = parent {
                    obj.insert(
                        "Parent_Id".into(),
                        json!({"module": {"api_name": MODULES[m].api}, "id": pid.to_string()}),
                    );
                }
                let p = parse(org, target, &obj, i, true)?;
                activity_rules(target, &p, None, i, now)?;
                if let Some(e) = duplicate(org, target, &p, i, None) {
                    return Err(e);
                }
                let id = insert_rec(org, target, p, ctx.user, now);
                Ok(success(
                    org,
                    &org.tables[target].rows[&id],
                    "record added",
                    None,
                ))
            }
            Mode::Update(url_id) => {
                let raw = url_id.clone().or_else(|| {
                    obj.get("id").and_then(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .or_else(|| v.as_u64().map(|n| n.to_string()))
                    })
                });
                let Some(raw) = raw else {
                    return Err(mandatory_not_found("id", i));
                };
                let Some(id) = parse_id(&raw).filter(|id| org.tables[target].rows.contains_key(id))
                else {
                    return Err(record_error(
                        "INVALID_DATA",
                        "the id given seems to be invalid",
                        json!({"api_name": "id", "json_path": format!("$.data[{i}].id")}),
                    ));
                };
                let p = parse(org, target, obj, i, false)?;
                activity_rules(target, &p, org.tables[target].rows.get(&id), i, now)?;
                if let Some(e) = duplicate(org, target, &p, i, Some(id)) {
                    return Err(e);
                }
                update_rec(org, target, id, p, ctx.user, now);
                Ok(success(
                    org,
                    &org.tables[target].rows[&id],
                    "record updated",
                    None,
                ))
            }
            Mode::Upsert => {
                let mut found: Option<(u64, String)> = None;
                for f in &dup_fields {
                    let fi = def.fields.iter().position(|fd| fd.api == f).unwrap_or(0);
                    if let Some(v) = obj
                        .get(f)
                        .and_then(|v| v.as_str())
                        .filter(|s| !s.is_empty())
                        && let Some(id) = org.tables[target].find_value(fi, v, None)
                    {
                        found = Some((id, f.clone()));
                        break;
                    }
                }
                match found {
                    Some((id, field)) => {
                        let p = parse(org, target, obj, i, false)?;
                        activity_rules(target, &p, org.tables[target].rows.get(&id), i, now)?;
                        if let Some(e) = duplicate(org, target, &p, i, Some(id)) {
                            return Err(e);
                        }
                        update_rec(org, target, id, p, ctx.user, now);
                        Ok(success(
                            org,
                            &org.tables[target].rows[&id],
                            "record updated",
                            Some(("update", Some(&field))),
                        ))
                    }
                    None => {
                        let p = parse(org, target, obj, i, true)?;
                        activity_rules(target, &p, None, i, now)?;
                        if let Some(e) = duplicate(org, target, &p, i, None) {
                            return Err(e);
                        }
                        let id = insert_rec(org, target, p, ctx.user, now);
                        Ok(success(
                            org,
                            &org.tables[target].rows[&id],
                            "record added",
                            Some(("insert", None)),
                        ))
                    }
                }
            }
        })();
        match outcome {
            Ok(v) => {
                ok += 1;
                results.push(v);
            }
            Err(e) => results.push(e),
        }
    }
    let status = if ok == results.len() {
        match mode {
            Mode::Insert | Mode::NotesOf(_) => StatusCode::CREATED,
            _ => StatusCode::OK,
        }
    } else if ok == 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((status, axum::Json(json!({"data": results}))).into_response())
}

/// `DELETE /{module}?ids=…` and `DELETE /{module}/{id}`.
pub fn delete(org: &mut Org, m: usize, one: Option<&str>, ctx: &Ctx) -> Result<Response, ApiError> {
    let ids: Vec<String> = match one {
        Some(id) => vec![id.to_owned()],
        None => match ctx.params.get("ids").filter(|s| !s.is_empty()) {
            Some(s) => s.split(',').map(|x| x.trim().to_owned()).collect(),
            None => return Err(ApiError::param_missing("ids")),
        },
    };
    if ids.len() > MAX_BATCH {
        return Err(ApiError::new(
            400,
            "LIMIT_EXCEEDED",
            "Record count exceeded",
            json!({"limit": MAX_BATCH}),
        ));
    }
    let def = &MODULES[m];
    let mut results = Vec::new();
    let mut ok = 0;
    for raw in &ids {
        let rec = parse_id(raw).and_then(|id| org.tables[m].remove(def, id));
        match rec {
            Some(rec) => {
                ok += 1;
                let name = record_name(m, &rec);
                org.tables[m].deleted.push(Deleted {
                    id: rec.id,
                    display_name: name.into(),
                    created_by: rec.created_by,
                    deleted_by: ctx.user,
                    deleted_ms: ctx.now_ms,
                });
                results.push(json!({"code": "SUCCESS", "details": {"id": rec.id.to_string()}, "message": "record deleted", "status": "success"}));
            }
            None => results.push(record_error(
                "INVALID_DATA",
                "the id given seems to be invalid",
                json!({"id": raw}),
            )),
        }
    }
    let status = if ok == results.len() {
        StatusCode::OK
    } else if ok == 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((status, axum::Json(json!({"data": results}))).into_response())
}

/// Maps the common seed people onto Zoho: companies become Accounts, people with a company
/// Contacts (linked to their Account), people without one Leads (Zoho's Company is mandatory on
/// a Lead, so an individual gets "-" as Zoho's own import does), and every fifth contact a Deal.
pub fn seed(org: &mut Org, seed: u64, count: usize, now: i64) -> Value {
    let data = crate::seed::generate(seed, count);
    let fidx = |m: usize, name: &str| {
        MODULES[m]
            .fields
            .iter()
            .position(|f| f.api == name)
            .unwrap_or(0)
    };
    let (acc, con, lead, deal) = (
        module_index("Accounts").unwrap_or(0),
        module_index("Contacts").unwrap_or(0),
        module_index("Leads").unwrap_or(0),
        module_index("Deals").unwrap_or(0),
    );
    // Records go round the active users (the admin when none is).
    let owners: Vec<u16> = (0..org.users.len() as u16)
        .filter(|i| org.users[*i as usize].active)
        .collect();
    let mk = |org: &mut Org, m: usize, vals: Vec<(usize, Option<Val>)>, n: usize| {
        let id = org.next_id();
        let owner = if owners.is_empty() {
            0
        } else {
            owners[n % owners.len()]
        };
        let mut rec = Rec {
            id,
            owner,
            created_by: 0,
            modified_by: 0,
            created_ms: now,
            modified_ms: now,
            vals: Vec::new(),
        };
        for (fi, v) in vals {
            rec.set(fi, v);
        }
        org.tables[m].insert(&MODULES[m], rec);
        id
    };
    let s = |x: &Option<String>| x.as_deref().map(|v| Val::S(v.into()));
    let mut company_ids = Vec::with_capacity(data.companies.len());
    for (n, c) in data.companies.iter().enumerate() {
        let id = mk(
            org,
            acc,
            vec![
                (
                    fidx(acc, "Account_Name"),
                    Some(Val::S(c.name.as_str().into())),
                ),
                (fidx(acc, "Phone"), s(&c.phone)),
                (
                    fidx(acc, "Website"),
                    Some(Val::S(format!("https://www.{}", c.domain).into())),
                ),
                (fidx(acc, "Industry"), Some(Val::S(c.industry.into()))),
                (
                    fidx(acc, "Billing_City"),
                    Some(Val::S(c.city.as_str().into())),
                ),
            ],
            n,
        );
        company_ids.push(id);
    }
    let (mut contacts, mut leads, mut deals) = (0, 0, 0);
    for (n, p) in data.people.iter().enumerate() {
        let last = p
            .last_name
            .clone()
            .or_else(|| p.email.clone())
            .or_else(|| p.phone.clone())
            .unwrap_or_else(|| "(no name)".into());
        match p.company {
            Some(ci) => {
                let cid = company_ids[ci];
                let id = mk(
                    org,
                    con,
                    vec![
                        (fidx(con, "First_Name"), s(&p.first_name)),
                        (fidx(con, "Last_Name"), Some(Val::S(last.into()))),
                        (fidx(con, "Email"), s(&p.email)),
                        (fidx(con, "Phone"), s(&p.phone)),
                        (fidx(con, "Mobile"), s(&p.mobile)),
                        (fidx(con, "Account_Name"), Some(Val::Ref(cid))),
                        (fidx(con, "Title"), p.title.map(|t| Val::S(t.into()))),
                        (
                            fidx(con, "Mailing_City"),
                            Some(Val::S(p.city.as_str().into())),
                        ),
                    ],
                    n,
                );
                contacts += 1;
                if n % 5 == 0 {
                    let name = format!(
                        "{} - {}",
                        data.companies[ci].name,
                        if p.japanese {
                            "新規案件"
                        } else {
                            "New Business"
                        }
                    );
                    mk(
                        org,
                        deal,
                        vec![
                            (fidx(deal, "Deal_Name"), Some(Val::S(name.into()))),
                            (fidx(deal, "Stage"), Some(Val::S("Qualification".into()))),
                            (
                                fidx(deal, "Amount"),
                                Some(Val::F(((n % 50) as f64 + 1.0) * 1000.0)),
                            ),
                            (fidx(deal, "Account_Name"), Some(Val::Ref(cid))),
                            (fidx(deal, "Contact_Name"), Some(Val::Ref(id))),
                        ],
                        n,
                    );
                    deals += 1;
                }
            }
            None => {
                mk(
                    org,
                    lead,
                    vec![
                        (fidx(lead, "First_Name"), s(&p.first_name)),
                        (fidx(lead, "Last_Name"), Some(Val::S(last.into()))),
                        (fidx(lead, "Company"), Some(Val::S("-".into()))),
                        (fidx(lead, "Email"), s(&p.email)),
                        (fidx(lead, "Phone"), s(&p.phone)),
                        (fidx(lead, "Mobile"), s(&p.mobile)),
                        (fidx(lead, "Designation"), p.title.map(|t| Val::S(t.into()))),
                        (fidx(lead, "City"), Some(Val::S(p.city.as_str().into()))),
                    ],
                    n,
                );
                leads += 1;
            }
        }
    }
    json!({
        "account": org.id.to_string(),
        "data_centre": org.dc,
        "created": {"Accounts": company_ids.len(), "Contacts": contacts, "Leads": leads, "Deals": deals},
    })
}

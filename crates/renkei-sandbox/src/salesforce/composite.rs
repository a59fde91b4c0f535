//! Composite resources: Composite (≤ 25 subrequests, references between them, all-or-none),
//! Batch (≤ 25 independent subrequests), sObject Collections (≤ 200 records: create, update,
//! upsert, retrieve, delete) and sObject Tree (≤ 200 records with child relationships).
//!
//! Shapes and limits follow "Composite", "Batch", "sObject Collections" and "sObject Tree" in the
//! REST API Developer Guide. Subrequests run through [`super::rest::dispatch`], the same code as
//! top-level requests. All-or-none is real: writes are journaled and undone on failure.

use serde_json::{Map, Value, json};

use super::errors::ApiError;
use super::rest::{self, Ctx, Reply};
use super::schema::{self, FType, ObjId};

pub const MAX_COMPOSITE: usize = 25;
pub const MAX_COLLECTION: usize = 200;

fn rolled_back() -> Value {
    json!([{
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same transaction failed.",
    }])
}

pub fn route(
    ctx: &mut Ctx<'_>,
    method: &str,
    tail: &[&str],
    ps: &[(String, String)],
    body: &[u8],
) -> Reply {
    let r = match (method, tail) {
        ("POST", []) => composite(ctx, body),
        (m, []) => Err(ApiError::method_not_allowed(m, "POST")),
        ("POST", ["batch"]) => batch(ctx, body),
        (m, ["batch"]) => Err(ApiError::method_not_allowed(m, "POST")),
        ("POST", ["sobjects"]) => collection_write(ctx, body, false, None),
        ("PATCH", ["sobjects"]) => collection_write(ctx, body, true, None),
        ("DELETE", ["sobjects"]) => collection_delete(ctx, ps),
        (m, ["sobjects"]) => Err(ApiError::method_not_allowed(m, "DELETE,PATCH,POST")),
        ("GET", ["sobjects", obj]) => collection_get(ctx, obj, ps, None),
        ("POST", ["sobjects", obj]) => {
            rest::json_body(body).and_then(|b| collection_get(ctx, obj, ps, Some(&b)))
        }
        // Salesforce's Postman collection sends updates to `composite/sobjects/{type}`; the
        // type then stands in for records that do not name theirs.
        ("PATCH", ["sobjects", obj]) => match schema::object(obj) {
            Some((o, _)) => collection_write(ctx, body, true, Some(o)),
            None => Err(ApiError::not_found()),
        },
        ("DELETE", ["sobjects", obj]) if schema::object(obj).is_some() => {
            collection_delete(ctx, ps)
        }
        (m, ["sobjects", _]) => Err(ApiError::method_not_allowed(m, "DELETE,GET,PATCH,POST")),
        ("PATCH", ["sobjects", obj, field]) => collection_upsert(ctx, obj, field, body),
        (m, ["sobjects", _, _]) => Err(ApiError::method_not_allowed(m, "PATCH")),
        ("POST", ["tree", obj]) => tree(ctx, obj, body),
        (m, ["tree", _]) => Err(ApiError::method_not_allowed(m, "POST")),
        _ => Err(ApiError::not_found()),
    };
    r.unwrap_or_else(Reply::err)
}

/// Replaces `@{ref.path}` with values from earlier subrequest bodies.
fn substitute(s: &str, done: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("@{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find('}') else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        let expr = &after[..j];
        let mut parts = expr.split('.');
        let name = parts.next().unwrap_or("");
        let mut cur = done.get(name).ok_or_else(|| expr.to_owned())?;
        for p in parts {
            // `records[0]` style indexes.
            let (key, idx) = match p.find('[') {
                Some(b) => (
                    &p[..b],
                    p[b + 1..].trim_end_matches(']').parse::<usize>().ok(),
                ),
                None => (p, None),
            };
            if !key.is_empty() {
                cur = cur.get(key).ok_or_else(|| expr.to_owned())?;
            }
            if let Some(n) = idx {
                cur = cur.get(n).ok_or_else(|| expr.to_owned())?;
            }
        }
        match cur {
            Value::String(v) => out.push_str(v),
            Value::Null => return Err(expr.to_owned()),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn substitute_value(v: &Value, done: &Map<String, Value>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(substitute(s, done)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| substitute_value(x, done))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut o = Map::new();
            for (k, x) in m {
                o.insert(k.clone(), substitute_value(x, done)?);
            }
            Value::Object(o)
        }
        other => other.clone(),
    })
}

/// Splits a subrequest URL into the part after `/services/data/` and its query string.
fn sub_url(url: &str) -> Option<(String, String)> {
    let (path, q) = url.split_once('?').unwrap_or((url, ""));
    let p = path.strip_prefix("/services/data/")?;
    Some((p.to_owned(), q.to_owned()))
}

fn run_sub(ctx: &mut Ctx<'_>, method: &str, url: &str, body: Option<&Value>) -> Reply {
    let Some((path, q)) = sub_url(url) else {
        return Reply::err(ApiError::not_found());
    };
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let was = ctx.nested;
    ctx.nested = true;
    let r = rest::dispatch(ctx, method, &path, &q, &bytes);
    ctx.nested = was;
    r
}

fn composite(ctx: &mut Ctx<'_>, body: &[u8]) -> Result<Reply, ApiError> {
    let b = rest::json_body(body)?;
    let all_or_none = b["allOrNone"].as_bool().unwrap_or(false);
    let Some(reqs) = b["compositeRequest"].as_array() else {
        return Err(ApiError::json_parse(
            "No content to map due to end-of-input: compositeRequest is required",
        ));
    };
    if reqs.is_empty() || reqs.len() > MAX_COMPOSITE {
        return Err(ApiError::new(
            400,
            "LIMIT_EXCEEDED",
            format!("Composite requests must contain between 1 and {MAX_COMPOSITE} subrequests"),
        )
        .without_fields());
    }
    let mut seen = std::collections::HashSet::new();
    for r in reqs {
        let id = r["referenceId"].as_str().unwrap_or("");
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(
                ApiError::new(400, "INVALID_INPUT", format!("Invalid referenceId: {id}"))
                    .without_fields(),
            );
        }
        if !seen.insert(id.to_owned()) {
            return Err(ApiError::new(
                400,
                "INVALID_INPUT",
                format!("Duplicate referenceId provided in the request: {id}"),
            )
            .without_fields());
        }
    }
    let (started, mark) = ctx.org.savepoint();
    let mut done = Map::new();
    let mut out: Vec<Value> = Vec::new();
    let mut failed = false;
    for r in reqs {
        let reference = r["referenceId"].as_str().unwrap_or("").to_owned();
        if failed && all_or_none {
            out.push(json!({"body": rolled_back(), "httpHeaders": {}, "httpStatusCode": 400, "referenceId": reference}));
            continue;
        }
        let method = r["method"].as_str().unwrap_or("GET").to_ascii_uppercase();
        let reply = match (
            substitute(r["url"].as_str().unwrap_or(""), &done),
            r.get("body")
                .map(|b| substitute_value(b, &done))
                .transpose(),
        ) {
            (Ok(url), Ok(sub_body)) => run_sub(ctx, &method, &url, sub_body.as_ref()),
            (Err(expr), _) | (_, Err(expr)) => Reply::status(
                400,
                json!([{
                    "errorCode": "PROCESSING_HALTED",
                    "message": format!("Invalid reference specified. No value for {expr} found in {}. Provided referenceId ids are case-sensitive.", expr.split('.').next().unwrap_or("")),
                }]),
            ),
        };
        if !reply.is_success() {
            failed = true;
        }
        let mut headers = Map::new();
        if let Some(l) = &reply.location {
            headers.insert("Location".into(), json!(l));
        }
        let body = reply.value();
        if let Some(b) = &body {
            done.insert(reference.clone(), b.clone());
        }
        out.push(json!({
            "body": body.unwrap_or(Value::Null),
            "httpHeaders": headers,
            "httpStatusCode": reply.status,
            "referenceId": reference,
        }));
    }
    if failed && all_or_none {
        ctx.org.rollback_to(mark);
        // Subrequests that had succeeded are reported as rolled back.
        for item in out.iter_mut() {
            if item["httpStatusCode"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s))
            {
                item["body"] = rolled_back();
                item["httpStatusCode"] = json!(400);
                item["httpHeaders"] = json!({});
            }
        }
    }
    ctx.org.release(started);
    Ok(Reply::ok(json!({"compositeResponse": out})))
}

fn batch(ctx: &mut Ctx<'_>, body: &[u8]) -> Result<Reply, ApiError> {
    let b = rest::json_body(body)?;
    let halt = b["haltOnError"].as_bool().unwrap_or(false);
    let Some(reqs) = b["batchRequests"].as_array() else {
        return Err(ApiError::json_parse(
            "No content to map due to end-of-input: batchRequests is required",
        ));
    };
    if reqs.is_empty() || reqs.len() > MAX_COMPOSITE {
        return Err(ApiError::new(
            400,
            "LIMIT_EXCEEDED",
            format!("A batch can contain between 1 and {MAX_COMPOSITE} subrequests"),
        )
        .without_fields());
    }
    // "Each subrequest counts against rate limits" (Batch, REST API Developer Guide): the
    // request itself was counted once already.
    ctx.org.api.used += reqs.len() as u64 - 1;
    let mut results = Vec::new();
    let mut has_errors = false;
    for r in reqs {
        if halt && has_errors {
            results.push(json!({
                "statusCode": 412,
                "result": [{"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}],
            }));
            continue;
        }
        let method = r["method"].as_str().unwrap_or("GET").to_ascii_uppercase();
        let url = r["url"].as_str().unwrap_or("");
        // Batch URLs start at the version: `v62.0/sobjects/Account`.
        let full = format!(
            "/services/data/{}",
            url.trim_start_matches('/')
                .trim_start_matches("services/data/")
        );
        let reply = run_sub(ctx, &method, &full, r.get("richInput"));
        if !reply.is_success() {
            has_errors = true;
        }
        results.push(json!({"statusCode": reply.status, "result": reply.value()}));
    }
    Ok(Reply::ok(
        json!({"hasErrors": has_errors, "results": results}),
    ))
}

fn too_many() -> ApiError {
    ApiError::new(
        400,
        "EXCEEDED_ID_LIMIT",
        format!(
            "record limit reached. cannot submit more than {MAX_COLLECTION} records into this call"
        ),
    )
    .without_fields()
}

fn all_or_none_error() -> Value {
    json!({
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
        "fields": [],
    })
}

/// Runs `ops` (each answering Ok(id, created) or an error) with all-or-none semantics.
fn collection_results(
    ctx: &mut Ctx<'_>,
    all_or_none: bool,
    n: usize,
    with_created: bool,
    mut op: impl FnMut(&mut Ctx<'_>, usize) -> Result<(String, bool), ApiError>,
) -> Reply {
    let (started, mark) = ctx.org.savepoint();
    let mut results: Vec<Result<(String, bool), ApiError>> = Vec::with_capacity(n);
    for i in 0..n {
        let r = op(ctx, i);
        let failed = r.is_err();
        results.push(r);
        if failed && all_or_none {
            break;
        }
    }
    let any_failed = results.iter().any(Result::is_err);
    if any_failed && all_or_none {
        ctx.org.rollback_to(mark);
    }
    ctx.org.release(started);
    let out: Vec<Value> = (0..n)
        .map(|i| match results.get(i) {
            Some(Ok(_)) if any_failed && all_or_none => {
                json!({"id": null, "success": false, "errors": [all_or_none_error()]})
            }
            Some(Ok((id, created))) => {
                let mut v = json!({"id": id, "success": true, "errors": []});
                if with_created {
                    v["created"] = json!(created);
                }
                v
            }
            Some(Err(e)) => json!({"success": false, "errors": [e.collection_item()]}),
            None => json!({"id": null, "success": false, "errors": [all_or_none_error()]}),
        })
        .collect();
    Reply::ok(Value::Array(out))
}

fn record_type(rec: &Value, default: Option<ObjId>) -> Result<ObjId, ApiError> {
    let t = rec["attributes"]["type"].as_str().unwrap_or("");
    if t.is_empty() {
        if let Some(d) = default {
            return Ok(d);
        }
        return Err(
            ApiError::new(400, "INVALID_TYPE", "Must send a concrete entity type.")
                .with_fields(&[]),
        );
    }
    schema::object(t).map(|(i, _)| i).ok_or_else(|| {
        ApiError::new(
            400,
            "INVALID_TYPE",
            format!("sObject type '{t}' is not supported."),
        )
        .with_fields(&[])
    })
}

fn collection_write(
    ctx: &mut Ctx<'_>,
    body: &[u8],
    update: bool,
    default: Option<ObjId>,
) -> Result<Reply, ApiError> {
    let b = rest::json_body(body)?;
    let all_or_none = b["allOrNone"].as_bool().unwrap_or(false);
    let records = b["records"].as_array().cloned().unwrap_or_default();
    if records.len() > MAX_COLLECTION {
        return Err(too_many());
    }
    Ok(collection_results(
        ctx,
        all_or_none,
        records.len(),
        false,
        |ctx, i| {
            let rec = &records[i];
            let obj = record_type(rec, default)?;
            let Some(m) = rec.as_object() else {
                return Err(ApiError::json_parse("record must be an object"));
            };
            let mut m = m.clone();
            if update {
                let id = m
                    .remove("id")
                    .or_else(|| m.remove("Id"))
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .ok_or_else(|| {
                        ApiError::new(
                            400,
                            "MISSING_ARGUMENT",
                            "Id not specified in an update call",
                        )
                        .with_fields(&[])
                    })?;
                let serial = ctx.org.serial_of(obj, &id).ok_or_else(|| {
                    ApiError::new(
                        400,
                        "MALFORMED_ID",
                        format!("Record ID: id value of incorrect type: {id}"),
                    )
                    .with_fields(&["Id"])
                })?;
                ctx.org
                    .update(obj, serial, &m, ctx.user, ctx.now, &ctx.rules)?;
                Ok((ctx.org.id_of(obj, serial), false))
            } else {
                if m.contains_key("id") || m.contains_key("Id") {
                    return Err(ApiError::new(
                        400,
                        "INVALID_FIELD",
                        "cannot specify Id in an insert call",
                    )
                    .with_fields(&["Id"]));
                }
                let serial = ctx.org.create(obj, &m, ctx.user, ctx.now, &ctx.rules)?;
                Ok((ctx.org.id_of(obj, serial), true))
            }
        },
    ))
}

fn collection_delete(ctx: &mut Ctx<'_>, ps: &[(String, String)]) -> Result<Reply, ApiError> {
    let ids: Vec<String> = ps
        .iter()
        .find(|(k, _)| k == "ids")
        .map(|(_, v)| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        return Err(
            ApiError::new(400, "MISSING_ARGUMENT", "Missing required argument: ids")
                .without_fields(),
        );
    }
    if ids.len() > MAX_COLLECTION {
        return Err(too_many());
    }
    let all_or_none = ps
        .iter()
        .any(|(k, v)| k == "allOrNone" && v.eq_ignore_ascii_case("true"));
    Ok(collection_results(
        ctx,
        all_or_none,
        ids.len(),
        false,
        |ctx, i| {
            let id = &ids[i];
            let (prefix, serial) = super::ids::parse(id).ok_or_else(|| {
                ApiError::new(400, "MALFORMED_ID", format!("malformed id {id}")).with_fields(&[])
            })?;
            let (obj, _) = schema::by_prefix(prefix).ok_or_else(|| {
                ApiError::new(
                    400,
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id",
                )
                .with_fields(&[])
            })?;
            ctx.org.delete(obj, serial, ctx.now).map_err(|mut e| {
                e.status = 400;
                if e.code == "NOT_FOUND" {
                    e = ApiError::new(
                        400,
                        "INVALID_CROSS_REFERENCE_KEY",
                        "invalid cross reference id",
                    );
                }
                e.fields.get_or_insert_with(Vec::new);
                e
            })?;
            Ok((ctx.org.id_of(obj, serial), false))
        },
    ))
}

fn collection_get(
    ctx: &mut Ctx<'_>,
    obj: &str,
    ps: &[(String, String)],
    body: Option<&Value>,
) -> Result<Reply, ApiError> {
    let (obj, o) = schema::object(obj).ok_or_else(ApiError::not_found)?;
    let list = |k: &str| -> Vec<String> {
        match body {
            Some(b) => b[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            None => ps
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| {
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    };
    let ids = list("ids");
    let fields = list("fields");
    if ids.is_empty() {
        return Err(
            ApiError::new(400, "MISSING_ARGUMENT", "Missing required argument: ids")
                .without_fields(),
        );
    }
    if fields.is_empty() {
        return Err(
            ApiError::new(400, "MISSING_ARGUMENT", "Missing required argument: fields")
                .without_fields(),
        );
    }
    if ids.len() > 2000 {
        return Err(too_many());
    }
    let mut idx = Vec::new();
    for f in &fields {
        let (i, _) = o.field(f).ok_or_else(|| {
            ApiError::new(
                400,
                "INVALID_FIELD",
                format!("No such column '{f}' on entity '{}'.", o.name),
            )
            .without_fields()
        })?;
        idx.push(i);
    }
    let out: Vec<Value> = ids
        .iter()
        .map(|id| {
            ctx.org
                .serial_of(obj, id)
                .and_then(|s| ctx.org.live(obj, s).ok())
                .map(|r| ctx.org.record_json(obj, r, &ctx.version, Some(&idx)))
                .unwrap_or(Value::Null)
        })
        .collect();
    Ok(Reply::ok(Value::Array(out)))
}

fn collection_upsert(
    ctx: &mut Ctx<'_>,
    obj: &str,
    field: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let (obj, o) = schema::object(obj).ok_or_else(ApiError::not_found)?;
    let (idx, f) = o
        .field(field)
        .filter(|(_, f)| f.external_id || f.ty == FType::Id)
        .ok_or_else(|| {
            ApiError::new(
                404,
                "NOT_FOUND",
                format!("Provided external ID field does not exist or is not accessible: {field}"),
            )
            .without_fields()
        })?;
    let b = rest::json_body(body)?;
    let all_or_none = b["allOrNone"].as_bool().unwrap_or(false);
    let records = b["records"].as_array().cloned().unwrap_or_default();
    if records.len() > MAX_COLLECTION {
        return Err(too_many());
    }
    Ok(collection_results(
        ctx,
        all_or_none,
        records.len(),
        true,
        |ctx, i| {
            let rec = &records[i];
            let t = record_type(rec, Some(obj))?;
            if t != obj {
                return Err(ApiError::new(
                    400,
                    "INVALID_TYPE",
                    format!(
                        "The type {} does not match the URL's {}",
                        schema::obj(t).name,
                        o.name
                    ),
                )
                .with_fields(&[]));
            }
            let mut m = rec.as_object().cloned().unwrap_or_default();
            let key = m
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(f.name))
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
                .ok_or_else(|| {
                    ApiError::new(400, "MISSING_ARGUMENT", format!("{} not specified", f.name))
                        .with_fields(&[f.name])
                })?;
            let matches = if f.ty == FType::Id {
                ctx.org.serial_of(obj, &key).into_iter().collect::<Vec<_>>()
            } else {
                ctx.org.tables[obj].find(o, idx, &key)
            };
            if matches.len() > 1 {
                return Err(ApiError::new(
                    400,
                    "DUPLICATE_EXTERNAL_ID",
                    format!(
                        "{}: more than one record found for external id field: {key}",
                        f.label
                    ),
                )
                .with_fields(&[f.name]));
            }
            match matches.first() {
                Some(serial) => {
                    m.retain(|k, _| !k.eq_ignore_ascii_case(f.name));
                    ctx.org
                        .update(obj, *serial, &m, ctx.user, ctx.now, &ctx.rules)?;
                    Ok((ctx.org.id_of(obj, *serial), false))
                }
                None => {
                    if f.ty == FType::Id {
                        m.retain(|k, _| !k.eq_ignore_ascii_case("Id"));
                    }
                    let serial = ctx.org.create(obj, &m, ctx.user, ctx.now, &ctx.rules)?;
                    Ok((ctx.org.id_of(obj, serial), true))
                }
            }
        },
    ))
}

/// The child object and lookup field behind a child relationship name of `parent`.
fn child_of(parent: &str, rel: &str) -> Option<(ObjId, &'static str)> {
    for (i, child) in schema::objects().iter().enumerate() {
        for f in &child.fields {
            if f.reference_to.contains(&parent)
                && rest::child_relationship(child.name, f.name)
                    .is_some_and(|r| r.eq_ignore_ascii_case(rel))
            {
                return Some((i, f.name));
            }
        }
    }
    None
}

fn count_tree(records: &[Value]) -> usize {
    records
        .iter()
        .map(|r| {
            1 + r
                .as_object()
                .map(|m| {
                    m.values()
                        .filter_map(|v| v["records"].as_array())
                        .map(|c| count_tree(c))
                        .sum::<usize>()
                })
                .unwrap_or(0)
        })
        .sum()
}

fn tree(ctx: &mut Ctx<'_>, obj: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let (obj, _) = schema::object(obj).ok_or_else(ApiError::not_found)?;
    let b = rest::json_body(body)?;
    let records = b["records"].as_array().cloned().unwrap_or_default();
    if count_tree(&records) > MAX_COLLECTION {
        return Err(too_many());
    }
    let (started, mark) = ctx.org.savepoint();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    fn insert(
        ctx: &mut Ctx<'_>,
        obj: ObjId,
        recs: &[Value],
        parent: Option<(&str, String)>,
        results: &mut Vec<Value>,
        errors: &mut Vec<Value>,
    ) {
        let o = schema::obj(obj);
        for rec in recs {
            let reference = rec["attributes"]["referenceId"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let Some(m) = rec.as_object() else { continue };
            let mut fields = Map::new();
            let mut children = Vec::new();
            for (k, v) in m {
                if k == "attributes" {
                    continue;
                }
                if v.get("records").is_some() {
                    children.push((
                        k.clone(),
                        v["records"].as_array().cloned().unwrap_or_default(),
                    ));
                } else {
                    fields.insert(k.clone(), v.clone());
                }
            }
            if let Some((f, id)) = &parent {
                fields.insert((*f).to_owned(), Value::String(id.clone()));
            }
            match ctx.org.create(obj, &fields, ctx.user, ctx.now, &ctx.rules) {
                Ok(serial) => {
                    let id = ctx.org.id_of(obj, serial);
                    results.push(json!({"referenceId": reference, "id": id}));
                    for (rel, recs) in children {
                        match child_of(o.name, &rel) {
                            Some((child, field)) => insert(ctx, child, &recs, Some((field, id.clone())), results, errors),
                            None => errors.push(json!({"referenceId": reference, "errors": [{
                                "statusCode": "INVALID_FIELD",
                                "message": format!("No such column '{rel}' on sobject of type {}", o.name),
                                "fields": [],
                            }]})),
                        }
                    }
                }
                Err(e) => {
                    errors.push(json!({"referenceId": reference, "errors": [e.collection_item()]}))
                }
            }
        }
    }
    insert(ctx, obj, &records, None, &mut results, &mut errors);
    if !errors.is_empty() {
        ctx.org.rollback_to(mark);
        ctx.org.release(started);
        return Ok(Reply::status(
            400,
            json!({"hasErrors": true, "results": errors}),
        ));
    }
    ctx.org.release(started);
    Ok(Reply::status(
        201,
        json!({"hasErrors": false, "results": results}),
    ))
}

//! The REST API under `{instance}/services/data/`: the version list, the resource list,
//! describeGlobal and describe, sObject rows (create, read, update, delete), upsert and read by
//! external id, the `updated`/`deleted` replication windows, `limits` and `limits/recordCount`,
//! and the routing of `query`, `search` and `composite` to their modules.
//!
//! Everything is a plain function of `(org, method, path, query string, body)` answering a
//! [`Reply`], so that Composite and Batch subrequests run through exactly the same code as
//! top-level requests ("REST API Developer Guide", Salesforce, API version 62.0).

use serde_json::{Map, Value, json};

use super::errors::ApiError;
use super::query;
use super::schema::{self, FType, ObjId};
use super::store::{Org, Rules, parse_datetime, sf_datetime};
use super::{API_VERSION, MAX_VERSION, MIN_VERSION};

/// What a request runs against.
pub struct Ctx<'a> {
    pub org: &'a mut Org,
    /// The user (serial) the token belongs to.
    pub user: u64,
    pub now: i64,
    pub rules: Rules,
    /// `v62.0` as the request spelled it.
    pub version: String,
    pub batch_size: usize,
    pub next_cursor: &'a mut u64,
    pub daily_max: u64,
    /// Set inside a composite subrequest: composite resources cannot nest.
    pub nested: bool,
}

/// A REST answer before it becomes an HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Body>,
    pub location: Option<String>,
}

/// A reply's JSON body: a tree, or (query pages, which are large) JSON text already written.
#[derive(Debug, Clone)]
pub enum Body {
    Json(Value),
    Raw(Vec<u8>),
}

impl Reply {
    pub fn ok(v: Value) -> Reply {
        Reply::status(200, v)
    }
    pub fn status(status: u16, v: Value) -> Reply {
        Reply {
            status,
            body: Some(Body::Json(v)),
            location: None,
        }
    }
    /// A 200 whose body is JSON text already written.
    pub fn raw(json: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            body: Some(Body::Raw(json)),
            location: None,
        }
    }
    /// The body as a `Value` (composite subrequests embed it in their answer).
    pub fn value(&self) -> Option<Value> {
        match self.body.as_ref()? {
            Body::Json(v) => Some(v.clone()),
            Body::Raw(b) => serde_json::from_slice(b).ok(),
        }
    }
    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            location: None,
        }
    }
    pub fn err(e: ApiError) -> Reply {
        Reply::status(e.status, e.body())
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Decodes `a=b&c=d` (percent-encoding and `+` as space).
pub fn params(query: &str) -> Vec<(String, String)> {
    crate::http::form_pairs(query.as_bytes())
}

fn param<'a>(ps: &'a [(String, String)], k: &str) -> Option<&'a str> {
    ps.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// Parses a JSON body with Salesforce's `JSON_PARSER_ERROR` wording.
pub fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::json_parse(
            "The HTTP entity body is required, but this request has no entity body.",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        let text = String::from_utf8_lossy(body);
        let line = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
        let ch = line.chars().nth(e.column().saturating_sub(1)).unwrap_or(' ');
        ApiError::json_parse(format!(
            "Unexpected character ('{ch}' (code {})): expected a valid value (number, String, array, object, 'true', 'false' or 'null') at [line:{}, column:{}]",
            ch as u32,
            e.line(),
            e.column()
        ))
    })
}

fn object_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match json_body(body)? {
        Value::Object(m) => Ok(m),
        other => Err(ApiError::json_parse(format!(
            "Cannot deserialize instance of sObject from {} value or request may be missing a required field",
            if other.is_array() {
                "START_ARRAY"
            } else {
                "VALUE"
            }
        ))),
    }
}

/// The versions served, as `GET /services/data/` lists them.
pub fn versions() -> Value {
    Value::Array(
        (MIN_VERSION..=MAX_VERSION)
            .map(|v| {
                json!({
                    "label": release_label(v),
                    "url": format!("/services/data/v{v}.0"),
                    "version": format!("{v}.0"),
                })
            })
            .collect(),
    )
}

/// "Winter '25" for 62: three releases a year, Spring '18 was 42.
fn release_label(v: u32) -> String {
    let k = v.saturating_sub(42);
    let year = 18 + k / 3;
    match k % 3 {
        0 => format!("Spring '{year}"),
        1 => format!("Summer '{year}"),
        _ => format!("Winter '{}", year + 1),
    }
}

/// `v59.0` → 59 when served.
pub fn served_version(seg: &str) -> Option<u32> {
    let n = seg
        .strip_prefix('v')?
        .strip_suffix(".0")?
        .parse::<u32>()
        .ok()?;
    (MIN_VERSION..=MAX_VERSION).contains(&n).then_some(n)
}

/// Runs one REST request. `path` is what follows `/services/data/` (e.g. `v62.0/sobjects/Lead`).
pub fn dispatch(
    ctx: &mut Ctx<'_>,
    method: &str,
    path: &str,
    query_string: &str,
    body: &[u8],
) -> Reply {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(first) = segs.first() else {
        return match method {
            "GET" | "HEAD" => Reply::ok(versions()),
            m => Reply::err(ApiError::method_not_allowed(m, "GET,HEAD")),
        };
    };
    if served_version(first).is_none() {
        return Reply::err(ApiError::not_found());
    }
    ctx.version = (*first).to_owned();
    let ps = params(query_string);
    let rest = &segs[1..];
    match rest {
        [] => match method {
            "GET" => Reply::ok(resources(&ctx.version)),
            m => Reply::err(ApiError::method_not_allowed(m, "GET,HEAD")),
        },
        ["sobjects", tail @ ..] => sobjects(ctx, method, tail, &ps, body),
        ["query"] | ["queryAll"] => {
            if method != "GET" {
                return Reply::err(ApiError::method_not_allowed(method, "GET,HEAD"));
            }
            match param(&ps, "q") {
                Some(q) if !q.trim().is_empty() => query::query(ctx, q, rest[0] == "queryAll"),
                _ => Reply::err(ApiError::malformed_query(
                    "A query string has to be specified",
                )),
            }
        }
        ["query", token] | ["queryAll", token] => {
            if method != "GET" {
                return Reply::err(ApiError::method_not_allowed(method, "GET,HEAD"));
            }
            query::query_more(ctx, token)
        }
        ["search"] => {
            if method != "GET" {
                return Reply::err(ApiError::method_not_allowed(method, "GET,HEAD"));
            }
            let Some(q) = param(&ps, "q").filter(|q| !q.trim().is_empty()) else {
                return Reply::err(
                    ApiError::new(
                        400,
                        "MALFORMED_SEARCH",
                        "No search term found. The search term must be enclosed in braces.",
                    )
                    .without_fields(),
                );
            };
            match query::parse_sosl(ctx, q) {
                Ok(s) => Reply::ok(query::execute(ctx, &s)),
                Err(e) => Reply::err(e),
            }
        }
        ["parameterizedSearch"] => {
            let search = match method {
                "GET" => query::parameterized_get(ctx, &ps),
                "POST" => json_body(body).and_then(|b| query::parameterized_post(ctx, &b)),
                m => return Reply::err(ApiError::method_not_allowed(m, "GET,HEAD,POST")),
            };
            match search {
                Ok(s) => Reply::ok(query::execute(ctx, &s)),
                Err(e) => Reply::err(e),
            }
        }
        ["limits"] => match method {
            "GET" => Reply::ok(limits(ctx)),
            m => Reply::err(ApiError::method_not_allowed(m, "GET,HEAD")),
        },
        ["limits", "recordCount"] => match method {
            "GET" => record_count(ctx, &ps),
            m => Reply::err(ApiError::method_not_allowed(m, "GET,HEAD")),
        },
        ["composite", tail @ ..] => {
            if ctx.nested && !matches!(tail, ["sobjects", ..]) {
                return Reply::err(ApiError::not_found());
            }
            super::composite::route(ctx, method, tail, &ps, body)
        }
        _ => Reply::err(ApiError::not_found()),
    }
}

fn resources(version: &str) -> Value {
    let mut m = Map::new();
    for r in [
        "sobjects",
        "query",
        "queryAll",
        "search",
        "parameterizedSearch",
        "limits",
        "composite",
    ] {
        m.insert(r.into(), json!(format!("/services/data/{version}/{r}")));
    }
    Value::Object(m)
}

fn find_object(name: &str) -> Result<(ObjId, &'static schema::Object), ApiError> {
    schema::object(name).ok_or_else(ApiError::not_found)
}

fn sobjects(
    ctx: &mut Ctx<'_>,
    method: &str,
    tail: &[&str],
    ps: &[(String, String)],
    body: &[u8],
) -> Reply {
    let r = match tail {
        [] => match method {
            "GET" => Ok(describe_global(&ctx.version)),
            m => Err(ApiError::method_not_allowed(m, "GET,HEAD")),
        },
        [name] => match method {
            "GET" => find_object(name).map(|(obj, _)| basic_info(ctx, obj)),
            "POST" => find_object(name).and_then(|(obj, _)| create(ctx, obj, body)),
            m => Err(ApiError::method_not_allowed(m, "GET,HEAD,POST")),
        },
        [name, "describe"] => match method {
            "GET" => find_object(name).map(|(obj, _)| Reply::ok(describe(obj, &ctx.version))),
            m => Err(ApiError::method_not_allowed(m, "GET,HEAD")),
        },
        [name, which @ ("updated" | "deleted")] => match method {
            "GET" => find_object(name).and_then(|(obj, _)| replication(ctx, obj, which, ps)),
            m => Err(ApiError::method_not_allowed(m, "GET,HEAD")),
        },
        [name, id] => find_object(name).and_then(|(obj, o)| {
            let Some(serial) = ctx.org.serial_of(obj, id) else {
                return Err(ApiError::new(
                    404,
                    "NOT_FOUND",
                    format!("Provided external ID field does not exist or is not accessible: {id}"),
                )
                .without_fields());
            };
            match method {
                "GET" => read(ctx, obj, serial, ps),
                "PATCH" if !o.updateable => Err(ApiError::method_not_allowed("PATCH", "GET,HEAD")),
                "DELETE" if !o.deletable => Err(ApiError::method_not_allowed(
                    "DELETE",
                    if o.updateable {
                        "GET,HEAD,PATCH"
                    } else {
                        "GET,HEAD"
                    },
                )),
                "PATCH" => {
                    let b = object_body(body)?;
                    ctx.org
                        .update(obj, serial, &b, ctx.user, ctx.now, &ctx.rules)?;
                    Ok(Reply::no_content())
                }
                "DELETE" => {
                    ctx.org.delete(obj, serial, ctx.now)?;
                    Ok(Reply::no_content())
                }
                m => Err(ApiError::method_not_allowed(m, "GET,HEAD,PATCH,DELETE")),
            }
        }),
        [name, field, value] => find_object(name)
            .and_then(|(obj, _)| by_external_id(ctx, method, obj, field, value, body, ps)),
        _ => Err(ApiError::not_found()),
    };
    r.unwrap_or_else(Reply::err)
}

fn read(
    ctx: &Ctx<'_>,
    obj: ObjId,
    serial: u64,
    ps: &[(String, String)],
) -> Result<Reply, ApiError> {
    let o = schema::obj(obj);
    let rec = ctx.org.live(obj, serial)?;
    let only = match param(ps, "fields") {
        None => None,
        Some(list) => {
            let mut idx = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (i, _) = o.field(name).ok_or_else(|| {
                    ApiError::new(
                        400,
                        "INVALID_FIELD",
                        format!(
                            "No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                            o.name
                        ),
                    )
                    .without_fields()
                })?;
                idx.push(i);
            }
            Some(idx)
        }
    };
    Ok(Reply::ok(ctx.org.record_json(
        obj,
        rec,
        &ctx.version,
        only.as_deref(),
    )))
}

pub fn create(ctx: &mut Ctx<'_>, obj: ObjId, body: &[u8]) -> Result<Reply, ApiError> {
    let b = object_body(body)?;
    let serial = ctx.org.create(obj, &b, ctx.user, ctx.now, &ctx.rules)?;
    let id = ctx.org.id_of(obj, serial);
    let mut r = Reply::status(201, json!({"id": id, "success": true, "errors": []}));
    r.location = Some(format!(
        "/services/data/{}/sobjects/{}/{id}",
        ctx.version,
        schema::obj(obj).name
    ));
    Ok(r)
}

/// `GET|PATCH|DELETE /sobjects/{type}/{externalIdField}/{value}` ("Insert or Update (Upsert) a
/// Record Using an External ID", REST API Developer Guide).
fn by_external_id(
    ctx: &mut Ctx<'_>,
    method: &str,
    obj: ObjId,
    field: &str,
    value: &str,
    body: &[u8],
    _ps: &[(String, String)],
) -> Result<Reply, ApiError> {
    let o = schema::obj(obj);
    let not_ext = || {
        ApiError::new(
            404,
            "NOT_FOUND",
            format!("Provided external ID field does not exist or is not accessible: {field}"),
        )
        .without_fields()
    };
    let (idx, f) = o.field(field).ok_or_else(not_ext)?;
    if !(f.external_id || f.ty == FType::Id) {
        return Err(not_ext());
    }
    let matches: Vec<u64> = if f.ty == FType::Id {
        ctx.org
            .serial_of(obj, value)
            .filter(|s| ctx.org.live(obj, *s).is_ok())
            .into_iter()
            .collect()
    } else {
        ctx.org.tables[obj].find(o, idx, value)
    };
    if matches.len() > 1 {
        let urls: Vec<String> = matches
            .iter()
            .map(|s| {
                format!(
                    "/services/data/{}/sobjects/{}/{}",
                    ctx.version,
                    o.name,
                    ctx.org.id_of(obj, *s)
                )
            })
            .collect();
        return Ok(Reply::status(300, json!(urls)));
    }
    match method {
        "GET" => {
            let serial = *matches.first().ok_or_else(ApiError::not_found)?;
            let rec = ctx.org.live(obj, serial)?;
            Ok(Reply::ok(ctx.org.record_json(obj, rec, &ctx.version, None)))
        }
        "DELETE" => {
            let serial = *matches.first().ok_or_else(ApiError::not_found)?;
            ctx.org.delete(obj, serial, ctx.now)?;
            Ok(Reply::no_content())
        }
        "PATCH" => {
            let mut b = object_body(body)?;
            if let Some(existing) = b.keys().find(|k| k.eq_ignore_ascii_case(f.name)).cloned() {
                // The value comes from the URL; a different one in the body is refused.
                if b[&existing].as_str() != Some(value) {
                    return Err(ApiError::new(
                        400,
                        "INVALID_FIELD",
                        format!(
                            "The field {} in the URL does not match the value in the body",
                            f.name
                        ),
                    )
                    .with_fields(&[f.name]));
                }
                b.remove(&existing);
            }
            match matches.first() {
                Some(serial) => {
                    ctx.org
                        .update(obj, *serial, &b, ctx.user, ctx.now, &ctx.rules)?;
                    Ok(Reply::ok(json!({
                        "id": ctx.org.id_of(obj, *serial),
                        "success": true,
                        "errors": [],
                        "created": false,
                    })))
                }
                None if f.ty == FType::Id => Err(ApiError::not_found()),
                None => {
                    b.insert(f.name.into(), Value::String(value.to_owned()));
                    let serial = ctx.org.create(obj, &b, ctx.user, ctx.now, &ctx.rules)?;
                    Ok(Reply::status(
                        201,
                        json!({
                            "id": ctx.org.id_of(obj, serial),
                            "success": true,
                            "errors": [],
                            "created": true,
                        }),
                    ))
                }
            }
        }
        m => Err(ApiError::method_not_allowed(m, "GET,HEAD,PATCH,DELETE")),
    }
}

fn urls(o: &schema::Object, version: &str) -> Value {
    json!({
        "sobject": format!("/services/data/{version}/sobjects/{}", o.name),
        "describe": format!("/services/data/{version}/sobjects/{}/describe", o.name),
        "rowTemplate": format!("/services/data/{version}/sobjects/{}/{{ID}}", o.name),
    })
}

fn global_entry(o: &schema::Object, version: &str) -> Value {
    json!({
        "activateable": false,
        "createable": o.createable,
        "custom": o.custom(),
        "customSetting": false,
        "deletable": o.deletable,
        "deprecatedAndHidden": false,
        // `feedEnabled` says whether Chatter feeds are enabled for the object
        // ("DescribeGlobalSObjectResult", SOAP API Developer Guide), and a new custom object
        // has none until an admin turns on its feed tracking.
        "feedEnabled": o.searchable && !o.custom(),
        "hasSubtypes": false,
        "isInterface": false,
        "isSubtype": false,
        "keyPrefix": o.prefix,
        "label": o.label,
        "labelPlural": o.label_plural,
        "layoutable": true,
        "mergeable": matches!(o.name, "Account" | "Contact" | "Lead"),
        "mruEnabled": true,
        "name": o.name,
        "queryable": true,
        "replicateable": true,
        "retrieveable": true,
        "searchable": o.searchable,
        "triggerable": o.createable,
        "undeletable": o.deletable,
        "updateable": o.updateable,
        "urls": urls(o, version),
    })
}

fn describe_global(version: &str) -> Reply {
    Reply::ok(json!({
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": schema::objects().iter().map(|o| global_entry(o, version)).collect::<Vec<_>>(),
    }))
}

fn basic_info(ctx: &Ctx<'_>, obj: ObjId) -> Reply {
    let o = schema::obj(obj);
    let name_idx = o.name_field();
    let recent: Vec<Value> = ctx.org.tables[obj]
        .records
        .values()
        .rev()
        .filter(|r| r.deleted.is_none())
        .take(25)
        .map(|r| {
            let mut m = Map::new();
            m.insert(
                "attributes".into(),
                ctx.org.attributes(obj, r.serial, &ctx.version),
            );
            m.insert("Id".into(), json!(ctx.org.id_of(obj, r.serial)));
            if let Some(i) = name_idx {
                let f = &o.fields[i as usize];
                m.insert(
                    f.name.into(),
                    super::store::val_json(f, ctx.org.value(obj, r, i).as_ref()),
                );
            }
            Value::Object(m)
        })
        .collect();
    Reply::ok(json!({"objectDescribe": global_entry(o, &ctx.version), "recentItems": recent}))
}

/// The child relationship name a parent sees (`Contacts` on Account).
pub fn child_relationship(child: &str, field: &str) -> Option<&'static str> {
    match (child, field) {
        ("Contact", "AccountId") => Some("Contacts"),
        ("Opportunity", "AccountId") => Some("Opportunities"),
        ("Task", "WhatId") | ("Task", "WhoId") => Some("Tasks"),
        ("Event", "WhatId") | ("Event", "WhoId") => Some("Events"),
        ("Note", "ParentId") => Some("Notes"),
        ("Account", "ParentId") => Some("ChildAccounts"),
        // Opportunity and Contact both call their roles `OpportunityContactRoles`.
        ("OpportunityContactRole", "OpportunityId") | ("OpportunityContactRole", "ContactId") => {
            Some("OpportunityContactRoles")
        }
        // The Child Relationship Name Setup proposes is the child's plural label; the API adds
        // `__r` ("Understanding Relationship Names, Custom Objects, and Custom Fields", SOQL and
        // SOSL Reference).
        ("Project__c", "Account__c") => Some("Projects__r"),
        _ => None,
    }
}

fn describe(obj: ObjId, version: &str) -> Value {
    let o = schema::obj(obj);
    let fields: Vec<Value> = o
        .fields
        .iter()
        .map(|f| {
            let text = f.ty.is_text() || f.ty.is_id();
            let long = f.ty == FType::Textarea && f.length > 255;
            json!({
                "aggregatable": !long,
                "autoNumber": false,
                "byteLength": if text { f.length * 3 } else { 0 },
                "calculated": f.src == schema::Src::FullName,
                "caseSensitive": false,
                "createable": f.createable,
                "custom": f.custom,
                "defaultValue": f.default,
                "defaultedOnCreate": f.default.is_some() || f.name == "OwnerId" || (f.ty == FType::Boolean && !f.nillable) || f.src != schema::Src::Stored,
                "digits": 0,
                "externalId": f.external_id,
                "filterable": !long,
                "groupable": !long && f.ty != FType::Datetime,
                "htmlFormatted": false,
                "idLookup": f.id_lookup,
                "label": f.label,
                "length": if text { f.length } else { 0 },
                "name": f.name,
                "nameField": f.name_field,
                "nillable": f.nillable,
                "permissionable": f.nillable && f.createable,
                "picklistValues": f.picklist.iter().map(|v| json!({
                    "active": true,
                    "defaultValue": f.default == Some(*v),
                    "label": v,
                    "validFor": null,
                    "value": v,
                })).collect::<Vec<_>>(),
                "polymorphicForeignKey": f.reference_to.len() > 1,
                "precision": if matches!(f.ty, FType::Currency | FType::Double) { 18 } else if f.ty == FType::Percent { 3 } else { 0 },
                "referenceTo": f.reference_to,
                "relationshipName": f.relationship,
                "restrictedPicklist": f.restricted,
                "scale": if matches!(f.ty, FType::Currency | FType::Double | FType::Percent) { 2 } else { 0 },
                "soapType": f.ty.soap(),
                "sortable": !long,
                "type": f.ty.api(),
                "unique": f.unique,
                "updateable": f.updateable,
            })
        })
        .collect();
    let mut children = Vec::new();
    for child in schema::objects() {
        for f in &child.fields {
            if f.reference_to.contains(&o.name) && f.src == schema::Src::Stored {
                children.push(json!({
                    "cascadeDelete": false,
                    "childSObject": child.name,
                    "deprecatedAndHidden": false,
                    "field": f.name,
                    "relationshipName": child_relationship(child.name, f.name),
                }));
            }
        }
    }
    let mut d = global_entry(o, version);
    if let Value::Object(m) = &mut d {
        m.insert("fields".into(), Value::Array(fields));
        m.insert("childRelationships".into(), Value::Array(children));
        m.insert("recordTypeInfos".into(), json!([]));
        m.insert("actionOverrides".into(), json!([]));
        m.insert("compactLayoutable".into(), json!(true));
        m.insert("searchLayoutable".into(), json!(o.searchable));
        m.insert("listviewable".into(), Value::Null);
        m.insert("lookupLayoutable".into(), Value::Null);
        m.insert("networkScopeFieldName".into(), Value::Null);
        m.insert("sobjectDescribeOption".into(), json!("FULL"));
    }
    d
}

/// `GET /limits` ("List Organization Limits"): the daily API allowance is live, the others are
/// the Developer Edition's published figures, static because nothing here consumes them.
fn limits(ctx: &Ctx<'_>) -> Value {
    let used = ctx.org.api.used;
    let storage = ctx.org.storage_mb();
    let fixed = |max: u64| json!({"Max": max, "Remaining": max});
    json!({
        "ConcurrentAsyncGetReportInstances": fixed(200),
        "ConcurrentSyncReportRuns": fixed(20),
        "DailyApiRequests": {"Max": ctx.daily_max, "Remaining": ctx.daily_max.saturating_sub(used)},
        "DailyAsyncApexExecutions": fixed(250000),
        "DailyBulkApiBatches": fixed(15000),
        "DailyBulkV2QueryFileStorageMB": fixed(976562),
        "DailyBulkV2QueryJobs": fixed(10000),
        "DailyGenericStreamingApiEvents": fixed(10000),
        "DailyStreamingApiEvents": fixed(10000),
        "DailyWorkflowEmails": fixed(390),
        "DataStorageMB": {"Max": 5, "Remaining": 5i64 - storage as i64},
        "FileStorageMB": fixed(20),
        "HourlyDashboardRefreshes": fixed(200),
        "HourlyODataCallout": fixed(10000),
        "HourlySyncReportRuns": fixed(500),
        "HourlyTimeBasedWorkflow": fixed(50),
        "MassEmail": fixed(10),
        "SingleEmail": fixed(15),
    })
}

fn record_count(ctx: &Ctx<'_>, ps: &[(String, String)]) -> Reply {
    let wanted: Vec<String> = param(ps, "sObjects")
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let list: Vec<Value> = schema::objects()
        .iter()
        .enumerate()
        .filter(|(_, o)| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(o.name)))
        .map(|(i, o)| json!({"count": ctx.org.tables[i].live, "name": o.name}))
        .collect();
    Reply::ok(json!({"sObjects": list}))
}

/// `updated` and `deleted` ("Get Updated Records" / "Get Deleted Records", REST API Developer
/// Guide): `start` and `end` are required; records are reported with minute precision, and the
/// window may not start more than 30 days ago (the Recycle Bin's retention).
fn replication(
    ctx: &Ctx<'_>,
    obj: ObjId,
    which: &str,
    ps: &[(String, String)],
) -> Result<Reply, ApiError> {
    let get = |k: &str| {
        let v = param(ps, k).filter(|v| !v.is_empty()).ok_or_else(|| {
            ApiError::new(
                400,
                "MISSING_ARGUMENT",
                format!("Missing required argument: {k}"),
            )
            .without_fields()
        })?;
        parse_datetime(v).ok_or_else(|| {
            ApiError::new(
                400,
                "INVALID_REPLICATION_DATE",
                format!("{k}: invalid date: {v}"),
            )
            .without_fields()
        })
    };
    let start = get("start")?;
    let end = get("end")?;
    if end < start {
        return Err(ApiError::new(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate",
        )
        .without_fields());
    }
    let oldest = ctx.now - 30 * 86_400_000;
    if start < oldest {
        return Err(ApiError::new(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate cannot be more than 30 days ago",
        )
        .without_fields());
    }
    let minute = |ms: i64| ms - ms.rem_euclid(60_000);
    let latest = minute(end.min(ctx.now));
    let table = &ctx.org.tables[obj];
    if which == "updated" {
        let ids: Vec<String> = table
            .records
            .values()
            .filter(|r| {
                r.deleted.is_none() && r.modified >= minute(start) && r.modified < latest + 60_000
            })
            .map(|r| ctx.org.id_of(obj, r.serial))
            .collect();
        return Ok(Reply::ok(
            json!({"ids": ids, "latestDateCovered": sf_datetime(latest)}),
        ));
    }
    let deleted: Vec<Value> = table
        .records
        .values()
        .filter_map(|r| r.deleted.map(|d| (r, d)))
        .filter(|(_, d)| *d >= minute(start) && *d < latest + 60_000)
        .map(|(r, d)| json!({"id": ctx.org.id_of(obj, r.serial), "deletedDate": sf_datetime(d)}))
        .collect();
    let earliest = table
        .records
        .values()
        .filter_map(|r| r.deleted)
        .min()
        .unwrap_or(latest);
    Ok(Reply::ok(json!({
        "deletedRecords": deleted,
        "earliestDateAvailable": sf_datetime(minute(earliest)),
        "latestDateCovered": sf_datetime(latest),
    })))
}

/// The documented version, for the directory.
pub fn documented_version() -> String {
    format!("v{API_VERSION}.0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_labels_follow_the_calendar() {
        assert_eq!(release_label(62), "Winter '25");
        assert_eq!(release_label(59), "Winter '24");
        assert_eq!(release_label(60), "Spring '24");
        assert_eq!(release_label(61), "Summer '24");
        assert_eq!(served_version("v59.0"), Some(59));
        assert_eq!(served_version("v20.0"), None);
        assert_eq!(served_version("v62"), None);
    }

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            params("q=SELECT+Id+FROM+Lead&start=2024-01-01T00%3A00%3A00%2B00%3A00"),
            vec![
                ("q".to_owned(), "SELECT Id FROM Lead".to_owned()),
                ("start".to_owned(), "2024-01-01T00:00:00+00:00".to_owned())
            ]
        );
    }
}

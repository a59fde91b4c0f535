//! CRM search (`POST /crm/v3/objects/{objectType}/search`), as HubSpot's "Search the CRM"
//! guide describes it: `filterGroups` (groups are ORed, filters inside a group ANDed) with the
//! operators EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY,
//! CONTAINS_TOKEN and NOT_CONTAINS_TOKEN; at most 5 filter groups, 6 filters per group and 18
//! filters in all; one sort; a free-text `query` over the object's default searchable
//! properties; `limit` up to 200; and at most 10,000 results reachable by paging (`after` is
//! an offset). String comparisons ignore case, as HubSpot's do. The pseudo-property
//! `associations.{type}` (EQ or IN a record id) keeps the records associated with that record.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Hubspot;
use super::auth::Ctx;
use super::errors::{HsError, HsJson, decode};
use super::objects::{object, record_json};
use super::props::parse_time;
use super::store::{ObjType, Portal, Record, Table};

pub const MAX_GROUPS: usize = 5;
pub const MAX_FILTERS_PER_GROUP: usize = 6;
pub const MAX_FILTERS: usize = 18;
pub const MAX_LIMIT: usize = 200;
pub const MAX_RESULTS: usize = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    property_name: String,
    operator: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    high_value: Option<Value>,
    #[serde(default)]
    values: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct Group {
    #[serde(default)]
    filters: Vec<Filter>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Sort {
    Text(String),
    Object {
        #[serde(rename = "propertyName")]
        property_name: String,
        #[serde(default)]
        direction: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[serde(default)]
    filter_groups: Vec<Group>,
    #[serde(default)]
    sorts: Vec<Sort>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    after: Option<Value>,
}

const OPERATORS: &[&str] = &[
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
];

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// How a property's values compare.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Number,
    Time,
    Text,
}

fn kind(table: &Table, name: &str) -> Kind {
    if name == "hs_object_id" {
        return Kind::Number;
    }
    if name == table.ty.created_prop()
        || name == table.ty.modified_prop()
        || name == "hs_lastmodifieddate"
    {
        return Kind::Time;
    }
    match table.prop(name).map(|(_, d)| d.ptype.as_str()) {
        Some("number") => Kind::Number,
        Some("date") | Some("datetime") => Kind::Time,
        _ => Kind::Text,
    }
}

fn compare(kind: Kind, a: &str, b: &str) -> Option<Ordering> {
    match kind {
        Kind::Number => a.parse::<f64>().ok()?.partial_cmp(&b.parse::<f64>().ok()?),
        Kind::Time => Some(parse_time(a)?.cmp(&parse_time(b)?)),
        Kind::Text => Some(a.to_lowercase().cmp(&b.to_lowercase())),
    }
}

/// `*` matches any run of characters; matching ignores case.
fn glob(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let s: Vec<char> = s.to_lowercase().chars().collect();
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// CONTAINS_TOKEN: the whole value or one of its words (split on spaces and punctuation)
/// matches the token, which may use `*` wildcards.
fn contains_token(value: &str, token: &str) -> bool {
    glob(token, value)
        || value
            .split(|c: char| c.is_whitespace() || "@.,;:-_/()+".contains(c))
            .filter(|w| !w.is_empty())
            .any(|w| glob(token, w))
}

/// The object type named by the pseudo-property `associations.{type}` ("Search through
/// associations" in https://developers.hubspot.com/docs/api/crm/search: records associated
/// with a given record, e.g. `{"propertyName": "associations.contact", "operator": "EQ",
/// "value": "123"}`). The type is accepted by any of its names, as in paths.
fn association_filter(name: &str) -> Option<ObjType> {
    name.strip_prefix("associations.").and_then(ObjType::parse)
}

/// Whether `rec` is associated with the record(s) the filter names: EQ one id, IN any of
/// several (the only operators the pseudo-property takes; [`check`] refuses the others).
fn matches_association(p: &Portal, table: &Table, rec: &Record, to: ObjType, f: &Filter) -> bool {
    let wanted: Vec<String> = match f.operator.as_str() {
        "EQ" => f.value.iter().map(text).collect(),
        _ => f
            .values
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(text)
            .collect(),
    };
    p.associations(table.ty, rec.id, to)
        .any(|(other, _)| wanted.iter().any(|w| w.trim() == other.to_string()))
}

fn matches(p: &Portal, table: &Table, rec: &Record, f: &Filter) -> bool {
    if let Some(to) = association_filter(&f.property_name) {
        return matches_association(p, table, rec, to, f);
    }
    let v = table.value(rec, &f.property_name);
    let k = kind(table, &f.property_name);
    let target = f.value.as_ref().map(text);
    let cmp = |t: &Option<String>| match (&v, t) {
        (Some(a), Some(b)) => compare(k, a, b),
        _ => None,
    };
    match f.operator.as_str() {
        "EQ" => cmp(&target) == Some(Ordering::Equal),
        "NEQ" => cmp(&target) != Some(Ordering::Equal),
        "LT" => cmp(&target) == Some(Ordering::Less),
        "LTE" => matches!(cmp(&target), Some(Ordering::Less | Ordering::Equal)),
        "GT" => cmp(&target) == Some(Ordering::Greater),
        "GTE" => matches!(cmp(&target), Some(Ordering::Greater | Ordering::Equal)),
        "BETWEEN" => {
            let high = f.high_value.as_ref().map(text);
            matches!(cmp(&target), Some(Ordering::Greater | Ordering::Equal))
                && matches!(cmp(&high), Some(Ordering::Less | Ordering::Equal))
        }
        "IN" | "NOT_IN" => {
            let found = f
                .values
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|x| cmp(&Some(text(x))) == Some(Ordering::Equal));
            (f.operator == "IN") == found
        }
        "HAS_PROPERTY" => v.is_some(),
        "NOT_HAS_PROPERTY" => v.is_none(),
        "CONTAINS_TOKEN" => match (&v, &target) {
            (Some(a), Some(t)) => contains_token(a, t),
            _ => false,
        },
        "NOT_CONTAINS_TOKEN" => match (&v, &target) {
            (Some(a), Some(t)) => !contains_token(a, t),
            _ => true,
        },
        _ => false,
    }
}

fn check(table: &Table, req: &Request) -> Result<(), HsError> {
    if req.filter_groups.len() > MAX_GROUPS {
        return Err(HsError::validation(format!(
            "Too many filter groups ({}). The maximum number of filterGroups is {MAX_GROUPS}.",
            req.filter_groups.len()
        )));
    }
    let mut total = 0;
    for g in &req.filter_groups {
        if g.filters.len() > MAX_FILTERS_PER_GROUP {
            return Err(HsError::validation(format!(
                "Too many filters in a filter group ({}). The maximum number of filters per filterGroup is {MAX_FILTERS_PER_GROUP}.",
                g.filters.len()
            )));
        }
        total += g.filters.len();
        for f in &g.filters {
            if !OPERATORS.contains(&f.operator.as_str()) {
                return Err(HsError::validation(format!(
                    "Invalid operator {}; one of {} expected",
                    f.operator,
                    OPERATORS.join(", ")
                )));
            }
            if association_filter(&f.property_name).is_some() {
                if !matches!(f.operator.as_str(), "EQ" | "IN") {
                    return Err(HsError::validation(format!(
                        "The {} operator is not supported on {}; use EQ or IN",
                        f.operator, f.property_name
                    )));
                }
            } else if !table.is_property(&f.property_name) {
                return Err(HsError::validation(format!(
                    "There was a problem with the request: property {} does not exist on {}",
                    f.property_name,
                    table.ty.name()
                )));
            }
            let needs_value = !matches!(
                f.operator.as_str(),
                "HAS_PROPERTY" | "NOT_HAS_PROPERTY" | "IN" | "NOT_IN"
            );
            if needs_value && f.value.is_none() {
                return Err(HsError::validation(format!(
                    "The {} filter on {} needs a value",
                    f.operator, f.property_name
                )));
            }
            if f.operator == "BETWEEN" && f.high_value.is_none() {
                return Err(HsError::validation(format!(
                    "The BETWEEN filter on {} needs a highValue",
                    f.property_name
                )));
            }
            if matches!(f.operator.as_str(), "IN" | "NOT_IN") && f.values.is_none() {
                return Err(HsError::validation(format!(
                    "The {} filter on {} needs values",
                    f.operator, f.property_name
                )));
            }
        }
    }
    if total > MAX_FILTERS {
        return Err(HsError::validation(format!(
            "Too many filters ({total}). The maximum number of filters across all filterGroups is {MAX_FILTERS}."
        )));
    }
    if req.sorts.len() > 1 {
        return Err(HsError::validation("Only one sort is supported"));
    }
    Ok(())
}

/// `POST /crm/v3/objects/{ty}/search`.
pub async fn search(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path(ty): Path<String>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let req: Request = decode(body)?;
    let limit = match req.limit {
        None => 10,
        Some(l) if (0..=MAX_LIMIT as i64).contains(&l) => l as usize,
        Some(l) => {
            return Err(HsError::validation(format!(
                "limit {l} is out of range; the maximum is {MAX_LIMIT}"
            )));
        }
    };
    let after = match &req.after {
        None | Some(Value::Null) => 0,
        Some(v) => text(v)
            .parse::<usize>()
            .map_err(|_| HsError::validation(format!("Invalid after value {}", text(v))))?,
    };
    if after + limit > MAX_RESULTS {
        return Err(HsError::validation(format!(
            "The maximum number of results reachable through search paging is {MAX_RESULTS}; after={after} with limit={limit} goes past it"
        )));
    }
    let state = hs.read();
    let p = state.portal(ctx.portal);
    let table = p.table(ty);
    check(table, &req)?;
    let query = req
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let query_idx: Vec<u16> = ty
        .query_props()
        .iter()
        .filter_map(|n| table.prop(n).map(|(i, _)| i))
        .collect();
    let mut hits: Vec<&Record> = table
        .records
        .values()
        .filter(|r| r.archived_ms.is_none())
        .filter(|r| {
            req.filter_groups.is_empty()
                || req
                    .filter_groups
                    .iter()
                    .any(|g| g.filters.iter().all(|f| matches(p, table, r, f)))
        })
        .filter(|r| match &query {
            None => true,
            Some(q) => {
                r.id.to_string() == *q
                    || query_idx
                        .iter()
                        .filter_map(|i| r.get(*i))
                        .any(|v| v.to_lowercase().contains(q.as_str()))
            }
        })
        .collect();
    if let Some(sort) = req.sorts.first() {
        let (name, descending) = match sort {
            Sort::Text(s) => match s.strip_prefix('-') {
                Some(n) => (n.to_owned(), true),
                None => (s.clone(), false),
            },
            Sort::Object {
                property_name,
                direction,
            } => (
                property_name.clone(),
                direction.as_deref() == Some("DESCENDING"),
            ),
        };
        let k = kind(table, &name);
        let mut keyed: Vec<(Option<String>, &Record)> =
            hits.iter().map(|r| (table.value(r, &name), *r)).collect();
        keyed.sort_by(|(a, ra), (b, rb)| {
            let o = match (a, b) {
                (Some(a), Some(b)) => compare(k, a, b).unwrap_or(Ordering::Equal),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            let o = if descending { o.reverse() } else { o };
            o.then(ra.id.cmp(&rb.id))
        });
        hits = keyed.into_iter().map(|(_, r)| r).collect();
    }
    let total = hits.len();
    let props = (!req.properties.is_empty()).then_some(req.properties.as_slice());
    let results: Vec<Value> = hits
        .iter()
        .skip(after)
        .take(limit)
        .map(|r| {
            let mut v = record_json(p, ty, r, props, &[]);
            // Search answers omit `archivedAt` and never include associations.
            if let Some(o) = v.as_object_mut() {
                o.remove("archivedAt");
            }
            v
        })
        .collect();
    let mut body = json!({ "total": total, "results": results });
    let next = after + limit;
    if next < total && next < MAX_RESULTS && limit > 0 {
        body["paging"] = json!({"next": {"after": next.to_string()}});
    }
    Ok(axum::Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_wildcards_match_ignoring_case() {
        assert!(contains_token("emma.smith@acme.com", "acme"));
        assert!(contains_token("emma.smith@acme.com", "*@acme.com"));
        assert!(contains_token("Emma Smith", "smi*"));
        assert!(!contains_token("Emma Smith", "mit"));
        assert!(glob("a*c", "ABC"));
    }
}

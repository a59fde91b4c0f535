//! `query`, `queryAll` (with server-side cursors), `search` (SOSL) and `parameterizedSearch`.
//!
//! A query runs once: the matching ids are kept in a cursor and each `nextRecordsUrl`
//! (`/services/data/vXX.X/query/{locator}-{offset}`) pages through them, so paging neither re-runs
//! the query nor sees rows move ("Execute a SOQL Query", REST API Developer Guide). Pages are
//! 2,000 records unless the request's `Sforce-Query-Options: batchSize=N` (200–2,000) asks for
//! fewer ("Query Options Header"). An org keeps at most [`MAX_CURSORS`] open cursors, dropping
//! the oldest, as Salesforce limits open query cursors per user.
//!
//! SOSL: `FIND {term} [IN ALL|NAME|EMAIL|PHONE FIELDS] [RETURNING Object[(fields [WHERE …]
//! [ORDER BY …] [LIMIT n])], …] [LIMIT n]`. Words in the term must all match (`OR` between words
//! makes either enough), `*` and `?` are wildcards and a quoted phrase is one word. Text matches
//! case-insensitively anywhere in a field (Salesforce matches whole tokens, but tokenizes
//! Japanese text into short segments, so substring matching is the closer model for the data
//! renkei sees). In PHONE FIELDS a term matches when its digits (full-width digits included)
//! appear within the field's digits, whatever the notation.

use std::sync::Arc;

use serde_json::{Value, json};

use super::errors::ApiError;
use super::rest::{Ctx, Reply};
use super::schema::{self, FType, ObjId};
use super::soql::{self, Path, SoqlError};
use super::store::{Org, Record, Val};

pub const DEFAULT_BATCH: usize = 2000;
pub const MAX_CURSORS: usize = 50;

/// An open query result being paged through.
#[derive(Debug)]
pub struct Cursor {
    pub obj: ObjId,
    pub fields: Arc<Vec<Path>>,
    pub serials: Vec<u64>,
    pub all: bool,
}

fn soql_error(e: SoqlError, q: &str) -> ApiError {
    ApiError::new(400, e.code, e.message(q)).without_fields()
}

/// `GET query?q=` and `GET queryAll?q=`.
pub fn query(ctx: &mut Ctx<'_>, q: &str, all: bool) -> Reply {
    let parsed = match soql::parse(q, ctx.now) {
        Ok(p) => p,
        Err(e) => return Reply::err(soql_error(e, q)),
    };
    let serials = soql::run(ctx.org, &parsed, all);
    if parsed.count {
        let body = format!(
            r#"{{"totalSize":{},"done":true,"records":[]}}"#,
            serials.len()
        );
        return Reply::raw(body.into_bytes());
    }
    let cursor = Cursor {
        obj: parsed.object,
        fields: Arc::new(parsed.fields),
        serials,
        all,
    };
    let batch = ctx.batch_size;
    if cursor.serials.len() <= batch {
        return Reply::raw(page(ctx, &cursor, 0, batch, None));
    }
    *ctx.next_cursor += 1;
    let locator = super::ids::id15("01g", ctx.org.pod, *ctx.next_cursor);
    let body = page(ctx, &cursor, 0, batch, Some(&locator));
    let org = &mut *ctx.org;
    org.cursors.insert(locator.clone(), cursor);
    org.cursor_order.push_back(locator);
    while org.cursor_order.len() > MAX_CURSORS {
        if let Some(old) = org.cursor_order.pop_front() {
            org.cursors.remove(&old);
        }
    }
    Reply::raw(body)
}

/// `GET query/{locator}-{offset}`.
pub fn query_more(ctx: &mut Ctx<'_>, token: &str) -> Reply {
    let invalid = || {
        Reply::err(
            ApiError::new(400, "INVALID_QUERY_LOCATOR", "invalid query locator").without_fields(),
        )
    };
    let Some((locator, offset)) = token.rsplit_once('-') else {
        return invalid();
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return invalid();
    };
    let Some(cursor) = ctx.org.cursors.remove(locator) else {
        return invalid();
    };
    if offset >= cursor.serials.len() {
        return invalid();
    }
    let batch = ctx.batch_size;
    let done = offset + batch >= cursor.serials.len();
    let body = page(ctx, &cursor, offset, batch, (!done).then_some(locator));
    if !done {
        ctx.org.cursors.insert(locator.to_owned(), cursor);
    } else {
        ctx.org.cursor_order.retain(|l| l != locator);
    }
    Reply::raw(body)
}

/// One page of a cursor, written straight to JSON text (pages are up to 2,000 records, too
/// many to build as a `Value` tree first): `totalSize`, `done`, `nextRecordsUrl` when there is
/// more, then `records`, in Salesforce's order.
fn page(ctx: &Ctx<'_>, c: &Cursor, offset: usize, batch: usize, locator: Option<&str>) -> Vec<u8> {
    use std::io::Write as _;
    let end = (offset + batch).min(c.serials.len());
    let table = &ctx.org.tables[c.obj];
    let count = end.saturating_sub(offset);
    let mut out = Vec::with_capacity(128 + count * 64);
    let done = end >= c.serials.len();
    let _ = write!(out, "{{\"totalSize\":{},\"done\":{done}", c.serials.len());
    if !done && let Some(l) = locator {
        let kind = if c.all { "queryAll" } else { "query" };
        out.extend_from_slice(b",\"nextRecordsUrl\":");
        let url = format!("/services/data/{}/{kind}/{l}-{end}", ctx.version);
        let _ = serde_json::to_writer(&mut out, &url);
    }
    out.extend_from_slice(b",\"records\":[");
    let shape = soql::Shape::new(&c.fields);
    let mut first = true;
    for r in c.serials[offset..end]
        .iter()
        .filter_map(|s| table.records.get(s))
    {
        if first {
            let start = out.len();
            shape.write(&mut out, ctx.org, c.obj, r, &ctx.version);
            // Size the rest of the page on the first record.
            let per = out.len() - start + 1;
            out.reserve(per * count + per * count / 4 + 16);
            first = false;
        } else {
            out.push(b',');
            shape.write(&mut out, ctx.org, c.obj, r, &ctx.version);
        }
    }
    out.extend_from_slice(b"]}");
    out
}

/// Which fields a search looks in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Group {
    All,
    Name,
    Email,
    Phone,
}

impl Group {
    fn parse(s: &str) -> Option<Group> {
        match s.to_ascii_uppercase().as_str() {
            "ALL" => Some(Group::All),
            "NAME" => Some(Group::Name),
            "EMAIL" => Some(Group::Email),
            "PHONE" => Some(Group::Phone),
            _ => None,
        }
    }

    fn takes(self, f: &schema::Field) -> bool {
        match self {
            Group::All => matches!(
                f.ty,
                FType::String
                    | FType::Textarea
                    | FType::Email
                    | FType::Phone
                    | FType::Url
                    | FType::Combobox
            ),
            Group::Name => f.name_field || f.name == "FirstName" || f.name == "LastName",
            Group::Email => f.ty == FType::Email,
            Group::Phone => f.ty == FType::Phone,
        }
    }
}

/// One object a search returns, with its SOQL-like options.
pub struct Returning {
    pub query: soql::Query,
}

pub struct Search {
    /// OR of ANDs of words.
    pub terms: Vec<Vec<String>>,
    pub group: Group,
    pub returning: Vec<Returning>,
    pub limit: usize,
}

fn malformed_search(msg: impl Into<String>) -> ApiError {
    ApiError::new(400, "MALFORMED_SEARCH", msg).without_fields()
}

fn digits(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            // Full-width digits (U+FF10–U+FF19), common in Japanese data entry.
            '\u{ff10}'..='\u{ff19}' => char::from_u32(c as u32 - 0xff10 + '0' as u32),
            _ => None,
        })
        .collect()
}

/// Splits a search term into OR-groups of words.
fn split_terms(term: &str) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = vec![vec![]];
    let mut chars = term.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, groups: &mut Vec<Vec<String>>| {
        if word.is_empty() {
            return;
        }
        let w = std::mem::take(word);
        if w == "OR" {
            groups.push(vec![]);
        } else if w != "AND"
            && let Some(g) = groups.last_mut()
        {
            g.push(w);
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                flush(&mut word, &mut groups);
                let phrase: String = chars.by_ref().take_while(|c| *c != '"').collect();
                if let Some(g) = groups.last_mut()
                    && !phrase.trim().is_empty()
                {
                    g.push(phrase);
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            c if c.is_whitespace() => flush(&mut word, &mut groups),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut groups);
    groups.retain(|g| !g.is_empty());
    groups
}

fn word_matches(group: Group, word: &str, value: &str) -> bool {
    if group == Group::Phone {
        let d = digits(word);
        return !d.is_empty() && digits(value).contains(&d);
    }
    let pattern: Vec<char> = format!(
        "%{}%",
        word.to_lowercase()
            .replace('%', "\\%")
            .replace('_', "\\_")
            .replace('*', "%")
            .replace('?', "_")
    )
    .chars()
    .collect();
    soql::like(value, &pattern)
}

fn record_matches(org: &Org, obj: ObjId, rec: &Record, s: &Search, fields: &[u16]) -> bool {
    let values: Vec<String> = fields
        .iter()
        .filter_map(|i| match org.value(obj, rec, *i) {
            Some(Val::Str(v)) => Some(v.to_string()),
            _ => None,
        })
        .collect();
    s.terms.iter().any(|words| {
        words
            .iter()
            .all(|w| values.iter().any(|v| word_matches(s.group, w, v)))
    })
}

/// Runs a search: `{"searchRecords": [...]}`.
pub fn execute(ctx: &Ctx<'_>, s: &Search) -> Value {
    let mut out = Vec::new();
    for r in &s.returning {
        if out.len() >= s.limit {
            break;
        }
        let obj = r.query.object;
        let o = schema::obj(obj);
        let fields: Vec<u16> = o
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| s.group.takes(f))
            .map(|(i, _)| i as u16)
            .collect();
        let serials = soql::run_with(ctx.org, &r.query, false, &|rec| {
            record_matches(ctx.org, obj, rec, s, &fields)
        });
        for serial in serials {
            if out.len() >= s.limit {
                break;
            }
            if let Some(rec) = ctx.org.tables[obj].records.get(&serial) {
                out.push(soql::project(
                    ctx.org,
                    obj,
                    rec,
                    &r.query.fields,
                    &ctx.version,
                ));
            }
        }
    }
    json!({"searchRecords": out})
}

fn returning_query(
    ctx: &Ctx<'_>,
    obj: &str,
    fields: Option<&str>,
    rest: &str,
) -> Result<soql::Query, ApiError> {
    let Some((_, o)) = schema::object(obj.trim()) else {
        return Err(ApiError::new(
            400,
            "INVALID_TYPE",
            format!(
                "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
                obj.trim()
            ),
        )
        .without_fields());
    };
    if !o.searchable {
        return Err(malformed_search(format!(
            "entity type {} does not support search",
            o.name
        )));
    }
    let fields = fields.filter(|f| !f.trim().is_empty()).unwrap_or("Id");
    let q = format!("SELECT {fields} FROM {} {rest}", o.name);
    soql::parse(&q, ctx.now).map_err(|e| soql_error(e, &q))
}

/// Splits `a, b(c, d), e` at top-level commas.
fn top_level_split(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

fn find_kw(s: &str, kw: &str) -> Option<usize> {
    // A keyword at a word boundary outside parentheses.
    let upper = s.to_ascii_uppercase();
    let mut depth = 0i32;
    let b = upper.as_bytes();
    for (i, c) in upper.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth == 0
            && upper[i..].starts_with(kw)
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b.get(i + kw.len())
                .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'_')
        {
            return Some(i);
        }
    }
    None
}

/// Parses a SOSL statement.
pub fn parse_sosl(ctx: &Ctx<'_>, q: &str) -> Result<Search, ApiError> {
    let t = q.trim();
    if !t.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("FIND")) {
        return Err(malformed_search(format!(
            "line 1:0 no viable alternative at character '{}'",
            t.chars().next().unwrap_or(' ')
        )));
    }
    let rest = t[4..].trim_start();
    let Some(body) = rest.strip_prefix('{') else {
        return Err(malformed_search(
            "line 1:5 mismatched character '<EOF>' expecting '{'",
        ));
    };
    // The term ends at the first `}` not escaped by a backslash.
    let mut end = None;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '}' => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(end) = end else {
        return Err(malformed_search(
            "line 1:5 mismatched character '<EOF>' expecting '}'",
        ));
    };
    let term = &body[..end];
    let mut tail = body[end + 1..].trim().to_owned();
    let mut group = Group::All;
    if tail.to_ascii_uppercase().starts_with("IN ") {
        let words: Vec<&str> = tail.split_whitespace().collect();
        let g = words.get(1).and_then(|w| Group::parse(w));
        let fields_kw = words
            .get(2)
            .is_some_and(|w| w.eq_ignore_ascii_case("FIELDS"));
        match (g, fields_kw) {
            (Some(g), true) => group = g,
            _ => {
                return Err(malformed_search(format!(
                    "unexpected token: '{}'",
                    words.get(1).copied().unwrap_or("<EOF>")
                )));
            }
        }
        tail = words[3..].join(" ");
    }
    let mut limit = 2000usize;
    let mut returning = Vec::new();
    let (ret_part, global_tail) = if tail.to_ascii_uppercase().starts_with("RETURNING") {
        let after = tail[9..].to_owned();
        match find_kw(&after, "LIMIT") {
            Some(i) => (Some(after[..i].to_owned()), after[i..].to_owned()),
            None => (Some(after), String::new()),
        }
    } else {
        (None, tail.clone())
    };
    let g = global_tail.trim();
    if !g.is_empty() {
        let words: Vec<&str> = g.split_whitespace().collect();
        match (
            words.first(),
            words.get(1).and_then(|n| n.parse::<usize>().ok()),
            words.len(),
        ) {
            (Some(kw), Some(n), 2) if kw.eq_ignore_ascii_case("LIMIT") => limit = n.min(2000),
            _ => {
                return Err(malformed_search(format!(
                    "unexpected token: '{}'",
                    words.first().copied().unwrap_or("")
                )));
            }
        }
    }
    match ret_part {
        Some(spec) => {
            for item in top_level_split(&spec) {
                let item = item.trim();
                let (obj, inner) = match item.find('(') {
                    Some(i) if item.ends_with(')') => {
                        (&item[..i], Some(&item[i + 1..item.len() - 1]))
                    }
                    Some(_) => return Err(malformed_search(format!("unexpected token: '{item}'"))),
                    None => (item, None),
                };
                let (fields, rest) = match inner {
                    None => (None, String::new()),
                    Some(inner) => {
                        let cut = ["WHERE", "ORDER", "LIMIT", "OFFSET"]
                            .iter()
                            .filter_map(|k| find_kw(inner, k))
                            .min();
                        match cut {
                            Some(c) => (Some(inner[..c].to_owned()), inner[c..].to_owned()),
                            None => (Some(inner.to_owned()), String::new()),
                        }
                    }
                };
                returning.push(Returning {
                    query: returning_query(ctx, obj, fields.as_deref(), &rest)?,
                });
            }
        }
        None => {
            for o in schema::objects().iter().filter(|o| o.searchable) {
                returning.push(Returning {
                    query: returning_query(ctx, o.name, None, "")?,
                });
            }
        }
    }
    build(term, group, returning, limit)
}

fn build(
    term: &str,
    group: Group,
    returning: Vec<Returning>,
    limit: usize,
) -> Result<Search, ApiError> {
    let terms = split_terms(term);
    let shortest = terms
        .iter()
        .flatten()
        .map(|w| w.trim_matches(['*', '?']).chars().count())
        .min()
        .unwrap_or(0);
    if terms.is_empty() || shortest < 2 {
        return Err(malformed_search(
            "search term must be longer than one character",
        ));
    }
    Ok(Search {
        terms,
        group,
        returning,
        limit,
    })
}

/// `parameterizedSearch` from GET parameters ("Search for a String", REST API Developer Guide).
pub fn parameterized_get(ctx: &Ctx<'_>, params: &[(String, String)]) -> Result<Search, ApiError> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let q = get("q").filter(|q| !q.is_empty()).ok_or_else(|| {
        ApiError::new(400, "MISSING_ARGUMENT", "Missing required argument: q").without_fields()
    })?;
    let group = match get("in") {
        None => Group::All,
        Some(g) => Group::parse(g).ok_or_else(|| {
            ApiError::new(
                400,
                "INVALID_SEARCH_SCOPE",
                format!("Invalid value for in: {g}"),
            )
            .without_fields()
        })?,
    };
    let default_fields = get("fields");
    let limit = get("overallLimit")
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000usize)
        .min(2000);
    let mut returning = Vec::new();
    let objs: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "sobject")
        .map(|(_, v)| v.as_str())
        .collect();
    let names: Vec<&str> = if objs.is_empty() {
        schema::objects()
            .iter()
            .filter(|o| o.searchable)
            .map(|o| o.name)
            .collect()
    } else {
        objs
    };
    for name in names {
        let fields = get(&format!("{name}.fields")).or(default_fields);
        let rest = get(&format!("{name}.limit"))
            .map(|l| format!("LIMIT {l}"))
            .unwrap_or_default();
        returning.push(Returning {
            query: returning_query(ctx, name, fields, &rest)?,
        });
    }
    build(q, group, returning, limit)
}

/// `parameterizedSearch` from a POST body.
pub fn parameterized_post(ctx: &Ctx<'_>, body: &Value) -> Result<Search, ApiError> {
    let q = body["q"]
        .as_str()
        .filter(|q| !q.is_empty())
        .ok_or_else(|| {
            ApiError::new(400, "MISSING_ARGUMENT", "Missing required argument: q").without_fields()
        })?;
    let group = match body["in"].as_str() {
        None => Group::All,
        Some(g) => Group::parse(g).ok_or_else(|| {
            ApiError::new(
                400,
                "INVALID_SEARCH_SCOPE",
                format!("Invalid value for in: {g}"),
            )
            .without_fields()
        })?,
    };
    let join = |v: &Value| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    let default_fields = join(&body["fields"]);
    let limit = body["overallLimit"].as_u64().unwrap_or(2000).min(2000) as usize;
    let mut returning = Vec::new();
    match body["sobjects"].as_array() {
        Some(list) => {
            for s in list {
                let name = s["name"].as_str().unwrap_or("");
                let fields = join(&s["fields"]).or(default_fields.clone());
                let mut rest = String::new();
                if let Some(w) = s["where"].as_str() {
                    rest.push_str(&format!("WHERE {w} "));
                }
                if let Some(l) = s["limit"].as_u64() {
                    rest.push_str(&format!("LIMIT {l}"));
                }
                returning.push(Returning {
                    query: returning_query(ctx, name, fields.as_deref(), &rest)?,
                });
            }
        }
        None => {
            for o in schema::objects().iter().filter(|o| o.searchable) {
                returning.push(Returning {
                    query: returning_query(ctx, o.name, default_fields.as_deref(), "")?,
                });
            }
        }
    }
    build(q, group, returning, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_split_into_or_groups_of_words() {
        assert_eq!(split_terms("John Smith"), vec![vec!["John", "Smith"]]);
        assert_eq!(split_terms("a OR \"b c\""), vec![vec!["a"], vec!["b c"]]);
        assert_eq!(split_terms("x\\-y"), vec![vec!["x-y"]]);
    }

    #[test]
    fn phone_words_match_any_notation() {
        assert!(word_matches(Group::Phone, "0312345678", "03-1234-5678"));
        assert!(word_matches(
            Group::Phone,
            "1234-5678",
            "（０３）１２３４－５６７８"
        ));
        assert!(!word_matches(Group::Phone, "9999", "03-1234-5678"));
        assert!(word_matches(Group::All, "smi*", "Emma Smith"));
        assert!(word_matches(Group::All, "田中", "田中 太郎"));
    }
}

//! `GET /{module}/search` with `criteria`, `email`, `phone` or `word` ("Search Records",
//! https://www.zoho.com/crm/developer/docs/api/v8/search-records.html).
//!
//! Criteria: `(Field:operator:value)` groups joined by `and`/`or`, nested with parentheses;
//! operators `equals`, `not_equal`, `starts_with`, `in`, `greater_than`, `greater_equal`,
//! `less_than`, `less_equal`, `between`; `\(`, `\)`, `\,` and `\:` escape those characters in a
//! value. Text comparisons are case-insensitive. `email` matches every email field, `phone` every
//! phone field (digits compared, whatever the notation), `word` any text field containing it.
//! Like Zoho, search reaches at most 2,000 records (`page` × `per_page`), and answers 204 when
//! nothing matches. A search scans the module's records.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::api::{Ctx, no_content};
use super::errors::ApiError;
use super::model::{Dt, MODULES};
use super::records::{fields_param, paging};
use super::store::{Org, Rec, Val, full_name};

#[derive(Debug)]
enum Expr {
    Cond(String, String, Vec<String>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

fn invalid_query(reason: &str) -> ApiError {
    ApiError::new(
        400,
        "INVALID_QUERY",
        "invalid query formed",
        json!({"reason": reason}),
    )
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i] == b' ' {
            self.i += 1;
        }
    }

    fn expr(&mut self) -> Result<Expr, ApiError> {
        let mut left = self.group()?;
        loop {
            self.ws();
            let rest = &self.s[self.i..];
            if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"and") {
                self.i += 3;
                let right = self.group()?;
                left = Expr::And(Box::new(left), Box::new(right));
            } else if rest.len() >= 2 && rest[..2].eq_ignore_ascii_case(b"or") {
                self.i += 2;
                let right = self.group()?;
                left = Expr::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn group(&mut self) -> Result<Expr, ApiError> {
        self.ws();
        if self.s.get(self.i) != Some(&b'(') {
            return Err(invalid_query("expected ("));
        }
        self.i += 1;
        self.ws();
        if self.s.get(self.i) == Some(&b'(') {
            let e = self.expr()?;
            self.ws();
            if self.s.get(self.i) != Some(&b')') {
                return Err(invalid_query("expected )"));
            }
            self.i += 1;
            return Ok(e);
        }
        // field:op:value up to the unescaped `)`.
        let mut raw = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return Err(invalid_query("unbalanced parentheses")),
                Some(b'\\') => {
                    if let Some(c) = self.s.get(self.i + 1) {
                        raw.push(b'\\');
                        raw.push(*c);
                    }
                    self.i += 2;
                }
                Some(b')') => {
                    self.i += 1;
                    break;
                }
                Some(c) => {
                    raw.push(*c);
                    self.i += 1;
                }
            }
        }
        let text = String::from_utf8_lossy(&raw).into_owned();
        let parts = split_unescaped(&text, ':', 3);
        if parts.len() != 3 {
            return Err(invalid_query("expected field:operator:value"));
        }
        let values = split_unescaped(&parts[2], ',', usize::MAX)
            .into_iter()
            .map(|v| unescape(&v))
            .collect();
        Ok(Expr::Cond(
            parts[0].trim().to_owned(),
            parts[1].trim().to_owned(),
            values,
        ))
    }
}

fn split_unescaped(s: &str, sep: char, max: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.last_mut().unwrap_or(&mut String::new()).push(c);
            if let Some(n) = chars.next()
                && let Some(l) = out.last_mut()
            {
                l.push(n);
            }
        } else if c == sep && out.len() < max {
            out.push(String::new());
        } else if let Some(l) = out.last_mut() {
            l.push(c);
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The digits of a phone number, full-width ones included.
fn digits(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
            _ => None,
        })
        .collect()
}

/// The comparable text of a field of a record.
fn field_text(org: &Org, m: usize, r: &Rec, field: &str) -> Result<Option<Cmp>, ApiError> {
    match field {
        "id" => return Ok(Some(Cmp::Id(r.id))),
        "Created_Time" => return Ok(Some(Cmp::Num(r.created_ms as f64))),
        "Modified_Time" => return Ok(Some(Cmp::Num(r.modified_ms as f64))),
        "Owner" | "Owner.id" => return Ok(Some(Cmp::Id(org.users[r.owner as usize].id))),
        _ => {}
    }
    let def = &MODULES[m];
    let base = field.split('.').next().unwrap_or(field);
    let Some(fi) = def.fields.iter().position(|f| f.api == base) else {
        return Err(ApiError::new(
            400,
            "INVALID_QUERY",
            "invalid query formed",
            json!({"reason": "invalid field", "api_name": field}),
        ));
    };
    if base == "Full_Name" {
        return Ok(full_name(m, r).map(Cmp::Text));
    }
    Ok(r.get(fi).map(|v| match v {
        Val::S(s) => Cmp::Text(s.to_string()),
        Val::I(i) => Cmp::Num(*i as f64),
        Val::F(f) => Cmp::Num(*f),
        Val::B(b) => Cmp::Text(b.to_string()),
        Val::T(ms) => Cmp::Num(*ms as f64),
        Val::Ref(id) | Val::SeRef(_, id) => Cmp::Id(*id),
        Val::Multi(items) => Cmp::Text(items.join(";")),
    }))
}

enum Cmp {
    Text(String),
    Num(f64),
    /// 19-digit ids do not fit an f64 exactly.
    Id(u64),
}

fn parse_operand(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().or_else(|| {
        s.parse::<jiff::Timestamp>()
            .ok()
            .map(|t| t.as_millisecond() as f64)
    })
}

fn eval(org: &Org, m: usize, r: &Rec, e: &Expr) -> Result<bool, ApiError> {
    Ok(match e {
        Expr::And(a, b) => eval(org, m, r, a)? && eval(org, m, r, b)?,
        Expr::Or(a, b) => eval(org, m, r, a)? || eval(org, m, r, b)?,
        Expr::Cond(field, op, values) => {
            let v = field_text(org, m, r, field)?;
            let first = values.first().map(String::as_str).unwrap_or("");
            let eq = |v: &Cmp, x: &str| match v {
                Cmp::Text(t) => t.to_lowercase() == x.to_lowercase(),
                Cmp::Num(n) => parse_operand(x).is_some_and(|y| *n == y),
                Cmp::Id(id) => x.trim().parse::<u64>().is_ok_and(|y| *id == y),
            };
            let ord = |v: &Cmp, x: &str| -> Option<std::cmp::Ordering> {
                match v {
                    Cmp::Num(n) => n.partial_cmp(&parse_operand(x)?),
                    Cmp::Text(t) => Some(t.as_str().cmp(x)),
                    Cmp::Id(id) => Some(id.cmp(&x.trim().parse::<u64>().ok()?)),
                }
            };
            match (op.as_str(), v) {
                ("equals", None) => first.is_empty() || first == "null",
                ("not_equal", None) => !(first.is_empty() || first == "null"),
                (_, None) => false,
                ("equals", Some(v)) => values.iter().any(|x| eq(&v, x)),
                ("not_equal", Some(v)) => !values.iter().any(|x| eq(&v, x)),
                ("in", Some(v)) => values.iter().any(|x| eq(&v, x)),
                ("starts_with", Some(Cmp::Text(t))) => {
                    t.to_lowercase().starts_with(&first.to_lowercase())
                }
                ("greater_than", Some(v)) => ord(&v, first) == Some(std::cmp::Ordering::Greater),
                ("greater_equal", Some(v)) => {
                    ord(&v, first).is_some_and(|o| o != std::cmp::Ordering::Less)
                }
                ("less_than", Some(v)) => ord(&v, first) == Some(std::cmp::Ordering::Less),
                ("less_equal", Some(v)) => {
                    ord(&v, first).is_some_and(|o| o != std::cmp::Ordering::Greater)
                }
                ("between", Some(v)) => {
                    let hi = values.get(1).map(String::as_str).unwrap_or("");
                    ord(&v, first).is_some_and(|o| o != std::cmp::Ordering::Less)
                        && ord(&v, hi).is_some_and(|o| o != std::cmp::Ordering::Greater)
                }
                ("starts_with", Some(Cmp::Num(_) | Cmp::Id(_))) => false,
                _ => {
                    return Err(ApiError::new(
                        400,
                        "INVALID_QUERY",
                        "invalid query formed",
                        json!({"reason": "invalid operator", "operator": op, "api_name": field}),
                    ));
                }
            }
        }
    })
}

enum Mode {
    Criteria(Expr),
    Email(String),
    Phone(String),
    Word(String),
}

fn matches(org: &Org, m: usize, r: &Rec, mode: &Mode) -> Result<bool, ApiError> {
    let def = &MODULES[m];
    fn strs<'a>(
        def: &'a super::model::ModuleDef,
        r: &'a Rec,
        dts: &'a [Dt],
    ) -> impl Iterator<Item = &'a str> + 'a {
        def.fields
            .iter()
            .enumerate()
            .filter(move |(_, f)| dts.contains(&f.dt))
            .filter_map(move |(i, _)| r.str(i))
    }
    Ok(match mode {
        Mode::Criteria(e) => eval(org, m, r, e)?,
        Mode::Email(e) => strs(def, r, &[Dt::Email]).any(|s| s.eq_ignore_ascii_case(e)),
        Mode::Phone(p) => {
            let want = digits(p);
            !want.is_empty() && strs(def, r, &[Dt::Phone]).any(|s| digits(s) == want)
        }
        Mode::Word(w) => {
            let w = w.to_lowercase();
            strs(
                def,
                r,
                &[Dt::Text, Dt::Email, Dt::Phone, Dt::Website, Dt::TextArea],
            )
            .any(|s| s.to_lowercase().contains(&w))
                || full_name(m, r).is_some_and(|n| n.to_lowercase().contains(&w))
        }
    })
}

pub fn search(org: &Org, m: usize, ctx: &Ctx) -> Result<Response, ApiError> {
    let fields = fields_param(ctx, false)?;
    let (page, per_page) = paging(ctx)?;
    let get = |k: &str| ctx.params.get(k).filter(|v| !v.is_empty());
    let mode = if let Some(c) = get("criteria") {
        let mut p = P {
            s: c.as_bytes(),
            i: 0,
        };
        let e = p.expr()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(invalid_query("unexpected text after the criteria"));
        }
        Mode::Criteria(e)
    } else if let Some(e) = get("email") {
        Mode::Email(e.clone())
    } else if let Some(p) = get("phone") {
        Mode::Phone(p.clone())
    } else if let Some(w) = get("word") {
        if w.chars().count() < 2 {
            return Err(ApiError::invalid_param("word", "invalid data"));
        }
        Mode::Word(w.clone())
    } else {
        return Err(ApiError::param_missing("criteria"));
    };
    if page * per_page > 2000 {
        return Err(ApiError::new(
            400,
            "LIMIT_REACHED",
            "search results are limited to 2000 records",
            json!({"limit": 2000}),
        ));
    }
    let skip = (page - 1) * per_page;
    let mut found = 0usize;
    let mut data: Vec<Value> = Vec::new();
    let mut more = false;
    for r in org.tables[m].rows.values().rev() {
        if !matches(org, m, r, &mode)? {
            continue;
        }
        found += 1;
        if found <= skip {
            continue;
        }
        if data.len() == per_page {
            more = true;
            break;
        }
        data.push(org.record_json(m, r, fields.as_deref()));
    }
    if data.is_empty() {
        return Ok(no_content());
    }
    Ok(axum::Json(json!({
        "data": data,
        "info": {"per_page": per_page, "count": data.len(), "page": page, "more_records": more},
    }))
    .into_response())
}

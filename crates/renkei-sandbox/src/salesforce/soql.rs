//! A hand-written SOQL parser and evaluator for the subset the emulator serves.
//!
//! Served ("SOQL and SOSL Reference", Salesforce): `SELECT` of fields, parent-relationship paths
//! (`Account.Name`, `Account.Owner.Name`, polymorphic `Who.Name`), `FIELDS(ALL|STANDARD|CUSTOM)`
//! and `COUNT()`; `FROM` one object; `WHERE` with `=`, `!=`, `<>`, `<`, `<=`, `>`, `>=`, `LIKE`,
//! `IN`, `NOT IN`, `AND`, `OR`, `NOT` and parentheses (mixing `AND` and `OR` without parentheses
//! is refused, as Salesforce refuses it), string, number, boolean, `null`, date, dateTime and
//! date-literal values (`TODAY`, `LAST_N_DAYS:n`, …, evaluated in UTC); `ORDER BY` with
//! `ASC`/`DESC` and `NULLS FIRST|LAST`; `LIMIT`; `OFFSET` (at most 2,000).
//!
//! Not served, answered as `MALFORMED_QUERY`: child-relationship subqueries, semi-joins,
//! aggregate functions other than `COUNT()`, `GROUP BY`, `HAVING`, `TYPEOF`, `WITH`,
//! `FOR VIEW|UPDATE|REFERENCE`, `USING SCOPE`, date functions such as `CALENDAR_YEAR()`.
//!
//! Errors carry Salesforce's message layout: the query line, a caret under the offending token,
//! `ERROR at Row:r:Column:c`, then the reason (`unexpected token: 'X'`, `No such column 'X' on
//! entity 'Lead'. …`).

use std::cmp::Ordering;

use jiff::ToSpan as _;
use jiff::civil::Date;
use serde_json::Value;

use super::schema::{self, FType, ObjId};
use super::store::{JsonVal, Org, Record, Val};

/// A SOQL (or SOSL) error: the code and the reason, at a byte offset of the query.
#[derive(Debug, Clone, PartialEq)]
pub struct SoqlError {
    pub code: &'static str,
    pub pos: Option<usize>,
    pub reason: String,
}

impl SoqlError {
    fn malformed(pos: usize, reason: impl Into<String>) -> Self {
        SoqlError {
            code: "MALFORMED_QUERY",
            pos: Some(pos),
            reason: reason.into(),
        }
    }
    fn invalid_field(pos: usize, reason: impl Into<String>) -> Self {
        SoqlError {
            code: "INVALID_FIELD",
            pos: Some(pos),
            reason: reason.into(),
        }
    }

    /// The message as Salesforce lays it out for `query`.
    pub fn message(&self, query: &str) -> String {
        let Some(pos) = self.pos else {
            return self.reason.clone();
        };
        let pos = pos.min(query.len());
        let before = &query[..pos];
        let row = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = query[line_start..pos].chars().count() + 1;
        let line = query[line_start..].lines().next().unwrap_or("");
        format!(
            "\n{line}\n{}^\nERROR at Row:{row}:Column:{col}\n{}",
            " ".repeat(col - 1),
            self.reason
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
enum T {
    Word(String),
    Str(String),
    Num(String),
    Date(String),
    DateTime(String),
    Sym(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
struct Tok {
    t: T,
    pos: usize,
}

impl Tok {
    fn text(&self) -> String {
        match &self.t {
            T::Word(s) | T::Num(s) | T::Date(s) | T::DateTime(s) => s.clone(),
            T::Str(s) => format!("'{s}'"),
            T::Sym(s) => (*s).to_owned(),
            T::Eof => "<EOF>".into(),
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.t, T::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn unexpected(&self) -> SoqlError {
        match self.t {
            T::Eof => SoqlError::malformed(self.pos, "unexpected token: <EOF>"),
            _ => SoqlError::malformed(self.pos, format!("unexpected token: '{}'", self.text())),
        }
    }
}

fn lex(q: &str) -> Result<Vec<Tok>, SoqlError> {
    let b = q.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == b'\'' {
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = b.get(i) else {
                    return Err(SoqlError::malformed(start, "unexpected token: <EOF>"));
                };
                if ch == b'\\' {
                    let esc = *b.get(i + 1).unwrap_or(&b'\\');
                    s.push(match esc {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        other => other as char,
                    });
                    i += 2;
                    continue;
                }
                if ch == b'\'' {
                    i += 1;
                    break;
                }
                // Copy one whole UTF-8 character.
                let rest = &q[i..];
                let chr = rest.chars().next().unwrap_or(' ');
                s.push(chr);
                i += chr.len_utf8();
            }
            out.push(Tok {
                t: T::Str(s),
                pos: start,
            });
            continue;
        }
        if c.is_ascii_digit() || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            // A date (YYYY-MM-DD), a dateTime, or a number.
            let is_date = b.len() >= i + 10
                && b[i..i + 4].iter().all(u8::is_ascii_digit)
                && b[i + 4] == b'-'
                && b[i + 5..i + 7].iter().all(u8::is_ascii_digit)
                && b[i + 7] == b'-'
                && b[i + 8..i + 10].iter().all(u8::is_ascii_digit);
            if is_date {
                i += 10;
                if b.get(i) == Some(&b'T') {
                    while i < b.len()
                        && (b[i].is_ascii_alphanumeric()
                            || matches!(b[i], b':' | b'.' | b'+' | b'-'))
                    {
                        i += 1;
                    }
                    out.push(Tok {
                        t: T::DateTime(q[start..i].to_owned()),
                        pos: start,
                    });
                } else {
                    out.push(Tok {
                        t: T::Date(q[start..i].to_owned()),
                        pos: start,
                    });
                }
                continue;
            }
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            out.push(Tok {
                t: T::Num(q[start..i].to_owned()),
                pos: start,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            out.push(Tok {
                t: T::Word(q[start..i].to_owned()),
                pos: start,
            });
            continue;
        }
        let two = q.get(i..i + 2).unwrap_or("");
        let sym: &'static str = match two {
            "!=" => "!=",
            "<>" => "<>",
            "<=" => "<=",
            ">=" => ">=",
            _ => match c {
                b'(' => "(",
                b')' => ")",
                b',' => ",",
                b'=' => "=",
                b'<' => "<",
                b'>' => ">",
                b':' => ":",
                _ => {
                    let ch = q[i..].chars().next().unwrap_or('?');
                    return Err(SoqlError::malformed(
                        start,
                        format!("unexpected token: '{ch}'"),
                    ));
                }
            },
        };
        i += sym.len();
        out.push(Tok {
            t: T::Sym(sym),
            pos: start,
        });
    }
    out.push(Tok {
        t: T::Eof,
        pos: q.len(),
    });
    Ok(out)
}

/// A field reference, possibly through parent relationships.
#[derive(Debug, Clone)]
pub struct Path {
    /// Reference fields followed: `(object it is on, field index)`. The object is unknown
    /// (`None`) after a polymorphic hop.
    hops: Vec<u16>,
    /// The relationship names, canonical (`Account`, `Owner`), as the JSON nests them.
    pub rel_names: Vec<&'static str>,
    /// The leaf field's canonical name.
    pub leaf: &'static str,
    /// The leaf's field index when its object is fixed.
    leaf_idx: Option<(ObjId, u16)>,
    pub ty: FType,
    pub length: u32,
}

impl Path {
    /// Follows the relationships from `rec`: the object and record at each level (`None` once
    /// a reference is empty or dangling).
    /// Follows relationship `depth` from `(obj, rec)`, the record reached by the hops before it.
    fn hop<'a>(
        &self,
        org: &'a Org,
        depth: usize,
        obj: ObjId,
        rec: &'a Record,
    ) -> Option<(ObjId, &'a Record)> {
        match org.value(obj, rec, self.hops[depth]) {
            Some(Val::Str(id)) => org.resolve(&id).filter(|(_, r)| r.deleted.is_none()),
            _ => None,
        }
    }

    fn walk<'a>(
        &self,
        org: &'a Org,
        obj: ObjId,
        rec: &'a Record,
    ) -> Vec<Option<(ObjId, &'a Record)>> {
        let mut out = Vec::with_capacity(self.hops.len());
        let mut cur = Some((obj, rec));
        for h in 0..self.hops.len() {
            cur = cur.and_then(|(o, r)| self.hop(org, h, o, r));
            out.push(cur);
        }
        out
    }

    fn leaf_value(&self, org: &Org, at: Option<(ObjId, &Record)>) -> Option<Val> {
        let (o, r) = at?;
        match self.leaf_idx {
            Some((lo, i)) if lo == o => org.value(o, r, i),
            _ => schema::obj(o)
                .field(self.leaf)
                .and_then(|(i, _)| org.value(o, r, i)),
        }
    }

    pub fn eval(&self, org: &Org, obj: ObjId, rec: &Record) -> Option<Val> {
        if self.hops.is_empty() {
            return self.leaf_value(org, Some((obj, rec)));
        }
        let chain = self.walk(org, obj, rec);
        self.leaf_value(org, chain.last().copied().flatten())
    }

    fn field_def(&self) -> Option<&'static schema::Field> {
        self.leaf_idx
            .map(|(o, i)| &schema::obj(o).fields[i as usize])
    }
}

/// Resolves `Account.Owner.Name` against `obj`.
pub fn resolve_path(obj: ObjId, text: &str, pos: usize) -> Result<Path, SoqlError> {
    let o = schema::obj(obj);
    let mut parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 1
        && parts[0].eq_ignore_ascii_case(o.name)
        && o.relationship(parts[0]).is_none()
    {
        parts.remove(0);
    }
    let mut hops = Vec::new();
    let mut rel_names = Vec::new();
    let mut targets: Vec<ObjId> = vec![obj];
    for rel in &parts[..parts.len() - 1] {
        let bad = || {
            SoqlError::invalid_field(
                pos,
                format!(
                    "Didn't understand relationship '{rel}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
                ),
            )
        };
        if targets.len() != 1 {
            return Err(bad());
        }
        let cur = schema::obj(targets[0]);
        let (idx, f) = cur.relationship(rel).ok_or_else(bad)?;
        hops.push(idx);
        rel_names.push(f.relationship.unwrap_or(f.name));
        targets = f
            .reference_to
            .iter()
            .filter_map(|n| schema::object(n).map(|(i, _)| i))
            .collect();
    }
    let leaf = parts[parts.len() - 1];
    let no_column = |entity: &str| {
        SoqlError::invalid_field(
            pos,
            format!(
                "No such column '{leaf}' on entity '{entity}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
            ),
        )
    };
    if leaf.is_empty() {
        return Err(SoqlError::malformed(
            pos,
            format!("unexpected token: '{text}'"),
        ));
    }
    if targets.len() == 1 {
        let t = schema::obj(targets[0]);
        let (idx, f) = t.field(leaf).ok_or_else(|| no_column(t.name))?;
        return Ok(Path {
            hops,
            rel_names,
            leaf: f.name,
            leaf_idx: Some((targets[0], idx)),
            ty: f.ty,
            length: f.length,
        });
    }
    // A polymorphic relationship (`Who`, `What`): the field must exist on every target, as on
    // the `Name` object Salesforce queries through it.
    let mut found: Option<&'static schema::Field> = None;
    for t in &targets {
        let (_, f) = schema::obj(*t)
            .field(leaf)
            .ok_or_else(|| no_column("Name"))?;
        found = Some(f);
    }
    let f = found.ok_or_else(|| no_column("Name"))?;
    Ok(Path {
        hops,
        rel_names,
        leaf: f.name,
        leaf_idx: None,
        ty: f.ty,
        length: f.length,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Str(String),
    Num(f64),
    Bool(bool),
    /// `YYYY-MM-DD`
    Date(String),
    Time(i64),
    /// A date literal on a date field: `[start, end)`.
    DateRange(String, String),
    /// A date literal on a dateTime field: `[start, end)` in ms.
    TimeRange(i64, i64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Cmp(Path, Op, Lit),
    In(Path, bool, Vec<Lit>),
    Like(Path, Vec<char>),
}

#[derive(Debug, Clone)]
pub struct OrderBy {
    pub path: Path,
    pub desc: bool,
    pub nulls_last: bool,
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    pub object: ObjId,
    pub fields: Vec<Path>,
    pub count: bool,
    pub filter: Option<Cond>,
    pub order: Vec<OrderBy>,
    pub limit: Option<usize>,
    pub offset: usize,
}

struct Parser<'a> {
    toks: Vec<Tok>,
    i: usize,
    now_ms: i64,
    _q: &'a str,
}

enum RawItem {
    Count(usize),
    Fields(String, usize),
    Path(String, usize),
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i]
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.i].clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn expect_kw(&mut self, kw: &str) -> Result<(), SoqlError> {
        if self.peek().is_kw(kw) {
            self.next();
            Ok(())
        } else {
            Err(self.peek().unexpected())
        }
    }
    fn expect_sym(&mut self, s: &str) -> Result<(), SoqlError> {
        if self.peek().t
            == T::Sym(match s {
                "(" => "(",
                ")" => ")",
                "," => ",",
                _ => ":",
            })
        {
            self.next();
            Ok(())
        } else {
            Err(self.peek().unexpected())
        }
    }
    fn is_sym(&self, s: &str) -> bool {
        matches!(&self.peek().t, T::Sym(x) if *x == s)
    }
}

const RESERVED: &[&str] = &[
    "SELECT", "FROM", "WHERE", "ORDER", "BY", "LIMIT", "OFFSET", "AND", "OR", "NOT", "IN", "LIKE",
    "GROUP", "HAVING", "WITH", "FOR", "USING", "ASC", "DESC", "NULLS", "TYPEOF",
];

/// Parses `q` with date literals evaluated at `now_ms`.
pub fn parse(q: &str, now_ms: i64) -> Result<Query, SoqlError> {
    let mut p = Parser {
        toks: lex(q)?,
        i: 0,
        now_ms,
        _q: q,
    };
    p.expect_kw("SELECT")?;
    let mut raw = Vec::new();
    loop {
        let t = p.next();
        match &t.t {
            T::Word(w) if w.eq_ignore_ascii_case("COUNT") && p.is_sym("(") => {
                p.next();
                if !p.is_sym(")") {
                    return Err(SoqlError::malformed(
                        p.peek().pos,
                        "aggregate functions other than COUNT() are not served by this emulator",
                    ));
                }
                p.next();
                raw.push(RawItem::Count(t.pos));
            }
            T::Word(w) if w.eq_ignore_ascii_case("FIELDS") && p.is_sym("(") => {
                p.next();
                let kind = p.next();
                let k = match &kind.t {
                    T::Word(k)
                        if ["ALL", "STANDARD", "CUSTOM"]
                            .iter()
                            .any(|x| k.eq_ignore_ascii_case(x)) =>
                    {
                        k.to_ascii_uppercase()
                    }
                    _ => return Err(kind.unexpected()),
                };
                p.expect_sym(")")?;
                raw.push(RawItem::Fields(k, t.pos));
            }
            T::Word(w) if !RESERVED.iter().any(|r| w.eq_ignore_ascii_case(r)) => {
                if p.is_sym("(") {
                    return Err(SoqlError::malformed(
                        t.pos,
                        "aggregate and date functions are not served by this emulator",
                    ));
                }
                raw.push(RawItem::Path(w.clone(), t.pos));
            }
            T::Sym("(") => {
                return Err(SoqlError::malformed(
                    t.pos,
                    "child relationship subqueries are not served by this emulator",
                ));
            }
            _ => return Err(t.unexpected()),
        }
        if p.is_sym(",") {
            p.next();
            continue;
        }
        break;
    }
    p.expect_kw("FROM")?;
    let from = p.next();
    let T::Word(obj_name) = &from.t else {
        return Err(from.unexpected());
    };
    let (object, o) = schema::object(obj_name).ok_or_else(|| SoqlError {
        code: "INVALID_TYPE",
        pos: Some(from.pos),
        reason: format!(
            "sObject type '{obj_name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
        ),
    })?;
    // An alias (`FROM Contact c`) is not served; anything else here must be a clause.
    let mut fields = Vec::new();
    let mut count = false;
    let mut needs_small_limit = None;
    for item in &raw {
        match item {
            RawItem::Count(pos) => {
                if raw.len() > 1 {
                    return Err(SoqlError::malformed(*pos, "unexpected token: 'COUNT'"));
                }
                count = true;
            }
            RawItem::Fields(kind, pos) => {
                if kind != "STANDARD" {
                    needs_small_limit = Some(*pos);
                }
                for (i, f) in o.fields.iter().enumerate() {
                    let take = match kind.as_str() {
                        "ALL" => true,
                        "CUSTOM" => f.custom,
                        _ => !f.custom,
                    };
                    if take {
                        fields.push(Path {
                            hops: vec![],
                            rel_names: vec![],
                            leaf: f.name,
                            leaf_idx: Some((object, i as u16)),
                            ty: f.ty,
                            length: f.length,
                        });
                    }
                }
            }
            RawItem::Path(text, pos) => {
                let path = resolve_path(object, text, *pos)?;
                let dup = fields
                    .iter()
                    .any(|f: &Path| f.leaf == path.leaf && f.rel_names == path.rel_names);
                if dup {
                    let name = path
                        .rel_names
                        .iter()
                        .chain(std::iter::once(&path.leaf))
                        .copied()
                        .collect::<Vec<_>>()
                        .join(".");
                    return Err(SoqlError::malformed(
                        *pos,
                        format!("duplicate field selected: {name}"),
                    ));
                }
                fields.push(path);
            }
        }
    }
    let mut query = Query {
        object,
        fields,
        count,
        filter: None,
        order: Vec::new(),
        limit: None,
        offset: 0,
    };
    if p.peek().is_kw("WHERE") {
        p.next();
        query.filter = Some(parse_or(&mut p, object)?);
    }
    for kw in ["WITH", "GROUP", "HAVING", "USING", "TYPEOF"] {
        if p.peek().is_kw(kw) {
            return Err(SoqlError::malformed(
                p.peek().pos,
                format!(
                    "unexpected token: '{}' ({kw} is not served by this emulator)",
                    p.peek().text()
                ),
            ));
        }
    }
    if p.peek().is_kw("ORDER") {
        p.next();
        p.expect_kw("BY")?;
        loop {
            let t = p.next();
            let T::Word(w) = &t.t else {
                return Err(t.unexpected());
            };
            if RESERVED.iter().any(|r| w.eq_ignore_ascii_case(r)) {
                return Err(t.unexpected());
            }
            let path = resolve_path(object, w, t.pos)?;
            if path.ty == FType::Textarea && path.length > 255 {
                return Err(SoqlError::invalid_field(
                    t.pos,
                    format!("field '{}' can not be sorted in a query call", path.leaf),
                ));
            }
            let mut desc = false;
            if p.peek().is_kw("ASC") {
                p.next();
            } else if p.peek().is_kw("DESC") {
                p.next();
                desc = true;
            }
            // "By default, null values are sorted first" (ORDER BY, SOQL reference).
            let mut nulls_last = false;
            if p.peek().is_kw("NULLS") {
                p.next();
                let n = p.next();
                if n.is_kw("LAST") {
                    nulls_last = true;
                } else if !n.is_kw("FIRST") {
                    return Err(n.unexpected());
                }
            }
            query.order.push(OrderBy {
                path,
                desc,
                nulls_last,
            });
            if p.is_sym(",") {
                p.next();
                continue;
            }
            break;
        }
    }
    if p.peek().is_kw("LIMIT") {
        p.next();
        let t = p.next();
        match &t.t {
            T::Num(n) => {
                query.limit = Some(n.parse().map_err(|_| t.unexpected())?);
            }
            _ => return Err(t.unexpected()),
        }
    }
    if p.peek().is_kw("OFFSET") {
        p.next();
        let t = p.next();
        let n: usize = match &t.t {
            T::Num(n) => n.parse().map_err(|_| t.unexpected())?,
            _ => return Err(t.unexpected()),
        };
        if n > 2000 {
            return Err(SoqlError {
                code: "NUMBER_OUTSIDE_VALID_RANGE",
                pos: Some(t.pos),
                reason: "Maximum SOQL offset allowed is 2000".into(),
            });
        }
        query.offset = n;
    }
    if p.peek().is_kw("FOR") {
        return Err(SoqlError::malformed(
            p.peek().pos,
            "unexpected token: 'FOR' (FOR VIEW/UPDATE/REFERENCE is not served by this emulator)",
        ));
    }
    if p.peek().t != T::Eof {
        return Err(p.peek().unexpected());
    }
    if let Some(pos) = needs_small_limit
        && query.limit.is_none_or(|l| l > 200)
    {
        return Err(SoqlError::malformed(
            pos,
            "The SOQL FIELDS function must have a LIMIT of at most 200",
        ));
    }
    Ok(query)
}

fn parse_or(p: &mut Parser<'_>, obj: ObjId) -> Result<Cond, SoqlError> {
    let first = parse_unary(p, obj)?;
    let mut items = vec![first];
    let mut conj: Option<bool> = None; // true: AND, false: OR
    loop {
        let is_and = p.peek().is_kw("AND");
        let is_or = p.peek().is_kw("OR");
        if !is_and && !is_or {
            break;
        }
        // Salesforce refuses `a AND b OR c`: mixing needs parentheses.
        if conj.is_some_and(|c| c != is_and) {
            return Err(p.peek().unexpected());
        }
        conj = Some(is_and);
        p.next();
        items.push(parse_unary(p, obj)?);
    }
    Ok(match conj {
        None => items.pop().unwrap_or(Cond::And(vec![])),
        Some(true) => Cond::And(items),
        Some(false) => Cond::Or(items),
    })
}

fn parse_unary(p: &mut Parser<'_>, obj: ObjId) -> Result<Cond, SoqlError> {
    if p.peek().is_kw("NOT") {
        p.next();
        return Ok(Cond::Not(Box::new(parse_unary(p, obj)?)));
    }
    if p.is_sym("(") {
        p.next();
        let c = parse_or(p, obj)?;
        p.expect_sym(")")?;
        return Ok(c);
    }
    let t = p.next();
    let T::Word(w) = &t.t else {
        return Err(t.unexpected());
    };
    if RESERVED.iter().any(|r| w.eq_ignore_ascii_case(r)) {
        return Err(t.unexpected());
    }
    if p.is_sym("(") {
        return Err(SoqlError::malformed(
            t.pos,
            "date and aggregate functions are not served by this emulator",
        ));
    }
    let path = resolve_path(obj, w, t.pos)?;
    if path.ty == FType::Textarea && path.length > 255 {
        return Err(SoqlError::invalid_field(
            t.pos,
            format!("field '{}' can not be filtered in a query call", path.leaf),
        ));
    }
    let op_tok = p.next();
    let negated_in = if op_tok.is_kw("NOT") {
        if !p.peek().is_kw("IN") {
            return Err(p.peek().unexpected());
        }
        p.next();
        true
    } else {
        false
    };
    if negated_in || op_tok.is_kw("IN") {
        if p.peek().is_kw("SELECT") || (p.is_sym("(") && p.toks[p.i + 1].is_kw("SELECT")) {
            return Err(SoqlError::malformed(
                p.peek().pos,
                "semi-join subqueries are not served by this emulator",
            ));
        }
        p.expect_sym("(")?;
        let mut vals = Vec::new();
        loop {
            vals.push(parse_value(p, &path)?);
            if p.is_sym(",") {
                p.next();
                continue;
            }
            break;
        }
        p.expect_sym(")")?;
        return Ok(Cond::In(path, negated_in, vals));
    }
    if op_tok.is_kw("LIKE") {
        let v = p.next();
        let T::Str(s) = &v.t else {
            return Err(v.unexpected());
        };
        if !path.ty.is_text() {
            return Err(SoqlError {
                code: "INVALID_QUERY_FILTER_OPERATOR",
                pos: Some(op_tok.pos),
                reason: format!("invalid operator on {} field: LIKE", path.ty.api()),
            });
        }
        return Ok(Cond::Like(path, s.to_lowercase().chars().collect()));
    }
    let op = match &op_tok.t {
        T::Sym("=") => Op::Eq,
        T::Sym("!=") | T::Sym("<>") => Op::Ne,
        T::Sym("<") => Op::Lt,
        T::Sym("<=") => Op::Le,
        T::Sym(">") => Op::Gt,
        T::Sym(">=") => Op::Ge,
        _ => return Err(op_tok.unexpected()),
    };
    let lit = parse_value(p, &path)?;
    if lit == Lit::Null && !matches!(op, Op::Eq | Op::Ne) {
        return Err(SoqlError::malformed(op_tok.pos, "unexpected token: 'null'"));
    }
    Ok(Cond::Cmp(path, op, lit))
}

fn type_name(ty: FType) -> &'static str {
    match ty {
        FType::Id | FType::Reference => "id",
        FType::Boolean => "boolean",
        FType::Date => "date",
        FType::Datetime => "dateTime",
        FType::Int => "int",
        FType::Double | FType::Currency | FType::Percent => "double",
        _ => "string",
    }
}

fn parse_value(p: &mut Parser<'_>, path: &Path) -> Result<Lit, SoqlError> {
    let t = p.next();
    let ty = path.ty;
    let wrong = |quoted_ok: bool| {
        SoqlError::invalid_field(
            t.pos,
            format!(
                "value of filter criterion for field '{}' must be of type {} and should {}be enclosed in quotes",
                path.leaf,
                type_name(ty),
                if quoted_ok { "" } else { "not " }
            ),
        )
    };
    let textual = ty.is_text() || ty.is_id();
    match &t.t {
        T::Word(w) if w.eq_ignore_ascii_case("null") => Ok(Lit::Null),
        T::Str(s) => {
            if !textual {
                return Err(wrong(false));
            }
            if ty.is_id() && !s.is_empty() && super::ids::parse(s).is_none() {
                return Err(SoqlError {
                    code: "INVALID_QUERY_FILTER_OPERATOR",
                    pos: Some(t.pos),
                    reason: format!("invalid ID field: {s}"),
                });
            }
            Ok(Lit::Str(s.clone()))
        }
        T::Num(n) => {
            if textual {
                return Err(wrong(true));
            }
            if !ty.is_number() {
                return Err(wrong(false));
            }
            n.parse().map(Lit::Num).map_err(|_| t.unexpected())
        }
        T::Word(w) if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") => {
            if ty != FType::Boolean {
                return Err(wrong(textual));
            }
            Ok(Lit::Bool(w.eq_ignore_ascii_case("true")))
        }
        T::Date(d) => {
            if ty != FType::Date {
                return Err(wrong(textual));
            }
            let date: Date = d.parse().map_err(|_| t.unexpected())?;
            Ok(Lit::Date(date.to_string()))
        }
        T::DateTime(d) => {
            if ty != FType::Datetime {
                return Err(wrong(textual));
            }
            super::store::parse_datetime(d)
                .map(Lit::Time)
                .ok_or_else(|| t.unexpected())
        }
        T::Word(w) => {
            let n = if p.is_sym(":") {
                p.next();
                let nt = p.next();
                match &nt.t {
                    T::Num(n) => Some(n.parse::<i64>().map_err(|_| nt.unexpected())?),
                    _ => return Err(nt.unexpected()),
                }
            } else {
                None
            };
            let Some((start, end)) = date_literal(w, n, p.now_ms) else {
                return Err(t.unexpected());
            };
            match ty {
                FType::Date => Ok(Lit::DateRange(start.to_string(), end.to_string())),
                FType::Datetime => Ok(Lit::TimeRange(midnight_ms(start), midnight_ms(end))),
                _ => Err(wrong(textual)),
            }
        }
        _ => Err(t.unexpected()),
    }
}

fn midnight_ms(d: Date) -> i64 {
    d.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(0)
}

/// The `[start, end)` days of a date literal ("Date Formats and Date Literals", SOQL
/// reference), in UTC; weeks start on Sunday as in the en_US locale.
fn date_literal(name: &str, n: Option<i64>, now_ms: i64) -> Option<(Date, Date)> {
    let today = jiff::Timestamp::from_millisecond(now_ms)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let day = |d: Date, k: i64| d.checked_add(k.days()).ok();
    let month_start = |d: Date, k: i64| d.first_of_month().checked_add(k.months()).ok();
    let week_start = day(today, -(today.weekday().to_sunday_zero_offset() as i64))?;
    let year_start = Date::new(today.year(), 1, 1).ok()?;
    let year = |k: i64| year_start.checked_add(k.years()).ok();
    let upper = name.to_ascii_uppercase();
    Some(match (upper.as_str(), n) {
        ("YESTERDAY", None) => (day(today, -1)?, today),
        ("TODAY", None) => (today, day(today, 1)?),
        ("TOMORROW", None) => (day(today, 1)?, day(today, 2)?),
        ("LAST_WEEK", None) => (day(week_start, -7)?, week_start),
        ("THIS_WEEK", None) => (week_start, day(week_start, 7)?),
        ("NEXT_WEEK", None) => (day(week_start, 7)?, day(week_start, 14)?),
        ("LAST_MONTH", None) => (month_start(today, -1)?, month_start(today, 0)?),
        ("THIS_MONTH", None) => (month_start(today, 0)?, month_start(today, 1)?),
        ("NEXT_MONTH", None) => (month_start(today, 1)?, month_start(today, 2)?),
        ("LAST_90_DAYS", None) => (day(today, -90)?, day(today, 1)?),
        ("NEXT_90_DAYS", None) => (day(today, 1)?, day(today, 91)?),
        ("LAST_YEAR", None) => (year(-1)?, year(0)?),
        ("THIS_YEAR", None) => (year(0)?, year(1)?),
        ("NEXT_YEAR", None) => (year(1)?, year(2)?),
        ("LAST_N_DAYS", Some(k)) => (day(today, -k)?, day(today, 1)?),
        ("NEXT_N_DAYS", Some(k)) => (day(today, 1)?, day(today, k + 1)?),
        ("N_DAYS_AGO", Some(k)) => (day(today, -k)?, day(today, -k + 1)?),
        ("LAST_N_WEEKS", Some(k)) => (day(week_start, -7 * k)?, week_start),
        ("NEXT_N_WEEKS", Some(k)) => (day(week_start, 7)?, day(week_start, 7 * (k + 1))?),
        ("LAST_N_MONTHS", Some(k)) => (month_start(today, -k)?, month_start(today, 0)?),
        ("NEXT_N_MONTHS", Some(k)) => (month_start(today, 1)?, month_start(today, k + 1)?),
        _ => return None,
    })
}

fn cmp_val(ty: FType, v: &Val, lit: &Lit) -> Option<Ordering> {
    match (v, lit) {
        (Val::Str(a), Lit::Str(b)) => {
            if ty.is_id() {
                let a15 = a.get(..15).unwrap_or(a);
                let b15 = b.get(..15).unwrap_or(b);
                Some(a15.cmp(b15))
            } else {
                Some(a.to_lowercase().cmp(&b.to_lowercase()))
            }
        }
        (Val::Str(a), Lit::Date(b)) => Some(a.as_ref().cmp(b.as_str())),
        (Val::Num(a), Lit::Num(b)) => a.partial_cmp(b),
        (Val::Bool(a), Lit::Bool(b)) => Some(a.cmp(b)),
        (Val::Time(a), Lit::Time(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn in_range(v: &Val, lit: &Lit) -> Option<(bool, bool)> {
    // (before the range, inside it)
    match (v, lit) {
        (Val::Str(a), Lit::DateRange(s, e)) => {
            let a = a.as_ref();
            Some((a < s.as_str(), a >= s.as_str() && a < e.as_str()))
        }
        (Val::Time(a), Lit::TimeRange(s, e)) => Some((a < s, a >= s && a < e)),
        _ => None,
    }
}

fn compare(v: Option<&Val>, ty: FType, op: Op, lit: &Lit) -> bool {
    match (v, lit) {
        (None, Lit::Null) => op == Op::Eq,
        (Some(_), Lit::Null) => op == Op::Ne,
        // A null field is "not equal" to any value, and neither less nor greater.
        (None, _) => op == Op::Ne,
        (Some(v), Lit::DateRange(..) | Lit::TimeRange(..)) => {
            let Some((before, inside)) = in_range(v, lit) else {
                return false;
            };
            let after = !before && !inside;
            match op {
                Op::Eq => inside,
                Op::Ne => !inside,
                Op::Lt => before,
                Op::Le => before || inside,
                Op::Gt => after,
                Op::Ge => inside || after,
            }
        }
        (Some(v), _) => match cmp_val(ty, v, lit) {
            None => op == Op::Ne,
            Some(o) => match op {
                Op::Eq => o == Ordering::Equal,
                Op::Ne => o != Ordering::Equal,
                Op::Lt => o == Ordering::Less,
                Op::Le => o != Ordering::Greater,
                Op::Gt => o == Ordering::Greater,
                Op::Ge => o != Ordering::Less,
            },
        },
    }
}

/// SOQL LIKE: `%` any run, `_` one character, case-insensitive; `\` escapes.
pub fn like(text: &str, pattern: &[char]) -> bool {
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Classic two-pointer wildcard match with backtracking on the last `%`.
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < pattern.len() {
            match pattern[pi] {
                '%' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '_' => {
                    ti += 1;
                    pi += 1;
                    continue;
                }
                '\\' if pi + 1 < pattern.len() && pattern[pi + 1] == t[ti] => {
                    ti += 1;
                    pi += 2;
                    continue;
                }
                '\\' if pi + 1 < pattern.len() => {}
                c if c == t[ti] => {
                    ti += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[pi..].iter().all(|c| *c == '%')
}

impl Cond {
    pub fn eval(&self, org: &Org, obj: ObjId, rec: &Record) -> bool {
        match self {
            Cond::And(v) => v.iter().all(|c| c.eval(org, obj, rec)),
            Cond::Or(v) => v.iter().any(|c| c.eval(org, obj, rec)),
            Cond::Not(c) => !c.eval(org, obj, rec),
            Cond::Cmp(p, op, lit) => compare(p.eval(org, obj, rec).as_ref(), p.ty, *op, lit),
            Cond::In(p, neg, lits) => {
                let v = p.eval(org, obj, rec);
                let hit = lits.iter().any(|l| compare(v.as_ref(), p.ty, Op::Eq, l));
                hit != *neg
            }
            Cond::Like(p, pat) => match p.eval(org, obj, rec) {
                Some(Val::Str(s)) => like(&s, pat),
                _ => false,
            },
        }
    }
}

#[derive(Debug, PartialEq, PartialOrd)]
enum Key {
    Bool(bool),
    Num(f64),
    Time(i64),
    Text(String),
}

fn key(v: Option<Val>) -> Option<Key> {
    v.map(|v| match v {
        Val::Str(s) => Key::Text(s.to_lowercase()),
        Val::Num(n) => Key::Num(n),
        Val::Bool(b) => Key::Bool(b),
        Val::Time(t) => Key::Time(t),
    })
}

/// Runs `q`: the serials of the matching records, ordered, after OFFSET and LIMIT.
pub fn run(org: &Org, q: &Query, include_deleted: bool) -> Vec<u64> {
    run_with(org, q, include_deleted, &|_| true)
}

/// [`run`] with an extra predicate (SOSL's term match).
pub fn run_with(
    org: &Org,
    q: &Query,
    include_deleted: bool,
    extra: &dyn Fn(&Record) -> bool,
) -> Vec<u64> {
    let table = &org.tables[q.object];
    let matches = table
        .records
        .values()
        .filter(|r| include_deleted || r.deleted.is_none())
        .filter(|r| q.filter.as_ref().is_none_or(|c| c.eval(org, q.object, r)))
        .filter(|r| extra(r));
    if q.order.is_empty() {
        let it = matches.map(|r| r.serial).skip(q.offset);
        return match q.limit {
            Some(l) => it.take(l).collect(),
            None => it.collect(),
        };
    }
    let mut keyed: Vec<(Vec<Option<Key>>, u64)> = matches
        .map(|r| {
            (
                q.order
                    .iter()
                    .map(|o| key(o.path.eval(org, q.object, r)))
                    .collect(),
                r.serial,
            )
        })
        .collect();
    keyed.sort_by(|(a, sa), (b, sb)| {
        for (i, o) in q.order.iter().enumerate() {
            let ord = match (&a[i], &b[i]) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => {
                    if o.nulls_last {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (Some(_), None) => {
                    if o.nulls_last {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (Some(x), Some(y)) => {
                    let c = x.partial_cmp(y).unwrap_or(Ordering::Equal);
                    if o.desc { c.reverse() } else { c }
                }
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        sa.cmp(sb)
    });
    let it = keyed.into_iter().map(|(_, s)| s).skip(q.offset);
    match q.limit {
        Some(l) => it.take(l).collect(),
        None => it.collect(),
    }
}

/// One result record as a `Value`: what [`Shape::write`] writes, parsed. For the rare callers
/// that need a tree (SOSL); query pages are written straight to bytes.
pub fn project(org: &Org, obj: ObjId, rec: &Record, fields: &[Path], version: &str) -> Value {
    let mut out = Vec::with_capacity(256);
    Shape::new(fields).write(&mut out, org, obj, rec, version);
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

/// How the selected fields nest in a result record: the fields in SELECT order, each parent
/// relationship once, where it is first mentioned, holding the fields read through it — as
/// Salesforce answers (`attributes` first, then `Id`, `Account: {attributes, Name, …}`, …).
pub struct Shape<'a> {
    items: Vec<Item<'a>>,
}

enum Item<'a> {
    Leaf(&'a Path),
    /// The relationship `via.rel_names[depth]`, followed from the enclosing record.
    Rel {
        via: &'a Path,
        depth: usize,
        items: Vec<Item<'a>>,
    },
}

impl<'a> Shape<'a> {
    pub fn new(fields: &'a [Path]) -> Shape<'a> {
        let mut items = Vec::new();
        for p in fields {
            let mut cur = &mut items;
            for depth in 0..p.hops.len() {
                let name = p.rel_names[depth];
                let at = cur.iter().position(
                    |i| matches!(i, Item::Rel { via, depth: d, .. } if via.rel_names[*d] == name),
                );
                let at = at.unwrap_or_else(|| {
                    cur.push(Item::Rel {
                        via: p,
                        depth,
                        items: Vec::new(),
                    });
                    cur.len() - 1
                });
                let Item::Rel { items: next, .. } = &mut cur[at] else {
                    unreachable!("position found a relationship")
                };
                cur = next;
            }
            cur.push(Item::Leaf(p));
        }
        Shape { items }
    }

    /// Writes one result record as JSON: `attributes`, then the fields in SELECT order, parent
    /// relationships as nested objects (or `null` when the reference is empty or dangling).
    pub fn write(&self, out: &mut Vec<u8>, org: &Org, obj: ObjId, rec: &Record, version: &str) {
        write_level(out, org, obj, rec, &self.items, version);
    }
}

fn write_json(out: &mut Vec<u8>, v: &impl serde::Serialize) {
    // Writing to a Vec cannot fail, and these values always serialise.
    let _ = serde_json::to_writer(&mut *out, v);
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    out.push(b',');
    write_json(out, &key);
    out.push(b':');
}

fn write_level(
    out: &mut Vec<u8>,
    org: &Org,
    obj: ObjId,
    rec: &Record,
    items: &[Item<'_>],
    version: &str,
) {
    out.extend_from_slice(b"{\"attributes\":");
    write_json(out, &org.attributes_of(obj, rec.serial, version));
    for item in items {
        match item {
            Item::Leaf(p) => {
                write_key(out, p.leaf);
                let v = p.leaf_value(org, Some((obj, rec)));
                write_json(
                    out,
                    &JsonVal {
                        field: p.field_def(),
                        val: v.as_ref(),
                    },
                );
            }
            Item::Rel { via, depth, items } => {
                write_key(out, via.rel_names[*depth]);
                match via.hop(org, *depth, obj, rec) {
                    Some((o, r)) => write_level(out, org, o, r, items, version),
                    None => out.extend_from_slice(b"null"),
                }
            }
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::store::Rules;
    use serde_json::json;

    const NOW: i64 = 1_705_311_000_000; // 2024-01-15T09:30:00Z, a Monday

    fn org() -> Org {
        let mut org = Org::new(0, NOW);
        let admin = org.admin().serial;
        let r = Rules::default();
        let body = |v: Value| v.as_object().unwrap().clone();
        let acct = org
            .create(
                schema::ACCOUNT,
                &body(json!({"Name": "Acme", "NumberOfEmployees": 50})),
                admin,
                NOW,
                &r,
            )
            .unwrap();
        let acct_id = org.id_of(schema::ACCOUNT, acct);
        for (first, last, email, phone) in [
            ("Emma", "Smith", "emma@acme.example", "03-1234-5678"),
            ("太郎", "山田", "taro@example.jp", ""),
            ("Liam", "Jones", "", "+1 415 555 0100"),
        ] {
            org.create(
                schema::CONTACT,
                &body(json!({"FirstName": first, "LastName": last, "Email": email, "Phone": phone, "AccountId": acct_id})),
                admin,
                NOW,
                &r,
            )
            .unwrap();
        }
        org.create(
            schema::CONTACT,
            &body(json!({"LastName": "Orphan"})),
            admin,
            NOW + 86_400_000 * 3,
            &r,
        )
        .unwrap();
        org
    }

    fn names(q: &str) -> Vec<String> {
        let org = org();
        let query = parse(q, NOW).unwrap_or_else(|e| panic!("{q}: {e:?}"));
        run(&org, &query, false)
            .into_iter()
            .map(|s| {
                let rec = &org.tables[query.object].records[&s];
                project(&org, query.object, rec, &query.fields, "v62.0")["LastName"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn good_queries_select_what_they_say() {
        for (q, want) in [
            (
                "SELECT LastName FROM Contact",
                vec!["Smith", "山田", "Jones", "Orphan"],
            ),
            (
                "select lastname from contact where email = 'EMMA@acme.example'",
                vec!["Smith"],
            ),
            (
                "SELECT LastName FROM Contact WHERE Email != null ORDER BY LastName",
                vec!["Smith", "山田"],
            ),
            (
                "SELECT LastName FROM Contact WHERE Email = null",
                vec!["Jones", "Orphan"],
            ),
            (
                "SELECT LastName FROM Contact WHERE LastName LIKE 'S%'",
                vec!["Smith"],
            ),
            (
                "SELECT LastName FROM Contact WHERE LastName LIKE '_ones'",
                vec!["Jones"],
            ),
            (
                "SELECT LastName FROM Contact WHERE LastName IN ('Jones', 'Orphan') ORDER BY LastName DESC",
                vec!["Orphan", "Jones"],
            ),
            (
                "SELECT LastName FROM Contact WHERE LastName NOT IN ('Jones', 'Orphan', 'Smith')",
                vec!["山田"],
            ),
            (
                "SELECT LastName FROM Contact WHERE Account.Name = 'acme' AND (FirstName = 'Emma' OR FirstName = 'Liam')",
                vec!["Smith", "Jones"],
            ),
            (
                "SELECT LastName FROM Contact WHERE NOT LastName = 'Smith' LIMIT 2",
                vec!["山田", "Jones"],
            ),
            (
                "SELECT LastName FROM Contact ORDER BY Email NULLS LAST, LastName LIMIT 3 OFFSET 1",
                vec!["山田", "Jones", "Orphan"],
            ),
            (
                "SELECT LastName FROM Contact WHERE CreatedDate = TODAY",
                vec!["Smith", "山田", "Jones"],
            ),
            (
                "SELECT LastName FROM Contact WHERE CreatedDate > 2024-01-16T00:00:00Z",
                vec!["Orphan"],
            ),
            (
                "SELECT LastName FROM Contact WHERE CreatedDate < LAST_N_DAYS:2",
                vec![],
            ),
            (
                "SELECT LastName FROM Contact WHERE CreatedDate >= THIS_WEEK AND CreatedDate < NEXT_WEEK",
                vec!["Smith", "山田", "Jones", "Orphan"],
            ),
            (
                "SELECT Contact.LastName FROM Contact WHERE Account.NumberOfEmployees >= 50",
                vec!["Smith", "山田", "Jones"],
            ),
        ] {
            assert_eq!(names(q), want, "{q}");
        }
    }

    #[test]
    fn parent_relationships_nest_and_null() {
        let org = org();
        let q = parse(
            "SELECT Id, Name, Account.Name, Account.Owner.Name FROM Contact ORDER BY CreatedDate",
            NOW,
        )
        .unwrap();
        let ids = run(&org, &q, false);
        let first = project(
            &org,
            q.object,
            &org.tables[q.object].records[&ids[0]],
            &q.fields,
            "v62.0",
        );
        assert_eq!(first["Name"], "Smith Emma");
        let taro = project(
            &org,
            q.object,
            &org.tables[q.object].records[&ids[1]],
            &q.fields,
            "v62.0",
        );
        // The Japanese org shows family name first.
        assert_eq!(taro["Name"], "山田 太郎");
        assert_eq!(first["Account"]["Name"], "Acme");
        assert_eq!(first["Account"]["attributes"]["type"], "Account");
        assert_eq!(first["Account"]["Owner"]["Name"], "Yamada Hanako");
        let last = project(
            &org,
            q.object,
            &org.tables[q.object].records[&ids[3]],
            &q.fields,
            "v62.0",
        );
        assert_eq!(last["Account"], Value::Null);
    }

    #[test]
    fn bad_queries_get_salesforce_errors() {
        for (q, code, needle) in [
            (
                "SELEC Id FROM Lead",
                "MALFORMED_QUERY",
                "unexpected token: 'SELEC'",
            ),
            (
                "SELECT Id FROM",
                "MALFORMED_QUERY",
                "unexpected token: <EOF>",
            ),
            (
                "SELECT Id, FROM Lead",
                "MALFORMED_QUERY",
                "unexpected token: 'FROM'",
            ),
            (
                "SELECT Nam FROM Lead",
                "INVALID_FIELD",
                "No such column 'Nam' on entity 'Lead'",
            ),
            (
                "SELECT Id FROM Leed",
                "INVALID_TYPE",
                "sObject type 'Leed' is not supported",
            ),
            (
                "SELECT Foo.Name FROM Contact",
                "INVALID_FIELD",
                "Didn't understand relationship 'Foo'",
            ),
            (
                "SELECT Id FROM Lead WHERE Email = 5",
                "INVALID_FIELD",
                "must be of type string and should be enclosed in quotes",
            ),
            (
                "SELECT Id FROM Lead WHERE NumberOfEmployees = '5'",
                "INVALID_FIELD",
                "must be of type int and should not be enclosed",
            ),
            (
                "SELECT Id FROM Lead WHERE CreatedDate > 2024-01-01",
                "INVALID_FIELD",
                "must be of type dateTime",
            ),
            (
                "SELECT Id FROM Lead WHERE Id = 'abc'",
                "INVALID_QUERY_FILTER_OPERATOR",
                "invalid ID field: abc",
            ),
            (
                "SELECT Id FROM Lead WHERE LastName = 'x' AND",
                "MALFORMED_QUERY",
                "<EOF>",
            ),
            (
                "SELECT Id FROM Lead WHERE LastName = 'a' AND FirstName = 'b' OR Email = 'c'",
                "MALFORMED_QUERY",
                "unexpected token: 'OR'",
            ),
            (
                "SELECT Id, Id FROM Lead",
                "MALFORMED_QUERY",
                "duplicate field selected: Id",
            ),
            (
                "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
                "MALFORMED_QUERY",
                "subqueries",
            ),
            (
                "SELECT Id FROM Lead LIMIT x",
                "MALFORMED_QUERY",
                "unexpected token: 'x'",
            ),
            (
                "SELECT Id FROM Lead OFFSET 2001",
                "NUMBER_OUTSIDE_VALID_RANGE",
                "2000",
            ),
            (
                "SELECT FIELDS(ALL) FROM Lead",
                "MALFORMED_QUERY",
                "LIMIT of at most 200",
            ),
            (
                "SELECT Id FROM Lead WHERE Description = 'x'",
                "INVALID_FIELD",
                "can not be filtered",
            ),
            (
                "SELECT Id FROM Lead WHERE LastName = 'unterminated",
                "MALFORMED_QUERY",
                "<EOF>",
            ),
            (
                "SELECT Id FROM Lead WHERE CreatedDate = LAST_CENTURY",
                "MALFORMED_QUERY",
                "LAST_CENTURY",
            ),
        ] {
            let e = parse(q, NOW).expect_err(q);
            assert_eq!(e.code, code, "{q}: {e:?}");
            let msg = e.message(q);
            assert!(msg.contains(needle), "{q}: {msg}");
            assert!(msg.contains("ERROR at Row:1:Column:"), "{msg}");
        }
    }

    #[test]
    fn the_caret_points_at_the_column() {
        let q = "SELECT Nam FROM Lead";
        let msg = parse(q, NOW).unwrap_err().message(q);
        assert!(
            msg.starts_with("\nSELECT Nam FROM Lead\n       ^\nERROR at Row:1:Column:8\n"),
            "{msg}"
        );
    }

    #[test]
    fn like_handles_wildcards_and_escapes() {
        let p = |s: &str| s.to_lowercase().chars().collect::<Vec<_>>();
        assert!(like("Hello World", &p("hello%")));
        assert!(like("Hello", &p("%l_o")));
        assert!(!like("Hello", &p("%x%")));
        assert!(like("50%", &p("50\\%")));
        assert!(!like("500", &p("50\\%")));
        assert!(like("山田太郎", &p("%田%")));
    }

    /// The `Value` projection query pages were built with before they were written straight to
    /// bytes, kept as the reference the writer is checked against.
    fn old_project(org: &Org, obj: ObjId, rec: &Record, fields: &[Path], version: &str) -> Value {
        use crate::salesforce::store::sf_datetime;
        use serde_json::Map;
        fn val_json(field: &schema::Field, v: Option<&Val>) -> Value {
            match v {
                None => Value::Null,
                Some(Val::Str(s)) => Value::String(s.to_string()),
                Some(Val::Bool(b)) => Value::Bool(*b),
                Some(Val::Time(ms)) => Value::String(sf_datetime(*ms)),
                Some(Val::Num(n)) => {
                    if field.ty == FType::Int {
                        json!(*n as i64)
                    } else {
                        json!(n)
                    }
                }
            }
        }
        fn val_text(v: &Val) -> String {
            match v {
                Val::Str(s) => s.to_string(),
                Val::Bool(b) => b.to_string(),
                Val::Time(ms) => sf_datetime(*ms),
                Val::Num(n) => n.to_string(),
            }
        }
        fn leaf_json(p: &Path, v: Option<&Val>) -> Value {
            match p.field_def() {
                Some(f) => val_json(f, v),
                None => match v {
                    None => Value::Null,
                    Some(v) => Value::String(val_text(v)),
                },
            }
        }
        let attributes = |obj: ObjId, serial: u64| {
            let o = schema::obj(obj);
            json!({
                "type": o.name,
                "url": format!("/services/data/{version}/sobjects/{}/{}", o.name, org.id_of(obj, serial)),
            })
        };
        let mut m = Map::new();
        m.insert("attributes".into(), attributes(obj, rec.serial));
        for p in fields {
            if p.hops.is_empty() {
                let v = p.eval(org, obj, rec);
                m.insert(p.leaf.into(), leaf_json(p, v.as_ref()));
                continue;
            }
            let chain = p.walk(org, obj, rec);
            let mut cur = &mut m;
            for (k, at) in chain.iter().enumerate() {
                let name = p.rel_names[k];
                let Some((o, r)) = at else {
                    cur.entry(name).or_insert(Value::Null);
                    break;
                };
                let entry = cur.entry(name).or_insert(Value::Null);
                if !entry.is_object() {
                    let mut child = Map::new();
                    child.insert("attributes".into(), attributes(*o, r.serial));
                    *entry = Value::Object(child);
                }
                let Value::Object(next) = entry else { break };
                cur = next;
                if k + 1 == chain.len() {
                    let v = p.leaf_value(org, Some((*o, r)));
                    cur.insert(p.leaf.into(), leaf_json(p, v.as_ref()));
                }
            }
        }
        Value::Object(m)
    }

    #[test]
    fn written_records_match_the_value_projection() {
        let mut org = org();
        let admin = org.admin().serial;
        let r = Rules::default();
        let body = |v: Value| v.as_object().unwrap().clone();
        let parent = org
            .create(
                schema::ACCOUNT,
                &body(json!({
                    "Name": "株式会社 \"親\" \\ 本社",
                    "AnnualRevenue": 1234567.89,
                    "NumberOfEmployees": 3000,
                    "Description": "改行\nタブ\t制御\u{1}と絵文字 🍣",
                })),
                admin,
                NOW,
                &r,
            )
            .unwrap();
        let parent_id = org.id_of(schema::ACCOUNT, parent);
        let child = org
            .create(
                schema::ACCOUNT,
                &body(json!({"Name": "子会社", "ParentId": parent_id, "AnnualRevenue": 0.1})),
                admin,
                NOW,
                &r,
            )
            .unwrap();
        let child_id = org.id_of(schema::ACCOUNT, child);
        let opp = org
            .create(
                schema::OPPORTUNITY,
                &body(json!({
                    "Name": "大型案件", "StageName": "Prospecting", "CloseDate": "2024-03-31",
                    "Amount": 5e6, "Probability": 12.5, "AccountId": child_id,
                })),
                admin,
                NOW,
                &r,
            )
            .unwrap();
        let opp_id = org.id_of(schema::OPPORTUNITY, opp);
        let contact = org
            .create(
                schema::CONTACT,
                &body(json!({"LastName": "佐藤", "FirstName": "花子", "AccountId": child_id})),
                admin,
                NOW,
                &r,
            )
            .unwrap();
        let contact_id = org.id_of(schema::CONTACT, contact);
        for b in [
            json!({"Subject": "電話", "ActivityDate": "2024-02-01", "WhoId": contact_id, "WhatId": opp_id}),
            json!({"Subject": "Email", "WhatId": child_id}),
            json!({"Subject": "None"}),
        ] {
            org.create(schema::TASK, &body(b), admin, NOW, &r).unwrap();
        }
        // A dangling reference: its parent went to the Recycle Bin.
        let gone = org
            .create(
                schema::ACCOUNT,
                &body(json!({"Name": "Gone"})),
                admin,
                NOW,
                &r,
            )
            .unwrap();
        let gone_id = org.id_of(schema::ACCOUNT, gone);
        org.create(
            schema::CONTACT,
            &body(json!({"LastName": "Dangling", "AccountId": gone_id})),
            admin,
            NOW,
            &r,
        )
        .unwrap();
        org.delete(schema::ACCOUNT, gone, NOW).unwrap();

        let queries = [
            "SELECT Id, Name, FirstName, LastName, Email, Phone, IsDeleted, CreatedDate, Account.Name, Account.NumberOfEmployees, Account.AnnualRevenue, Account.Owner.Name FROM Contact",
            "SELECT Account.Name, Id, Account.Description, LastName, Account.Parent.Name, Account.Owner.Email, Account.Parent.AnnualRevenue FROM Contact",
            "SELECT Id, Name, Amount, Probability, CloseDate, IsDeleted, Account.Name, Account.Parent.Name, Account.Parent.Description FROM Opportunity",
            "SELECT Id, Subject, ActivityDate, Who.Name, What.Name, Who.Id, CreatedBy.Name FROM Task",
            "SELECT Id, Name, Description, AnnualRevenue, NumberOfEmployees, Parent.Name, Parent.Parent.Name FROM Account",
            "SELECT FIELDS(ALL) FROM Account LIMIT 200",
        ];
        let (mut compared, mut saw_null, mut saw_text_leaf) = (0, false, false);
        for q in queries {
            let query = parse(q, NOW).unwrap_or_else(|e| panic!("{q}: {e:?}"));
            let shape = Shape::new(&query.fields);
            for s in run(&org, &query, true) {
                let rec = &org.tables[query.object].records[&s];
                let mut bytes = Vec::new();
                shape.write(&mut bytes, &org, query.object, rec, "v62.0");
                let written: Value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|e| panic!("{q}: {e}: {}", String::from_utf8_lossy(&bytes)));
                let old = old_project(&org, query.object, rec, &query.fields, "v62.0");
                assert_eq!(written, old, "{q}");
                saw_null |= written["Account"].is_null() && q.contains("Account.Name");
                saw_text_leaf |= written["Who"]["Name"] == "佐藤 花子";
                assert_eq!(
                    project(&org, query.object, rec, &query.fields, "v62.0"),
                    old
                );
                compared += 1;
            }
        }
        assert!(compared >= 20, "{compared}");
        assert!(saw_null && saw_text_leaf, "{saw_null} {saw_text_leaf}");
    }

    #[test]
    fn written_records_keep_select_order() {
        let org = org();
        let q = parse(
            "SELECT LastName, Account.Name, Id, Account.Owner.Name, Account.NumberOfEmployees FROM Contact ORDER BY CreatedDate",
            NOW,
        )
        .unwrap();
        let ids = run(&org, &q, false);
        let mut out = Vec::new();
        Shape::new(&q.fields).write(
            &mut out,
            &org,
            q.object,
            &org.tables[q.object].records[&ids[0]],
            "v62.0",
        );
        let text = String::from_utf8(out).unwrap();
        let order: Vec<usize> = [
            r#"{"attributes":{"type":"Contact","url":"/services/data/v62.0/sobjects/Contact/003"#,
            r#""LastName":"Smith","Account":{"attributes":{"type":"Account","url":"#,
            r#""Name":"Acme","Owner":{"attributes":{"type":"User","url":"#,
            r#""Name":"Yamada Hanako"}"#,
            r#""NumberOfEmployees":50},"Id":"003"#,
        ]
        .iter()
        .map(|needle| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {text}"))
        })
        .collect();
        assert!(order.is_sorted(), "{text}");
        assert!(text.ends_with("}"));
    }
}

//! The write-back recipes' writes to Salesforce (see `crate::records`): live people search,
//! Leads, Contacts and Accounts created when the org has none yet, the Contact → Account link,
//! activities (call, task and email Tasks; meeting Events; classic Notes), a call's transcript
//! appended to its Task, field updates of any record and the field metadata settings are
//! validated against. Every call goes to the org's REST API
//! (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/).
//!
//! **People search.** [`find_people`] uses SOSL
//! (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_sosl_find.htm):
//! `FIND {…} IN PHONE FIELDS RETURNING Lead(… WHERE IsConverted = false), Contact(…)`. In phone
//! fields Salesforce matches the digits of a number whatever its notation, so the term is the
//! digits of the E.164 number and of each national form (`81312345678 OR 0312345678`), and a
//! record typed `03-1234-5678` or `+81 3 1234 5678` is found. An email is searched
//! `IN EMAIL FIELDS`; SOSL matches words, not whole values, so the answers are kept only when
//! their `Email` equals the address (case-insensitively). The Lead and Contact field lists and
//! the mapping are those of the import (`people.rs`, [`mapping::person`]).
//!
//! **Accounts.** [`find_company`] asks SOQL for Accounts whose `Name` equals the name (SOQL's
//! `=` ignores case) or whose `Website` contains the domain, oldest first
//! (`ORDER BY CreatedDate, Id`), and keeps the first whose name is equal or whose `Website`'s
//! host, without `www.`, is the domain: Salesforce keeps a website as typed
//! (`https://www.example.co.jp/`, `example.co.jp`), and `LIKE` alone would also match
//! `notexample.co.jp`. [`create_company`] writes the domain into `Website` as given.
//!
//! **Activities and their key** (how `find_activity` finds a write that may have landed):
//! - calls, tasks and emails are Tasks (`TaskSubtype` `Call`, `Task` or `Email`). The key goes
//!   into `Task.CallObject`, a 255-character text field that every Task has, that no user
//!   interface shows outside Call Center and that SOQL can filter
//!   (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_task.htm).
//!   `find_activity` is `SELECT Id FROM Task WHERE CallObject = '<key>'`: exact and
//!   deterministic, whatever else changed on the Task since.
//! - meetings are Events, which have no free field for a key. An Event is found by what the
//!   write set: its `WhoId` and `WhatId`, its `Subject` and its `StartDateTime` (written in whole
//!   seconds, so that equality holds), and a `Description` that starts with the body (compared
//!   here: long text cannot be filtered in SOQL, and an appended transcript must not hide it).
//! - notes are classic Notes: found by `ParentId` and `Title`, with a `Body` that starts with
//!   the body, compared here for the same reason.
//!
//! The oldest match is the answer (`ORDER BY CreatedDate, Id`). Only live records are searched:
//! an activity a user deleted is not found again.
//!
//! **Record pickers.** [`search_records`] is one SOQL query: the object's name field `LIKE
//! '%text%'` (case-insensitive in SOQL; `%` and `_` in the text escaped with a backslash), the
//! relation as `{lookup field} = '{id}'`, converted Leads left out, ordered by name. The name
//! field is `Name` where the object has one (every custom object does), else `Subject`
//! (activities) or `CaseNumber`. A Lead's or Contact's name is shown from `LastName` and
//! `FirstName` in renkei's order, since `Name` follows the org's locale.
//!
//! **Retries.** Creates are POSTs that Salesforce does not deduplicate, so they are never
//! repeated by the HTTP layer; the engine calls `find_activity` (or `find_people` /
//! `find_company`) after an ambiguous failure. PATCHes set absolute values and may be repeated.

use http::Method;
use renkei_core::Millis;
use serde_json::{Map, Value};
use url::Url;

use crate::http::{HttpClient, HttpResponse, OutgoingRequest};
use crate::people::{PersonObject, RemotePerson, text};
use crate::records::{
    ActivityKind, CallDirection, FieldKind, FieldMeta, FoundRecord, NewActivity, NewCompany,
    NewPerson, ObjectMeta, PersonLookup, RecordQuery, RecordRef, present,
};
use crate::registry::{Endpoints, join};
use crate::{ConnectorError, Provider, Session};

use super::API_VERSION;
use super::client::{self, classify};
use super::mapping;
use super::people::{CONTACT_FIELDS, LEAD_FIELDS, is_record_id, soql_datetime, soql_string};
use super::wire::{
    AccountRow, ActivityRow, CreateResult, Describe, DescribeField, DescribeGlobal, SearchResponse,
};

const P: Provider = Provider::Salesforce;

/// A meeting without an end lasts this long.
pub const DEFAULT_MEETING_MINUTES: i64 = 30;
/// `Task.Subject` and `Event.Subject` hold 255 characters.
pub const SUBJECT_MAX: usize = 255;
/// `Note.Title` holds 80 characters.
pub const NOTE_TITLE_MAX: usize = 80;
/// `Task.CallObject` holds 255 characters.
pub const KEY_MAX: usize = 255;
/// `CallDurationInSeconds` is an `int` of 8 digits.
pub const CALL_DURATION_MAX: u64 = 99_999_999;
/// How many Accounts [`find_company`] reads to find the oldest true match among those whose
/// `Website` merely contains the domain.
pub const COMPANY_CANDIDATES: usize = 200;

fn invalid(code: &str, field: Option<&str>, message: impl Into<String>) -> ConnectorError {
    crate::people::invalid(P, code, field, message)
}

fn protocol(message: impl Into<String>) -> ConnectorError {
    crate::people::protocol(P, message)
}

fn unsupported(message: impl Into<String>) -> ConnectorError {
    invalid("unsupported", None, message)
}

fn check_id(id: &str, field: &str) -> Result<(), ConnectorError> {
    if is_record_id(id) {
        Ok(())
    } else {
        Err(invalid(
            "id_invalid",
            Some(field),
            format!("{id:?} is not a Salesforce record id (15 or 18 letters and digits)"),
        ))
    }
}

/// An sObject API name (`Opportunity`, `Room__c`, `ns__Deal__c`): letters, digits and
/// underscores, starting with a letter. Anything else would change the URL it goes into.
pub fn is_object_name(s: &str) -> bool {
    s.len() <= 100
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn check_object(name: &str) -> Result<(), ConnectorError> {
    if is_object_name(name) {
        Ok(())
    } else {
        Err(invalid(
            "object_invalid",
            Some("object"),
            format!("{name:?} is not an sObject API name"),
        ))
    }
}

/// `s` cut to at most `max` characters (Salesforce counts characters, not bytes).
fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn data_url(base: &Url, path: &str) -> Url {
    join(base, &format!("/services/data/{API_VERSION}/{path}"))
}

/// Reads a refused write. Salesforce's duplicate rules answer `DUPLICATES_DETECTED` with the
/// matching records in `duplicateResult.matchResults[].matchRecords[].record.Id` rather than in
/// the message
/// (https://developer.salesforce.com/docs/atlas.en-us.apexref.meta/apexref/apex_class_Datacloud_DuplicateResult.htm),
/// so the existing id is taken from there when the message has none.
pub fn classify_write(resp: &HttpResponse) -> ConnectorError {
    match classify(resp) {
        ConnectorError::Duplicate {
            provider,
            existing_id,
        } if existing_id.is_empty() => {
            let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            let found = body
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["duplicateResult"]["matchResults"].as_array())
                .flatten()
                .filter_map(|m| m["matchRecords"].as_array())
                .flatten()
                .find_map(|r| r["record"]["Id"].as_str())
                .unwrap_or_default()
                .to_owned();
            ConnectorError::Duplicate {
                provider,
                existing_id: found,
            }
        }
        e => e,
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    url: Url,
) -> Result<T, ConnectorError> {
    let req = s.paced(
        P,
        OutgoingRequest::get(P.as_str(), url).bearer(s.access_token),
    );
    crate::oauth::get_json(http, &ep.allow, req, classify).await
}

/// Sends a write; a non-2xx answer becomes its error.
async fn write(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    method: Method,
    url: Url,
    body: Value,
    idempotent: bool,
) -> Result<HttpResponse, ConnectorError> {
    let req = OutgoingRequest::new(P.as_str(), method, url)
        .bearer(s.access_token)
        .json(body)
        .idempotent(idempotent);
    let resp = http.send(&ep.allow, s.paced(P, req)).await?;
    if resp.status.is_success() {
        Ok(resp)
    } else {
        Err(classify_write(&resp))
    }
}

/// `POST /sobjects/{object}` (201 `{"id", "success", "errors"}`). Never repeated on its own:
/// Salesforce would create a second record.
async fn create(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: &str,
    body: Value,
) -> Result<RecordRef, ConnectorError> {
    let base = client::instance(ep, s)?;
    let resp = write(
        http,
        ep,
        s,
        Method::POST,
        data_url(&base, &format!("sobjects/{object}")),
        body,
        false,
    )
    .await?;
    let created: CreateResult = resp.json(P.as_str())?;
    if !created.success || !is_record_id(&created.id) {
        return Err(protocol(format!(
            "creating a {object} answered no usable id ({:?})",
            created.id
        )));
    }
    Ok(RecordRef::new(object, created.id))
}

/// `PATCH /sobjects/{object}/{id}` (204): absolute values, so repeating it is harmless.
async fn patch(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: &str,
    id: &str,
    body: Value,
) -> Result<(), ConnectorError> {
    let base = client::instance(ep, s)?;
    write(
        http,
        ep,
        s,
        Method::PATCH,
        data_url(&base, &format!("sobjects/{object}/{id}")),
        body,
        true,
    )
    .await
    .map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// People

/// A SOSL search term: reserved characters escaped with a backslash
/// (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_sosl_find.htm,
/// "Reserved Characters").
pub fn sosl_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if "?&|!{}[]()^~*:\\\"'+-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The phone term of `q`: the digits of the E.164 number and of each national form, distinct,
/// joined with `OR`; `None` when there are no digits to search.
pub fn phone_term(q: &PersonLookup) -> Option<String> {
    let mut forms: Vec<String> = Vec::new();
    for f in q.phone_e164.iter().chain(q.phone_national.iter()) {
        let d: String = f.chars().filter(char::is_ascii_digit).collect();
        // SOSL refuses terms shorter than two characters.
        if d.len() >= 2 && !forms.contains(&d) {
            forms.push(d);
        }
    }
    (!forms.is_empty()).then(|| forms.join(" OR "))
}

/// `FIND {term} IN {group} FIELDS RETURNING …` over `objects`. Converted Leads are left out: a
/// converted lead lives on as its Contact.
pub fn people_sosl(
    term: &str,
    group: &str,
    objects: &[PersonObject],
) -> Result<String, ConnectorError> {
    let mut returning = Vec::new();
    for o in objects {
        let part = match o {
            PersonObject::Lead => format!("Lead({LEAD_FIELDS} WHERE IsConverted = false)"),
            PersonObject::Contact => format!("Contact({CONTACT_FIELDS})"),
        };
        if !returning.contains(&part) {
            returning.push(part);
        }
    }
    if returning.is_empty() {
        return Err(invalid(
            "objects_empty",
            Some("objects"),
            "no object to search: name Lead, Contact or both",
        ));
    }
    Ok(format!(
        "FIND {{{term}}} IN {group} FIELDS RETURNING {}",
        returning.join(", ")
    ))
}

/// The people of a SOSL answer, each read as its `attributes.type` says.
pub fn search_people(resp: SearchResponse) -> Result<Vec<RemotePerson>, ConnectorError> {
    resp.search_records
        .into_iter()
        .map(|r| {
            let object = match r.attributes.ty.as_str() {
                "Lead" => PersonObject::Lead,
                "Contact" => PersonObject::Contact,
                other => {
                    return Err(protocol(format!(
                        "a people search answered a record of type {other:?}"
                    )));
                }
            };
            mapping::person(object, r.person)
        })
        .collect()
}

async fn search(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    sosl: &str,
) -> Result<Vec<RemotePerson>, ConnectorError> {
    let base = client::instance(ep, s)?;
    let mut url = data_url(&base, "search");
    url.query_pairs_mut().append_pair("q", sosl);
    search_people(get_json(http, ep, s, url).await?)
}

/// Live search of Leads and Contacts among `objects` by phone forms and/or email (see the
/// module doc). Records found by both searches are answered once, phone matches first.
pub async fn find_people(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    objects: &[PersonObject],
    q: &PersonLookup,
) -> Result<Vec<RemotePerson>, ConnectorError> {
    let phone = phone_term(q);
    let email = q.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    if phone.is_none() && email.is_none() {
        return Err(invalid(
            "lookup_empty",
            Some("phone_e164"),
            "a people search needs a phone number with digits or an email",
        ));
    }
    let mut out: Vec<RemotePerson> = Vec::new();
    if let Some(term) = phone {
        let sosl = people_sosl(&term, "PHONE", objects)?;
        out.extend(search(http, ep, s, &sosl).await?);
    }
    if let Some(email) = email {
        let sosl = people_sosl(&sosl_escape(email), "EMAIL", objects)?;
        for p in search(http, ep, s, &sosl).await? {
            let same = p.emails.iter().any(|e| e.eq_ignore_ascii_case(email));
            if same && !out.iter().any(|o| o.remote_id == p.remote_id) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn put_text(body: &mut Map<String, Value>, name: &str, v: Option<&str>) {
    if let Some(v) = text(v.map(str::to_owned)) {
        body.insert(name.into(), Value::String(v));
    }
}

/// The create body of a Lead or Contact. A Lead without a company is sent without `Company`,
/// which Salesforce refuses naming the field (the engine puts its placeholder there first); a
/// Contact's company is its Account (`AccountId`), never a text.
pub fn person_body(p: &NewPerson) -> Result<(&'static str, Value), ConnectorError> {
    let mut b = Map::new();
    put_text(&mut b, "LastName", Some(&p.last_name));
    put_text(&mut b, "FirstName", p.first_name.as_deref());
    let object = match p.object {
        PersonObject::Lead => {
            if p.account.is_some() {
                return Err(invalid(
                    "field_unsupported",
                    Some("account"),
                    "a Salesforce Lead has no account; its company is the Company text",
                ));
            }
            put_text(&mut b, "Company", p.company.as_deref());
            "Lead"
        }
        PersonObject::Contact => {
            if let Some(a) = &p.account {
                if a.object != "Account" {
                    return Err(invalid(
                        "object_invalid",
                        Some("account"),
                        format!("a Contact's account is an Account, not a {}", a.object),
                    ));
                }
                check_id(&a.id, "account")?;
                b.insert("AccountId".into(), Value::String(a.id.clone()));
            }
            "Contact"
        }
    };
    put_text(&mut b, "Email", p.email.as_deref());
    put_text(&mut b, "Phone", p.phone.as_deref());
    put_text(&mut b, "Description", p.description.as_deref());
    if let Some(o) = &p.owner_id {
        check_id(o, "owner_id")?;
        b.insert("OwnerId".into(), Value::String(o.clone()));
    }
    for (k, v) in &p.extra {
        b.insert(k.clone(), v.clone());
    }
    Ok((object, Value::Object(b)))
}

/// A new Lead or Contact. Salesforce refuses a missing `LastName` (and a Lead's `Company`) with
/// `REQUIRED_FIELD_MISSING` naming the field (an `Invalid` with that field); an active duplicate
/// rule answers `Duplicate` with the existing record's id.
pub async fn create_person(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    p: &NewPerson,
) -> Result<RecordRef, ConnectorError> {
    let (object, body) = person_body(p)?;
    create(http, ep, s, object, body).await
}

// ---------------------------------------------------------------------------------------------
// Accounts

/// The host of a `Website` as typed, lower-cased, without scheme, port, path or `www.`.
pub fn website_host(w: &str) -> Option<String> {
    let w = w.trim().to_lowercase();
    let rest = w
        .strip_prefix("https://")
        .or_else(|| w.strip_prefix("http://"))
        .unwrap_or(&w);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or("").trim_end_matches('.');
    let host = host.strip_prefix("www.").unwrap_or(host);
    (!host.is_empty()).then(|| host.to_owned())
}

/// A domain as [`find_company`] compares it, or `Invalid` when it is not a host name (which
/// also keeps it free of SOQL's quote and `LIKE` wildcards).
pub fn normalise_domain(d: &str) -> Result<String, ConnectorError> {
    let host = website_host(d).unwrap_or_default();
    let ok = !host.is_empty()
        && host.contains('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(host)
    } else {
        Err(invalid(
            "domain_invalid",
            Some("domain"),
            format!("{d:?} is not a domain"),
        ))
    }
}

/// The query of [`find_company`]: Accounts whose Name equals `name` or whose Website contains
/// `domain` (already normalised), oldest first.
pub fn company_soql(name: Option<&str>, domain: Option<&str>) -> Option<String> {
    let mut or = Vec::new();
    if let Some(n) = name {
        or.push(format!("Name = {}", soql_string(n)));
    }
    if let Some(d) = domain {
        or.push(format!("Website LIKE {}", soql_string(&format!("%{d}%"))));
    }
    (!or.is_empty()).then(|| {
        format!(
            "SELECT Id, Name, Website FROM Account WHERE {} ORDER BY CreatedDate, Id LIMIT {COMPANY_CANDIDATES}",
            or.join(" OR ")
        )
    })
}

/// The first of `rows` (oldest first) whose name equals `name` or whose website's host is
/// `domain`.
pub fn pick_company(
    rows: Vec<AccountRow>,
    name: Option<&str>,
    domain: Option<&str>,
) -> Option<RecordRef> {
    let name = name.map(str::to_lowercase);
    rows.into_iter()
        .find(|r| {
            let by_name = name.as_deref().is_some_and(|n| {
                r.name
                    .as_deref()
                    .is_some_and(|rn| rn.trim().to_lowercase() == n)
            });
            let by_domain = domain.is_some_and(|d| {
                r.website
                    .as_deref()
                    .and_then(website_host)
                    .is_some_and(|h| h == d)
            });
            by_name || by_domain
        })
        .and_then(|r| r.id)
        .map(|id| RecordRef::new("Account", id))
}

/// The oldest Account whose `Name` equals `name` (ignoring case, as SOQL's `=` does) or whose
/// `Website` is at `domain` (see the module doc).
pub async fn find_company(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    name: Option<&str>,
    domain: Option<&str>,
) -> Result<Option<RecordRef>, ConnectorError> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let domain = domain
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(normalise_domain)
        .transpose()?;
    let Some(soql) = company_soql(name, domain.as_deref()) else {
        return Err(invalid(
            "lookup_empty",
            Some("name"),
            "an account search needs a name or a domain",
        ));
    };
    let rows: Vec<AccountRow> = client::query_all(http, ep, s, &soql).await?;
    Ok(pick_company(rows, name, domain.as_deref()))
}

/// The create body of an Account: `Name`, the domain as `Website`, the owner, then `extra`.
pub fn company_body(c: &NewCompany) -> Result<Value, ConnectorError> {
    let mut b = Map::new();
    put_text(&mut b, "Name", Some(&c.name));
    put_text(&mut b, "Website", c.domain.as_deref());
    if let Some(o) = &c.owner_id {
        check_id(o, "owner_id")?;
        b.insert("OwnerId".into(), Value::String(o.clone()));
    }
    for (k, v) in &c.extra {
        b.insert(k.clone(), v.clone());
    }
    Ok(Value::Object(b))
}

/// A new Account. A blank name is refused by Salesforce (`REQUIRED_FIELD_MISSING` on `Name`).
pub async fn create_company(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    c: &NewCompany,
) -> Result<RecordRef, ConnectorError> {
    let body = company_body(c)?;
    create(http, ep, s, "Account", body).await
}

/// Links a Contact to its Account: `PATCH Contact {AccountId}`. Salesforce has no other
/// person → company link (a Lead's company is text), so any other pair is `unsupported`.
pub async fn associate(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    from: &RecordRef,
    to: &RecordRef,
) -> Result<(), ConnectorError> {
    if from.object != "Contact" || to.object != "Account" {
        return Err(unsupported(format!(
            "Salesforce links only a Contact to an Account (its AccountId), not a {} to a {}",
            from.object, to.object
        )));
    }
    check_id(&from.id, "from")?;
    check_id(&to.id, "to")?;
    let mut body = Map::new();
    body.insert("AccountId".into(), Value::String(to.id.clone()));
    patch(http, ep, s, "Contact", &from.id, Value::Object(body)).await
}

// ---------------------------------------------------------------------------------------------
// Activities

/// The sObject an activity kind is written as, and its body field.
pub fn activity_object(kind: ActivityKind) -> (&'static str, &'static str) {
    match kind {
        ActivityKind::Call | ActivityKind::Task | ActivityKind::Email => ("Task", "Description"),
        ActivityKind::Meeting => ("Event", "Description"),
        ActivityKind::Note => ("Note", "Body"),
    }
}

/// `YYYY-MM-DD` of `at` in UTC (a Task's `ActivityDate` is a date without a zone).
fn utc_date(at: Millis) -> String {
    at.to_timestamp()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

/// A meeting's end: `ends_at`, or [`DEFAULT_MEETING_MINUTES`] after the start.
fn meeting_end(a: &NewActivity) -> Result<Millis, ConnectorError> {
    let end = a
        .ends_at
        .unwrap_or(Millis(a.occurred_at.0 + DEFAULT_MEETING_MINUTES * 60_000));
    if end.0 < a.occurred_at.0 {
        return Err(invalid(
            "ends_before_start",
            Some("ends_at"),
            "a meeting cannot end before it starts",
        ));
    }
    Ok(end)
}

fn check_activity(a: &NewActivity) -> Result<(), ConnectorError> {
    if a.key.is_empty() || a.key.len() > KEY_MAX || !a.key.is_ascii() {
        return Err(invalid(
            "key_invalid",
            Some("key"),
            format!("the key must be 1 to {KEY_MAX} ASCII characters"),
        ));
    }
    if let Some(p) = &a.person {
        if p.object != "Lead" && p.object != "Contact" {
            return Err(invalid(
                "object_invalid",
                Some("person"),
                format!(
                    "an activity's person is a Lead or a Contact, not a {}",
                    p.object
                ),
            ));
        }
        check_id(&p.id, "person")?;
    }
    if let Some(d) = &a.deal {
        check_id(&d.id, "deal")?;
    }
    if let Some(o) = &a.owner_id {
        check_id(o, "owner_id")?;
    }
    // "If the WhoId refers to a lead, then the WhatId field must be empty" (Task and Event in
    // the Object Reference); a Note has a single parent and is not concerned.
    if a.kind != ActivityKind::Note
        && a.deal.is_some()
        && a.person.as_ref().is_some_and(|p| p.object == "Lead")
    {
        return Err(invalid(
            "lead_with_deal",
            Some("deal"),
            "Salesforce does not relate an activity whose person is a Lead to another record",
        ));
    }
    Ok(())
}

/// The sObject and create body of `a` (see the module doc for each kind).
pub fn activity_body(a: &NewActivity) -> Result<(&'static str, Value), ConnectorError> {
    check_activity(a)?;
    let mut b = Map::new();
    let s = |v: &str| Value::String(v.to_owned());
    let (object, _) = activity_object(a.kind);
    match a.kind {
        ActivityKind::Note => {
            let parent = a.person.as_ref().or(a.deal.as_ref()).ok_or_else(|| {
                invalid(
                    "parent_missing",
                    Some("person"),
                    "a Salesforce Note needs a parent: the person or else the deal",
                )
            })?;
            b.insert("ParentId".into(), s(&parent.id));
            put_text(&mut b, "Title", Some(&truncate(&a.subject, NOTE_TITLE_MAX)));
            if !a.body.is_empty() {
                b.insert("Body".into(), s(&a.body));
            }
        }
        ActivityKind::Meeting => {
            put_text(&mut b, "Subject", Some(&truncate(&a.subject, SUBJECT_MAX)));
            b.insert("StartDateTime".into(), s(&soql_datetime(a.occurred_at)));
            b.insert("EndDateTime".into(), s(&soql_datetime(meeting_end(a)?)));
            if !a.body.is_empty() {
                b.insert("Description".into(), s(&a.body));
            }
        }
        ActivityKind::Call | ActivityKind::Task | ActivityKind::Email => {
            let subtype = match a.kind {
                ActivityKind::Call => "Call",
                ActivityKind::Email => "Email",
                _ => "Task",
            };
            b.insert("TaskSubtype".into(), s(subtype));
            put_text(&mut b, "Subject", Some(&truncate(&a.subject, SUBJECT_MAX)));
            if !a.body.is_empty() {
                b.insert("Description".into(), s(&a.body));
            }
            b.insert("ActivityDate".into(), s(&utc_date(a.occurred_at)));
            // A call happened and an email was sent: both are done. A task is done when the
            // host app says so; otherwise Salesforce's default status applies.
            if a.kind != ActivityKind::Task || a.completed {
                b.insert("Status".into(), s("Completed"));
            }
            if a.kind == ActivityKind::Call {
                let call = a.call.as_ref().ok_or_else(|| {
                    invalid("call_missing", Some("call"), "a call needs its details")
                })?;
                if call.duration_seconds > CALL_DURATION_MAX {
                    return Err(invalid(
                        "duration_too_long",
                        Some("call.duration_seconds"),
                        format!("CallDurationInSeconds holds at most {CALL_DURATION_MAX}"),
                    ));
                }
                let direction = match call.direction {
                    CallDirection::Inbound => "Inbound",
                    CallDirection::Outbound => "Outbound",
                };
                b.insert("CallType".into(), s(direction));
                b.insert(
                    "CallDurationInSeconds".into(),
                    Value::from(call.duration_seconds),
                );
            }
            b.insert("CallObject".into(), s(&a.key));
        }
    }
    if a.kind != ActivityKind::Note {
        if let Some(p) = &a.person {
            b.insert("WhoId".into(), s(&p.id));
        }
        if let Some(d) = &a.deal {
            b.insert("WhatId".into(), s(&d.id));
        }
    }
    if let Some(o) = &a.owner_id {
        b.insert("OwnerId".into(), s(o));
    }
    Ok((object, Value::Object(b)))
}

/// Writes `a`. Not repeated on an ambiguous failure: the engine asks [`find_activity`] first.
pub async fn create_activity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    a: &NewActivity,
) -> Result<RecordRef, ConnectorError> {
    let (object, body) = activity_body(a)?;
    create(http, ep, s, object, body).await
}

/// The query that finds what `create_activity(a)` wrote (see the module doc).
pub fn find_activity_soql(a: &NewActivity) -> Result<String, ConnectorError> {
    check_activity(a)?;
    let order = "ORDER BY CreatedDate, Id";
    Ok(match a.kind {
        ActivityKind::Call | ActivityKind::Task | ActivityKind::Email => format!(
            "SELECT Id FROM Task WHERE CallObject = {} {order} LIMIT 1",
            soql_string(&a.key)
        ),
        ActivityKind::Meeting => {
            let mut c = Vec::new();
            c.push(match &a.person {
                Some(p) => format!("WhoId = {}", soql_string(&p.id)),
                None => "WhoId = null".to_owned(),
            });
            c.push(match &a.deal {
                Some(d) => format!("WhatId = {}", soql_string(&d.id)),
                None => "WhatId = null".to_owned(),
            });
            let subject = text(Some(truncate(&a.subject, SUBJECT_MAX)));
            c.push(match subject {
                Some(sj) => format!("Subject = {}", soql_string(&sj)),
                None => "Subject = null".to_owned(),
            });
            c.push(format!("StartDateTime = {}", soql_datetime(a.occurred_at)));
            format!(
                "SELECT Id, Description FROM Event WHERE {} {order}",
                c.join(" AND ")
            )
        }
        ActivityKind::Note => {
            let parent = a.person.as_ref().or(a.deal.as_ref()).ok_or_else(|| {
                invalid(
                    "parent_missing",
                    Some("person"),
                    "a Salesforce Note needs a parent: the person or else the deal",
                )
            })?;
            let title = text(Some(truncate(&a.subject, NOTE_TITLE_MAX))).unwrap_or_default();
            format!(
                "SELECT Id, Body FROM Note WHERE ParentId = {} AND Title = {} {order}",
                soql_string(&parent.id),
                soql_string(&title)
            )
        }
    })
}

/// Whether a stored body is the one `a` wrote, possibly with text appended since.
fn body_matches(stored: Option<&str>, written: &str) -> bool {
    stored
        .unwrap_or("")
        .trim_start()
        .starts_with(written.trim())
}

/// The activity an earlier `create_activity(a)` wrote, if it landed (see the module doc for
/// where the key is kept and how each kind is found).
pub async fn find_activity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    a: &NewActivity,
) -> Result<Option<RecordRef>, ConnectorError> {
    let soql = find_activity_soql(a)?;
    let rows: Vec<ActivityRow> = client::query_all(http, ep, s, &soql).await?;
    let (object, _) = activity_object(a.kind);
    let found = rows.into_iter().find(|r| match a.kind {
        ActivityKind::Meeting => body_matches(r.description.as_deref(), &a.body),
        ActivityKind::Note => body_matches(r.body.as_deref(), &a.body),
        _ => true,
    });
    match found {
        None => Ok(None),
        Some(r) => {
            let id =
                r.id.filter(|id| is_record_id(id))
                    .ok_or_else(|| protocol(format!("a {object} query record has no Id")))?;
            Ok(Some(RecordRef::new(object, id)))
        }
    }
}

/// The body after appending `text` to `current` after a blank line, or `None` when `current`
/// already ends with `text` (a retry) or `text` is blank.
pub fn appended(current: Option<&str>, text: &str) -> Option<String> {
    let text = text.trim();
    let current = current.unwrap_or("").trim_end();
    if text.is_empty() || current.ends_with(text) {
        return None;
    }
    if current.trim_start().is_empty() {
        Some(text.to_owned())
    } else {
        Some(format!("{current}\n\n{text}"))
    }
}

/// Appends `text` to the activity's body (a Task's or Event's `Description`, a Note's `Body`)
/// after a blank line: the body is read, and written back whole unless it already ends with
/// `text`, so a retry never appends twice. Salesforce refuses a body past 32,000 characters
/// (`STRING_TOO_LONG`, an `Invalid` naming the field).
pub async fn append_to_activity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    kind: ActivityKind,
    r: &RecordRef,
    text: &str,
) -> Result<(), ConnectorError> {
    let (object, field) = activity_object(kind);
    if r.object != object {
        return Err(invalid(
            "object_invalid",
            Some("object"),
            format!(
                "a {} is kept as a {object}, not a {}",
                kind.as_str(),
                r.object
            ),
        ));
    }
    check_id(&r.id, "id")?;
    if text.trim().is_empty() {
        return Ok(());
    }
    let base = client::instance(ep, s)?;
    let mut url = data_url(&base, &format!("sobjects/{object}/{}", r.id));
    url.query_pairs_mut().append_pair("fields", field);
    let row: ActivityRow = get_json(http, ep, s, url).await?;
    let current = match field {
        "Body" => row.body,
        _ => row.description,
    };
    let Some(new) = appended(current.as_deref(), text) else {
        return Ok(());
    };
    let mut body = Map::new();
    body.insert(field.into(), Value::String(new));
    patch(http, ep, s, object, &r.id, Value::Object(body)).await
}

// ---------------------------------------------------------------------------------------------
// Any record

/// Sets `fields` (API names → values, `null` clears) on the record: `PATCH
/// /sobjects/{object}/{id}`. Salesforce names the refused field (`INVALID_FIELD_FOR_INSERT_UPDATE`,
/// `STRING_TOO_LONG`, …) and answers 404 for an unknown record.
pub async fn update_record(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    r: &RecordRef,
    fields: &Map<String, Value>,
) -> Result<(), ConnectorError> {
    check_object(&r.object)?;
    check_id(&r.id, "id")?;
    if fields.is_empty() {
        return Ok(());
    }
    patch(http, ep, s, &r.object, &r.id, Value::Object(fields.clone())).await
}

/// renkei's kind of a describe `type`
/// (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm). A
/// `combobox` takes any text besides its suggestions, so it is text; a `textarea` of any
/// length is multi-line text.
pub fn field_kind(ty: &str) -> FieldKind {
    match ty {
        "string" | "combobox" | "encryptedstring" => FieldKind::Text,
        "textarea" => FieldKind::LongText,
        "url" => FieldKind::Url,
        "email" => FieldKind::Email,
        "phone" => FieldKind::Phone,
        "double" | "currency" | "int" | "long" | "percent" => FieldKind::Number,
        "boolean" => FieldKind::Bool,
        "date" => FieldKind::Date,
        "datetime" => FieldKind::DateTime,
        "picklist" | "multipicklist" => FieldKind::Picklist,
        "reference" => FieldKind::Reference,
        _ => FieldKind::Other,
    }
}

/// One describe field as [`FieldMeta`]: required when a create must give it (`!nillable &&
/// createable && !defaultedOnCreate`), writable when it can be set at all.
pub fn field_meta(f: DescribeField) -> FieldMeta {
    FieldMeta {
        kind: field_kind(&f.ty),
        required: !f.nillable && f.createable && !f.defaulted_on_create,
        writable: f.updateable || f.createable,
        options: f
            .picklist_values
            .into_iter()
            .filter(|v| v.active)
            .map(|v| {
                let label = v.label.unwrap_or_else(|| v.value.clone());
                (v.value, label)
            })
            .collect(),
        provider_type: f.ty,
        label: f.label,
        name: f.name,
        references: f.reference_to,
    }
}

/// The object's fields: `GET /sobjects/{object}/describe`
/// (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm).
/// An unknown object is `NotFound`.
pub async fn describe_fields(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: &str,
) -> Result<Vec<FieldMeta>, ConnectorError> {
    check_object(object)?;
    let base = client::instance(ep, s)?;
    let d: Describe = get_json(
        http,
        ep,
        s,
        data_url(&base, &format!("sobjects/{object}/describe")),
    )
    .await?;
    Ok(d.fields.into_iter().map(field_meta).collect())
}

/// The org's sObjects that can be queried: `GET /sobjects`
/// (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_describeGlobal.htm).
/// Deprecated and hidden objects are left out, as Salesforce's own UI does.
pub async fn list_objects(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
) -> Result<Vec<ObjectMeta>, ConnectorError> {
    let base = client::instance(ep, s)?;
    let g: DescribeGlobal = get_json(http, ep, s, data_url(&base, "sobjects")).await?;
    Ok(g.sobjects
        .into_iter()
        .filter(|o| o.queryable && !o.deprecated_and_hidden)
        .map(|o| ObjectMeta {
            plural_label: if o.label_plural.is_empty() {
                o.label.clone()
            } else {
                o.label_plural
            },
            label: o.label,
            name: o.name,
            custom: o.custom,
            creatable: o.createable,
        })
        .collect())
}

/// Any record, custom objects included: `POST /sobjects/{object}` with `fields` by their API
/// names, as given. Never repeated on its own (see [`create`]).
pub async fn create_record(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: &str,
    fields: &Map<String, Value>,
) -> Result<RecordRef, ConnectorError> {
    check_object(object)?;
    create(http, ep, s, object, Value::Object(fields.clone())).await
}

/// The field Salesforce shows as an object's record name, among `fields`: `Name` on most
/// objects and on every custom object, `Subject` on activities, `CaseNumber` on Cases.
pub fn name_field(fields: &[FieldMeta]) -> Option<&'static str> {
    present(fields, &["Name", "Subject", "CaseNumber"])
        .first()
        .copied()
}

/// The fields a picker shows beside the name, where the object has them.
const PICKER_FIELDS: &[&str] = &[
    "Email",
    "Phone",
    "Company",
    "Title",
    "AccountId",
    "Website",
    "StageName",
    "Amount",
    "CloseDate",
    "Status",
];

/// A SOQL `LIKE` literal matching values that contain `text`: the text's `%` and `_` escaped
/// with a backslash, as are quotes and backslashes
/// (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_comparisonoperators.htm).
pub fn like_contains(text: &str) -> String {
    let mut out = String::from("'%");
    for c in text.chars() {
        if matches!(c, '\\' | '\'' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("%'");
    out
}

/// The SOQL of [`search_records`], and the name field it orders by.
pub fn records_soql(
    q: &RecordQuery,
    fields: &[FieldMeta],
) -> Result<(String, &'static str), ConnectorError> {
    check_object(&q.object)?;
    let Some(name) = name_field(fields) else {
        return Err(invalid(
            "object_unsearchable",
            Some("object"),
            format!("{} has no name field to search", q.object),
        ));
    };
    let mut select = vec!["Id", name];
    select.extend(present(fields, PICKER_FIELDS));
    // A person's name is shown in renkei's order ("山田 太郎", "Taro Yamada") from its parts,
    // as everywhere else in renkei; `Name` follows the org's locale.
    select.extend(present(fields, &["LastName", "FirstName"]));
    let mut wheres = Vec::new();
    if let Some(t) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        wheres.push(format!("{name} LIKE {}", like_contains(t)));
    }
    if let Some(rel) = &q.related {
        let Some(field) = rel.field.as_deref() else {
            return Err(invalid(
                "relation_unsupported",
                Some("related_to"),
                format!("{} has no lookup to {}", q.object, rel.record.object),
            ));
        };
        if !is_object_name(field) {
            return Err(invalid(
                "field_invalid",
                Some("related_to"),
                format!("{field:?} is not a field name"),
            ));
        }
        check_id(&rel.record.id, "related_to")?;
        wheres.push(format!("{field} = {}", soql_string(&rel.record.id)));
    }
    if q.object == "Lead" && fields.iter().any(|f| f.name == "IsConverted") {
        wheres.push("IsConverted = false".to_owned());
    }
    let mut soql = format!("SELECT {} FROM {}", select.join(", "), q.object);
    if !wheres.is_empty() {
        soql.push_str(" WHERE ");
        soql.push_str(&wheres.join(" AND "));
    }
    let limit = q.limit.clamp(1, crate::records::RECORD_QUERY_MAX);
    soql.push_str(&format!(" ORDER BY {name}, Id LIMIT {limit}"));
    Ok((soql, name))
}

/// A record picker's search: one SOQL query (see the module doc). `fields` are the object's
/// described fields.
pub async fn search_records(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    q: &RecordQuery,
    fields: &[FieldMeta],
) -> Result<Vec<FoundRecord>, ConnectorError> {
    let (soql, name) = records_soql(q, fields)?;
    let rows: Vec<Map<String, Value>> = client::query_all(http, ep, s, &soql).await?;
    Ok(rows
        .into_iter()
        .filter_map(|mut row| {
            row.remove("attributes");
            let id = row.remove("Id")?.as_str()?.to_owned();
            let own = match row.remove(name) {
                Some(Value::String(n)) => n,
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            let last = row.remove("LastName");
            let first = row.remove("FirstName");
            let name = renkei_core::matching::name::display_name(
                last.as_ref().and_then(Value::as_str),
                first.as_ref().and_then(Value::as_str),
            )
            .unwrap_or(own);
            row.retain(|_, v| !v.is_null());
            Some(FoundRecord {
                id,
                name,
                fields: row,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::CallDetails;

    const LEAD: &str = "00Q5g00000ABCDEAAA";
    const CONTACT: &str = "0035g00000ABCDEAAA";
    const OPP: &str = "0065g00000ABCDEAAA";
    const OWNER: &str = "0055g00000ABCDEAAA";
    const T: Millis = Millis(1_705_311_000_123); // 2024-01-15T09:30:00.123Z

    fn activity(kind: ActivityKind) -> NewActivity {
        NewActivity {
            kind,
            key: "renkei:t1:ev1:call".into(),
            subject: "Call with 山田".into(),
            body: "memo\nline 2".into(),
            occurred_at: T,
            ends_at: None,
            owner_id: Some(OWNER.into()),
            person: Some(RecordRef::new("Contact", CONTACT)),
            deal: Some(RecordRef::new("Opportunity", OPP)),
            call: Some(CallDetails {
                direction: CallDirection::Inbound,
                duration_seconds: 125,
                phone: Some("03-1234-5678".into()),
                recording_url: None,
            }),
            completed: false,
        }
    }

    #[test]
    fn activity_bodies_per_kind() {
        let mut task = activity(ActivityKind::Task);
        task.call = None;
        let mut done = task.clone();
        done.completed = true;
        done.key = "renkei:t1:ev2:task".into();
        let mut note = activity(ActivityKind::Note);
        note.subject = "議事録".repeat(30);
        let mut meeting = activity(ActivityKind::Meeting);
        meeting.ends_at = Some(Millis(T.0 + 3_600_000));
        let cases = [
            ("call", activity(ActivityKind::Call)),
            ("task", task),
            ("task_completed", done),
            ("email", activity(ActivityKind::Email)),
            ("meeting", meeting),
            ("meeting_default_end", activity(ActivityKind::Meeting)),
            ("note", note),
        ];
        for (name, a) in cases {
            let (object, body) = activity_body(&a).unwrap();
            insta::assert_json_snapshot!(format!("activity_{name}"), (object, body));
        }
    }

    #[test]
    fn activity_inputs_are_checked_before_sending() {
        let mut no_call = activity(ActivityKind::Call);
        no_call.call = None;
        let mut lead_and_deal = activity(ActivityKind::Call);
        lead_and_deal.person = Some(RecordRef::new("Lead", LEAD));
        let mut orphan_note = activity(ActivityKind::Note);
        orphan_note.person = None;
        orphan_note.deal = None;
        let mut bad_key = activity(ActivityKind::Task);
        bad_key.key = "ключ".into();
        let mut bad_person = activity(ActivityKind::Task);
        bad_person.person = Some(RecordRef::new("Account", CONTACT));
        let mut backwards = activity(ActivityKind::Meeting);
        backwards.ends_at = Some(Millis(T.0 - 1));
        let mut bad_id = activity(ActivityKind::Email);
        bad_id.deal = Some(RecordRef::new("Opportunity", "006' OR Id != '"));
        let cases = [
            (no_call, "call"),
            (lead_and_deal, "deal"),
            (orphan_note, "person"),
            (bad_key, "key"),
            (bad_person, "person"),
            (backwards, "ends_at"),
            (bad_id, "deal"),
        ];
        for (a, field) in cases {
            match activity_body(&a) {
                Err(ConnectorError::Invalid { field: f, .. }) => {
                    assert_eq!(f.as_deref(), Some(field), "{a:?}")
                }
                other => panic!("{a:?}: {other:?}"),
            }
        }
        // A Note may have a Lead parent and a deal: it only takes one parent.
        let mut note = activity(ActivityKind::Note);
        note.person = Some(RecordRef::new("Lead", LEAD));
        let (_, body) = activity_body(&note).unwrap();
        assert_eq!(body["ParentId"], LEAD);
    }

    #[test]
    fn find_queries_per_kind() {
        let mut note = activity(ActivityKind::Note);
        note.person = None;
        note.subject = "O'Reilly".into();
        let mut meeting = activity(ActivityKind::Meeting);
        meeting.deal = None;
        meeting.subject = " ".into();
        let cases = [
            (
                activity(ActivityKind::Call),
                "SELECT Id FROM Task WHERE CallObject = 'renkei:t1:ev1:call' ORDER BY CreatedDate, Id LIMIT 1".to_owned(),
            ),
            (
                meeting,
                format!("SELECT Id, Description FROM Event WHERE WhoId = '{CONTACT}' AND WhatId = null AND Subject = null AND StartDateTime = 2024-01-15T09:30:00Z ORDER BY CreatedDate, Id"),
            ),
            (
                note,
                format!("SELECT Id, Body FROM Note WHERE ParentId = '{OPP}' AND Title = 'O\\'Reilly' ORDER BY CreatedDate, Id"),
            ),
        ];
        for (a, want) in cases {
            assert_eq!(find_activity_soql(&a).unwrap(), want);
        }
    }

    #[test]
    fn appending_is_idempotent() {
        let cases: &[(Option<&str>, &str, Option<&str>)] = &[
            (None, "transcript", Some("transcript")),
            (Some(""), "transcript", Some("transcript")),
            (Some("memo"), "transcript", Some("memo\n\ntranscript")),
            (Some("memo\n"), "transcript\n", Some("memo\n\ntranscript")),
            (Some("memo\n\ntranscript"), "transcript", None),
            (Some("memo\n\ntranscript\n"), "transcript", None),
            (Some("memo"), "  ", None),
        ];
        for (current, text, want) in cases {
            assert_eq!(
                appended(*current, text).as_deref(),
                *want,
                "{current:?} + {text:?}"
            );
        }
    }

    #[test]
    fn person_and_company_bodies() {
        let mut extra = Map::new();
        extra.insert("LeadSource".into(), Value::from("Phone Inquiry"));
        extra.insert("Description".into(), Value::from("from extra"));
        let lead = NewPerson {
            object: PersonObject::Lead,
            last_name: " 山田 ".into(),
            first_name: Some("太郎".into()),
            company: Some("さくら商事".into()),
            account: None,
            email: Some("taro@example.co.jp".into()),
            phone: Some("03-1234-5678".into()),
            description: Some("caller".into()),
            owner_id: Some(OWNER.into()),
            extra,
        };
        let contact = NewPerson {
            object: PersonObject::Contact,
            company: Some("ignored for a Contact".into()),
            account: Some(RecordRef::new("Account", "0015g00000ABCDEAAA")),
            extra: Map::new(),
            ..lead.clone()
        };
        insta::assert_json_snapshot!("person_lead", person_body(&lead).unwrap());
        insta::assert_json_snapshot!("person_contact", person_body(&contact).unwrap());
        let mut wrong = lead.clone();
        wrong.account = contact.account.clone();
        assert!(matches!(
            person_body(&wrong),
            Err(ConnectorError::Invalid { field: Some(f), .. }) if f == "account"
        ));
        let company = NewCompany {
            name: "さくら商事株式会社".into(),
            domain: Some("sakura.example.co.jp".into()),
            owner_id: None,
            extra: Map::new(),
        };
        insta::assert_json_snapshot!("company", company_body(&company).unwrap());
    }

    #[test]
    fn websites_and_domains() {
        let cases = [
            ("https://www.Example.co.jp/about", Some("example.co.jp")),
            ("example.co.jp", Some("example.co.jp")),
            ("http://example.co.jp:8080", Some("example.co.jp")),
            ("www.example.co.jp.", Some("example.co.jp")),
            ("  ", None),
        ];
        for (w, want) in cases {
            assert_eq!(website_host(w).as_deref(), want, "{w}");
        }
        assert_eq!(normalise_domain("WWW.Example.com").unwrap(), "example.com");
        for bad in ["exa'mple.com", "100%.com", "localhost", "a_b.com"] {
            assert!(normalise_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(
            company_soql(Some("O'Neil"), Some("example.com")).unwrap(),
            format!(
                "SELECT Id, Name, Website FROM Account WHERE Name = 'O\\'Neil' OR Website LIKE '%example.com%' ORDER BY CreatedDate, Id LIMIT {COMPANY_CANDIDATES}"
            )
        );
        let row = |id: &str, name: &str, web: &str| AccountRow {
            id: Some(id.into()),
            name: Some(name.into()),
            website: Some(web.into()),
        };
        let rows = vec![
            row("0015g00000AAAAAAAA", "Other", "https://notexample.com"),
            row("0015g00000BBBBBBBB", "Other", "https://www.example.com/"),
        ];
        assert_eq!(
            pick_company(rows, Some("Acme"), Some("example.com")).map(|r| r.id),
            Some("0015g00000BBBBBBBB".to_owned())
        );
    }

    #[test]
    fn sosl_terms() {
        let q = PersonLookup {
            phone_e164: Some("+81312345678".into()),
            phone_national: vec!["03-1234-5678".into(), "0312345678".into()],
            email: None,
        };
        assert_eq!(phone_term(&q).unwrap(), "81312345678 OR 0312345678");
        assert_eq!(phone_term(&PersonLookup::default()), None);
        assert_eq!(sosl_escape("a.b+c@x-y.jp"), "a.b\\+c@x\\-y.jp");
        assert_eq!(
            people_sosl("0312345678", "PHONE", &[PersonObject::Contact]).unwrap(),
            format!("FIND {{0312345678}} IN PHONE FIELDS RETURNING Contact({CONTACT_FIELDS})")
        );
        assert!(people_sosl("x", "PHONE", &[]).is_err());
    }

    #[test]
    fn describe_types_map_to_kinds() {
        let cases = [
            ("string", FieldKind::Text),
            ("combobox", FieldKind::Text),
            ("textarea", FieldKind::LongText),
            ("url", FieldKind::Url),
            ("int", FieldKind::Number),
            ("currency", FieldKind::Number),
            ("percent", FieldKind::Number),
            ("picklist", FieldKind::Picklist),
            ("multipicklist", FieldKind::Picklist),
            ("reference", FieldKind::Reference),
            ("datetime", FieldKind::DateTime),
            ("id", FieldKind::Other),
            ("address", FieldKind::Other),
        ];
        for (ty, kind) in cases {
            assert_eq!(field_kind(ty), kind, "{ty}");
        }
    }

    fn described(names: &[&str]) -> Vec<FieldMeta> {
        names
            .iter()
            .map(|n| FieldMeta {
                name: (*n).to_owned(),
                label: (*n).to_owned(),
                kind: if n.ends_with("Id") {
                    FieldKind::Reference
                } else {
                    FieldKind::Text
                },
                provider_type: "string".into(),
                required: false,
                writable: true,
                options: Vec::new(),
                references: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn picker_soql_escapes_like_wildcards_and_relates_by_the_lookup_field() {
        let fields = described(&["Id", "Name", "LastName", "FirstName", "Email", "AccountId"]);
        let q = RecordQuery {
            object: "Contact".into(),
            text: Some(" 50%_off's ".into()),
            related: Some(crate::records::Relation {
                field: Some("AccountId".into()),
                record: RecordRef::new("Account", "0015g00000ABCDEAAA"),
            }),
            limit: 500,
        };
        let (soql, name) = records_soql(&q, &fields).unwrap();
        assert_eq!(name, "Name");
        assert_eq!(
            soql,
            "SELECT Id, Name, Email, AccountId, LastName, FirstName FROM Contact \
             WHERE Name LIKE '%50\\%\\_off\\'s%' AND AccountId = '0015g00000ABCDEAAA' \
             ORDER BY Name, Id LIMIT 200"
        );
        let bad = RecordQuery {
            related: Some(crate::records::Relation {
                field: Some("AccountId".into()),
                record: RecordRef::new("Account", "x' OR Name != '"),
            }),
            ..q.clone()
        };
        assert!(records_soql(&bad, &fields).is_err());
        let none = RecordQuery {
            related: Some(crate::records::Relation {
                field: None,
                record: RecordRef::new("Opportunity", "0065g00000ABCDEAAA"),
            }),
            ..q
        };
        let e = records_soql(&none, &fields).unwrap_err();
        assert!(e.to_string().contains("no lookup to Opportunity"), "{e}");
        assert!(records_soql(&none, &described(&["Id", "Body"])).is_err());
    }
}

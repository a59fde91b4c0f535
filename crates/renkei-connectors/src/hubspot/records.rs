//! HubSpot's side of the write-back recipes' CRM writes ([`crate::records`]): live contact and
//! company lookups, contacts and companies created, default associations, engagements (calls,
//! notes, tasks, emails, meetings) written, found again and appended to, any record's
//! properties set, and property definitions read as field metadata.
//!
//! **Record pickers.** [`search_records`] is one search request: the text as `query` (HubSpot
//! matches it against the object's default searchable properties: a contact's names, email
//! and phone, a company's name and domain, a deal's name), the relation as the
//! `associations.{type} EQ {id}` pseudo-filter, newest first. A contact's name is built from
//! `lastname` and `firstname` the way renkei shows names ("山田 太郎", "Taro Yamada").
//!
//! The APIs: CRM v3 objects (`POST /crm/v3/objects/{type}`, `PATCH …/{id}`,
//! https://developers.hubspot.com/docs/api/crm/understanding-the-crm), search
//! (`POST /crm/v3/objects/{type}/search`, https://developers.hubspot.com/docs/api/crm/search),
//! v4 associations (`PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`,
//! https://developers.hubspot.com/docs/api/crm/associations) and properties
//! (`GET /crm/v3/properties/{type}`, https://developers.hubspot.com/docs/api/crm/properties).
//! HubSpot's people are contacts only: asking for leads is refused as `unsupported`.
//!
//! **Engagements.** An engagement is created with its properties and its associations in one
//! request (the engagement guides, e.g. https://developers.hubspot.com/docs/api/crm/calls), so
//! it never exists unattached. The association type ids are HubSpot-defined: engagement →
//! contact 194 (call), 198 (email), 200 (meeting), 202 (note), 204 (task); → company 182, 186,
//! 188, 190, 192; → deal 206, 210, 212, 214, 216 ("Association type ID values",
//! https://developers.hubspot.com/docs/api/crm/associations). `hs_timestamp` is required on every
//! engagement and is the activity's time. The body properties of calls, notes, tasks and
//! meetings are rich text (`fieldType` `html`), so plain text is written escaped with its line
//! breaks as `<br>`; an email's `hs_email_text` is plain text and is written as given.
//!
//! **Where the key is kept, and how an activity is found again.** HubSpot engagements have no
//! free external-id property to hold [`NewActivity::key`], and creating a custom property in
//! the customer's portal for it would change their schema. The key is therefore *derived*
//! rather than stored: the identity of an activity renkei wrote is its type, its
//! `hs_timestamp` to the millisecond (the event's own time, which a retry writes again
//! unchanged), the records it is associated with, and its title (notes, which have none: the
//! start of their body). [`find_activity`] searches the activity's type with `hs_timestamp EQ`
//! that millisecond and `associations.contact EQ` / `associations.deal EQ` the ids (the search
//! API's association pseudo-property, "Search through associations" in the search guide),
//! oldest first, and compares the title (or the body's start, ignoring markup and spacing,
//! which HubSpot may rewrite) client-side. Two different events would have to share the
//! millisecond, the records and the title to be confused. An activity associated with nothing
//! is searched by its time and title alone. The search index trails writes by a few seconds
//! ("Limitations" in the search guide), so a lookup made right after an ambiguous failure may
//! answer `None` for an activity that did land; the engine waits before asking.

use std::collections::BTreeSet;

use http::Method;
use serde_json::{Map, Value, json};
use url::Url;

use crate::http::{HttpClient, OutgoingRequest};
use crate::people::{PersonObject, RemotePerson};
use crate::records::{
    ActivityKind, CallDirection, FieldKind, FieldMeta, FoundRecord, NewActivity, NewCompany,
    NewPerson, ObjectMeta, PersonLookup, RecordQuery, RecordRef, present,
};
use crate::registry::{Endpoints, join};
use crate::{ConnectorError, Provider, Session};

use super::client::{classify, get_json, pace_search, send_ignoring_body, send_json};
use super::mapping;
use super::wire::{
    Contact, ContactProperties, ObjectPage, PropertiesPage, SchemasPage, SimpleObject,
};

const P: Provider = Provider::Hubspot;

/// Filter groups per search request ("Limitations" in the search guide: 5 groups of at most 6
/// filters, 18 filters in all). Every group here holds one filter, so 5 groups is the bound.
const MAX_GROUPS: usize = 5;
/// `limit` of the searches that page (the documented maximum is 200; a live lookup wants few).
const SEARCH_LIMIT: usize = 100;
/// Pages a people lookup follows at most: 10 × 100 people sharing one phone or email is far
/// past any real match, and bounds a lookup whatever HubSpot answers.
const MAX_PAGES: usize = 10;

fn invalid(code: &str, field: Option<&str>, message: impl Into<String>) -> ConnectorError {
    crate::people::invalid(P, code, field, message)
}

fn unsupported(field: Option<&str>, message: impl Into<String>) -> ConnectorError {
    invalid("unsupported", field, message)
}

// ---------------------------------------------------------------------------------------------
// Names and ids.

/// The v3 path name of a CRM object as a [`RecordRef`] may name it: the plural, the singular
/// or the object type id of the standard objects, or a custom object's type id (`2-1234`) or
/// fully qualified name (`p1234_cars`), which only contain characters safe in a path.
fn object_path(object: &str, field: &str) -> Result<String, ConnectorError> {
    let o = object.trim().to_ascii_lowercase();
    let known = [
        ("contacts", "contact", "0-1"),
        ("companies", "company", "0-2"),
        ("deals", "deal", "0-3"),
        ("tickets", "ticket", "0-5"),
        ("calls", "call", "0-48"),
        ("emails", "email", "0-49"),
        ("meetings", "meeting", "0-47"),
        ("notes", "note", "0-46"),
        ("tasks", "task", "0-27"),
    ];
    if let Some((plural, _, _)) = known
        .iter()
        .find(|(plural, singular, id)| o == *plural || o == *singular || o == *id)
    {
        return Ok((*plural).to_owned());
    }
    let custom_id = o
        .split_once('-')
        .is_some_and(|(a, b)| is_digits(a) && is_digits(b));
    let custom_name = !o.is_empty()
        && o.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if custom_id || custom_name {
        Ok(o)
    } else {
        Err(invalid(
            "object_invalid",
            Some(field),
            format!("{object:?} is not a HubSpot object type"),
        ))
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A HubSpot record id (a number), or `remote_id_invalid` naming `field`.
fn record_id<'a>(id: &'a str, field: &str) -> Result<&'a str, ConnectorError> {
    let id = id.trim();
    if is_digits(id) {
        Ok(id)
    } else {
        Err(invalid(
            "remote_id_invalid",
            Some(field),
            format!("{id:?} is not a HubSpot record id (a number)"),
        ))
    }
}

fn text_of(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn created_ref(object: &str, v: SimpleObject) -> Result<RecordRef, ConnectorError> {
    let id = v.id.trim();
    if id.is_empty() {
        return Err(crate::people::protocol(
            P,
            format!("the {object} create answered no id"),
        ));
    }
    Ok(RecordRef::new(object, id))
}

fn filter(property: &str, operator: &str, value: impl ToString) -> Value {
    json!({"propertyName": property, "operator": operator, "value": value.to_string()})
}

// ---------------------------------------------------------------------------------------------
// People.

/// The search bodies of a people lookup: one filter group per phone form and phone property
/// (`phone`, `mobilephone`) and one for the email, at most [`MAX_GROUPS`] a request. `None`
/// when the lookup names nothing.
fn people_search_bodies(q: &PersonLookup) -> Option<Vec<Value>> {
    let mut forms: Vec<&str> = Vec::new();
    for f in q
        .phone_e164
        .iter()
        .map(String::as_str)
        .chain(q.phone_national.iter().map(String::as_str))
    {
        let f = f.trim();
        if !f.is_empty() && !forms.contains(&f) {
            forms.push(f);
        }
    }
    let mut groups: Vec<Value> = Vec::new();
    for f in forms {
        for property in ["phone", "mobilephone"] {
            groups.push(json!({"filters": [filter(property, "EQ", f)]}));
        }
    }
    if let Some(e) = text_of(q.email.as_deref()) {
        groups.push(json!({"filters": [filter("email", "EQ", e.to_lowercase())]}));
    }
    if groups.is_empty() {
        return None;
    }
    Some(
        groups
            .chunks(MAX_GROUPS)
            .map(|g| {
                json!({
                    "filterGroups": g,
                    "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
                    "properties": ContactProperties::NAMES,
                    "limit": SEARCH_LIMIT,
                })
            })
            .collect(),
    )
}

/// Live search of contacts by the phone forms (`phone` or `mobilephone` equal to one of them)
/// and/or the email. HubSpot compares a string property's whole value, so a phone stored in
/// another notation than the forms asked is not found; the engine's forms cover the usual ones.
/// Each contact is answered once, oldest first within each request.
pub async fn find_people(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    objects: &[PersonObject],
    q: &PersonLookup,
) -> Result<Vec<RemotePerson>, ConnectorError> {
    if objects.contains(&PersonObject::Lead) {
        return Err(unsupported(
            Some("objects"),
            "HubSpot has no leads among its people; search contacts",
        ));
    }
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    let Some(bodies) = people_search_bodies(q) else {
        return Err(invalid(
            "lookup_empty",
            Some("phone"),
            "a people lookup needs a phone number or an email",
        ));
    };
    let url = join(&ep.api, "/crm/v3/objects/contacts/search");
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for body in bodies {
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut b = body.clone();
            if let Some(a) = &after {
                b["after"] = json!(a);
            }
            pace_search(s).await;
            // A search is a read sent as a POST: repeating it creates nothing.
            let page: ObjectPage<Contact> =
                send_json(http, ep, s, Method::POST, url.clone(), b, true).await?;
            for c in page.results {
                if seen.insert(c.id.clone()) {
                    out.push(mapping::person(c)?);
                }
            }
            match page.paging.and_then(|p| p.next).map(|n| n.after) {
                Some(n) if Some(&n) != after.as_ref() => after = Some(n),
                _ => break,
            }
        }
    }
    Ok(out)
}

/// The properties of a new contact. `description` is not written: HubSpot contacts have no
/// such default property (a portal's own property can be named in `extra`).
fn contact_properties(p: &NewPerson) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = text_of(v) {
            m.insert(k.to_owned(), Value::String(v.to_owned()));
        }
    };
    put("lastname", Some(&p.last_name));
    put("firstname", p.first_name.as_deref());
    put("email", p.email.as_deref());
    put("phone", p.phone.as_deref());
    put("company", p.company.as_deref());
    put("hubspot_owner_id", p.owner_id.as_deref());
    for (k, v) in &p.extra {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// The create body of a contact: its properties and, when `account` names a company, the
/// default contact → company association (type 279).
fn contact_body(p: &NewPerson) -> Result<Value, ConnectorError> {
    let mut body = json!({ "properties": contact_properties(p) });
    if let Some(a) = &p.account {
        if object_path(&a.object, "account")? != "companies" {
            return Err(invalid(
                "object_invalid",
                Some("account"),
                "a HubSpot contact's account is a company",
            ));
        }
        let id = record_id(&a.id, "account")?;
        body["associations"] = json!([{
            "to": {"id": id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
        }]);
    }
    Ok(body)
}

/// Creates a contact (`POST /crm/v3/objects/contacts`). A contact with the same email exists
/// already → HubSpot's 409 "Contact already exists. Existing ID: N" →
/// [`ConnectorError::Duplicate`] naming N.
pub async fn create_person(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    p: &NewPerson,
) -> Result<RecordRef, ConnectorError> {
    if p.object == PersonObject::Lead {
        return Err(unsupported(
            Some("object"),
            "HubSpot has no leads among its people; create a contact",
        ));
    }
    if text_of(Some(&p.last_name)).is_none() && text_of(p.email.as_deref()).is_none() {
        return Err(invalid(
            "required",
            Some("last_name"),
            "a contact needs a last name or an email",
        ));
    }
    let body = contact_body(p)?;
    let url = join(&ep.api, "/crm/v3/objects/contacts");
    let created: SimpleObject = send_json(http, ep, s, Method::POST, url, body, false).await?;
    created_ref("contacts", created)
}

// ---------------------------------------------------------------------------------------------
// Companies.

/// The search body of a company lookup: name EQ or domain EQ (two groups), oldest first.
fn company_search_body(name: Option<&str>, domain: Option<&str>) -> Option<Value> {
    let mut groups = Vec::new();
    if let Some(n) = text_of(name) {
        groups.push(json!({"filters": [filter("name", "EQ", n)]}));
    }
    if let Some(d) = text_of(domain) {
        groups.push(json!({"filters": [filter("domain", "EQ", d.to_lowercase())]}));
    }
    (!groups.is_empty()).then(|| {
        json!({
            "filterGroups": groups,
            "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
            "properties": ["name", "domain", "createdate"],
            "limit": 1,
        })
    })
}

/// The oldest company whose `name` equals `name` or whose `domain` equals `domain`. HubSpot's
/// search compares strings ignoring case.
pub async fn find_company(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    name: Option<&str>,
    domain: Option<&str>,
) -> Result<Option<RecordRef>, ConnectorError> {
    let Some(body) = company_search_body(name, domain) else {
        return Err(invalid(
            "lookup_empty",
            Some("name"),
            "a company lookup needs a name or a domain",
        ));
    };
    let url = join(&ep.api, "/crm/v3/objects/companies/search");
    pace_search(s).await;
    let page: ObjectPage<SimpleObject> =
        send_json(http, ep, s, Method::POST, url, body, true).await?;
    Ok(page
        .results
        .into_iter()
        .next()
        .map(|c| RecordRef::new("companies", c.id)))
}

fn company_properties(c: &NewCompany) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(c.name.trim().to_owned()));
    if let Some(d) = text_of(c.domain.as_deref()) {
        m.insert("domain".into(), Value::String(d.to_lowercase()));
    }
    if let Some(o) = text_of(c.owner_id.as_deref()) {
        m.insert("hubspot_owner_id".into(), Value::String(o.to_owned()));
    }
    for (k, v) in &c.extra {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// Creates a company (`POST /crm/v3/objects/companies`). HubSpot does not refuse a second
/// company with the same name or domain; the engine asks [`find_company`] first.
pub async fn create_company(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    c: &NewCompany,
) -> Result<RecordRef, ConnectorError> {
    if c.name.trim().is_empty() {
        return Err(invalid("required", Some("name"), "a company needs a name"));
    }
    let url = join(&ep.api, "/crm/v3/objects/companies");
    let body = json!({ "properties": company_properties(c) });
    let created: SimpleObject = send_json(http, ep, s, Method::POST, url, body, false).await?;
    created_ref("companies", created)
}

/// Links `from` to `to` with HubSpot's default (unlabeled) association between their types,
/// both directions (`PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`).
/// Associating twice changes nothing, so the call may be repeated.
pub async fn associate(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    from: &RecordRef,
    to: &RecordRef,
) -> Result<(), ConnectorError> {
    let path = format!(
        "/crm/v4/objects/{}/{}/associations/default/{}/{}",
        object_path(&from.object, "from")?,
        record_id(&from.id, "from")?,
        object_path(&to.object, "to")?,
        record_id(&to.id, "to")?,
    );
    // The default association takes no body.
    let req = s.paced(
        P,
        OutgoingRequest::new(P.as_str(), Method::PUT, join(&ep.api, &path))
            .bearer(s.access_token)
            .idempotent(true),
    );
    let resp = http.send(&ep.allow, req).await?;
    if resp.status.is_success() {
        Ok(())
    } else {
        Err(classify(&resp))
    }
}

// ---------------------------------------------------------------------------------------------
// Activities.

/// What HubSpot calls each kind of activity, and the properties renkei writes to.
struct Shape {
    /// The v3 path name.
    path: &'static str,
    /// The title property; notes have none.
    title: Option<&'static str>,
    body: &'static str,
    /// Whether `body` is rich text (`fieldType` `html`).
    html: bool,
    /// Association type ids from this engagement to a contact, a company and a deal.
    to_contact: u16,
    to_company: u16,
    to_deal: u16,
}

fn shape(kind: ActivityKind) -> Shape {
    match kind {
        ActivityKind::Call => Shape {
            path: "calls",
            title: Some("hs_call_title"),
            body: "hs_call_body",
            html: true,
            to_contact: 194,
            to_company: 182,
            to_deal: 206,
        },
        ActivityKind::Email => Shape {
            path: "emails",
            title: Some("hs_email_subject"),
            body: "hs_email_text",
            html: false,
            to_contact: 198,
            to_company: 186,
            to_deal: 210,
        },
        ActivityKind::Meeting => Shape {
            path: "meetings",
            title: Some("hs_meeting_title"),
            body: "hs_meeting_body",
            html: true,
            to_contact: 200,
            to_company: 188,
            to_deal: 212,
        },
        ActivityKind::Note => Shape {
            path: "notes",
            title: None,
            body: "hs_note_body",
            html: true,
            to_contact: 202,
            to_company: 190,
            to_deal: 214,
        },
        ActivityKind::Task => Shape {
            path: "tasks",
            title: Some("hs_task_subject"),
            body: "hs_task_body",
            html: true,
            to_contact: 204,
            to_company: 192,
            to_deal: 216,
        },
    }
}

/// Plain text as rich text: HTML-escaped, line breaks as `<br>`.
fn to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let text = text.replace("\r\n", "\n");
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

/// Text as written to a body property of `shape`.
fn encode(shape: &Shape, text: &str) -> String {
    if shape.html {
        to_html(text)
    } else {
        text.replace("\r\n", "\n")
    }
}

/// What separates appended text from the body before it: a blank line.
fn separator(shape: &Shape) -> &'static str {
    if shape.html { "<br><br>" } else { "\n\n" }
}

/// A body's text for comparison: tags dropped (a tag counts as a space), the entities renkei
/// writes decoded, and runs of whitespace made one space. HubSpot may rewrap rich text it
/// stores (paragraphs, `<br/>`), which this makes irrelevant.
fn comparable(s: &str) -> String {
    let mut plain = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                plain.push(' ');
            }
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let plain = plain
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The body an activity is created with. A note has no title, so its subject leads the body.
fn initial_body(a: &NewActivity) -> String {
    let sh = shape(a.kind);
    if sh.title.is_none() && !a.subject.trim().is_empty() {
        format!(
            "{}{}{}",
            encode(&sh, a.subject.trim()),
            separator(&sh),
            encode(&sh, &a.body)
        )
    } else {
        encode(&sh, &a.body)
    }
}

/// The association type from this engagement to `r`, which must be a contact, a company or
/// (for `deal`) a deal.
fn association(
    sh: &Shape,
    r: &RecordRef,
    field: &str,
) -> Result<(String, u16, &'static str), ConnectorError> {
    let object = object_path(&r.object, field)?;
    let id = record_id(&r.id, field)?.to_owned();
    let (type_id, singular) = match object.as_str() {
        "contacts" => (sh.to_contact, "contact"),
        "companies" => (sh.to_company, "company"),
        "deals" => (sh.to_deal, "deal"),
        other => {
            return Err(unsupported(
                Some(field),
                format!(
                    "renkei associates activities with contacts, companies and deals, not {other}"
                ),
            ));
        }
    };
    Ok((id, type_id, singular))
}

/// The associations of an activity: `(record id, type id, singular object name)`.
fn associations(a: &NewActivity) -> Result<Vec<(String, u16, &'static str)>, ConnectorError> {
    let sh = shape(a.kind);
    let mut out = Vec::new();
    if let Some(p) = &a.person {
        out.push(association(&sh, p, "person")?);
    }
    if let Some(d) = &a.deal {
        if object_path(&d.object, "deal")? != "deals" {
            return Err(invalid(
                "object_invalid",
                Some("deal"),
                "an activity's deal must be a HubSpot deal",
            ));
        }
        out.push(association(&sh, d, "deal")?);
    }
    Ok(out)
}

/// The properties an activity is created with.
fn activity_properties(a: &NewActivity) -> Result<Map<String, Value>, ConnectorError> {
    let sh = shape(a.kind);
    let mut m = Map::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_owned(), Value::String(v));
    };
    put("hs_timestamp", a.occurred_at.0.to_string());
    if let Some(o) = text_of(a.owner_id.as_deref()) {
        put("hubspot_owner_id", o.to_owned());
    }
    if let Some(t) = sh.title {
        put(t, a.subject.trim().to_owned());
    }
    put(sh.body, initial_body(a));
    match a.kind {
        ActivityKind::Call => {
            let Some(c) = &a.call else {
                return Err(invalid(
                    "required",
                    Some("call"),
                    "a call activity needs its call details",
                ));
            };
            // `hs_call_duration` is in milliseconds (the calls guide's property table).
            put(
                "hs_call_duration",
                c.duration_seconds.saturating_mul(1000).to_string(),
            );
            let (direction, number_prop) = match c.direction {
                CallDirection::Inbound => ("INBOUND", "hs_call_from_number"),
                CallDirection::Outbound => ("OUTBOUND", "hs_call_to_number"),
            };
            put("hs_call_direction", direction.to_owned());
            put("hs_call_status", "COMPLETED".to_owned());
            if let Some(n) = text_of(c.phone.as_deref()) {
                put(number_prop, n.to_owned());
            }
            if let Some(u) = text_of(c.recording_url.as_deref()) {
                put("hs_call_recording_url", u.to_owned());
            }
        }
        ActivityKind::Task => {
            let status = if a.completed {
                "COMPLETED"
            } else {
                "NOT_STARTED"
            };
            put("hs_task_status", status.to_owned());
            put("hs_task_type", "TODO".to_owned());
        }
        ActivityKind::Email => {
            // EMAIL is an email sent from the CRM (INCOMING_EMAIL one received), and SENT its
            // final send status (the emails guide's property table).
            put("hs_email_direction", "EMAIL".to_owned());
            put("hs_email_status", "SENT".to_owned());
        }
        ActivityKind::Meeting => {
            let end = a.ends_at.unwrap_or(a.occurred_at);
            if end < a.occurred_at {
                return Err(invalid(
                    "invalid",
                    Some("ends_at"),
                    "a meeting cannot end before it starts",
                ));
            }
            put("hs_meeting_start_time", a.occurred_at.0.to_string());
            put("hs_meeting_end_time", end.0.to_string());
            put("hs_meeting_outcome", "COMPLETED".to_owned());
        }
        ActivityKind::Note => {}
    }
    Ok(m)
}

/// The create body of an activity: its properties and its associations.
fn activity_body(a: &NewActivity) -> Result<Value, ConnectorError> {
    let properties = activity_properties(a)?;
    let associations: Vec<Value> = associations(a)?
        .into_iter()
        .map(|(id, type_id, _)| {
            json!({
                "to": {"id": id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
            })
        })
        .collect();
    Ok(json!({"properties": properties, "associations": associations}))
}

/// Creates the activity with its associations (`POST /crm/v3/objects/{calls|notes|…}`). Not
/// repeated by the HTTP client once it may have reached HubSpot: after an ambiguous failure the
/// engine asks [`find_activity`].
pub async fn create_activity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    a: &NewActivity,
) -> Result<RecordRef, ConnectorError> {
    let sh = shape(a.kind);
    check_subject(a)?;
    let body = activity_body(a)?;
    let url = join(&ep.api, &format!("/crm/v3/objects/{}", sh.path));
    let created: SimpleObject = send_json(http, ep, s, Method::POST, url, body, false).await?;
    created_ref(sh.path, created)
}

/// A titled activity needs its title: it is part of how [`find_activity`] recognises it.
fn check_subject(a: &NewActivity) -> Result<(), ConnectorError> {
    if shape(a.kind).title.is_some() && a.subject.trim().is_empty() {
        return Err(invalid(
            "required",
            Some("subject"),
            "the activity needs a subject: it is part of how renkei finds it again",
        ));
    }
    Ok(())
}

/// The search body that finds the activity `a` (see the module doc).
fn activity_search_body(a: &NewActivity) -> Result<Value, ConnectorError> {
    let sh = shape(a.kind);
    let mut filters = vec![filter("hs_timestamp", "EQ", a.occurred_at.0)];
    for (id, _, singular) in associations(a)? {
        filters.push(filter(&format!("associations.{singular}"), "EQ", id));
    }
    let mut properties = vec!["hs_timestamp", sh.body];
    if let Some(t) = sh.title {
        properties.push(t);
    }
    Ok(json!({
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": "hs_createdate", "direction": "ASCENDING"}],
        "properties": properties,
        "limit": SEARCH_LIMIT,
    }))
}

/// Whether a search hit is the activity `a` wrote: the same title, or for a note (no title)
/// a body that starts with what `a` wrote.
fn is_same_activity(a: &NewActivity, hit: &SimpleObject) -> bool {
    let sh = shape(a.kind);
    match sh.title {
        Some(t) => hit.prop(t).as_deref().map(str::trim) == Some(a.subject.trim()),
        None => {
            let body = comparable(&hit.prop(sh.body).unwrap_or_default());
            let wanted = comparable(&initial_body(a));
            body.starts_with(&wanted)
        }
    }
}

/// The activity an earlier [`create_activity`] of `a` wrote, if it landed: the oldest of its
/// type at `a.occurred_at` to the millisecond, associated with `a.person` and `a.deal`, with
/// `a`'s title (see the module doc for why this is the key).
pub async fn find_activity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    a: &NewActivity,
) -> Result<Option<RecordRef>, ConnectorError> {
    let sh = shape(a.kind);
    check_subject(a)?;
    let body = activity_search_body(a)?;
    let url = join(&ep.api, &format!("/crm/v3/objects/{}/search", sh.path));
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut b = body.clone();
        if let Some(x) = &after {
            b["after"] = json!(x);
        }
        pace_search(s).await;
        let page: ObjectPage<SimpleObject> =
            send_json(http, ep, s, Method::POST, url.clone(), b, true).await?;
        if let Some(hit) = page.results.iter().find(|h| is_same_activity(a, h)) {
            return Ok(Some(RecordRef::new(sh.path, hit.id.clone())));
        }
        match page.paging.and_then(|p| p.next).map(|n| n.after) {
            Some(n) if Some(&n) != after.as_ref() => after = Some(n),
            _ => break,
        }
    }
    Ok(None)
}

fn record_url(ep: &Endpoints, object: &str, id: &str) -> Url {
    join(&ep.api, &format!("/crm/v3/objects/{object}/{id}"))
}

/// A 404 of a record read or update answers no body; name the record instead.
fn name_missing(e: ConnectorError, r: &RecordRef) -> ConnectorError {
    match e {
        ConnectorError::NotFound { provider, .. } => ConnectorError::NotFound {
            provider,
            what: format!("{} {}", r.object, r.id),
        },
        other => other,
    }
}

/// Appends `text` to the activity's body after a blank line, unless the body already ends
/// with it (compared ignoring markup and spacing), so a retry never appends twice. One read
/// (`GET …/{id}?properties=…`) and one update that writes the whole new body, which repeating
/// cannot double.
pub async fn append_to_activity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    kind: ActivityKind,
    r: &RecordRef,
    text: &str,
) -> Result<(), ConnectorError> {
    let sh = shape(kind);
    if object_path(&r.object, "record")? != sh.path {
        return Err(invalid(
            "object_invalid",
            Some("record"),
            format!("a {} activity is a HubSpot {}", kind.as_str(), sh.path),
        ));
    }
    let id = record_id(&r.id, "record")?;
    if text.trim().is_empty() {
        return Ok(());
    }
    let mut url = record_url(ep, sh.path, id);
    url.query_pairs_mut().append_pair("properties", sh.body);
    let current: SimpleObject = get_json(http, ep, s, url)
        .await
        .map_err(|e| name_missing(e, r))?;
    let before = current.prop(sh.body).unwrap_or_default();
    let addition = encode(&sh, text);
    if comparable(&before).ends_with(&comparable(&addition)) {
        return Ok(());
    }
    let after = if before.trim().is_empty() {
        addition
    } else {
        format!("{before}{}{addition}", separator(&sh))
    };
    send_ignoring_body(
        http,
        ep,
        s,
        Method::PATCH,
        record_url(ep, sh.path, id),
        json!({"properties": {sh.body: after}}),
        true,
    )
    .await
    .map_err(|e| name_missing(e, r))
}

/// Sets `fields` on any record (`PATCH /crm/v3/objects/{type}/{id}`); values as HubSpot takes
/// them (strings, numbers, booleans; `""` clears). HubSpot refuses an unknown property or a
/// wrong value in a 400 naming it ([`ConnectorError::Invalid`] with the field). Writing the
/// same values again changes nothing, so the call may be repeated. No fields: no call.
pub async fn update_record(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    r: &RecordRef,
    fields: &Map<String, Value>,
) -> Result<(), ConnectorError> {
    let object = object_path(&r.object, "record")?;
    let id = record_id(&r.id, "record")?;
    if fields.is_empty() {
        return Ok(());
    }
    send_ignoring_body(
        http,
        ep,
        s,
        Method::PATCH,
        record_url(ep, &object, id),
        json!({ "properties": fields }),
        true,
    )
    .await
    .map_err(|e| name_missing(e, r))
}

/// A property definition's broad kind. `type` decides, refined by `fieldType` for strings:
/// `text` is one line, `textarea` and `html` (rich text) are long, `phonenumber` a phone, and
/// `file` or a calculation something renkei cannot write text to. An enumeration whose options
/// live elsewhere (`externalOptions`: owners, pipeline stages) points at other records.
fn field_kind(d: &super::wire::PropertyDefinition) -> FieldKind {
    match (d.ptype.as_str(), d.field_type.as_str()) {
        ("string", "text") => FieldKind::Text,
        ("string", "textarea" | "html") => FieldKind::LongText,
        ("string" | "phone_number", "phonenumber") | ("phone_number", _) => FieldKind::Phone,
        ("string", _) => FieldKind::Other,
        ("number", _) => FieldKind::Number,
        ("bool", _) | ("enumeration", "booleancheckbox") => FieldKind::Bool,
        ("enumeration", _) if d.external_options => FieldKind::Reference,
        ("enumeration", _) => FieldKind::Picklist,
        ("date", _) => FieldKind::Date,
        ("datetime", _) => FieldKind::DateTime,
        _ => FieldKind::Other,
    }
}

/// A property definition as field metadata. HubSpot's definitions carry no "required" flag:
/// the one property its API requires is `hs_timestamp` on engagements.
fn field_meta(object: &str, d: super::wire::PropertyDefinition) -> FieldMeta {
    let kind = field_kind(&d);
    let engagement = matches!(object, "calls" | "emails" | "meetings" | "notes" | "tasks");
    let read_only = d
        .modification_metadata
        .as_ref()
        .is_some_and(|m| m.read_only_value);
    // HubSpot names what an external option list holds only for owners
    // (`referencedObjectType: OWNER`); the owner property carries it in every account.
    let references = match d.referenced_object_type.as_deref() {
        Some("OWNER") => vec!["owners".to_owned()],
        _ if d.external_options && d.name == "hubspot_owner_id" => vec!["owners".to_owned()],
        _ => Vec::new(),
    };
    FieldMeta {
        references,
        required: engagement && d.name == "hs_timestamp",
        writable: !read_only && !d.calculated,
        provider_type: if d.field_type.is_empty() {
            d.ptype.clone()
        } else {
            format!("{}/{}", d.ptype, d.field_type)
        },
        options: if kind == FieldKind::Picklist {
            d.options
                .into_iter()
                .filter(|o| !o.hidden)
                .map(|o| (o.value, o.label))
                .collect()
        } else {
            Vec::new()
        },
        label: d.label,
        name: d.name,
        kind,
    }
}

/// The object's live properties (`GET /crm/v3/properties/{type}`) as field metadata, in
/// HubSpot's order.
pub async fn describe_fields(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: &str,
) -> Result<Vec<FieldMeta>, ConnectorError> {
    let path = object_path(object, "object")?;
    let url = join(&ep.api, &format!("/crm/v3/properties/{path}"));
    // HubSpot answers an object type it does not know with a 400 "Unable to infer object type
    // from: …", not a 404; it is the object that is missing, not the input that is malformed.
    let page: PropertiesPage = match get_json(http, ep, s, url).await {
        Err(ConnectorError::Invalid { message, .. })
            if message.starts_with("Unable to infer object type") =>
        {
            return Err(ConnectorError::NotFound {
                provider: P.as_str(),
                what: format!("object type {path}"),
            });
        }
        other => other?,
    };
    Ok(page
        .results
        .into_iter()
        .filter(|d| !d.archived)
        .map(|d| field_meta(&path, d))
        .collect())
}

/// HubSpot's standard CRM objects renkei can read and write, with the labels of HubSpot's
/// English UI: its API serves no labels for standard objects (only custom object schemas carry
/// `labels`), so these are ours.
const STANDARD_OBJECTS: [(&str, &str, &str); 9] = [
    ("contacts", "Contact", "Contacts"),
    ("companies", "Company", "Companies"),
    ("deals", "Deal", "Deals"),
    ("tickets", "Ticket", "Tickets"),
    ("calls", "Call", "Calls"),
    ("emails", "Email", "Emails"),
    ("meetings", "Meeting", "Meetings"),
    ("notes", "Note", "Notes"),
    ("tasks", "Task", "Tasks"),
];

/// The standard objects, then the account's custom objects (`GET /crm/v3/schemas`), named by
/// their object type id (`2-1234`), which every v3 path accepts. An app without the
/// `crm.schemas.custom.read` scope is refused that listing (403); it sees the standard
/// objects only, as it could not read custom records either.
pub async fn list_objects(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
) -> Result<Vec<ObjectMeta>, ConnectorError> {
    let mut out: Vec<ObjectMeta> = STANDARD_OBJECTS
        .iter()
        .map(|(name, label, plural)| ObjectMeta {
            name: (*name).to_owned(),
            label: (*label).to_owned(),
            plural_label: (*plural).to_owned(),
            custom: false,
            creatable: true,
        })
        .collect();
    let url = join(&ep.api, "/crm/v3/schemas");
    let page: SchemasPage = match get_json(http, ep, s, url).await {
        Ok(page) => page,
        Err(ConnectorError::Forbidden { .. }) => return Ok(out),
        Err(e) => return Err(e),
    };
    out.extend(page.results.into_iter().filter(|o| !o.archived).map(|o| {
        let plural = o.labels.plural.unwrap_or_else(|| o.name.clone());
        ObjectMeta {
            label: o.labels.singular.unwrap_or_else(|| plural.clone()),
            plural_label: plural,
            name: o.object_type_id,
            custom: true,
            creatable: true,
        }
    }));
    Ok(out)
}

/// Any record, custom objects included: `POST /crm/v3/objects/{object}` with `fields` as its
/// properties. Not repeated by the HTTP layer: HubSpot would create a second record.
pub async fn create_record(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: &str,
    fields: &Map<String, Value>,
) -> Result<RecordRef, ConnectorError> {
    let path = object_path(object, "object")?;
    let url = join(&ep.api, &format!("/crm/v3/objects/{path}"));
    let body = json!({ "properties": fields });
    let created: SimpleObject = send_json(http, ep, s, Method::POST, url, body, false).await?;
    created_ref(&path, created)
}

/// The properties that make up a record's name, by object, and the further ones a picker
/// shows, where the object has them. Custom objects show `name` when they have one.
fn picker_properties(object: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match object {
        "contacts" => (
            &["lastname", "firstname"],
            &["email", "phone", "company", "jobtitle"],
        ),
        "companies" => (&["name"], &["domain", "city"]),
        "deals" => (&["dealname"], &["dealstage", "amount", "closedate"]),
        "tickets" => (&["subject"], &["hs_pipeline_stage"]),
        "calls" => (&["hs_call_title"], &["hs_timestamp"]),
        "meetings" => (&["hs_meeting_title"], &["hs_timestamp"]),
        "tasks" => (&["hs_task_subject"], &["hs_timestamp"]),
        "emails" => (&["hs_email_subject"], &["hs_timestamp"]),
        "notes" => (&["hs_note_body"], &["hs_timestamp"]),
        _ => (&["name"], &[]),
    }
}

/// The search body of [`search_records`] for `object` (a v3 path name).
fn records_search_body(
    object: &str,
    q: &RecordQuery,
    fields: &[FieldMeta],
) -> Result<Value, ConnectorError> {
    let (name, more) = picker_properties(object);
    let mut properties = present(fields, name);
    properties.extend(present(fields, more));
    let mut body = json!({
        "properties": properties,
        "limit": q.limit.clamp(1, crate::records::RECORD_QUERY_MAX),
    });
    // Newest first. Contacts name their modification time `lastmodifieddate`, the other
    // objects `hs_lastmodifieddate`; sort by whichever the object has.
    if let Some(sort) = present(fields, &["hs_lastmodifieddate", "lastmodifieddate"]).first() {
        body["sorts"] = json!([{"propertyName": sort, "direction": "DESCENDING"}]);
    }
    if let Some(t) = text_of(q.text.as_deref()) {
        body["query"] = Value::String(t.to_owned());
    }
    if let Some(rel) = &q.related {
        let to = object_path(&rel.record.object, "related_to")?;
        // The pseudo-property names the singular of a standard object ("associations.company"
        // in the search guide), a custom object by its type id.
        let to = match to.as_str() {
            "companies" => "company".to_owned(),
            other => other.strip_suffix('s').unwrap_or(other).to_owned(),
        };
        let id = record_id(&rel.record.id, "related_to")?;
        body["filterGroups"] =
            json!([{"filters": [filter(&format!("associations.{to}"), "EQ", id)]}]);
    }
    Ok(body)
}

/// A record's name from its properties: a contact's family and given names in renkei's order,
/// else the object's name property.
fn record_name(object: &str, o: &SimpleObject) -> String {
    let (name, _) = picker_properties(object);
    if object == "contacts" {
        return renkei_core::matching::name::display_name(
            o.prop("lastname").as_deref(),
            o.prop("firstname").as_deref(),
        )
        .or_else(|| o.prop("email"))
        .unwrap_or_default();
    }
    name.iter().find_map(|n| o.prop(n)).unwrap_or_default()
}

/// A record picker's search: `POST /crm/v3/objects/{object}/search` (see the module doc).
/// `fields` are the object's properties.
pub async fn search_records(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    q: &RecordQuery,
    fields: &[FieldMeta],
) -> Result<Vec<FoundRecord>, ConnectorError> {
    let object = object_path(&q.object, "object")?;
    let body = records_search_body(&object, q, fields)?;
    let url = join(&ep.api, &format!("/crm/v3/objects/{object}/search"));
    pace_search(s).await;
    let page: ObjectPage<SimpleObject> =
        send_json(http, ep, s, Method::POST, url, body, true).await?;
    let (name, _) = picker_properties(&object);
    Ok(page
        .results
        .into_iter()
        .map(|o| {
            let display = record_name(&object, &o);
            let mut props = o.properties.clone();
            props.retain(|k, v| {
                !v.is_null()
                    && !name.contains(&k.as_str())
                    && k != "hs_object_id"
                    && k != "createdate"
                    && k != "lastmodifieddate"
                    && k != "hs_lastmodifieddate"
            });
            FoundRecord {
                id: o.id,
                name: display,
                fields: props,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use renkei_core::Millis;

    use super::*;
    use crate::records::CallDetails;

    fn activity(kind: ActivityKind) -> NewActivity {
        NewActivity {
            kind,
            key: "renkei:t1:ev_1:0".into(),
            subject: "通話: 山田 太郎".into(),
            body: "一行目\n<二行目> & more".into(),
            occurred_at: Millis(1_700_000_000_123),
            ends_at: Some(Millis(1_700_003_600_123)),
            owner_id: Some("4523111".into()),
            person: Some(RecordRef::new("contacts", "101")),
            deal: Some(RecordRef::new("deals", "202")),
            call: (kind == ActivityKind::Call).then(|| CallDetails {
                direction: CallDirection::Inbound,
                duration_seconds: 95,
                phone: Some("03-1234-5678".into()),
                recording_url: Some("https://rec.example.com/1.mp3".into()),
            }),
            completed: true,
        }
    }

    #[test]
    fn activity_create_bodies() {
        for kind in [
            ActivityKind::Call,
            ActivityKind::Note,
            ActivityKind::Task,
            ActivityKind::Email,
            ActivityKind::Meeting,
        ] {
            let body = activity_body(&activity(kind)).unwrap();
            insta::assert_json_snapshot!(format!("hubspot_activity_{}", kind.as_str()), body);
        }
    }

    #[test]
    fn activity_inputs_are_checked() {
        let mut no_call = activity(ActivityKind::Call);
        no_call.call = None;
        let e = activity_body(&no_call).unwrap_err();
        assert!(matches!(&e, ConnectorError::Invalid { field: Some(f), .. } if f == "call"));

        let mut backwards = activity(ActivityKind::Meeting);
        backwards.ends_at = Some(Millis(1));
        let e = activity_body(&backwards).unwrap_err();
        assert!(matches!(&e, ConnectorError::Invalid { field: Some(f), .. } if f == "ends_at"));

        let mut on_ticket = activity(ActivityKind::Note);
        on_ticket.person = Some(RecordRef::new("tickets", "5"));
        let e = activity_body(&on_ticket).unwrap_err();
        assert!(
            matches!(&e, ConnectorError::Invalid { code, field: Some(f), .. } if code == "unsupported" && f == "person")
        );

        let mut bad_id = activity(ActivityKind::Task);
        bad_id.deal = Some(RecordRef::new("deals", "../x"));
        let e = activity_body(&bad_id).unwrap_err();
        assert!(matches!(&e, ConnectorError::Invalid { field: Some(f), .. } if f == "deal"));
    }

    #[test]
    fn activity_search_filters_on_time_and_associations() {
        let body = activity_search_body(&activity(ActivityKind::Call)).unwrap();
        assert_eq!(
            body["filterGroups"],
            json!([{"filters": [
                {"propertyName": "hs_timestamp", "operator": "EQ", "value": "1700000000123"},
                {"propertyName": "associations.contact", "operator": "EQ", "value": "101"},
                {"propertyName": "associations.deal", "operator": "EQ", "value": "202"},
            ]}])
        );
        let mut alone = activity(ActivityKind::Note);
        alone.person = None;
        alone.deal = None;
        let body = activity_search_body(&alone).unwrap();
        assert_eq!(
            body["filterGroups"][0]["filters"].as_array().unwrap().len(),
            1
        );
    }

    #[test]
    fn same_activity_by_title_or_note_body() {
        let call = activity(ActivityKind::Call);
        let hit = |props: Value| -> SimpleObject {
            serde_json::from_value(json!({"id": "9", "properties": props})).unwrap()
        };
        assert!(is_same_activity(
            &call,
            &hit(json!({"hs_call_title": "通話: 山田 太郎"}))
        ));
        assert!(!is_same_activity(
            &call,
            &hit(json!({"hs_call_title": "通話: 佐藤"}))
        ));
        assert!(!is_same_activity(
            &call,
            &hit(json!({"hs_call_title": null}))
        ));
        let note = activity(ActivityKind::Note);
        let written = initial_body(&note);
        // HubSpot may rewrap the rich text it stores; an appended transcript follows.
        let rewrapped = format!(
            "<p>{}</p><br/><br/>transcript",
            written.replace("<br>", "<br/>")
        );
        assert!(is_same_activity(
            &note,
            &hit(json!({"hs_note_body": rewrapped}))
        ));
        assert!(!is_same_activity(
            &note,
            &hit(json!({"hs_note_body": "another note"}))
        ));
    }

    #[test]
    fn text_as_html_and_back() {
        assert_eq!(
            to_html("a<b>\n\"c\" & 'd'"),
            "a&lt;b&gt;<br>&quot;c&quot; &amp; &#39;d&#39;"
        );
        assert_eq!(comparable(&to_html("a<b>\n  c & d")), "a<b> c & d");
        assert_eq!(comparable("<div><p>x</p>\n<p>y</p></div>"), "x y");
    }

    fn person() -> NewPerson {
        NewPerson {
            object: PersonObject::Contact,
            last_name: "山田".into(),
            first_name: Some("太郎".into()),
            company: Some("株式会社さくら".into()),
            account: Some(RecordRef::new("companies", "301")),
            email: Some("taro@sakura.co.jp".into()),
            phone: Some("03-1234-5678".into()),
            description: Some("no such contact property".into()),
            owner_id: Some("4523111".into()),
            extra: [("jobtitle".to_owned(), json!("部長"))]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn contact_and_company_create_bodies() {
        insta::assert_json_snapshot!("hubspot_contact_create", contact_body(&person()).unwrap());
        let mut wrong = person();
        wrong.account = Some(RecordRef::new("deals", "1"));
        assert!(contact_body(&wrong).is_err());
        let c = NewCompany {
            name: " さくら商事 ".into(),
            domain: Some("Sakura.co.jp".into()),
            owner_id: Some("4523111".into()),
            extra: [("city".to_owned(), json!("東京"))].into_iter().collect(),
        };
        insta::assert_json_snapshot!(
            "hubspot_company_create",
            json!({"properties": company_properties(&c)})
        );
    }

    #[test]
    fn people_lookups_respect_the_filter_limits() {
        let q = PersonLookup {
            phone_e164: Some("+81312345678".into()),
            phone_national: vec![
                "03-1234-5678".into(),
                "0312345678".into(),
                "0312345678".into(),
            ],
            email: Some("Taro@Sakura.co.jp".into()),
        };
        let bodies = people_search_bodies(&q).unwrap();
        // Three distinct forms × two properties, plus the email: 7 groups in two requests.
        assert_eq!(bodies.len(), 2);
        let groups: Vec<&Value> = bodies
            .iter()
            .flat_map(|b| b["filterGroups"].as_array().unwrap())
            .collect();
        assert_eq!(groups.len(), 7);
        for b in &bodies {
            let g = b["filterGroups"].as_array().unwrap();
            assert!(g.len() <= MAX_GROUPS);
            let filters: usize = g
                .iter()
                .map(|g| g["filters"].as_array().unwrap().len())
                .sum();
            assert!(filters <= 18);
        }
        assert_eq!(
            groups[6]["filters"][0],
            json!({"propertyName": "email", "operator": "EQ", "value": "taro@sakura.co.jp"})
        );
        assert!(people_search_bodies(&PersonLookup::default()).is_none());
    }

    #[test]
    fn company_lookup_ors_name_and_domain() {
        let b = company_search_body(Some("さくら商事"), Some("Sakura.co.jp")).unwrap();
        assert_eq!(
            b["filterGroups"],
            json!([
                {"filters": [{"propertyName": "name", "operator": "EQ", "value": "さくら商事"}]},
                {"filters": [{"propertyName": "domain", "operator": "EQ", "value": "sakura.co.jp"}]},
            ])
        );
        assert_eq!(b["sorts"][0]["propertyName"], "createdate");
        assert!(company_search_body(Some(" "), None).is_none());
    }

    #[test]
    fn object_names_and_ids() {
        assert_eq!(object_path("contact", "x").unwrap(), "contacts");
        assert_eq!(object_path("0-3", "x").unwrap(), "deals");
        assert_eq!(object_path("2-1234", "x").unwrap(), "2-1234");
        assert_eq!(object_path("p123_cars", "x").unwrap(), "p123_cars");
        assert!(object_path("../owners", "x").is_err());
        assert!(object_path("", "x").is_err());
        assert!(record_id("12a", "x").is_err());
        assert_eq!(record_id(" 12 ", "x").unwrap(), "12");
    }

    #[test]
    fn property_kinds() {
        let def = |t: &str, f: &str, external: bool| -> super::super::wire::PropertyDefinition {
            serde_json::from_value(json!({
                "name": "x", "label": "X", "type": t, "fieldType": f,
                "externalOptions": external,
                "options": [{"label": "A", "value": "a"}, {"label": "H", "value": "h", "hidden": true}],
                "modificationMetadata": {"readOnlyValue": false},
            }))
            .unwrap()
        };
        let cases = [
            ("string", "text", false, FieldKind::Text),
            ("string", "textarea", false, FieldKind::LongText),
            ("string", "html", false, FieldKind::LongText),
            ("string", "phonenumber", false, FieldKind::Phone),
            ("string", "file", false, FieldKind::Other),
            ("number", "number", false, FieldKind::Number),
            ("enumeration", "select", false, FieldKind::Picklist),
            ("enumeration", "select", true, FieldKind::Reference),
            ("enumeration", "booleancheckbox", false, FieldKind::Bool),
            ("bool", "booleancheckbox", false, FieldKind::Bool),
            ("date", "date", false, FieldKind::Date),
            ("datetime", "date", false, FieldKind::DateTime),
            ("object_coordinates", "text", false, FieldKind::Other),
        ];
        for (t, f, ext, want) in cases {
            assert_eq!(field_kind(&def(t, f, ext)), want, "{t}/{f}");
        }
        let m = field_meta("deals", def("enumeration", "radio", false));
        assert_eq!(m.options, vec![("a".to_owned(), "A".to_owned())]);
        assert!(m.writable && !m.required);
    }
}

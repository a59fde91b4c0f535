//! Zoho CRM's side of the write-back recipes ([`crate::records`]): live person lookups, Leads,
//! Contacts and Accounts created when the CRM has none yet, the Contact → Account link,
//! activities (Notes, Calls, Tasks, Events) with their exactly-once key, appended transcripts,
//! field updates and the fields metadata.
//!
//! **Endpoints** (CRM REST API v8, https://www.zoho.com/crm/developer/docs/api/v8/):
//! `GET /{module}/search` with `phone`, `email` or `criteria` ("Search Records": 204 when
//! nothing matches, at most 2,000 records through `page` × `per_page` ≤ 200);
//! `POST /{module}` ("Insert Records": one result per record in `data`, `SUCCESS` with
//! `details.id`, or `MANDATORY_NOT_FOUND`/`INVALID_DATA` naming `details.api_name`, or
//! `DUPLICATE_DATA` naming `details.duplicate_record.id`); `PUT /{module}/{id}` ("Update
//! Records"); `GET /{module}/{id}`; `GET /{module}/{id}/Notes` (a record's notes, "Get Related
//! Records"); `GET /settings/fields?module=…` ("Fields Metadata").
//!
//! **Activities.** A note is `POST /Notes` with `Note_Title`, `Note_Content` and `Parent_Id`
//! in v8's shape `{"module": {"api_name": "Leads"}, "id": "…"}` (notes.json of Zoho's v8
//! OpenAPI files); its parent is the activity's person, else its deal. Calls, tasks and
//! meetings (module `Events`) point at a Contact through `Who_Id`, and at any other record —
//! a Lead, or the deal — through `What_Id` with its module in `$se_module` ("Kaizen #38 - Calls
//! API", https://help.zoho.com/portal/en/community/topic/kaizen-38-calls-api: "If you want to
//! create a call for a lead, specify the lead's record ID here"). Zoho has one `What_Id`, so a
//! Lead together with a deal is refused (`related_conflict`). A call is logged as completed:
//! `Call_Type` Inbound/Outbound, `Call_Start_Time`, `Call_Duration` as `mm:ss` (required for a
//! completed call), and for an outbound one `Outbound_Call_Status` Completed. A task carries
//! `Status` (Completed or Not Started) and the day it happened as `Due_Date`; a meeting
//! `Event_Title`, `Start_DateTime` and `End_DateTime` (the start again when the activity has no
//! end). Times are written in UTC (`2024-01-15T09:30:00+00:00`), which Zoho accepts in any
//! offset. Zoho has no record for an email activity: [`ActivityKind::Email`] is `unsupported`.
//!
//! **The exactly-once key.** Zoho modules have no external-id field unless an admin creates
//! one, so the key is kept in the activity's body: its last line before anything appended is
//! `renkei-ref: {key}` ([`key_line`]), after a blank line. [`find_activity`] looks for a record
//! holding exactly that line:
//! - a note among its parent's notes (`GET /{parent module}/{parent id}/Notes`, every page);
//! - a call by `criteria=((Subject:equals:…)and(Call_Start_Time:between:…))`, a task by
//!   `Subject` and `Due_Date`, a meeting by `Event_Title` and `Start_DateTime`, every page of
//!   the search. The time is searched over its whole minute, so that the lookup does not depend
//!   on whether Zoho keeps the seconds of a datetime field.
//!
//! The subject and the time narrow the search; the key line decides. A transcript appended
//! later ([`append_to_activity`]) goes after the key line and does not hide it.
//!
//! **Companies.** [`find_company`] searches Accounts by `Account_Name` (Zoho's `equals` is
//! case-insensitive) or by `Website`, where Zoho keeps a company's domain; Zoho stores the
//! website as typed, so the domain is searched in its usual written forms ([`website_forms`]:
//! with and without `www.`, `http://`, `https://`, a trailing `/`) and the answers are
//! re-checked here. [`create_company`] writes the domain as `https://{domain}`. Values in
//! criteria escape `(`, `)`, `,`, `:` and `\` with a backslash ("Search Records": "special
//! characters … must be escaped").

//!
//! **Record pickers.** [`search_records`] asks `GET /{module}/search?word=…` for a text alone
//! (Zoho matches it in the module's text fields, as its own search box does);
//! `criteria=(Account_Name.id:equals:…)` for a relation, the lookup field compared by the
//! related record's id, with `and (Name:starts_with:…)` for a text too, since Zoho takes one
//! of `word` and `criteria`; and `GET /{module}?sort_by=Modified_Time` for neither. The name is
//! the module's display field: `Full_Name`, `Account_Name`, `Deal_Name`, `Subject`, … or `Name`
//! (every custom module has it).

use http::Method;
use renkei_core::Millis;
use serde_json::{Map, Value, json};
use url::Url;

use crate::http::{HttpClient, HttpResponse, OutgoingRequest};
use crate::people::{PersonObject, RemotePerson, text};
use crate::records::{
    ActivityKind, CallDirection, FieldKind, FieldMeta, FoundRecord, NewActivity, NewCompany,
    NewPerson, ObjectMeta, PersonLookup, RecordQuery, RecordRef, present,
};
use crate::registry::{Endpoints, join};
use crate::{ConnectorError, Provider, Session};

use super::client::{self, classify, classify_error};
use super::mapping;
use super::people::{fields as person_fields, is_record_id};
use super::wire::{
    AccountRow, ActivityRow, ApiError, Field, FieldsResponse, ModulesResponse, Person,
    RecordsResponse, WriteResponse,
};

const P: Provider = Provider::ZohoCrm;

/// Zoho's largest search page, and the furthest record a search reaches.
const PER_PAGE: u32 = 200;
const SEARCH_LIMIT: u32 = 2000;

/// The most a key may hold (see [`NewActivity::key`]).
const KEY_MAX: usize = 200;

/// What precedes the key in an activity's body.
pub const KEY_PREFIX: &str = "renkei-ref: ";

fn invalid(code: &str, field: Option<&str>, message: impl Into<String>) -> ConnectorError {
    crate::people::invalid(P, code, field, message)
}

fn protocol(message: impl Into<String>) -> ConnectorError {
    crate::people::protocol(P, message)
}

fn unsupported(message: impl Into<String>) -> ConnectorError {
    invalid("unsupported", None, message)
}

/// The module an activity kind is written to; Zoho has no email activity.
pub fn activity_module(kind: ActivityKind) -> Result<&'static str, ConnectorError> {
    match kind {
        ActivityKind::Note => Ok("Notes"),
        ActivityKind::Call => Ok("Calls"),
        ActivityKind::Task => Ok("Tasks"),
        ActivityKind::Meeting => Ok("Events"),
        ActivityKind::Email => Err(email_unsupported()),
    }
}

fn email_unsupported() -> ConnectorError {
    unsupported(
        "Zoho CRM has no email activity that can be created through its API (emails are sent through it, not logged)",
    )
}

/// The field holding an activity's body.
fn body_field(kind: ActivityKind) -> &'static str {
    match kind {
        ActivityKind::Note => "Note_Content",
        _ => "Description",
    }
}

/// A Zoho module api_name as a path segment: letters, digits and `_`.
fn check_module(module: &str, field: &str) -> Result<(), ConnectorError> {
    let ok = !module.is_empty()
        && module.len() <= 100
        && module
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "object_invalid",
            Some(field),
            "not a Zoho CRM module api_name",
        ))
    }
}

fn check_ref(r: &RecordRef, field: &str) -> Result<(), ConnectorError> {
    check_module(&r.object, field)?;
    if is_record_id(&r.id) {
        Ok(())
    } else {
        Err(invalid(
            "id_invalid",
            Some(field),
            "not a Zoho CRM record id (up to 19 digits)",
        ))
    }
}

/// An instant as Zoho's ISO 8601 with an offset, in UTC, whole seconds.
pub fn zoho_time(at: Millis) -> String {
    Millis(at.0.div_euclid(1000) * 1000)
        .to_timestamp()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The UTC day of an instant, as a Zoho date (`2024-01-15`).
pub fn zoho_date(at: Millis) -> String {
    at.to_timestamp()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d")
        .to_string()
}

/// A duration as Zoho's `Call_Duration`: `mm:ss`, the minutes unbounded.
pub fn call_duration(seconds: u64) -> String {
    format!("{:02}:{:02}", seconds / 60, seconds % 60)
}

/// Escapes a value for a search `criteria`: `(`, `)`, `,`, `:` and `\` take a backslash.
pub fn escape_criteria(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if matches!(c, '(' | ')' | ',' | ':' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The line that carries an activity's key in its body.
pub fn key_line(key: &str) -> String {
    format!("{KEY_PREFIX}{key}")
}

/// Whether `body` holds the line of `key`.
pub fn has_key(body: &str, key: &str) -> bool {
    let line = key_line(key);
    body.lines().any(|l| l.trim_end() == line)
}

fn check_key(key: &str) -> Result<(), ConnectorError> {
    let ok = !key.is_empty()
        && key.len() <= KEY_MAX
        && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "key_invalid",
            Some("key"),
            "the key must be 1 to 200 printable ASCII characters",
        ))
    }
}

/// The body an activity is written with: its text, the recording's URL for a call, and the
/// key line after a blank line.
pub fn activity_text(a: &NewActivity) -> String {
    let mut out = a.body.trim_end().to_owned();
    if let Some(url) = a.call.as_ref().and_then(|c| c.recording_url.as_deref()) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str("Recording: ");
        out.push_str(url);
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(&key_line(&a.key));
    out
}

fn owner(obj: &mut Map<String, Value>, owner_id: Option<&str>) -> Result<(), ConnectorError> {
    if let Some(id) = owner_id {
        if !is_record_id(id) {
            return Err(invalid(
                "id_invalid",
                Some("owner_id"),
                "not a Zoho CRM user id",
            ));
        }
        obj.insert("Owner".into(), json!({ "id": id }));
    }
    Ok(())
}

/// `Who_Id` for a Contact, `What_Id` with `$se_module` for anything else (a Lead, the deal).
fn relate(obj: &mut Map<String, Value>, a: &NewActivity) -> Result<(), ConnectorError> {
    if let Some(p) = &a.person {
        check_ref(p, "person")?;
        if p.object == "Contacts" {
            obj.insert("Who_Id".into(), json!({ "id": p.id }));
        } else {
            obj.insert("What_Id".into(), json!({ "id": p.id }));
            obj.insert("$se_module".into(), json!(p.object));
        }
    }
    if let Some(d) = &a.deal {
        check_ref(d, "deal")?;
        if obj.contains_key("What_Id") {
            return Err(invalid(
                "related_conflict",
                Some("deal"),
                format!(
                    "a Zoho CRM activity has one \"Related To\" (What_Id), already taken by the {} record",
                    a.person.as_ref().map(|p| p.object.as_str()).unwrap_or("")
                ),
            ));
        }
        obj.insert("What_Id".into(), json!({ "id": d.id }));
        obj.insert("$se_module".into(), json!(d.object));
    }
    Ok(())
}

fn subject(a: &NewActivity) -> Result<String, ConnectorError> {
    text(Some(a.subject.clone()))
        .ok_or_else(|| invalid("required", Some("subject"), "the activity has no subject"))
}

/// The note's parent: the person, else the deal.
fn note_parent(a: &NewActivity) -> Result<&RecordRef, ConnectorError> {
    let (r, field) = match (&a.person, &a.deal) {
        (Some(p), _) => (p, "person"),
        (None, Some(d)) => (d, "deal"),
        (None, None) => {
            return Err(invalid(
                "required",
                Some("person"),
                "a Zoho CRM note needs a parent record (a person or a deal)",
            ));
        }
    };
    check_ref(r, field)?;
    Ok(r)
}

/// The module and the record of an activity's insert: `{"data": [{…}]}`.
pub fn activity_body(a: &NewActivity) -> Result<(&'static str, Value), ConnectorError> {
    let module = activity_module(a.kind)?;
    check_key(&a.key)?;
    let mut obj = Map::new();
    match a.kind {
        ActivityKind::Note => {
            let parent = note_parent(a)?;
            if let Some(t) = text(Some(a.subject.clone())) {
                obj.insert("Note_Title".into(), json!(t));
            }
            obj.insert("Note_Content".into(), json!(activity_text(a)));
            obj.insert(
                "Parent_Id".into(),
                json!({"module": {"api_name": parent.object}, "id": parent.id}),
            );
        }
        ActivityKind::Call => {
            let call = a.call.as_ref().ok_or_else(|| {
                invalid(
                    "required",
                    Some("call"),
                    "a call activity needs its direction and duration",
                )
            })?;
            obj.insert("Subject".into(), json!(subject(a)?));
            let kind = match call.direction {
                CallDirection::Inbound => "Inbound",
                CallDirection::Outbound => "Outbound",
            };
            obj.insert("Call_Type".into(), json!(kind));
            if call.direction == CallDirection::Outbound {
                obj.insert("Outbound_Call_Status".into(), json!("Completed"));
            }
            obj.insert("Call_Start_Time".into(), json!(zoho_time(a.occurred_at)));
            obj.insert(
                "Call_Duration".into(),
                json!(call_duration(call.duration_seconds)),
            );
            obj.insert("Description".into(), json!(activity_text(a)));
            relate(&mut obj, a)?;
        }
        ActivityKind::Task => {
            obj.insert("Subject".into(), json!(subject(a)?));
            obj.insert(
                "Status".into(),
                json!(if a.completed {
                    "Completed"
                } else {
                    "Not Started"
                }),
            );
            obj.insert("Due_Date".into(), json!(zoho_date(a.occurred_at)));
            obj.insert("Description".into(), json!(activity_text(a)));
            relate(&mut obj, a)?;
        }
        ActivityKind::Meeting => {
            let end = a.ends_at.unwrap_or(a.occurred_at);
            if end < a.occurred_at {
                return Err(invalid(
                    "ends_before_start",
                    Some("ends_at"),
                    "the meeting ends before it starts",
                ));
            }
            obj.insert("Event_Title".into(), json!(subject(a)?));
            obj.insert("Start_DateTime".into(), json!(zoho_time(a.occurred_at)));
            obj.insert("End_DateTime".into(), json!(zoho_time(end)));
            obj.insert("Description".into(), json!(activity_text(a)));
            relate(&mut obj, a)?;
        }
        ActivityKind::Email => return Err(email_unsupported()),
    }
    owner(&mut obj, a.owner_id.as_deref())?;
    Ok((module, json!({ "data": [obj] })))
}

/// The search that narrows the candidates of [`find_activity`] for a call, task or meeting.
/// Datetimes go into the criteria with their colons unescaped, as in Zoho's own examples
/// (`(Created_Time:between:2019-01-01T00:00:00+05:30,…)`): a condition has exactly three
/// parts, so the colons after the second belong to the value.
pub fn activity_criteria(a: &NewActivity) -> Result<String, ConnectorError> {
    let s = escape_criteria(&subject(a)?);
    let minute = |at: Millis| {
        let from = Millis(at.0.div_euclid(60_000) * 60_000);
        format!("{},{}", zoho_time(from), zoho_time(from.plus_ms(59_000)))
    };
    Ok(match a.kind {
        ActivityKind::Call => format!(
            "((Subject:equals:{s})and(Call_Start_Time:between:{}))",
            minute(a.occurred_at)
        ),
        ActivityKind::Task => format!(
            "((Subject:equals:{s})and(Due_Date:equals:{}))",
            zoho_date(a.occurred_at)
        ),
        ActivityKind::Meeting => format!(
            "((Event_Title:equals:{s})and(Start_DateTime:between:{}))",
            minute(a.occurred_at)
        ),
        ActivityKind::Note | ActivityKind::Email => {
            return Err(protocol("notes and emails are not found by a search"));
        }
    })
}

/// The insert body of a Lead or Contact.
pub fn person_body(p: &NewPerson) -> Result<(&'static str, Value), ConnectorError> {
    let module = crate::people::remote_object(P, p.object)?;
    let mut obj = Map::new();
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = text(v.clone()) {
            obj.insert(k.into(), json!(v));
        }
    };
    put("Last_Name", &Some(p.last_name.clone()));
    put("First_Name", &p.first_name);
    put("Email", &p.email);
    put("Phone", &p.phone);
    put("Description", &p.description);
    if p.object == PersonObject::Lead {
        put("Company", &p.company);
    }
    match p.object {
        PersonObject::Lead => {}
        PersonObject::Contact => {
            if let Some(a) = &p.account {
                check_ref(a, "account")?;
                if a.object != "Accounts" {
                    return Err(invalid(
                        "object_invalid",
                        Some("account"),
                        "a Zoho CRM contact's account is a record of Accounts",
                    ));
                }
                obj.insert("Account_Name".into(), json!({ "id": a.id }));
            }
        }
    }
    owner(&mut obj, p.owner_id.as_deref())?;
    for (k, v) in &p.extra {
        obj.insert(k.clone(), v.clone());
    }
    Ok((module, json!({ "data": [obj] })))
}

/// The insert body of an Account.
pub fn company_body(c: &NewCompany) -> Result<Value, ConnectorError> {
    let mut obj = Map::new();
    if let Some(name) = text(Some(c.name.clone())) {
        obj.insert("Account_Name".into(), json!(name));
    }
    if let Some(d) = c.domain.as_deref().and_then(normalise_domain) {
        obj.insert("Website".into(), json!(format!("https://{d}")));
    }
    owner(&mut obj, c.owner_id.as_deref())?;
    for (k, v) in &c.extra {
        obj.insert(k.clone(), v.clone());
    }
    Ok(json!({ "data": [obj] }))
}

/// A domain or website reduced to its host without `www.`, lower-cased: `example.co.jp`.
pub fn normalise_domain(s: &str) -> Option<String> {
    let s = s.trim().to_lowercase();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(&s);
    let s = s.split(['/', '?', '#']).next().unwrap_or("");
    let s = s.strip_prefix("www.").unwrap_or(s);
    (!s.is_empty()).then(|| s.to_owned())
}

/// The ways a website holding `domain` is usually written (ten: Zoho's `equals` takes up to
/// ten comma-separated values).
pub fn website_forms(domain: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(10);
    for host in [domain.to_owned(), format!("www.{domain}")] {
        out.push(host.clone());
        for scheme in ["https://", "http://"] {
            out.push(format!("{scheme}{host}"));
            out.push(format!("{scheme}{host}/"));
        }
    }
    out.truncate(10);
    out
}

/// The Accounts search of [`find_company`]; `None` when neither is given.
pub fn company_criteria(name: Option<&str>, domain: Option<&str>) -> Option<String> {
    let by_name = name
        .and_then(|n| text(Some(n.to_owned())))
        .map(|n| format!("(Account_Name:equals:{})", escape_criteria(&n)));
    let by_domain = domain.and_then(normalise_domain).map(|d| {
        let forms: Vec<String> = website_forms(&d)
            .iter()
            .map(|f| escape_criteria(f))
            .collect();
        format!("(Website:equals:{})", forms.join(","))
    });
    match (by_name, by_domain) {
        (Some(a), Some(b)) => Some(format!("({a}or{b})")),
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => None,
    }
}

/// The kind of a Zoho `data_type` (https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html).
pub fn field_kind(data_type: &str) -> FieldKind {
    match data_type {
        "text" => FieldKind::Text,
        "textarea" => FieldKind::LongText,
        "website" => FieldKind::Url,
        "email" => FieldKind::Email,
        "phone" => FieldKind::Phone,
        "integer" | "bigint" | "double" | "currency" | "decimal" | "percent" => FieldKind::Number,
        "boolean" => FieldKind::Bool,
        "date" => FieldKind::Date,
        "datetime" => FieldKind::DateTime,
        "picklist" | "multiselectpicklist" => FieldKind::Picklist,
        "lookup" | "ownerlookup" | "userlookup" | "multiselectlookup" | "multiuserlookup" => {
            FieldKind::Reference
        }
        _ => FieldKind::Other,
    }
}

/// One field of the metadata; `None` for an entry without an api_name.
pub fn field_meta(f: Field) -> Option<FieldMeta> {
    let name = text(f.api_name)?;
    let provider_type = text(f.data_type).unwrap_or_default();
    let options = f
        .pick_list_values
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| {
            let value = text(v.actual_value)?;
            let label = text(v.display_value).unwrap_or_else(|| value.clone());
            Some((value, label))
        })
        .collect();
    // An owner lookup points at the org's users; a multi-module lookup (`se_module`) at
    // whichever module its companion field names, so at no one module.
    let references = match provider_type.as_str() {
        "ownerlookup" => vec!["users".to_owned()],
        _ => f
            .lookup
            .and_then(|l| l.module)
            .and_then(|m| text(m.api_name))
            .filter(|m| m != "se_module")
            .into_iter()
            .collect(),
    };
    Some(FieldMeta {
        references,
        label: text(f.field_label)
            .or_else(|| text(f.display_label))
            .unwrap_or_else(|| name.clone()),
        kind: field_kind(&provider_type),
        provider_type,
        required: f.system_mandatory.unwrap_or(false),
        writable: !(f.read_only.unwrap_or(false) || f.field_read_only.unwrap_or(false)),
        options,
        name,
    })
}

/// A write's answer for its one record: the record's id, or the error Zoho gave for it. An
/// update of an id Zoho does not know (`INVALID_DATA` on `id`) is `NotFound`.
fn write_result(resp: &HttpResponse, what: &str) -> Result<String, ConnectorError> {
    let result = serde_json::from_slice::<WriteResponse>(&resp.body)
        .ok()
        .and_then(|w| w.data.into_iter().next());
    match result {
        Some(r) if r.status == "error" => {
            let is_id = r.code == "INVALID_DATA"
                && r.details.get("api_name").and_then(Value::as_str) == Some("id");
            Err(if is_id {
                ConnectorError::NotFound {
                    provider: P.as_str(),
                    what: what.to_owned(),
                }
            } else {
                classify_error(
                    resp.status.as_u16(),
                    &resp.headers,
                    ApiError {
                        code: r.code,
                        message: r.message,
                        details: r.details,
                    },
                )
            })
        }
        _ if !resp.status.is_success() => Err(classify(resp)),
        Some(r) if r.status == "success" => r
            .details
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| protocol(format!("the write of {what} answered no id"))),
        _ => Err(protocol(format!(
            "the write of {what} answered HTTP {} without a record result",
            resp.status.as_u16()
        ))),
    }
}

async fn insert(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    module: &str,
    body: Value,
) -> Result<RecordRef, ConnectorError> {
    let url = join(&client::api_base(ep, s)?, &format!("/{module}"));
    // An insert repeated after an ambiguous failure could create a second record: never
    // retried here; the engine looks the record up first.
    let req = OutgoingRequest::post(P.as_str(), url)
        .json(body)
        .idempotent(false);
    let resp = client::send(http, ep, s, req).await?;
    let id = write_result(&resp, &format!("a {module} record"))?;
    Ok(RecordRef::new(module, id))
}

/// `PUT /{module}/{id}`: the same fields written twice leave the same record, so it may be
/// retried.
async fn put(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    r: &RecordRef,
    record: Map<String, Value>,
) -> Result<(), ConnectorError> {
    let url = join(
        &client::api_base(ep, s)?,
        &format!("/{}/{}", r.object, r.id),
    );
    let req = OutgoingRequest::new(P.as_str(), Method::PUT, url)
        .json(json!({ "data": [record] }))
        .idempotent(true);
    let resp = client::send(http, ep, s, req).await?;
    write_result(&resp, &format!("{} record {}", r.object, r.id)).map(|_| ())
}

/// A GET whose 204 means "nothing": `None`.
async fn get_rows<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    url: Url,
) -> Result<Option<RecordsResponse<T>>, ConnectorError> {
    let resp = client::send(http, ep, s, OutgoingRequest::get(P.as_str(), url)).await?;
    match resp.status.as_u16() {
        204 => Ok(None),
        st if (200..300).contains(&st) => resp.json(P.as_str()).map(Some),
        _ => Err(classify(&resp)),
    }
}

/// Every page of a search of `module` by one parameter, up to Zoho's 2,000 records.
async fn search_all<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    module: &str,
    param: (&str, &str),
    fields: &str,
) -> Result<Vec<T>, ConnectorError> {
    let base = client::api_base(ep, s)?;
    let mut out = Vec::new();
    for page in 1..=SEARCH_LIMIT / PER_PAGE {
        let mut url = join(&base, &format!("/{module}/search"));
        url.query_pairs_mut()
            .append_pair(param.0, param.1)
            .append_pair("fields", fields)
            .append_pair("per_page", &PER_PAGE.to_string())
            .append_pair("page", &page.to_string());
        let Some(body) = get_rows::<T>(http, ep, s, url).await? else {
            break;
        };
        out.extend(body.data);
        if !body.info.is_some_and(|i| i.more_records) {
            break;
        }
    }
    Ok(out)
}

/// Live search of Leads/Contacts among `objects` by every phone form and the email: one
/// `GET /{module}/search?phone=…` per form (Zoho matches the phone fields of a record against
/// the value as typed) and `?email=…` (every email field). Each record once, in the order
/// found.
pub async fn find_people(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    objects: &[PersonObject],
    q: &PersonLookup,
) -> Result<Vec<RemotePerson>, ConnectorError> {
    let mut params: Vec<(&str, String)> = Vec::new();
    let mut push = |k: &'static str, v: Option<String>| {
        if let Some(v) = text(v)
            && !params.iter().any(|(pk, pv)| *pk == k && *pv == v)
        {
            params.push((k, v));
        }
    };
    push("phone", q.phone_e164.clone());
    for n in &q.phone_national {
        push("phone", Some(n.clone()));
    }
    push("email", q.email.clone());
    if params.is_empty() {
        return Err(invalid(
            "lookup_empty",
            Some("phone"),
            "a person lookup needs a phone number or an email",
        ));
    }
    let mut out: Vec<RemotePerson> = Vec::new();
    for object in objects {
        let module = crate::people::remote_object(P, *object)?;
        for (k, v) in &params {
            let rows: Vec<Person> = search_all(
                http,
                ep,
                s,
                module,
                (*k, v.as_str()),
                person_fields(*object),
            )
            .await?;
            for row in rows {
                let p = mapping::person(*object, row)?;
                if !out
                    .iter()
                    .any(|o| o.object == p.object && o.remote_id == p.remote_id)
                {
                    out.push(p);
                }
            }
        }
    }
    Ok(out)
}

/// A new Lead or Contact. A Lead without `company` is refused by Zoho (`Company` is mandatory
/// on Leads) and reported as `Invalid` naming `Company`; an email another record holds is
/// `Duplicate` naming it.
pub async fn create_person(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    p: &NewPerson,
) -> Result<RecordRef, ConnectorError> {
    let (module, body) = person_body(p)?;
    insert(http, ep, s, module, body).await
}

/// The oldest Account (by `Created_Time`, then id) whose `Account_Name` equals `name`
/// (case-insensitive, as Zoho's `equals`) or whose `Website` holds `domain`.
pub async fn find_company(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    name: Option<&str>,
    domain: Option<&str>,
) -> Result<Option<RecordRef>, ConnectorError> {
    let Some(criteria) = company_criteria(name, domain) else {
        return Err(invalid(
            "lookup_empty",
            Some("name"),
            "a company lookup needs a name or a domain",
        ));
    };
    let rows: Vec<AccountRow> = search_all(
        http,
        ep,
        s,
        "Accounts",
        ("criteria", criteria.as_str()),
        "Account_Name,Website,Created_Time",
    )
    .await?;
    let want_name = name
        .and_then(|n| text(Some(n.to_owned())))
        .map(|n| n.to_lowercase());
    let want_domain = domain.and_then(normalise_domain);
    let best = rows
        .into_iter()
        .filter_map(|r| {
            let id = text(r.id).filter(|id| is_record_id(id))?;
            let name_ok =
                want_name.is_some() && text(r.account_name).map(|n| n.to_lowercase()) == want_name;
            let domain_ok = want_domain.is_some()
                && r.website.as_deref().and_then(normalise_domain) == want_domain;
            let created = r
                .created_time
                .as_deref()
                .and_then(mapping::parse_time)
                .map_or(i64::MAX, |m| m.0);
            let n: u64 = id.parse().ok()?;
            (name_ok || domain_ok).then_some((created, n, id))
        })
        .min_by_key(|(created, n, _)| (*created, *n));
    Ok(best.map(|(_, _, id)| RecordRef::new("Accounts", id)))
}

/// A new Account (`Account_Name`, `Website` as `https://{domain}`).
pub async fn create_company(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    c: &NewCompany,
) -> Result<RecordRef, ConnectorError> {
    insert(http, ep, s, "Accounts", company_body(c)?).await
}

/// Links a Contact to an Account: the Contact's `Account_Name` lookup. Zoho links other pairs
/// through their own lookups, which the recipes do not use.
pub async fn associate(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    from: &RecordRef,
    to: &RecordRef,
) -> Result<(), ConnectorError> {
    if from.object != "Contacts" || to.object != "Accounts" {
        return Err(unsupported(format!(
            "renkei links a Zoho CRM Contact to an Account only, not {} to {}",
            from.object, to.object
        )));
    }
    check_ref(from, "from")?;
    check_ref(to, "to")?;
    let mut record = Map::new();
    record.insert("Account_Name".into(), json!({ "id": to.id }));
    put(http, ep, s, from, record).await
}

/// Writes the activity (see the module documentation for each kind's fields and where the key
/// is kept). Not retried after an ambiguous failure: the engine asks [`find_activity`] first.
pub async fn create_activity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    a: &NewActivity,
) -> Result<RecordRef, ConnectorError> {
    let (module, body) = activity_body(a)?;
    insert(http, ep, s, module, body).await
}

/// The activity an earlier [`create_activity`] of an activity with the same key wrote: a note
/// among its parent's notes, a call, task or meeting among the records of the same subject
/// and time, whose body holds the key's line.
pub async fn find_activity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    a: &NewActivity,
) -> Result<Option<RecordRef>, ConnectorError> {
    let module = activity_module(a.kind)?;
    check_key(&a.key)?;
    let field = body_field(a.kind);
    let found = |rows: Vec<ActivityRow>| {
        rows.into_iter().find_map(|r| {
            let body = match a.kind {
                ActivityKind::Note => r.note_content,
                _ => r.description,
            };
            let id = text(r.id)?;
            body.is_some_and(|b| has_key(&b, &a.key))
                .then(|| RecordRef::new(module, id))
        })
    };
    if a.kind == ActivityKind::Note {
        let parent = note_parent(a)?;
        let base = client::api_base(ep, s)?;
        for page in 1.. {
            let mut url = join(&base, &format!("/{}/{}/Notes", parent.object, parent.id));
            url.query_pairs_mut()
                .append_pair("fields", "Note_Title,Note_Content")
                .append_pair("per_page", &PER_PAGE.to_string())
                .append_pair("page", &page.to_string());
            let Some(body) = get_rows::<ActivityRow>(http, ep, s, url).await? else {
                return Ok(None);
            };
            let more = body.info.as_ref().is_some_and(|i| i.more_records);
            if let Some(r) = found(body.data) {
                return Ok(Some(r));
            }
            if !more {
                return Ok(None);
            }
        }
    }
    let criteria = activity_criteria(a)?;
    let rows: Vec<ActivityRow> =
        search_all(http, ep, s, module, ("criteria", criteria.as_str()), field).await?;
    Ok(found(rows))
}

/// Appends `text` to the activity's body (`Note_Content` of a note, else `Description`) after
/// a blank line: a read, then a `PUT` of the whole new body. Nothing is written when the body
/// already ends with `text`, so a retry never appends twice.
pub async fn append_to_activity(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    kind: ActivityKind,
    r: &RecordRef,
    text_to_add: &str,
) -> Result<(), ConnectorError> {
    let module = activity_module(kind)?;
    check_ref(r, "record")?;
    if r.object != module {
        return Err(invalid(
            "object_invalid",
            Some("record"),
            format!("a {} activity is a record of {module}", kind.as_str()),
        ));
    }
    let add = text_to_add.trim_end();
    if add.trim().is_empty() {
        return Ok(());
    }
    let field = body_field(kind);
    let mut url = join(&client::api_base(ep, s)?, &format!("/{module}/{}", r.id));
    url.query_pairs_mut().append_pair("fields", field);
    let Some(body) = get_rows::<ActivityRow>(http, ep, s, url).await? else {
        return Err(ConnectorError::NotFound {
            provider: P.as_str(),
            what: format!("{module} record {}", r.id),
        });
    };
    let row = body
        .data
        .into_iter()
        .next()
        .ok_or_else(|| protocol(format!("GET {module}/{} answered no record", r.id)))?;
    let current = match kind {
        ActivityKind::Note => row.note_content,
        _ => row.description,
    }
    .unwrap_or_default();
    let current = current.trim_end();
    if current.ends_with(add) {
        return Ok(());
    }
    let new = if current.is_empty() {
        add.to_owned()
    } else {
        format!("{current}\n\n{add}")
    };
    let mut record = Map::new();
    record.insert(field.into(), json!(new));
    put(http, ep, s, r, record).await
}

/// Sets `fields` (api_names → values as Zoho takes them: a lookup is `{"id": …}`) on the
/// record. Nothing is sent for no fields.
pub async fn update_record(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    r: &RecordRef,
    fields: &Map<String, Value>,
) -> Result<(), ConnectorError> {
    check_ref(r, "record")?;
    if fields.is_empty() {
        return Ok(());
    }
    put(http, ep, s, r, fields.clone()).await
}

/// The module's fields with their kinds: `GET /settings/fields?module=…`. An unknown module is
/// `Invalid` naming `module`.
pub async fn describe_fields(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: &str,
) -> Result<Vec<FieldMeta>, ConnectorError> {
    check_module(object, "module")?;
    let mut url = join(&client::api_base(ep, s)?, "/settings/fields");
    url.query_pairs_mut().append_pair("module", object);
    let resp = client::send(http, ep, s, OutgoingRequest::get(P.as_str(), url)).await?;
    if resp.status.as_u16() == 204 {
        return Ok(Vec::new());
    }
    if !resp.status.is_success() {
        // Zoho names a module it does not have with a 400 `INVALID_MODULE`: the module is
        // missing, not the input malformed.
        return Err(match classify(&resp) {
            ConnectorError::Invalid { code, .. } if code == "INVALID_MODULE" => {
                ConnectorError::NotFound {
                    provider: P.as_str(),
                    what: format!("module {object}"),
                }
            }
            other => other,
        });
    }
    let body: FieldsResponse = resp.json(P.as_str())?;
    Ok(body.fields.into_iter().filter_map(field_meta).collect())
}

/// The modules the API can use: `GET /settings/modules`. Modules with `api_supported` false
/// (some of Zoho's system modules) are left out.
pub async fn list_objects(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
) -> Result<Vec<ObjectMeta>, ConnectorError> {
    let url = join(&client::api_base(ep, s)?, "/settings/modules");
    let resp = client::send(http, ep, s, OutgoingRequest::get(P.as_str(), url)).await?;
    if !resp.status.is_success() {
        return Err(classify(&resp));
    }
    let body: ModulesResponse = resp.json(P.as_str())?;
    Ok(body
        .modules
        .into_iter()
        .filter(|m| m.api_supported.unwrap_or(true))
        .filter_map(|m| {
            let name = text(m.api_name)?;
            let plural = text(m.plural_label).unwrap_or_else(|| name.clone());
            Some(ObjectMeta {
                label: text(m.singular_label).unwrap_or_else(|| plural.clone()),
                plural_label: plural,
                custom: m.generated_type.as_deref() == Some("custom"),
                creatable: m.creatable.unwrap_or(true),
                name,
            })
        })
        .collect())
}

/// Any record, custom modules included: `POST /{module}` with `fields` by their API names, as
/// given (a lookup as `{"id": …}`). Never repeated on its own (see `insert`).
pub async fn create_record(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: &str,
    fields: &Map<String, Value>,
) -> Result<RecordRef, ConnectorError> {
    check_module(object, "object")?;
    insert(http, ep, s, object, json!({ "data": [fields] })).await
}

/// The field a module shows as its records' names, among `fields`: the standard modules' own,
/// else `Name`, which every custom module has. Lookups are not names: a Deal's `Account_Name`
/// points at its account.
pub fn name_field(fields: &[FieldMeta]) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "Full_Name",
        "Account_Name",
        "Deal_Name",
        "Subject",
        "Event_Title",
        "Note_Title",
        "Product_Name",
        "Vendor_Name",
        "Campaign_Name",
        "Name",
        "Last_Name",
    ];
    NAMES.iter().copied().find(|n| {
        fields
            .iter()
            .any(|f| f.name == *n && f.kind != FieldKind::Reference)
    })
}

/// The fields a picker shows beside the name, where the module has them.
const PICKER_FIELDS: &[&str] = &[
    "Email",
    "Phone",
    "Company",
    "Title",
    "Account_Name",
    "Website",
    "Stage",
    "Amount",
    "Closing_Date",
    "Status",
];

/// The URL of [`search_records`]'s one request.
pub fn records_url(
    base: &Url,
    q: &RecordQuery,
    fields: &[FieldMeta],
) -> Result<(Url, &'static str), ConnectorError> {
    check_module(&q.object, "object")?;
    let Some(name) = name_field(fields) else {
        return Err(invalid(
            "object_unsearchable",
            Some("object"),
            format!("{} has no name field to search", q.object),
        ));
    };
    let mut select = vec![name];
    select.extend(
        present(fields, PICKER_FIELDS)
            .into_iter()
            .filter(|f| *f != name),
    );
    if name == "Full_Name" {
        // A person's name is shown from its parts in renkei's order; Full_Name follows the
        // CRM's name format setting.
        select.extend(present(fields, &["Last_Name", "First_Name"]));
    }
    let text = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let limit = q.limit.clamp(1, crate::records::RECORD_QUERY_MAX);
    let mut url;
    match (&q.related, text) {
        (Some(rel), text) => {
            let Some(field) = rel.field.as_deref() else {
                return Err(invalid(
                    "relation_unsupported",
                    Some("related_to"),
                    format!("{} has no lookup to {}", q.object, rel.record.object),
                ));
            };
            check_module(field, "related_to")?;
            if !is_record_id(&rel.record.id) {
                return Err(invalid(
                    "remote_id_invalid",
                    Some("related_to"),
                    format!("{:?} is not a Zoho CRM record id", rel.record.id),
                ));
            }
            let mut criteria = format!("({field}.id:equals:{})", rel.record.id);
            if let Some(t) = text {
                let t = escape_criteria(t);
                // A person's Full_Name is put together in the order the CRM's name format
                // says, so a family name may not be where it starts: the parts are searched.
                let by_name = if name == "Full_Name" {
                    format!("((Last_Name:starts_with:{t})or(First_Name:starts_with:{t}))")
                } else {
                    format!("({name}:starts_with:{t})")
                };
                criteria = format!("({criteria}and{by_name})");
            }
            url = join(base, &format!("/{}/search", q.object));
            url.query_pairs_mut().append_pair("criteria", &criteria);
        }
        (None, Some(t)) => {
            url = join(base, &format!("/{}/search", q.object));
            url.query_pairs_mut().append_pair("word", t);
        }
        (None, None) => {
            url = join(base, &format!("/{}", q.object));
            url.query_pairs_mut()
                .append_pair("sort_by", "Modified_Time")
                .append_pair("sort_order", "desc");
        }
    }
    url.query_pairs_mut()
        .append_pair("fields", &select.join(","))
        .append_pair("per_page", &limit.to_string())
        .append_pair("page", "1");
    Ok((url, name))
}

/// A record picker's search (see the module doc): one request, 204 being no records.
/// `fields` are the module's fields.
pub async fn search_records(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    q: &RecordQuery,
    fields: &[FieldMeta],
) -> Result<Vec<FoundRecord>, ConnectorError> {
    let (url, name) = records_url(&client::api_base(ep, s)?, q, fields)?;
    let Some(body) = get_rows::<Map<String, Value>>(http, ep, s, url).await? else {
        return Ok(Vec::new());
    };
    Ok(body
        .data
        .into_iter()
        .filter_map(|mut row| {
            let id = match row.remove("id")? {
                Value::String(id) => id,
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            // A person's name in renkei's order from its parts, as everywhere else in renkei.
            let own = match row.remove(name) {
                Some(Value::String(n)) => n,
                _ => String::new(),
            };
            let last = row.remove("Last_Name");
            let first = row.remove("First_Name");
            let display = renkei_core::matching::name::display_name(
                last.as_ref().and_then(Value::as_str),
                first.as_ref().and_then(Value::as_str),
            )
            .unwrap_or(own);
            row.retain(|_, v| !v.is_null());
            Some(FoundRecord {
                id,
                name: display,
                fields: row,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::CallDetails;

    const T: Millis = Millis(1_705_311_000_000); // 2024-01-15T09:30:00Z

    fn activity(kind: ActivityKind) -> NewActivity {
        NewActivity {
            kind,
            key: "renkei:t1:ev_42:0".into(),
            subject: "Call with 山田".into(),
            body: "Discussed pricing.\nNext: demo".into(),
            occurred_at: T.plus_ms(12_345),
            ends_at: None,
            owner_id: Some("5725767000000300001".into()),
            person: Some(RecordRef::new("Contacts", "5725767000000400169")),
            deal: None,
            call: None,
            completed: true,
        }
    }

    #[test]
    fn activity_bodies() {
        let mut note = activity(ActivityKind::Note);
        note.subject = "商談メモ".into();
        note.person = Some(RecordRef::new("Leads", "5725767000000400172"));
        note.owner_id = None;
        insta::assert_json_snapshot!("note", activity_body(&note).unwrap());

        let mut inbound = activity(ActivityKind::Call);
        inbound.call = Some(CallDetails {
            direction: CallDirection::Inbound,
            duration_seconds: 4_325,
            phone: Some("03-1234-5678".into()),
            recording_url: Some("https://rec.example/1".into()),
        });
        insta::assert_json_snapshot!("call_inbound_contact", activity_body(&inbound).unwrap());

        let mut outbound = activity(ActivityKind::Call);
        outbound.person = Some(RecordRef::new("Leads", "5725767000000400172"));
        outbound.call = Some(CallDetails {
            direction: CallDirection::Outbound,
            duration_seconds: 59,
            phone: None,
            recording_url: None,
        });
        insta::assert_json_snapshot!("call_outbound_lead", activity_body(&outbound).unwrap());

        let mut task = activity(ActivityKind::Task);
        task.deal = Some(RecordRef::new("Deals", "5725767000000400175"));
        task.body = String::new();
        insta::assert_json_snapshot!("task_contact_deal", activity_body(&task).unwrap());

        let mut meeting = activity(ActivityKind::Meeting);
        meeting.ends_at = Some(T.plus_ms(3_600_000));
        meeting.person = None;
        meeting.deal = Some(RecordRef::new("Deals", "5725767000000400175"));
        insta::assert_json_snapshot!("meeting_deal", activity_body(&meeting).unwrap());
    }

    fn invalid_parts(e: ConnectorError) -> (String, Option<String>) {
        match e {
            ConnectorError::Invalid { code, field, .. } => (code, field),
            other => panic!("not Invalid: {other:?}"),
        }
    }

    #[test]
    fn activity_bodies_refuse_what_zoho_cannot_hold() {
        let email = activity(ActivityKind::Email);
        assert_eq!(
            invalid_parts(activity_body(&email).unwrap_err()),
            ("unsupported".into(), None)
        );
        let call = activity(ActivityKind::Call);
        assert_eq!(
            invalid_parts(activity_body(&call).unwrap_err()),
            ("required".into(), Some("call".into()))
        );
        let mut lead_and_deal = activity(ActivityKind::Task);
        lead_and_deal.person = Some(RecordRef::new("Leads", "5725767000000400172"));
        lead_and_deal.deal = Some(RecordRef::new("Deals", "5725767000000400175"));
        assert_eq!(
            invalid_parts(activity_body(&lead_and_deal).unwrap_err()),
            ("related_conflict".into(), Some("deal".into()))
        );
        let mut orphan = activity(ActivityKind::Note);
        orphan.person = None;
        assert_eq!(
            invalid_parts(activity_body(&orphan).unwrap_err()),
            ("required".into(), Some("person".into()))
        );
        let mut no_subject = activity(ActivityKind::Task);
        no_subject.subject = "  ".into();
        assert_eq!(
            invalid_parts(activity_body(&no_subject).unwrap_err()),
            ("required".into(), Some("subject".into()))
        );
        let mut bad_key = activity(ActivityKind::Task);
        bad_key.key = "a\nb".into();
        assert_eq!(
            invalid_parts(activity_body(&bad_key).unwrap_err()),
            ("key_invalid".into(), Some("key".into()))
        );
        let mut backwards = activity(ActivityKind::Meeting);
        backwards.ends_at = Some(T);
        assert_eq!(
            invalid_parts(activity_body(&backwards).unwrap_err()),
            ("ends_before_start".into(), Some("ends_at".into()))
        );
        let mut bad_id = activity(ActivityKind::Task);
        bad_id.person = Some(RecordRef::new("Contacts", "12a"));
        assert_eq!(
            invalid_parts(activity_body(&bad_id).unwrap_err()),
            ("id_invalid".into(), Some("person".into()))
        );
    }

    #[test]
    fn person_and_company_bodies() {
        let mut extra = Map::new();
        extra.insert("Lead_Source".into(), json!("Chat"));
        let lead = NewPerson {
            object: PersonObject::Lead,
            last_name: "山田".into(),
            first_name: Some("太郎".into()),
            company: Some("さくら商事".into()),
            account: None,
            email: Some("taro@example.jp".into()),
            phone: Some("03-1234-5678".into()),
            description: None,
            owner_id: Some("5725767000000300001".into()),
            extra,
        };
        insta::assert_json_snapshot!("lead", person_body(&lead).unwrap());
        let contact = NewPerson {
            object: PersonObject::Contact,
            company: Some("ignored for contacts".into()),
            account: Some(RecordRef::new("Accounts", "5725767000000400100")),
            extra: Map::new(),
            owner_id: None,
            ..lead.clone()
        };
        insta::assert_json_snapshot!("contact", person_body(&contact).unwrap());
        let wrong = NewPerson {
            account: Some(RecordRef::new("Deals", "5725767000000400100")),
            ..contact
        };
        assert_eq!(
            invalid_parts(person_body(&wrong).unwrap_err()),
            ("object_invalid".into(), Some("account".into()))
        );
        let company = NewCompany {
            name: "さくら商事株式会社".into(),
            domain: Some("WWW.Sakura-Shoji.example.jp".into()),
            owner_id: None,
            extra: Map::new(),
        };
        insta::assert_json_snapshot!("account", company_body(&company).unwrap());
    }

    #[test]
    fn criteria_escape_and_forms() {
        assert_eq!(escape_criteria("A(B),C:D\\E"), "A\\(B\\)\\,C\\:D\\\\E");
        assert_eq!(
            company_criteria(Some("Zylker (Inc)"), None).unwrap(),
            "(Account_Name:equals:Zylker \\(Inc\\))"
        );
        assert_eq!(
            company_criteria(None, Some("https://www.Example.com/about")).unwrap(),
            "(Website:equals:example.com,https\\://example.com,https\\://example.com/,http\\://example.com,http\\://example.com/,www.example.com,https\\://www.example.com,https\\://www.example.com/,http\\://www.example.com,http\\://www.example.com/)"
        );
        assert!(
            company_criteria(Some("a"), Some("a.jp"))
                .unwrap()
                .starts_with("((Account_Name:equals:a)or(Website:equals:a.jp,")
        );
        assert_eq!(company_criteria(Some(" "), Some("")), None);
        assert_eq!(website_forms("a.jp").len(), 10);
        for (raw, want) in [
            ("example.com", Some("example.com")),
            ("HTTPS://WWW.EXAMPLE.COM/x?y", Some("example.com")),
            ("http://example.com", Some("example.com")),
            ("", None),
            ("https://", None),
        ] {
            assert_eq!(normalise_domain(raw).as_deref(), want, "{raw}");
        }
    }

    #[test]
    fn activity_criteria_per_kind() {
        let mut call = activity(ActivityKind::Call);
        call.subject = "Call: (A, B)".into();
        assert_eq!(
            activity_criteria(&call).unwrap(),
            "((Subject:equals:Call\\: \\(A\\, B\\))and(Call_Start_Time:between:2024-01-15T09:30:00+00:00,2024-01-15T09:30:59+00:00))"
        );
        assert_eq!(
            activity_criteria(&activity(ActivityKind::Task)).unwrap(),
            "((Subject:equals:Call with 山田)and(Due_Date:equals:2024-01-15))"
        );
        assert_eq!(
            activity_criteria(&activity(ActivityKind::Meeting)).unwrap(),
            "((Event_Title:equals:Call with 山田)and(Start_DateTime:between:2024-01-15T09:30:00+00:00,2024-01-15T09:30:59+00:00))"
        );
    }

    #[test]
    fn times_durations_and_keys() {
        assert_eq!(zoho_time(T.plus_ms(999)), "2024-01-15T09:30:00+00:00");
        assert_eq!(zoho_date(T), "2024-01-15");
        for (s, want) in [
            (0, "00:00"),
            (59, "00:59"),
            (61, "01:01"),
            (6_000, "100:00"),
        ] {
            assert_eq!(call_duration(s), want, "{s}");
        }
        let body = activity_text(&activity(ActivityKind::Task));
        assert_eq!(
            body,
            "Discussed pricing.\nNext: demo\n\nrenkei-ref: renkei:t1:ev_42:0"
        );
        assert!(has_key(&body, "renkei:t1:ev_42:0"));
        assert!(has_key(
            &format!("{body}\n\ntranscript"),
            "renkei:t1:ev_42:0"
        ));
        assert!(!has_key(&body, "renkei:t1:ev_42:1"));
        assert!(!has_key(&body, "renkei:t1:ev_42"));
    }

    #[test]
    fn field_kinds() {
        let cases = [
            ("text", FieldKind::Text),
            ("textarea", FieldKind::LongText),
            ("website", FieldKind::Url),
            ("email", FieldKind::Email),
            ("phone", FieldKind::Phone),
            ("integer", FieldKind::Number),
            ("bigint", FieldKind::Number),
            ("double", FieldKind::Number),
            ("currency", FieldKind::Number),
            ("boolean", FieldKind::Bool),
            ("date", FieldKind::Date),
            ("datetime", FieldKind::DateTime),
            ("picklist", FieldKind::Picklist),
            ("multiselectpicklist", FieldKind::Picklist),
            ("lookup", FieldKind::Reference),
            ("ownerlookup", FieldKind::Reference),
            ("formula", FieldKind::Other),
            ("autonumber", FieldKind::Other),
        ];
        for (t, want) in cases {
            assert_eq!(field_kind(t), want, "{t}");
        }
        let f: Field = serde_json::from_value(json!({
            "api_name": "Lead_Source", "field_label": "Lead Source", "data_type": "picklist",
            "system_mandatory": false, "read_only": false, "field_read_only": true,
            "pick_list_values": [{"actual_value": "Chat", "display_value": "チャット"}, {"display_value": "no value"}],
        }))
        .unwrap();
        let m = field_meta(f).unwrap();
        assert_eq!(m.options, vec![("Chat".to_owned(), "チャット".to_owned())]);
        assert!(!m.writable);
        assert!(field_meta(Field::default()).is_none());
    }
}

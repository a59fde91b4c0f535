//! Property definitions (the Properties API, `/crm/v3/properties/{objectType}`) and the rules
//! a property value must follow when a record is written.
//!
//! Each object type starts with a subset of HubSpot's default properties (the ones a CRM
//! integration touches: names, email, phones, company fields, deal stage and pipeline, the
//! engagement fields) with their real `type`/`fieldType` and, for enumerations, their real
//! internal option values. Custom properties can be created, updated and archived. Values are
//! validated per type as HubSpot does on write ("Property values were not valid" with one
//! entry per bad value: `PROPERTY_DOESNT_EXIST`, `INVALID_OPTION`, `INVALID_INTEGER`/
//! `INVALID_DECIMAL`-style numbers, `INVALID_DATE`, `INVALID_EMAIL`, `INVALID_OWNER_ID`,
//! `READ_ONLY_VALUE`).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Hubspot;
use super::auth::Ctx;
use super::errors::{HsError, HsJson, decode};
use super::store::{ObjType, Table, iso};

#[derive(Debug, Clone)]
pub struct Opt {
    pub label: String,
    pub value: String,
    pub display_order: i64,
    pub hidden: bool,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct PropDef {
    pub name: String,
    pub label: String,
    /// `string`, `number`, `date`, `datetime`, `enumeration`, `bool`.
    pub ptype: String,
    /// `text`, `textarea`, `number`, `date`, `select`, `radio`, `checkbox`,
    /// `booleancheckbox`, `phonenumber`, `calculation_equation`, ...
    pub field_type: String,
    pub group: String,
    pub description: String,
    pub options: Vec<Opt>,
    pub hubspot_defined: bool,
    /// Computed by HubSpot; a write is rejected with `READ_ONLY_VALUE`.
    pub read_only: bool,
    pub unique: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub archived: bool,
    pub display_order: i64,
    /// Hidden from HubSpot's UI (a client's own bookkeeping properties).
    pub hidden: bool,
    /// Usable in HubSpot forms.
    pub form_field: bool,
}

impl PropDef {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "updatedAt": iso(self.updated_ms),
            "createdAt": iso(self.created_ms),
            "name": self.name,
            "label": self.label,
            "type": self.ptype,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group,
            "options": self.options.iter().map(|o| json!({
                "label": o.label, "value": o.value, "displayOrder": o.display_order,
                "hidden": o.hidden, "description": o.description,
            })).collect::<Vec<_>>(),
            "displayOrder": self.display_order,
            "calculated": false,
            "externalOptions": self.name == "hubspot_owner_id",
            "hasUniqueValue": self.unique,
            "hidden": self.hidden,
            "modificationMetadata": {
                "archivable": !self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": self.form_field,
            "dataSensitivity": "non_sensitive",
            "archived": self.archived,
        });
        if self.hubspot_defined {
            v["hubspotDefined"] = json!(true);
        }
        // HubSpot names what an external option list holds for owners only.
        if self.name == "hubspot_owner_id" {
            v["referencedObjectType"] = json!("OWNER");
        }
        v
    }
}

/// `(name, label, type, fieldType, option values)` for the default properties.
type Spec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

const LIFECYCLE: &[&str] = &[
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
];

const CONTACTS: &[Spec] = &[
    ("email", "Email", "string", "text", &[]),
    ("firstname", "First Name", "string", "text", &[]),
    ("lastname", "Last Name", "string", "text", &[]),
    ("phone", "Phone Number", "string", "phonenumber", &[]),
    (
        "mobilephone",
        "Mobile Phone Number",
        "string",
        "phonenumber",
        &[],
    ),
    ("company", "Company Name", "string", "text", &[]),
    ("jobtitle", "Job Title", "string", "text", &[]),
    ("website", "Website URL", "string", "text", &[]),
    ("address", "Street Address", "string", "text", &[]),
    ("city", "City", "string", "text", &[]),
    ("state", "State/Region", "string", "text", &[]),
    ("zip", "Postal Code", "string", "text", &[]),
    ("country", "Country/Region", "string", "text", &[]),
    (
        "hs_additional_emails",
        "Additional email addresses",
        "string",
        "textarea",
        &[],
    ),
    (
        "lifecyclestage",
        "Lifecycle Stage",
        "enumeration",
        "radio",
        LIFECYCLE,
    ),
    (
        "hs_lead_status",
        "Lead Status",
        "enumeration",
        "radio",
        &[
            "NEW",
            "OPEN",
            "IN_PROGRESS",
            "OPEN_DEAL",
            "UNQUALIFIED",
            "ATTEMPTED_TO_CONTACT",
            "CONNECTED",
            "BAD_TIMING",
        ],
    ),
    (
        "associatedcompanyid",
        "Primary Associated Company ID",
        "number",
        "number",
        &[],
    ),
];

const COMPANIES: &[Spec] = &[
    ("name", "Company name", "string", "text", &[]),
    ("domain", "Company Domain Name", "string", "text", &[]),
    ("website", "Website URL", "string", "text", &[]),
    ("phone", "Phone Number", "string", "phonenumber", &[]),
    ("address", "Street Address", "string", "text", &[]),
    ("city", "City", "string", "text", &[]),
    ("state", "State/Region", "string", "text", &[]),
    ("zip", "Postal Code", "string", "text", &[]),
    ("country", "Country/Region", "string", "text", &[]),
    ("description", "Description", "string", "textarea", &[]),
    (
        "numberofemployees",
        "Number of Employees",
        "number",
        "number",
        &[],
    ),
    ("annualrevenue", "Annual Revenue", "number", "number", &[]),
    (
        "industry",
        "Industry",
        "enumeration",
        "select",
        &[
            "COMPUTER_SOFTWARE",
            "INFORMATION_TECHNOLOGY_AND_SERVICES",
            "MACHINERY",
            "RETAIL",
            "FINANCIAL_SERVICES",
            "LOGISTICS_AND_SUPPLY_CHAIN",
            "CONSTRUCTION",
            "FOOD_BEVERAGES",
            "MARKETING_AND_ADVERTISING",
        ],
    ),
    (
        "lifecyclestage",
        "Lifecycle Stage",
        "enumeration",
        "radio",
        LIFECYCLE,
    ),
];

const DEALS: &[Spec] = &[
    ("dealname", "Deal Name", "string", "text", &[]),
    ("amount", "Amount", "number", "number", &[]),
    (
        "dealstage",
        "Deal Stage",
        "enumeration",
        "radio",
        &[
            "appointmentscheduled",
            "qualifiedtobuy",
            "presentationscheduled",
            "decisionmakerboughtin",
            "contractsent",
            "closedwon",
            "closedlost",
        ],
    ),
    (
        "pipeline",
        "Pipeline",
        "enumeration",
        "select",
        &["default"],
    ),
    ("closedate", "Close Date", "datetime", "date", &[]),
    (
        "dealtype",
        "Deal Type",
        "enumeration",
        "radio",
        &["newbusiness", "existingbusiness"],
    ),
    ("description", "Deal Description", "string", "textarea", &[]),
];

const NOTES: &[Spec] = &[("hs_note_body", "Note body", "string", "html", &[])];

const TASKS: &[Spec] = &[
    ("hs_task_subject", "Task Title", "string", "text", &[]),
    ("hs_task_body", "Task notes", "string", "html", &[]),
    (
        "hs_task_status",
        "Task Status",
        "enumeration",
        "select",
        &[
            "NOT_STARTED",
            "IN_PROGRESS",
            "WAITING",
            "COMPLETED",
            "DEFERRED",
        ],
    ),
    (
        "hs_task_priority",
        "Priority",
        "enumeration",
        "select",
        &["NONE", "LOW", "MEDIUM", "HIGH"],
    ),
    (
        "hs_task_type",
        "Task Type",
        "enumeration",
        "select",
        &["EMAIL", "CALL", "TODO"],
    ),
];

const EMAILS: &[Spec] = &[
    ("hs_email_subject", "Subject", "string", "text", &[]),
    ("hs_email_text", "Body", "string", "textarea", &[]),
    ("hs_email_html", "HTML body", "string", "html", &[]),
    (
        "hs_email_direction",
        "Email direction",
        "enumeration",
        "select",
        &["EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"],
    ),
    (
        "hs_email_status",
        "Email send status",
        "enumeration",
        "select",
        &["BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"],
    ),
];

const MEETINGS: &[Spec] = &[
    ("hs_meeting_title", "Meeting name", "string", "text", &[]),
    (
        "hs_meeting_body",
        "Meeting description",
        "string",
        "html",
        &[],
    ),
    ("hs_meeting_location", "Location", "string", "text", &[]),
    (
        "hs_meeting_start_time",
        "Start Time",
        "datetime",
        "date",
        &[],
    ),
    ("hs_meeting_end_time", "End Time", "datetime", "date", &[]),
    (
        "hs_meeting_outcome",
        "Meeting outcome",
        "enumeration",
        "select",
        &[
            "SCHEDULED",
            "COMPLETED",
            "RESCHEDULED",
            "NO_SHOW",
            "CANCELED",
        ],
    ),
];

const CALLS: &[Spec] = &[
    ("hs_call_title", "Call Title", "string", "text", &[]),
    ("hs_call_body", "Call notes", "string", "html", &[]),
    ("hs_call_duration", "Call duration", "number", "number", &[]),
    ("hs_call_from_number", "From number", "string", "text", &[]),
    ("hs_call_to_number", "To number", "string", "text", &[]),
    (
        "hs_call_recording_url",
        "Recording URL",
        "string",
        "text",
        &[],
    ),
    (
        "hs_call_direction",
        "Call direction",
        "enumeration",
        "select",
        &["INBOUND", "OUTBOUND"],
    ),
    (
        "hs_call_status",
        "Call status",
        "enumeration",
        "select",
        &[
            "BUSY",
            "CALLING_CRM_USER",
            "CANCELED",
            "COMPLETED",
            "CONNECTING",
            "FAILED",
            "IN_PROGRESS",
            "NO_ANSWER",
            "QUEUED",
            "RINGING",
        ],
    ),
];

fn group(ty: ObjType) -> &'static str {
    match ty {
        ObjType::Contacts => "contactinformation",
        ObjType::Companies => "companyinformation",
        ObjType::Deals => "dealinformation",
        ObjType::Notes => "note",
        ObjType::Tasks => "task",
        ObjType::Emails => "email",
        ObjType::Meetings => "meeting",
        ObjType::Calls => "call",
    }
}

fn label_of(value: &str) -> String {
    let mut out = String::new();
    for (i, w) in value.split('_').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = w.to_lowercase();
        let mut c = lower.chars();
        if let Some(f) = c.next() {
            out.extend(f.to_uppercase());
            out.push_str(c.as_str());
        }
    }
    out
}

/// The default property definitions of `ty`.
pub fn defaults(ty: ObjType, now_ms: i64) -> Vec<PropDef> {
    let specific: &[Spec] = match ty {
        ObjType::Contacts => CONTACTS,
        ObjType::Companies => COMPANIES,
        ObjType::Deals => DEALS,
        ObjType::Notes => NOTES,
        ObjType::Tasks => TASKS,
        ObjType::Emails => EMAILS,
        ObjType::Meetings => MEETINGS,
        ObjType::Calls => CALLS,
    };
    let engagement = !matches!(ty, ObjType::Contacts | ObjType::Companies | ObjType::Deals);
    let mut specs: Vec<(Spec, bool)> = specific.iter().map(|s| (*s, false)).collect();
    if engagement {
        specs.push((
            ("hs_timestamp", "Activity date", "datetime", "date", &[]),
            false,
        ));
    }
    specs.push((
        ("hubspot_owner_id", "Owner", "enumeration", "select", &[]),
        false,
    ));
    specs.push((
        (ty.created_prop(), "Create Date", "datetime", "date", &[]),
        false,
    ));
    specs.push((
        (
            ty.modified_prop(),
            "Last Modified Date",
            "datetime",
            "date",
            &[],
        ),
        true,
    ));
    if ty == ObjType::Contacts {
        specs.push((
            (
                "hs_lastmodifieddate",
                "Object last modified date/time",
                "datetime",
                "date",
                &[],
            ),
            true,
        ));
    }
    specs.push((("hs_object_id", "Record ID", "number", "number", &[]), true));
    specs
        .into_iter()
        .enumerate()
        .map(
            |(i, ((name, label, ptype, field_type, options), read_only))| PropDef {
                name: name.to_owned(),
                label: label.to_owned(),
                ptype: ptype.to_owned(),
                field_type: field_type.to_owned(),
                group: group(ty).to_owned(),
                description: String::new(),
                options: options
                    .iter()
                    .enumerate()
                    .map(|(j, v)| Opt {
                        label: label_of(v),
                        value: (*v).to_owned(),
                        display_order: j as i64,
                        hidden: false,
                        description: String::new(),
                    })
                    .collect(),
                hubspot_defined: true,
                read_only,
                unique: name == "hs_object_id",
                created_ms: now_ms,
                updated_ms: now_ms,
                archived: false,
                display_order: i as i64,
                hidden: false,
                form_field: !read_only,
            },
        )
        .collect()
}

/// One invalid property value, in the shape HubSpot lists them inside the message of a
/// "Property values were not valid" error.
#[derive(Debug, Clone)]
pub struct Invalid {
    pub name: String,
    pub error: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn json(&self) -> Value {
        json!({
            "isValid": false,
            "message": self.message,
            "error": self.error,
            "name": self.name,
            "localizedErrorMessage": self.message,
        })
    }
}

/// The 400 HubSpot answers when property values are invalid: the list is embedded, as JSON, in
/// the message, and each entry is repeated in `errors` with its code and the property's name
/// in `context.propertyName` (HubSpot's `Error` schema: `errors[].code`, `errors[].context`;
/// a real answer reads `"errors":[{"message":"Property \"x\" does not exist","code":
/// "PROPERTY_DOESNT_EXIST","context":{"propertyName":["x"]}}]`).
pub fn invalid_error(list: &[Invalid]) -> HsError {
    let items: Vec<Value> = list.iter().map(Invalid::json).collect();
    let errors: Vec<Value> = list
        .iter()
        .map(|i| {
            json!({
                "message": i.message,
                "code": i.error,
                "context": {"propertyName": [i.name]},
            })
        })
        .collect();
    HsError::validation(format!(
        "Property values were not valid: {}",
        Value::Array(items)
    ))
    .with("errors", Value::Array(errors))
}

/// The canonical stored string for `raw` written to property `name` of `table`, or why it is
/// not valid. `owners` are the ids of the portal's active owners, for `hubspot_owner_id`: an
/// archived owner's id is refused as an unknown one is.
pub fn normalise(
    table: &Table,
    name: &str,
    raw: &Value,
    owners: &[u64],
    creating: bool,
) -> Result<String, Invalid> {
    let bad = |error: &'static str, message: String| Invalid {
        name: name.to_owned(),
        error,
        message,
    };
    let text = match raw {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    let Some((_, def)) = table.prop(name) else {
        return Err(bad(
            "PROPERTY_DOESNT_EXIST",
            format!("Property \"{name}\" does not exist"),
        ));
    };
    // HubSpot lets an import or an integration set the creation date, but never the computed
    // modification date or record id.
    let created = name == table.ty.created_prop();
    if def.read_only || (created && !creating) {
        return Err(bad(
            "READ_ONLY_VALUE",
            format!("{name} is a read only property; its value cannot be set."),
        ));
    }
    if text.is_empty() {
        return Ok(text);
    }
    if name == "hubspot_owner_id" {
        return match text.parse::<u64>() {
            Ok(id) if owners.contains(&id) => Ok(text),
            _ => Err(bad(
                "INVALID_OWNER_ID",
                format!("{text} is not a valid owner id"),
            )),
        };
    }
    if name == "email" && table.ty == ObjType::Contacts && !valid_email(&text) {
        return Err(bad(
            "INVALID_EMAIL",
            format!("Email address {text} is invalid"),
        ));
    }
    match def.ptype.as_str() {
        "number" => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|_| text.trim().to_owned())
            .ok_or_else(|| {
                bad(
                    "INVALID_DECIMAL",
                    format!("{text} was not a valid number."),
                )
            }),
        "bool" => match text.to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(text.to_ascii_lowercase()),
            _ => Err(bad(
                "INVALID_BOOLEAN",
                format!("{text} was not a valid boolean (true/false)"),
            )),
        },
        "datetime" => parse_time(&text).map(iso).ok_or_else(|| {
            bad(
                "INVALID_DATE",
                format!("{text} was not a valid date. Use a Unix timestamp in milliseconds or an ISO 8601 datetime."),
            )
        }),
        "date" => parse_time(&text)
            .filter(|ms| ms.rem_euclid(86_400_000) == 0 || text.len() == 10)
            .map(|ms| iso(ms)[..10].to_owned())
            .ok_or_else(|| {
                bad(
                    "INVALID_DATE",
                    format!("{text} is at not midnight UTC; date properties take a date (YYYY-MM-DD) or a timestamp at midnight UTC"),
                )
            }),
        "enumeration" => {
            let values: Vec<&str> = if def.field_type == "checkbox" {
                text.split(';').collect()
            } else {
                vec![text.as_str()]
            };
            for v in values {
                if !def.options.iter().any(|o| o.value == v) {
                    let allowed: Vec<&str> =
                        def.options.iter().map(|o| o.value.as_str()).collect();
                    return Err(bad(
                        "INVALID_OPTION",
                        format!(
                            "{v} was not one of the allowed options: [{}]",
                            allowed.join(", ")
                        ),
                    ));
                }
            }
            Ok(text)
        }
        _ => Ok(text),
    }
}

fn valid_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

/// Milliseconds since the epoch from a Unix-millisecond number, an ISO 8601 datetime or a
/// `YYYY-MM-DD` date (midnight UTC).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    None
}

// ---------------------------------------------------------------------------------------
// The Properties API.

fn object(ty: &str) -> Result<ObjType, HsError> {
    ObjType::parse(ty)
        .ok_or_else(|| HsError::validation(format!("Unable to infer object type from: {ty}")))
}

#[derive(Deserialize)]
pub struct ArchivedQuery {
    #[serde(default)]
    archived: Option<String>,
}

/// `GET /crm/v3/schemas`: the account's custom object definitions
/// (https://developers.hubspot.com/docs/api/crm/crm-custom-objects). The emulated account has
/// HubSpot's standard objects only, so the list is empty, as it is in a portal whose admin
/// made none.
pub async fn schemas(Extension(_ctx): Extension<Ctx>) -> Response {
    axum::Json(json!({ "results": [] })).into_response()
}

pub async fn list(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path(ty): Path<String>,
    Query(q): Query<ArchivedQuery>,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let archived = q.archived.as_deref() == Some("true");
    let state = hs.read();
    let table = state.portal(ctx.portal).table(ty);
    let results: Vec<Value> = table
        .defs
        .iter()
        .filter(|d| d.archived == archived)
        .map(PropDef::to_json)
        .collect();
    Ok(axum::Json(json!({ "results": results })).into_response())
}

pub async fn read(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, name)): Path<(String, String)>,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let state = hs.read();
    let table = state.portal(ctx.portal).table(ty);
    match table.prop(&name) {
        Some((_, d)) => Ok(axum::Json(d.to_json()).into_response()),
        None => Err(HsError::not_found(format!(
            "Unable to find property {name} for object type {}",
            ty.type_id()
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OptIn {
    label: String,
    value: String,
    #[serde(default)]
    display_order: Option<i64>,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Create {
    name: String,
    label: String,
    #[serde(rename = "type")]
    ptype: String,
    field_type: String,
    group_name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    options: Vec<OptIn>,
    #[serde(default)]
    display_order: Option<i64>,
    #[serde(default)]
    has_unique_value: bool,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    form_field: bool,
}

const TYPES: &[&str] = &[
    "string",
    "number",
    "date",
    "datetime",
    "enumeration",
    "bool",
];
const FIELD_TYPES: &[&str] = &[
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
];

fn options(list: Vec<OptIn>) -> Vec<Opt> {
    list.into_iter()
        .enumerate()
        .map(|(i, o)| Opt {
            label: o.label,
            value: o.value,
            display_order: o.display_order.unwrap_or(i as i64),
            hidden: o.hidden,
            description: o.description.unwrap_or_default(),
        })
        .collect()
}

pub async fn create(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path(ty): Path<String>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let c: Create = decode(body)?;
    if !TYPES.contains(&c.ptype.as_str()) {
        return Err(HsError::validation(format!(
            "Invalid property type {}; one of {} expected",
            c.ptype,
            TYPES.join(", ")
        )));
    }
    if !FIELD_TYPES.contains(&c.field_type.as_str()) {
        return Err(HsError::validation(format!(
            "Invalid field type {}; one of {} expected",
            c.field_type,
            FIELD_TYPES.join(", ")
        )));
    }
    let valid_name = !c.name.is_empty()
        && c.name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        && c.name.starts_with(|ch: char| ch.is_ascii_lowercase());
    if !valid_name {
        return Err(HsError::validation(format!(
            "Property name {} is invalid: use lower-case letters, digits and underscores, starting with a letter",
            c.name
        )));
    }
    if c.ptype == "enumeration" && c.options.is_empty() && c.field_type != "booleancheckbox" {
        return Err(HsError::validation(
            "Enumeration properties must have at least one option",
        ));
    }
    let now = hs.env.clock.now_ms();
    let mut state = hs.write();
    let table = state.portal_mut(ctx.portal).table_mut(ty);
    if table.index.contains_key(&c.name) || table.is_property(&c.name) {
        return Err(HsError::new(
            StatusCode::CONFLICT,
            "OBJECT_ALREADY_EXISTS",
            format!("A property named '{}' already exists.", c.name),
        ));
    }
    let def = PropDef {
        name: c.name,
        label: c.label,
        ptype: c.ptype,
        field_type: c.field_type,
        group: c.group_name,
        description: c.description.unwrap_or_default(),
        options: options(c.options),
        hubspot_defined: false,
        read_only: false,
        unique: c.has_unique_value,
        created_ms: now,
        updated_ms: now,
        archived: false,
        display_order: c.display_order.unwrap_or(-1),
        hidden: c.hidden,
        form_field: c.form_field,
    };
    let out = def.to_json();
    table.add_def(def);
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    group_name: Option<String>,
    #[serde(default)]
    options: Option<Vec<OptIn>>,
    #[serde(default)]
    display_order: Option<i64>,
    #[serde(default)]
    field_type: Option<String>,
    #[serde(default)]
    hidden: Option<bool>,
    #[serde(default)]
    form_field: Option<bool>,
}

pub async fn update(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, name)): Path<(String, String)>,
    HsJson(body): HsJson,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let u: Update = decode(body)?;
    let now = hs.env.clock.now_ms();
    let mut state = hs.write();
    let table = state.portal_mut(ctx.portal).table_mut(ty);
    let Some(&i) = table.index.get(&name) else {
        return Err(HsError::not_found(format!(
            "Unable to find property {name} for object type {}",
            ty.type_id()
        )));
    };
    let def = &mut table.defs[i as usize];
    if def.hubspot_defined && (u.field_type.is_some() || u.options.is_some()) {
        return Err(HsError::validation(format!(
            "{name} is a HubSpot-defined property; its definition cannot be changed"
        )));
    }
    if let Some(f) = u.field_type {
        if !FIELD_TYPES.contains(&f.as_str()) {
            return Err(HsError::validation(format!("Invalid field type {f}")));
        }
        def.field_type = f;
    }
    if let Some(l) = u.label {
        def.label = l;
    }
    if let Some(d) = u.description {
        def.description = d;
    }
    if let Some(g) = u.group_name {
        def.group = g;
    }
    if let Some(o) = u.options {
        def.options = options(o);
    }
    if let Some(d) = u.display_order {
        def.display_order = d;
    }
    if let Some(h) = u.hidden {
        def.hidden = h;
    }
    if let Some(f) = u.form_field {
        def.form_field = f;
    }
    def.updated_ms = now;
    Ok(axum::Json(def.to_json()).into_response())
}

pub async fn archive(
    State(hs): State<Arc<Hubspot>>,
    Extension(ctx): Extension<Ctx>,
    Path((ty, name)): Path<(String, String)>,
) -> Result<Response, HsError> {
    let ty = object(&ty)?;
    let now = hs.env.clock.now_ms();
    let mut state = hs.write();
    let table = state.portal_mut(ctx.portal).table_mut(ty);
    let Some(&i) = table.index.get(&name) else {
        return Err(HsError::not_found(format!(
            "Unable to find property {name} for object type {}",
            ty.type_id()
        )));
    };
    let def = &mut table.defs[i as usize];
    if def.hubspot_defined {
        return Err(HsError::validation(format!(
            "{name} is a HubSpot-defined property and cannot be archived"
        )));
    }
    def.archived = true;
    def.updated_ms = now;
    Ok(StatusCode::NO_CONTENT.into_response())
}
